"""Tools the validation cases share: error norms by quadrature, gradients and stresses
recovered at nodes, distorted meshes, boundary selections.

Everything here is NumPy post-processing of a solved field, written independently of
the assembly kernels so that a case checks the engine against separate arithmetic.
Shapes: ``points (n_nodes, dim)``, a scalar field ``(n_nodes,)``, a vector field
``(n_nodes, c)``.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..fem.elements import reference_element
from ..fem.quadrature import quadrature
from ..mesh.mesh import Mesh
from ..mesh.reference import reference_nodes

__all__ = ["array_namespace", "l2_error", "nodal_gradients", "hooke_stress", "plane_stress_of", "distorted",
           "boundary_nodes", "LINEAR_COUNTERPART"]

#: The linear cell of the same family, whose map defines straight-sided geometry.
LINEAR_COUNTERPART = {"tri3": "tri3", "tri6": "tri3", "quad4": "quad4", "quad8": "quad4",
                      "quad9": "quad4", "tet4": "tet4", "tet10": "tet4", "hex8": "hex8",
                      "hex20": "hex8", "hex27": "hex8"}


def array_namespace(x):
    """``numpy`` for NumPy input, ``jax.numpy`` otherwise: exact solutions written once
    serve both the loads (traced by JAX at quadrature points) and the post-processing
    (NumPy on whole meshes, where eager JAX would compile every operation)."""
    return np if isinstance(x, (np.ndarray, np.generic, float, int)) else jnp


def l2_error(mesh: Mesh, field: np.ndarray, exact: Callable, *, of: Callable | None = None,
             degree: int | None = None):
    """(‖v_h − v‖_L2, ‖v‖_L2) over the mesh by a quadrature of ``degree`` (default
    ``2 * order + 2``, well above what the error needs).

    Args:
        field: nodal values ``(n_nodes,)`` or ``(n_nodes, c)``.
        exact: ``exact(x) -> (m,)`` or ``(m, k)`` for points ``x (m, dim)`` (NumPy).
        of: ``None`` compares the field itself (v = u); else a function of the FE
            gradient ``(m, c, dim)`` giving the derived quantity ``(m, k)`` (e.g. the
            stress components) that ``exact`` returns.
    """
    ct = mesh.cell_type
    element = reference_element(ct)
    rule = quadrature(ct, 2 * ct.order + 2 if degree is None else degree)
    N = element.shape_functions(rule.points)                   # (q, n)
    dN = element.shape_gradients(rule.points)                  # (q, n, d)
    X = mesh.points[mesh.cells]                                # (m, n, d)
    U = np.asarray(field, dtype=float).reshape(mesh.n_nodes, -1)[mesh.cells]   # (m, n, c)
    J = np.einsum("qaj,mai->mqij", dN, X)
    wJ = rule.weights * np.linalg.det(J)                       # (m, q)
    x = np.einsum("qa,mai->mqi", N, X)
    if of is None:
        vh = np.einsum("qa,mak->mqk", N, U)
    else:
        G = np.einsum("qaj,mqji->mqai", dN, np.linalg.inv(J))   # physical shape gradients
        grad = np.einsum("mak,mqai->mqki", U, G)
        vh = np.asarray(of(grad.reshape(-1, *grad.shape[2:]))).reshape(len(X), len(rule.weights), -1)
    ve = np.asarray(exact(x.reshape(-1, mesh.dim)), dtype=float).reshape(vh.shape)
    error = np.sqrt(np.sum(wJ[..., None] * (vh - ve) ** 2))
    norm = np.sqrt(np.sum(wJ[..., None] * ve ** 2))
    return float(error), float(norm)


def nodal_gradients(mesh: Mesh, field: np.ndarray) -> np.ndarray:
    """Field gradient at every node, ``(n_nodes, c, dim)`` (``[.., i, j] = ∂u_i/∂x_j``):
    each cell's gradient evaluated at its own nodes, averaged over the cells sharing
    the node."""
    ct = mesh.cell_type
    element = reference_element(ct)
    dN = element.shape_gradients(reference_nodes(ct))          # (n, n, d): at node b, of N_a
    X = mesh.points[mesh.cells]                                # (m, n, d)
    U = np.asarray(field, dtype=float).reshape(mesh.n_nodes, -1)[mesh.cells]
    J = np.einsum("baj,mai->mbij", dN, X)                      # at each node b of each cell
    G = np.einsum("baj,mbji->mbai", dN, np.linalg.inv(J))      # ∂N_a/∂x_i at node b
    grads = np.einsum("mak,mbai->mbki", U, G)                  # (m, n, c, d)
    total = np.zeros((mesh.n_nodes,) + grads.shape[2:])
    count = np.zeros(mesh.n_nodes)
    np.add.at(total, mesh.cells.ravel(), grads.reshape(-1, *grads.shape[2:]))
    np.add.at(count, mesh.cells.ravel(), 1.0)
    return total / count[:, None, None]


def plane_stress_of(problem) -> Callable:
    """``of=`` for :func:`l2_error`: displacement gradients ``(m, 2, 2)`` → (σ_xx, σ_yy,
    σ_xy) ``(m, 3)`` by the problem's own pointwise law (``physics.stress``) with the
    parameters of its last solve (global constants) — the material as the solve had it,
    not entered again."""
    params = {k: v for k, v in problem.state.params.items() if np.ndim(v) == 0}
    law = jax.jit(jax.vmap(lambda g, p: problem.physics.stress(g, None, None, p), in_axes=(0, None)))

    def components(grad_u):
        sigma = np.asarray(law(jnp.asarray(grad_u), params))
        return np.stack([sigma[:, 0, 0], sigma[:, 1, 1], sigma[:, 0, 1]], axis=1)

    return components


def hooke_stress(grad_u: np.ndarray, E: float, nu: float, plane: str | None = None) -> np.ndarray:
    """Cauchy stress of small-strain isotropic elasticity from displacement gradients
    ``(..., d, d)``: 3D for d = 3, plane ``"stress"`` or ``"strain"`` for d = 2 (the
    in-plane components). Hand-written Hooke's law, independent of femopt's physics: the
    tests check the closed-form solutions with it; the cases read stresses through
    :func:`femopt.stress` and :func:`plane_stress_of`."""
    d = grad_u.shape[-1]
    strain = 0.5 * (grad_u + np.swapaxes(grad_u, -1, -2))
    mu = E / (2.0 * (1.0 + nu))
    lmbda = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    if d == 2 and plane == "stress":
        lmbda = E * nu / (1.0 - nu ** 2)
    trace = np.trace(strain, axis1=-2, axis2=-1)[..., None, None]
    return lmbda * trace * np.eye(d) + 2.0 * mu * strain


def boundary_nodes(mesh: Mesh) -> np.ndarray:
    """Ids of every node on a boundary facet."""
    return np.unique(mesh.facet_nodes(mesh.boundary_facets()))


def distorted(mesh: Mesh, amplitude: float, seed: int = 0) -> Mesh:
    """The mesh with its interior corner nodes moved at random by up to ``amplitude`` per
    coordinate, and every other node put back on the straight-sided cell: mid-edge,
    face and centre nodes are the images of their reference positions under the linear
    (P1/Q1) map of the cell's corners — the same image from every cell sharing them.
    The boundary stays where it was."""
    ct = mesh.cell_type
    linear = reference_element(LINEAR_COUNTERPART[ct.name])
    points = np.array(mesh.points, dtype=float)
    corners = np.unique(mesh.cells[:, :ct.n_corners])
    moving = np.setdiff1d(corners, boundary_nodes(mesh))
    rng = np.random.default_rng(seed)
    points[moving] += amplitude * rng.uniform(-1.0, 1.0, size=(len(moving), mesh.dim))
    if ct.n_nodes > ct.n_corners:
        weights = linear.shape_functions(reference_nodes(ct)[ct.n_corners:])   # (k, n_corners)
        placed = np.einsum("ka,mai->mki", weights, points[mesh.cells[:, :ct.n_corners]])
        points[mesh.cells[:, ct.n_corners:]] = placed
    return mesh.with_points(points)
