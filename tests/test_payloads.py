"""Big payloads: 20,000 tasks go out gzipped and come back intact, unicode and dates included."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Iterator, List
from urllib.parse import urlsplit

import netsupport
import pytest

import accsyn_api
from accsyn_api.protocol import names
from accsyn_api.testing import LocalServer

TASK_COUNT = 20_000
NAMES = ("plate", "Ångström", "ショット", "fête_🎬", "кадр", "comp v003 (final)")


def _paths(count: int) -> List[str]:
    return [
        f"thefilm/seq_{n % 37:02d}/{NAMES[n % len(NAMES)]}/sh{n:05d}.{n:04d}.exr"
        for n in range(count)
    ]


CREATE_URI = {names.V1: "job/create", names.V3: "transfer/create"}


@pytest.fixture(scope="module", params=names.GENERATIONS, ids=lambda name: f"v{name}")
def server(request: pytest.FixtureRequest) -> Iterator[LocalServer]:
    with LocalServer(api_version=request.param) as local_server:
        yield local_server


@pytest.fixture(scope="module")
def relay(server: LocalServer) -> Iterator[netsupport.TcpRelay]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    with netsupport.TcpRelay((parts.hostname, parts.port), capture_limit=16 * 1024 * 1024) as r:
        yield r


@pytest.fixture(scope="module")
def session(server: LocalServer, relay: netsupport.TcpRelay) -> Iterator[accsyn_api.Session]:
    credentials = server.backend.credentials("employee")
    with accsyn_api.Session(
        proxy=relay.proxy,
        api_version=server.api_version,
        domain=credentials["domain"],
        username=credentials["username"],
        api_key=credentials["api_key"],
        timeout=(5, 60),
    ) as client:
        yield client


@pytest.fixture(scope="module")
def big_job(server: LocalServer, relay: netsupport.TcpRelay, session: accsyn_api.Session) -> dict:  # type: ignore[type-arg]
    paths = _paths(TASK_COUNT)
    spec = {
        "code": "big_delivery",
        "source": "share=projects",
        "destination": "lars@edit.com",
        "metadata": {"delivered": dt.datetime(2024, 5, 6, 7, 8, 9), "note": "ünïcødé"},
        "tasks": paths,
    }
    json_size = len(json.dumps(spec, default=str, ensure_ascii=False).encode("utf-8"))
    before = relay.bytes_up
    started = time.perf_counter()
    job = session.create("job", spec)
    elapsed = time.perf_counter() - started
    sent = relay.bytes_up - before
    request = bytes(relay.captured_up[before:])
    return {
        "job": job,
        "paths": paths,
        "json_size": json_size,
        "sent": sent,
        "request": request,
        "elapsed": elapsed,
    }


def test_a_big_create_travels_gzipped(
    server: LocalServer,
    big_job: dict,  # type: ignore[type-arg]
) -> None:
    request: bytes = big_job["request"]
    path = names.API_PATHS[server.api_version]
    assert request.startswith(f"POST {path}/event HTTP/1.1\r\n".encode())
    assert b'"gz_data":"' in request
    assert b'"data":' not in request and b"sh00042" not in request  # nothing in clear text
    # gzip then base64 still leaves it far below the JSON text.
    assert big_job["sent"] < big_job["json_size"] / 3, (big_job["sent"], big_job["json_size"])
    print(
        f"\n{TASK_COUNT} tasks: JSON {big_job['json_size']} bytes, sent {big_job['sent']} "
        f"bytes (gzipped, base64), create took {big_job['elapsed']:.2f} s"
    )


def test_the_server_unpacked_every_task(
    server: LocalServer,
    big_job: dict,  # type: ignore[type-arg]
) -> None:
    creates = [e for e in server.events if e.get("uri") == CREATE_URI[server.api_version]]
    event = creates[-1]
    assert "gz_data" not in event  # the server unpacked it
    assert event["data"]["tasks"] == big_job["paths"]
    assert event["data"]["metadata"]["note"] == "ünïcødé"
    job = big_job["job"]
    assert job["code"] == "big_delivery"
    # Metadata is free-form: a date sent there comes back as its text.
    assert job["metadata"]["delivered"] == "2024-05-06T07:08:09"


def test_a_reply_of_all_the_tasks_decodes_intact(
    server: LocalServer,
    session: accsyn_api.Session,
    relay: netsupport.TcpRelay,
    big_job: dict,  # type: ignore[type-arg]
) -> None:
    before = relay.bytes_down
    started = time.perf_counter()
    tasks = session.find(f"Task where job.id={big_job['job']['id']}")
    elapsed = time.perf_counter() - started
    assert len(tasks) == TASK_COUNT
    assert [t["source"]["path"] for t in tasks] == big_job["paths"]
    assert [t["destination"]["path"] for t in tasks] == big_job["paths"]
    assert len({t["id"] for t in tasks}) == TASK_COUNT
    assert all(isinstance(t["created"], dt.datetime) for t in tasks)
    if server.api_version == names.V1:  # v1.0 marks "not finished" with the epoch, v3 with null
        assert all(isinstance(t["finished"], dt.datetime) for t in tasks)
    else:
        assert all(t["finished"] is None for t in tasks)
    assert {t["status"] for t in tasks} == {"queued"}
    print(
        f"\nfind of {TASK_COUNT} tasks: {relay.bytes_down - before} bytes received "
        f"in {elapsed:.2f} s"
    )


def test_paging_through_all_the_tasks(
    session: accsyn_api.Session,
    big_job: dict,  # type: ignore[type-arg]
) -> None:
    paged = list(session.iter_find(f"Task where job.id={big_job['job']['id']}", page_size=7000))
    assert [t["source"]["path"] for t in paged] == big_job["paths"]


TASKS_ADDED = 4_000
"""Tasks added to an existing job in one call (the reference server checks duplicates pairwise)."""


def test_a_big_task_create_reply_decodes_intact(session: accsyn_api.Session) -> None:
    job = session.create(
        "job",
        {
            "code": "second_delivery",
            "source": "share=projects/thefilm/first.exr",
            "destination": "lars@edit.com",
        },
    )
    paths = [f"more/{NAMES[n % len(NAMES)]}/{n:05d}.exr" for n in range(TASKS_ADDED)]
    created = session.create("task", {"tasks": paths}, job["id"])
    assert created["success"] is True
    assert [t["source"]["path"] for t in created["tasks"]] == paths
    assert all(isinstance(t["created"], dt.datetime) for t in created["tasks"])
    assert len(session.find(f"Task where job.id={job['id']}")) == TASKS_ADDED + 1
