"""Raw HTTP to either front end of the reference server, for the boundary tests (no tests here).

Requests are built by hand from the wire protocols (not through the library,
which would refuse to send most of them): the v1.0 login and ``ASSession``
header, the v3 ``basic`` header and ``X-Accsyn-Workspace``. Imported as
``from server_raw import RawCaller`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import uuid
import zlib
from typing import Any, Dict, Optional
from urllib.parse import quote, urlsplit

import requests

from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

__all__ = [
    "TIMEOUT",
    "RawCaller",
    "b64",
    "error_code",
    "gz_data",
    "raw_socket",
    "read_until_closed",
    "zeros_bomb",
]

TIMEOUT = (5, 30)
URIS = {
    "job/create": {names.V1: "job/create", names.V3: "transfer/create"},
    "job/find": {names.V1: "job/find", names.V3: "transfer/find"},
    "task/create": {names.V1: "job/task/create", names.V3: "task/create"},
}
"""An operation's ``uri`` on each generation."""


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def gz_data(value: Any) -> str:
    """``value`` as the wire's ``gz_data``: base64 of gzipped JSON."""
    return b64(gzip.compress(json.dumps(value).encode("utf-8")))


def zeros_bomb(inflated_bytes: int) -> str:
    """``gz_data`` of a JSON string of ``inflated_bytes`` zeros (about 1,000 times smaller)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(b'"')]
    chunk = b"0" * (1024 * 1024)
    left = inflated_bytes - 2
    while left > 0:
        parts.append(packer.compress(chunk[:left]))
        left -= len(chunk)
    parts += [packer.compress(b'"'), packer.flush()]
    return b64(b"".join(parts))


def raw_socket(server: LocalServer, timeout: float = 10.0) -> socket.socket:
    """A plain TCP connection to ``server``."""
    parts = urlsplit(server.url)
    return socket.create_connection((parts.hostname or "", parts.port or 0), timeout=timeout)


def read_until_closed(sock: socket.socket, limit: int = 1024 * 1024) -> bytes:
    """What ``sock`` receives until the server closes it (or ``limit`` bytes, or its timeout)."""
    received = b""
    while len(received) < limit:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


class RawCaller:
    """Raw HTTP to one front end, as the demo user of ``role`` (or as nobody: ``role=None``)."""

    def __init__(
        self, server: LocalServer, api_version: str, role: Optional[str] = "employee"
    ) -> None:
        self.server = server
        self.api_version = api_version
        self.url = f"{server.url}{names.API_PATHS[api_version]}/{names.EVENT_URI}"
        self.http = requests.Session()
        self.http.trust_env = False
        self.headers: Dict[str, str] = {}
        if role is not None:
            self.headers = self._credentials_headers(role)

    def _credentials_headers(self, role: str) -> Dict[str, str]:
        credentials = self.server.credentials(role, api_version=self.api_version)
        if self.api_version == names.V3:
            user = b64(credentials["username"].encode("utf-8"))
            key = b64(credentials["api_key"].encode("utf-8"))
            return {
                names.AUTHORIZATION: f"{names.V3_AUTH_SCHEME} {user}:{key}",
                names.V3_WORKSPACE_HEADER: credentials["workspace"],
            }
        session_key = self.login_v1(credentials["api_key"], credentials["username"])
        return {names.AUTHORIZATION: self.session_header(session_key, credentials["username"])}

    def login_v1(self, api_key: str, username: str) -> str:
        """A v1.0 login over raw HTTP; returns the session key."""
        asked = {"domain": "acmevfx", "username": username, "api_key": api_key}
        header = f"{names.V1_CREDENTIALS_SCHEME} {b64(json.dumps(asked).encode('utf-8'))}"
        response = self.http.put(
            f"{self.server.url}{names.V1_API_PATH}/{names.V1_LOGIN_URI}",
            data=json.dumps({"session": str(uuid.uuid4())}),
            headers={names.AUTHORIZATION: header},
            timeout=TIMEOUT,
        )
        reply = response.json()
        assert "session_key" in reply, reply
        return str(reply["session_key"])

    @staticmethod
    def session_header(session_key: str, username: str = "employee@acmevfx.com") -> str:
        """The v1.0 ``ASSession`` header value for ``session_key``."""
        header = {"domain": "acmevfx", "username": username, "session_key": session_key}
        return f"{names.V1_SESSION_SCHEME} {b64(json.dumps(header).encode('utf-8'))}"

    def event(self, operation: str, data: Any = None, **fields: Any) -> Dict[str, Any]:
        """An event envelope of this generation for ``operation`` (a key of :data:`URIS`)."""
        key = names.V1_WORKSPACE_KEY if self.api_version == names.V1 else names.V3_WORKSPACE_KEY
        event: Dict[str, Any] = {
            "uri": URIS.get(operation, {}).get(self.api_version, operation),
            key: "acmevfx",
            "eid": str(uuid.uuid4()),
            "session": str(uuid.uuid4()),
        }
        if data is not None:
            event["data"] = data
        event.update(fields)
        return event

    def send(
        self,
        method: str,
        event: Any = None,
        *,
        raw: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> requests.Response:
        """Send ``event`` (or ``raw`` bytes) the way the generation carries it."""
        sent = dict(self.headers if headers is None else headers)
        if method in ("GET", "DELETE"):
            text = raw.decode("utf-8") if raw is not None else json.dumps(event)
            url = f"{self.url}?{quote(text, safe='')}"
            return self.http.request(method, url, headers=sent, timeout=TIMEOUT)
        body = raw if raw is not None else json.dumps(event).encode("utf-8")
        sent["Content-Type"] = "application/json"
        return self.http.request(method, self.url, data=body, headers=sent, timeout=TIMEOUT)

    def close(self) -> None:
        self.http.close()


def error_code(response: requests.Response) -> Optional[str]:
    """The ``error_code`` of a JSON refusal (either generation), or None."""
    reply = response.json()
    return reply.get("error_code") if isinstance(reply, dict) else None
