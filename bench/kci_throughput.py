"""KCI throughput: records per second through the KCI processor's handler, in-process against moto.

SQS events of 10 records (the template's BatchSize) go to ``kci_processor_handler.lambda_handler``;
the KCIs walk 50 orders through their life in sequence (ACKNOWLEDGED, COMMITTED, UPDATE/DELAY with
changing statuses, ...), every record a new KCI. The floor replays the very same AWS calls (GetItem and
TransactWriteItems with identical items and conditions, captured from the processor's clients) on a
second, identical pair of tables in the same moto (both without the orders table's stream: see
``bench.moto_world.template_without_streams``; and with moto's TransactWriteItems backing up the items it
names rather than deep-copying whole tables, ``bench.moto_world.item_level_transaction_backups``, unless
``--moto-as-is``): what the records cost with no processor logic
(partial batch processing, pydantic parsing, rules, tenant KCI building). Rounds alternate
processor / floor; the ratio is of the median seconds per record.

    python -m bench.kci_throughput [--rounds 5] [--records 100]
"""

from __future__ import annotations

import argparse
import copy
import sys
import threading
import time
import uuid
from pathlib import Path

from bench.common import median, ratio, report, table
from bench.moto_world import CallLog, item_level_transaction_backups, load_handler, moto_world, template_without_streams
from bench.round_trips import kci_event
from testing.lambda_context import lambda_context

ORDERS = 50
STEPS = [("ACKNOWLEDGED", "ACKNOWLEDGED"), ("COMMITTED", "IN_PROGRESS"), ("UPDATE", "IN_PROGRESS"), ("DELAY", "HELD"),
         ("RESUMED", "IN_PROGRESS"), ("UPDATE", "PENDING")]


def kci_stream(records: int, start: int):
    """``records`` new KCIs: order ``n`` gets sequence numbers 1, 2, 3... in turn."""
    for index in range(start, start + records):
        order_id, sequence = 10_000 + index % ORDERS, index // ORDERS + 1
        reason, status = STEPS[(sequence - 1) % len(STEPS)]
        yield {"id": str(uuid.uuid4()), "sequenceNumber": sequence, "issuedOn": "2024-04-10T09:53:39.144Z", "reasonCode": reason,
               "provideServiceOrder": {"id": order_id, "tenant": "TENANT1", "supplierOrderReference": f"FC{order_id}", "status": status,
                                       "address": {"line1": "1 High Street", "postcode": "AB1 2CD"}, "note": f"step {sequence}"}}


class Recorder:
    """Keeps a deep copy of every DynamoDB call's parameters (botocore's before-parameter-build event)."""

    def __init__(self, client):
        self.calls: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        client.meta.events.register("before-parameter-build.dynamodb.*", self._record)

    def _record(self, params, model, **_kwargs):
        with self.lock:
            self.calls.append((model.name, copy.deepcopy(params)))

    def take(self) -> list[tuple[str, dict]]:
        with self.lock:
            taken, self.calls = self.calls, []
        return taken


def _renamed(value, names: dict[str, str]):
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


def replay(client, calls: list[tuple[str, dict]], names: dict[str, str]) -> None:
    from botocore import xform_name

    for operation, params in calls:
        getattr(client, xform_name(operation))(**_renamed(params, names))


def measure(rounds: int = 5, records: int = 100, moto_as_is: bool = False) -> dict:
    if moto_as_is:
        return _measure(rounds, records)
    with item_level_transaction_backups():
        return {**_measure(rounds, records), "moto": "item-level transaction backups (bench.moto_world)"}


def _measure(rounds: int, records: int) -> dict:
    import boto3

    from local_stack.template import create_resources

    samples = {"processor": [], "floor": [], "processor_cpu": [], "floor_cpu": [], "outside_aws": []}
    with moto_world(streams=False) as resources:
        template = template_without_streams()
        tables_only = {**template, "Resources": {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::DynamoDB::Table"}}
        floor_client = boto3.client("dynamodb")
        floor_tables = create_resources(floor_client, None, prefix="floor", template=tables_only).tables
        names = {resources.tables[k]: floor_tables[k] for k in floor_tables}
        processor = load_handler("KciProcessorFunction", resources)
        recorder = Recorder(processor.deps.apply_kci.store.client)
        call_log = CallLog().watch(processor.deps.apply_kci.store.client)
        produced = 0
        # Warm-up round (not counted): first-call work in both paths.
        for run in range(rounds + 1):
            kcis = list(kci_stream(records, produced))
            produced += records
            events = [kci_event(kcis[i:i + 10]) for i in range(0, len(kcis), 10)]
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for event in events:
                result = processor.lambda_handler(event, lambda_context("bench"))
                if result.get("batchItemFailures"):
                    raise RuntimeError(f"KCIs failed: {result}")
            processor_wall, processor_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            calls = recorder.take()
            in_aws = sum((call.finished or call.started) - call.started for call in call_log.take_calls())
            wall0, cpu0 = time.perf_counter(), time.process_time()
            replay(floor_client, calls, names)
            floor_wall, floor_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            if run:
                samples["processor"].append(processor_wall / records)
                samples["processor_cpu"].append(processor_cpu / records)
                samples["floor"].append(floor_wall / records)
                samples["floor_cpu"].append(floor_cpu / records)
                samples["outside_aws"].append((processor_wall - in_aws) / records)
                calls_per_record = len(calls) / records
    per_record, floor = median(samples["processor"]), median(samples["floor"])
    return {
        "records_per_round": records,
        "rounds": rounds,
        "records_per_second": 1 / per_record,
        "floor_records_per_second": 1 / floor,
        "ratio": ratio(per_record, floor),
        "cpu_ms_per_record": median(samples["processor_cpu"]) * 1000,
        "floor_cpu_ms_per_record": median(samples["floor_cpu"]) * 1000,
        "aws_calls_per_record": calls_per_record,
        # Wall time per record spent outside the AWS calls (the calls include moto's own work, in-process).
        "ms_per_record_outside_aws_calls": median(samples["outside_aws"]) * 1000,
        "ms_per_record": per_record * 1000,
        "samples_ms_per_record": {key: [round(v * 1000, 3) for v in values] for key, values in samples.items()},
    }


def render(result: dict) -> str:
    rows = [["KCI processor handler", result["records_per_second"], result["cpu_ms_per_record"], result["ratio"]],
            ["floor: the same AWS calls replayed", result["floor_records_per_second"], result["floor_cpu_ms_per_record"], 1.0]]
    return (
        f"KCI throughput, in-process on moto (median of {result['rounds']} rounds x {result['records_per_round']} records, "
        f"batches of 10; {result['aws_calls_per_record']:.2f} AWS calls per record)\n"
        + table(rows, ["path", "records/s", "CPU ms/record", "x floor (time/record)"])
        + f"\n  of {result['ms_per_record']:.1f} ms per record, "
        f"{result['ms_per_record_outside_aws_calls']:.1f} ms are outside the AWS calls "
        "(the processor's own work; moto's in-process work is inside the calls)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--moto-as-is", action="store_true",
                        help="keep moto's whole-table copies on every TransactWriteItems (the time then grows with the tables)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.rounds, args.records, args.moto_as_is)
    return report(result, render, args.json)


if __name__ == "__main__":
    sys.exit(main())
