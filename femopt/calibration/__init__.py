"""Calibration with uncertainty: parameters from data, and how sure the data make us.

A :class:`Calibration` holds experiments (solves of one problem at given loads, each
with its observations and noise model: :class:`PointData`, :class:`ReactionData`; or
transient runs observed by sensors over time: :class:`TransientExperiment`) and
the unknowns (:class:`Constants` with a Gaussian prior, :class:`Field` s with a Gaussian
field prior or a penalty), in coordinates (identity or log) that make positive
quantities unconstrained. It gives the negative log posterior, its gradient (adjoint)
and Gauss–Newton or full Hessian-vector products (second-order adjoint);
:func:`find_map` finds the maximum a posteriori point (L-BFGS-B or Newton-CG);
:func:`laplace` the Gaussian approximation there (dense, for a few constants) and
:func:`low_rank_laplace` for a field (randomized eigensolver, :class:`BiLaplacianPrior`);
:func:`prior_strength_gradient` differentiates a held-out misfit with respect to a
prior's strength through the MAP point (bilevel choice of the hyperparameter);
:mod:`.sampling` (``sample_nuts``) samples a few constants' posterior by NUTS through
BlackJAX (the optional extra ``femopt[uq]``), imported on first use.
"""
from .bilevel import BilevelGradient, held_out_misfit, inner_map, prior_strength_gradient
from .calibration import Calibration, SolveCounts
from .field_posterior import FieldLaplaceResult, low_rank_laplace
from .field_prior import BiLaplacianPrior
from .observations import Experiment, NoiseModel, PointData, ReactionData
from .posterior import LaplaceResult, MapResult, find_map, laplace
from .transient_experiment import TransientExperiment
from .unknowns import Constants, Field

__all__ = ["Calibration", "SolveCounts", "Experiment", "NoiseModel", "PointData", "ReactionData", "Constants",
           "Field", "find_map", "laplace", "MapResult", "LaplaceResult", "low_rank_laplace", "FieldLaplaceResult",
           "BiLaplacianPrior", "TransientExperiment", "prior_strength_gradient", "held_out_misfit", "inner_map", "BilevelGradient"]
