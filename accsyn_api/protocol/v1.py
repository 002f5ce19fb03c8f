"""The v1.0 generation of the accsyn API (``/api/v1.0``), as ``jobs.rst`` documents it.

Host look-up through the registry (``PUT registry/organization/domain``),
login with ``ASCredentials`` for a session key sent as ``ASSession`` on
every call (logged in again when it expires), the ``domain`` envelope, jobs
and queues both under ``job/*`` (told apart by ``data.type``), tasks under
``job/task/*``, naive local dates. See ``spec/wire-protocol.md``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .. import codec
from ..errors import AuthenticationError, InvalidData, NotFound, ServerError
from ..query import Query
from ..settings import Secret, Settings
from ..transport import HttpRequest
from . import names
from .base import FindOptions, Generation, LoginState, Operation, attributes_data, b64_json

__all__ = ["V1Generation"]

_FIND_TYPE = {"job": 1, "queue": 2}
_URI_PREFIX = {"job": "job", "queue": "job", "task": "job/task", "site": "organization/site"}
_ALIASES = {"transfer": "job"}
_JSON = {"Content-Type": "application/json"}


def _needs_v3(what: str) -> InvalidData:
    return InvalidData(f"{what} needs the v3 API (api_version='3'); this session speaks v1.0.")


class V1Generation(Generation):
    """How a client speaks the v1.0 API."""

    name = names.V1
    api_path = names.V1_API_PATH
    workspace_key = names.V1_WORKSPACE_KEY
    utc_dates = False
    operators = names.V1_OPERATORS
    login_uri = names.V1_LOGIN_URI
    renews_sessions = True

    # -- look-up and login -----------------------------------------------------------

    def lookup_request(self, settings: Settings) -> HttpRequest:
        body = json.dumps({"organization": settings.workspace}).encode("utf-8")
        return HttpRequest(
            "PUT",
            f"{settings.registry_url}/{names.V1_REGISTRY_URI}",
            names.V1_REGISTRY_URI,
            body=body,
            headers=_JSON,
            only_reads=True,
        )

    def origin_from_lookup(self, reply: Mapping[str, Any], settings: Settings) -> str:
        name = reply.get("domain")
        if not name:
            raise NotFound(
                f"The accsyn registry does not know the domain {settings.workspace!r}.",
                message_hr=f"The accsyn registry does not know the workspace "
                f"{settings.workspace!r}: check its name (ACCSYN_WORKSPACE).",
                uri=names.V1_REGISTRY_URI,
            )
        name = str(name)
        if not all(ch.isalnum() or ch in "-." for ch in name):
            raise ServerError(
                f"The accsyn registry answered an invalid host name {name[:100]!r} for "
                f"{settings.workspace!r}.",
                uri=names.V1_REGISTRY_URI,
            )
        return f"https://{name}.accsyn.com:{settings.port or 443}"

    def login_request(self, settings: Settings, origin: str, session_uuid: str) -> HttpRequest:
        credentials = {
            "domain": settings.workspace,
            "username": settings.username,
            "api_key": settings.api_key.reveal(),
        }
        return HttpRequest(
            "PUT",
            f"{origin}{self.api_path}/{self.login_uri}",
            self.login_uri,
            body=json.dumps({"session": session_uuid}).encode("utf-8"),
            headers={**_JSON, names.V1_DEVICE_HEADER: self.device},
            authorization=f"{names.V1_CREDENTIALS_SCHEME} {b64_json(credentials)}",
            only_reads=True,
            login=True,
        )

    def read_login(self, reply: Mapping[str, Any], uri: str) -> LoginState:
        session_key = reply.get("session_key")
        if not isinstance(session_key, str) or not session_key:
            raise AuthenticationError("The login reply holds no session key.", uri=uri)
        role, user_id = reply.get("clearance"), reply.get("id")
        return LoginState(
            role=str(role) if role is not None else None,
            user_id=str(user_id) if user_id is not None else None,
            session=Secret(session_key),
            event_dedup=reply.get("event_dedup") is True,
        )

    def call_headers(self, settings: Settings, login: LoginState) -> Tuple[str, Dict[str, str]]:
        header = {
            "domain": settings.workspace,
            "username": settings.username,
            "session_key": login.session.reveal() if login.session else "",
        }
        authorization = f"{names.V1_SESSION_SCHEME} {b64_json(header)}"
        return authorization, {names.V1_DEVICE_HEADER: self.device}

    # -- the envelope ------------------------------------------------------------------

    def envelope(
        self, settings: Settings, login: LoginState, session_uuid: str, uri: str, eid: str
    ) -> Dict[str, Any]:
        return {
            "audience": "api",
            self.workspace_key: settings.workspace,
            "eid": eid,
            "session": session_uuid,
            "uri": uri,
            "ident": settings.username,
            "created": codec.local_now_text(),
            "hostname": self.hostname,
        }

    def _data_text(self, data: Any, uri: str) -> Optional[str]:
        if data is None or (isinstance(data, (dict, list, tuple)) and not data):
            return None  # v1.0 leaves an empty payload out
        return self.encode(data, uri)

    # -- the verbs ---------------------------------------------------------------------

    def entity(self, entitytype: str) -> str:
        entity = entitytype.strip().lower()
        return _ALIASES.get(entity, entity)

    def _prefix(self, entitytype: str) -> str:
        entity = self.entity(entitytype)
        return _URI_PREFIX.get(entity, entity)

    def find(self, parsed: Query, options: FindOptions) -> Operation:
        entity = self.entity(parsed.entity)
        if entity == "entitytypes":
            return Operation("GET", "entitytypes")
        if entity == "attributes":
            return Operation("GET", "attributes", data=attributes_data(parsed))
        if options.inactive is not None:
            raise _needs_v3("find(inactive=...)")
        data: Dict[str, Any] = {}
        if entity in _FIND_TYPE:
            data["type"] = _FIND_TYPE[entity]
        if options.attributes is not None:
            data["attributes"] = options.attributes
        for name in ("finished", "archived", "offline", "limit", "skip"):
            value = getattr(options, name)
            if value is not None:
                data[name] = value
        if options.single:
            data["limit"] = 1
        return Operation(
            "GET",
            f"{self._prefix(entity)}/find",
            data=data,
            query=parsed.expression_text or None,
        )

    def get_entity(self, entitytype: str, entityid: str) -> Operation:
        query = Query(self.entity(entitytype)).where(id=entityid)
        return self.find(query, FindOptions(archived=True, single=True))

    def create(self, entitytype: str, payload: Any) -> Operation:
        if _has_key(payload, "replace_duplicates"):
            raise _needs_v3("create(replace_duplicates=...)")
        items = payload if isinstance(payload, list) else [payload]
        for item in items:  # v1.0 always says whether duplicates are allowed
            item.setdefault("allow_duplicates", True)
        return Operation("POST", f"{self._prefix(entitytype)}/create", data=payload)

    def create_tasks(self, job_id: str, payload: Dict[str, Any]) -> Operation:
        if "replace_duplicates" in payload:
            raise _needs_v3("create('task', ..., replace_duplicates=...)")
        payload.setdefault("allow_duplicates", True)
        # The original client sends the job id as "query"; "id" says the same for newer servers.
        return Operation("POST", "job/task/create", data=payload, query=job_id, entityid=job_id)

    def update(self, entitytype: str, entityid: str, data: Dict[str, Any]) -> Operation:
        return Operation("PUT", f"{self._prefix(entitytype)}/edit", data=data, entityid=entityid)

    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> Operation:
        return Operation("PUT", "job/task/edit", data=changes, entityid=job_id)

    def delete(self, entitytype: str, entityid: str) -> Operation:
        return Operation("DELETE", f"{self._prefix(entitytype)}/delete", entityid=entityid)


def _has_key(payload: Any, key: str) -> bool:
    items = payload if isinstance(payload, list) else [payload]
    return any(isinstance(item, dict) and key in item for item in items)
