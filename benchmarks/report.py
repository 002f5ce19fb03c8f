"""Printing the benchmark: one table per case (medians and ratios), then the goals of issue 8.

The ratio columns divide a client's median by the raw floor's, whatever the
unit: for calls/s higher is better (1.00x is the floor), for seconds and
milliseconds lower is better.
"""

from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Tuple

from bench import LIB, OFFICIAL, RAW, Results

Goal = Tuple[str, Optional[bool], str]
"""(what the goal asks, met / not met / not measured (None), the figures)."""


def _figure(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(value: Optional[float], floor: Optional[float]) -> str:
    if value is None or not floor:
        return "-"
    return f"{value / floor:.2f}x"


def table(results: Results, officials: str) -> str:
    """Every row measured, grouped by case: medians and ratios to the raw floor."""
    header = ("", LIB, RAW, "lib/raw", OFFICIAL, "off/raw")
    lines: List[str] = []
    width = max([len(row) for row in results.order] + [20])
    current = ""
    by_case = sorted(results.order, key=lambda row: int(row.split(".", 1)[0]))  # stable
    for row in by_case:
        case = row.split(".", 1)[0]
        if case != current:
            current = case
            lines.append("")
            lines.append(f"{'case ' + case:<{width}}  " + "  ".join(f"{h:>14}" for h in header[1:]))
        lib, raw, official = (results.median(row, column) for column in (LIB, RAW, OFFICIAL))
        cells = (
            _figure(lib),
            _figure(raw),
            _ratio(lib, raw),
            _figure(official),
            _ratio(official, raw),
        )
        lines.append(f"{row:<{width}}  " + "  ".join(f"{cell:>14}" for cell in cells))
    lines.append(f"\n{OFFICIAL}: {officials}")
    for case, notes in sorted(results.notes.items()):
        for note in notes:
            lines.append(f"note ({case}): {note}")
    return "\n".join(lines)


def rst_tables(results: Results) -> str:
    """The tables of :func:`table` as reStructuredText list-tables, one per case."""
    lines: List[str] = []
    by_case: Dict[str, List[str]] = {}
    for row in sorted(results.order, key=lambda row: int(row.split(".", 1)[0])):
        by_case.setdefault(row.split(".", 1)[0], []).append(row)
    for case, rows in by_case.items():
        lines += ["", f".. list-table:: Case {case}", "   :header-rows: 1", ""]
        header = ("measure", LIB, RAW, "lib/raw", OFFICIAL, "official/raw")
        lines.append(f"   * - {header[0]}")
        lines += [f"     - {cell}" for cell in header[1:]]
        for row in rows:
            lib, raw, official = (results.median(row, column) for column in (LIB, RAW, OFFICIAL))
            cells = (
                _figure(lib),
                _figure(raw),
                _ratio(lib, raw),
                _figure(official),
                _ratio(official, raw),
            )
            lines.append(f"   * - {row.split('. ', 1)[1]}")
            lines += [f"     - {cell}" for cell in cells]
    return "\n".join(lines)


def _rows(results: Results, pattern: str) -> List[str]:
    return [row for row in results.order if re.search(pattern, row)]


def _check(
    results: Results, pattern: str, test: Callable[[str], Tuple[bool, str]]
) -> Tuple[Optional[bool], str]:
    rows = _rows(results, pattern)
    if not rows:
        return None, "not measured"
    outcomes = [test(row) for row in rows]
    return all(ok for ok, _ in outcomes), "; ".join(text for _, text in outcomes)


def _versus_raw(results: Results, row: str, at_least: float) -> Tuple[bool, str]:
    lib, raw = results.median(row, LIB), results.median(row, RAW)
    if lib is None or raw is None:
        return False, f"{row}: missing"
    generation = row.rsplit("(", 1)[-1].rstrip(")")
    return lib / raw >= at_least, f"{generation} {row.split(',')[0][3:]} {lib / raw:.2f}x"


def _at_most_raw(results: Results, row: str, at_most: float) -> Tuple[bool, str]:
    lib, raw = results.median(row, LIB), results.median(row, RAW)
    if lib is None or raw is None:
        return False, f"{row}: missing"
    generation = row.rsplit("(", 1)[-1].rstrip(")")
    return lib / raw <= at_most, f"{generation} {lib / raw:.2f}x"


def _lib_at_most(results: Results, row: str, limit: float, unit: str = "") -> Tuple[bool, str]:
    lib = results.median(row, LIB)
    if lib is None:
        return False, f"{row}: missing"
    generation = row.rsplit("(", 1)[-1].rstrip(")")
    return lib <= limit, f"{generation} {_figure(lib)}{unit}"


def goals(results: Results) -> List[Goal]:
    """Each goal of issue 8 with whether this run met it."""
    found: List[Goal] = []

    def add(text: str, outcome: Tuple[Optional[bool], str]) -> None:
        found.append((text, outcome[0], outcome[1]))

    add(
        "1: calls/s >= 0.85x raw",
        _check(results, r"^1\. .*calls/s", lambda r: _versus_raw(results, r, 0.85)),
    )
    add(
        "1: one TCP connection for all calls",
        _check(results, r"^1\. .*TCP", lambda r: _lib_at_most(results, r, 1)),
    )
    add(
        "1: client CPU per call <= 0.25 ms",
        _check(results, r"^1\. .*CPU", lambda r: _lib_at_most(results, r, 0.25, " ms")),
    )
    add(
        "2: calls/s over TLS >= 0.8x raw",
        _check(results, r"^2\. .*calls/s", lambda r: _versus_raw(results, r, 0.8)),
    )
    add(
        "3: decode <= 2x json.loads",
        _check(results, r"^3\. decode", lambda r: _at_most_raw(results, r, 2.0)),
    )
    add(
        "3: find total <= 1.2x raw",
        _check(results, r"^3\. find", lambda r: _at_most_raw(results, r, 1.2)),
    )
    add(
        "4: find_one >= 20x faster than find of all",
        _check(results, r"^4\. find of all", lambda r: _at_least(results, r, 20)),
    )
    add("5: iteration linear (large <= 11x small)", _linear(results))
    add(
        "5: peak RSS growth < 40 MB",
        _check(results, r"^5\. .*RSS", lambda r: _lib_at_most(results, r, 40, " MB")),
    )
    add("6: 8 threads >= 1.5x one thread, no errors", _threads(results))
    add(
        "7: import <= 1.2x requests alone",
        _check(results, r"^7\. import", lambda r: _at_most_raw(results, r, 1.2)),
    )
    add(
        "8: compressed on the wire, reply intact",
        _check(results, r"^8\. compressed", lambda r: _at_least(results, r, 1)),
    )
    found.extend(server_goals(results))
    return found


def _at_least(results: Results, row: str, limit: float) -> Tuple[bool, str]:
    lib = results.median(row, LIB)
    if lib is None:
        return False, f"{row}: missing"
    generation = row.rsplit("(", 1)[-1].rstrip(")")
    return lib >= limit, f"{generation} {_figure(lib)}"


def _linear(results: Results) -> Tuple[Optional[bool], str]:
    texts, ok = [], True
    for generation in ("v1.0", "v3"):
        rows = _rows(results, rf"^5\. iterate [\d,]+ jobs, s \({re.escape(generation)}\)")
        if len(rows) != 2:
            continue
        small, large = (results.median(row, LIB) for row in rows)
        if small is None or large is None:
            continue
        ok = ok and large / small <= 11
        texts.append(f"{generation} {large / small:.1f}x")
    return (ok if texts else None), "; ".join(texts) or "not measured"


def _threads(results: Results) -> Tuple[Optional[bool], str]:
    texts, ok = [], True
    for generation in ("v1.0", "v3"):
        one = results.median(f"6. 1 thread(s), calls/s ({generation})", LIB)
        eight = results.median(f"6. 8 thread(s), calls/s ({generation})", LIB)
        errors = results.median(f"6. 8 thread(s), errors ({generation})", LIB)
        if one is None or eight is None:
            continue
        ok = ok and eight / one >= 1.5 and not errors
        texts.append(f"{generation} {eight / one:.2f}x, {errors or 0:.0f} errors")
    return (ok if texts else None), "; ".join(texts) or "not measured"


def server_goals(results: Results) -> List[Goal]:
    """The goals of case 9 (the server alone)."""
    found: List[Goal] = []
    by_size: Dict[int, float] = {}
    for row in _rows(results, r"^9\. find_one by id at "):
        size = int(re.search(r"at ([\d,]+) jobs", row).group(1).replace(",", ""))  # type: ignore[union-attr]
        value = results.median(row, RAW)
        if value is not None:
            by_size[size] = value
    if len(by_size) >= 2:
        small, large = by_size[min(by_size)], by_size[max(by_size)]
        found.append(
            (
                "9: find_one by id O(1): largest within 2x of smallest",
                large <= 2 * small,
                f"{large:.2f} ms vs {small:.2f} ms",
            )
        )
    for row in _rows(results, r"^9\. page of"):
        value = results.median(row, RAW)
        found.append(
            (
                "9: a page of 500 at 50k under 30 ms",
                value is not None and value < 30,
                f"{_figure(value)} ms",
            )
        )
    memory = _rows(results, r"^9\. server RSS")
    if len(memory) == 3:
        after_ten, after_all = (results.median(row, RAW) for row in memory[1:])
        if after_ten is not None and after_all is not None:
            growth = after_all - after_ten
            found.append(
                (
                    "9: server memory flat across repeated reads (< 20 MB growth)",
                    growth < 20,
                    f"{after_ten:.0f} -> {after_all:.0f} MB",
                )
            )
    for row in _rows(results, r"^9\. LocalServer start\+stop"):
        value = results.median(row, LIB)
        found.append(
            (
                "9: LocalServer start+stop under 5 ms",
                value is not None and value < 5,
                f"{_figure(value)} ms",
            )
        )
    return found


def goal_lines(results: Results) -> str:
    """The goals as lines: MET, NOT MET or NOT MEASURED, with the figures."""
    words = {True: "MET", False: "NOT MET", None: "NOT MEASURED"}
    return "\n".join(f"{words[ok]:>12}  {text}: {detail}" for text, ok, detail in goals(results))
