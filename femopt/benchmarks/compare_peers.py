"""The other libraries of ``femopt bench compare``: each peer is imported lazily and
skipped, with the reason, when it is not installed.

scikit-fem solves the cube of :mod:`femopt.benchmarks.compare` with its own assembly
(``ElementVector(ElementHex1())``, ``linear_elasticity`` from ``skfem.models.elasticity``,
2x2x2 Gauss points — the same trilinear discretization as femopt's hex8) on femopt's
mesh. femopt numbers a hex8's nodes the VTK way; skfem's ``MeshHex1`` has an order of its
own, so the permutation is derived from the two reference cells (each of skfem's
reference nodes is looked up among femopt's), not typed in.

torch-fem and JAX-FEM have adapters of their own (:mod:`compare_torchfem`,
:mod:`compare_jaxfem`). A peer without a checked adapter would be listed in
``UNADAPTED_PEERS`` and only detected: its row says "skipped" and why.
"""
from __future__ import annotations

import importlib
import time

import numpy as np
import scipy.sparse.linalg as spla

__all__ = ["PeerUnavailable", "import_peer", "skfem_node_order", "skfem_cube", "undetected_peer_reason",
           "UNADAPTED_PEERS"]

#: module name → (display name, install hint)
_INSTALL = {
    "skfem": ("scikit-fem", "pip install scikit-fem"),
    "torchfem": ("torch-fem", "pip install torch-fem"),
    "jax_fem": ("JAX-FEM", "pip install jax-fem fenics-basix pyfiglet; petsc4py: "
                           "bash scripts/install_mpi_stack.sh"),
}

#: peers without a checked adapter: (module name, library name); none at present
UNADAPTED_PEERS: tuple = ()


class PeerUnavailable(Exception):
    """A peer library cannot run; the message is the reason shown in the table."""


def import_peer(module: str):
    """The peer's module, or :class:`PeerUnavailable` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        library, hint = _INSTALL[module]
        raise PeerUnavailable(f"{library} is not installed ({hint})") from error


def undetected_peer_reason(module: str) -> str:
    """Why a peer without an adapter is skipped: not installed, or no checked adapter."""
    try:
        import_peer(module)
    except PeerUnavailable as reason:
        return str(reason)
    library = _INSTALL[module][0]
    return (f"{library} is installed, but this benchmark has no adapter checked against it "
            "(its element and solver APIs change between releases)")


def skfem_node_order(skfem) -> list[int]:
    """``order[k]`` = femopt's (VTK) local node at skfem's local hex node ``k``."""
    from ..fem.elements import reference_element

    femopt_nodes = (np.asarray(reference_element("hex8").nodes) + 1.0) / 2.0   # [-1, 1]^3 → [0, 1]^3
    order = []
    for corner in np.asarray(skfem.MeshHex1().doflocs).T:
        match = np.flatnonzero(np.all(np.isclose(femopt_nodes, corner), axis=1))
        if match.size != 1:
            raise RuntimeError(f"skfem's reference hex node {corner} matches {match.size} femopt nodes; "
                               "this is a bug in femopt's benchmark")
        order.append(int(match[0]))
    return order


def _rigid_body_modes(coordinates, nodal_dofs, free):
    """The six rigid motions ``(n_free, 6)`` in skfem's dof numbering.

    coordinates: ``(3, n_nodes)``; nodal_dofs: ``(3, n_nodes)`` dof of (component, node)."""
    x, y, z = coordinates
    zero, one = np.zeros_like(x), np.ones_like(x)
    motions = [(one, zero, zero), (zero, one, zero), (zero, zero, one),
               (-y, x, zero), (zero, -z, y), (z, zero, -x)]
    modes = np.zeros((nodal_dofs.size, 6))
    for j, motion in enumerate(motions):
        for component in range(3):
            modes[nodal_dofs[component], j] = motion[component]
    return modes[free]


def _solve(skfem, basis, K, f, clamped, method, rtol):
    """Displacement ``(n_dofs,)`` and a description of the method: ``"cg+amg"`` (pyamg
    smoothed aggregation with the rigid-body modes, CG to ``rtol``) or SciPy's sparse
    direct solve (skfem's default ``solve``)."""
    A, b, x, free = skfem.condense(K, f, D=clamped)
    if method != "cg+amg":
        return skfem.solve(A, b, x, free), "scipy spsolve (SuperLU)"
    import pyamg

    nodal_dofs = basis.nodal_dofs
    modes = _rigid_body_modes(basis.doflocs[:, nodal_dofs[0]], nodal_dofs, free)
    hierarchy = pyamg.smoothed_aggregation_solver(A.tocsr(), B=modes)
    count = [0]

    def callback(_):
        count[0] += 1

    u_free, info = spla.cg(A, b, rtol=rtol, M=hierarchy.aspreconditioner(cycle="V"), callback=callback)
    if info != 0:
        raise PeerUnavailable(f"scikit-fem + pyamg CG did not converge ({count[0]} iterations)")
    x = x.copy()
    x[free] = u_free
    return x, f"pyamg SA + rigid-body modes, CG ({count[0]} it)"


def skfem_cube(points, cells, *, E, nu, traction, length, method="direct", rtol=1e-10, repeat=3):
    """The cube with scikit-fem on femopt's mesh; returns a dict of results.

    Args:
        points: ``(n_nodes, 3)``; cells: ``(n_cells, 8)`` in VTK order.
        traction: the traction vector ``(3,)`` on ``x = length``; ``x = 0`` is clamped.
        method: ``"cg+amg"`` or anything else for SciPy's direct solve (chosen to match
            the solver femopt picked).

    Keys: ``assembly_s`` (``asm`` of the stiffness, best of ``repeat``), ``solve_s``
    (bases + assembly + condensation + solve), ``gradient_s`` (the compliance gradient
    by hand, dC/dE_e = -u_e·K_e(E=1) u_e, through an elementwise functional),
    ``compliance``, ``gradient`` ``(n_cells,)``, ``displacement`` ``(n_nodes, 3)``,
    ``method``.

    Raises:
        PeerUnavailable: scikit-fem is not installed.
    """
    skfem = import_peer("skfem")
    from skfem.helpers import ddot, sym_grad
    from skfem.models.elasticity import lame_parameters, linear_elasticity, linear_stress

    lam, mu = lame_parameters(E, nu)
    stiffness_form = linear_elasticity(lam, mu)
    stress = linear_stress(lam, mu)
    order = skfem_node_order(skfem)
    mesh = skfem.MeshHex1(np.ascontiguousarray(np.asarray(points, dtype=float).T),
                          np.ascontiguousarray(np.asarray(cells)[:, order].T))
    element = skfem.ElementVector(skfem.ElementHex1())
    load = np.asarray(traction, dtype=float)

    @skfem.LinearForm
    def traction_form(v, w):
        return load[0] * v[0] + load[1] * v[1] + load[2] * v[2]

    @skfem.Functional
    def energy_density(w):
        return ddot(stress(sym_grad(w["u"])), sym_grad(w["u"]))

    def solve():
        basis = skfem.Basis(mesh, element, intorder=2)
        loaded = skfem.FacetBasis(mesh, element, intorder=2,
                                  facets=mesh.facets_satisfying(lambda x: np.isclose(x[0], length)))
        K = skfem.asm(stiffness_form, basis)
        f = skfem.asm(traction_form, loaded)
        clamped = basis.get_dofs(lambda x: np.isclose(x[0], 0.0)).all()
        u, used = _solve(skfem, basis, K, f, clamped, method, rtol)
        return basis, K, f, u, used

    basis, K, f, u, used = solve()                         # warm-up: caches, first calls
    assembly = min(_seconds(lambda: skfem.asm(stiffness_form, basis)) for _ in range(repeat))
    start = time.perf_counter()
    basis, K, f, u, used = solve()
    solve_s = time.perf_counter() - start
    gradient = -energy_density.elemental(basis, u=basis.interpolate(u))
    start = time.perf_counter()
    gradient = -energy_density.elemental(basis, u=basis.interpolate(u))
    gradient_s = time.perf_counter() - start
    return {"assembly_s": assembly, "solve_s": solve_s, "gradient_s": gradient_s,
            "compliance": float(f @ u), "gradient": np.asarray(gradient),
            "displacement": np.asarray(u)[basis.nodal_dofs].T, "method": used}


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
