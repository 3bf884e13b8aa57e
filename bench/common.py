"""Helpers shared by the benchmarks: the template's functions and environments, statistics, a results table."""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import testing.aws  # noqa: E402 - importable only once sys.path has the repo root
from local_stack.template import LocalResources, function_environment, function_spec, load_template, resources_of_type  # noqa: E402 - as above

REGION = testing.aws.REGION
ACCOUNT = testing.aws.ACCOUNT
# Nothing a benchmark starts may reach AWS: fake credentials, a region, and (unless a benchmark points it
# at its own stub) an endpoint on a closed local port, so a stray call fails at once instead of leaving the machine.
CLOSED_ENDPOINT = "http://127.0.0.1:9"
FAKE_AWS_ENV = {**testing.aws.FAKE_AWS_ENV, "AWS_ENDPOINT_URL": CLOSED_ENDPOINT}
UNSET_ENV = testing.aws.UNSET_AWS_ENV


def function_ids() -> list[str]:
    """Every AWS::Serverless::Function of template.yaml, in template order."""
    return list(resources_of_type(load_template(), "AWS::Serverless::Function"))


def named_resources(endpoint: str = CLOSED_ENDPOINT, prefix: str = "bench") -> LocalResources:
    """Names for every table and queue of the template, without creating anything (for environments only)."""
    template = load_template()
    resources = LocalResources(prefix=prefix)
    resources.parameters.update({name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()})
    for logical_id in resources_of_type(template, "AWS::DynamoDB::Table"):
        resources.tables[logical_id] = f"{prefix}-{logical_id}"
        resources.stream_arns[logical_id] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{prefix}-{logical_id}/stream/1"
    for logical_id, res in resources_of_type(template, "AWS::SQS::Queue").items():
        name = f"{prefix}-{logical_id}" + (".fifo" if res.get("Properties", {}).get("FifoQueue") else "")
        resources.queue_urls[logical_id] = f"{endpoint}/{ACCOUNT}/{name}"
        resources.queue_arns[logical_id] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    return resources


def function_env(logical_id: str, endpoint: str = CLOSED_ENDPOINT, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment a function gets: this one minus AWS profiles, fake credentials, the template's variables."""
    env = {key: value for key, value in os.environ.items() if key not in UNSET_ENV and not key.startswith("AWS_ENDPOINT_URL")}
    env.update(FAKE_AWS_ENV)
    env["AWS_ENDPOINT_URL"] = endpoint
    env.update(function_environment(logical_id, named_resources(endpoint)))
    env.update(extra or {})
    return env


def handler_paths(logical_id: str) -> tuple[list[str], str, str]:
    """(sys.path entries as Lambda has them: layers then the code dir, module, attribute)."""
    spec = function_spec(logical_id)
    return [str(path) for path in (*spec.layer_dirs, spec.code_dir)], spec.module, spec.attribute


# ------------------------------------------------------------------------------------------------ statistics


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def ratio(value: float, floor: float) -> float:
    return value / floor if floor else float("inf")


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER"


# ------------------------------------------------------------------------------------------------ output


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [[_fmt(cell) for cell in row] for row in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _fmt(cell: Any) -> str:
    if isinstance(cell, float):
        if cell == 0 or abs(cell) >= 100:
            return f"{cell:.0f}"
        if abs(cell) >= 10:
            return f"{cell:.1f}"
        return f"{cell:.2f}" if abs(cell) >= 0.1 else f"{cell:.3f}"
    return str(cell)


def report(result: dict[str, Any], render: Callable[[dict[str, Any]], str], json_path: Path | None) -> int:
    """A benchmark's ending: its table on stdout, its figures in ``--json`` when given; the exit code (0)."""
    print(render(result))
    if json_path:
        json_path.write_text(json.dumps(result, indent=2))
    return 0


def main_of(doc: str | None, measure: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str],
            argv: list[str] | None = None) -> int:
    """The command line of a benchmark without options of its own: ``--json PATH``, measure, report."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    return report(measure(), render, args.json)
