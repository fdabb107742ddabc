"""Validation results as text: a fixed-width table, a status summary, CSV and Markdown
(what ``femopt validate`` prints and writes)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Sequence

from .catalogue import ERROR, FAIL, PASS, PENDING, Result

__all__ = ["format_table", "summary", "write_csv", "write_markdown"]

_COLUMNS = ("case", "quantity", "reference", "computed", "error", "rate", "expected", "tolerance",
            "status", "source")


def _number(x, fmt=".6g") -> str:
    if x is None:
        return "-"
    return "-" if isinstance(x, float) and math.isnan(x) else format(x, fmt)


def _row(r: Result) -> list[str]:
    expected = _number(r.expected_rate, "g") + ("+" if r.lower_bound and r.expected_rate is not None else "")
    return [r.case, r.quantity, _number(r.reference), _number(r.computed), _number(r.error, ".3e"),
            _number(r.rate, ".2f"), expected, _number(r.tolerance, ".0e"),
            r.status if not r.message or r.status == PASS else f"{r.status} ({r.message})", r.source]


def format_table(results: Sequence[Result], *, source: bool = True) -> str:
    """The results as a fixed-width text table (one line per row)."""
    columns = _COLUMNS if source else _COLUMNS[:-1]
    rows = [list(columns)] + [_row(r)[:len(columns)] for r in results]
    widths = [max(len(row[k]) for row in rows) for k in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(results: Sequence[Result]) -> str:
    """One line: counts of each status."""
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, ERROR, PENDING)}
    return ", ".join(f"{n} {s.lower()}" for s, n in counts.items() if n) or "no results"


def write_csv(results: Sequence[Result], path) -> Path:
    """Write the results as CSV (one row per result; ``errors`` of all levels joined by
    ``;``). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ["case", "quantity", "reference", "source", "computed", "error", "rate", "expected_rate",
              "rate_is_lower_bound", "tolerance", "status", "h", "errors_by_level", "message", "seconds"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in results:
            writer.writerow([r.case, r.quantity, repr(r.reference), r.source, repr(r.computed), repr(r.error),
                             repr(r.rate), "" if r.expected_rate is None else repr(r.expected_rate),
                             r.lower_bound, repr(r.tolerance), r.status, repr(r.h), ";".join(repr(e) for e in r.errors),
                             r.message, f"{r.seconds:.2f}"])
    return path


def write_markdown(results: Sequence[Result], path, *, title: str = "femopt validation") -> Path:
    """Write the results as a Markdown table with a summary line. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"# {title}", "", summary(results), "",
             "| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(cell(c) for c in _row(r)) + " |" for r in results]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
