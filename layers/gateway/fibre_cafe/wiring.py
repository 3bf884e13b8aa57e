"""The one factory of every function's dependencies: from its settings (fibre_cafe/settings.py), lazily, once per container.

A handler declares its wiring at import and builds nothing there::

    deps = Wiring(TenantApiSettings, Dependencies)   # Dependencies(settings) builds clients and collaborators

and its ``lambda_handler`` starts with ``deps()``. The first call validates the settings from ``os.environ`` (one
SettingsError line for a missing or bad variable) and builds the dependencies; every later call returns the same
object.

In a Lambda execution environment (AWS and ``sam local`` set ``AWS_LAMBDA_INITIALIZATION_TYPE``) the build happens
at import, in Lambda's init phase: a bad variable fails the init with its one line (the function never takes a
request), and the clients are made with init's CPU rather than billed to the first request. Everywhere else
(tests, tools importing a handler for its routes, the local stack's workers, which call ``build()`` when they
start) importing builds nothing. ``deps.<name>`` reads an attribute of the built dependencies, building
them first if need be (``deps.cancellations``).

Public seams, for whatever runs a handler outside Lambda (tests, the local stack, the benchmarks), instead of
patching module globals:

- ``configure(environ)``: settings from this environment (a mapping, not ``os.environ``); the dependencies are
  built again on next use. Returns the new settings.
- ``reset()``: a cold container (the dependencies are built again on next use, the settings are kept).
- ``build()``: build now (what a cold start pays: the benchmark forces it).
- ``close()``: let background work of the built dependencies finish (``Dependencies.close()``, when it has one).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from fibre_cafe.settings import FunctionSettings

S = TypeVar("S", bound=FunctionSettings)
D = TypeVar("D")


class Wiring(Generic[S, D]):
    def __init__(self, settings_type: type[S], factory: Callable[[S], D]) -> None:
        self.settings_type = settings_type
        self.factory = factory
        self._lock = threading.RLock()
        self._settings: S | None = None
        self._built: D | None = None
        if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"):
            self.build()

    @property
    def settings(self) -> S:
        """The function's settings, validated once (from ``os.environ`` unless ``configure`` gave others)."""
        with self._lock:
            if self._settings is None:
                self._settings = self.settings_type.from_environ()
            return self._settings

    def __call__(self) -> D:
        """The dependencies, built on first use and then the same for the container's life."""
        built = self._built
        if built is not None:
            return built
        with self._lock:
            if self._built is None:
                self._built = self.factory(self.settings)
            return self._built

    build = __call__

    @property
    def built(self) -> bool:
        """Whether the dependencies are built (a warm container)."""
        return self._built is not None

    def __getattr__(self, name: str) -> Any:
        # Only for names Wiring itself does not have: an attribute of the built dependencies.
        if name.startswith("_") or name in ("settings_type", "factory"):
            raise AttributeError(name)
        return getattr(self(), name)

    def configure(self, environ: Mapping[str, str] | None = None, *, settings: S | None = None) -> S:
        """Settings from ``environ`` (or these ``settings``); the dependencies are built again on next use."""
        new = settings if settings is not None else self.settings_type.from_environ(environ)
        with self._lock:
            self.close()
            self._settings, self._built = new, None
        return new

    def reset(self) -> None:
        """A cold container: the same settings, dependencies built again on next use."""
        with self._lock:
            self.close()
            self._built = None

    def close(self) -> None:
        """Let the built dependencies' background work finish (their ``close()``, if they have one)."""
        built = self._built
        close = getattr(built, "close", None) if built is not None else None
        if callable(close):
            close()
