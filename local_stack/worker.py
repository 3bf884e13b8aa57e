"""One local Lambda "execution environment": a process that imports one function's handler and runs its invocations.

Started by ``local_stack.functions.ProcessRunner`` as ``python -m local_stack.worker <fd>`` with the
function's environment (template.yaml's variables on top of the stack's: moto endpoint, fake
credentials, region), in the repository root. ``<fd>`` is its end of a socket pair to the stack.

Protocol (``multiprocessing.connection`` messages, pickled):

- stack -> worker, once: ``{"paths": [...], "module": ..., "attribute": ..., "function_name": ...,
  "memory_size": ..., "region": ..., }``. The worker puts the paths first on ``sys.path``, imports the
  handler module (its init, as Lambda's init phase), builds its dependencies from its settings
  (``deps.build()``, fibre_cafe/wiring.py: what Lambda does on the first invocation, done here so that a
  prewarmed worker is warm and a bad setting is an init error), answers ``("ready", None)`` or
  ``("init_error", text)``.
- stack -> worker, per invocation: ``(event_json, request_id, timeout_seconds)``; the answer is
  ``("ok", result_json)`` or ``("error", {"type", "message"})`` (the traceback goes to stderr, as
  Lambda logs it). Event and result travel as JSON, as they do in Lambda: an answer that is not
  JSON-serialisable is an error, as it is there.
- ``None`` (or the stack going away) ends the worker.

One invocation at a time per worker, as in a Lambda execution environment: the handlers keep
per-invocation state in module and class attributes (Powertools' resolver keeps the current event on
``BaseRouter``; Loggers share formatter keys), which is safe only because of that.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from multiprocessing.connection import Connection

from testing.lambda_context import lambda_context

END_OF_INVOCATION = "\x00local-stack-end-of-invocation "  # local_stack/functions.py relays output up to it


def serve(conn: Connection) -> None:
    setup = conn.recv()
    try:
        for path in reversed(setup["paths"]):
            if path not in sys.path:
                sys.path.insert(0, path)
        module = importlib.import_module(setup["module"])
        handler = getattr(module, setup["attribute"])
        build = getattr(getattr(module, "deps", None), "build", None)
        if callable(build):
            build()
    except BaseException:  # noqa: BLE001 - an init failure is reported, as Lambda reports Runtime.ImportModuleError
        text = traceback.format_exc()
        sys.stderr.write(f"{setup['function_name']}: init failed\n{text}")
        conn.send(("init_error", text.strip().splitlines()[-1]))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        event_json, request_id, timeout_seconds = message
        context = lambda_context(setup["function_name"], seconds=timeout_seconds, memory_mb=setup["memory_size"], request_id=request_id,
                                 region=setup["region"])
        try:
            result = handler(json.loads(event_json), context)
            answer = ("ok", json.dumps(result))
        except Exception as exc:  # noqa: BLE001 - an invocation error is the caller's to map (502, retry, ...)
            traceback.print_exc(file=sys.stderr)
            answer = ("error", {"type": type(exc).__name__, "message": str(exc)[:2000]})
        sys.stderr.flush()
        # The stack returns the answer once it has relayed this invocation's output (local_stack/functions.py).
        sys.stdout.write(f"{END_OF_INVOCATION}{request_id}\n")
        sys.stdout.flush()
        conn.send(answer)


def main(argv: list[str]) -> int:
    conn = Connection(int(argv[1]))
    try:
        serve(conn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv))
