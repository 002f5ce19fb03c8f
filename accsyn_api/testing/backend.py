"""The reference server's state and rules, with no HTTP: users, queues, jobs, tasks.

:class:`Backend` answers decoded events the way the accsyn backend documented in
``jobs.rst`` does; :mod:`accsyn_api.testing.server` puts it behind HTTP. Every
reply is a plain dict: ``{"result": ...}`` on success, a refusal
``{"message", "message_hr", "error_code"}`` (plus ``"session_expired": True``
for an expired session key) or ``{"exception": ...}`` for an internal fault.

The Backend keeps the sessions, checks each event's envelope, replays replies
by ``eid``, dispatches, applies the lifecycle and serves the reads. It leans on
modules with one job each: :mod:`~accsyn_api.testing.model` (the state),
:mod:`~accsyn_api.testing.operations` (changing jobs and tasks),
:mod:`~accsyn_api.testing.permissions` (the roles),
:mod:`~accsyn_api.testing.matching` (queries), :mod:`~accsyn_api.testing.rows`
(entities as replies show them) and :mod:`~accsyn_api.testing.refusals`.

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
* **Simulation.** ``Backend(simulate=True, speed=50.0)`` moves jobs that may
  run forward with the clock, as if files were being sent at ``speed`` MB/s
  (see :mod:`~accsyn_api.testing.simulation`); without it jobs change only
  when a client changes them.
"""

from __future__ import annotations

import copy
import functools
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from accsyn_api.errors import (
    AccsynError,
    AuthenticationError,
    InvalidQuery,
    NotFound,
    SessionExpired,
)
from accsyn_api.testing.demo import USER_BY_ROLE, build_workspace
from accsyn_api.testing.matching import (
    job_ids_in,
    job_values,
    matches,
    parse_query,
    row_values,
    task_values,
)
from accsyn_api.testing.model import (
    ENTITY_KEYS,
    FINISHED_JOB_STATUSES,
    JOB_CREATE_KEYS,
    JOB_EDITABLE_KEYS,
    NEVER,
    TASK_EDITABLE_KEYS,
    Clock,
    Job,
    User,
)
from accsyn_api.testing.operations import (
    create_jobs,
    create_tasks,
    delete_job,
    delete_tasks,
    edit_job,
    edit_tasks,
)
from accsyn_api.testing.permissions import can_see, is_staff
from accsyn_api.testing.refusals import invalid, listing, refusal
from accsyn_api.testing.rows import (
    job_row,
    organization_row,
    queue_row,
    share_row,
    site_row,
    task_row,
    user_by_email,
    user_row,
)
from accsyn_api.testing.simulation import DEFAULT_SPEED, TransferSimulation

__all__ = ["NEVER", "Backend", "Clock"]

logger = logging.getLogger("accsyn_api.testing.backend")

ACTIVE_AFTER_FINISH = timedelta(hours=1)
ARCHIVED_AFTER_FINISH = timedelta(days=14)
REPLY_STORE_SIZE = 10_000

_Operation = Callable[[User, Mapping[str, Any]], Dict[str, Any]]


@dataclass
class _SessionRecord:
    user_id: str
    expired: bool = False


@dataclass
class _StoredReply:
    reply: Dict[str, Any]
    user_id: str
    uri: str


@dataclass
class _FindOptions:
    type: int = 1
    finished: bool = False
    archived: bool = False
    limit: Optional[int] = None
    skip: int = 0
    attributes: Optional[List[str]] = None


class Backend:
    """The reference server's workspace and rules; thread-safe, no HTTP.

    ``Backend()`` holds the demo workspace ``acmevfx`` on a real-time
    :class:`Clock`; pass ``clock=Clock(...)`` to move time in tests.
    ``simulate=True`` makes jobs that may run progress with the clock at
    ``speed`` MB/s (see :mod:`~accsyn_api.testing.simulation`); the
    :class:`~accsyn_api.testing.simulation.TransferSimulation` is then
    :attr:`simulation` (None otherwise).
    """

    def __init__(
        self,
        *,
        clock: Optional[Clock] = None,
        demo: bool = True,
        simulate: bool = False,
        speed: float = DEFAULT_SPEED,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.simulation = TransferSimulation(speed) if simulate else None
        self._workspace = build_workspace(self.clock.now(), with_jobs=demo)
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
        email = USER_BY_ROLE.get(role)
        if email is None:
            raise ValueError(f"unknown role {role!r}; use one of: {listing(USER_BY_ROLE)}")
        user = user_by_email(self._workspace, email)
        if user is None:
            raise RuntimeError(f"the workspace has no user {email} for role {role!r}")
        return {"domain": self.domain, "username": user.email, "api_key": user.api_key}

    def expire_sessions(self) -> None:
        """Make every session key expired: the next event gets a session_expired refusal."""
        with self._lock:
            for record in self._sessions.values():
                record.expired = True

    def executions(self, eid: str) -> int:
        """How many times the event with this ``eid`` was executed: 0 or 1.

        An event that was handled, whether it succeeded or was refused, counts
        once; its repeats are answered from the stored reply and do not count.
        A refusal for an expired session is not stored: the event was not run.
        """
        with self._lock:
            return int(eid in self._replies)

    def login(self, credentials: Mapping[str, Any], body: Mapping[str, Any]) -> Dict[str, Any]:
        """Check decoded ASCredentials; reply with a new session key or a refusal."""
        with self._lock:
            try:
                return self._login(credentials, body)
            except AccsynError as error:
                return refusal(error)
            except Exception as error:
                logger.exception("login failed unexpectedly")
                return {"exception": f"{type(error).__name__}: {error}"}

    def handle(
        self, method: str, event: Mapping[str, Any], session: Optional[Mapping[str, Any]]
    ) -> Dict[str, Any]:
        """Answer one decoded event; never raises for bad client input."""
        with self._lock:
            try:
                self._simulate()
                try:
                    return self._handle(method, event, session)
                finally:
                    self._simulate()  # jobs created or resumed start from this moment
            except Exception as error:
                logger.exception("event failed unexpectedly")
                return {"exception": f"{type(error).__name__}: {error}"}

    def _simulate(self) -> None:
        """Bring simulated transfers up to now (nothing without simulation)."""
        if self.simulation is not None:
            self.simulation.advance(self._workspace, self.clock.instant())

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
        if not (isinstance(domain, str) and isinstance(username, str) and isinstance(api_key, str)):
            raise refused
        user = user_by_email(self._workspace, username)
        key_ok = user is not None and secrets.compare_digest(
            user.api_key.encode("utf-8"), api_key.encode("utf-8")
        )
        if domain.lower() != self.domain or user is None or not key_ok:
            raise refused
        if isinstance(body, Mapping) and not isinstance(body.get("session", ""), str):
            raise invalid(
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
            return refusal(error)
        uri = event["uri"].strip("/").lower()
        eid = event.get("eid")
        if isinstance(eid, str) and eid:
            stored = self._replies.get(eid)
            if stored is not None:
                if stored.user_id != user.id or stored.uri != uri:
                    return refusal(
                        invalid(
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
            reply = refusal(error)
        if isinstance(eid, str) and eid:
            self._replies[eid] = _StoredReply(copy.deepcopy(reply), user.id, uri)
            while len(self._replies) > REPLY_STORE_SIZE:
                self._replies.popitem(last=False)
        return reply

    def _check_envelope(self, event: Mapping[str, Any]) -> None:
        if not isinstance(event, Mapping):
            raise invalid("event must be a JSON object", "The event must be a JSON object.")
        uri = event.get("uri")
        if not isinstance(uri, str) or not uri.strip("/"):
            raise invalid(
                "event field 'uri' is missing or not a string",
                "The event has no 'uri'; give the operation, e.g. \"job/find\".",
            )
        domain = event.get("domain")
        if domain is not None and (not isinstance(domain, str) or domain.lower() != self.domain):
            raise invalid(
                f"event field 'domain' does not match this workspace ({self.domain})",
                f"The event's 'domain' must be the workspace domain, {self.domain!r}.",
            )
        data = event.get("data")
        if data is not None and not isinstance(data, (dict, list)):
            raise invalid(
                "event field 'data' must be an object or a list",
                "The event's 'data' must be a JSON object or a list.",
            )
        for name in ("query", "id", "eid"):
            value = event.get(name)
            if value is not None and not isinstance(value, str):
                raise invalid(
                    f"event field '{name}' must be a string",
                    f"The event's '{name}' must be a string.",
                )

    def _dispatch(
        self, method: str, uri: str, user: User, event: Mapping[str, Any]
    ) -> Dict[str, Any]:
        ws, clock = self._workspace, self.clock
        routes: Dict[str, Tuple[str, _Operation]] = {
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
            "job/create": ("POST", functools.partial(create_jobs, ws, clock)),
            "job/edit": ("PUT", functools.partial(edit_job, ws, clock)),
            "job/delete": ("DELETE", functools.partial(delete_job, ws, clock)),
            "job/task/create": ("POST", functools.partial(create_tasks, ws, clock)),
            "task/create": ("POST", functools.partial(create_tasks, ws, clock)),
            "job/task/edit": ("PUT", functools.partial(edit_tasks, ws, clock)),
            "task/edit": ("PUT", functools.partial(edit_tasks, ws, clock)),
            "job/task/delete": ("DELETE", functools.partial(delete_tasks, ws, clock)),
            "task/delete": ("DELETE", functools.partial(delete_tasks, ws, clock)),
        }
        route = routes.get(uri)
        if route is None:
            head = uri.split("/")[0]
            if uri.endswith("/find") or head not in ENTITY_KEYS:
                raise NotFound(
                    f"unknown entity type or operation: {uri}",
                    message_hr=(
                        f"There is no entity type or operation '{uri}'. Known entity types are: "
                        f"{listing(ENTITY_KEYS)}."
                    ),
                )
            raise NotFound(
                f"unknown operation: {uri}",
                message_hr=f"Operation '{uri}' does not exist; known operations are: "
                f"{listing(sorted(routes))}.",
            )
        expected, operation = route
        if method != expected:
            raise invalid(
                f"{uri} needs HTTP method {expected}, not {method}",
                f"Operation '{uri}' must be sent with HTTP {expected}, not {method}.",
            )
        return operation(user, event)

    # ---------------------------------------------------------- lifecycle

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

    # ------------------------------------------------------------ reads

    def _find_options(self, event: Mapping[str, Any]) -> _FindOptions:
        data = event.get("data") or {}
        if not isinstance(data, dict):
            raise invalid(
                "find data must be an object",
                "The 'data' of a find must be an object such as {\"finished\": true}.",
            )
        options = _FindOptions()
        kind = data.get("type", 1)
        if kind not in (1, 2) or isinstance(kind, bool):
            raise invalid(
                f"find data 'type' must be 1 or 2, not {kind!r}",
                "The find 'type' must be 1 (jobs) or 2 (queues).",
            )
        options.type = int(kind)
        for flag in ("finished", "archived", "offline"):
            value = data.get(flag)
            if value is not None and not isinstance(value, bool):
                raise invalid(
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
                raise invalid(
                    f"find data '{name}' must be a non-negative integer",
                    f"'{name}' must be a whole number of zero or more, not {value!r}.",
                )
        options.limit = data.get("limit")
        options.skip = data.get("skip") or 0
        attributes = data.get("attributes")
        if attributes is not None and (
            not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes)
        ):
            raise invalid(
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
                raise invalid(
                    f"unknown {entitytype} attributes: {listing(unknown)}",
                    f"{listing(unknown)} is not a {entitytype} attribute; known attributes "
                    f"are: {listing(known)}.",
                )
            wanted = {"id", *options.attributes}
            rows = [{k: v for k, v in row.items() if k in wanted} for row in rows]
        return {"result": rows}

    def _op_job_find(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        options = self._find_options(event)
        if options.type == 2:
            return self._op_queue_find(user, event)
        expression = parse_query(event, "job")
        rows = []
        for job in self._workspace.jobs.values():
            if not can_see(user, job) or not self._in_view(job, options):
                continue
            row = job_row(self._workspace, job)
            values = functools.partial(job_values, self._workspace, job, row)
            if expression is None or matches(expression, values):
                rows.append(row)
        return self._page(rows, options, "job")

    def _op_queue_find(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        options = self._find_options(event)
        expression = parse_query(event, "queue")
        rows = [queue_row(self._workspace, q) for q in self._workspace.queues.values()]
        rows = [r for r in rows if expression is None or matches(expression, row_values(r))]
        return self._page(rows, options, "queue")

    def _op_find_other(
        self, entitytype: str, user: User, event: Mapping[str, Any]
    ) -> Dict[str, Any]:
        options = self._find_options(event)
        expression = parse_query(event, entitytype)
        rows = self._other_rows(user, entitytype)
        rows = [r for r in rows if expression is None or matches(expression, row_values(r))]
        return self._page(rows, options, entitytype)

    def _other_rows(self, user: User, entitytype: str) -> List[Dict[str, Any]]:
        ws = self._workspace
        if entitytype == "user":
            users = ws.users.values() if is_staff(user) else [user]
            return [user_row(u) for u in users]
        if entitytype == "site":
            return [site_row(s) for s in ws.sites.values()]
        if entitytype == "share":
            shares = ws.shares.values() if is_staff(user) else []
            return [share_row(ws, s) for s in shares]
        return [organization_row(ws)]

    def _op_task_find(self, user: User, event: Mapping[str, Any]) -> Dict[str, Any]:
        options = self._find_options(event)
        expression = parse_query(event, "task")
        job_ids = job_ids_in(expression) if expression is not None else None
        if expression is None or job_ids is None:
            raise InvalidQuery(
                "a task query must restrict job.id",
                message_hr=(
                    "Tasks are found within a job: add job.id=<job id> to the query, e.g. "
                    "'Task where job.id=5a7325f8b7ef72f5f9d74bf4 and status=queued'."
                ),
                query=event.get("query"),
            )
        rows = []
        for job in self._workspace.jobs.values():
            if job.id not in job_ids or not can_see(user, job):
                continue
            if not self._in_view(job, options):
                continue
            parent_row = job_row(self._workspace, job)
            for task in job.tasks:
                row = task_row(job, task)
                values = functools.partial(task_values, self._workspace, job, parent_row, row)
                if matches(expression, values):
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
                    f"{listing(ENTITY_KEYS)} (e.g. 'attributes where entitytype=job')."
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
