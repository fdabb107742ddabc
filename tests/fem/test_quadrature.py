"""Quadrature rules: exactness against closed-form monomial integrals, positivity, validation."""
import itertools
from math import factorial, prod

import numpy as np
import pytest

from femopt.errors import InputError
from femopt.fem.quadrature import QuadratureRule, quadrature

SHAPES = ["line2", "tri3", "quad4", "tet4", "hex8"]
DEGREES = range(9)
SIMPLEX = {"tri3": 2, "tet4": 3}
MEASURE = {"line2": 2.0, "tri3": 1 / 2, "quad4": 4.0, "tet4": 1 / 6, "hex8": 8.0}


def exponents(shape, degree):
    """Monomials the rule must integrate exactly: total degree <= degree on simplices,
    degree <= degree in each variable on tensor cells."""
    dim = SIMPLEX.get(shape) or {"line2": 1, "quad4": 2, "hex8": 3}[shape]
    box = itertools.product(range(degree + 1), repeat=dim)
    return [e for e in box if shape not in SIMPLEX or sum(e) <= degree]


def exact_integral(shape, e):
    """Integral of prod x_i^e_i over the reference cell."""
    if shape in SIMPLEX:  # Dirichlet integral: prod(e_i!) / (sum(e) + dim)!
        return prod(factorial(k) for k in e) / factorial(sum(e) + len(e))
    return prod(0.0 if k % 2 else 2.0 / (k + 1) for k in e)


@pytest.mark.parametrize("degree", DEGREES)
@pytest.mark.parametrize("shape", SHAPES)
def test_rule_integrates_monomials_exactly(shape, degree):
    q = quadrature(shape, degree)
    e = exponents(shape, degree)
    values = np.prod(q.points[:, None, :] ** np.array(e, dtype=float)[None], axis=-1)
    expected = [exact_integral(shape, k) for k in e]
    np.testing.assert_allclose(q.weights @ values, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("degree", DEGREES)
@pytest.mark.parametrize("shape", SHAPES)
def test_weights_positive_and_points_inside(shape, degree):
    q = quadrature(shape, degree)
    assert isinstance(q, QuadratureRule) and q.degree == degree
    assert q.points.shape == (q.n_points, q.dim) and q.weights.shape == (q.n_points,)
    assert np.all(q.weights > 0)
    assert np.isclose(q.weights.sum(), MEASURE[shape], rtol=1e-13)
    if shape in SIMPLEX:
        assert np.all(q.points > 0) and np.all(q.points.sum(axis=1) < 1)
    else:
        assert np.all(np.abs(q.points) < 1)
        assert q.n_points == ((degree + 2) // 2) ** q.dim


def test_small_symmetric_simplex_rules():
    assert quadrature("tri3", 1).n_points == 1 and quadrature("tri3", 2).n_points == 3
    assert quadrature("tet4", 1).n_points == 1 and quadrature("tet4", 2).n_points == 4
    np.testing.assert_allclose(quadrature("tet4", 1).points, [[0.25, 0.25, 0.25]])


def test_rule_depends_only_on_the_cell_shape():
    rule = quadrature("hex8", 3)
    assert quadrature("hex27", 3) is rule
    assert quadrature("hexahedron20", 3) is rule
    assert quadrature("tri6", 2) is quadrature("triangle", 2)
    assert not rule.points.flags.writeable and not rule.weights.flags.writeable


def test_numpy_integer_degree_is_accepted():
    assert quadrature("quad4", np.int64(2)) is quadrature("quad4", 2)


@pytest.mark.parametrize("degree", [-1, 1.5, 2.0, "2", None, True])
def test_invalid_degree_is_rejected(degree):
    with pytest.raises(InputError, match="degree must be an integer >= 0"):
        quadrature("tri3", degree)


def test_unknown_cell_type_is_rejected():
    with pytest.raises(InputError, match="prism"):
        quadrature("prism", 2)
