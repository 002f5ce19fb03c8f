"""The reference server's state and rules, with no HTTP: users, queues, jobs, tasks.

:class:`Backend` answers decoded events of both API generations from one
workspace: v1.0 the way ``jobs.rst`` documents, v3 the way today's service
does (see :mod:`~accsyn_api.testing.generations` for what differs). The HTTP
front ends (:mod:`~accsyn_api.testing.frontend_v1`,
:mod:`~accsyn_api.testing.frontend_v3`) put it behind HTTP. Every reply is a
plain dict: ``{"result": ...}`` on success, a refusal ``{"message",
"message_hr", "error_code"}`` (on v1.0 plus ``"session_expired": True`` for an
expired session key) or ``{"exception": ...}`` for an internal fault.

The Backend authenticates (v1.0: session keys from a login; v3: the API key
on every call), checks each event's envelope, replays the replies of writes
by ``eid`` (:mod:`~accsyn_api.testing.replays`, bounded in bytes) and
dispatches. It leans on modules with one job each:
:mod:`~accsyn_api.testing.model` (the state), :mod:`~accsyn_api.testing.reads`
and :mod:`~accsyn_api.testing.finding` (finds and the lifecycle),
:mod:`~accsyn_api.testing.operations` and
:mod:`~accsyn_api.testing.task_operations` (changes),
:mod:`~accsyn_api.testing.permissions` (the roles),
:mod:`~accsyn_api.testing.matching` (queries), :mod:`~accsyn_api.testing.rows`
(entities as replies show them) and :mod:`~accsyn_api.testing.refusals`.

Choices made where the documentation is silent:

* **Lifecycle.** A job is *finished* when its status becomes ``done`` or
  ``aborted``; ``finished`` then holds the time of that change, otherwise the
  marker ``datetime(1970, 1, 1, 0, 0)`` (v3 shows ``null``). It stays *active*
  until one hour after finishing, is *inactive* from then on and *archived* 14
  days after finishing. A read without flags returns active jobs only;
  ``finished=True`` returns active and inactive jobs; ``archived=True`` returns
  all jobs. A task read follows its job. Operations naming a job by id (edit,
  delete, task create/edit, v3 get_entity) reach it whatever its state.
* **Roles.** ``admin`` and ``employee`` see and change everything. A
  restricted user (``user`` on v1.0, ``standard`` on v3: the same user) sees
  only jobs it created, sends or receives; any other job is reported as not
  found. It may create jobs only with itself as source or destination, may edit
  the jobs it sees, but deletes only the jobs it created. Among users it sees
  only itself, and it sees no shares.
* **Queries.** Text values match case-insensitively (the reference clients of
  both generations lower-case whole queries). References match by id, by
  ``<scope>:<id>``, by their ``*_hr`` form (either generation's) or by name.
* **v3 authentication.** Every call carries the API key; the ``session`` of the
  envelope (the ``session_id`` of the login reply) is not checked. A workspace
  code matches in any case. There is no session expiry on v3.
* **Demo data.** ``jobs.rst`` shows job ``614d660de50d45bb027c9bdd`` with
  ``user`` ``5d91b33ac71c12871d1fc3c2`` (lars@edit.com) but ``user_hr``
  ``employee@acmevfx.com``; here the job's creator is employee@acmevfx.com.
* ``Backend(demo=False)`` keeps the organization, sites, share, queues and users
  but starts without jobs. ``Backend(simulate=True, speed=50.0)`` moves jobs
  forward with the clock (:mod:`~accsyn_api.testing.simulation`).
"""

from __future__ import annotations

import functools
import logging
import secrets
import threading
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from accsyn_api.errors import AccsynError, NotFound
from accsyn_api.protocol import names
from accsyn_api.testing.demo import USER_BY_ROLE, build_workspace
from accsyn_api.testing.finding import FindCache
from accsyn_api.testing.generations import Generation, generation_of
from accsyn_api.testing.model import NEVER, Clock, User
from accsyn_api.testing.operations import create_jobs, delete_job, edit_job
from accsyn_api.testing.reads import Reader
from accsyn_api.testing.refusals import invalid, listing, refusal
from accsyn_api.testing.replays import REPLAY_STORE_BYTES, ReplayStore
from accsyn_api.testing.rows import user_by_email
from accsyn_api.testing.sessions import SessionKeys, query_parser
from accsyn_api.testing.simulation import DEFAULT_SPEED, TransferSimulation
from accsyn_api.testing.task_operations import create_tasks, delete_tasks, edit_tasks

__all__ = ["NEVER", "REPLAY_STORE_BYTES", "Backend", "Clock"]

logger = logging.getLogger("accsyn_api.testing.backend")

_Operation = Callable[[User, Mapping[str, Any]], Dict[str, Any]]

V1_URIS: Dict[str, Tuple[str, str]] = {
    "job/find": ("job", "find"),
    "queue/find": ("queue", "find"),
    "job/task/find": ("task", "find"),
    "task/find": ("task", "find"),
    "organization/site/find": ("site", "find"),
    "site/find": ("site", "find"),
    "user/find": ("user", "find"),
    "share/find": ("share", "find"),
    "organization/find": ("organization", "find"),
    "job/create": ("job", "create"),
    "job/edit": ("job", "edit"),
    "job/delete": ("job", "delete"),
    "job/task/create": ("task", "create"),
    "task/create": ("task", "create"),
    "job/task/edit": ("task", "edit"),
    "task/edit": ("task", "edit"),
    "job/task/delete": ("task", "delete"),
    "task/delete": ("task", "delete"),
}
"""The v1.0 operations: ``uri`` -> (entity type, operation)."""

METHODS = {"find": "GET", "create": "POST", "edit": "PUT", "delete": "DELETE"}
"""The HTTP method of each operation."""
WRITE_METHODS = ("POST", "PUT", "DELETE")
"""The methods of the operations that change the workspace: their replies are kept for replay."""


class Backend:
    """The reference server's workspace and rules; thread-safe, no HTTP.

    ``Backend()`` holds the demo workspace ``acmevfx`` on a real-time
    :class:`Clock`; pass ``clock=Clock(...)`` to move time in tests.
    ``simulate=True`` makes jobs that may run progress with the clock at
    ``speed`` MB/s (see :mod:`~accsyn_api.testing.simulation`); the
    :class:`~accsyn_api.testing.simulation.TransferSimulation` is then
    :attr:`simulation` (None otherwise). The demo users get new random API keys
    unless ``api_keys`` (by e-mail) gives them, e.g.
    :data:`~accsyn_api.testing.demo.FIXED_API_KEYS`. ``replay_bytes`` bounds what
    the :attr:`replay_store` holds (default :data:`REPLAY_STORE_BYTES`, 32 MiB).
    """

    def __init__(
        self,
        *,
        clock: Optional[Clock] = None,
        demo: bool = True,
        simulate: bool = False,
        speed: float = DEFAULT_SPEED,
        api_keys: Optional[Mapping[str, str]] = None,
        replay_bytes: int = REPLAY_STORE_BYTES,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.simulation = TransferSimulation(speed) if simulate else None
        self._workspace = build_workspace(self.clock.now(), with_jobs=demo, api_keys=api_keys)
        self.domain = self._workspace.domain
        self._lock = threading.Lock()
        self._sessions = SessionKeys(self._workspace, self.clock)
        self._replays = ReplayStore(replay_bytes)
        self._find_cache = FindCache()

    # ------------------------------------------------------------ public API

    def credentials(self, role: str = "employee", api_version: str = names.V1) -> Dict[str, str]:
        """The credentials of the demo user with that role, in ``api_version``'s words.

        ``role`` is ``"admin"``, ``"employee"`` or ``"user"`` (the restricted
        user user@mail.com; ``"standard"`` is its v3 name). v1.0:
        ``{"domain", "username", "api_key"}``; v3: ``{"workspace", "username", "api_key"}``.
        """
        email = USER_BY_ROLE.get(role)
        if email is None:
            raise ValueError(f"unknown role {role!r}; use one of: {listing(USER_BY_ROLE)}")
        user = user_by_email(self._workspace, email)
        if user is None:
            raise RuntimeError(f"the workspace has no user {email} for role {role!r}")
        key = generation_of(api_version).workspace_key
        return {key: self.domain, "username": user.email, "api_key": user.api_key}

    def caller_refusal(
        self, credentials: Optional[Mapping[str, Any]], api_version: str = names.V1
    ) -> Optional[Dict[str, Any]]:
        """The refusal for a caller that does not authenticate, or None when it does.

        ``credentials`` as for :meth:`handle`'s ``session``. The front ends ask this
        before they decode a request's body.
        """
        gen = generation_of(api_version)
        with self._lock:
            try:
                self._authenticate(gen, credentials)
            except AccsynError as error:
                return refusal(error)
        return None

    @property
    def replay_store(self) -> ReplayStore:
        """The events remembered by ``eid`` (write replies for replay); see ``replays.py``."""
        return self._replays

    def knows_workspace(self, workspace: Any) -> bool:
        """Whether ``workspace`` names this backend's workspace (in any case)."""
        return isinstance(workspace, str) and workspace.strip().lower() == self.domain

    def expire_sessions(self) -> None:
        """Make every v1.0 session key expired: the next event gets a session_expired refusal."""
        with self._lock:
            self._sessions.expire_all()

    def executions(self, eid: str) -> int:
        """How many times the event with this ``eid`` was executed: 0 or 1.

        An event that was handled, whether it succeeded or was refused, counts
        once. The repeats of a write (create, edit, delete) are answered from its
        stored reply and do not count; a repeated read is read again (reads keep
        no reply) and still counts once. A refusal for an expired session is not
        stored: the event was not run. Only the events the replay store still
        remembers (see :mod:`~accsyn_api.testing.replays`) count.
        """
        with self._lock:
            return int(self._replays.executed(eid))

    def login(
        self,
        credentials: Mapping[str, Any],
        body: Mapping[str, Any],
        api_version: str = names.V1,
    ) -> Dict[str, Any]:
        """Check decoded credentials (``domain`` or ``workspace``, ``username``,
        ``api_key``); the login reply of ``api_version`` or a refusal.

        v1.0: ``{"session_key", "clearance", "id", "event_dedup"}``; v3:
        ``{"result": {"role", "id", "session_id", "event_dedup"}}``.
        ``event_dedup`` (this server's extension, on both generations) says that
        a repeated ``eid`` gets the stored reply, so clients may repeat creates.
        """
        gen = generation_of(api_version)
        with self._lock:
            try:
                if gen.api_version == names.V1:
                    return self._sessions.login(credentials, body)
                user = self._sessions.check_key(credentials, gen)
                session_id = secrets.token_hex(12)  # shown only; v3 calls carry the key
                return {
                    "result": {
                        "role": gen.role(user.clearance),
                        "id": user.id,
                        "session_id": session_id,
                        "event_dedup": True,
                    }
                }
            except AccsynError as error:
                return refusal(error)
            except Exception as error:
                logger.exception("login failed unexpectedly")
                return {"exception": f"{type(error).__name__}: {error}"}

    def handle(
        self,
        method: str,
        event: Mapping[str, Any],
        session: Optional[Mapping[str, Any]],
        api_version: str = names.V1,
    ) -> Dict[str, Any]:
        """Answer one decoded event of ``api_version``; never raises for bad client input.

        ``session`` is what authenticates the caller: on v1.0 the decoded
        ``ASSession`` header (``domain``, ``username``, ``session_key``), on v3 the
        credentials of the call's headers (``workspace``, ``username``, ``api_key``).
        """
        gen = generation_of(api_version)
        with self._lock:
            try:
                self._simulate()
                try:
                    return self._handle(gen, method, event, session)
                finally:
                    self._simulate()  # jobs created or resumed start from this moment
            except Exception as error:
                logger.exception("event failed unexpectedly")
                return {"exception": f"{type(error).__name__}: {error}"}

    def _simulate(self) -> None:
        """Bring simulated transfers up to now (nothing without simulation)."""
        if self.simulation is not None:
            self.simulation.advance(self._workspace, self.clock.instant())
            self._workspace.version += 1  # statuses may have moved

    # ------------------------------------------------------------- dispatch

    def _authenticate(self, gen: Generation, session: Optional[Mapping[str, Any]]) -> User:
        if gen.api_version == names.V1:
            return self._sessions.authenticate(session)
        if not isinstance(session, Mapping):
            session = {}
        return self._sessions.check_key(session, gen)

    def _handle(
        self,
        gen: Generation,
        method: str,
        event: Mapping[str, Any],
        session: Optional[Mapping[str, Any]],
    ) -> Dict[str, Any]:
        try:
            user = self._authenticate(gen, session)
            self._check_envelope(gen, event)
        except AccsynError as error:
            return refusal(error)
        uri = event["uri"].strip("/").lower()
        eid = event.get("eid")
        method = method.upper()
        try:
            replayed = self._replays.repeat_of(eid, user.id, uri)
        except AccsynError as error:
            return refusal(error)  # the eid of another call
        if replayed is not None:
            return replayed  # a write's repeat: answered, not done again
        try:
            reply = self._dispatch(gen, method, uri, user, event)
        except AccsynError as error:
            reply = refusal(error)
        write = method in WRITE_METHODS
        if write:
            self._workspace.version += 1  # what finds keep is stale now
        if isinstance(eid, str) and eid:
            self._replays.remember(eid, user.id, uri, reply, write=write)
        return reply

    def _check_envelope(self, gen: Generation, event: Mapping[str, Any]) -> None:
        if not isinstance(event, Mapping):
            raise invalid("event must be a JSON object", "The event must be a JSON object.")
        uri = event.get("uri")
        if not isinstance(uri, str) or not uri.strip("/"):
            example = f"{gen.shown_type('job')}/find"
            raise invalid(
                "event field 'uri' is missing or not a string",
                f"The event has no 'uri'; give the operation, e.g. \"{example}\".",
            )
        key = gen.workspace_key
        word = "domain" if key == "domain" else "code"
        workspace = event.get(key)
        if workspace is not None and not self.knows_workspace(workspace):
            raise invalid(
                f"event field '{key}' does not match this workspace ({self.domain})",
                f"The event's '{key}' must be the workspace {word}, {self.domain!r}.",
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

    def _operation(self, gen: Generation, uri: str) -> Optional[Tuple[str, str]]:
        """(entity type, operation) of a ``uri`` in ``gen``, or None when unknown."""
        if uri in ("entitytypes", "attributes"):
            return uri, uri
        if gen.api_version == names.V1:
            return V1_URIS.get(uri)
        head, _, operation = uri.partition("/")
        entitytype = gen.entity_types.get(head)
        if entitytype is None or operation not in METHODS:
            return None
        return entitytype, operation

    def _operations(self, gen: Generation) -> Dict[Tuple[str, str], _Operation]:
        ws, clock = self._workspace, self.clock
        reader = Reader(ws, clock, gen, query_parser(gen), self._find_cache)
        table: Dict[Tuple[str, str], _Operation] = {
            ("entitytypes", "entitytypes"): reader.entitytypes,
            ("attributes", "attributes"): reader.attributes,
            ("job", "create"): functools.partial(create_jobs, ws, clock, gen),
            ("job", "edit"): functools.partial(edit_job, ws, clock, gen),
            ("job", "delete"): functools.partial(delete_job, ws, clock, gen),
            ("task", "create"): functools.partial(create_tasks, ws, clock, gen),
            ("task", "edit"): functools.partial(edit_tasks, ws, clock, gen),
            ("task", "delete"): functools.partial(delete_tasks, ws, clock, gen),
        }
        for entitytype in gen.entity_keys:
            table[(entitytype, "find")] = functools.partial(reader.find, entitytype)
        return table

    def _dispatch(
        self, gen: Generation, method: str, uri: str, user: User, event: Mapping[str, Any]
    ) -> Dict[str, Any]:
        found = self._operation(gen, uri)
        operations = self._operations(gen)
        operation = operations.get(found) if found is not None else None
        if found is None or operation is None:
            raise self._unknown(gen, uri)
        _, name = found
        expected = METHODS.get(name, "GET")
        if method != expected:
            raise invalid(
                f"{uri} needs HTTP method {expected}, not {method}",
                f"Operation '{uri}' must be sent with HTTP {expected}, not {method}.",
            )
        return operation(user, event)

    def _unknown(self, gen: Generation, uri: str) -> NotFound:
        types = [gen.shown_type(name) for name in gen.entity_keys]
        head = uri.split("/")[0]
        if uri.endswith("/find") or head not in gen.entity_types:
            return NotFound(
                f"unknown entity type or operation: {uri}",
                message_hr=(
                    f"There is no entity type or operation '{uri}'. Known entity types are: "
                    f"{listing(types)}."
                ),
            )
        if gen.api_version == names.V1:
            known = sorted(("entitytypes", "attributes", *V1_URIS))
        else:
            known = [
                "<entity type>/find",
                "transfer/create",
                "transfer/edit",
                "transfer/delete",
                "task/create",
                "task/edit",
            ]
        return NotFound(
            f"unknown operation: {uri}",
            message_hr=f"Operation '{uri}' does not exist; known operations are: {listing(known)}.",
        )
