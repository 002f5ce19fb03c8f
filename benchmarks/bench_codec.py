"""Time accsyn_api.codec against plain json on a realistic reply.

Builds, deterministically, a job reply (10,000 jobs shaped like the example
in jobs.rst, each with one nested task) and a task reply (10,000 tasks), then
prints the best of 5 runs of:

* ``json.loads`` vs ``codec.decode`` (which also turns dates into datetimes);
* ``json.dumps`` (compact, dates pre-formatted as text) vs ``codec.encode``
  (given the decoded reply, with datetime objects).

Run: ``python benchmarks/bench_codec.py``
"""

from __future__ import annotations

import datetime
import functools
import json
import random
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


def compare(label: str, baseline: Callable[[], Any], candidate: Callable[[], Any]) -> str:
    base = best_of(baseline)
    cand = best_of(candidate)
    return f"{label:<38} {base * 1000:>9.1f} {cand * 1000:>9.1f} {cand / base:>7.2f}x"


def compact_dumps(obj: Any) -> str:
    """Plain json.dumps with the same settings as codec.encode."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


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
    print(f"{'':<38} {'json':>9} {'codec':>9} {'ratio':>8}")
    for name, text in replies:
        row = compare(
            f"decode {name}",
            functools.partial(json.loads, text),
            functools.partial(codec.decode, text),
        )
        print(row)
    for name, text in replies:
        decoded = codec.decode(text)  # holds datetimes: what encode really gets
        plain = json.loads(text)  # the same data with dates already as text
        row = compare(
            f"encode {name}",
            functools.partial(compact_dumps, plain),
            functools.partial(codec.encode, decoded),
        )
        print(row)
        if codec.encode(decoded) != compact_dumps(plain):
            raise SystemExit(f"round trip changed the text of the {name} reply")


if __name__ == "__main__":
    main()
