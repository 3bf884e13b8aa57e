"""``python -m bench`` (``make bench``): every benchmark, a table each, and bench-results/bench.json.

Each benchmark runs in a fresh process of its own (``python -m bench.<name> --json ...``), so modules,
environment and moto worlds never leak from one into the next; their handlers' log lines are dropped.

    python -m bench                         # everything (about 10-20 minutes on 2 busy cores)
    python -m bench --only cold_start warm_path
    python -m bench --quick                 # fewer runs: a smoke test of the benchmarks, not figures to quote
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import ROOT

# name -> (arguments for a full run, arguments for --quick)
BENCHMARKS = {
    "cold_start": (["--runs", "15"], ["--runs", "3", "--only", "TenantApiFunction"]),
    "warm_path": (["--rounds", "7", "--requests", "200"], ["--rounds", "2", "--requests", "50"]),
    "round_trips": ([], []),
    "kci_throughput": (["--rounds", "5", "--records", "100"], ["--rounds", "1", "--records", "20"]),
    "local_stack_load": (["--requests", "300"], ["--requests", "30", "--growth", "50", "200"]),
    "package_size": ([], []),
    # Docker (set up as needed): sam local invoke vs in-process replay vs the running stack vs a warm container.
    "sam_local": (
        ["--runs", "15", "--container-runs", "2"],
        ["--runs", "3", "--container-runs", "1", "--events", "events/tenant_api/post-valid.json", "events/kci_processor/one-record.json"],
    ),
}


def run(name: str, args: list[str], scratch: Path) -> dict:
    out = scratch / f"{name}.json"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--json", str(out), *args], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=3600)
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"bench.{name} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    result = json.loads(out.read_text())
    result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    result["command"] = f"python -m bench.{name} {' '.join(args)}".strip()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--quick", action="store_true", help="few runs each (smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "bench.json")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    report: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": __import__("os").cpu_count(),
                    "load_average": list(__import__("os").getloadavg())},
        "quick": args.quick,
        "benchmarks": {},
    }
    failed = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            full, quick = BENCHMARKS[name]
            print(f"== {name} ...", file=sys.stderr, flush=True)
            try:
                result = run(name, quick if args.quick else full, Path(scratch))
            except Exception as exc:  # noqa: BLE001 - report it and go on with the others
                failed.append(name)
                report["benchmarks"][name] = {"error": str(exc)}
                print(f"{name}: FAILED\n{exc}\n", flush=True)
                continue
            report["benchmarks"][name] = result
            print(importlib.import_module(f"bench.{name}").render(result), flush=True)
            print(f"  ({result['command']}; {result['benchmark_seconds']} s)\n", flush=True)
    report["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"written {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
