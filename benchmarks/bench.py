"""What the benchmark cases share: the profile, the client columns, running workers, results.

A :class:`Column` is one client measured (this library, the raw
``http.client`` floor, an official release) on one API generation. A case
runs :mod:`worker` once per column and round, each time in a fresh process,
the columns interleaved (their order turns every round), and records each
figure under a row; :class:`Results` keeps every value and gives medians.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple

from servers import BenchServer

HERE = pathlib.Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
WORKER_SECONDS = 1800

LIB, RAW, OFFICIAL = "this library", "raw http.client", "official"
"""The column kinds, as printed."""
GENERATIONS = ("1.0", "3")


@dataclasses.dataclass(frozen=True)
class Profile:
    """How much each case does: ``full`` (the published figures) or ``quick``."""

    name: str
    rounds: int
    calls: int
    warmup: int
    thread_calls: int
    find_repeats: int
    decode_repeats: int
    iterate_sizes: Tuple[int, int]
    iterate_rounds: int
    bulk_tasks: int
    bulk_rounds: int
    server_sizes: Tuple[int, ...]
    server_finds: int
    local_server_repeats: int
    page_size: int = 500
    big_find: int = 5000


PROFILES = {
    "full": Profile(
        "full",
        rounds=5,
        calls=2000,
        warmup=200,
        thread_calls=2000,
        find_repeats=3,
        decode_repeats=5,
        iterate_sizes=(10_000, 100_000),
        iterate_rounds=3,
        bulk_tasks=20_000,
        bulk_rounds=3,
        server_sizes=(1000, 10_000, 50_000),
        server_finds=1000,
        local_server_repeats=50,
    ),
    "quick": Profile(
        "quick",
        rounds=3,
        calls=400,
        warmup=50,
        thread_calls=800,
        find_repeats=2,
        decode_repeats=3,
        iterate_sizes=(2_000, 20_000),
        iterate_rounds=2,
        bulk_tasks=20_000,
        bulk_rounds=1,
        server_sizes=(1000, 10_000, 50_000),
        server_finds=100,
        local_server_repeats=20,
    ),
}


@dataclasses.dataclass(frozen=True)
class Column:
    """One client on one API generation."""

    kind: str
    api_version: str
    python: str = sys.executable
    label: str = ""
    worker_client: str = ""
    """The worker's name of the client when the kind does not say it (``requests``)."""

    @property
    def client(self) -> str:
        """The worker's name of the client: ``lib``, ``raw``, ``official`` or ``requests``."""
        return self.worker_client or {LIB: "lib", RAW: "raw"}.get(self.kind, "official")

    @property
    def title(self) -> str:
        """The column as printed, e.g. ``official 2.2.1``."""
        return self.label or self.kind


class Results:
    """Every value measured: ``row -> column title -> values`` (one per round)."""

    def __init__(self) -> None:
        self.values: Dict[str, Dict[str, List[float]]] = {}
        self.notes: Dict[str, List[str]] = {}
        self.order: List[str] = []

    def add(self, row: str, column: str, value: float) -> None:
        """Record one value of ``row`` for ``column``."""
        if row not in self.values:
            self.values[row] = {}
            self.order.append(row)
        self.values[row].setdefault(column, []).append(float(value))

    def note(self, case: str, text: str) -> None:
        """Keep a remark about a case (a skipped column, an error, a count)."""
        self.notes.setdefault(case, [])
        if text not in self.notes[case]:
            self.notes[case].append(text)

    def median(self, row: str, column: str) -> Optional[float]:
        """The median of ``row`` for ``column``, or None when it was not measured."""
        found = self.values.get(row, {}).get(column)
        return statistics.median(found) if found else None

    def as_json(self) -> Dict[str, Any]:
        """Everything, for ``--json``."""
        medians = {
            row: {column: statistics.median(values) for column, values in columns.items()}
            for row, columns in self.values.items()
        }
        return {"values": self.values, "medians": medians, "notes": self.notes}


class Bench:
    """Runs workers for the cases and keeps their results."""

    def __init__(self, profile: Profile, officials: Dict[str, Any]) -> None:
        self.profile = profile
        self.officials = officials
        self.results = Results()

    def columns(self, api_version: str, official: bool = True) -> List[Column]:
        """This library, the raw floor and (when ready and wanted) the official client."""
        found = [Column(LIB, api_version), Column(RAW, api_version)]
        if official and api_version in self.officials:
            python, label = self.officials[api_version]
            found.append(Column(OFFICIAL, api_version, python, label))
        return found

    @staticmethod
    def turned(columns: List[Column], round_index: int) -> List[Column]:
        """``columns`` in the order of this round: each column goes first in turn."""
        shift = round_index % len(columns)
        return columns[shift:] + columns[:shift]

    def run(self, column: Column, server: Optional[BenchServer], task: str, **params: Any) -> Any:
        """Run one worker for ``column``; its result dict, or None (noted) when it failed."""
        spec: Dict[str, Any] = {"client": column.client, "task": task, **params}
        if server is not None:
            spec.update(server.credentials(column.api_version))
        spec.setdefault("api_version", column.api_version)
        command = [column.python, "-B"]
        if column.kind == OFFICIAL:
            command += ["-E", "-s"]
            environment = server.official_environment() if server else dict(os.environ)
        else:
            environment = {k: v for k, v in os.environ.items() if not k.startswith("ACCSYN_")}
        command += [str(WORKER), json.dumps(spec)]
        with tempfile.TemporaryDirectory(prefix="accsyn-bench-worker-") as cwd:
            done = subprocess.run(  # noqa: S603 - our worker, with a known interpreter
                command,
                cwd=cwd,
                env=environment,
                capture_output=True,
                text=True,
                timeout=WORKER_SECONDS,
                check=False,
            )
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            error = (done.stderr.strip().splitlines() or ["no output"])[-1]
            self.results.note(task, f"{column.title} v{column.api_version} failed: {error}")
            print(f"  ! {column.title} v{column.api_version} {task}: {error}", flush=True)
            return None
        return json.loads(lines[-1])
