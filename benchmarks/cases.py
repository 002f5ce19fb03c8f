"""The benchmark's cases 1-9 (see ``docs/performance.rst``), each a function of a :class:`Bench`.

Every case starts the ``accsyn server`` process(es) it needs, fills them
with jobs when it needs many, and runs each client's worker per round,
interleaved. Rows are named ``"<case>. <what>, <unit> (v<generation>)"``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from bench import GENERATIONS, OFFICIAL, RAW, Bench, Column
from servers import SEED_CODE, BenchServer, running_server

LATEST_EDIT = "614d660de50d45bb027c9bdd"
"""A job of the demo workspace: the one ``find_one`` by id asks for."""
SEEDED = f"Job where code={SEED_CODE}"


def _record(bench: Bench, row: str, column: Column, value: Optional[float]) -> None:
    if value is not None:
        bench.results.add(row, OFFICIAL if column.kind == OFFICIAL else column.kind, value)


def _each_round(
    bench: Bench,
    columns: List[Column],
    rounds: int,
    measure: Callable[[Column], None],
) -> None:
    for round_index in range(rounds):
        print(f"  round {round_index + 1}/{rounds}", flush=True)
        for column in bench.turned(columns, round_index):
            measure(column)


def _both_generations(bench: Bench, official: bool = True) -> List[Column]:
    return [c for v in GENERATIONS for c in bench.columns(v, official)]


def case_1_small_calls(bench: Bench, tls: bool = False) -> None:
    """Small calls on one thread: ``find_one`` by id and ``update`` of a status."""
    case = "2" if tls else "1"
    profile = bench.profile
    with running_server(["--tls"] if tls else []) as server:
        job_id = server.seed(1, code="small_calls")[0]
        columns = _both_generations(bench, official=not tls)
        if tls:
            bench.results.note(
                case,
                "official clients skipped: they reach a local server only "
                "through their plain-HTTP proxy setting (ACCSYN_PROXY)",
            )

        def measure(column: Column) -> None:
            v = column.api_version
            for op, target in (("find_one", LATEST_EDIT), ("update", job_id)):
                result = bench.run(
                    column,
                    server,
                    "calls",
                    op=op,
                    job_id=target,
                    calls=profile.calls,
                    warmup=profile.warmup,
                )
                if result is None:
                    continue
                what = "find_one by id" if op == "find_one" else "update status"
                _record(bench, f"{case}. {what}, calls/s (v{v})", column, result["calls_per_s"])
                _record(
                    bench,
                    f"{case}. {what}, client CPU ms/call (v{v})",
                    column,
                    result["cpu_ms_per_call"],
                )
                _record(
                    bench, f"{case}. {what}, TCP connections (v{v})", column, result["connections"]
                )

        _each_round(bench, columns, profile.rounds, measure)


def case_2_tls(bench: Bench) -> None:
    """Case 1 over HTTPS (``accsyn server --tls``, verified with the printed CA bundle)."""
    case_1_small_calls(bench, tls=True)


def case_3_4_big_find(bench: Bench, cases: str = "34") -> None:
    """A find of 5,000 jobs (total and decode per MB); ``find_one`` on the same query."""
    profile = bench.profile
    with running_server() as server:
        server.seed(profile.big_find)
        columns = _both_generations(bench)

        def measure(column: Column) -> None:
            v = column.api_version
            if "3" in cases:
                found = bench.run(
                    column, server, "find_all", query=SEEDED, repeats=profile.find_repeats
                )
                if found is not None:
                    _record(
                        bench,
                        f"3. find of {found['entities']:,} jobs, s (v{v})",
                        column,
                        found["seconds"],
                    )
                decoded = bench.run(
                    column, server, "decode", query=SEEDED, repeats=profile.decode_repeats
                )
                if decoded is not None:
                    mb = decoded["mb"]
                    _record(
                        bench,
                        f"3. decode, ms per MB ({mb:.1f} MB reply) (v{v})",
                        column,
                        decoded["ms_per_mb"],
                    )
            if "4" in cases:
                one = bench.run(
                    column, server, "find_one_query", query=SEEDED, repeats=profile.find_repeats
                )
                if one is not None:
                    _record(
                        bench, f"4. find_one on {SEEDED!r}, ms (v{v})", column, one["find_one_ms"]
                    )
                    _record(bench, f"4. find of all / find_one, x (v{v})", column, one["speedup"])

        _each_round(bench, columns, profile.rounds, measure)


def case_5_iterate(bench: Bench) -> None:
    """``iter_find`` over the small and the large result: time and peak RSS growth."""
    profile = bench.profile
    for size in profile.iterate_sizes:
        with running_server() as server:
            print(f"  seeding {size:,} jobs", flush=True)
            server.seed(size)
            columns = _both_generations(bench)

            def measure(column: Column, size: int = size, server: BenchServer = server) -> None:
                v = column.api_version
                result = bench.run(
                    column, server, "iterate", query=SEEDED, page_size=profile.page_size
                )
                if result is None:
                    return
                if result["entities"] != size:
                    bench.results.note("5", f"{column.title} v{v}: {result['entities']} of {size}")
                _record(bench, f"5. iterate {size:,} jobs, s (v{v})", column, result["seconds"])
                _record(
                    bench,
                    f"5. iterate {size:,} jobs, peak RSS growth MB (v{v})",
                    column,
                    result["peak_rss_growth_mb"],
                )

            _each_round(bench, columns, profile.iterate_rounds, measure)


def case_6_threads(bench: Bench) -> None:
    """8 threads sharing one session (raw: one connection each) against 1 thread."""
    profile = bench.profile
    with running_server() as server:
        columns = _both_generations(bench)

        def measure(column: Column) -> None:
            v = column.api_version
            for count in (1, 8):
                result = bench.run(
                    column,
                    server,
                    "threads",
                    threads=count,
                    job_id=LATEST_EDIT,
                    calls=profile.thread_calls,
                    warmup=profile.warmup,
                )
                if result is None:
                    continue
                _record(
                    bench, f"6. {count} thread(s), calls/s (v{v})", column, result["calls_per_s"]
                )
                _record(bench, f"6. {count} thread(s), errors (v{v})", column, result["errors"])
                if result["errors"]:
                    bench.results.note("6", f"{column.title} v{v}: {result['first_error']}")

        _each_round(bench, columns, profile.rounds, measure)


def case_7_startup(bench: Bench) -> None:
    """``import accsyn_api`` against ``import requests`` alone; ``Session()`` + login.

    The raw column of the import rows is ``import requests`` alone; of the login
    rows, the raw client's login.
    """
    profile = bench.profile
    with running_server() as server:
        columns = _both_generations(bench)
        requests_alone = Column(RAW, "1.0", worker_client="requests")

        def measure(column: Column) -> None:
            v = column.api_version
            if column.kind == RAW:
                alone = bench.run(requests_alone, server, "startup")
                if alone is not None:
                    _record(
                        bench,
                        f"7. import (raw: requests alone), ms (v{v})",
                        column,
                        alone["import_ms"],
                    )
                result = bench.run(column, server, "startup", module="http.client")
            else:
                result = bench.run(column, server, "startup")
                if result is not None:
                    _record(
                        bench,
                        f"7. import (raw: requests alone), ms (v{v})",
                        column,
                        result["import_ms"],
                    )
            if result is not None:
                _record(bench, f"7. Session() + login, ms (v{v})", column, result["login_ms"])

        _each_round(bench, columns, profile.rounds, measure)


def case_8_bulk(bench: Bench) -> None:
    """A job of 20,000 tasks created, then all its tasks changed with one ``update_many``."""
    profile = bench.profile
    with running_server() as server:
        columns = _both_generations(bench)
        cleaner = server.client("1.0")
        counter = iter(range(1_000_000))

        def measure(column: Column) -> None:
            v = column.api_version
            result = bench.run(
                column,
                server,
                "bulk",
                tasks=profile.bulk_tasks,
                tag=f"{column.client}{v}_{next(counter)}",
            )
            if result is None:
                return
            tasks = f"{profile.bulk_tasks:,}"
            _record(
                bench, f"8. create a job of {tasks} tasks, s (v{v})", column, result["create_s"]
            )
            _record(bench, f"8. update_many of {tasks} tasks, s (v{v})", column, result["update_s"])
            if result["update_error"]:
                bench.results.note(
                    "8", f"{column.title} v{v} update_many: {result['update_error']}"
                )
            _record(bench, f"8. create sent, kB (v{v})", column, result["create_sent_kb"])
            _record(
                bench,
                f"8. compressed and intact, 1=yes (v{v})",
                column,
                float(result["compressed"] and result["intact"]),
            )
            cleaner.delete("job", result["job_id"])  # v1.0 removes it: memory stays flat

        _each_round(bench, columns, profile.bulk_rounds, measure)
        cleaner.close()


CASES: Dict[str, Callable[[Bench], Any]] = {
    "1": case_1_small_calls,
    "2": case_2_tls,
    "3": lambda bench: case_3_4_big_find(bench, "3"),
    "4": lambda bench: case_3_4_big_find(bench, "4"),
    "5": case_5_iterate,
    "6": case_6_threads,
    "7": case_7_startup,
    "8": case_8_bulk,
}
"""Cases 1-8; case 9 (the server alone) is in :mod:`server_cases`."""
