"""The validation catalogue: problems with exact solutions, run at successive refinements.

A :class:`Case` computes, at one refinement level, a few :class:`Sample` s — a named
quantity, the finite-element value, its exact reference and the mesh size ``h``. Running
a case (:func:`run_case`) computes the levels of a mode (``"quick"`` or ``"full"``),
fits the observed convergence rate of each quantity's error against ``h`` and judges it
by the case's :class:`Check` (tolerance on the finest error, expected rate) into one
:class:`Result` row per quantity.

Adding a case takes a decorated function (see ``docs/validation.md``)::

    from femopt.benchmarks.catalogue import Check, Sample, case

    @case("bar_tension", source="u(L) = σ L / E", levels={"quick": (2, 4), "full": (2, 4, 8)},
          checks=[Check("u(L)", tolerance=1e-10)])
    def bar_tension(n):
        ...                                    # build and solve on an n-cell mesh
        return [Sample("u(L)", computed=u_tip, reference=sigma * L / E, h=L / n)]

The built-in cases live in the ``cases_*`` modules next to this one and are loaded the
first time the catalogue is listed or run.
"""
from __future__ import annotations

import difflib
import importlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from ..errors import InputError

__all__ = ["Check", "Sample", "Case", "Result", "case", "register", "unregister", "get", "cases",
           "names", "selected", "run", "run_case", "fit_rate", "MODES", "PASS", "FAIL", "ERROR", "PENDING"]

_log = logging.getLogger("femopt.benchmarks")

MODES = ("quick", "full")
PASS, FAIL, ERROR, PENDING = "PASS", "FAIL", "ERROR", "PENDING"

_BUILTIN_MODULES = ("cases_patch", "cases_elasticity", "cases_lame", "cases_nafems", "cases_heat",
                    "cases_hyperelastic", "cases_sensitivity")
_REGISTRY: dict[str, "Case"] = {}
_builtins_loaded = False


@dataclass(frozen=True)
class Check:
    """Acceptance criteria of one quantity.

    Attributes:
        quantity: the name the case's samples use.
        tolerance: largest acceptable error at the finest level (relative unless the
            case reports another error, see :class:`Sample`).
        expected_rate: convergence rate of the error in ``h`` (e.g. 2 for the L2 error
            of bilinear elements); ``None`` when the quantity is exact at every level.
        rate_tolerance: how far the observed rate may lie from the expected one.
        at_least: accept any rate above ``expected_rate - rate_tolerance``
            (superconvergence is not a failure, e.g. Newton's order).
    """

    quantity: str
    tolerance: float
    expected_rate: float | None = None
    rate_tolerance: float = 0.3
    at_least: bool = False

    def __post_init__(self):
        if not (isinstance(self.tolerance, (int, float)) and self.tolerance > 0):
            raise InputError(f"Check({self.quantity!r}): tolerance must be a number > 0, got {self.tolerance!r}")


@dataclass(frozen=True)
class Sample:
    """One quantity at one refinement level.

    Attributes:
        quantity: name matching a :class:`Check` of the case.
        computed: the finite-element value.
        reference: the exact value.
        h: mesh size of the level (any measure proportional to the cell size).
        error: the error judged; default ``|computed - reference| / |reference|``
            (absolute when the reference is 0). A case reporting an error norm passes
            it here (then ``computed`` is usually the norm itself and ``reference`` 0).
    """

    quantity: str
    computed: float
    reference: float
    h: float = float("nan")
    error: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "computed", float(self.computed))
        object.__setattr__(self, "reference", float(self.reference))
        if self.error is None:
            scale = abs(self.reference) if self.reference != 0.0 else 1.0
            object.__setattr__(self, "error", abs(self.computed - self.reference) / scale)
        else:
            object.__setattr__(self, "error", float(self.error))


@dataclass(frozen=True)
class Case:
    """A problem with an exact solution.

    Attributes:
        name: unique identifier (``femopt validate --case NAME``).
        title: one line saying what is solved.
        source: where the exact solution comes from (book, paper, or "closed form").
        checks: one :class:`Check` per quantity.
        compute: ``compute(level) -> list[Sample]`` for one refinement level (None for a
            pending case).
        levels: ``{"quick": (...), "full": (...)}``: the arguments ``compute`` gets,
            coarse to fine. ``full`` defaults to ``quick``; a case without ``quick``
            levels runs in the full mode only (or when named explicitly).
        group: heading the case is listed under.
        pending: why the case can not run yet (listed, never run, never a failure).
    """

    name: str
    title: str
    source: str
    checks: tuple[Check, ...]
    compute: Callable | None
    levels: Mapping[str, tuple]
    group: str = "user"
    pending: str | None = None

    def __post_init__(self):
        if not self.name or not isinstance(self.name, str) or any(c.isspace() for c in self.name):
            raise InputError(f"a case name must be a non-empty string without spaces, got {self.name!r}")
        checks = tuple(self.checks)
        object.__setattr__(self, "checks", checks)
        if self.pending is None:
            if not callable(self.compute):
                raise InputError(f"case {self.name!r}: compute must be a function of the level")
            if not checks:
                raise InputError(f"case {self.name!r} has no checks; give at least one Check")
            unknown = set(self.levels) - set(MODES)
            if unknown:
                raise InputError(f"case {self.name!r}: levels has unknown mode(s) {sorted(unknown)}; "
                                 f"use {MODES}")
            levels = {mode: tuple(self.levels.get(mode, ())) for mode in MODES}
            if not (levels["quick"] or levels["full"]):
                raise InputError(f"case {self.name!r}: levels needs a non-empty 'quick' or 'full' entry, "
                                 f"got {self.levels!r}")
            levels["full"] = levels["full"] or levels["quick"]
            object.__setattr__(self, "levels", levels)

    @property
    def full_only(self) -> bool:
        """True when the quick mode skips this case (it has no quick levels)."""
        return self.pending is None and not self.levels["quick"]


@dataclass(frozen=True)
class Result:
    """One row of the validation table: a quantity of a case after all its levels.

    ``computed``, ``error`` and ``h`` are those of the finest level; ``errors`` holds the
    error of every level (coarse to fine); ``rate`` is the fitted observed rate (nan
    when undefined: one level, or errors at round-off); ``lower_bound`` says that any
    rate above ``expected_rate − rate tolerance`` passes."""

    case: str
    quantity: str
    reference: float
    source: str
    computed: float
    error: float
    rate: float
    expected_rate: float | None
    tolerance: float
    status: str
    h: float = float("nan")
    errors: tuple = ()
    message: str = ""
    seconds: float = 0.0
    lower_bound: bool = False

    @property
    def passed(self) -> bool:
        """True unless the row is a failure or an error (pending rows pass)."""
        return self.status in (PASS, PENDING)


# --------------------------------------------------------------------------- registry
def register(new_case: Case, *, replace: bool = False) -> Case:
    """Add a case to the catalogue; a taken name is an error unless ``replace``."""
    if not isinstance(new_case, Case):
        raise InputError(f"register() takes a Case, got {type(new_case).__name__}")
    if new_case.name in _REGISTRY and not replace:
        raise InputError(f"a case named {new_case.name!r} exists already; choose another name "
                         "or pass replace=True")
    _REGISTRY[new_case.name] = new_case
    return new_case


def unregister(name: str) -> None:
    """Remove a case (e.g. one a test registered)."""
    _REGISTRY.pop(name, None)


def case(name: str, *, source: str, checks: Sequence[Check], levels: Mapping[str, Sequence],
         title: str = "", group: str = "user", replace: bool = False):
    """Decorator: register ``compute(level) -> list[Sample]`` as a case (see the module
    docstring). Returns the function unchanged."""
    def decorate(compute):
        doc = (compute.__doc__ or "").strip().splitlines()
        register(Case(name=name, title=title or (doc[0] if doc else name), source=source,
                      checks=tuple(checks), compute=compute, levels=dict(levels), group=group),
                 replace=replace)
        return compute
    return decorate


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(f"{__package__}.{module}")


def cases() -> list[Case]:
    """Every registered case, built-in ones first, in registration order."""
    _load_builtins()
    return list(_REGISTRY.values())


def names() -> list[str]:
    """Names of every registered case."""
    return [c.name for c in cases()]


def get(name: str) -> Case:
    """The case called ``name``; InputError listing the names otherwise."""
    _load_builtins()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise InputError(f"no validation case named {name!r}; {hint}`femopt validate --list` "
                         f"lists all {len(_REGISTRY)}")
    return _REGISTRY[name]


# ------------------------------------------------------------------------------ run
def fit_rate(h: Sequence[float], errors: Sequence[float], *, last: int = 3,
             floor: float = 1e-13) -> float:
    """Observed rate: least-squares slope of log(error) against log(h) over the last
    ``last`` levels. Errors at or below ``floor`` (round-off) are left out; nan when
    fewer than two levels remain."""
    h = np.asarray(h, dtype=float)[-last:]
    e = np.asarray(errors, dtype=float)[-last:]
    keep = np.isfinite(h) & np.isfinite(e) & (e > floor) & (h > 0)
    if keep.sum() < 2 or np.ptp(np.log(h[keep])) == 0.0:
        return float("nan")
    slope, _ = np.polyfit(np.log(h[keep]), np.log(e[keep]), 1)
    return float(slope)


def _judge(check: Check, error: float, rate: float) -> tuple[str, str]:
    problems = []
    if not error <= check.tolerance:
        problems.append(f"error {error:.3g} > tolerance {check.tolerance:.3g}")
    if check.expected_rate is not None:
        low = check.expected_rate - check.rate_tolerance
        high = math.inf if check.at_least else check.expected_rate + check.rate_tolerance
        if not low <= rate <= high:
            expected = f">= {low:.2f}" if check.at_least else f"{check.expected_rate:g} ± {check.rate_tolerance:g}"
            problems.append(f"rate {rate:.2f} not {expected}")
    return (FAIL, "; ".join(problems)) if problems else (PASS, "")


def run_case(target: Case | str, mode: str = "quick") -> list[Result]:
    """Run one case (a Case or its name) at the levels of ``mode``; one Result per check.

    A full-only case asked for in the quick mode runs its full levels. An exception inside the case gives ERROR rows carrying the message; a pending case
    gives one PENDING row."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    c = get(target) if isinstance(target, str) else target
    levels = (c.levels[mode] or c.levels["full"]) if c.pending is None else ()
    if c.pending is not None:
        return [Result(c.name, "-", math.nan, c.source, math.nan, math.nan, math.nan, None, math.nan,
                       PENDING, message=c.pending)]
    start = time.perf_counter()
    samples: dict[str, list[Sample]] = {check.quantity: [] for check in c.checks}
    try:
        for level in levels:
            for s in c.compute(level):
                if s.quantity not in samples:
                    raise InputError(f"case {c.name!r} returned a sample for {s.quantity!r}, which "
                                     f"has no Check (checks: {list(samples)})")
                samples[s.quantity].append(s)
    except Exception as exc:  # a case that crashes is a row of the table, not a crash of the run
        _log.exception("case %s failed", c.name)
        seconds = time.perf_counter() - start
        return [Result(c.name, check.quantity, math.nan, c.source, math.nan, math.nan, math.nan,
                       check.expected_rate, check.tolerance, ERROR,
                       message=f"{type(exc).__name__}: {exc}", seconds=seconds) for check in c.checks]
    seconds = time.perf_counter() - start
    results = []
    for check in c.checks:
        rows = samples[check.quantity]
        if not rows:
            results.append(Result(c.name, check.quantity, math.nan, c.source, math.nan, math.nan, math.nan,
                                  check.expected_rate, check.tolerance, ERROR,
                                  message="the case returned no sample for this quantity", seconds=seconds))
            continue
        errors = tuple(s.error for s in rows)
        rate = fit_rate([s.h for s in rows], errors)
        status, message = _judge(check, rows[-1].error, rate)
        results.append(Result(c.name, check.quantity, rows[-1].reference, c.source, rows[-1].computed,
                              rows[-1].error, rate, check.expected_rate, check.tolerance, status,
                              h=rows[-1].h, errors=errors, message=message, seconds=seconds,
                              lower_bound=check.at_least))
    return results


def selected(selection: Iterable[str] | None, mode: str) -> list[Case]:
    """The cases :func:`run` runs: the named ones, or all but the full-only ones in the
    quick mode."""
    if selection is None:
        return [c for c in cases() if not (mode == "quick" and c.full_only)]
    return [get(n) for n in selection]


def run(selection: Iterable[str] | None = None, mode: str = "quick",
        reporter: Callable[[Case, list[Result]], None] | None = None) -> list[Result]:
    """Run the named cases (default: all, less the full-only ones in the quick mode) in
    ``mode``; ``reporter(case, results)`` is called after each case (progress)."""
    results = []
    for c in selected(selection, mode):
        _log.info("running %s (%s)", c.name, mode)
        rows = run_case(c, mode)
        results.extend(rows)
        if reporter is not None:
            reporter(c, rows)
    return results
