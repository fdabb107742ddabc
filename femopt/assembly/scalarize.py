"""Evaluate a one-point JAX function on many points at once, one scalar entry at a time.

XLA on CPU runs a pointwise law vmapped over points as operations on ``(points, 3, 3)``
arrays whose minor dimension is tiny, and the forward-mode derivatives multiply by
one-hot tangent bases at run time; both waste most of the work (see
docs/kernels.md). Here the jaxpr of the point function (derivatives
included, taken by JAX beforehand) is interpreted entry by entry: every array value of
the jaxpr becomes a NumPy object array whose entries are either Python/NumPy constants
or JAX arrays holding that entry at all points (shape ``(n_cells, n_points_per_cell)``
or anything broadcastable to it). Structural operations (slices, reshapes, pads,
transposes, broadcasts, small dots) only rearrange entries and cost nothing at run
time; arithmetic on constants is folded (``0 * x``, ``x + 0``, ``1 * x``), which removes
the one-hot tangents. What reaches XLA is a flat graph of elementwise operations on
large contiguous arrays, which it fuses and vectorizes well.

Primitives without an entrywise rule (``while``, ``cond``, linear algebra, ...) are
still correct: their operands are stacked into ordinary batched arrays and the
primitive runs under ``jax.vmap`` (``_Interpreter._vmapped``). So every law works; common ones
are fast.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jcore

from . import entries as E

__all__ = ["evaluate_jaxpr", "used_inputs"]


def _live(jaxpr):
    """Equations that contribute to the outputs, and the variables they read."""
    needed = {v for v in jaxpr.outvars if isinstance(v, jcore.Var)}
    live = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.effects or any(v in needed for v in eqn.outvars if not isinstance(v, jcore.DropVar)):
            live.append(eqn)
            needed.update(v for v in eqn.invars if isinstance(v, jcore.Var))
    return live[::-1], needed


def used_inputs(closed_jaxpr) -> list[bool]:
    """Whether each (flattened) input of a jaxpr reaches its outputs."""
    _, needed = _live(closed_jaxpr.jaxpr)
    return [v in needed for v in closed_jaxpr.jaxpr.invars]


class _Interpreter:
    """Runs a jaxpr on object arrays of entries (see the module docstring)."""

    def __init__(self, point_shape):
        self.point_shape = tuple(point_shape)

    # -- values ------------------------------------------------------------------------
    @staticmethod
    def _read(env, v):
        if isinstance(v, jcore.Literal):
            return E.as_object(np.asarray(v.val, dtype=v.aval.dtype))
        return env[v]

    def run(self, jaxpr, consts, args):
        env = {}
        for var, val in zip(jaxpr.constvars, consts):
            env[var] = E.as_object(np.asarray(val)) if not isinstance(val, np.ndarray) or val.dtype != object else val
        for var, val in zip(jaxpr.invars, args):
            env[var] = val
        for eqn in _live(jaxpr)[0]:
            ins = [self._read(env, v) for v in eqn.invars]
            outs = self._eqn(eqn, ins)
            if not eqn.primitive.multiple_results:
                outs = [outs]
            for var, val in zip(eqn.outvars, outs):
                env[var] = val
        return [self._read(env, v) for v in jaxpr.outvars]

    def _eqn(self, eqn, ins):
        prim, params = eqn.primitive, eqn.params
        name = prim.name
        sub_jaxpr = _inner_jaxpr(name, params)
        if sub_jaxpr is not None:
            closed = sub_jaxpr if hasattr(sub_jaxpr, "consts") else None
            jaxpr = closed.jaxpr if closed is not None else sub_jaxpr
            consts = closed.consts if closed is not None else ()
            # derivatives were taken before interpretation: custom rules are not needed
            outs = self.run(jaxpr, consts, ins)
            return outs if prim.multiple_results else outs[0]
        rule = E.STRUCTURAL.get(name)
        if rule is not None:
            return rule(ins, **params)
        if name in E.ELEMENTWISE:
            return E.elementwise(eqn, ins)
        if name == "iota":
            return E.as_object(E.iota(**params))
        if all(E.all_constant(x) for x in ins) and name not in ("dot_general",) and not name.startswith("reduce_"):
            return E.constant_eval(eqn, ins)
        if name == "dot_general":
            return E.dot_general(ins[0], ins[1], params["dimension_numbers"])
        if name in ("reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and",
                    "reduce_or"):
            return E.reduce(name, ins[0], params["axes"])
        if name in E.SELECTIONS and all(E.all_constant(x) for x, v in zip(ins, eqn.invars)
                                       if not jnp.issubdtype(v.aval.dtype, jnp.inexact)):
            return E.selection(eqn, ins)
        return self._vmapped(eqn, ins)

    def _vmapped(self, eqn, ins):
        """Any primitive: stack operands into batched arrays, run it under vmap, split."""
        size = int(np.prod(self.point_shape))
        batched, axes = [], []
        for x, v in zip(ins, eqn.invars):
            if E.all_constant(x):
                batched.append(np.asarray(x.astype(v.aval.dtype) if x.dtype == object else x, v.aval.dtype))
                axes.append(None)
            else:
                flat = [jnp.broadcast_to(jnp.asarray(e, v.aval.dtype), self.point_shape).reshape(size)
                        for e in x.ravel()]
                batched.append(jnp.stack(flat, axis=-1).reshape((size,) + x.shape))
                axes.append(0)
        fn = jax.vmap(lambda *a: eqn.primitive.bind(*a, **eqn.params), in_axes=tuple(axes))
        outs = fn(*batched)
        outs = outs if eqn.primitive.multiple_results else [outs]
        result = []
        for out in outs:
            shape = out.shape[1:]
            obj = np.empty(shape, dtype=object)
            flat = out.reshape(size, -1)
            for k, idx in enumerate(np.ndindex(*shape)):
                obj[idx] = flat[:, k].reshape(self.point_shape)
            result.append(obj)
        return result if eqn.primitive.multiple_results else result[0]


def _inner_jaxpr(name, params):
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        if key in params and name in ("pjit", "jit", "closed_call", "core_call", "remat",
                                      "checkpoint", "custom_jvp_call", "custom_vjp_call",
                                      "custom_vjp_call_jaxpr", "custom_lin"):
            return params[key]
    return None


def evaluate_jaxpr(closed_jaxpr, args, point_shape):
    """Outputs of ``closed_jaxpr`` as object arrays of entries.

    Args:
        closed_jaxpr: jaxpr of a one-point function.
        args: one object array per input, shaped like that input at one point; entries
            are constants or arrays broadcastable to ``point_shape``.
        point_shape: shape of an entry holding all points, e.g. ``(n_cells, n_points)``.
    """
    return _Interpreter(point_shape).run(closed_jaxpr.jaxpr, closed_jaxpr.consts, args)
