"""Time accsyn_api.codec against plain json on a realistic reply.

Builds, deterministically, a job reply (10,000 jobs shaped like the example
in jobs.rst, each with one nested task) and a task reply (10,000 tasks), then
prints the best of 5 runs of:

* ``json.loads`` vs ``codec.decode`` (which also turns dates into datetimes);
* ``json.dumps`` (compact, dates pre-formatted as text) vs ``codec.encode``
  (given the decoded reply, with datetime objects).

Each codec call is timed for both API generations: ``v1.0`` (naive dates,
the default) and ``v3`` (``utc=True``: aware UTC datetimes in, UTC text out),
each with its ratio to plain json. Before timing, each reply's round trip is
checked: encode(decode(text)) gives the text back (v3: without fractions of a
second, as v3 sends whole seconds).

Run: ``python benchmarks/bench_codec.py``
"""

from __future__ import annotations

import datetime
import functools
import json
import random
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accsyn_api import codec

COUNT = 10_000
REPEATS = 5
EPOCH = datetime.datetime(2021, 9, 24, 7, 45, 49)


def _hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def _date(rng: random.Random, with_ms: bool = False) -> str:
    moment = EPOCH + datetime.timedelta(seconds=rng.randrange(0, 86_400 * 365))
    if with_ms:
        moment += datetime.timedelta(milliseconds=rng.randrange(1, 1000))
    return codec.format_datetime(moment)


def make_task(rng: random.Random, index: int) -> Dict[str, Any]:
    """One task dict shaped like the task example of jobs.rst."""
    name = f"A{index:03d}_C011_{rng.randrange(10**5):05d}Ia.mov"
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "uri": str(index),
        "status": rng.choice(["queued", "executing", "done", "onhold", "excluded"]),
        "created": _date(rng),
        "source": {
            "client": _hex_id(rng),
            "o": _hex_id(rng),
            "path": name,
            "path_abs_final": "X:\\" + name,
            "r_s": _hex_id(rng),
            "slave": True,
            "user": _hex_id(rng),
        },
        "destination": {
            "client": _hex_id(rng),
            "master": True,
            "path": "/Users/tommy/Downloads/" + name,
            "path_abs_final": "/Users/tommy/Downloads/" + name,
            "user": _hex_id(rng),
        },
        "priority": rng.randrange(1, 1000),
        "size": rng.randrange(10**9),
        "finished": _date(rng, with_ms=index % 3 == 0),
        "time": rng.randrange(10**6),
    }


def make_job(rng: random.Random, index: int) -> Dict[str, Any]:
    """One job dict shaped like the job example of jobs.rst, with one task."""
    parent = _hex_id(rng)
    user = _hex_id(rng)
    return {
        "id": _hex_id(rng),
        "code": f"latest_edit_{index}.mov",
        "uri": "acmevfx/medium",
        "status": rng.choice(["init", "waiting", "running", "paused", "done"]),
        "created": _date(rng),
        "source": "organization:" + _hex_id(rng),
        "source_hr": "organization:acmevfx",
        "destination": "user:" + user,
        "destination_hr": "user:lars@edit.com(user)",
        "etr": "",
        "metadata": {"shot": f"sh{index:04d}", "approved": _date(rng)} if index % 10 == 0 else {},
        "parent": parent,
        "parent_hr": f"job:acmevfx/medium({parent})",
        "progress": rng.randrange(101),
        "size": rng.randrange(-1, 10**10),
        "speed": round(rng.random() * 100, 2),
        "user": user,
        "user_hr": "user:employee@acmevfx.com(employee)",
        "finished": "1970-01-01T01:00:00",
        "modified": _date(rng, with_ms=index % 2 == 0),
        "modifier": _hex_id(rng),
        "tasks": [make_task(rng, index)],
    }


def best_of(function: Callable[[], Any]) -> float:
    """Best wall time of REPEATS runs, in seconds."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def compare(label: str, baseline: Callable[[], Any], *candidates: Callable[[], Any]) -> str:
    """One output row: the baseline time, then each candidate's time and ratio."""
    base = best_of(baseline)
    row = f"{label:<38} {base * 1000:>9.1f}"
    for candidate in candidates:
        time_taken = best_of(candidate)
        row += f" {time_taken * 1000:>9.1f} {time_taken / base:>6.2f}x"
    return row


def compact_dumps(obj: Any) -> str:
    """Plain json.dumps with the same settings as codec.encode."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


_FRACTION = re.compile(r"(T\d\d:\d\d:\d\d)\.\d+")


def check_round_trips(name: str, text: str) -> None:
    """Stop when encode(decode(text)) is not the text sent (v3: without fractions)."""
    plain = json.loads(text)
    if codec.encode(codec.decode(text)) != compact_dumps(plain):
        raise SystemExit(f"v1.0 round trip changed the text of the {name} reply")
    whole_seconds = _FRACTION.sub(r"\1", compact_dumps(plain))
    if codec.encode(codec.decode(text, utc=True), utc=True) != whole_seconds:
        raise SystemExit(f"v3 round trip changed the text of the {name} reply")


def main() -> None:
    rng = random.Random(20240601)
    replies: List[Tuple[str, str]] = [
        (
            "jobs (10k, 1 nested task each)",
            json.dumps({"result": [make_job(rng, i) for i in range(COUNT)]}),
        ),
        ("tasks (10k)", json.dumps({"result": [make_task(rng, i) for i in range(COUNT)]})),
    ]
    print(f"Python {sys.version.split()[0]}, best of {REPEATS}, times in ms")
    print(f"{'':<38} {'json':>9} {'v1.0':>9} {'ratio':>7} {'v3':>9} {'ratio':>7}")
    for name, text in replies:
        row = compare(
            f"decode {name}",
            functools.partial(json.loads, text),
            functools.partial(codec.decode, text),
            functools.partial(codec.decode, text, utc=True),
        )
        print(row)
    for name, text in replies:
        check_round_trips(name, text)
        plain = json.loads(text)  # the same data with dates already as text
        row = compare(
            f"encode {name}",
            functools.partial(compact_dumps, plain),
            # Decoded replies hold datetimes: what encode really gets.
            functools.partial(codec.encode, codec.decode(text)),
            functools.partial(codec.encode, codec.decode(text, utc=True), utc=True),
        )
        print(row)


if __name__ == "__main__":
    main()
