"""Optimizers behind one driver: optimality criteria, MMA and SciPy's methods, with
per-iteration history, callbacks, progress logging and atomic checkpoints.

* :func:`minimize` — the driver; :class:`OptimizeResult`, :class:`History`,
  :class:`IterationInfo`;
* :class:`OC`, :class:`MMA` — step-by-step optimizers (:class:`Optimizer` interface);
* :func:`read_checkpoint`, :func:`write_checkpoint` — the NPZ checkpoint format; a
  checkpoint is resumed only by the run that wrote it (its fingerprint,
  :mod:`femopt.optimize.resume`).
"""
from .base import Evaluation, OptimizationError, Optimizer
from .checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .driver import SCIPY_METHODS, STEP_METHODS, OptimizeResult, minimize
from .history import History, IterationInfo, Reporter
from .mma import MMA, mma_subproblem
from .oc import OC

__all__ = ["minimize", "OptimizeResult", "History", "IterationInfo", "Reporter", "OC", "MMA",
           "Optimizer", "Evaluation", "OptimizationError", "mma_subproblem", "Checkpoint",
           "read_checkpoint", "write_checkpoint", "STEP_METHODS", "SCIPY_METHODS"]
