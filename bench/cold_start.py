"""Cold start: a fresh Python process's init of each function, next to the floor, interleaved.

Each run is a new process (``python -c``) that sets the function's template environment, puts the
built layer and the function's built code directory (``sam build``'s output: ``.aws-sam/build/GatewayLayer/python``
and ``.aws-sam/build/<LogicalId>``) on ``sys.path`` as Lambda does, imports the handler module,
fetches the handler and builds the function's clients and collaborators (at import, or through the handler's
lazy ``deps`` factory's public ``build()``, as its first request would: laziness is no saving here). Timed three ways: with
``perf_counter`` inside the process (imports + construction) and as wall time from outside
(interpreter start included), and with ``process_time`` inside (CPU: the steadiest of the three on a
busy machine). The floor is ``import boto3; boto3.client('dynamodb');
boto3.client('sqs')`` in the same environment. Runs are interleaved (floor and functions in a shuffled
order each round), so load on the machine hits both alike; medians are compared.

Bytecode: what Lambda runs. Every process (floor included) is the Lambda runtime's Python 3.12 (``.venv312``),
whatever Python runs this script, because the built layer holds cpython-312 ``.pyc`` (layers/gateway/Makefile
compiles the layer: fibre_cafe and the dependencies, unchecked-hash), which a 3.11 would ignore. The functions'
own handler module is built by SAM's python builder, without a .pyc, and is compiled at each start, as in Lambda.
boto3 and botocore come from ``.venv312``'s site-packages with pip's .pyc (in Lambda: the runtime's, compiled).
``PYTHONDONTWRITEBYTECODE=1`` keeps the trees unchanged between runs (/opt and /var/task are read-only in Lambda).
The build is ``make build``'s (``.aws-sam/build``): made again first when it is missing or older than any file of
template.yaml, layers/ or functions/ (a ``--baseline`` checkout's too, with this tree's SAM CLI).

Targets (issue 14): TenantApiFunction at most 1.3x the floor, every other function at most 1.4x, on both the
inside (``perf_counter``) and the wall ratio.

``--baseline DIR`` also times every function from another checkout of the repository (``git archive <commit> |
tar -x -C DIR``), built there as it builds (before layers/gateway/Makefile: no .pyc), interleaved with this tree's
runs, so a change is judged before/after in the same rounds. ``--variant LogicalId@label=DIR`` times a function with
another built layer's ``python`` directory.

    python -m bench.cold_start [--runs 15] [--only TenantApiFunction]
    python -m bench.cold_start --runs 11 --baseline /tmp/before     # before/after side by side
    python -m bench.cold_start --references                   # + the floor with pydantic, Logger, resolver, requests
    python -m bench.cold_start --explain TenantApiFunction     # -X importtime and cProfile of one init
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, function_env, function_ids, median, ratio, report, table, verdict
from local_stack.template import function_spec, load_template

FLOOR = "floor"
TARGET = 1.4  # every function, x floor
TARGETS = {"TenantApiFunction": 1.3}  # stricter: tenants call rarely, so many of their requests meet a cold start
TARGET_FUNCTION = "TenantApiFunction"
MARK = "BENCH-COLD "
NEUTRAL_CWD = tempfile.gettempdir()  # not the repo: "" on sys.path must not make its packages importable
# The runtime's Python: the built layer's .pyc are cpython-312 (`make venv312` creates it).
PYTHON = str(ROOT / ".venv312" / "bin" / "python")
BUILD_DIR = Path(".aws-sam") / "build"  # make build's, under a checkout's root
BUILD_SOURCES = ("template.yaml", "layers", "functions")  # what a build is made of: newer than it, it is rebuilt

FLOOR_SCRIPT = """\
import time
_t0, _c0 = time.perf_counter(), time.process_time()
import boto3
boto3.client('dynamodb')
boto3.client('sqs')
{extra}_t1, _c1 = time.perf_counter(), time.process_time()
import sys
sys.stderr.write('{mark}' + repr(_t1 - _t0) + ' ' + repr(_c1 - _c0) + '\\n')
"""

# --references: the floor plus the third-party pieces the functions cannot do without (a first pydantic model,
# Powertools' Logger, the REST resolver with validation, requests), no project code. What the project's own code
# adds is a function's ratio minus its reference's.
_PYDANTIC_LOGGER = ("from aws_lambda_powertools import Logger\nLogger()\nfrom pydantic import BaseModel\n"
                    "class _Model(BaseModel):\n    a: int\n")
REFERENCES = {
    "ref: +pydantic +Logger": _PYDANTIC_LOGGER,
    "ref: +pydantic +Logger +requests": _PYDANTIC_LOGGER + "import requests\nrequests.Session()\n",
    "ref: +pydantic +Logger +REST resolver": _PYDANTIC_LOGGER + (
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "import aws_lambda_powertools.event_handler.openapi.params\nAPIGatewayRestResolver(enable_validation=True)\n"),
}

HANDLER_SCRIPT = """\
import time
_t0, _c0 = time.perf_counter(), time.process_time()
import importlib, sys
sys.path[:0] = {paths!r}
_module = importlib.import_module({module!r})
_handler = getattr(_module, {attribute!r})
# A handler whose dependencies are built lazily (deps = Wiring(...), fibre_cafe/wiring.py) builds them on its first
# request: a cold start pays that before the request's own work, so it is timed here too (Wiring.build).
if callable(getattr(type(getattr(_module, 'deps', None)), 'build', None)):
    _module.deps.build()
_t1, _c1 = time.perf_counter(), time.process_time()
sys.stderr.write('{mark}' + repr(_t1 - _t0) + ' ' + repr(_c1 - _c0) + '\\n')
"""


# Extra entries "LogicalId@label" -> the layer directory to use instead of the template's (A/B of a change).
VARIANTS: dict[str, str] = {}
# Extra entries "LogicalId@label" -> the root of another checkout whose layer and code dirs to use (--baseline).
BASELINES: dict[str, Path] = {}


def build_is_stale(root: Path) -> bool:
    built = root / BUILD_DIR / "template.yaml"
    if not built.exists():
        return True
    newest = 0.0
    for source in BUILD_SOURCES:
        path = root / source
        files = [path] if path.is_file() else [item for item in path.rglob("*") if item.is_file() and "__pycache__" not in item.parts]
        newest = max([newest, *(item.stat().st_mtime for item in files)])
    return newest > built.stat().st_mtime


def ensure_built(root: Path = ROOT, progress: Callable[[str], None] | None = None) -> None:
    """``make build`` in ``root`` when its build is missing or stale; another checkout uses this tree's SAM CLI."""
    if not build_is_stale(root):
        return
    command = ["make", "--no-print-directory", "-C", str(root), "build"]
    if root != ROOT:
        sam_venv = ROOT / ".tools" / "sam"  # its stamp is taken as up to date: that checkout's lock must not reinstall it
        command += [f"SAM_VENV={sam_venv}", "-o", f"{sam_venv}/.installed-from-lock"]
    if progress:
        progress(f"cold start: {' '.join(command)} (build missing or older than its sources)")
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"make build in {root} failed (exit {done.returncode}):\n{done.stdout[-3000:]}")


@functools.cache
def built_paths(logical_id: str, root: Path = ROOT) -> tuple[list[str], str, str]:
    """(sys.path entries as Lambda has them: the built layers' python dirs then the built code dir, module, attribute)."""
    build = root / BUILD_DIR
    spec = function_spec(logical_id, load_template(build / "template.yaml"))  # ContentUri/CodeUri: relative to build
    layers = [build / layer.relative_to(ROOT) / "python" for layer in spec.layer_dirs]
    return [str(path) for path in (*layers, build / spec.code_dir.relative_to(ROOT))], spec.module, spec.attribute


def target_of(logical_id: str) -> float:
    return TARGETS.get(logical_id.partition("@")[0], TARGET)


def script(logical_id: str) -> str:
    if logical_id == FLOOR:
        return FLOOR_SCRIPT.format(mark=MARK, extra="")
    if logical_id in REFERENCES:
        return FLOOR_SCRIPT.format(mark=MARK, extra=REFERENCES[logical_id])
    base, _, _label = logical_id.partition("@")
    paths, module, attribute = built_paths(base, BASELINES.get(logical_id, ROOT))
    if logical_id in VARIANTS:
        paths = [VARIANTS[logical_id], *paths[1:]]
    return HANDLER_SCRIPT.format(paths=paths, module=module, attribute=attribute, mark=MARK)


def environment(logical_id: str) -> dict[str, str]:
    env = function_env(TARGET_FUNCTION if logical_id == FLOOR or logical_id in REFERENCES else logical_id.partition("@")[0])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    return env


def run_once(logical_id: str, python: str = PYTHON) -> tuple[float, float, float]:
    """(seconds inside the process, wall seconds, CPU seconds inside) for one fresh-process init."""
    code, env = script(logical_id), environment(logical_id)  # before the clock: reading the template is not the init's
    started = time.perf_counter()
    done = subprocess.run([python, "-c", code], env=env, cwd=NEUTRAL_CWD,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    wall = time.perf_counter() - started
    marks = [line for line in done.stderr.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not marks:
        raise RuntimeError(f"{logical_id}: init failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    inside, cpu = (float(value) for value in marks[-1][len(MARK):].split())
    return inside, wall, cpu


def measure(runs: int = 15, only: list[str] | None = None, seed: int = 1, progress=None, references: bool = False) -> dict:
    names = [FLOOR] + (only or function_ids()) + list(VARIANTS) + list(BASELINES) + (list(REFERENCES) if references else [])
    samples: dict[str, dict[str, list[float]]] = {name: {"inside": [], "wall": [], "cpu": []} for name in names}
    shuffle = random.Random(seed)
    for name in names:  # one discarded warm-up each: file cache, first-import effects
        run_once(name)
    for round_number in range(runs):
        order = names[:]
        shuffle.shuffle(order)
        for name in order:
            inside, wall, cpu = run_once(name)
            samples[name]["inside"].append(inside)
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
        if progress:
            progress(f"cold start: round {round_number + 1}/{runs}")
    floor_inside = median(samples[FLOOR]["inside"])
    floor_wall = median(samples[FLOOR]["wall"])
    floor_cpu = median(samples[FLOOR]["cpu"])
    results = {}
    for name in names:
        inside, wall, cpu = median(samples[name]["inside"]), median(samples[name]["wall"]), median(samples[name]["cpu"])
        results[name] = {
            "runs": runs,
            "median_inside_ms": inside * 1000,
            "median_wall_ms": wall * 1000,
            "ratio_inside": ratio(inside, floor_inside),
            "ratio_wall": ratio(wall, floor_wall),
            "median_cpu_ms": cpu * 1000,
            "ratio_cpu": ratio(cpu, floor_cpu),
            "samples_inside_ms": [round(v * 1000, 2) for v in samples[name]["inside"]],
            "samples_wall_ms": [round(v * 1000, 2) for v in samples[name]["wall"]],
            "samples_cpu_ms": [round(v * 1000, 2) for v in samples[name]["cpu"]],
        }
    for name, row in results.items():
        if name != FLOOR and name not in REFERENCES:
            row["max_ratio"] = target_of(name)
            row["met"] = row["ratio_inside"] <= row["max_ratio"] and row["ratio_wall"] <= row["max_ratio"]
    target = results.get(TARGET_FUNCTION)
    measured = [name for name in results if name not in (FLOOR, *VARIANTS, *BASELINES, *REFERENCES)]
    return {
        "floor": "python -c \"import boto3; boto3.client('dynamodb'); boto3.client('sqs')\"",
        "target": {"function": TARGET_FUNCTION, "max_ratio": target_of(TARGET_FUNCTION),
                   "ratio_inside": target["ratio_inside"] if target else None,
                   "ratio_wall": target["ratio_wall"] if target else None,
                   "ratio_cpu": target["ratio_cpu"] if target else None,
                   "met": bool(target and target["met"])},
        "targets": {"default_max_ratio": TARGET, "max_ratio": dict(TARGETS),
                    "all_met": all(results[name]["met"] for name in measured),
                    "over": [name for name in measured if not results[name]["met"]]},
        "functions": results,
    }


def render(result: dict) -> str:
    rows = []
    for name, row in result["functions"].items():
        goal = row.get("max_ratio")
        rows.append([name, row["median_inside_ms"], row["ratio_inside"], row["median_wall_ms"], row["ratio_wall"],
                     row["median_cpu_ms"], row["ratio_cpu"],
                     f"<= {goal}x {verdict(max(row['ratio_inside'], row['ratio_wall']), goal)}" if goal else ""])
    runs = next(iter(result["functions"].values()))["runs"]
    return (f"Cold start (median of {runs} fresh processes each, interleaved; floor = {result['floor']})\n"
            + table(rows, ["function", "init ms", "x floor", "wall ms", "x floor", "init CPU ms", "x floor", "target"]))


# ------------------------------------------------------------------------------------------------ explain


def explain(logical_id: str, top: int = 25) -> str:
    """Where one init's time goes: -X importtime (cumulative, by top-level package) and cProfile of the import."""
    env = environment(logical_id)
    paths, module, _attribute = built_paths(logical_id)
    code = f"import sys; sys.path[:0] = {paths!r}; import {module}"
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", code], env=env, cwd=NEUTRAL_CWD,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120)
    by_package: dict[str, int] = {}
    own: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        package = name.strip().split(".")[0]
        by_package[package] = by_package.get(package, 0) + int(self_us)
        own.append((int(self_us), name.strip()))
    lines = [f"{logical_id}: import self time by top-level package (ms, -X importtime; includes module-level code)"]
    for package, micros in sorted(by_package.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {micros / 1000:8.1f}  {package}")
    lines.append("largest single modules (self ms):")
    for micros, name in sorted(own, reverse=True)[:top]:
        lines.append(f"  {micros / 1000:8.1f}  {name}")
    profile = subprocess.run(
        [PYTHON, "-c",
         "import cProfile, pstats, io, sys\n"
         f"sys.path[:0] = {paths!r}\n"
         f"p = cProfile.Profile(); p.enable(); import {module}; p.disable()\n"
         "s = io.StringIO(); pstats.Stats(p, stream=s).sort_stats('cumulative').print_stats(40); sys.stderr.write(s.getvalue())"],
        env=env, cwd=NEUTRAL_CWD, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    lines.append("cProfile of the import (cumulative):")
    lines.append(profile.stderr[-12000:])
    return "\n".join(lines)


def progress(text: str) -> None:
    print(text, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", nargs="*", help="logical ids (default: every function of template.yaml)")
    parser.add_argument("--explain", metavar="LOGICAL_ID", help="print where one function's init time goes, then exit")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--variant", action="append", default=[], metavar="LogicalId@label=LAYER_DIR",
                        help="also time LogicalId with another built layer's python directory (e.g. another build's "
                             ".aws-sam/build/GatewayLayer/python)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also time every measured function from this checkout (e.g. git archive of an earlier commit), "
                             "as LogicalId@baseline")
    parser.add_argument("--references", action="store_true",
                        help="also time the floor plus the third-party pieces the functions cannot do without (no project code)")
    args = parser.parse_args(argv)
    if not os.access(PYTHON, os.X_OK):
        parser.error(f"{PYTHON} is missing: the layer's bytecode is Python 3.12's (make venv312 creates it)")
    ensure_built(ROOT, progress)
    for variant in args.variant:
        name, _, layer_dir = variant.partition("=")
        VARIANTS[name] = str(Path(layer_dir).resolve())
    if args.baseline:
        ensure_built(args.baseline.resolve(), progress)
        for logical_id in args.only or function_ids():
            BASELINES[f"{logical_id}@baseline"] = args.baseline.resolve()
    if args.explain:
        print(explain(args.explain))
        return 0
    result = measure(args.runs, args.only, progress=progress, references=args.references)
    return report(result, render, args.json)


if __name__ == "__main__":
    sys.exit(main())
