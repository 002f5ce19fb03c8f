"""The reference server's memory of events by ``eid``: replies to replay, bounded in bytes.

A client that did not get a reply may send the same event again (same
``eid``); the server must then answer it without executing it twice. Only
writes (``POST``/``PUT``/``DELETE``: creates, edits, deletes) need that: a
read repeated is simply read again. So :class:`ReplayStore` keeps

* for a write, its reply, pickled (compact, immutable, and a fresh copy on
  every replay), with who sent it and its ``uri``;
* for a read, only that its ``eid`` was used (by whom, for which ``uri``): a
  later event reusing the ``eid`` for another call is still refused, and
  :meth:`ReplayStore.executed` still answers.

Everything counts against :data:`REPLAY_STORE_BYTES` (the pickled reply plus
:data:`ENTRY_OVERHEAD_BYTES` per event); the oldest events are forgotten first.
The newest write is always kept, however large its reply, so that its retry is
safe: the store may exceed the budget by that one reply. A forgotten event's
repeat would be executed again (a retry arrives within seconds; forgetting
takes megabytes of writes in between).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Optional

from accsyn_api.testing.refusals import invalid

__all__ = ["ENTRY_OVERHEAD_BYTES", "REPLAY_STORE_BYTES", "ReplayStore", "StoredEvent"]

REPLAY_STORE_BYTES = 32 * 1024 * 1024
"""The bytes the replay store may hold (32 MiB): pickled write replies and per-event records."""
ENTRY_OVERHEAD_BYTES = 256
"""What one remembered event costs besides its reply: the record, its key, the dict slot."""


@dataclass(frozen=True)
class StoredEvent:
    """One event remembered: who sent it, its ``uri``, and a write's pickled reply."""

    user_id: str
    uri: str
    reply: Optional[bytes]
    """The pickled reply of a write; None for a read (never replayed)."""

    @property
    def size(self) -> int:
        """The bytes this record is counted for."""
        reply = len(self.reply) if self.reply is not None else 0
        return ENTRY_OVERHEAD_BYTES + len(self.uri) + reply


class ReplayStore:
    """Events by ``eid``, oldest first, within ``budget`` bytes. Not thread-safe: the
    backend calls it under its lock."""

    def __init__(self, budget: int = REPLAY_STORE_BYTES) -> None:
        self.budget = budget
        self.size = 0
        """The bytes counted for the events held now."""
        self._events: OrderedDict[str, StoredEvent] = OrderedDict()

    def __len__(self) -> int:
        return len(self._events)

    def get(self, eid: Any) -> Optional[StoredEvent]:
        """The event remembered under ``eid``, or None."""
        return self._events.get(eid) if isinstance(eid, str) else None

    def executed(self, eid: str) -> bool:
        """Whether an event with this ``eid`` was handled (and is still remembered)."""
        return eid in self._events

    def repeat_of(self, eid: Any, user_id: str, uri: str) -> Optional[Dict[str, Any]]:
        """For an event ``eid`` of ``user_id`` and ``uri``: a fresh copy of the reply to
        replay (a write seen before), or None (execute it: a new event or a read).

        Raises InvalidData when ``eid`` was used for another call (another user or uri).
        """
        stored = self.get(eid) if isinstance(eid, str) and eid else None
        if stored is None:
            return None
        if stored.user_id != user_id or stored.uri != uri:
            raise invalid(
                f"event id {eid} was already used for another event",
                "This event id (eid) was already used for a different call; give every new "
                "event a fresh uuid4 and reuse it only to retry the very same call.",
            )
        if stored.reply is None:
            return None
        reply: Dict[str, Any] = pickle.loads(stored.reply)  # noqa: S301 - pickled by remember()
        return reply

    def remember(
        self, eid: str, user_id: str, uri: str, reply: Dict[str, Any], *, write: bool
    ) -> None:
        """Remember the event ``eid``; a write with its reply. Forgets the oldest beyond budget."""
        packed = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL) if write else None
        stored = StoredEvent(user_id, uri, packed)
        previous = self._events.pop(eid, None)
        if previous is not None:
            self.size -= previous.size
        self._events[eid] = stored
        self.size += stored.size
        while self.size > self.budget and len(self._events) > 1:
            _, oldest = self._events.popitem(last=False)
            self.size -= oldest.size
