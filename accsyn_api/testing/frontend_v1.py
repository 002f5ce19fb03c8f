"""The v1.0 front end of the reference server: ``/api/v1.0`` (``wire-protocol.md``).

* ``PUT user/login/auth`` with ``Authorization: ASCredentials <base64 JSON>``
  and the body ``{"session": <uuid>}`` -> ``{"session_key", "clearance", "id"}``;
* ``event`` (GET/DELETE: the percent-encoded JSON event as the query string;
  POST/PUT: the JSON event as the body) with ``Authorization: ASSession <base64
  JSON>``;
* ``PUT registry/organization/domain`` ``{"organization": <domain>}`` ->
  ``{"domain": <domain>}`` (the registry look-up, answered for any domain).

Replies from the backend go out with HTTP 200, refusals included, as the v1.0
service did; requests that cannot be read get a 4xx JSON refusal.

An event's ``ASSession`` header is checked before anything else of the request
is decoded: a caller without a valid session key gets its refusal, and its
body is discarded unread.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from accsyn_api.protocol import names
from accsyn_api.testing.decoding import (
    Refusal,
    decode_b64_json,
    decode_event,
    decode_json_object,
)
from accsyn_api.testing.faults import LOGIN_FAULT_URI, REGISTRY_FAULT_URI
from accsyn_api.testing.httpd import MAX_FORM_BYTES, Request, Route

__all__ = ["FrontEndV1"]

Reply = Tuple[int, Dict[str, Any]]
EVENT_PATH = f"{names.V1_API_PATH}/{names.EVENT_URI}"


def _require_method(request: Request, allowed: str) -> None:
    if request.method != allowed:
        raise Refusal(405, f"{request.method} is not allowed here; use {allowed}.")


def _authorization(request: Request, scheme: str) -> Optional[str]:
    """The value after ``scheme`` in the Authorization header, or None."""
    found, _, value = request.headers.get(names.AUTHORIZATION, "").partition(" ")
    return value if found == scheme and value else None


class FrontEndV1:
    """Serves ``/api/v1.0``: the login, the event endpoint and the registry look-up."""

    api_path = names.V1_API_PATH

    def route(self, request: Request) -> Route:
        """Decode ``request`` and say how to answer it (a Refusal for an unknown path)."""
        if request.path == names.EVENT_URI:
            return self._event_route(request)
        if request.path == names.V1_LOGIN_URI:
            body = request.read_body(MAX_FORM_BYTES)
            return self._route(LOGIN_FAULT_URI, request, lambda: self._login(request, body))
        if request.path == names.V1_REGISTRY_URI:
            body = request.read_body(MAX_FORM_BYTES)
            return self._route(REGISTRY_FAULT_URI, request, lambda: self._registry(request, body))
        where = f"{self.api_path}/{request.path}"[:200]
        raise Refusal(
            404,
            f"No such path: {where}",
            f"Unknown address {where}: the v1.0 API is served under {EVENT_PATH} and "
            f"{self.api_path}/{names.V1_LOGIN_URI}.",
            "not_found",
        )

    @staticmethod
    def _route(fault_uri: Optional[str], request: Request, execute: Callable[[], Reply]) -> Route:
        def expire() -> Optional[Reply]:
            request.server.backend.expire_sessions()
            return None

        return Route(fault_uri, execute, expire)

    def _event_route(self, request: Request) -> Route:
        session = self._session_header(request)
        backend = request.server.backend
        refused = backend.caller_refusal(session, names.V1)
        if refused is not None:
            reply = (200, refused)
            return self._route(request.uri_for_faults(EVENT_PATH), request, lambda: reply)
        body = b"" if request.method in ("GET", "DELETE") else request.read_body()
        event = decode_event(request.method, body, request.raw_query, EVENT_PATH)
        request.server.record_event(event)
        uri = event.get("uri")

        def execute() -> Reply:
            return 200, backend.handle(request.method, event, session)

        return self._route(uri if isinstance(uri, str) else None, request, execute)

    @staticmethod
    def _session_header(request: Request) -> Optional[Dict[str, Any]]:
        value = _authorization(request, names.V1_SESSION_SCHEME)
        if value is None:
            return None
        try:
            return decode_b64_json(value, "ASSession header")
        except Refusal:
            return None

    @staticmethod
    def _login(request: Request, body: bytes) -> Reply:
        _require_method(request, "PUT")
        value = _authorization(request, names.V1_CREDENTIALS_SCHEME)
        if value is None:
            raise Refusal(
                401,
                "Login needs the header 'Authorization: ASCredentials <base64 JSON>'.",
                "No credentials were sent: give the domain, user name and API key.",
                "authentication_failed",
            )
        credentials = decode_b64_json(value, "ASCredentials header")
        payload = decode_json_object(body, "login body") if body.strip() else {}
        return 200, request.server.backend.login(credentials, payload)

    @staticmethod
    def _registry(request: Request, body: bytes) -> Reply:
        _require_method(request, "PUT")
        asked = decode_json_object(body, "registry request")
        organization = asked.get("organization")
        if not isinstance(organization, str) or not organization.strip():
            raise Refusal(400, 'The registry needs {"organization": "<domain>"}.')
        return 200, {"domain": organization.strip()}
