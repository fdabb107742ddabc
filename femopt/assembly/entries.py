"""Entry-wise rules for :mod:`.scalarize`: primitives applied to object arrays of entries.

An *entry* is a Python/NumPy scalar known at trace time (a constant) or a JAX array
holding one entry of a point value at all points. Arithmetic folds constants
(``0 * x = 0`` — also for a non-finite x —, ``1 * x = x``, ``x + 0 = x``); structural
primitives (reshape, slice, pad, transpose, broadcast, concatenate, small dots and
reductions, gathers with known indices) only rearrange entries.
"""
from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["is_constant", "add", "sub", "neg", "mul", "as_object", "all_constant", "constant_eval",
           "elementwise", "STRUCTURAL", "ELEMENTWISE", "SELECTIONS", "iota", "dot_general",
           "reduce", "selection"]

ELEMENTWISE = {
    "neg", "exp", "exp2", "log", "log1p", "expm1", "sqrt", "rsqrt", "cbrt", "tanh", "sin",
    "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
    "logistic", "abs", "sign", "floor", "ceil", "round", "is_finite", "not", "erf", "erfc",
    "erf_inv", "lgamma", "digamma", "square", "integer_pow", "convert_element_type",
    "reduce_precision", "copy", "copy_p", "add", "add_any", "sub", "mul", "div", "rem", "pow",
    "max", "min", "atan2", "nextafter", "and", "or", "xor", "eq", "ne", "lt", "le", "gt",
    "ge", "select_n", "clamp", "real", "imag",
}
# Linear in their floating operands once their integer operands (indices) are known.
SELECTIONS = {"gather", "scatter", "scatter-add", "scatter_add", "dynamic_slice",
               "dynamic_update_slice"}


def is_constant(x) -> bool:
    """True for an entry known at trace time (a Python or NumPy scalar)."""
    return not isinstance(x, jax.Array)


def _is_value(x, v) -> bool:
    return is_constant(x) and np.ndim(x) == 0 and x == v


def add(a, b):
    """a + b with constant folding."""
    if _is_value(a, 0):
        return b
    if _is_value(b, 0):
        return a
    if is_constant(a) and is_constant(b):
        return np.add(a, b)
    return a + b


def sub(a, b):
    """a - b with constant folding."""
    if _is_value(b, 0):
        return a
    if _is_value(a, 0):
        return neg(b)
    if is_constant(a) and is_constant(b):
        return np.subtract(a, b)
    return a - b


def neg(a):
    """-a."""
    return np.negative(a) if is_constant(a) else -a


def _dtype(x):
    return np.result_type(x) if is_constant(x) else x.dtype


def mul(a, b):
    """a * b with constant folding (0 * x = 0, also for x not finite)."""
    if _is_value(a, 0) or _is_value(b, 0):
        return np.zeros((), dtype=np.result_type(_dtype(a), _dtype(b)))[()]
    if _is_value(a, 1):
        return b
    if _is_value(b, 1):
        return a
    if _is_value(a, -1):
        return neg(b)
    if _is_value(b, -1):
        return neg(a)
    if is_constant(a) and is_constant(b):
        return np.multiply(a, b)
    return a * b


def _div(a, b):
    """a / b with constant folding (0 / x = 0)."""
    if _is_value(b, 1):
        return a
    if _is_value(a, 0):
        return a
    return a / b


_FOLDING = {"add": add, "add_any": add, "sub": sub, "mul": mul, "neg": neg, "div": _div}


def as_object(a):
    """A NumPy array as an object array of its (constant) entries."""
    a = np.asarray(a)
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(*a.shape):
        out[idx] = a[idx]
    return out


def all_constant(x):
    """Whether every entry of the object array ``x`` is a constant."""
    return all(is_constant(e) for e in x.ravel())


def constant_eval(eqn, ins):
    """Any primitive on all-constant operands, evaluated now (once, at trace time)."""
    arrays = [np.array(x.tolist(), dtype=v.aval.dtype).reshape(x.shape) for x, v in zip(ins, eqn.invars)]
    with jax.ensure_compile_time_eval():
        outs = eqn.primitive.bind(*arrays, **eqn.params)
    if eqn.primitive.multiple_results:
        return [as_object(np.asarray(o)) for o in outs]
    return as_object(np.asarray(outs))


def elementwise(eqn, ins):
    """An elementwise primitive, entry by entry: NumPy on constants, folding where one
    operand is a known 0 or 1, else the primitive on the (broadcast) entry arrays."""
    name = eqn.primitive.name
    shape = np.broadcast_shapes(*(x.shape for x in ins))
    ins = [np.broadcast_to(x, shape) for x in ins]
    out = np.empty(shape, dtype=object)
    dtypes = [v.aval.dtype for v in eqn.invars]
    out_dtype = eqn.outvars[0].aval.dtype
    fold = _FOLDING.get(name)
    for idx in np.ndindex(*shape):
        args = [x[idx] for x in ins]
        if all(is_constant(a) for a in args):
            out[idx] = _numpy_elementwise(eqn, args)
        elif fold is not None:
            out[idx] = fold(*args)
        elif name in ("convert_element_type", "copy", "copy_p", "reduce_precision") and \
                not is_constant(args[0]) and args[0].dtype == out_dtype:
            out[idx] = args[0]
        elif name == "integer_pow" and eqn.params["y"] == 1:
            out[idx] = args[0]
        elif name == "select_n" and is_constant(args[0]):
            out[idx] = args[1 + int(args[0])]
        else:
            full = jnp.broadcast_shapes(*(jnp.shape(a) for a in args))
            arrays = [jnp.broadcast_to(jnp.asarray(a, dt), full) for a, dt in zip(args, dtypes)]
            out[idx] = eqn.primitive.bind(*arrays, **eqn.params)
    return out


_NUMPY = {
    "add": np.add, "add_any": np.add, "sub": np.subtract, "mul": np.multiply, "neg": np.negative,
    "max": np.maximum, "min": np.minimum, "eq": np.equal, "ne": np.not_equal, "lt": np.less,
    "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "exp": np.exp, "log": np.log,
    "log1p": np.log1p, "expm1": np.expm1, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "sqrt": np.sqrt, "abs": np.abs, "sign": np.sign, "square": np.square,
    "pow": np.power, "rem": np.fmod, "atan2": np.arctan2, "floor": np.floor, "ceil": np.ceil,
    "is_finite": np.isfinite, "exp2": np.exp2,
}


def _numpy_elementwise(eqn, args):
    """An elementwise primitive on constants, in NumPy (no XLA compile at trace time)."""
    name, params = eqn.primitive.name, eqn.params
    dtype = eqn.outvars[0].aval.dtype
    with np.errstate(all="ignore"):
        if name in _NUMPY:
            return np.asarray(_NUMPY[name](*args)).astype(dtype)[()]
        if name == "div":
            a, b = args
            q = np.divide(a, b)
            return np.asarray(np.trunc(q) if np.issubdtype(dtype, np.integer) else q).astype(dtype)[()]
        if name in ("convert_element_type", "copy", "copy_p", "reduce_precision"):
            return np.asarray(args[0]).astype(dtype)[()]
        if name == "integer_pow":
            return np.asarray(np.power(np.asarray(args[0], dtype), params["y"])).astype(dtype)[()]
        if name == "select_n":
            return np.asarray(args[1 + int(args[0])]).astype(dtype)[()]
        if name in ("and", "or", "xor", "not"):
            fn = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor, "not": np.invert}[name]
            return np.asarray(fn(*args)).astype(dtype)[()]
        if name == "rsqrt":
            return np.asarray(1.0 / np.sqrt(args[0])).astype(dtype)[()]
    return constant_eval(eqn, [as_object(np.asarray(a)) for a in args])[()]


def iota(dtype, shape, dimension, **_):
    index = np.arange(shape[dimension], dtype=dtype)
    expanded = [1] * len(shape)
    expanded[dimension] = shape[dimension]
    return np.broadcast_to(index.reshape(expanded), shape)


def _broadcast_in_dim(ins, shape, broadcast_dimensions, **_):
    (x,) = ins[:1]
    expanded = [1] * len(shape)
    for src, dst in enumerate(broadcast_dimensions):
        expanded[dst] = x.shape[src]
    return np.array(np.broadcast_to(x.reshape(expanded), shape))


def _reshape(ins, new_sizes, **_):
    return ins[0].reshape(new_sizes)


def _squeeze(ins, dimensions, **_):
    return np.squeeze(ins[0], axis=tuple(dimensions))


def _transpose(ins, permutation, **_):
    return np.transpose(ins[0], permutation)


def _slice(ins, start_indices, limit_indices, strides=None, **_):
    strides = strides or (1,) * len(start_indices)
    return ins[0][tuple(slice(a, b, s) for a, b, s in zip(start_indices, limit_indices, strides))]


def _rev(ins, dimensions, **_):
    return np.flip(ins[0], axis=tuple(dimensions))


def _concatenate(ins, dimension, **_):
    return np.concatenate(ins, axis=dimension)


def _split(ins, sizes, axis, **_):
    return np.split(ins[0], np.cumsum(sizes)[:-1], axis=axis)


def _pad(ins, padding_config, **_):
    x, value = ins[0], ins[1][()]
    out = x
    for axis, (lo, hi, interior) in enumerate(padding_config):
        n = out.shape[axis]
        size = lo + hi + n + max(n - 1, 0) * interior
        shape = list(out.shape)
        shape[axis] = max(size, 0)
        padded = np.empty(shape, dtype=object)
        padded[...] = value
        positions = lo + np.arange(n) * (interior + 1)
        keep = (positions >= 0) & (positions < size)
        dst = [slice(None)] * out.ndim
        src = [slice(None)] * out.ndim
        dst[axis] = positions[keep]
        src[axis] = np.flatnonzero(keep)
        padded[tuple(dst)] = out[tuple(src)]
        out = padded
    return out


STRUCTURAL = {
    "broadcast_in_dim": _broadcast_in_dim, "reshape": _reshape, "squeeze": _squeeze,
    "transpose": _transpose, "slice": _slice, "rev": _rev, "concatenate": _concatenate,
    "split": _split, "pad": _pad,
}


def dot_general(lhs, rhs, dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    lf = [i for i in range(lhs.ndim) if i not in lc and i not in lb]
    rf = [i for i in range(rhs.ndim) if i not in rc and i not in rb]
    L = np.transpose(lhs, list(lb) + lf + list(lc))
    R = np.transpose(rhs, list(rb) + rf + list(rc))
    nb, nlf, nrf = len(lb), len(lf), len(rf)
    bshape, lshape, rshape = L.shape[:nb], L.shape[nb:nb + nlf], R.shape[nb:nb + nrf]
    nc = int(np.prod(L.shape[nb + nlf:], dtype=int))
    L = L.reshape(bshape + lshape + (nc,))
    R = R.reshape(bshape + rshape + (nc,))
    out = np.empty(bshape + lshape + rshape, dtype=object)
    for b in np.ndindex(*bshape):
        for i in np.ndindex(*lshape):
            for j in np.ndindex(*rshape):
                acc = 0.0
                for k in range(nc):
                    acc = add(acc, mul(L[b + i + (k,)], R[b + j + (k,)]))
                out[b + i + j] = acc
    return out


def reduce(name, x, axes):
    keep = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, keep + list(axes))
    moved = moved.reshape(moved.shape[:len(keep)] + (-1,))
    out = np.empty(moved.shape[:-1], dtype=object)
    for idx in np.ndindex(*out.shape):
        items = list(moved[idx])
        if name == "reduce_sum":
            acc = 0.0
            for e in items:
                acc = add(acc, e)
        elif name == "reduce_prod":
            acc = 1.0
            for e in items:
                acc = mul(acc, e)
        else:
            op = {"reduce_max": jnp.maximum, "reduce_min": jnp.minimum,
                  "reduce_and": jnp.logical_and, "reduce_or": jnp.logical_or}[name]
            acc = items[0]
            for e in items[1:]:
                acc = op(acc, e)
        out[idx] = acc
    return out


def selection(eqn, ins):
    """Gather/scatter-like primitives with known indices: linear maps of their floating
    operands, found by running the primitive on unit vectors at trace time."""
    float_pos = [k for k, v in enumerate(eqn.invars) if jnp.issubdtype(v.aval.dtype, jnp.inexact)]
    sizes = [ins[k].size for k in float_pos]
    n_in = sum(sizes)
    out_aval = eqn.outvars[0].aval
    basis = np.eye(n_in)
    columns = []
    with jax.ensure_compile_time_eval():
        for col in range(n_in):
            args, offset = [], 0
            for k, (x, v) in enumerate(zip(ins, eqn.invars)):
                if k in float_pos:
                    args.append(basis[col, offset:offset + x.size].reshape(x.shape).astype(v.aval.dtype))
                    offset += x.size
                else:
                    args.append(np.array(x.tolist(), dtype=v.aval.dtype).reshape(x.shape))
            columns.append(np.asarray(eqn.primitive.bind(*args, **eqn.params)).ravel())
    M = np.stack(columns, axis=1)  # (out size, n_in)
    entries = list(itertools.chain.from_iterable(ins[k].ravel() for k in float_pos))
    out = np.empty(out_aval.shape, dtype=object)
    flat = out.reshape(-1)
    for i in range(M.shape[0]):
        acc = 0.0
        for j in np.flatnonzero(M[i]):
            acc = add(acc, mul(M[i, j], entries[j]))
        flat[i] = acc
    return out
