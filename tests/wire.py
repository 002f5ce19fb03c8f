"""Raw events of the wire protocol, for tests that speak HTTP without the Session.

Imported by the test modules as ``from wire import raw_event`` (pytest puts
``tests/`` on ``sys.path``; the directory has no ``__init__.py``).
"""

from __future__ import annotations

import uuid
from typing import Any, Dict, Optional

__all__ = ["raw_event"]


def raw_event(
    uri: Any,
    data: Any = None,
    *,
    entityid: Optional[str] = None,
    ident: str = "employee@acmevfx.com",
    **extra: Any,
) -> Dict[str, Any]:
    """An event envelope for the demo workspace; ``extra`` keys are set as given.

    ``uri`` is not checked, so that tests can send malformed events too.
    """
    event: Dict[str, Any] = {
        "audience": "api",
        "domain": "acmevfx",
        "eid": str(uuid.uuid4()),
        "session": str(uuid.uuid4()),
        "uri": uri,
        "ident": ident,
        "created": "2024-01-01T10:00:00",
        "hostname": "test",
    }
    if data is not None:
        event["data"] = data
    if entityid is not None:
        event["id"] = entityid
    event.update(extra)
    return event
