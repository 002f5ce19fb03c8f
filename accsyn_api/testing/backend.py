"""The reference server's state and rules, with no HTTP: users, queues, jobs, tasks.

:class:`Backend` answers decoded events the way the accsyn backend documented in
``jobs.rst`` does; :mod:`accsyn_api.testing.server` puts it behind HTTP. Every
reply is a plain dict: ``{"result": ...}`` on success, a refusal
``{"message", "message_hr", "error_code"}`` (plus ``"session_expired": True``
for an expired session key) or ``{"exception": ...}`` for an internal fault.

Choices made where the documentation is silent:

* **Lifecycle.** A job is *finished* when its status becomes ``done`` or
  ``aborted``; ``finished`` then holds the time of that change, otherwise the
  marker ``datetime(1970, 1, 1, 0, 0)``. It stays *active* until one hour after
  finishing, is *inactive* from then on and *archived* 14 days after finishing.
  A read without flags returns active jobs only; ``finished=True`` returns
  active and inactive jobs; ``archived=True`` returns all jobs. A task read
  follows its job: tasks of a job outside the requested view are not returned
  (an empty result, not an error). Operations naming a job by id (edit,
  delete, task create/edit) reach it whatever its lifecycle state.
* **Roles.** ``admin`` and ``employee`` see and change everything. A
  restricted ``user`` sees only jobs it created, sends or receives; any other
  job is reported as not found, for every operation. It may create jobs only
  with itself as source or destination, may edit (pause, resume...) the jobs it
  sees, but deletes only the jobs it created. Among users it sees only itself,
  and it sees no shares.
* **Queries.** Text values match case-insensitively (the reference client of
  that generation lower-cased whole queries). References match by id, by
  ``<scope>:<id>``, by their ``*_hr`` form or by the name of what they point
  at (``source=hq``, ``destination="stockholm"``, ``user=user@mail.com``,
  ``parent=medium``). A task query must name its job (``job.id=<job id>``).
* **Demo data.** ``jobs.rst`` shows job ``614d660de50d45bb027c9bdd`` with
  ``user`` ``5d91b33ac71c12871d1fc3c2`` (the id of lars@edit.com, its
  destination) but ``user_hr`` ``employee@acmevfx.com``. The two cannot both
  hold; here the job's creator is employee@acmevfx.com, who has an id of its
  own, and ``5d91b33ac71c12871d1fc3c2`` stays lars@edit.com.
* ``Backend(demo=False)`` keeps the organization, sites, share, queues and users
  (so one can log in) but starts without jobs.
"""

from __future__ import annotations

import copy
import functools
import logging
import posixpath
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from accsyn_api.errors import (
    AccsynError,
    AuthenticationError,
    InvalidData,
    InvalidQuery,
    NotFound,
    PermissionDenied,
    SessionExpired,
)
from accsyn_api.query import BooleanExpression, Comparison, Expression, parse_expression

__all__ = ["NEVER", "Backend", "Clock"]

logger = logging.getLogger("accsyn_api.testing.backend")


def _words(text: str) -> Tuple[str, ...]:
    return tuple(text.split())


NEVER = datetime(1970, 1, 1, 0, 0)
"""The ``finished`` value of a job or task that has not finished."""

JOB_STATUSES = ("init", "pending", "waiting", "running", "paused", "failed", "aborted", "done")
JOB_WRITEABLE_STATUSES = ("pending", "waiting", "paused", "aborted", "done")
FINISHED_JOB_STATUSES = ("done", "aborted")
TASK_STATUSES = _words("pending queued booting executing failed done onhold excluded")
TASK_WRITEABLE_STATUSES = ("queued", "failed", "onhold", "excluded", "done")
ACTIVE_AFTER_FINISH = timedelta(hours=1)
ARCHIVED_AFTER_FINISH = timedelta(days=14)
REPLY_STORE_SIZE = 10_000
DEFAULT_QUEUE = "medium"
DEFAULT_JOB_PRIORITY = 50
DEFAULT_TASK_PRIORITY = 1

JOB_KEYS = _words(
    "id code uri status created source source_hr destination destination_hr etr metadata "
    "parent parent_hr priority progress size speed user user_hr finished modified modifier"
)
TASK_KEYS = _words(
    "id uri status created source destination priority size finished time metadata job"
)
QUEUE_KEYS = ("id", "code", "uri", "status", "created", "parent", "parent_hr", "priority")
USER_KEYS = ("id", "code", "clearance", "created")
SITE_KEYS = ("id", "code", "main", "created")
SHARE_KEYS = ("id", "code", "site", "site_hr", "created")
ORGANIZATION_KEYS = ("id", "code", "created")

JOB_CREATE_KEYS = ("code", "destination", "metadata", "parent", "priority", "source", "status")
JOB_SPEC_KEYS = (*JOB_CREATE_KEYS, "tasks", "queue", "allow_duplicates")
JOB_EDITABLE_KEYS = ("code", "metadata", "parent", "priority", "status")
TASK_EDITABLE_KEYS = ("metadata", "priority", "status")

ENTITY_KEYS: Dict[str, Tuple[str, ...]] = {
    "job": JOB_KEYS,
    "task": TASK_KEYS,
    "queue": QUEUE_KEYS,
    "user": USER_KEYS,
    "site": SITE_KEYS,
    "share": SHARE_KEYS,
    "organization": ORGANIZATION_KEYS,
}
# Attributes that may be dotted in a query, and the entity type they lead to
# (None: a plain dict, any key).
DOTTED_ATTRIBUTES: Dict[str, Dict[str, Optional[str]]] = {
    "job": {"parent": "queue", "queue": "queue", "user": "user", "metadata": None},
    "task": {"job": "job", "source": None, "destination": None, "metadata": None},
}
QUERY_ALIASES: Dict[str, Tuple[str, ...]] = {"job": ("queue",)}
_SCOPED_TEXT = re.compile(
    r"^(organization|site|user|share)\s*[=:]\s*(.*)$", re.IGNORECASE | re.DOTALL
)
_JOB_ID_IN_QUERY = re.compile(r'^\s*(?:(?:job\.)?id\s*=\s*)?"?([0-9A-Za-z]+)"?\s*$')


class Clock:
    """The backend's notion of now: real UTC time plus an offset that tests move.

    ``Clock()`` follows real time; ``Clock(start)`` starts at ``start`` (naive
    UTC) and runs on from there. :meth:`advance` jumps ahead.
    """

    def __init__(self, start: Optional[datetime] = None) -> None:
        self._offset = timedelta(0)
        if start is not None:
            self._offset = start.replace(tzinfo=None) - self._real_now()

    @staticmethod
    def _real_now() -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)

    def now(self) -> datetime:
        """Now, as a naive UTC datetime with whole seconds."""
        return (self._real_now() + self._offset).replace(microsecond=0)

    def advance(self, **timedelta_kwargs: float) -> None:
        """Move time forward, e.g. ``advance(hours=2)`` or ``advance(days=15)``."""
        self._offset += timedelta(**timedelta_kwargs)


# --------------------------------------------------------------------- model


@dataclass
class User:
    id: str
    email: str
    clearance: str  # "admin" | "employee" | "user"
    api_key: str
    created: datetime


@dataclass
class Site:
    id: str
    code: str
    main: bool
    created: datetime


@dataclass
class Share:
    id: str
    code: str
    site_id: str
    created: datetime


@dataclass
class Queue:
    id: str
    code: str
    priority: int
    created: datetime


@dataclass(frozen=True)
class Endpoint:
    """One end of a transfer: ``scope`` is organization, site, user or share."""

    scope: str
    id: str

    def __str__(self) -> str:
        return f"{self.scope}:{self.id}"


@dataclass
class Task:
    id: str
    uri: str
    status: str
    created: datetime
    source: Dict[str, Any]
    destination: Dict[str, Any]
    priority: int = DEFAULT_TASK_PRIORITY
    size: int = -1
    finished: datetime = NEVER
    time: int = 0
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    id: str
    code: str
    status: str
    created: datetime
    source: Endpoint
    destination: Endpoint
    queue_id: str
    user_id: str
    modified: datetime
    modifier: str
    priority: int = DEFAULT_JOB_PRIORITY
    metadata: Dict[str, Any] = field(default_factory=dict)
    finished: datetime = NEVER
    tasks: List[Task] = field(default_factory=list)


@dataclass
class Workspace:
    """Everything the backend holds; dicts keep creation order."""

    organization_id: str
    domain: str
    created: datetime
    users: Dict[str, User] = field(default_factory=dict)
    sites: Dict[str, Site] = field(default_factory=dict)
    shares: Dict[str, Share] = field(default_factory=dict)
    queues: Dict[str, Queue] = field(default_factory=dict)
    jobs: Dict[str, Job] = field(default_factory=dict)


@dataclass
class _SessionRecord:
    user_id: str
    expired: bool = False


@dataclass
class _StoredReply:
    reply: Dict[str, Any]
    user_id: str
    uri: str
    executions: int = 1


@dataclass
class _FindOptions:
    type: int = 1
    finished: bool = False
    archived: bool = False
    limit: Optional[int] = None
    skip: int = 0
    attributes: Optional[List[str]] = None


def new_id() -> str:
    """A fresh entity id: 24 lower-case hex digits."""
    return secrets.token_hex(12)


_ERROR_CODES: Tuple[Tuple[type, str], ...] = (
    (SessionExpired, "session_expired"),
    (AuthenticationError, "authentication_failed"),
    (PermissionDenied, "permission_denied"),
    (NotFound, "not_found"),
    (InvalidQuery, "invalid_query"),
    (InvalidData, "invalid_data"),
)


def _refusal(error: AccsynError) -> Dict[str, Any]:
    code = next((code for kind, code in _ERROR_CODES if isinstance(error, kind)), "invalid_data")
    reply: Dict[str, Any] = {
        "message": error.message,
        "message_hr": error.message_hr or error.message,
        "error_code": code,
    }
    if code == "session_expired":
        reply["session_expired"] = True
    return reply


def _invalid(message: str, message_hr: str) -> InvalidData:
    return InvalidData(message, message_hr=message_hr)


def _listing(values: Any) -> str:
    return ", ".join(str(value) for value in values)


# -------------------------------------------------------------------- backend


class Backend:
    """The reference server's workspace and rules; thread-safe, no HTTP.

    ``Backend()`` holds the demo workspace ``acmevfx`` on a real-time
    :class:`Clock`; pass ``clock=Clock(...)`` to move time in tests.
    """

    def __init__(self, *, clock: Optional[Clock] = None, demo: bool = True) -> None:
        from accsyn_api.testing import demo as demo_data  # the demo imports this module

        self.clock = clock if clock is not None else Clock()
        self._workspace = demo_data.build_workspace(self.clock.now(), with_jobs=demo)
        self.domain = self._workspace.domain
        self._lock = threading.Lock()
        self._sessions: Dict[str, _SessionRecord] = {}
        self._replies: OrderedDict[str, _StoredReply] = OrderedDict()

    # ------------------------------------------------------------ public API

    def credentials(self, role: str = "employee") -> Dict[str, str]:
        """``{"domain", "username", "api_key"}`` of the demo user with that role.

        ``role`` is ``"admin"``, ``"employee"`` or ``"user"`` (the restricted
        user user@mail.com).
        """
        from accsyn_api.testing import demo as demo_data

        email = demo_data.USER_BY_ROLE.get(role)
        if email is None:
            raise ValueError(
                f"unknown role {role!r}; use one of: {_listing(demo_data.USER_BY_ROLE)}"
            )
        user = self._user_by_email(email)
        assert user is not None  # the demo workspace always holds its users
        return {"domain": self.domain, "username": user.email, "api_key": user.api_key}

    def expire_sessions(self) -> None:
        """Make every session key expired: the next event gets a session_expired refusal."""
        with self._lock:
            for record in self._sessions.values():
                record.expired = True

    def executions(self, eid: str) -> int:
        """How many times the event with this ``eid`` was executed (0 or 1)."""
        with self._lock:
            stored = self._replies.get(eid)
            return stored.executions if stored is not None else 0

    def login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        """Check decoded ASCredentials; reply with a new session key or a refusal."""
        with self._lock:
            try:
                return self._login(credentials, body)
            except AccsynError as error:
                return _refusal(error)
            except Exception as error:
                logger.exception("login failed unexpectedly")
                return {"exception": f"{type(error).__name__}: {error}"}

    def handle(
        self, method: str, event: Mapping[str, Any], session: Optional[Mapping[str, Any]]
    ) -> Dict[str, Any]:
        """Answer one decoded event; never raises for bad client input."""
        with self._lock:
            try:
                return self._handle(method, event, session)
            except Exception as error:
                logger.exception("event failed unexpectedly")
                return {"exception": f"{type(error).__name__}: {error}"}

    # ------------------------------------------------------- authentication

    def _login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        refused = AuthenticationError(
            "authentication failed",
            message_hr=(
                "Login refused: the domain, user name or API key is wrong. Check the three "
                "values (ACCSYN_DOMAIN, ACCSYN_API_USER, ACCSYN_API_KEY) and try again."
            ),
        )
        if not isinstance(credentials, Mapping):
            raise refused
        domain, username, api_key = (
            credentials.get("domain"),
            credentials.get("username"),
            credentials.get("api_key"),
        )
        if not all(isinstance(value, str) for value in (domain, username, api_key)):
            raise refused
        assert isinstance(username, str) and isinstance(api_key, str) and isinstance(domain, str)
        user = self._user_by_email(username)
        key_ok = user is not None and secrets.compare_digest(
            user.api_key.encode("utf-8"), api_key.encode("utf-8")
        )
        if domain.lower() != self.domain or user is None or not key_ok:
            raise refused
        if isinstance(body, Mapping) and not isinstance(body.get("session", ""), str):
            raise _invalid(
                "login body: 'session' must be a string",
                "The login body's 'session' must be the uuid string the client chose.",
            )
        session_key = secrets.token_hex(16)
        self._sessions[session_key] = _SessionRecord(user.id)
        # event_dedup: a repeated eid gets the stored reply, so clients may retry creates.
        return {
            "session_key": session_key,
            "clearance": user.clearance,
            "id": user.id,
            "event_dedup": True,
        }

    def _authenticate(self, session: Optional[Mapping[str, Any]]) -> User:
        unknown = AuthenticationError(
            "no valid session key",
            message_hr=(
                "This call needs a session: log in first (PUT /api/v1.0/user/login/auth) and "
                "send the session key in an 'Authorization: ASSession ...' header."
            ),
        )
        if not isinstance(session, Mapping):
            raise unknown
        key = session.get("session_key")
        record = self._sessions.get(key) if isinstance(key, str) else None
        if record is None:
            raise unknown
        user = self._workspace.users[record.user_id]
        username, domain = session.get("username"), session.get("domain")
        if isinstance(username, str) and username.lower() != user.email:
            raise unknown
        if isinstance(domain, str) and domain.lower() != self.domain:
            raise unknown
        if record.expired:
            raise SessionExpired(
                "session expired",
                message_hr=(
                    "The session has expired; log in again with your API key and repeat the call."
                ),
            )
        return user

    # ------------------------------------------------------------- dispatch

    def _handle(
        self, method: str, event: Mapping[str, Any], session: Optional[Mapping[str, Any]]
    ) -> Dict[str, Any]:
        try:
            user = self._authenticate(session)
            self._check_envelope(event)
        except AccsynError as error:
            return _refusal(error)
        uri = event["uri"].strip("/").lower()
        eid = event.get("eid")
        if isinstance(eid, str) and eid:
            stored = self._replies.get(eid)
            if stored is not None:
                if stored.user_id != user.id or stored.uri != uri:
                    return _refusal(
                        _invalid(
                            f"event id {eid} was already used for another event",
                            "This event id (eid) was already used for a different call; "
                            "give every new event a fresh uuid4 and reuse it only to retry "
                            "the very same call.",
                        )
                    )
                return copy.deepcopy(stored.reply)
        try:
            reply = self._dispatch(method.upper(), uri, user, event)
        except AccsynError as error:
            reply = _refusal(error)
        if isinstance(eid, str) and eid:
            self._replies[eid] = _StoredReply(copy.deepcopy(reply), user.id, uri)
            while len(self._replies) > REPLY_STORE_SIZE:
                self._replies.popitem(last=False)
        return reply

    def _check_envelope(self, event: Mapping[str, Any]) -> None:
        if not isinstance(event, Mapping):
            raise _invalid("event must be a JSON object", "The event must be a JSON object.")
        uri = event.get("uri")
        if not isinstance(uri, str) or not uri.strip("/"):
            raise _invalid(
                "event field 'uri' is missing or not a string",
                "The event has no 'uri'; give the operation, e.g. \"job/find\".",
            )
        domain = event.get("domain")
        if domain is not None and (not isinstance(domain, str) or domain.lower() != self.domain):
            raise _invalid(
                f"event field 'domain' does not match this workspace ({self.domain})",
                f"The event's 'domain' must be the workspace domain, {self.domain!r}.",
            )
        data = event.get("data")
        if data is not None and not isinstance(data, (dict, list)):
            raise _invalid(
                "event field 'data' must be an object or a list",
                "The event's 'data' must be a JSON object or a list.",
            )
        for name in ("query", "id", "eid"):
            value = event.get(name)
            if value is not None and not isinstance(value, str):
                raise _invalid(
                    f"event field '{name}' must be a string",
                    f"The event's '{name}' must be a string.",
                )

    def _dispatch(
        self, method: str, uri: str, user: User, event: Mapping[str, Any]
    ) -> Dict[str, Any]:
        routes: Dict[str, Tuple[str, Callable[[User, Mapping[str, Any]], Dict[str, Any]]]] = {
            "job/find": ("GET", self._op_job_find),
            "queue/find": ("GET", self._op_queue_find),
            "job/task/find": ("GET", self._op_task_find),
            "task/find": ("GET", self._op_task_find),
            "organization/site/find": ("GET", functools.partial(self._op_find_other, "site")),
            "site/find": ("GET", functools.partial(self._op_find_other, "site")),
            "user/find": ("GET", functools.partial(self._op_find_other, "user")),
            "share/find": ("GET", functools.partial(self._op_find_other, "share")),
            "organization/find": (
                "GET",
                functools.partial(self._op_find_other, "organization"),
            ),
            "entitytypes": ("GET", self._op_entitytypes),
            "attributes": ("GET", self._op_attributes),
            "job/create": ("POST", self._op_job_create),
            "job/edit": ("PUT", self._op_job_edit),
            "job/delete": ("DELETE", self._op_job_delete),
            "job/task/create": ("POST", self._op_task_create),
            "task/create": ("POST", self._op_task_create),
            "job/task/edit": ("PUT", self._op_task_edit),
            "task/edit": ("PUT", self._op_task_edit),
            "job/task/delete": ("DELETE", self._op_task_delete),
            "task/delete": ("DELETE", self._op_task_delete),
        }
        route = routes.get(uri)
        if route is None:
            head = uri.split("/")[0]
            if uri.endswith("/find") or head not in ENTITY_KEYS:
                raise NotFound(
                    f"unknown entity type or operation: {uri}",
                    message_hr=(
                        f"There is no entity type or operation '{uri}'. Known entity types are: "
                        f"{_listing(ENTITY_KEYS)}."
                    ),
                )
            raise NotFound(
                f"unknown operation: {uri}",
                message_hr=f"Operation '{uri}' does not exist; known operations are: "
                f"{_listing(sorted(routes))}.",
            )
        expected, operation = route
        if method != expected:
            raise _invalid(
                f"{uri} needs HTTP method {expected}, not {method}",
                f"Operation '{uri}' must be sent with HTTP {expected}, not {method}.",
            )
        return operation(user, event)

    # --------------------------------------------------------- look-ups

    def _user_by_email(self, email: str) -> Optional[User]:
        wanted = email.strip().lower()
        return next((u for u in self._workspace.users.values() if u.email == wanted), None)

    def _is_staff(self, user: User) -> bool:
        return user.clearance in ("admin", "employee")

    def _can_see(self, user: User, job: Job) -> bool:
        mine = Endpoint("user", user.id)
        return (
            self._is_staff(user)
            or user.id in (job.user_id,)
            or mine
            in (
                job.source,
                job.destination,
            )
        )

    def _lifecycle(self, job: Job) -> str:
        """``"active"``, ``"inactive"`` or ``"archived"``."""
        if job.status not in FINISHED_JOB_STATUSES or job.finished == NEVER:
            return "active"
        age = self.clock.now() - job.finished
        if age < ACTIVE_AFTER_FINISH:
            return "active"
        return "inactive" if age < ARCHIVED_AFTER_FINISH else "archived"

    def _in_view(self, job: Job, options: _FindOptions) -> bool:
        state = self._lifecycle(job)
        if options.archived:
            return True
        return state == "active" or (options.finished and state == "inactive")

    def _job_by_id(self, user: User, job_id: Any) -> Job:
        job = self._workspace.jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None or not self._can_see(user, job):
            raise NotFound(
                f"job {job_id} not found",
                message_hr=(
                    f"No job with id {job_id!r} exists in workspace {self.domain} (or you may "
                    "not see it). Check the id; find('Job') lists the jobs you can see."
                ),
            )
        return job

    def _queue(self, reference: Any) -> Queue:
        if isinstance(reference, str):
            wanted = reference.strip().lower()
            for queue in self._workspace.queues.values():
                if wanted in (queue.id, queue.code, f"{self.domain}/{queue.code}"):
                    return queue
        raise NotFound(
            f"queue {reference!r} not found",
            message_hr=(
                f"There is no queue {reference!r}; give a queue name or id, one of: "
                f"{_listing(q.code for q in self._workspace.queues.values())}."
            ),
        )

    # ------------------------------------------------------ endpoints

    def _resolve_endpoint(self, text: str) -> Tuple[Endpoint, Optional[str]]:
        """``"share=projects/a.mov"`` -> (share endpoint, "a.mov"); names, e-mails, ids."""
        ws = self._workspace
        scoped = _SCOPED_TEXT.match(text.strip())
        scope = scoped.group(1).lower() if scoped else None
        rest = scoped.group(2) if scoped else text.strip()
        name, _, path = rest.partition("/")
        wanted = name.strip().lower()
        found: Optional[Endpoint] = None
        if scope in (None, "user"):
            user = next(
                (u for u in ws.users.values() if wanted in (u.id, u.email)),
                None,
            )
            if user is not None:
                found = Endpoint("user", user.id)
        if found is None and scope in (None, "site", "organization"):
            site = next((s for s in ws.sites.values() if wanted in (s.id, s.code)), None)
            if site is not None:
                found = Endpoint("organization", ws.organization_id) if site.main else None
                found = found or Endpoint("site", site.id)
            elif wanted in (ws.organization_id, ws.domain):
                found = Endpoint("organization", ws.organization_id)
        if found is None and scope in (None, "share"):
            share = next((s for s in ws.shares.values() if wanted in (s.id, s.code)), None)
            if share is not None:
                found = Endpoint("share", share.id)
        if found is None:
            kind = scope or "user, site or share"
            raise NotFound(
                f"{kind} {name!r} not found",
                message_hr=(
                    f"There is no {kind} {name!r} in workspace {self.domain}. Give a user "
                    f"e-mail ({_listing(u.email for u in ws.users.values())}), a site "
                    f"({_listing(s.code for s in ws.sites.values())}) or a share as "
                    f"'share=<share>/<path>' ({_listing(s.code for s in ws.shares.values())})."
                ),
            )
        return found, (path or None)

    def _endpoint_hr(self, endpoint: Endpoint) -> str:
        ws = self._workspace
        if endpoint.scope == "organization":
            return f"organization:{ws.domain}"
        if endpoint.scope == "user":
            user = ws.users[endpoint.id]
            return f"user:{user.email}({user.clearance})"
        if endpoint.scope == "site":
            return f"site:{ws.sites[endpoint.id].code}"
        return f"share:{ws.shares[endpoint.id].code}"

    def _endpoint_values(self, endpoint: Endpoint) -> Set[str]:
        ws = self._workspace
        values = {str(endpoint), endpoint.id, self._endpoint_hr(endpoint)}
        if endpoint.scope == "organization":
            values |= {ws.domain, *(f"{s.code}" for s in ws.sites.values() if s.main)}
            values |= {s.id for s in ws.sites.values() if s.main}
        elif endpoint.scope == "user":
            values.add(ws.users[endpoint.id].email)
        elif endpoint.scope == "site":
            values.add(ws.sites[endpoint.id].code)
        else:
            share = ws.shares[endpoint.id]
            values |= {share.code, ws.sites[share.site_id].code}
        return values

    def _location(self, text: str) -> Dict[str, Any]:
        """A task source or destination dict from a path, maybe ``share=<share>/<path>``."""
        if _SCOPED_TEXT.match(text.strip()):
            endpoint, path = self._resolve_endpoint(text)
            location: Dict[str, Any] = {"path": path or ""}
            location[endpoint.scope] = endpoint.id
            return location
        return {"path": text}

    # --------------------------------------------------------- serialising

    def _job_dict(self, job: Job) -> Dict[str, Any]:
        ws = self._workspace
        queue = ws.queues[job.queue_id]
        creator = ws.users[job.user_id]
        counted = [t for t in job.tasks if t.status != "excluded"]
        done = sum(1 for t in counted if t.status == "done")
        sizes = [t.size for t in job.tasks]
        return {
            "id": job.id,
            "code": job.code,
            "uri": f"{ws.domain}/{queue.code}",
            "status": job.status,
            "created": job.created,
            "source": str(job.source),
            "source_hr": self._endpoint_hr(job.source),
            "destination": str(job.destination),
            "destination_hr": self._endpoint_hr(job.destination),
            "etr": "",
            "metadata": copy.deepcopy(job.metadata),
            "parent": queue.id,
            "parent_hr": f"job:{ws.domain}/{queue.code}({queue.id})",
            "priority": job.priority,
            "progress": (done * 100) // len(counted) if counted else 0,
            "size": sum(sizes) if sizes and min(sizes) >= 0 else -1,
            "speed": 0.0,
            "user": creator.id,
            "user_hr": f"user:{creator.email}({creator.clearance})",
            "finished": job.finished,
            "modified": job.modified,
            "modifier": job.modifier,
        }

    def _task_dict(self, job: Job, task: Task) -> Dict[str, Any]:
        return {
            "id": task.id,
            "uri": task.uri,
            "status": task.status,
            "created": task.created,
            "source": copy.deepcopy(task.source),
            "destination": copy.deepcopy(task.destination),
            "priority": task.priority,
            "size": task.size,
            "finished": task.finished,
            "time": task.time,
            "metadata": copy.deepcopy(task.metadata),
            "job": job.id,
        }

    def _queue_dict(self, queue: Queue) -> Dict[str, Any]:
        ws = self._workspace
        return {
            "id": queue.id,
            "code": queue.code,
            "uri": f"{ws.domain}/{queue.code}",
            "status": "enabled",
            "created": queue.created,
            "parent": ws.organization_id,
            "parent_hr": f"organization:{ws.domain}",
            "priority": queue.priority,
        }

    def _other_rows(self, user: User, entitytype: str) -> List[Dict[str, Any]]:
        ws = self._workspace
        if entitytype == "user":
            users = ws.users.values() if self._is_staff(user) else [user]
            return [
                {"id": u.id, "code": u.email, "clearance": u.clearance, "created": u.created}
                for u in users
            ]
        if entitytype == "site":
            return [
                {"id": s.id, "code": s.code, "main": s.main, "created": s.created}
                for s in ws.sites.values()
            ]
        if entitytype == "share":
            shares = ws.shares.values() if self._is_staff(user) else []
            return [
                {
                    "id": s.id,
                    "code": s.code,
                    "site": s.site_id,
                    "site_hr": f"site:{ws.sites[s.site_id].code}",
                    "created": s.created,
                }
                for s in shares
            ]
        return [{"id": ws.organization_id, "code": ws.domain, "created": ws.created}]

    # ------------------------------------------------------------ queries

    def _parse_query(self, event: Mapping[str, Any], entitytype: str) -> Optional[Expression]:
        text = event.get("query") or ""
        try:
            expression = parse_expression(text)
        except InvalidQuery as error:
            raise InvalidQuery(
                error.message,
                message_hr=error.message_hr
                or f"The query {text!r} could not be read: {error.message}. Quote values "
                'holding spaces or keywords, e.g. code="x and y.png".',
                query=text,
                position=error.position,
            ) from None
        if expression is not None:
            _check_attributes(expression, entitytype)
        return expression

    def _job_values(self, job: Job, row: Mapping[str, Any], attribute: str) -> Set[str]:
        ws = self._workspace
        head, _, tail = attribute.partition(".")
        if head in ("parent", "queue"):
            queue = ws.queues[job.queue_id]
            if tail:
                return _text_forms(self._queue_dict(queue).get(tail))
            return {queue.id, queue.code, str(row["parent_hr"]), str(row["uri"])}
        if head == "user":
            creator = ws.users[job.user_id]
            if tail:
                return _text_forms(self._other_user_row(creator).get(tail))
            return {creator.id, f"user:{creator.id}", creator.email, str(row["user_hr"])}
        if head in ("source", "destination"):
            return self._endpoint_values(job.source if head == "source" else job.destination)
        if head == "metadata" and tail:
            return _text_forms(job.metadata.get(tail))
        return _text_forms(row.get(head))

    @staticmethod
    def _other_user_row(user: User) -> Dict[str, Any]:
        return {
            "id": user.id,
            "code": user.email,
            "clearance": user.clearance,
            "created": user.created,
        }

    def _task_values(
        self, job: Job, job_row: Mapping[str, Any], row: Mapping[str, Any], attribute: str
    ) -> Set[str]:
        head, _, tail = attribute.partition(".")
        if head == "job":
            return self._job_values(job, job_row, tail) if tail else {job.id, job.code}
        if head in ("source", "destination", "metadata"):
            mapping = row.get(head) or {}
            return _text_forms(mapping.get(tail or "path"))
        return _text_forms(row.get(head))

    # ------------------------------------------------------------ reads

    def _find_options(self, event: Mapping[str, Any]) -> _FindOptions:
        data = event.get("data") or {}
        if not isinstance(data, dict):
            raise _invalid(
                "find data must be an object",
                "The 'data' of a find must be an object such as {\"finished\": true}.",
            )
        options = _FindOptions()
        kind = data.get("type", 1)
        if kind not in (1, 2) or isinstance(kind, bool):
            raise _invalid(
                f"find data 'type' must be 1 or 2, not {kind!r}",
                "The find 'type' must be 1 (jobs) or 2 (queues).",
            )
        options.type = int(kind)
        for flag in ("finished", "archived", "offline"):
            value = data.get(flag)
            if value is not None and not isinstance(value, bool):
                raise _invalid(
                    f"find data '{flag}' must be true or false",
                    f"'{flag}' must be true or false, not {value!r}.",
                )
        options.finished = bool(data.get("finished"))
        options.archived = bool(data.get("archived"))
        for name in ("limit", "skip"):
            value = data.get(name)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 0
            ):
                raise _invalid(
                    f"find data '{name}' must be a non-negative integer",
                    f"'{name}' must be a whole number of zero or more, not {value!r}.",
                )
        options.limit = data.get("limit")
        options.skip = data.get("skip") or 0
        attributes = data.get("attributes")
        if attributes is not None and (
            not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes)
        ):
            raise _invalid(
                "find data 'attributes' must be a list of attribute names",
                '\'attributes\' must be a list of attribute names, e.g. ["code", "status"].',
            )
        options.attributes = attributes
        return options

    @staticmethod
    def _page(rows: List[Dict[str, Any]], options: _FindOptions, entitytype: str) -> Dict[str, Any]:
        rows = rows[options.skip :]
        if options.limit is not None:
            rows = rows[: options.limit]
        if options.attributes is not None:
            known = ENTITY_KEYS[entitytype]
            unknown = [a for a in options.attributes if a not in known]
            if unknown:
                raise _invalid(
                    f"unknown {entitytype} attributes: {_listing(unknown)}",
                    f"{_listing(unknown)} is not a {entitytype} attribute; known attributes "
                    f"are: {_listing(known)}.",
                )
            wanted = {"id", *options.attributes}
            rows = [{k: v for k, v in row.items() if k in wanted} for row in rows]
        return {"result": rows}

    def _op_job_find(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        options = self._find_options(event)
        if options.type == 2:
            return self._op_queue_find(user, event)
        expression = self._parse_query(event, "job")
        rows = []
        for job in self._workspace.jobs.values():
            if not self._can_see(user, job) or not self._in_view(job, options):
                continue
            row = self._job_dict(job)
            values = functools.partial(self._job_values, job, row)
            if expression is None or _matches(expression, values):
                rows.append(row)
        return self._page(rows, options, "job")

    def _op_queue_find(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        options = self._find_options(event)
        expression = self._parse_query(event, "queue")
        rows = [self._queue_dict(q) for q in self._workspace.queues.values()]
        rows = [r for r in rows if expression is None or _matches(expression, _row_values(r))]
        return self._page(rows, options, "queue")

    def _op_find_other(
        self, entitytype: str, user: User, event: Mapping[str, Any]
    ) -> Dict[str, Any]:
        options = self._find_options(event)
        expression = self._parse_query(event, entitytype)
        rows = self._other_rows(user, entitytype)
        rows = [r for r in rows if expression is None or _matches(expression, _row_values(r))]
        return self._page(rows, options, entitytype)

    def _op_task_find(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        options = self._find_options(event)
        expression = self._parse_query(event, "task")
        job_ids = _job_ids_in(expression) if expression is not None else None
        if job_ids is None:
            raise InvalidQuery(
                "a task query must restrict job.id",
                message_hr=(
                    "Tasks are found within a job: add job.id=<job id> to the query, e.g. "
                    "'Task where job.id=5a7325f8b7ef72f5f9d74bf4 and status=queued'."
                ),
                query=event.get("query"),
            )
        assert expression is not None
        rows = []
        for job in self._workspace.jobs.values():
            if job.id not in job_ids or not self._can_see(user, job):
                continue
            if not self._in_view(job, options):
                continue
            job_row = self._job_dict(job)
            for task in job.tasks:
                row = self._task_dict(job, task)
                values = functools.partial(self._task_values, job, job_row, row)
                if _matches(expression, values):
                    rows.append(row)
        return self._page(rows, options, "task")

    def _op_entitytypes(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        return {"result": list(ENTITY_KEYS)}

    def _op_attributes(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        data = event.get("data") or {}
        entitytype = data.get("entitytype") if isinstance(data, dict) else None
        if not isinstance(entitytype, str) or entitytype.lower() not in ENTITY_KEYS:
            raise NotFound(
                f"unknown entity type {entitytype!r}",
                message_hr=(
                    f"Give the entity type whose attributes you want, one of: "
                    f"{_listing(ENTITY_KEYS)} (e.g. 'attributes where entitytype=job')."
                ),
            )
        entitytype = entitytype.lower()
        creatable = {"job": (*JOB_CREATE_KEYS, "tasks"), "task": ("destination", "source")}
        editable = {"job": JOB_EDITABLE_KEYS, "task": TASK_EDITABLE_KEYS}
        if data.get("create") or data.get("update"):
            names: Set[str] = set()
            if data.get("create"):
                names.update(creatable.get(entitytype, ()))
            if data.get("update"):
                names.update(editable.get(entitytype, ()))
            return {"result": sorted(names)}
        return {"result": list(ENTITY_KEYS[entitytype])}

    # ------------------------------------------------------------- jobs

    def _op_job_create(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        data = event.get("data")
        specs = data if isinstance(data, list) else [data]
        if not specs or not all(isinstance(spec, dict) for spec in specs):
            raise _invalid(
                "job/create data must be a job spec object or a list of them",
                'Give the job as an object, e.g. {"source": "share=projects/a.mov", '
                '"destination": "lars@edit.com"}, or a list of such objects.',
            )
        jobs = [
            self._new_job(user, spec) for spec in specs if isinstance(spec, dict)
        ]  # validate all before adding any
        for job in jobs:
            self._workspace.jobs[job.id] = job
        return {"result": [self._job_dict(job) for job in jobs]}

    def _new_job(self, user: User, spec: Mapping[str, Any]) -> Job:
        unknown = sorted(set(spec) - set(JOB_SPEC_KEYS))
        if unknown:
            raise _invalid(
                f"unknown job attributes: {_listing(unknown)}",
                f"A job cannot be created with {_listing(unknown)}; give only: "
                f"{_listing(JOB_SPEC_KEYS)}.",
            )
        for name in ("source", "destination"):
            if not isinstance(spec.get(name), str) or not spec[name].strip():
                raise _invalid(
                    f"job '{name}' is missing or not a string",
                    f"A job needs a '{name}': a user e-mail, a site name or "
                    "'share=<share>/<path>'.",
                )
        source, source_path = self._resolve_endpoint(spec["source"])
        destination, destination_dir = self._resolve_endpoint(spec["destination"])
        mine = Endpoint("user", user.id)
        if not self._is_staff(user) and mine not in (source, destination):
            raise PermissionDenied(
                "restricted users may only create jobs they send or receive",
                message_hr=(
                    "As a restricted user you may only create jobs that send from or to "
                    f"yourself ({user.email}); ask an employee for other transfers."
                ),
            )
        status = spec.get("status", "init")
        if status != "init":
            _check_status(status, "job", JOB_STATUSES, JOB_WRITEABLE_STATUSES)
        priority = _checked_priority(spec.get("priority", DEFAULT_JOB_PRIORITY))
        metadata = _checked_metadata(spec.get("metadata", {}))
        queue_ref = spec.get("parent", spec.get("queue", DEFAULT_QUEUE))
        queue = self._queue(queue_ref)
        allow_duplicates = _checked_flag(spec.get("allow_duplicates", True), "allow_duplicates")
        now = self.clock.now()
        pairs: List[Tuple[Dict[str, Any], Dict[str, Any]]] = []
        if source_path:
            pairs.append(self._job_level_task(source, source_path, destination_dir))
        items = spec.get("tasks", [])
        if not isinstance(items, list):
            raise _invalid(
                "job 'tasks' must be a list",
                '\'tasks\' must be a list of paths or {"source", "destination"} objects.',
            )
        for item in items:
            if isinstance(item, str) and not _SCOPED_TEXT.match(item.strip()):
                pairs.append(self._job_level_task(source, item, destination_dir))
            else:
                pairs.append(self._explicit_task(item, mirrored_ok=True))
        code = spec.get("code")
        if code is None:
            code = posixpath.basename(pairs[0][0]["path"].rstrip("/")) if pairs else "transfer"
        if not isinstance(code, str) or not code.strip():
            raise _invalid("job 'code' must be a non-empty string", "The job 'code' must be text.")
        job = Job(
            id=new_id(),
            code=code,
            status=status,
            created=now,
            source=source,
            destination=destination,
            queue_id=queue.id,
            user_id=user.id,
            modified=now,
            modifier=user.id,
            priority=priority,
            metadata=copy.deepcopy(metadata),
            finished=now if status in FINISHED_JOB_STATUSES else NEVER,
        )
        for src, dst in pairs:
            job.tasks.append(self._make_task(job, src, dst, now))
        if not allow_duplicates:
            self._refuse_duplicate_job(user, job)
        return job

    def _job_level_task(
        self, source: Endpoint, path: str, destination_dir: Optional[str]
    ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        src: Dict[str, Any] = {"path": path}
        if source.scope == "share":
            src["share"] = source.id
        if destination_dir:
            name = posixpath.basename(path.replace("\\", "/").rstrip("/"))
            return src, {"path": posixpath.join(destination_dir, name)}
        return src, {"path": path}

    def _explicit_task(
        self, item: Any, *, mirrored_ok: bool
    ) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        if isinstance(item, str):
            source = self._location(item)
            if not mirrored_ok:
                raise _invalid(
                    "task has no destination and the job does not mirror paths",
                    f"Task {item!r} has no destination, which only works for jobs sending "
                    "files with mirrored paths; give it as "
                    '{"source": ..., "destination": ...}.',
                )
            return source, {"path": source["path"]}
        if not isinstance(item, dict) or not isinstance(item.get("source"), str):
            raise _invalid(
                f"bad task item {item!r}",
                "Each task must be a source path or an object "
                '{"source": <path>, "destination": <path>}.',
            )
        unknown = sorted(set(item) - {"source", "destination"})
        if unknown:
            raise _invalid(
                f"unknown task attributes: {_listing(unknown)}",
                f"A task is given by 'source' and 'destination' only, not {_listing(unknown)}.",
            )
        destination = item.get("destination")
        if destination is None:
            return self._explicit_task(item["source"], mirrored_ok=mirrored_ok)
        if not isinstance(destination, str):
            raise _invalid("task destination must be a string", "A task destination is a path.")
        return self._location(item["source"]), self._location(destination)

    def _make_task(
        self, job: Job, source: Dict[str, Any], destination: Dict[str, Any], now: datetime
    ) -> Task:
        return Task(
            id=str(uuid.uuid4()),
            uri=str(len(job.tasks)),
            status="queued",
            created=now,
            source=source,
            destination=destination,
        )

    def _refuse_duplicate_job(self, user: User, job: Job) -> None:
        paths = sorted(t.source["path"] for t in job.tasks)
        for other in self._workspace.jobs.values():
            if (
                other.status not in FINISHED_JOB_STATUSES
                and self._can_see(user, other)
                and (other.source, other.destination) == (job.source, job.destination)
                and sorted(t.source["path"] for t in other.tasks) == paths
            ):
                raise _invalid(
                    f"duplicate of job {other.id}",
                    f"Job {other.id} ({other.code!r}) already sends the same files from "
                    f"{self._endpoint_hr(job.source)} to {self._endpoint_hr(job.destination)}; "
                    "pass allow_duplicates=True to create another one anyway.",
                )

    def _op_job_edit(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        job = self._job_by_id(user, event.get("id"))
        changes = event.get("data")
        if not isinstance(changes, dict) or not changes:
            raise _invalid(
                "job/edit data must be a non-empty object",
                f'Give the changes as an object, e.g. {{"status": "paused"}}; editable job '
                f"attributes are: {_listing(JOB_EDITABLE_KEYS)}.",
            )
        changes = dict(changes)
        if "queue" in changes and "parent" not in changes:
            changes["parent"] = changes.pop("queue")
        refused = sorted(set(changes) - set(JOB_EDITABLE_KEYS))
        if refused:
            raise _invalid(
                f"job attributes not editable: {_listing(refused)}",
                f"{_listing(refused)} of a job cannot be changed; editable job attributes are: "
                f"{_listing(JOB_EDITABLE_KEYS)}.",
            )
        if "status" in changes:
            _check_status(changes["status"], "job", JOB_STATUSES, JOB_WRITEABLE_STATUSES)
        priority = _checked_priority(changes.get("priority", job.priority))
        metadata = _checked_metadata(changes.get("metadata", job.metadata))
        queue = self._queue(changes["parent"]) if "parent" in changes else None
        code = changes.get("code", job.code)
        if not isinstance(code, str) or not code.strip():
            raise _invalid("job 'code' must be a non-empty string", "The job 'code' must be text.")
        now = self.clock.now()
        if "status" in changes:
            job.status = changes["status"]
            job.finished = now if job.status in FINISHED_JOB_STATUSES else NEVER
        job.priority, job.code = priority, code
        job.metadata = copy.deepcopy(metadata)
        if queue is not None:
            job.queue_id = queue.id
        job.modified, job.modifier = now, user.id
        return {"result": [self._job_dict(job)]}

    def _op_job_delete(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        job = self._job_by_id(user, event.get("id"))
        if not self._is_staff(user) and job.user_id != user.id:
            raise PermissionDenied(
                f"user may not delete job {job.id}",
                message_hr=(
                    f"You may only delete jobs you created; job {job.id} ({job.code!r}) was "
                    "created by someone else. Set its status to 'aborted' or ask an employee."
                ),
            )
        del self._workspace.jobs[job.id]
        return {"result": [{"id": job.id}]}

    # ------------------------------------------------------------ tasks

    def _task_job(self, user: User, event: Mapping[str, Any]) -> Job:
        job_id = event.get("id")
        if not job_id:
            match = _JOB_ID_IN_QUERY.match(event.get("query") or "")
            job_id = match.group(1).lower() if match else None
        if not job_id:
            raise _invalid(
                "no job id given",
                "Say which job the tasks belong to: give the job id as the entity id "
                "(create('task', {...}, <job id>)).",
            )
        return self._job_by_id(user, job_id)

    def _op_task_create(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        job = self._task_job(user, event)
        data = event.get("data")
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("tasks"), list)
            or not data["tasks"]
        ):
            raise _invalid(
                'task/create data must be {"tasks": [...]}',
                'Give the tasks as {"tasks": [<path> or {"source": ..., "destination": ...}]}.',
            )
        unknown = sorted(set(data) - {"tasks", "allow_duplicates"})
        if unknown:
            raise _invalid(
                f"unknown task/create keys: {_listing(unknown)}",
                f"Task create takes 'tasks' and 'allow_duplicates' only, not {_listing(unknown)}.",
            )
        allow_duplicates = _checked_flag(data.get("allow_duplicates", True), "allow_duplicates")
        mirrored = all(t.source["path"] == t.destination["path"] for t in job.tasks)
        pairs = [self._explicit_task(item, mirrored_ok=mirrored) for item in data["tasks"]]
        now = self.clock.now()
        existing_by_paths = {(t.source["path"], t.destination["path"]): t for t in job.tasks}
        to_retry: Dict[str, Task] = {}  # by id: each existing task once, in request order
        to_add: Dict[Tuple[str, str], Tuple[Dict[str, Any], Dict[str, Any]]] = {}
        for src, dst in pairs:  # decide everything before changing anything
            key = (src["path"], dst["path"])
            existing = existing_by_paths.get(key)
            if existing is not None and not allow_duplicates:
                raise _invalid(
                    f"duplicate of task {existing.id}",
                    f"Task {existing.id} (uri {existing.uri}) of job {job.id} already sends "
                    f"{src['path']!r} to {dst['path']!r}; nothing was added. Leave "
                    "allow_duplicates on to retry the existing task instead.",
                )
            if existing is not None:
                to_retry.setdefault(existing.id, existing)
            else:
                to_add.setdefault(key, (src, dst))
        result = []
        for task in to_retry.values():
            task.status, task.finished = "queued", NEVER
            result.append(task)
        for src, dst in to_add.values():
            task = self._make_task(job, src, dst, now)
            job.tasks.append(task)
            result.append(task)
        job.modified, job.modifier = now, user.id
        return {"success": True, "result": [self._task_dict(job, t) for t in result]}

    def _op_task_edit(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        job = self._task_job(user, event)
        items = event.get("data")
        if not isinstance(items, list) or not items:
            raise _invalid(
                'task/edit data must be a list of {"id": ..., ...changes}',
                'Tasks are updated as a list, e.g. [{"id": <task id>, "status": "onhold"}].',
            )
        tasks = {t.id: t for t in job.tasks}
        planned: List[Tuple[Task, Dict[str, Any]]] = []
        for item in items:  # validate every item before changing any
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise _invalid(
                    f"bad task change {item!r}",
                    'Each task change must be an object with the task "id", e.g. '
                    '{"id": <task id>, "status": "excluded"}.',
                )
            task = tasks.get(item["id"])
            if task is None:
                raise NotFound(
                    f"task {item['id']} not found in job {job.id}",
                    message_hr=(
                        f"Job {job.id} has no task {item['id']!r}; nothing was changed. "
                        f"List its tasks with find('Task where job.id={job.id}')."
                    ),
                )
            changes = {k: v for k, v in item.items() if k != "id"}
            if {"source", "destination"} & set(changes):
                raise _invalid(
                    "task source and destination cannot be modified",
                    "The source and destination of a task cannot be modified; nothing was "
                    "changed. Exclude the task (status 'excluded') and create a new one.",
                )
            refused = sorted(set(changes) - set(TASK_EDITABLE_KEYS))
            if refused:
                raise _invalid(
                    f"task attributes not editable: {_listing(refused)}",
                    f"{_listing(refused)} of a task cannot be changed; nothing was changed. "
                    f"Editable task attributes are: {_listing(TASK_EDITABLE_KEYS)}.",
                )
            if "status" in changes:
                _check_status(changes["status"], "task", TASK_STATUSES, TASK_WRITEABLE_STATUSES)
            if "priority" in changes:
                _checked_priority(changes["priority"])
            if "metadata" in changes:
                _checked_metadata(changes["metadata"])
            planned.append((task, changes))
        now = self.clock.now()
        for task, changes in planned:
            if "status" in changes:
                task.status = changes["status"]
                task.finished = now if task.status == "done" else NEVER
            if "priority" in changes:
                task.priority = changes["priority"]
            if "metadata" in changes:
                task.metadata = copy.deepcopy(changes["metadata"])
        job.modified, job.modifier = now, user.id
        updated = list(OrderedDict((task.id, task) for task, _ in planned).values())
        return {"result": [self._task_dict(job, t) for t in updated]}

    def _op_task_delete(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        raise _invalid(
            "tasks cannot be deleted",
            "Tasks cannot be deleted, for audit reasons; set their status to 'excluded' instead.",
        )


# ------------------------------------------------------- query evaluation


def _text_forms(value: Any) -> Set[str]:
    """The texts a query value may give to match ``value``."""
    if value is None:
        return {"", "none", "null"}
    if isinstance(value, bool):
        return {"true" if value else "false"}
    if isinstance(value, int):
        return {str(value)}
    if isinstance(value, float):
        forms = {repr(value)}
        if value.is_integer():
            forms.add(str(int(value)))
        return forms
    if isinstance(value, datetime):
        return {value.isoformat(), value.isoformat(sep=" ")}
    if isinstance(value, str):
        return {value}
    return set()


def _row_values(row: Mapping[str, Any]) -> Callable[[str], Set[str]]:
    return lambda attribute: _text_forms(row.get(attribute))


def _matches(expression: Expression, values: Callable[[str], Set[str]]) -> bool:
    if isinstance(expression, Comparison):
        wanted = expression.value.lower()
        found = wanted in {value.lower() for value in values(expression.attribute.lower())}
        return found if expression.operator == "=" else not found
    results = (_matches(operand, values) for operand in expression.operands)
    return all(results) if expression.operator.lower() == "and" else any(results)


def _check_attributes(expression: Expression, entitytype: str) -> None:
    if isinstance(expression, BooleanExpression):
        for operand in expression.operands:
            _check_attributes(operand, entitytype)
        return
    _check_attribute(expression.attribute.lower(), entitytype, expression.attribute)


def _check_attribute(attribute: str, entitytype: str, written: str) -> None:
    head, _, tail = attribute.partition(".")
    known = (*ENTITY_KEYS[entitytype], *QUERY_ALIASES.get(entitytype, ()))
    if head not in known:
        raise InvalidQuery(
            f"unknown {entitytype} attribute {head!r}",
            message_hr=(
                f"'{written}': {entitytype} has no attribute {head!r}; known {entitytype} "
                f"attributes are: {_listing(known)}."
            ),
        )
    if not tail:
        return
    dotted = DOTTED_ATTRIBUTES.get(entitytype, {})
    if head not in dotted:
        raise InvalidQuery(
            f"{entitytype} attribute {head!r} has no sub-attributes",
            message_hr=(
                f"'{written}': {entitytype} attribute {head!r} cannot be dotted; dotted "
                f"{entitytype} attributes are: {_listing(dotted) or 'none'}."
            ),
        )
    target = dotted[head]
    if target is not None:
        _check_attribute(tail, target, written)


def _job_ids_in(expression: Expression) -> Optional[Set[str]]:
    """The job ids a task expression restricts to, or None when it does not restrict."""
    if isinstance(expression, Comparison):
        if expression.attribute.lower() in ("job.id", "job") and expression.operator == "=":
            return {expression.value.lower()}
        return None
    found = [_job_ids_in(operand) for operand in expression.operands]
    if expression.operator.lower() == "and":
        restricting = [ids for ids in found if ids is not None]
        return set.intersection(*restricting) if restricting else None
    if any(ids is None for ids in found):
        return None
    return set().union(*(ids for ids in found if ids is not None))


# ------------------------------------------------------------- validation


def _check_status(
    status: Any, entitytype: str, known: Tuple[str, ...], writeable: Tuple[str, ...]
) -> None:
    if status in writeable:
        return
    if status in known:
        problem = f"Status {status!r} cannot be set on a {entitytype}"
    else:
        problem = f"{status!r} is not a {entitytype} status"
    raise _invalid(
        f"{entitytype} status {status!r} is not writeable",
        f"{problem}; writeable {entitytype} statuses are: {_listing(writeable)}.",
    )


def _checked_priority(priority: Any) -> int:
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise _invalid(
            f"priority must be a non-negative integer, not {priority!r}",
            f"'priority' must be a whole number of zero or more, not {priority!r}.",
        )
    return priority


def _checked_metadata(metadata: Any) -> Dict[str, Any]:
    if not isinstance(metadata, dict):
        raise _invalid(
            "metadata must be an object",
            f"'metadata' must be an object (a dict), not {type(metadata).__name__}.",
        )
    return metadata


def _checked_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be true or false", f"'{name}' must be true or false.")
    return value
