"""The Session: configuration and the verbs of the accsyn API.

A :class:`Session` reads its settings from arguments or the ``ACCSYN_*``
environment, logs in, and offers ``find``, ``find_one``, ``create``,
``update``, ``update_many``, ``delete_one`` and ``str`` as the official
documentation shows them, plus ``iter_find`` (a large result in pages) and
``wait`` (until a job reaches a status). Results are plain ``dict`` and
``list`` objects with dates decoded to :class:`datetime.datetime`.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from . import codec
from .errors import ConfigurationError, InvalidData, InvalidQuery, NotFound, RequestTimeout
from .query import BooleanExpression, Comparison, Query, parse
from .retry import (
    DEFAULT_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET,
    RetryCreates,
    check_retry_settings,
)
from .tls import Verify
from .transport import (
    DEFAULT_REGISTRY_URL,
    DEFAULT_TIMEOUT,
    Timeout,
    Transport,
    proxy_settings,
    resolve_base_url,
)

__all__ = ["Session"]

API_PATH = "/api/v1.0"

# How each entity type is addressed: (prefix of the uri, "type" sent in find data).
_FIND_TYPE = {"job": 1, "queue": 2}
_URI_PREFIX = {"job": "job", "queue": "job", "task": "job/task", "site": "organization/site"}


def _entity_type(entitytype: str) -> str:
    if not isinstance(entitytype, str) or not entitytype.strip():
        raise InvalidData(
            f"The entity type must be a non-empty string such as 'job' or 'task', "
            f"not {entitytype!r}."
        )
    return entitytype.strip().lower()


def _entity_id(entityid: object, what: str = "entityid") -> str:
    if not isinstance(entityid, str) or not entityid.strip():
        raise InvalidData(
            f"{what} must be the id of an entity as a string "
            f"(e.g. '614d660de50d45bb027c9bdd'), not {entityid!r}."
        )
    return entityid.strip()


def _setting(value: Optional[str], *variables: str) -> Optional[str]:
    """An explicit argument wins; else the first environment variable that is set.

    Blank text counts as not given, so ``url=""`` falls back to ``ACCSYN_URL``.
    """
    if value is not None and str(value).strip():
        return str(value).strip()
    for variable in variables:
        found = os.environ.get(variable, "").strip()
        if found:
            return found
    return None


def _require(value: Optional[str], argument: str, variable: str) -> str:
    if not value:
        raise ConfigurationError(
            f"No {argument} given: pass {argument}=... to Session() "
            f"or set the environment variable {variable}."
        )
    return value


def _api_url(url: str) -> str:
    """``http://host:port`` (or with ``/api/v1.0`` already) -> the API base URL."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"url must start with http:// or https://, not {url!r} "
            "(for example url='http://127.0.0.1:8181')."
        )
    return url if url.endswith(API_PATH) else url + API_PATH


class Session:
    """A connection to one accsyn workspace.

    Settings come from the arguments, else the environment:

    ============  ===================================  =============================
    argument      environment variable                 meaning
    ============  ===================================  =============================
    ``domain``    ``ACCSYN_DOMAIN`` (``ACCSYN_ORG``)   the workspace, e.g. ``acmevfx``
    ``username``  ``ACCSYN_API_USER``                  the user's e-mail address
    ``api_key``   ``ACCSYN_API_KEY``                   the user's secret API key
    ``url``       ``ACCSYN_URL``                       server address, skips the registry
    ``proxy``     ``ACCSYN_PROXY``                     ``accsyn:<host>:<port>`` or
                                                       ``socks5:<host>:<port>``
    ============  ===================================  =============================

    Without ``url`` (or ``hostname``), the workspace's host is looked up in the
    accsyn registry. ``verify`` is ``True`` (check TLS certificates against
    certifi's bundle), ``"system"`` (against the operating system's trust
    store: ``pip install 'accsyn-sdk[truststore]'``, Python 3.10+), ``False``
    (do not check; a warning is logged) or the path of a CA bundle.
    ``timeout`` is seconds, or (connect, read). ``pool_size`` is how many
    connections are kept open for the threads sharing the session.

    Failed calls are repeated with the same event id (see the Reliability
    page): up to ``retries`` times, after a random back-off of up to
    ``backoff`` seconds doubling each time, while less than ``retry_budget``
    seconds have passed since the call began. A create whose outcome is
    unknown (connection lost, reply late or cut short) is repeated only if
    ``retry_creates`` is ``True``, or ``"auto"`` and the server ignores
    repeated events; ``False`` never repeats it. When a call fails for good,
    the error says whether the work may have been done (``error.executed``).
    ``verbose=True`` prints this session's requests and retries to stderr.

    The session logs in when created; use it as a context manager, or call
    :meth:`close`, to release its connections::

        with accsyn_api.Session() as session:
            jobs = session.find("Job where status=running")
    """

    def __init__(
        self,
        domain: Optional[str] = None,
        username: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        url: Optional[str] = None,
        hostname: Optional[str] = None,
        port: Optional[int] = None,
        proxy: Optional[str] = None,
        verify: Verify = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
        pool_size: int = 10,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
        retry_creates: RetryCreates = "auto",
        verbose: bool = False,
        page_size: int = 500,
        registry_url: str = DEFAULT_REGISTRY_URL,
        login: bool = True,
    ) -> None:
        self.domain = _require(
            _setting(domain, "ACCSYN_DOMAIN", "ACCSYN_ORG"), "domain", "ACCSYN_DOMAIN"
        )
        self.username = _require(
            _setting(username, "ACCSYN_API_USER"), "username", "ACCSYN_API_USER"
        )
        key = _require(_setting(api_key, "ACCSYN_API_KEY"), "api_key", "ACCSYN_API_KEY")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ConfigurationError(f"page_size must be a positive integer, not {page_size!r}.")
        self.page_size = page_size
        check_retry_settings(retries, backoff, retry_budget, retry_creates)

        relay_url, proxies = (None, None)
        proxy = _setting(proxy, "ACCSYN_PROXY")
        if proxy:
            relay_url, proxies = proxy_settings(proxy)
        url = _setting(url, "ACCSYN_URL")
        if url:
            base_url = _api_url(url)
        elif hostname:
            base_url = f"https://{hostname}:{port or 443}{API_PATH}"
        elif relay_url:
            base_url = relay_url
        else:
            base_url = resolve_base_url(
                self.domain,
                registry_url=registry_url,
                verify=verify,
                timeout=timeout,
                proxies=proxies,
            )
        self.url = base_url
        self._transport = Transport(
            base_url=base_url,
            domain=self.domain,
            username=self.username,
            api_key=key,
            verify=verify,
            timeout=timeout,
            proxies=proxies,
            pool_size=pool_size,
            retries=retries,
            backoff=backoff,
            retry_budget=retry_budget,
            retry_creates=retry_creates,
            verbose=verbose,
        )
        if login:
            try:
                self._transport.login()
            except BaseException:
                self._transport.close()
                raise

    # -- life cycle ---------------------------------------------------------

    @property
    def clearance(self) -> Optional[str]:
        """The role the server gave this user at login: ``admin``, ``employee``, ``user``..."""
        return self._transport.clearance

    @property
    def user_id(self) -> Optional[str]:
        """The id of the logged-in user."""
        return self._transport.user_id

    def close(self) -> None:
        """Release the pooled connections. The session cannot be used afterwards."""
        self._transport.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Session domain={self.domain!r} username={self.username!r} url={self.url!r}>"

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
    ) -> List[Dict[str, Any]]:
        """Return the entities matching ``query`` as a list of dicts.

        ``query`` is ``"<entity type>"`` or ``"<entity type> where <expression>"``,
        e.g. ``'Job where code="x and y.png"'``, or a :class:`~accsyn_api.Query`
        built with ``accsyn_api.select("Job").where(code=name)``. It is checked
        before anything is sent: a malformed query raises
        :class:`~accsyn_api.InvalidQuery`.

        Jobs that finished more than an hour ago are only returned with
        ``finished=True``, archived ones (after 14 days) with ``archived=True``.
        ``attributes`` limits the keys returned (``id`` always comes);
        ``limit`` and ``skip`` page. ``offline`` is passed on to the server as
        the wire protocol lists it; its meaning there is not published, and
        the reference server ignores it.
        """
        parsed = self._parse(query)
        uri, data, expression = self._find_request(
            parsed,
            attributes=attributes,
            finished=finished,
            archived=archived,
            offline=offline,
            limit=limit,
            skip=skip,
        )
        reply = self._transport.call("GET", uri, data=data or None, query=expression)
        result = reply.get("result", [])
        return list(result) if isinstance(result, list) else [result]

    def find_one(
        self,
        query: Union[str, Query],
        attributes: Optional[Iterable[str]] = None,
        finished: Optional[bool] = None,
        archived: Optional[bool] = None,
        offline: Optional[bool] = None,
    ) -> Optional[Dict[str, Any]]:
        """Return the first entity matching ``query``, or ``None`` when nothing matches.

        Only one entity is asked of the server (``limit=1``).
        """
        found = self.find(
            query,
            attributes=attributes,
            finished=finished,
            archived=archived,
            offline=offline,
            limit=1,
        )
        return found[0] if found else None

    def iter_find(
        self,
        query: Union[str, Query],
        attributes: Optional[Iterable[str]] = None,
        finished: Optional[bool] = None,
        archived: Optional[bool] = None,
        offline: Optional[bool] = None,
        page_size: Optional[int] = None,
    ) -> Iterator[Dict[str, Any]]:
        """Yield the entities matching ``query``, fetching ``page_size`` at a time.

        Memory stays bounded by one page however large the result. Entities
        created or removed while iterating may shift the pages: an entity can
        then be seen twice or missed.
        """
        size = self.page_size if page_size is None else page_size
        if not isinstance(size, int) or size < 1:
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
        allow_duplicates: bool = True,
    ) -> Any:
        """Create one entity (``data`` a dict) or several (``data`` a list of dicts).

        Returns the created entity as a dict, or a list of them when a list was
        given. Tasks are added to an existing job, whose id is ``entityid``::

            session.create("task", {"tasks": ["/path/file.mov"]}, job["id"])

        and the call returns ``{"success": True, "tasks": [...]}``. A task with the
        same source and destination as an existing one retries that task, unless
        ``allow_duplicates=False``, which makes the server refuse it instead.
        """
        entity = _entity_type(entitytype)
        if entity == "task":
            return self._create_tasks(data, entityid, allow_duplicates)
        if entityid is not None:
            raise InvalidData(
                f"entityid is only used when creating tasks (the job id); "
                f"remove it when creating a {entity}."
            )
        if isinstance(data, Mapping):
            payload: Any = dict(data)
            payload["allow_duplicates"] = bool(allow_duplicates)
        elif isinstance(data, list) and data and all(isinstance(d, Mapping) for d in data):
            payload = [dict(d, allow_duplicates=bool(allow_duplicates)) for d in data]
        else:
            raise InvalidData(
                f"create() needs a dict (one {entity}) or a non-empty list of dicts, "
                f"not {type(data).__name__}."
            )
        reply = self._transport.call("POST", f"{self._prefix(entity)}/create", data=payload)
        created = reply.get("result", [])
        if isinstance(data, Mapping) and isinstance(created, list):
            return created[0] if created else None
        return created

    def update(self, entitytype: str, entityid: str, data: Mapping[str, Any]) -> Dict[str, Any]:
        """Change attributes of one entity and return it as it is now.

        For a job, ``status`` may be set to ``pending``, ``waiting``, ``paused``,
        ``aborted`` or ``done``. Tasks are changed with :meth:`update_many`.
        """
        entity = _entity_type(entitytype)
        job_or_other_id = _entity_id(entityid)
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
        reply = self._transport.call(
            "PUT", f"{self._prefix(entity)}/edit", data=dict(data), entityid=job_or_other_id
        )
        result = reply.get("result")
        if isinstance(result, list):
            if not result:
                raise NotFound(f"The server returned no {entity} with id {job_or_other_id}.")
            return dict(result[0])
        return dict(result) if isinstance(result, Mapping) else {}

    def update_many(
        self,
        entitytype: str,
        data: Union[str, List[Mapping[str, Any]]],
        entityid: Union[str, List[Mapping[str, Any]], None] = None,
    ) -> List[Dict[str, Any]]:
        """Change several tasks of one job; return them as a task find would.

        Both orders seen in the documentation work::

            session.update_many("task", [{"id": task_id, "status": "onhold"}], entityid=job_id)
            session.update_many("task", job_id, [{"id": task_id, "status": "excluded"}])

        Only ``status``, ``priority`` and ``metadata`` of a task can change. The
        server applies all the changes or none.
        """
        entity = _entity_type(entitytype)
        if isinstance(data, str) and isinstance(entityid, list):
            data, entityid = entityid, data
        if not isinstance(entityid, str):
            raise InvalidData(
                "update_many() needs the job id and a list of changes: "
                "update_many('task', <job id>, [{'id': <task id>, 'status': 'excluded'}])."
            )
        job_id = _entity_id(entityid)
        if (
            not isinstance(data, list)
            or not data
            or not all(isinstance(item, Mapping) and item.get("id") for item in data)
        ):
            raise InvalidData(
                "update_many() needs a non-empty list of dicts, each with the 'id' of the "
                "entity to change, e.g. [{'id': <task id>, 'status': 'excluded'}]."
            )
        changes = [dict(item) for item in data]
        reply = self._transport.call(
            "PUT", f"{self._prefix(entity)}/edit", data=changes, entityid=job_id
        )
        result = reply.get("result", [])
        return list(result) if isinstance(result, list) else [result]

    def delete_one(self, entitytype: str, entityid: str) -> bool:
        """Delete one entity, e.g. ``session.delete_one('job', job_id)``; True when done.

        Tasks cannot be deleted: set their status to ``excluded`` instead.
        """
        entity = _entity_type(entitytype)
        self._transport.call(
            "DELETE", f"{self._prefix(entity)}/delete", entityid=_entity_id(entityid)
        )
        return True

    # -- waiting --------------------------------------------------------------

    def wait(
        self,
        job_id: str,
        statuses: Union[str, Iterable[str]] = ("done",),
        *,
        timeout: Optional[float] = None,
        interval: float = 2.0,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> Dict[str, Any]:
        """Poll a job until its status is one of ``statuses``; return the job.

        ``statuses`` is one status or several. ``progress`` is called with the
        job after every poll (to show a bar). Raises
        :class:`~accsyn_api.RequestTimeout` when ``timeout`` seconds pass first
        (nothing was changed: ``executed`` is ``False``), and
        :class:`~accsyn_api.NotFound` if the job disappears.
        """
        if isinstance(statuses, str):  # wait(job_id, "done") means one status, not letters
            statuses = (statuses,)
        wanted = {status.lower() for status in statuses}
        identifier = _entity_id(job_id, "job_id")
        deadline = None if timeout is None else time.monotonic() + timeout
        query = Query("Job").where(id=identifier)
        while True:
            job = self.find_one(query, finished=True)
            if job is None:
                raise NotFound(f"Job {identifier} does not exist or is not visible to you.")
            if progress is not None:
                progress(job)
            if str(job.get("status", "")).lower() in wanted:
                return job
            if deadline is not None and time.monotonic() + interval > deadline:
                raise RequestTimeout(
                    f"Job {identifier} is still {job.get('status')!r} after {timeout} s; "
                    f"waited for {sorted(wanted)}.",
                    executed=False,
                )
            time.sleep(interval)

    # -- internals --------------------------------------------------------------

    def _create_tasks(
        self, data: Any, job_id: Optional[str], allow_duplicates: bool
    ) -> Dict[str, Any]:
        if job_id is None:
            raise InvalidData(
                "Tasks are created within a job: pass the job id as the third argument, "
                "session.create('task', {'tasks': [...]}, job_id)."
            )
        job_id = _entity_id(job_id, "The job id")
        tasks = data.get("tasks") if isinstance(data, Mapping) else data
        if not isinstance(tasks, list) or not tasks:
            raise InvalidData(
                "create('task', ...) needs {'tasks': [...]}: a non-empty list of source paths, "
                "or of {'source': ..., 'destination': ...} dicts."
            )
        payload = dict(data) if isinstance(data, Mapping) else {}
        payload["tasks"] = list(tasks)
        payload["allow_duplicates"] = bool(allow_duplicates)
        # The original client sends the job id as "query"; "id" says the same for newer servers.
        reply = self._transport.call(
            "POST", "job/task/create", data=payload, query=job_id, entityid=job_id
        )
        return {"success": bool(reply.get("success", True)), "tasks": list(reply.get("result", []))}

    @staticmethod
    def _parse(query: Union[str, Query]) -> Query:
        if isinstance(query, Query):
            return query
        if not isinstance(query, str):
            raise InvalidData(
                f"A query is a string such as 'Job where status=running' (or a Query "
                f"built with accsyn_api.select), not {query!r}."
            )
        return parse(query)

    @staticmethod
    def _prefix(entity: str) -> str:
        return _URI_PREFIX.get(entity, entity)

    def _find_request(
        self, parsed: Query, **options: Any
    ) -> Tuple[str, Dict[str, Any], Optional[str]]:
        """The uri, data and query expression of a find, as the wire protocol lays them out."""
        entity = parsed.entity.lower()
        expression = parsed.expression_text or None
        data: Dict[str, Any] = {}
        if entity == "entitytypes":
            return "entitytypes", data, None
        if entity == "attributes":
            # 'attributes where entitytype=job' travels as data, not as a query.
            for comparison in _equalities(parsed):
                value: Any = comparison.value
                if comparison.attribute.lower() in ("create", "update"):
                    value = value.lower() == "true"
                data[comparison.attribute.lower()] = value
            return "attributes", data, None
        if entity in _FIND_TYPE:
            data["type"] = _FIND_TYPE[entity]
        attributes = options.pop("attributes")
        if attributes is not None:
            if isinstance(attributes, str):
                attributes = [attributes]
            data["attributes"] = [str(name) for name in attributes]
        for name, value in options.items():
            if value is None:
                continue
            if name in ("limit", "skip") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                raise InvalidData(f"{name} must be a non-negative integer, not {value!r}.")
            data[name] = value
        return f"{self._prefix(entity)}/find", data, expression

    # -- presentation (last: the name "str" shadows the builtin below it) ------------

    @staticmethod
    def str(obj: Any) -> str:
        """Pretty text of an entity or a result, with readable dates, for printing."""
        return codec.pretty(obj)


def _equalities(parsed: Query) -> List[Comparison]:
    """The ``attr=value`` comparisons of a query made only of them joined by AND."""
    expression = parsed.expression
    if expression is None:
        return []
    operands = expression.operands if isinstance(expression, BooleanExpression) else (expression,)
    if (isinstance(expression, BooleanExpression) and expression.operator != "and") or not all(
        isinstance(item, Comparison) and item.operator == "=" for item in operands
    ):
        raise InvalidQuery(
            f"'{parsed}' can only hold attr=value conditions joined by AND, "
            "e.g. 'attributes where entitytype=job'."
        )
    return [item for item in operands if isinstance(item, Comparison)]
