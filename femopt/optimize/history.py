"""Per-iteration history of an optimization run, and the progress reporter."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

__all__ = ["History", "IterationInfo", "Reporter", "bounded_grey_level"]

_log = logging.getLogger("femopt.optimize")


@dataclass(frozen=True)
class IterationInfo:
    """One iteration, as passed to callbacks: the design ``x`` that was evaluated, its
    objective and constraint values (g ≤ 0), the change max|x_next − x| of the update,
    the grey level and the seconds the iteration took."""

    iteration: int
    x: np.ndarray
    objective: float
    constraints: np.ndarray
    change: float
    grey_level: float
    seconds: float


@dataclass
class History:
    """Arrays over iterations: ``objective (k,)``, ``constraints (k, m)``, ``change (k,)``,
    ``grey_level (k,)``, ``seconds (k,)``."""

    n_constraints: int
    records: list = field(default_factory=list)

    def append(self, info: IterationInfo) -> None:
        self.records.append((info.objective, np.asarray(info.constraints, dtype=np.float64),
                             info.change, info.grey_level, info.seconds))

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        if not self.records:
            return f"History(0 iterations, {self.n_constraints} constraint(s))"
        f = self.objective
        return (f"History({len(self)} iterations, {self.n_constraints} constraint(s), objective {f[0]:.6g} -> "
                f"{f[-1]:.6g}, last change {self.change[-1]:.3g}, {float(np.sum(self.seconds)):.1f} s)")

    def _column(self, k):
        return np.array([r[k] for r in self.records], dtype=np.float64)

    @property
    def objective(self) -> np.ndarray:
        return self._column(0)

    @property
    def constraints(self) -> np.ndarray:
        return np.array([r[1] for r in self.records], dtype=np.float64).reshape(len(self), self.n_constraints)

    @property
    def change(self) -> np.ndarray:
        return self._column(2)

    @property
    def grey_level(self) -> np.ndarray:
        return self._column(3)

    @property
    def seconds(self) -> np.ndarray:
        return self._column(4)

    def as_arrays(self) -> dict:
        return {"objective": self.objective, "constraints": self.constraints, "change": self.change,
                "grey_level": self.grey_level, "seconds": self.seconds}

    @classmethod
    def from_arrays(cls, arrays: dict, n_constraints: int) -> "History":
        history = cls(n_constraints)
        n = len(arrays.get("objective", ()))
        # reshape(n, m), not (-1, m): -1 is ambiguous for a run without constraints (m = 0)
        constraints = np.asarray(arrays.get("constraints", np.zeros((n, n_constraints)))).reshape(n, n_constraints)
        for k in range(n):
            history.records.append((float(arrays["objective"][k]), constraints[k], float(arrays["change"][k]),
                                    float(arrays["grey_level"][k]), float(arrays["seconds"][k])))
        return history


def bounded_grey_level(lower, upper):
    """``x -> 4 mean(t (1 − t))`` with t = x scaled to its bounds: 0 when every variable sits
    at a bound, 1 when all are mid-way."""
    span = np.where(np.isfinite(upper - lower) & (upper > lower), upper - lower, 1.0)

    def grey(x):
        t = np.clip((x - lower) / span, 0.0, 1.0)
        return float(4.0 * np.mean(t * (1.0 - t)))

    return grey


class Reporter:
    """Logs one line per ``every`` iterations on ``femopt.optimize`` (INFO)."""

    def __init__(self, every: int = 1):
        self.every = max(1, int(every))

    def __call__(self, info: IterationInfo) -> None:
        if info.iteration % self.every == 0:
            g = f"  max g {info.constraints.max():+.3e}" if info.constraints.size else ""
            _log.info("it %4d  f %.6g%s  change %.4f  grey %.3f  (%.3f s)", info.iteration, info.objective,
                      g, info.change, info.grey_level, info.seconds)
