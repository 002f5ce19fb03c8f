"""The events a reference server received, for tests: :attr:`LocalServer.events`.

:class:`EventLog` keeps the last :data:`EVENT_HISTORY` decoded events, and at
most :data:`EVENT_LOG_BYTES` of them: each event is kept pickled (compact,
and a copy that nothing the server does later can change), the oldest
forgotten first. An event whose pickled form alone is larger than the whole
budget (a payload of many megabytes) is kept as a stand-in: its envelope's
short text and number values, with ``"event_log_omitted_bytes"`` saying how
large it was.
"""

from __future__ import annotations

import collections
import pickle
import threading
from typing import Any, Deque, Dict, List, Mapping

__all__ = ["EVENT_HISTORY", "EVENT_LOG_BYTES", "OMITTED_KEY", "EventLog"]

EVENT_HISTORY = 1000
"""How many received events :attr:`LocalServer.events` keeps."""
EVENT_LOG_BYTES = 16 * 1024 * 1024
"""How many bytes of (pickled) events :attr:`LocalServer.events` keeps: 16 MiB."""
OMITTED_KEY = "event_log_omitted_bytes"
"""The key of a stand-in event: the size of the event it stands for, in bytes."""
_STAND_IN_TEXT = 1000
"""The longest text value a stand-in keeps."""


def _stand_in(event: Mapping[str, Any], size: int) -> Dict[str, Any]:
    """What is kept of an event too large for the log: its short scalar values and its size."""
    kept: Dict[str, Any] = {
        key: value
        for key, value in event.items()
        if isinstance(value, (int, float, bool, type(None)))
        or (isinstance(value, str) and len(value) <= _STAND_IN_TEXT)
    }
    kept[OMITTED_KEY] = size
    return kept


class EventLog:
    """The last ``history`` events received, within ``budget`` bytes, kept across restarts of
    a server. Thread-safe."""

    def __init__(self, history: int = EVENT_HISTORY, budget: int = EVENT_LOG_BYTES) -> None:
        self.history = history
        self.budget = budget
        self.size = 0
        """The bytes held now."""
        self._events: Deque[bytes] = collections.deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._events)

    def record(self, event: Mapping[str, Any]) -> None:
        """Keep ``event`` (pickled); forget the oldest beyond the history or the budget."""
        packed = pickle.dumps(dict(event), protocol=pickle.HIGHEST_PROTOCOL)
        if len(packed) > self.budget:
            packed = pickle.dumps(_stand_in(event, len(packed)), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._events.append(packed)
            self.size += len(packed)
            while len(self._events) > self.history or self.size > self.budget:
                self.size -= len(self._events.popleft())

    def snapshot(self) -> List[Dict[str, Any]]:
        """Copies of the events kept, oldest first."""
        with self._lock:
            packed = list(self._events)
        return [pickle.loads(item) for item in packed]  # noqa: S301 - pickled by record()
