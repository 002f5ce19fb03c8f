"""The reference server: an accsyn workspace in memory, for testing offline.

:class:`Backend` holds the state and rules, :class:`Clock` is its notion of now
and :class:`LocalServer` serves a Backend over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from .backend import Backend, Clock

__all__ = ["Backend", "Clock", "LocalServer"]

from .server import LocalServer
