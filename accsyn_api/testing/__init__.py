"""The reference server: an accsyn workspace in memory, for testing offline.

:class:`Backend` holds the state and rules, :class:`Clock` is its notion of now
and :class:`LocalServer` serves a Backend over HTTP on 127.0.0.1, with
:class:`Fault` rules (of a :class:`FaultKind`) injecting network failures.
"""

from __future__ import annotations

from .backend import Backend, Clock
from .faults import Fault, FaultKind, parse_fault_spec

__all__ = ["Backend", "Clock", "Fault", "FaultKind", "LocalServer", "parse_fault_spec"]

from .server import LocalServer
