"""The v3 front end of the reference server: ``/api/v3`` (``wire-protocol-v3.md``).

* ``PUT api/login`` with body ``{}`` -> ``{"result": {"role", "id", "session_id"}}``;
* ``event`` (GET/DELETE: the percent-encoded JSON event as the whole query
  string; POST/PUT: the JSON event as the body; ``gz_data`` unpacked);
* ``GET J3PKTtDvolDMBtTy6AFGA?<percent-encoded {"ident": <workspace>}>``, the
  host look-up of the master, -> ``{"result": {"hostname", "port", "scheme"}}``
  naming this server (``scheme``, ``"http"`` or ``"https"``, is this project's
  extension so that a client can reach a plain-HTTP local server); an unknown
  workspace is refused with 404.

The login and every event are authenticated from their headers alone:
``Authorization: basic <base64(user)>:<base64(key)>`` and
``X-Accsyn-Workspace``, before anything else of the request is decoded (a
refused caller's body is discarded unread). The envelope's ``session`` is not checked. Every
refusal is a JSON object ``{"message", "message_hr", "error_code"}`` with the
HTTP status of its kind (:data:`STATUS_BY_ERROR_CODE`); a server fault is
``{"exception": ...}`` with 500. The ``expire_session`` fault, which has no
meaning on v3, refuses one request with 401.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Callable, Dict, Optional, Tuple

from accsyn_api.protocol import names
from accsyn_api.testing.decoding import (
    Refusal,
    decode_event,
    decode_json_object,
    decode_query_object,
    refusal_reply,
)
from accsyn_api.testing.faults import V3_LOGIN_FAULT_URI, V3_LOOKUP_FAULT_URI
from accsyn_api.testing.httpd import MAX_FORM_BYTES, Request, Route

__all__ = ["STATUS_BY_ERROR_CODE", "FrontEndV3", "v3_status"]

Reply = Tuple[int, Dict[str, Any]]
EVENT_PATH = f"{names.V3_API_PATH}/{names.EVENT_URI}"

STATUS_BY_ERROR_CODE: Dict[str, int] = {
    "authentication_failed": 401,
    "session_expired": 401,
    "permission_denied": 403,
    "not_found": 404,
    "invalid_data": 400,
    "invalid_query": 400,
    "rate_limited": 429,
}
"""The HTTP status of a v3 refusal, by its ``error_code``."""

EXPIRED_REPLY = refusal_reply(
    "authentication failed (injected fault: expire_session)",
    "The server refused this call's credentials (a fault injected by the test). v3 has no "
    "session to renew: check the API key, or send the call again.",
    "authentication_failed",
)

NO_CREDENTIALS_HR = (
    "No credentials were sent: every v3 call needs the headers "
    "'Authorization: basic <base64 user>:<base64 API key>' and 'X-Accsyn-Workspace'."
)


def v3_status(reply: Dict[str, Any]) -> int:
    """The HTTP status of a backend reply on v3: 200, a refusal's status, or 500."""
    if "exception" in reply:
        return 500
    if "message" in reply:
        return STATUS_BY_ERROR_CODE.get(str(reply.get("error_code")), 400)
    return 200


def _b64_text(text: str) -> Optional[str]:
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def header_credentials(request: Request) -> Dict[str, Any]:
    """``{"workspace", "username", "api_key"}`` from the headers; a 401 Refusal without them."""
    scheme, _, value = request.headers.get(names.AUTHORIZATION, "").strip().partition(" ")
    user_b64, colon, key_b64 = value.strip().partition(":")
    username, api_key = _b64_text(user_b64), _b64_text(key_b64)
    workspace = request.headers.get(names.V3_WORKSPACE_HEADER)
    if scheme.lower() != names.V3_AUTH_SCHEME or not colon or username is None or not workspace:
        raise Refusal(
            401, "missing or malformed v3 credentials", NO_CREDENTIALS_HR, "authentication_failed"
        )
    return {"workspace": workspace, "username": username, "api_key": api_key}


def _require_method(request: Request, allowed: str) -> None:
    if request.method != allowed:
        raise Refusal(405, f"{request.method} is not allowed here; use {allowed}.")


class FrontEndV3:
    """Serves ``/api/v3``: the login, the event endpoint and the host look-up."""

    api_path = names.V3_API_PATH

    def route(self, request: Request) -> Route:
        """Decode ``request`` and say how to answer it (a Refusal for an unknown path)."""
        if request.path == names.EVENT_URI:
            return self._event_route(request)
        if request.path == names.V3_LOGIN_URI:
            body = request.read_body(MAX_FORM_BYTES)
            return self._route(V3_LOGIN_FAULT_URI, lambda: self._login(request, body))
        if request.path == names.V3_LOOKUP_URI:
            return self._route(V3_LOOKUP_FAULT_URI, lambda: self._lookup(request))
        where = f"{self.api_path}/{request.path}"[:200]
        raise Refusal(
            404,
            f"No such path: {where}",
            f"Unknown address {where}: the v3 API is served under {EVENT_PATH}, "
            f"{self.api_path}/{names.V3_LOGIN_URI} and the host look-up.",
            "not_found",
        )

    @staticmethod
    def _route(fault_uri: Optional[str], execute: Callable[[], Reply]) -> Route:
        return Route(fault_uri, execute, lambda: (401, dict(EXPIRED_REPLY)))

    def _event_route(self, request: Request) -> Route:
        backend = request.server.backend
        try:
            credentials = header_credentials(request)
        except Refusal as missing:
            answer = missing.answer()
            return self._route(request.uri_for_faults(EVENT_PATH), lambda: answer)
        refused = backend.caller_refusal(credentials, names.V3)
        if refused is not None:
            answer = (v3_status(refused), refused)
            return self._route(request.uri_for_faults(EVENT_PATH), lambda: answer)
        body = b"" if request.method in ("GET", "DELETE") else request.read_body()
        event = decode_event(request.method, body, request.raw_query, EVENT_PATH)
        request.server.record_event(event)
        uri = event.get("uri")

        def execute() -> Reply:
            reply = backend.handle(request.method, event, credentials, api_version=names.V3)
            return v3_status(reply), reply

        return self._route(uri if isinstance(uri, str) else None, execute)

    @staticmethod
    def _login(request: Request, body: bytes) -> Reply:
        _require_method(request, "PUT")
        if body.strip():
            decode_json_object(body, "login body")  # {} is sent; anything else is read
        credentials = header_credentials(request)
        reply = request.server.backend.login(credentials, {}, api_version=names.V3)
        return v3_status(reply), reply

    @staticmethod
    def _lookup(request: Request) -> Reply:
        _require_method(request, "GET")
        where = f"GET {names.V3_API_PATH}/{names.V3_LOOKUP_URI}"
        asked = decode_query_object(request.raw_query, "host look-up", where)
        ident = asked.get("ident")
        if not isinstance(ident, str) or not ident.strip():
            raise Refusal(400, 'The host look-up needs {"ident": "<workspace>"}.')
        server = request.server
        if not server.backend.knows_workspace(ident):
            raise Refusal(
                404,
                f"workspace {ident[:100]!r} not found",
                f"There is no workspace {ident[:100]!r} here; this server holds the workspace "
                f"{server.backend.domain!r}.",
                "not_found",
            )
        scheme = "https" if server.tls is not None else "http"
        host = request.local_host
        return 200, {"result": {"hostname": host, "port": server.port, "scheme": scheme}}
