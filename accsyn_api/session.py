"""The Session: the verbs of the accsyn API, on either API generation.

A :class:`Session` reads its settings from arguments or the ``ACCSYN_*``
environment (:mod:`accsyn_api.settings`), connects and logs in
(:mod:`accsyn_api.connection`), and offers ``find``, ``find_one``,
``get_entity``, ``create``, ``update``, ``update_many``, ``delete_one`` and
``str`` as the official documentation shows them, plus ``iter_find`` (a
large result in pages) and ``wait`` (until a job reaches a status). The same
calls work on the v1.0 and the v3 API: how each is laid out on the wire is
the generation's business (:mod:`accsyn_api.protocol`). Results are plain
``dict`` and ``list`` objects with dates decoded to :class:`datetime.datetime`.
"""

from __future__ import annotations

from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Union,
)

from . import codec
from .arguments import (
    attribute_names,
    count,
    create_payload,
    duplicate_flags,
    entity_id,
    entity_type,
    flag,
    parsed_query,
    task_create_arguments,
    update_many_arguments,
)
from .connection import Connection
from .errors import InvalidData, NotFound
from .protocol import names
from .protocol.base import FindOptions, Generation, Operation
from .query import Query, check_operators
from .replies import (
    result_created,
    result_deleted,
    result_entity,
    result_list,
    result_missing,
    result_tasks,
)
from .retry import DEFAULT_BACKOFF, DEFAULT_RETRIES, DEFAULT_RETRY_BUDGET, RetryCreates
from .settings import DEFAULT_MAX_REPLY_BYTES, DEFAULT_TIMEOUT, RateLimit, Settings, Timeout
from .tls import Verify
from .waiting import (
    DEFAULT_INTERVAL,
    ProgressCallback,
    Statuses,
    wait_for_jobs,
    wanted_statuses,
)

__all__ = ["Session"]


class Session:
    """A connection to one accsyn workspace, on the v3 or the v1.0 API.

    Settings come from the arguments, else the environment:

    ===============  ===================================  ================================
    argument         environment variable                 meaning
    ===============  ===================================  ================================
    ``workspace``    ``ACCSYN_WORKSPACE`` (older:         the workspace, e.g. ``acmevfx``
                     ``ACCSYN_DOMAIN``, ``ACCSYN_ORG``)   (``domain=`` is its older name)
    ``username``     ``ACCSYN_API_USER``                  the user's e-mail address
    ``api_key``      ``ACCSYN_API_KEY``                   the user's secret API key
    ``api_version``  ``ACCSYN_API_VERSION``               ``"auto"`` (default), ``"3"``
                                                          or ``"1.0"``
    ``url``          ``ACCSYN_URL``                       server address, skips the look-up
    ``proxy``        ``ACCSYN_PROXY``                     ``accsyn:<host>:<port>`` or
                                                          ``socks5:<host>:<port>``
    ===============  ===================================  ================================

    Without ``url`` (or ``hostname``, or an accsyn relay proxy), the
    workspace's server is looked up: with ``api_version="auto"`` first by the
    v3 master, then by the v1.0 registry. With ``"auto"`` and an address, the
    server is asked which generation it speaks; :attr:`api_version` says
    which was found.

    ``verify`` is ``True`` (check TLS certificates against certifi's
    bundle), ``"system"`` (against the operating system's trust store:
    ``pip install 'accsyn-sdk[truststore]'``, Python 3.10+), ``False`` (do not
    check; a warning is logged) or the path of a CA bundle; anything else is
    refused. ``timeout`` is seconds, or (connect, reply): the time to connect,
    and the time for the whole reply of each attempt (not per read).
    ``max_reply_bytes`` (256 MiB) is the largest reply read, as sent and
    once inflated; a larger one raises :class:`~accsyn_api.ServerError`
    and is not repeated. ``pool_size`` is how many connections are
    kept open for the threads sharing the session. ``rate_limit`` keeps the
    session under the hosted service's limits (``"auto"``: 30 requests/s,
    bursts of 60, except for a server on this machine; ``None``: no limit; a
    number of requests/s; or ``(rate, burst)``).

    Failed calls are repeated with the same event id (see the Reliability
    page): up to ``retries`` times, after a random back-off of up to
    ``backoff`` seconds doubling each time, while less than ``retry_budget``
    seconds have passed since the call began. A create whose outcome is
    unknown (connection lost, reply late or cut short) is repeated only if
    ``retry_creates`` is ``True``, or ``"auto"`` and the server ignores
    repeated events; ``False`` never repeats it. When a call fails for good,
    the error says whether the work may have been done (``error.executed``).
    ``verbose=True`` prints this session's requests and retries to stderr.

    The session logs in when created (unless ``login=False``); use it as a
    context manager, or call :meth:`close`, to release its connections::

        with accsyn_api.Session() as session:
            jobs = session.find("Job where status=running")
    """

    def __init__(
        self,
        workspace: Optional[str] = None,
        username: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        domain: Optional[str] = None,
        api_version: Optional[str] = None,
        url: Optional[str] = None,
        hostname: Optional[str] = None,
        port: Optional[int] = None,
        proxy: Optional[str] = None,
        verify: Verify = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        pool_size: int = 10,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        retry_creates: RetryCreates = "auto",
        verbose: bool = False,
        page_size: int = 500,
        rate_limit: RateLimit = "auto",
        registry_url: str = names.V1_REGISTRY_URL,
        master_url: str = names.V3_MASTER_URL,
        login: bool = True,
    ) -> None:
        self.settings = Settings.build(
            workspace=workspace,
            domain=domain,
            username=username,
            api_key=api_key,
            api_version=api_version,
            url=url,
            hostname=hostname,
            port=port,
            proxy=proxy,
            verify=verify,
            timeout=timeout,
            max_reply_bytes=max_reply_bytes,
            pool_size=pool_size,
            retries=retries,
            backoff=backoff,
            retry_budget=retry_budget,
            retry_creates=retry_creates,
            verbose=verbose,
            page_size=page_size,
            rate_limit=rate_limit,
            registry_url=registry_url,
            master_url=master_url,
        )
        self._connection = Connection(self.settings)
        if login:
            try:
                self._connection.open()
            except BaseException:
                self._connection.close()
                raise

    # -- life cycle ---------------------------------------------------------

    @property
    def workspace(self) -> str:
        """The workspace this session works in (``acmevfx``)."""
        return self.settings.workspace

    @property
    def domain(self) -> str:
        """The workspace, under its v1.0 name."""
        return self.settings.workspace

    @property
    def username(self) -> str:
        """The user name (an e-mail address)."""
        return self.settings.username

    @property
    def page_size(self) -> int:
        """How many entities :meth:`iter_find` fetches at a time."""
        return self.settings.page_size

    @property
    def api_version(self) -> Optional[str]:
        """The API generation spoken, ``"3"`` or ``"1.0"``; None while not yet known."""
        speaker = self._connection.generation
        return speaker.name if speaker else None

    @property
    def url(self) -> Optional[str]:
        """The API root, such as ``https://acmevfx.accsyn.com:443/api/v3``, once known."""
        origin, speaker = self._connection.origin, self._connection.generation
        if origin is None:
            return None
        return f"{origin}{speaker.api_path}" if speaker else origin

    @property
    def clearance(self) -> Optional[str]:
        """The role the server gave this user at login (``admin``, ``employee``...)."""
        login = self._connection.login_state
        return login.role if login else None

    role = clearance

    @property
    def user_id(self) -> Optional[str]:
        """The id of the logged-in user."""
        login = self._connection.login_state
        return login.user_id if login else None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._connection.transport.closed

    def login(self) -> None:
        """Log in (again) now; the session does so by itself when created or needed."""
        self._connection.open()

    def close(self) -> None:
        """Release the pooled connections. The session cannot be used afterwards."""
        self._connection.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return (
            f"<Session{state} workspace={self.workspace!r} username={self.username!r} "
            f"url={self.url!r} api_version={self.api_version!r}>"
        )

    def _call(self, operation: Operation) -> Dict[str, Any]:
        return self._connection.call(operation)

    def _generation(self) -> Generation:
        return self._connection.ready()[0]

    # -- reading ------------------------------------------------------------

    def find(
        self,
        query: Union[str, Query],
        attributes: Optional[Iterable[str]] = None,
        finished: Optional[bool] = None,
        archived: Optional[bool] = None,
        offline: Optional[bool] = None,
        limit: Optional[int] = None,
        skip: Optional[int] = None,
        inactive: Optional[bool] = None,
    ) -> List[Dict[str, Any]]:
        """Return the entities matching ``query`` as a list of dicts.

        ``query`` is ``"<entity type>"`` or ``"<entity type> where <expression>"``,
        e.g. ``'Job where code="x and y.png"'``, or a :class:`~accsyn_api.Query`
        built with ``accsyn_api.select("Job").where(code=name)``. It is checked
        before anything is sent: a malformed query, or one using an operator
        the server's API generation does not know, raises
        :class:`~accsyn_api.InvalidQuery`. ``Job`` and ``Transfer`` name the
        same entity on both generations.

        Finished jobs are only returned with ``finished=True`` (v1.0: after an
        hour), archived ones (after 14 days) with ``archived=True``.
        ``attributes`` limits the keys returned (``id`` always comes);
        ``limit`` and ``skip`` page. ``inactive=True`` (v3) also finds
        deactivated users and shares. ``offline`` is passed on as the v1.0
        wire protocol lists it (on v3 it is sent as ``inactive``, as the
        official client does).
        """
        options = FindOptions(
            attributes=attribute_names(attributes),
            finished=flag(finished, "finished"),
            archived=flag(archived, "archived"),
            inactive=flag(inactive, "inactive"),
            offline=flag(offline, "offline"),
            limit=count(limit, "limit"),
            skip=count(skip, "skip"),
        )
        return self._find(query, options)

    def find_one(
        self,
        query: Union[str, Query],
        attributes: Optional[Iterable[str]] = None,
        finished: Optional[bool] = None,
        archived: Optional[bool] = None,
        offline: Optional[bool] = None,
        inactive: Optional[bool] = None,
    ) -> Optional[Dict[str, Any]]:
        """Return the first entity matching ``query``, or ``None`` when nothing matches.

        Only one entity is asked of the server. On v3 the query is sent as a
        single-entity query: when nothing active matches, the server also
        looks among finished entities.
        """
        options = FindOptions(
            attributes=attribute_names(attributes),
            finished=flag(finished, "finished"),
            archived=flag(archived, "archived"),
            inactive=flag(inactive, "inactive"),
            offline=flag(offline, "offline"),
            single=True,
        )
        found = self._find(query, options)
        return found[0] if found else None

    def get_entity(self, entitytype: str, entityid: str) -> Optional[Dict[str, Any]]:
        """Return the entity with id ``entityid`` whatever its state, or ``None``.

        Finished and archived jobs are found too; ``None`` means no such
        entity is visible to this user. For example
        ``session.get_entity("job", job_id)``.
        """
        entity = entity_type(entitytype)
        operation = self._generation().get_entity(entity, entity_id(entityid))
        return result_entity(self._call(operation), operation.uri)

    def iter_find(
        self,
        query: Union[str, Query],
        attributes: Optional[Iterable[str]] = None,
        finished: Optional[bool] = None,
        archived: Optional[bool] = None,
        offline: Optional[bool] = None,
        page_size: Optional[int] = None,
        inactive: Optional[bool] = None,
    ) -> Iterator[Dict[str, Any]]:
        """Yield the entities matching ``query``, fetching ``page_size`` at a time.

        Memory stays bounded by one page however large the result. Entities
        created or removed while iterating may shift the pages: an entity can
        then be seen twice or missed.
        """
        size = self.page_size if page_size is None else page_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidData(f"page_size must be a positive integer, not {size!r}.")
        skip = 0
        while True:
            page = self.find(
                query,
                attributes=attributes,
                finished=finished,
                archived=archived,
                offline=offline,
                limit=size,
                skip=skip,
                inactive=inactive,
            )
            yield from page
            if len(page) < size:
                return
            skip += len(page)

    # -- writing ------------------------------------------------------------

    def create(
        self,
        entitytype: str,
        data: Union[Mapping[str, Any], List[Mapping[str, Any]]],
        entityid: Optional[str] = None,
        allow_duplicates: Optional[bool] = None,
        replace_duplicates: Optional[bool] = None,
    ) -> Any:
        """Create one entity (``data`` a dict) or several (``data`` a list of dicts).

        Returns the created entity as a dict, or a list of them when a list was
        given. Tasks are added to an existing job, whose id is ``entityid``::

            session.create("task", {"tasks": ["/path/file.mov"]}, job["id"])

        and the call returns ``{"success": True, "tasks": [...]}``. A task with the
        same source and destination as an existing one retries that task, unless
        ``allow_duplicates=False``, which makes the server refuse it instead;
        ``replace_duplicates=True`` (v3) replaces it by the new one.
        ``allow_duplicates`` is sent as given (v1.0: ``True`` when not given).
        """
        entity = entity_type(entitytype)
        flags = duplicate_flags(allow_duplicates, replace_duplicates)
        if entity == "task":
            job_id, task_payload = task_create_arguments(data, entityid, flags)
            operation = self._generation().create_tasks(job_id, task_payload)
            # {"result": [...]}, or for paths alone {"success": true} (with "tasks" from the
            # reference server).
            return {"success": True, "tasks": result_tasks(self._call(operation), operation.uri)}
        payload = create_payload(entity, data, entityid, flags)
        operation = self._generation().create(entity, payload)
        return result_created(self._call(operation), operation.uri, many=isinstance(payload, list))

    def update(self, entitytype: str, entityid: str, data: Mapping[str, Any]) -> Dict[str, Any]:
        """Change attributes of one entity and return it as it is now.

        For a job, ``status`` may be set to ``waiting``, ``paused``,
        ``aborted`` or ``done`` (v1.0 also ``pending``). Tasks are changed
        with :meth:`update_many`.
        """
        entity = entity_type(entitytype)
        target = entity_id(entityid)
        if entity == "task":
            raise InvalidData(
                "Tasks are changed in groups within their job: use "
                "session.update_many('task', <job id>, [{'id': <task id>, 'status': ...}])."
            )
        if not isinstance(data, Mapping) or not data:
            raise InvalidData(
                f"update() needs a non-empty dict of changes, such as {{'status': 'paused'}}, "
                f"not {data!r}."
            )
        operation = self._generation().update(entity, target, dict(data))
        reply = self._call(operation)
        if reply.get("result") == []:
            raise NotFound(f"The server returned no {entity} with id {target}.", uri=operation.uri)
        found = result_entity(reply, operation.uri)
        if found is None:
            raise result_missing(reply, operation.uri, f"the {entity} as it is now")
        return found

    def update_many(
        self,
        entitytype: str,
        data: Union[str, Sequence[Mapping[str, Any]]],
        entityid: Union[str, Sequence[Mapping[str, Any]], None] = None,
    ) -> List[Dict[str, Any]]:
        """Change several tasks of one job; return them as a task find would.

        Both orders seen in the documentation work::

            session.update_many("task", [{"id": task_id, "status": "onhold"}], entityid=job_id)
            session.update_many("task", job_id, [{"id": task_id, "status": "excluded"}])

        Only ``status``, ``priority`` and ``metadata`` of a task can change. The
        server applies all the changes or none.
        """
        entity_type(entitytype)
        job_id, changes = update_many_arguments(data, entityid)
        operation = self._generation().update_tasks(job_id, changes)
        return result_list(self._call(operation), operation.uri)

    def delete_one(self, entitytype: str, entityid: str) -> bool:
        """Delete one entity, e.g. ``session.delete_one('job', job_id)``; True when done.

        Tasks cannot be deleted: set their status to ``excluded`` instead.
        """
        entity = entity_type(entitytype)
        operation = self._generation().delete(entity, entity_id(entityid))
        result_deleted(self._call(operation), operation.uri)
        return True

    # -- waiting --------------------------------------------------------------

    def wait(
        self,
        job_id: str,
        statuses: Statuses = None,
        *,
        timeout: Optional[float] = None,
        interval: float = DEFAULT_INTERVAL,
        progress: Optional[ProgressCallback] = None,
    ) -> Dict[str, Any]:
        """Poll a job until it ends, or reaches one of ``statuses``; return the job.

        Without ``statuses`` it returns once the job is ``done``, ``failed`` or
        ``aborted``: ``job["status"]`` says which. With ``statuses`` (one status
        or several) it returns when the job reaches one of them, or a final
        status that is not among them (the job will not move on from there by
        itself). A name that is no job status of this session's API generation
        raises :class:`~accsyn_api.InvalidData` before anything is polled.
        ``progress`` is called with the job after every poll (to show a bar).
        Raises :class:`~accsyn_api.RequestTimeout` when ``timeout`` seconds pass
        first (nothing was changed: ``executed`` is ``False``), and
        :class:`~accsyn_api.NotFound` if the job disappears. See
        :mod:`accsyn_api.waiting`.
        """
        return self.wait_all(
            [job_id], statuses, timeout=timeout, interval=interval, progress=progress
        )[0]

    def wait_all(
        self,
        job_ids: Iterable[str],
        statuses: Statuses = None,
        *,
        timeout: Optional[float] = None,
        interval: float = DEFAULT_INTERVAL,
        progress: Optional[ProgressCallback] = None,
    ) -> List[Dict[str, Any]]:
        """:meth:`wait` for several jobs at once; return them in the order given.

        Each job is polled until it has ended as :meth:`wait` says; ``timeout``
        is for them all, and the error names every job not yet there.
        """
        if isinstance(job_ids, str):
            job_ids = [job_ids]
        identifiers = [entity_id(job_id, "job_id") for job_id in job_ids]
        if not identifiers:
            raise InvalidData("wait_all() needs at least one job id.")
        wanted = wanted_statuses(statuses, self._generation().name)
        return wait_for_jobs(
            lambda identifier: self.get_entity("job", identifier),
            identifiers,
            wanted,
            timeout=timeout,
            interval=interval,
            progress=progress,
        )

    # -- internals --------------------------------------------------------------

    def _find(self, query: Union[str, Query], options: FindOptions) -> List[Dict[str, Any]]:
        parsed = parsed_query(query)
        speaker = self._generation()
        check_operators(parsed, speaker.operators, f"v{speaker.name}")
        operation = speaker.find(parsed, options)
        return result_list(self._call(operation), operation.uri)

    # -- presentation (last: the name "str" shadows the builtin below it) ------------

    @staticmethod
    def str(obj: Any) -> str:
        """Pretty text of an entity or a result, with readable dates, for printing."""
        return codec.pretty(obj)
