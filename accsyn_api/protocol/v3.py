"""The v3 generation of the accsyn API (``/api/v3``), today's hosted service.

Host look-up through the master (``GET <token>?{"ident": ...}``), a login
that only checks the key, ``Authorization: basic <b64(user)>:<b64(key)>``
and ``X-Accsyn-Workspace`` on every call (no session key, no expiry), the
``workspace`` envelope with ``data`` always present, ``<entitytype>/<verb>``
operations (``job`` sent as ``transfer``), tasks under ``task/*`` with the
job in ``data.parent`` (finds) or the event ``id`` (creates, edits), dates in
UTC. See ``spec/wire-protocol-v3.md``.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from .. import codec
from ..errors import AuthenticationError, NotFound, ServerError
from ..query import BooleanExpression, Comparison, Expression, Query
from ..settings import Secret, Settings
from ..transport import HttpRequest
from . import names
from .base import FindOptions, Generation, LoginState, Operation, attributes_data

__all__ = ["V3Generation"]

logger = logging.getLogger("accsyn_api.protocol")

_JSON = {"Content-Type": "application/json"}
_SCHEMES = ("https", "http")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _job_id_of(expression: Optional[Expression]) -> Optional[str]:
    """The job id of a task query: ``job.id=<id>`` alone or among top-level ANDs."""
    if isinstance(expression, Comparison):
        operands: Tuple[Expression, ...] = (expression,)
    elif isinstance(expression, BooleanExpression) and expression.operator == "and":
        operands = expression.operands
    else:
        return None
    for operand in operands:
        if (
            isinstance(operand, Comparison)
            and operand.operator == "="
            and operand.attribute.lower() in ("job.id", "job")
            and isinstance(operand.value, str)
        ):
            return operand.value
    return None


class V3Generation(Generation):
    """How a client speaks the v3 API."""

    name = names.V3
    api_path = names.V3_API_PATH
    workspace_key = names.V3_WORKSPACE_KEY
    utc_dates = True
    operators = names.V3_OPERATORS
    login_uri = names.V3_LOGIN_URI
    renews_sessions = False

    # -- look-up and login -----------------------------------------------------------

    def lookup_request(self, settings: Settings) -> HttpRequest:
        ident = json.dumps({"ident": settings.workspace})
        return HttpRequest(
            "GET",
            f"{settings.master_url}/{names.V3_LOOKUP_URI}",
            "master look-up",
            query_string=quote(ident, safe=""),
            headers={names.V3_DEVICE_HEADER: self.device},
            only_reads=True,
        )

    def origin_from_lookup(self, reply: Mapping[str, Any], settings: Settings) -> str:
        result = reply.get("result")
        if not isinstance(result, dict):
            result = {}
        hostname = result.get("hostname")
        if not hostname:
            raise NotFound(
                f"The accsyn master does not know the workspace {settings.workspace!r}.",
                message_hr=f"The accsyn master does not know the workspace "
                f"{settings.workspace!r}: check its name (ACCSYN_WORKSPACE).",
                uri="master look-up",
            )
        host, port = str(hostname), settings.port or result.get("port") or 443
        # "scheme" is the reference server's extension (a plain-HTTP local server).
        scheme = result.get("scheme", "https")
        valid_host = all(ch.isalnum() or ch in "-." for ch in host)
        valid_port = isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
        if not valid_host or not valid_port or scheme not in _SCHEMES:
            raise ServerError(
                f"The accsyn master answered an invalid address for {settings.workspace!r}: "
                f"{str(scheme)[:10]}://{host[:100]}:{str(port)[:10]}.",
                uri="master look-up",
            )
        return f"{scheme}://{host}:{port}"

    def _headers(self, settings: Settings) -> Tuple[str, Dict[str, str]]:
        authorization = (
            f"{names.V3_AUTH_SCHEME} {_b64(settings.username)}:{_b64(settings.api_key.reveal())}"
        )
        headers = {
            names.V3_WORKSPACE_HEADER: settings.workspace,
            names.V3_DEVICE_HEADER: self.device,
        }
        return authorization, headers

    def login_request(self, settings: Settings, origin: str, session_uuid: str) -> HttpRequest:
        authorization, headers = self._headers(settings)
        return HttpRequest(
            "PUT",
            f"{origin}{self.api_path}/{self.login_uri}",
            self.login_uri,
            body=b"{}",
            headers={**headers, **_JSON},
            authorization=authorization,
            only_reads=True,
            login=True,
        )

    def read_login(self, reply: Mapping[str, Any], uri: str) -> LoginState:
        result = reply.get("result")
        if not isinstance(result, dict):
            raise AuthenticationError("The login reply holds no result.", uri=uri)
        role, user_id, session_id = result.get("role"), result.get("id"), result.get("session_id")
        return LoginState(
            role=str(role) if role is not None else None,
            user_id=str(user_id) if user_id is not None else None,
            session=None if session_id is None else Secret(str(session_id)),
            event_dedup=reply.get("event_dedup") is True or result.get("event_dedup") is True,
        )

    def secret_forms(self, settings: Settings) -> List[str]:
        return [_b64(settings.api_key.reveal())]  # the key's own part of the header

    def call_headers(self, settings: Settings, login: LoginState) -> Tuple[str, Dict[str, str]]:
        return self._headers(settings)

    # -- the envelope ------------------------------------------------------------------

    def envelope(
        self, settings: Settings, login: LoginState, session_uuid: str, uri: str, eid: str
    ) -> Dict[str, Any]:
        return {
            "audience": "api",
            self.workspace_key: settings.workspace,
            "eid": eid,
            "session": login.session.reveal() if login.session else None,
            "uri": uri,
            "ident": settings.username,
            "created": codec.utc_now_text(),
            "hostname": self.hostname,
        }

    def _data_text(self, data: Any, uri: str) -> Optional[str]:
        return "null" if data is None else self.encode(data, uri)  # v3 always sends data

    # -- the verbs ---------------------------------------------------------------------

    def entity(self, entitytype: str) -> str:
        entity = entitytype.strip().lower()
        return names.V3_ENTITY_ALIASES.get(entity, entity)

    def find(self, parsed: Query, options: FindOptions) -> Operation:
        entity = self.entity(parsed.entity)
        if entity == "entitytypes":
            return Operation("GET", "entitytypes", data={})
        if entity == "attributes":
            data = attributes_data(parsed)
            data["entitytype"] = self.entity(str(data.get("entitytype", "")))
            return Operation("GET", "attributes", data=data)
        data = {}
        if entity == "task":
            parent = _job_id_of(parsed.expression)
            if parent is not None:
                data["parent"] = parent
        if options.attributes is not None:
            data["attributes"] = options.attributes
        inactive = options.inactive
        if options.offline is not None:
            logger.warning("find(offline=...) is called inactive=... on the v3 API; sent as such.")
            inactive = options.offline if inactive is None else inactive
        for name, value in (
            ("finished", options.finished),
            ("inactive", inactive),
            ("archived", options.archived),
            ("limit", options.limit),
            ("skip", options.skip),
        ):
            if value is not None:
                data[name] = value
        if options.single:
            data["single_entity_query"] = True
            data["limit"] = 1
        return Operation("GET", f"{entity}/find", data=data, query=parsed.expression_text or None)

    def get_entity(self, entitytype: str, entityid: str) -> Operation:
        return Operation("GET", f"{self.entity(entitytype)}/find", data={}, entityid=entityid)

    def create(self, entitytype: str, payload: Any) -> Operation:
        return Operation("POST", f"{self.entity(entitytype)}/create", data=payload)

    def create_tasks(self, job_id: str, payload: Dict[str, Any]) -> Operation:
        return Operation("POST", "task/create", data=payload, entityid=job_id)

    def update(self, entitytype: str, entityid: str, data: Dict[str, Any]) -> Operation:
        return Operation("PUT", f"{self.entity(entitytype)}/edit", data=data, entityid=entityid)

    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> Operation:
        return Operation("PUT", "task/edit", data=changes, entityid=job_id)

    def delete(self, entitytype: str, entityid: str) -> Operation:
        return Operation("DELETE", f"{self.entity(entitytype)}/delete", entityid=entityid)
