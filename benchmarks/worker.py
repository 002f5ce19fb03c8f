"""One measurement in a fresh process: ``python benchmarks/worker.py '<JSON spec>'``.

Started by ``benchmarks/run.py``, once per client, case and round, with the
interpreter of the client measured (the official clients run in their own
virtual environments). The spec names the ``client`` (see :mod:`clients`), the
``task`` (one of :data:`TASKS`) and its parameters; the last line printed is
the JSON result. Standard library only until the client is made.
"""

from __future__ import annotations

import gc
import importlib
import json
import statistics
import sys
import threading
import time
from typing import Any, Callable, Dict, List

from clients import CLIENTS, COUNTS, Client, Result, Spec, count_sockets, reset_peak_rss, rss_mb


def _client(spec: Spec) -> Client:
    return CLIENTS[spec["client"]](spec)


def _timed_calls(call: Callable[[int], Any], calls: int) -> Dict[str, float]:
    """Wall and process CPU seconds of ``calls`` calls of ``call(index)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(calls):
        call(index)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


def calls(spec: Spec) -> Result:
    """Small calls on one thread: ``find_one`` by id or ``update`` of a status."""
    client = _client(spec)
    job_id, count = spec["job_id"], spec["calls"]
    if spec["op"] == "find_one":

        def call(index: int) -> Any:
            return client.find_one_by_id(job_id)

    else:
        statuses = ("paused", "waiting")

        def call(index: int) -> Any:
            return client.update_status(job_id, statuses[index % 2])

    _timed_calls(call, spec["warmup"])
    timing = _timed_calls(call, count)
    client.close()
    return {
        "calls_per_s": count / timing["wall"],
        "cpu_ms_per_call": timing["cpu"] * 1000 / count,
        "connections": COUNTS["connects"],  # login, warm-up and calls
    }


def threads(spec: Spec) -> Result:
    """``find_one`` by id from ``threads`` threads sharing one client (raw: one each)."""
    thread_count, count, job_id = spec["threads"], spec["calls"], spec["job_id"]
    shared = None if spec["client"] == "raw" else _client(spec)
    clients = [shared or _client(spec) for _ in range(thread_count)]
    errors: List[str] = []

    def work(client: Client, share: int) -> None:
        for _ in range(share):
            try:
                found = client.find_one_by_id(job_id)
                if not found or found["id"] != job_id:
                    errors.append(f"wrong reply {str(found)[:100]}")
            except Exception as error:  # counted, not fatal: the case reports errors
                errors.append(f"{type(error).__name__}: {str(error)[:200]}")

    for client in clients:
        work(client, spec["warmup"] // thread_count + 1)
    workers = [
        threading.Thread(target=work, args=(client, count // thread_count)) for client in clients
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    for client in set(clients):
        client.close()
    done = (count // thread_count) * thread_count
    return {"calls_per_s": done / elapsed, "errors": len(errors), "first_error": errors[:1]}


def find_all(spec: Spec) -> Result:
    """One find of a large result, ``repeats`` times: seconds (median) and entities."""
    client = _client(spec)
    client.find(spec["query"])  # warm-up
    times, found = [], 0
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        found = len(client.find(spec["query"]))
        times.append(time.perf_counter() - started)
    client.close()
    return {"seconds": statistics.median(times), "entities": found}


def decode(spec: Spec) -> Result:
    """Decoding the reply bytes of a large find, per MB, with the client's own decoder."""
    from rawclient import RawClient

    raw = RawClient(
        spec["url"], spec["workspace"], spec["username"], spec["api_key"], spec["api_version"]
    )
    raw.login()
    condition = spec["query"].split(" where ", 1)[1] if " where " in spec["query"] else None
    data: Dict[str, Any] = {"type": 1} if spec["api_version"] == "1.0" else {}
    body = raw.call_bytes("GET", raw.uri("job", "find"), data=data, query=condition)
    raw.close()
    decoder = _decoder(spec)
    decoder(body)  # warm-up
    times = []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        decoder(body)
        times.append(time.perf_counter() - started)
    megabytes = len(body) / 1e6
    return {"ms_per_mb": statistics.median(times) * 1000 / megabytes, "mb": megabytes}


def _decoder(spec: Spec) -> Callable[[bytes], Any]:
    if spec["client"] == "lib":
        from accsyn_api import codec

        utc = spec["api_version"] != "1.0"
        return lambda body: codec.decode(body, utc=utc)
    if spec["client"] == "official":
        from accsyn_api.session import JSONDecoder  # type: ignore[attr-defined]  # official

        return lambda body: JSONDecoder().decode(body.decode("utf-8"))
    return json.loads


def find_one_query(spec: Spec) -> Result:
    """``find_one`` against a find of everything, on a query matching many entities."""
    client = _client(spec)
    query = spec["query"]
    client.find_one(query)
    client.find(query)
    one, everything = [], []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        client.find_one(query)
        one.append(time.perf_counter() - started)
        started = time.perf_counter()
        client.find(query)
        everything.append(time.perf_counter() - started)
    client.close()
    find_one_s, find_s = statistics.median(one), statistics.median(everything)
    return {
        "find_one_ms": find_one_s * 1000,
        "find_ms": find_s * 1000,
        "speedup": find_s / find_one_s,
    }


def iterate(spec: Spec) -> Result:
    """Iterate a large result in pages: seconds, entities and peak RSS growth (MB)."""
    client = _client(spec)
    gc.collect()
    before = rss_mb()
    reset_peak_rss()
    started = time.perf_counter()
    count = client.iterate(spec["query"], spec["page_size"])
    elapsed = time.perf_counter() - started
    growth = rss_mb("VmHWM") - before
    client.close()
    return {"seconds": elapsed, "entities": count, "peak_rss_growth_mb": growth}


def startup(spec: Spec) -> Result:
    """Seconds to import the client (``requests``: requests alone), then to make a session."""
    module = "requests" if spec["client"] == "requests" else spec.get("module", "accsyn_api")
    started = time.perf_counter()
    importlib.import_module(module)
    imported = time.perf_counter() - started
    if spec["client"] == "requests":
        return {"import_ms": imported * 1000}
    started = time.perf_counter()
    client = _client(spec)
    login = time.perf_counter() - started
    client.close()
    return {"import_ms": imported * 1000, "login_ms": login * 1000}


def bulk(spec: Spec) -> Result:
    """A job of ``tasks`` tasks created, then all its tasks changed with one update."""
    client = _client(spec)
    paths = [f"bulk/{spec['tag']}/f{index:05d}.exr" for index in range(spec["tasks"])]
    job_spec = {"source": "share=projects", "destination": "lars@edit.com", "tasks": paths}
    job_spec["code"] = f"bulk_{spec['tag']}"
    payload = len(json.dumps(job_spec))
    sent = COUNTS["sent"]
    started = time.perf_counter()
    job = client.create_job(job_spec)
    created = time.perf_counter() - started
    create_sent = COUNTS["sent"] - sent
    task_ids = [task["id"] for task in _tasks_of(spec, job["id"])]
    changes = [{"id": task_id, "status": "onhold"} for task_id in task_ids]
    sent = COUNTS["sent"]
    started = time.perf_counter()
    result: Result = {"create_s": created, "job_id": job["id"], "update_error": None}
    try:
        updated = client.update_tasks(job["id"], changes)
    except Exception as error:  # reported: one client's failure is a finding, not a crash
        result["update_error"] = f"{type(error).__name__}: {str(error)[:200]}"
        updated = []
    update_seconds = time.perf_counter() - started
    update_sent = COUNTS["sent"] - sent
    intact = len(task_ids) == spec["tasks"] and len(updated) == spec["tasks"]
    intact = intact and all(task.get("status") == "onhold" for task in updated)
    client.close()
    result.update(
        update_s=None if result["update_error"] else update_seconds,
        create_sent_kb=create_sent / 1024,
        update_sent_kb=update_sent / 1024,
        compressed=create_sent < payload / 2 and update_sent < len(json.dumps(changes)) / 2,
        intact=intact,
    )
    return result


def _tasks_of(spec: Spec, job_id: str) -> List[Dict[str, Any]]:
    """The tasks of a job, read with the raw client (not part of what is measured)."""
    from rawclient import RawClient

    raw = RawClient(
        spec["url"], spec["workspace"], spec["username"], spec["api_key"], spec["api_version"]
    )
    raw.login()
    tasks = raw.find("task", f"job.id={job_id}")
    raw.close()
    return list(tasks)


def local_server(spec: Spec) -> Result:
    """``LocalServer`` start+stop, with a ready Backend and with a new one (ms, medians)."""
    from accsyn_api.testing import LocalServer
    from accsyn_api.testing.backend import Backend

    backend = Backend()
    LocalServer(backend=backend).start().stop()  # warm-up
    start_stop, with_backend = [], []
    for _ in range(spec["repeats"]):
        started = time.perf_counter()
        LocalServer(backend=backend).start().stop()
        start_stop.append(time.perf_counter() - started)
        started = time.perf_counter()
        LocalServer().start().stop()
        with_backend.append(time.perf_counter() - started)
    return {
        "start_stop_ms": statistics.median(start_stop) * 1000,
        "new_backend_start_stop_ms": statistics.median(with_backend) * 1000,
    }


TASKS: Dict[str, Callable[[Spec], Result]] = {
    "calls": calls,
    "threads": threads,
    "find_all": find_all,
    "decode": decode,
    "find_one_query": find_one_query,
    "iterate": iterate,
    "startup": startup,
    "bulk": bulk,
    "local_server": local_server,
}


def main() -> None:
    """Run the task of the spec given as the only argument; print its result as JSON."""
    spec = json.loads(sys.argv[1])
    count_sockets()
    result = TASKS[spec["task"]](spec)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
