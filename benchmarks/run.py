"""Speed and scale, measured side by side: this library, the raw wire, the official clients.

One command::

    python benchmarks/run.py              # every case, the published profile (12-15 min)
    python benchmarks/run.py --quick      # every case, smaller counts (a few minutes)
    python benchmarks/run.py --cases 1,9  # some cases only
    python benchmarks/run.py --json out.json
    python benchmarks/run.py --report out.json --rst   # its tables again, for the docs

It starts this project's ``accsyn server`` in its own process (one per case,
filled with jobs through the API when the case needs many), then runs each
case for this library and for a minimal raw ``http.client`` keep-alive client
speaking the same protocol (:mod:`rawclient`), in the same run, interleaved
(each client in a fresh process per round, the order turning every round). It
prints the medians, the ratios to the raw floor and the goals of issue 8 met or
not. Where the official ``accsyn-python-api`` 2.2.1 (v1.0) and 3.4.0 (v3) are
installed, or can be, in their own virtual environments (the helpers of
``compat/run.py``; ``--no-install`` only uses existing ones), they are added as
a column; otherwise the run says it skipped them.

The cases (``docs/performance.rst`` has a table from a run):

1. small calls: ``find_one`` by id and ``update`` of a status, calls/s, one
   thread, client CPU per call and TCP connections, v1.0 and v3;
2. the same over HTTPS (``accsyn server --tls``, the printed CA bundle);
3. one find of 5,000 jobs: total, and the client's decoding against ``json.loads``;
4. ``find_one`` on a query matching 5,000 jobs, against the find of all;
5. iterating 100,000 jobs in pages (``iter_find``): time and peak RSS growth,
   against 10,000;
6. 8 threads sharing one ``Session``, against 1 thread;
7. ``import accsyn_api`` against ``import requests`` alone, and ``Session()`` + login;
8. a job of 20,000 tasks created, and ``update_many`` of its 20,000 tasks;
9. the reference server alone (see :mod:`server_cases`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import PROFILES, Bench, Results
from cases import CASES, case_3_4_big_find
from report import goal_lines, rst_tables, table
from server_cases import case_9_server
from servers import official_interpreters

ALL_CASES = "1,2,3,4,5,6,7,8,9"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=ALL_CASES, help=f"comma-separated (default {ALL_CASES})")
    parser.add_argument("--quick", action="store_true", help="smaller counts, fewer rounds")
    parser.add_argument("--rounds", type=int, help="rounds per case (default 5, quick 3)")
    parser.add_argument("--no-official", action="store_true", help="leave the official clients out")
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="use existing official-client environments only (never pip install)",
    )
    parser.add_argument("--json", type=Path, help="also write every value to this file")
    parser.add_argument(
        "--report", type=Path, metavar="JSON", help="print the tables of a --json file, run nothing"
    )
    parser.add_argument("--rst", action="store_true", help="with --report: reStructuredText")
    return parser


def report(path: Path, rst: bool = False) -> int:
    """Print the tables and goals of a run saved with ``--json`` (``rst``: as list-tables)."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    results = Results()
    for row, columns in saved["values"].items():
        for column, values in columns.items():
            for value in values:
                results.add(row, column, value)
    results.notes = saved["notes"]
    if rst:
        print(rst_tables(results))
        return 0
    print(f"# {saved.get('machine', '')}, profile {saved.get('profile', '')}")
    print(table(results, saved.get("officials", "")))
    print("\nGoals (issue 8):")
    print(goal_lines(results))
    return 0


def machine() -> str:
    """The machine, as the report prints it."""
    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((ln.split(":", 1)[1].strip() for ln in info if "model name" in ln), "")
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpus} CPUs {model}, "
        f"Python {platform.python_version()}"
    )


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run the selected cases; print the tables and the goals."""
    args = _parser().parse_args(argv)
    if args.report:
        return report(args.report, args.rst)
    profile = PROFILES["quick" if args.quick else "full"]
    if args.rounds:
        profile = type(profile)(**{**profile.__dict__, "rounds": args.rounds})
    selected: List[str] = [case.strip() for case in args.cases.split(",") if case.strip()]
    if args.no_official:
        officials: Dict[str, Any] = {"skipped": ["--no-official"]}
    else:
        officials = official_interpreters(install=not args.no_install)
    bench = Bench(profile, officials)
    for reason in officials["skipped"]:
        bench.results.note("all", f"skipped {reason}")
    print(f"# accsyn_api benchmark, profile {profile.name}, {machine()}", flush=True)
    started = time.monotonic()
    for case in selected:
        print(f"case {case}", flush=True)
        try:
            _run_case(bench, case, selected)
        except Exception as error:  # one case failing must not lose the others' figures
            bench.results.note(case, f"case {case} failed: {type(error).__name__}: {error}")
            print(f"  ! case {case} failed: {error}", flush=True)
    labels = ", ".join(f"{label} on v{key}" for key, (_, label) in sorted(_ready(officials)))
    print(table(bench.results, labels or "none"))
    print("\nGoals (issue 8):")
    print(goal_lines(bench.results))
    minutes = (time.monotonic() - started) / 60
    print(f"\n# {datetime.datetime.now():%Y-%m-%d %H:%M}, {minutes:.1f} min")
    if args.json:
        saved = bench.results.as_json()
        saved.update(machine=machine(), profile=profile.name, minutes=minutes, officials=labels)
        args.json.write_text(json.dumps(saved, indent=1), encoding="utf-8")
    return 0


def _run_case(bench: Bench, case: str, selected: List[str]) -> None:
    if case == "9":
        case_9_server(bench)
    elif case == "3" and "4" in selected:
        case_3_4_big_find(bench, "34")
    elif case == "4" and "3" in selected:
        return  # measured with case 3, on the same server
    else:
        CASES[case](bench)


def _ready(officials: Dict[str, Any]) -> List[Tuple[str, Any]]:
    return [(key, value) for key, value in officials.items() if key != "skipped"]


if __name__ == "__main__":
    sys.exit(run())
