"""Case 9: the reference server alone, driven by the raw client so that the server's cost shows.

* requests/s of ``find_one`` by id, and the server's CPU per request (from
  ``/proc/<pid>/stat``);
* ``find_one`` by id at each size of the profile (1k/10k/50k jobs): O(1) means
  flat;
* one page of 500 in the middle of the largest result, each time after a
  write (so that no cached match list helps), and iterating it all in pages;
* the server's resident memory before and after many finds of 5,000 jobs;
* ``LocalServer`` start+stop in-process, with a ready Backend and with a new one.
"""

from __future__ import annotations

import statistics
import time

from bench import GENERATIONS, LIB, RAW, Bench, Column
from cases import LATEST_EDIT, SEEDED
from servers import BenchServer, running_server

PAGE_REPEATS = 10


def case_9_server(bench: Bench) -> None:
    """The reference server alone (see the module docstring)."""
    _requests_per_second(bench)
    _sizes(bench)
    _memory_after_finds(bench)
    _local_server(bench)


def _requests_per_second(bench: Bench) -> None:
    profile = bench.profile
    with running_server() as server:
        for round_index in range(profile.rounds):
            print(f"  requests/s round {round_index + 1}/{profile.rounds}", flush=True)
            for v in GENERATIONS:
                cpu = server.cpu_seconds()
                result = bench.run(
                    Column(RAW, v),
                    server,
                    "calls",
                    op="find_one",
                    job_id=LATEST_EDIT,
                    calls=profile.calls,
                    warmup=profile.warmup,
                )
                if result is None:
                    continue
                requests = profile.calls + profile.warmup + 1
                per_request = (server.cpu_seconds() - cpu) * 1000 / requests
                bench.results.add(
                    f"9. find_one by id, raw calls/s (v{v})", RAW, result["calls_per_s"]
                )
                bench.results.add(f"9. server CPU per find_one, ms (v{v})", RAW, per_request)


def _sizes(bench: Bench) -> None:
    profile = bench.profile
    for size in profile.server_sizes:
        with running_server() as server:
            print(f"  seeding {size:,} jobs", flush=True)
            started = time.perf_counter()
            ids = server.seed(size)
            seeding = time.perf_counter() - started
            bench.results.add(f"9. seeding {size:,} jobs (1,000 per create), s", RAW, seeding)
            middle = ids[len(ids) // 2]
            for _ in range(profile.rounds):
                result = bench.run(
                    Column(RAW, "1.0"),
                    server,
                    "calls",
                    op="find_one",
                    job_id=middle,
                    calls=profile.calls // 4,
                    warmup=profile.warmup,
                )
                if result is not None:
                    bench.results.add(
                        f"9. find_one by id at {size:,} jobs, ms", RAW, 1000 / result["calls_per_s"]
                    )
            if size == max(profile.server_sizes):
                _pages(bench, server, size, ids[0])


def _pages(bench: Bench, server: BenchServer, size: int, job_id: str) -> None:
    profile = bench.profile
    raw = server.client("1.0")
    skip = size // 2
    times = []
    for index in range(PAGE_REPEATS):
        raw.update("job", job_id, {"priority": 10 + index})  # a write: no cached match list
        started = time.perf_counter()
        page = raw.find("job", None, limit=profile.page_size, skip=skip)
        times.append(time.perf_counter() - started)
        if len(page) != profile.page_size:
            bench.results.note("9", f"page at {skip} held {len(page)} jobs")
    bench.results.add(
        f"9. page of {profile.page_size} at skip {skip:,} of {size:,}, ms",
        RAW,
        statistics.median(times) * 1000,
    )
    for _ in range(2):
        started = time.perf_counter()
        count = raw.iterate("job", f"code={SEEDED.split('=')[1]}", profile.page_size)
        elapsed = time.perf_counter() - started
        bench.results.add(
            f"9. iterate {count:,} jobs in pages, ms per 1,000",
            RAW,
            elapsed * 1000 / (count / 1000),
        )
    raw.close()


def _memory_after_finds(bench: Bench) -> None:
    profile = bench.profile
    finds = profile.server_finds
    with running_server() as server:
        server.seed(profile.big_find)
        raw = server.client("1.0")
        raw.find("job", SEEDED.split(" where ", 1)[1])
        before = after_ten = server.rss_mb()
        print(f"  {finds} finds of {profile.big_find:,} jobs", flush=True)
        for index in range(finds):
            raw.find("job", SEEDED.split(" where ", 1)[1])
            if index == 9:
                after_ten = server.rss_mb()
        after = server.rss_mb()
        raw.close()
    row = f"9. server RSS, MB, after 10 / {finds} finds of {profile.big_find:,} jobs"
    bench.results.add(row + " (before)", RAW, before)
    bench.results.add(row + " (after 10)", RAW, after_ten)
    bench.results.add(row + f" (after {finds})", RAW, after)


def _local_server(bench: Bench) -> None:
    profile = bench.profile
    for _ in range(profile.rounds):
        result = bench.run(
            Column(LIB, "1.0"), None, "local_server", repeats=profile.local_server_repeats
        )
        if result is not None:
            bench.results.add(
                "9. LocalServer start+stop (ready Backend), ms", LIB, result["start_stop_ms"]
            )
            bench.results.add(
                "9. LocalServer() + start+stop (new Backend), ms",
                LIB,
                result["new_backend_start_stop_ms"],
            )
