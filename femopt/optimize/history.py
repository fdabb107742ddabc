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


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Reporter:
    """Progress lines on ``femopt.optimize`` (INFO, marked as progress, see
    :mod:`femopt._progress`): one every ``every`` iterations, like top88's —
    ``it k/max``, objective, largest constraint, change, grey level (when known), the
    elapsed time and the longest time left (the mean of the last ten iterations times
    the iterations left to ``max_iterations``) — and a last line with the stop reason."""

    def __init__(self, every: int = 1, max_iterations: int | None = None):
        self.every = max(1, int(every))
        self.max_iterations = max_iterations
        self.recent: list[float] = []
        self.elapsed = 0.0

    def __call__(self, info: IterationInfo) -> None:
        self.elapsed += info.seconds
        self.recent = (self.recent + [info.seconds])[-10:]
        if info.iteration % self.every:
            return
        total = f"/{self.max_iterations}" if self.max_iterations else ""
        g = f"  max g {info.constraints.max():+.3e}" if info.constraints.size else ""
        grey = f"  grey {info.grey_level:.3f}" if np.isfinite(info.grey_level) else ""
        left = ""
        if self.max_iterations:
            left = f", <= {_clock(np.mean(self.recent) * max(self.max_iterations - info.iteration - 1, 0))} left"
        _log.info("it %4d%s  f %.6g%s  change %.4f%s  %s%s", info.iteration, total, info.objective, g,
                  info.change, grey, _clock(self.elapsed), left, extra={"progress": True})

    def finish(self, result):
        """Log the stop reason (a WARNING when the run stopped unconverged) and return ``result``."""
        line = f"optimization {result.status} after {result.iterations} iterations ({_clock(self.elapsed)}): " \
               f"{result.message}"
        if result.status == "max_iterations":
            _log.warning("%s; not converged — raise max_iterations or rerun with checkpoint= and resume=True",
                         line)
        elif result.status in ("interrupted", "failed"):
            _log.warning("%s", line)
        else:
            _log.info("%s", line, extra={"progress": True})
        return result
