"""Support for the v3 tests (no tests here): raw HTTP of the v3 wire protocol.

Written from ``wire-protocol-v3.md``, independently of the client's protocol
modules: ``basic <b64(user)>:<b64(key)>`` and ``X-Accsyn-Workspace`` on every
call, the envelope with ``workspace``, GET/DELETE events as the whole
percent-encoded query string (Python ``quote``, ``/`` left literal).
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Dict, Optional
from urllib.parse import quote

import requests

from accsyn_api.testing import LocalServer

__all__ = ["V3Client", "b64", "v3_event"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def v3_event(
    uri: str,
    data: Any = None,
    *,
    entityid: Optional[str] = None,
    query: Optional[str] = None,
    **extra: Any,
) -> Dict[str, Any]:
    """A v3 envelope for the demo workspace, ``data`` always present (``{}`` when None)."""
    event: Dict[str, Any] = {
        "audience": "api",
        "workspace": "acmevfx",
        "eid": str(uuid.uuid4()),
        "session": "ignored-session-id",
        "uri": uri,
        "ident": "employee@acmevfx.com",
        "created": "2026-05-04T09:15:02",
        "hostname": "test",
        "data": {} if data is None else data,
    }
    if query:
        event["query"] = query
    if entityid:
        event["id"] = entityid
    event.update(extra)
    return event


class V3Client:
    """Sends v3 requests as a user of ``role`` (``headers=`` overrides the credentials)."""

    def __init__(self, server: LocalServer, role: str = "employee") -> None:
        self.server = server
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only: no proxy or CA bundle from the environment
        self.http.verify = server.ca_bundle or True
        credentials = server.credentials(role, api_version="3")
        self.headers = {
            "Authorization": f"basic {b64(credentials['username'])}:{b64(credentials['api_key'])}",
            "X-Accsyn-Workspace": credentials["workspace"],
        }

    def url(self, path: str) -> str:
        return f"{self.server.url}/api/v3/{path}"

    def login(self, headers: Optional[Dict[str, str]] = None) -> requests.Response:
        return self.http.put(self.url("api/login"), data=b"{}", headers=headers or self.headers)

    def send(
        self,
        method: str,
        event: Dict[str, Any],
        headers: Optional[Dict[str, str]] = None,
    ) -> requests.Response:
        text = json.dumps(event)
        chosen = self.headers if headers is None else headers
        if method in ("GET", "DELETE"):
            return self.http.request(method, f"{self.url('event')}?{quote(text)}", headers=chosen)
        return self.http.request(method, self.url("event"), data=text.encode(), headers=chosen)

    def call(self, method: str, uri: str, data: Any = None, **options: Any) -> Dict[str, Any]:
        """Send an event; its JSON reply (any status)."""
        reply = self.send(method, v3_event(uri, data, **options)).json()
        assert isinstance(reply, dict)
        return reply

    def ok(self, method: str, uri: str, data: Any = None, **options: Any) -> Any:
        """Send an event that must succeed (200, no message); its ``result``."""
        response = self.send(method, v3_event(uri, data, **options))
        reply = response.json()
        assert response.status_code == 200, reply
        assert "message" not in reply and "exception" not in reply
        return reply["result"]

    def close(self) -> None:
        self.http.close()
