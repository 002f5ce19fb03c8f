"""The reference server: an accsyn workspace in memory, for testing offline.

:class:`Backend` holds the state and the rules of both API generations (v1.0
and v3), :class:`Clock` is its notion of now and :class:`LocalServer` serves a
Backend over HTTP on 127.0.0.1, under ``/api/v1.0`` and ``/api/v3`` at once, with
:class:`Fault` rules (of a :class:`FaultKind`) injecting network failures.
``LocalServer(simulate=True)`` makes jobs progress as if files were being sent
(:mod:`accsyn_api.testing.simulation`).
"""

from __future__ import annotations

from .backend import Backend, Clock
from .faults import Fault, FaultKind, parse_fault_spec
from .server import LocalServer

__all__ = ["Backend", "Clock", "Fault", "FaultKind", "LocalServer", "parse_fault_spec"]
