"""A minimal accsyn client over one kept-alive ``http.client`` connection: the floor.

The benchmark (``benchmarks/run.py``) measures this library against what the
wire itself costs. This client is that floor: it speaks the same protocol as
the library (the same login, headers, event envelope, percent-encoded GET
events and ``gz_data`` for payloads over 100 kB, both API generations) with
nothing else: no retries beyond reopening a closed connection once, no date
decoding (``json.loads`` only), no checks. Standard library only, so that the
worker processes of the official clients can import it too.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
import ssl
import time
import urllib.parse
import uuid
from typing import Any, Dict, Optional, Tuple

__all__ = ["RawClient", "RawRefusal"]

GZIP_THRESHOLD = 100 * 1024
"""Payloads larger than this travel as ``gz_data``, as the library sends them."""
BODY_METHODS = ("POST", "PUT")
V3_ENTITY_NAMES = {"job": "transfer", "share": "folder"}


class RawRefusal(Exception):
    """The server refused a call (or answered something that is not a result)."""


def _b64_json(obj: Dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj).encode("utf-8")).decode("ascii")


def _b64_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class RawClient:
    """One user's connection to an accsyn server, speaking v1.0 (``"1.0"``) or v3 (``"3"``).

    ``url`` is ``http://host:port`` or ``https://host:port`` (``ca_bundle`` then
    verifies the server). :meth:`login` first, then :meth:`call`.
    """

    def __init__(
        self,
        url: str,
        workspace: str,
        username: str,
        api_key: str,
        api_version: str = "1.0",
        ca_bundle: Optional[str] = None,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tls = parts.scheme == "https"
        self.context = ssl.create_default_context(cafile=ca_bundle) if self.tls else None
        self.workspace, self.username, self.api_key = workspace, username, api_key
        self.api_version = api_version
        self.api_path = "/api/v1.0" if api_version == "1.0" else "/api/v3"
        self.session_uuid = str(uuid.uuid4())
        self.hostname = socket.gethostname()
        self.authorization = ""
        self.connection: Optional[http.client.HTTPConnection] = None
        self.connections_opened = 0

    # -- the connection -------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            if self.tls:
                self.connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=60, context=self.context
                )
            else:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.connections_opened += 1
        return self.connection

    def close(self) -> None:
        """Close the connection."""
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _exchange(
        self, method: str, target: str, body: Optional[bytes], headers: Dict[str, str]
    ) -> Tuple[int, bytes]:
        """Send one request; reopen the connection once if the server had closed it."""
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, target, body=body, headers=headers)
                response = connection.getresponse()
                content = response.read()
                if response.will_close:
                    self.close()
                return response.status, content
            except (http.client.RemoteDisconnected, ConnectionError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # -- the protocol ---------------------------------------------------------------

    def login(self) -> None:
        """Log in (v1.0: a session key; v3: the credentials go on every call)."""
        if self.api_version == "1.0":
            credentials = {
                "domain": self.workspace,
                "username": self.username,
                "api_key": self.api_key,
            }
            headers = {
                "Authorization": f"ASCredentials {_b64_json(credentials)}",
                "Content-Type": "application/json",
            }
            body = json.dumps({"session": self.session_uuid}).encode("utf-8")
            reply = self._json("PUT", f"{self.api_path}/user/login/auth", body, headers)
            session = {
                "domain": self.workspace,
                "username": self.username,
                "session_key": reply["session_key"],
            }
            self.authorization = f"ASSession {_b64_json(session)}"
            return
        self.authorization = f"basic {_b64_text(self.username)}:{_b64_text(self.api_key)}"
        headers = {**self._headers(), "Content-Type": "application/json"}
        self._json("PUT", f"{self.api_path}/api/login", b"{}", headers)

    def _headers(self) -> Dict[str, str]:
        headers = {"Authorization": self.authorization}
        if self.api_version == "1.0":
            headers["ASDevice"] = "rawclient @ benchmark"
        else:
            headers["X-Accsyn-Workspace"] = self.workspace
            headers["X-Accsyn-Device"] = "rawclient @ benchmark"
        return headers

    def uri(self, entitytype: str, operation: str) -> str:
        """The event ``uri`` of an operation on an entity type, in this generation's words."""
        if self.api_version != "1.0":
            entitytype = V3_ENTITY_NAMES.get(entitytype, entitytype)
        elif entitytype == "task":
            entitytype = "job/task"
        return f"{entitytype}/{operation}"

    def event_request(
        self,
        method: str,
        uri: str,
        data: Any = None,
        query: Optional[str] = None,
        entityid: Optional[str] = None,
    ) -> Tuple[str, Optional[bytes], Dict[str, str]]:
        """``(target, body, headers)`` of the event carrying ``uri``."""
        event: Dict[str, Any] = {
            "audience": "api",
            ("domain" if self.api_version == "1.0" else "workspace"): self.workspace,
            "eid": str(uuid.uuid4()),
            "session": self.session_uuid,
            "uri": uri,
            "ident": self.username,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "hostname": self.hostname,
        }
        if query:
            event["query"] = query
        if entityid:
            event["id"] = entityid
        if data is not None or self.api_version != "1.0":
            text = json.dumps(data, separators=(",", ":"))
            if len(text) > GZIP_THRESHOLD:
                packed = gzip.compress(text.encode("utf-8"), compresslevel=6)
                event["gz_data"] = base64.b64encode(packed).decode("ascii")
            else:
                event["data"] = data
        envelope = json.dumps(event, separators=(",", ":"))
        target = f"{self.api_path}/event"
        headers = self._headers()
        if method in BODY_METHODS:
            headers["Content-Type"] = "application/json"
            return target, envelope.encode("utf-8"), headers
        return f"{target}?{urllib.parse.quote(envelope, safe='')}", None, headers

    def call_bytes(self, method: str, uri: str, **event: Any) -> bytes:
        """The raw body of the reply to one event (``data``, ``query``, ``entityid``)."""
        target, body, headers = self.event_request(method, uri, **event)
        status, content = self._exchange(method, target, body, headers)
        if status != 200:
            raise RawRefusal(f"{method} {uri}: HTTP {status}: {content[:300]!r}")
        return content

    def call(self, method: str, uri: str, **event: Any) -> Any:
        """The ``result`` of one event; :class:`RawRefusal` when there is none."""
        reply = json.loads(self.call_bytes(method, uri, **event))
        if not isinstance(reply, dict) or "result" not in reply:
            raise RawRefusal(f"{method} {uri}: {str(reply)[:300]}")
        return reply["result"]

    def _json(
        self, method: str, target: str, body: Optional[bytes], headers: Dict[str, str]
    ) -> Dict[str, Any]:
        status, content = self._exchange(method, target, body, headers)
        reply = json.loads(content)
        if status != 200 or not isinstance(reply, dict):
            raise RawRefusal(f"{method} {target}: HTTP {status}: {content[:300]!r}")
        return reply

    # -- the verbs the benchmark uses ------------------------------------------------

    def find(self, entitytype: str, query: Optional[str] = None, **data: Any) -> Any:
        """A find of ``entitytype``; ``data`` holds ``limit``, ``skip``..."""
        if self.api_version == "1.0" and entitytype == "job":
            data.setdefault("type", 1)
        return self.call("GET", self.uri(entitytype, "find"), data=data, query=query)

    def find_one(self, entitytype: str, query: str) -> Any:
        """The first entity matching ``query``, or None (the server is asked for one)."""
        data: Dict[str, Any] = {"limit": 1}
        if self.api_version != "1.0":
            data["single_entity_query"] = True
        found = self.find(entitytype, query, **data)
        return found[0] if found else None

    def iterate(self, entitytype: str, query: Optional[str], page_size: int) -> int:
        """Page through every match of ``query``, ``page_size`` at a time; the count."""
        count = skip = 0
        while True:
            page = self.find(entitytype, query, limit=page_size, skip=skip)
            count += len(page)
            if len(page) < page_size:
                return count
            skip += len(page)

    def update(self, entitytype: str, entityid: str, data: Dict[str, Any]) -> Any:
        """Edit one entity."""
        return self.call("PUT", self.uri(entitytype, "edit"), data=data, entityid=entityid)

    def create(self, entitytype: str, data: Any, entityid: Optional[str] = None) -> Any:
        """Create entities (a job spec or a list; tasks under job ``entityid``)."""
        return self.call("POST", self.uri(entitytype, "create"), data=data, entityid=entityid)

    def delete(self, entitytype: str, entityid: str) -> Any:
        """Delete one entity."""
        return self.call("DELETE", self.uri(entitytype, "delete"), entityid=entityid)
