"""The clients a benchmark worker drives, behind one small interface, and what it counts.

Standard library only at import time: :mod:`worker` runs in the official
clients' virtual environments too, where this project is not installed. Each
:class:`Client` subclass imports the client it drives when made: ``lib`` (this
library), ``official`` (the ``accsyn_api`` of the environment, configured from
the ``ACCSYN_*`` variables as its users do) and ``raw``
(:class:`rawclient.RawClient`, the floor).

:func:`count_sockets` counts every TCP connection this process opens and every
byte it sends through plain sockets, so that a result can say how many
connections served the calls and whether a payload went compressed.
"""

from __future__ import annotations

import resource
import socket
from typing import Any, Callable, Dict, List

Spec = Dict[str, Any]
Result = Dict[str, Any]

COUNTS = {"connects": 0, "sent": 0}


def count_sockets() -> None:
    """Count connections opened and bytes sent by every plain socket of this process."""
    connect, sendall, send = socket.socket.connect, socket.socket.sendall, socket.socket.send

    def counted_connect(self: socket.socket, address: Any) -> None:
        COUNTS["connects"] += 1
        connect(self, address)

    def counted_sendall(self: socket.socket, data: Any, *flags: int) -> None:
        COUNTS["sent"] += len(data)
        sendall(self, data, *flags)

    def counted_send(self: socket.socket, data: Any, *flags: int) -> int:
        sent = send(self, data, *flags)
        COUNTS["sent"] += sent
        return sent

    socket.socket.connect = counted_connect  # type: ignore[method-assign,assignment]
    socket.socket.sendall = counted_sendall  # type: ignore[method-assign,assignment]
    socket.socket.send = counted_send  # type: ignore[method-assign,assignment]


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Make ``VmHWM`` start again from the current RSS (Linux; elsewhere nothing)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        pass


# -- the clients ------------------------------------------------------------------------


class Client:
    """The verbs a case needs, on one client; subclasses map them to the client's API."""

    def find_one_by_id(self, job_id: str) -> Any:
        return self.find_one(f"Job where id={job_id}")

    def find_one(self, query: str) -> Any:
        raise NotImplementedError

    def find(self, query: str) -> List[Any]:
        raise NotImplementedError

    def update_status(self, job_id: str, status: str) -> Any:
        raise NotImplementedError

    def iterate(self, query: str, page_size: int) -> int:
        raise NotImplementedError

    def create_job(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        raise NotImplementedError

    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> List[Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Close the connections."""


class LibClient(Client):
    """This library: one ``accsyn_api.Session``, as a user would make it."""

    def __init__(self, spec: Spec) -> None:
        import accsyn_api

        self.session = accsyn_api.Session(
            spec["workspace"],
            spec["username"],
            spec["api_key"],
            url=spec["url"],
            api_version=spec["api_version"],
            verify=spec.get("ca_bundle") or True,
        )
        self.session.login()

    def find_one(self, query: str) -> Any:
        return self.session.find_one(query)

    def find(self, query: str) -> List[Any]:
        return list(self.session.find(query))

    def update_status(self, job_id: str, status: str) -> Any:
        return self.session.update("job", job_id, {"status": status})

    def iterate(self, query: str, page_size: int) -> int:
        return sum(1 for _ in self.session.iter_find(query, page_size=page_size))

    def create_job(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        return dict(self.session.create("job", spec))

    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> List[Any]:
        return list(self.session.update_many("task", changes, entityid=job_id))

    def close(self) -> None:
        self.session.close()


class OfficialClient(Client):
    """The official client of the environment, set up from ``ACCSYN_*`` as its users do."""

    def __init__(self, spec: Spec) -> None:
        from accsyn_api.session import Session  # the official package of this environment

        self.v3 = spec["api_version"] != "1.0"
        self.session = Session()

    def find_one(self, query: str) -> Any:
        return self.session.find_one(query)

    def find(self, query: str) -> List[Any]:
        return list(self.session.find(query) or [])

    def update_status(self, job_id: str, status: str) -> Any:
        return self.session.update("job", job_id, {"status": status})

    def iterate(self, query: str, page_size: int) -> int:
        count = skip = 0
        while True:
            page = self.session.find(query, limit=page_size, skip=skip) or []
            count += len(page)
            if len(page) < page_size:
                return count
            skip += len(page)

    def create_job(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        created = self.session.create("job", spec)
        return dict(created[0] if isinstance(created, list) else created)

    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> List[Any]:
        if self.v3:
            return list(self.session.update_many("task", job_id, changes) or [])
        return list(self.session.update_many("task", changes, job_id) or [])


class RawAdapter(Client):
    """The floor: :class:`rawclient.RawClient` on one kept-alive connection."""

    def __init__(self, spec: Spec) -> None:
        from rawclient import RawClient

        self.raw = RawClient(
            spec["url"],
            spec["workspace"],
            spec["username"],
            spec["api_key"],
            spec["api_version"],
            spec.get("ca_bundle"),
        )
        self.raw.login()

    def find_one(self, query: str) -> Any:
        return self.raw.find_one("job", query.split(" where ", 1)[1])

    def find(self, query: str) -> List[Any]:
        condition = query.split(" where ", 1)[1] if " where " in query else None
        return list(self.raw.find("job", condition))

    def update_status(self, job_id: str, status: str) -> Any:
        return self.raw.update("job", job_id, {"status": status})

    def iterate(self, query: str, page_size: int) -> int:
        condition = query.split(" where ", 1)[1] if " where " in query else None
        return self.raw.iterate("job", condition, page_size)

    def create_job(self, spec: Dict[str, Any]) -> Dict[str, Any]:
        return dict(self.raw.create("job", spec)[0])

    def update_tasks(self, job_id: str, changes: List[Dict[str, Any]]) -> List[Any]:
        return list(
            self.raw.call("PUT", self.raw.uri("task", "edit"), data=changes, entityid=job_id)
        )

    def close(self) -> None:
        self.raw.close()


CLIENTS: Dict[str, Callable[[Spec], Client]] = {
    "lib": LibClient,
    "official": OfficialClient,
    "raw": RawAdapter,
}
