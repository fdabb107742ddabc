"""Reference elements: interpolation, derivatives, completeness and the patch-test property."""
import itertools
import math

import numpy as np
import pytest

from femopt.errors import InputError
from femopt.fem.elements import ReferenceElement, reference_element
from femopt.fem.quadrature import quadrature
from femopt.mesh.cell_types import CELL_TYPES

ALL_TYPES = sorted(CELL_TYPES)
SERENDIPITY = ("quad8", "hex20")


def random_reference_points(el, n, seed=0):
    """``n`` random points strictly inside the reference cell, ``(n, dim)``."""
    rng = np.random.default_rng(seed)
    if el.cell_type.family == "simplex":
        return rng.dirichlet(np.ones(el.dim + 1), size=n)[:, 1:]
    return rng.uniform(-1.0, 1.0, size=(n, el.dim))


def polynomial_space(name):
    """Exponent tuples of the monomials the element's basis spans (written independently
    of the implementation): P_p on simplices, Q_p on tensor Lagrange cells, and the
    quadratic serendipity space (exponents <= 2, at most one of them 2) on quad8/hex20."""
    ct = CELL_TYPES[name]
    box = list(itertools.product(range(ct.order + 1), repeat=ct.dim))
    if ct.family == "simplex":
        return [e for e in box if sum(e) <= ct.order]
    if name in SERENDIPITY:
        return [e for e in box if sum(k == 2 for k in e) <= 1]
    return box


def monomials(x, exponents):
    """Values ``(n_points, n_monomials)`` and gradients ``(n_points, n_monomials, dim)``."""
    e = np.array(exponents, dtype=float)[None]  # (1, n_mono, dim)
    xs = x[:, None, :]
    values = np.prod(xs**e, axis=-1)
    gradients = np.empty(values.shape + (x.shape[1],))
    for k in range(x.shape[1]):
        lowered = e.copy()
        lowered[..., k] = np.maximum(e[..., k] - 1.0, 0.0)
        gradients[..., k] = e[..., k] * np.prod(xs**lowered, axis=-1)
    return values, gradients


@pytest.mark.parametrize("name", ALL_TYPES)
def test_kronecker_property(name):
    el = reference_element(name)
    np.testing.assert_allclose(el.shape_functions(el.nodes), np.eye(el.n_nodes), atol=1e-13)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_partition_of_unity(name):
    el = reference_element(name)
    xi = random_reference_points(el, 50)
    np.testing.assert_allclose(el.shape_functions(xi).sum(axis=1), 1.0, atol=1e-13)
    np.testing.assert_allclose(el.shape_gradients(xi).sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_gradients_match_central_differences(name):
    el = reference_element(name)
    xi = random_reference_points(el, 20, seed=1)
    h = 1e-6
    gradients = el.shape_gradients(xi)
    assert gradients.shape == (20, el.n_nodes, el.dim)
    for k in range(el.dim):
        step = h * np.eye(el.dim)[k]
        fd = (el.shape_functions(xi + step) - el.shape_functions(xi - step)) / (2 * h)
        np.testing.assert_allclose(gradients[:, :, k], fd, atol=1e-7)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_basis_reproduces_its_polynomial_space(name):
    el = reference_element(name)
    exponents = polynomial_space(name)
    assert len(exponents) == el.n_nodes  # unisolvent together with the Kronecker test
    xi = random_reference_points(el, 30, seed=2)
    at_nodes, _ = monomials(el.nodes, exponents)
    values, gradients = monomials(xi, exponents)
    np.testing.assert_allclose(el.shape_functions(xi) @ at_nodes, values, atol=1e-12)
    interpolated_gradients = np.einsum("qaj,am->qmj", el.shape_gradients(xi), at_nodes)
    np.testing.assert_allclose(interpolated_gradients, gradients, atol=1e-12)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_polynomial_degree_is_highest_total_degree_of_the_space(name):
    assert reference_element(name).polynomial_degree == max(map(sum, polynomial_space(name)))


@pytest.mark.parametrize("name", ALL_TYPES)
def test_isoparametric_linear_field_has_exact_gradient(name):
    """Element-level patch test: on a distorted cell, u = a + b.x interpolated at the
    nodes has physical gradient J^{-T} dN^T u = b at every quadrature point."""
    el = reference_element(name)
    rng = np.random.default_rng(3)
    A = np.eye(el.dim) + 0.2 * rng.uniform(-1, 1, (el.dim, el.dim))
    X = el.nodes @ A.T + rng.uniform(-1, 1, el.dim) + 0.04 * rng.uniform(-1, 1, el.nodes.shape)
    a, b = rng.normal(), rng.normal(size=el.dim)
    u = a + X @ b
    q = quadrature(name, el.default_quadrature_degree + 1)
    dN = el.shape_gradients(q.points)  # (n_q, n_nodes, dim)
    J = np.einsum("ai,qaj->qij", X, dN)  # dx_i / dxi_j
    assert np.all(np.linalg.det(J) > 0.1 * np.linalg.det(A))  # a valid, untangled cell
    du_dxi = np.einsum("a,qaj->qj", u, dN)
    du_dx = np.linalg.solve(np.transpose(J, (0, 2, 1)), du_dxi[..., None])[..., 0]
    np.testing.assert_allclose(du_dx, np.broadcast_to(b, du_dx.shape), atol=1e-10)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_default_quadrature_integrates_reference_stiffness_exactly(name):
    el = reference_element(name)

    def stiffness(degree):
        q = quadrature(name, degree)
        dN = el.shape_gradients(q.points)
        return np.einsum("q,qaj,qbj->ab", q.weights, dN, dN)

    degree = el.default_quadrature_degree
    assert degree >= 1
    np.testing.assert_allclose(stiffness(degree), stiffness(degree + 4), atol=1e-13)


@pytest.mark.parametrize("name", ALL_TYPES)
def test_nodes_follow_vtk_conventions(name):
    el = reference_element(name)
    ct = el.cell_type
    assert el.nodes.shape == (ct.n_nodes, ct.dim)
    assert (el.dim, el.n_nodes, el.order) == (ct.dim, ct.n_nodes, ct.order)
    corners = el.nodes[: ct.n_corners]
    if ct.family == "simplex":
        np.testing.assert_array_equal(corners, np.vstack([np.zeros(ct.dim), np.eye(ct.dim)]))
        assert np.all(el.nodes >= 0) and np.all(el.nodes.sum(axis=1) <= 1)
    else:
        assert np.all(np.abs(corners) == 1.0) and np.all(np.abs(el.nodes) <= 1.0)
        np.testing.assert_array_equal(corners[:2, 0], [-1.0, 1.0])  # left, right first
    assert len({tuple(x) for x in el.nodes}) == ct.n_nodes
    assert not el.nodes.flags.writeable  # the cached element is shared


def test_centre_and_face_centre_nodes():
    np.testing.assert_array_equal(reference_element("line3").nodes[2], [0.0])
    np.testing.assert_array_equal(reference_element("quad9").nodes[8], [0.0, 0.0])
    hex27 = reference_element("hex27").nodes
    # Faces x-, x+, y-, y+, z-, z+, then the centre (VTK vtkTriQuadraticHexahedron).
    expected = [-np.eye(3)[0], np.eye(3)[0], -np.eye(3)[1], np.eye(3)[1],
                -np.eye(3)[2], np.eye(3)[2], np.zeros(3)]
    np.testing.assert_array_equal(hex27[20:], expected)


def test_lookup_by_any_spelling_is_cached():
    el = reference_element("hex8")
    assert isinstance(el, ReferenceElement)
    assert reference_element("hexahedron") is el
    assert reference_element(CELL_TYPES["hex8"]) is el


def test_unknown_cell_type_is_rejected():
    with pytest.raises(InputError, match="hex9"):
        reference_element("hex9")


@pytest.mark.parametrize("shape", [(3,), (2, 3), (1, 2, 2)])
def test_points_of_the_wrong_shape_are_rejected(shape):
    with pytest.raises(InputError, match=r"\(n_points, 2\)"):
        reference_element("quad4").shape_functions(np.zeros(shape))


def test_quad4_values_and_quadratic_mid_node_by_hand():
    np.testing.assert_allclose(reference_element("quad4").shape_functions([[0.0, 0.0]]), [[0.25] * 4])
    # tri6 mid-node of edge 01 at the centroid: 4 * (1/3) * (1/3).
    tri6 = reference_element("tri6").shape_functions([[1 / 3, 1 / 3]])
    np.testing.assert_allclose(tri6[0, 3:], 4 / 9)
    np.testing.assert_allclose(tri6[0, :3], -1 / 9)
    # hex20 corner at the centre: (1/8) * (0 - 2) = -1/4; mid-edge nodes 1/4.
    hex20 = reference_element("hex20").shape_functions(np.zeros((1, 3)))
    np.testing.assert_allclose(hex20[0, :8], -0.25)
    np.testing.assert_allclose(hex20[0, 8:], 0.25)
    assert math.isclose(hex20.sum(), 1.0)
