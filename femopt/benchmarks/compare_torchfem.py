"""torch-fem in ``femopt bench compare``: the cube solved and differentiated by torch-fem.

torch-fem (PyTorch) builds a ``Solid`` from node coordinates and hex8 cells in VTK order
(femopt's order, so no permutation), an ``IsotropicElasticity3D`` material whose Young's
modulus may be a per-cell tensor, boolean ``constraints`` and nodal ``forces`` (the
traction enters through its ``integrate_surface_load``). ``Solid.solve`` picks its own
linear solver (direct below 10 000 dofs, else CG with pyamg on the CPU) and, given
``differentiable_parameters``, makes the solution differentiable by its implicit adjoint;
the compliance gradient is then ``backward()`` of ``forces · u``.

Phases, as for femopt: ``solve`` = the model built from scratch and solved with the per-cell
E marked differentiable (what a gradient needs); ``gradient`` = ``backward()``; torch-fem
has no call that assembles the stiffness alone, so its assembly is not timed. A warm-up
run on the same mesh comes first (PyTorch's first calls allocate and dispatch lazily).
Checked against torch-fem 0.14 with PyTorch 2.13 (CPU): compliance, displacement and
gradient agree with femopt's to ~1e-14 at 375 dofs.
"""
from __future__ import annotations

import time

import numpy as np

from .compare_peers import PeerUnavailable, import_peer

__all__ = ["torchfem_cube"]


def torchfem_cube(points, cells, *, E, nu, traction, length) -> dict:
    """The cube with torch-fem on femopt's mesh; returns a dict like
    :func:`~femopt.benchmarks.compare_peers.skfem_cube`'s (``assembly_s`` NaN).

    Args:
        points: ``(n_nodes, 3)``; cells: ``(n_cells, 8)`` in VTK order.
        traction: the traction vector ``(3,)`` on ``x = length``; ``x = 0`` is clamped.

    Raises:
        PeerUnavailable: torch-fem (or PyTorch) is not installed, or its API is not the
            one this adapter was checked against.
    """
    torchfem = import_peer("torchfem")
    import torch

    try:
        from torchfem.materials import IsotropicElasticity3D
        solid_class = torchfem.Solid
    except (ImportError, AttributeError) as error:
        raise PeerUnavailable(f"torch-fem {getattr(torchfem, '__version__', '?')} lacks the API this "
                              f"adapter uses ({error})") from error
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        nodes = torch.tensor(np.asarray(points, dtype=np.float64))
        elements = torch.tensor(np.asarray(cells, dtype=np.int64))
        load = torch.tensor(np.asarray(traction, dtype=np.float64))

        def solve():
            modulus = torch.full((elements.shape[0],), float(E), requires_grad=True)
            model = solid_class(nodes, elements, IsotropicElasticity3D(E=modulus, nu=nu))
            model.constraints[nodes[:, 0] == 0.0, :] = True
            model.forces += model.integrate_surface_load(nodes[:, 0] == length, load)
            u, *_ = model.solve(differentiable_parameters=modulus)
            return model, modulus, u

        def differentiate(model, modulus, u):
            compliance = torch.sum(model.forces * u)
            compliance.backward()
            return float(compliance.detach()), modulus.grad.detach().numpy().copy()

        differentiate(*solve())                                   # warm-up
        start = time.perf_counter()
        model, modulus, u = solve()
        solve_s = time.perf_counter() - start
        start = time.perf_counter()
        compliance, gradient = differentiate(model, modulus, u)
        gradient_s = time.perf_counter() - start
    except (TypeError, ValueError, RuntimeError, AttributeError) as error:
        raise PeerUnavailable(f"torch-fem {getattr(torchfem, '__version__', '?')} failed on the cube "
                              f"({type(error).__name__}: {error}); this adapter was checked against "
                              "torch-fem 0.14") from error
    finally:
        torch.set_default_dtype(default_dtype)
    n_dofs = u.numel()
    method = "direct" if n_dofs < 10_000 else "cg + pyamg (its default)"
    return {"assembly_s": float("nan"), "solve_s": solve_s, "gradient_s": gradient_s,
            "compliance": compliance, "gradient": gradient,
            "displacement": u.detach().numpy().reshape(-1, 3), "method": f"torch {torch.__version__}, {method}"}
