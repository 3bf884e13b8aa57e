"""Package size: each function's code and the layer, unzipped and zipped (deflate, as a Lambda deployment zip).

The layer is what ``sam build`` puts in it: ``layers/gateway`` (the fibre_cafe package) plus the pinned
runtime closure of ``layers/gateway/requirements.txt``, installed with pip for the Lambda runtime
(manylinux x86_64 wheels for Python 3.12) into a temporary directory under ``python/``. boto3 is not in it
(the runtime provides it). __pycache__ and *.pyc are left out here: the source as it is.

If ``.aws-sam/build`` exists (``make build``, which ``make test`` also runs, is ``sam build`` without Docker),
what it holds for each function and layer is measured too, as "sam build", bytecode included: the layer ships
Python 3.12 .pyc (layers/gateway/Makefile compiles it): 6.9 MiB zipped instead of 4.3 (18.7 MiB unzipped instead of
12.9), far under Lambda's 250 MB.

    python -m bench.package_size
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.common import ROOT, function_ids, main_of, table
from local_stack.template import function_spec, load_template, resources_of_type

LAMBDA_PIP = ["--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12", "--only-binary=:all:"]


def _files(root: Path, prefix: str = "", bytecode: bool = False):
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if bytecode or d != "__pycache__"]
        for name in files:
            if name.endswith(".pyc") and not bytecode:
                continue
            path = Path(directory) / name
            yield path, prefix + str(path.relative_to(root))


def sizes(entries: list[tuple[Path, str]], scratch: Path, name: str) -> dict:
    archive = scratch / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zipped:
        for path, arcname in entries:
            zipped.write(path, arcname)
    return {
        "files": len(entries),
        "unzipped_bytes": sum(path.stat().st_size for path, _ in entries),
        "zipped_bytes": archive.stat().st_size,
    }


def install_layer_dependencies(target: Path) -> str:
    requirements = ROOT / "layers" / "gateway" / "requirements.txt"
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-compile",
            "--target", str(target), "-r", str(requirements)]
    done = subprocess.run(base + LAMBDA_PIP, capture_output=True, text=True, timeout=900)
    if done.returncode == 0:
        return "pip install --target (manylinux2014_x86_64, cp312 wheels)"
    done = subprocess.run(base, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"pip install of the layer's requirements failed:\n{done.stderr[-3000:]}")
    return "pip install --target (this machine's wheels: the Lambda-platform install failed)"


def measure() -> dict:
    result: dict = {"functions": {}, "layers": {}}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        for logical_id in function_ids():
            spec = function_spec(logical_id)
            result["functions"][logical_id] = {"code_dir": str(spec.code_dir.relative_to(ROOT)),
                                               **sizes(list(_files(spec.code_dir)), scratch, logical_id)}
        template = load_template()
        for logical_id, res in resources_of_type(template, "AWS::Serverless::LayerVersion").items():
            content = ROOT / res["Properties"]["ContentUri"]
            deps = scratch / f"{logical_id}-deps"
            how = install_layer_dependencies(deps)
            own = [(path, arc) for path, arc in _files(content, "python/") if not arc.endswith("requirements.txt")]
            installed = list(_files(deps, "python/"))
            result["layers"][logical_id] = {
                "content_uri": str(content.relative_to(ROOT)),
                "dependencies_installed_with": how,
                "own_code": sizes(own, scratch, f"{logical_id}-own"),
                "dependencies": sizes(installed, scratch, f"{logical_id}-deps"),
                "total": sizes(own + installed, scratch, f"{logical_id}-all"),
            }
    sam_build = ROOT / ".aws-sam" / "build"
    if (sam_build / "template.yaml").exists():
        result["sam_build"] = {"dir": str(sam_build.relative_to(ROOT)), "packages": {}}
        with tempfile.TemporaryDirectory() as scratch_name:
            for built in sorted(path for path in sam_build.iterdir() if path.is_dir()):
                result["sam_build"]["packages"][built.name] = sizes(list(_files(built, bytecode=True)), Path(scratch_name),
                                                                    built.name)
    return result


def render(result: dict) -> str:
    rows = [[name, row["files"], row["unzipped_bytes"] / 1024, row["zipped_bytes"] / 1024] for name, row in result["functions"].items()]
    for name, layer in result["layers"].items():
        for part in ("own_code", "dependencies", "total"):
            rows.append([f"{name} ({part.replace('_', ' ')})", layer[part]["files"], layer[part]["unzipped_bytes"] / 1024,
                         layer[part]["zipped_bytes"] / 1024])
    for name, row in (result.get("sam_build") or {}).get("packages", {}).items():
        rows.append([f"sam build: {name}", row["files"], row["unzipped_bytes"] / 1024, row["zipped_bytes"] / 1024])
    return (
        "Package size (deflate zip; layer dependencies by "
        + next((v["dependencies_installed_with"] for v in result["layers"].values()), "-")
        + ")\n"
        + table(rows, ["package", "files", "unzipped KiB", "zipped KiB"])
    )


def main(argv: list[str] | None = None) -> int:
    return main_of(__doc__, measure, render, argv)


if __name__ == "__main__":
    sys.exit(main())
