"""python -m local_stack.redrive works against a running local stack."""

from __future__ import annotations

import json

import pytest

from local_stack import redrive
from local_stack.stack import LocalStack

pytestmark = pytest.mark.http


def test_dead_letters_go_back_to_their_queue(capsys):
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as stack:
        sqs = stack.client("sqs")
        dlq, queue = stack.resources.queue_urls["KciDeadLetterQueue"], stack.resources.queue_urls["KciQueue"]
        sqs.send_message(QueueUrl=dlq, MessageBody='{"dead": 1}')
        assert redrive.main(["--moto-url", stack.moto_url, "dead-letters", "kcis"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert len(report["redriven"]) == 1
        moved = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert [message["Body"] for message in moved] == ['{"dead": 1}']
        assert "Messages" not in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)


def test_failed_to_send_with_nothing_to_redrive(capsys):
    with LocalStack(port=0, moto_port=0, run_schedules=False, run_pollers=False) as stack:
        assert redrive.main(["--moto-url", stack.moto_url, "failed-to-send"]) == 0
        assert json.loads(capsys.readouterr().out) == {"redriven": [], "skipped": []}
