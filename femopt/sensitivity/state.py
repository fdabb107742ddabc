"""What every sensitivity starts from: the converged state at the requested parameters,
and the names and shapes of the quantities to differentiate."""
from __future__ import annotations

import inspect
from typing import Mapping

import numpy as np

from ..errors import InputError
from ..functionals.compiled import same_params

__all__ = ["COORDINATES", "PRESCRIBED", "ensure_state", "check_solve_options", "same_params", "wrt_names", "unwrap", "input_shape"]

COORDINATES = "coordinates"
PRESCRIBED = "prescribed"


def unwrap(value):
    """The array inside a ``cell_field`` / ``nodal_field`` marker (or the value itself)."""
    return getattr(value, "values", value)


def _current(problem, state):
    """Whether ``state`` is a converged solution that still belongs to the problem's
    supports (same prescribed dofs and values) with a factorization of the right size."""
    part = problem.partition
    return (state is not None and getattr(state, "converged", True) and state.u.size == problem.space.n_dofs
            and np.array_equal(state.u[part.prescribed], problem.prescribed_values())
            and (state.factorization is None or state.factorization.shape[0] == part.free.size))


def ensure_state(problem, params=None, solve_options=None):
    """The problem's converged state at ``params``: the last solve when it was at these
    parameters (``params=None``: whatever it was at), else a new solve
    ``problem.solve(params, **solve_options)``."""
    state = problem.state
    if not _current(problem, state) or (params is not None
                                        and not same_params(state.params, problem.parameters(params))):
        problem.solve(params, **check_solve_options(problem, solve_options))
        state = problem.state
        if not _current(problem, state) or not same_params(state.params, problem.parameters(params)):
            raise InputError("the problem has no converged state at these parameters "
                             "(Newton did not converge); a sensitivity needs one")
    if state.factorization is None:
        raise InputError("the problem's state has no factorization to reuse; solve it with "
                         "femopt's Newton (Problem.solve)")
    return state


def check_solve_options(problem, solve_options) -> dict:
    """``solve_options`` as a dict of keywords of ``problem.solve`` (``load_steps``,
    ``initial``), unknown ones rejected by name."""
    if solve_options is None:
        return {}
    if not isinstance(solve_options, Mapping):
        raise InputError(f"solve_options must be a dict of Problem.solve keywords such as "
                         f"{{'load_steps': 4}}, got {type(solve_options).__name__}")
    accepted = [n for n, p in inspect.signature(problem.solve).parameters.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(solve_options) - set(accepted))
    if unknown:
        raise InputError(f"solve_options {unknown} are not keywords of Problem.solve; it accepts {accepted}")
    return dict(solve_options)


def wrt_names(problem, wrt) -> list[str]:
    """Validated list of names to differentiate with respect to (default: all)."""
    if wrt is None:
        names = list(problem.params) + [COORDINATES, PRESCRIBED]
    elif isinstance(wrt, str):
        names = [wrt]
    else:
        names = list(wrt)
    for n in names:
        if not isinstance(n, str) or (n not in problem.params and n not in (COORDINATES, PRESCRIBED)):
            raise InputError(
                f"can not differentiate with respect to {n!r}: it is not a parameter of this problem "
                f"(parameters: {sorted(problem.params)}, or {COORDINATES!r}, {PRESCRIBED!r}). A value "
                "captured in a closure is a constant; declare it as a parameter to differentiate it"
            )
    if len(set(names)) != len(names):
        raise InputError(f"wrt names a quantity twice: {names}")
    return names


def input_shape(problem, params, name) -> tuple:
    """Shape of the quantity ``name`` (its gradient has the same shape)."""
    if name == COORDINATES:
        return tuple(problem.mesh.points.shape)
    if name == PRESCRIBED:
        return (problem.partition.prescribed.size,)
    return tuple(np.shape(unwrap(params[name])))
