"""Run the fault matrix against the reference server, on both API generations, and report.

Every fault kind of :mod:`accsyn_api.testing.faults` is injected against
every verb (``find``, ``create`` job, ``create`` task, ``update``,
``update_many``, ``delete_one``): once (the client's retries must absorb it),
persistently (every attempt fails: the error must be right) and, for creates,
once with ``retry_creates=False``. The cells are those of
``tests/test_faults.py`` (both use ``tests/fault_matrix.py``), run once with
v1.0 sessions and once with v3 sessions.

Prints, for each generation, one row per fault kind: faults injected (requests the server broke),
calls made, calls that succeeded, errors raised, work duplicated and data
lost (both must be 0), and other problems (wrong error class, a message that
does not say what happened...; must be 0). Exits 1 if any of the last three
is not 0 on either generation.

Run: ``python benchmarks/fault_report.py`` (``--api-version 3`` or ``1.0`` for one only)
"""

from __future__ import annotations

import argparse
import datetime
import logging
import platform
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fault_matrix import KINDS, Outcome, run_matrix  # noqa: E402

import accsyn_api  # noqa: E402
from accsyn_api.protocol.names import GENERATIONS  # noqa: E402

COLUMNS = (
    "fault",
    "injected",
    "calls",
    "succeeded",
    "errors",
    "duplicated",
    "lost",
    "problems",
)


def _row(name: str, outcomes: List[Outcome]) -> Dict[str, object]:
    return {
        "fault": name,
        "injected": sum(outcome.fired for outcome in outcomes),
        "calls": len(outcomes),
        "succeeded": sum(outcome.succeeded for outcome in outcomes),
        "errors": sum(not outcome.succeeded for outcome in outcomes),
        "duplicated": sum(outcome.duplicated for outcome in outcomes),
        "lost": sum(outcome.lost for outcome in outcomes),
        "problems": sum(bool(outcome.problems) for outcome in outcomes),
    }


GROUPS = ("fault once", "fault on every attempt", "once, retry_creates=False")


def _group(outcome: Outcome) -> str:
    if outcome.case.times > 1:
        return GROUPS[1]
    if outcome.case.retry_creates is False:
        return GROUPS[2]
    return GROUPS[0]


def _print_table(rows: List[Dict[str, object]], first: str = "fault") -> None:
    rows = [{**row, first: row["fault"]} for row in rows]
    columns = (first, *COLUMNS[1:])
    widths = {
        column: max(len(column), *(len(str(row[column])) for row in rows)) for column in columns
    }
    line = "  ".join("-" * widths[column] for column in columns)
    print("  ".join(column.ljust(widths[column]) for column in columns))
    print(line)
    for index, row in enumerate(rows):
        if index == len(rows) - 1:
            print(line)
        cells = [str(row[column]) for column in columns]
        print(
            "  ".join(
                cell.ljust(widths[column]) if column == first else cell.rjust(widths[column])
                for column, cell in zip(columns, cells)
            )
        )


def report(generation: str) -> bool:
    """Run the matrix on ``generation`` and print its tables; True when nothing went wrong."""
    outcomes, seconds = run_matrix(generation)
    rows = [_row(kind, [o for o in outcomes if o.case.kind == kind]) for kind in KINDS]
    rows.append(_row("total", outcomes))
    groups = [_row(group, [o for o in outcomes if _group(o) == group]) for group in GROUPS]
    groups.append(_row("total", outcomes))
    print(f"API v{generation}: {len(outcomes)} calls in {seconds:.1f} s")
    print()
    _print_table(rows)
    print()
    _print_table(groups, first="cells")
    failed = [outcome for outcome in outcomes if outcome.problems]
    for outcome in failed:
        print(f"\n{outcome.case.name} (v{generation}):", *outcome.problems, sep="\n  ")
    total = rows[-1]
    return not (failed or total["duplicated"] or total["lost"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--api-version",
        choices=GENERATIONS,
        action="append",
        help="the generation to run (repeatable; default: all of them)",
    )
    generations = parser.parse_args(argv).api_version or list(GENERATIONS)
    # The retries are logged at WARNING; this report shows their effect instead.
    logging.getLogger("accsyn_api").addHandler(logging.NullHandler())
    logging.getLogger("accsyn_api").propagate = False
    print(
        f"accsyn_api {accsyn_api.__version__}, Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}"
    )
    results = []
    for generation in generations:
        print()
        results.append(report(generation))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
