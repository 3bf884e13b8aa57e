"""`make build`'s GatewayLayer: the lock's exact pins, and bytecode for Python 3.12 that Lambda uses as it is.

Lambda mounts a layer read-only at /opt, so a module without a matching .pyc is compiled from source at every cold
start. layers/gateway/Makefile (template.yaml: ``BuildMethod: makefile``) installs layers/gateway/requirements.txt
and compiles everything with Python 3.12 into unchecked-hash .pyc (valid whatever the files' mtimes after zipping
and deploying). The build here is the root Makefile's own `make build` into a scratch directory (about 15 s, no
Docker); the bytecode is then checked by a Python 3.12, the runtime's: its magic number, not checked against the
source at import, the source's hash, and, importing every function's handler as Lambda does (the built layer and
the built code directory on ``sys.path``), that nothing from the layer is compiled from source.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench.common import function_env
from local_stack.template import function_spec, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"
LOCK = ROOT / "layers" / "gateway" / "requirements.txt"
COMPILED_PACKAGES = ("fibre_cafe", "pydantic", "aws_lambda_powertools")

pytestmark = pytest.mark.skipif(not SAM.exists() or shutil.which("make") is None,
                                reason="needs make and SAM CLI in .tools/sam (make sam-venv installs it)")


def python312() -> tuple[str, dict[str, str]]:
    """A Python 3.12 and the environment it answers in: this one, .venv312's, or the build's pyenv python3.12."""
    if sys.version_info[:2] == (3, 12):
        return sys.executable, {}
    if (ROOT / ".venv312" / "bin" / "python").exists():
        return str(ROOT / ".venv312" / "bin" / "python"), {}
    pyenv = re.search(r"^PYENV_312\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.M)
    return "python3.12", {"PYENV_VERSION": pyenv.group(1)} if pyenv else {}


def run312(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    python, extra = python312()
    return subprocess.run([python, "-c", script, *args], env={**(env or os.environ), **extra, "PYTHONDONTWRITEBYTECODE": "1"},
                          cwd=tempfile.gettempdir(), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("sam-build") / "build"
    done = subprocess.run(["make", "--no-print-directory", "build", f"BUILD_DIR={build}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return build


@pytest.fixture(scope="module")
def layer(build_dir) -> Path:
    return build_dir / "GatewayLayer" / "python"


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, _, version = requirement.partition("==")
            pins[canonical(name)] = version.strip()
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def test_the_built_layer_holds_exactly_the_locks_pinned_distributions(layer):
    installed = {}
    for dist_info in layer.glob("*.dist-info"):
        metadata = (dist_info / "METADATA").read_text(encoding="utf-8")
        name = re.search(r"^Name: (.+)$", metadata, flags=re.M).group(1)
        installed[canonical(name)] = re.search(r"^Version: (.+)$", metadata, flags=re.M).group(1).strip()
    assert installed == lock_pins()


def test_the_layers_fibre_cafe_is_the_source_tree_without_its_bytecode_caches(layer):
    source = ROOT / "layers" / "gateway" / "fibre_cafe"
    shipped = {path.relative_to(layer / "fibre_cafe") for path in (layer / "fibre_cafe").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    expected = {path.relative_to(source) for path in source.rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert shipped == expected
    # Only the build's own .pyc: none left over from a development interpreter's __pycache__ in the source tree.
    stray = [str(path.relative_to(layer)) for path in (layer / "fibre_cafe").rglob("*.pyc") if ".cpython-312." not in path.name]
    assert stray == []


def test_every_module_of_fibre_cafe_pydantic_and_powertools_has_a_cpython_312_pyc(layer):
    missing = []
    for package in COMPILED_PACKAGES:
        modules = list((layer / package).rglob("*.py"))
        assert modules, f"{package} is not in the layer"
        for module in modules:
            if not (module.parent / "__pycache__" / f"{module.stem}.cpython-312.pyc").is_file():
                missing.append(str(module.relative_to(layer)))
    assert missing == []


CHECK_BYTECODE = """\
import importlib.util, json, sys
from pathlib import Path
layer = Path(sys.argv[1])
wrong = []
for package in sys.argv[2:]:
    for module in (layer / package).rglob('*.py'):
        pyc = module.parent / '__pycache__' / (module.stem + '.cpython-312.pyc')
        header = pyc.read_bytes()[:16]
        flags = int.from_bytes(header[4:8], 'little')
        if header[:4] != importlib.util.MAGIC_NUMBER:
            wrong.append(f'{pyc}: not this Python 3.12 magic number')
        elif flags != 0b01:  # hash-based (bit 0), source not checked at import (bit 1 clear): unchecked-hash
            wrong.append(f'{pyc}: flags {flags:#04b}, not unchecked-hash (0b01)')
        elif header[8:16] != importlib.util.source_hash(module.read_bytes()):
            wrong.append(f'{pyc}: compiled from another source than the shipped {module.name}')
print(json.dumps(wrong))
"""


def test_the_layers_bytecode_is_python_312s_unchecked_hash_bytecode_of_the_shipped_source(layer):
    done = run312(CHECK_BYTECODE, str(layer), *COMPILED_PACKAGES)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == []


# Every module a handler's import compiles from source (SourceLoader.source_to_code is only called when no valid
# .pyc is found), with PYTHONDONTWRITEBYTECODE as /opt being read-only would have it.
IMPORT_HANDLER = """\
import importlib, importlib.machinery, json, sys
compiled = []
_source_to_code = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return _source_to_code(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
layer, code_dir, module = sys.argv[1:4]
sys.path[:0] = [layer, code_dir]
importlib.import_module(module)
print(json.dumps([path for path in compiled if path.startswith(layer)]))
"""


def test_no_functions_handler_import_compiles_anything_from_the_layer(build_dir, layer):
    compiled = {}
    for logical_id in resources_of_type(load_template(), "AWS::Serverless::Function"):
        module = function_spec(logical_id).module
        done = run312(IMPORT_HANDLER, str(layer), str(build_dir / logical_id), module, env=function_env(logical_id))
        assert done.returncode == 0, f"{logical_id}: {done.stderr[-3000:]}"
        if paths := json.loads(done.stdout):
            compiled[logical_id] = paths
    assert compiled == {}
