"""Geometric multigrid: lattice detection, transfer operators, the V-cycle as an SPD
preconditioner, and CG+GMG against the direct solver on femopt's own problems."""
import functools

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import femopt as fo
from femopt import design as fd
from femopt.errors import InputError, SolverError
from femopt.solvers.linear import DirectSolver
from femopt.solvers.multigrid import GeometricMultigrid, gmg_solver, largest_scaled_eigenvalue
from femopt.solvers.multigrid_grid import interpolation_1d, structured_grid, transfer_hierarchy

EMIN = 1e-9


# -- problems ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def elastic_box(shape):
    """Hex8 block of unit cells, fixed at x = 0, downward traction on x = max."""
    mesh = fo.mesh.box(size=shape, shape=shape, cell="hex8")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1.0])
    return problem, fd.CellScaledModel(problem, "E", linear_solver="direct", check=False)


@functools.lru_cache(maxsize=None)
def heat_block(shape):
    """Heat conduction with a uniform source, temperature 0 on x = 0; quad4 or hex8."""
    mesh = (fo.mesh.rectangle(size=shape, shape=shape, cell="quad4") if len(shape) == 2
            else fo.mesh.box(size=shape, shape=shape, cell="hex8"))
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=1.0))
    problem.fix("xmin")
    problem.heat_source(1.0)
    return problem, fd.CellScaledModel(problem, "k", linear_solver="direct", check=False)


@functools.lru_cache(maxsize=None)
def elastic_plate_with_hole():
    """Plane-stress quad4 plate with a hole (a mapped, graded lattice), symmetry supports."""
    mesh = fo.mesh.plate_with_hole(4.0, 3.0, 1.0, shape=(24, 16), cell="quad4", grading=3.0)
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xsym", components=0)
    problem.fix("ysym", components=1)
    problem.traction("xmax", [1.0, 0.0])
    return problem, fd.CellScaledModel(problem, "E", linear_solver="direct", check=False)


def simp_field(n_cells, seed=0):
    """SIMP stiffness E_min + ρ³(1 − E_min) of random densities, 30 % of the cells void."""
    rng = np.random.default_rng(seed)
    density = rng.uniform(0.0, 1.0, n_cells)
    density[rng.uniform(size=n_cells) < 0.3] = 0.0
    return EMIN + density ** 3 * (1.0 - EMIN)


def direct(K, f):
    return DirectSolver(symmetric=True).factorize(K).solve(f)


def solve_gmg(problem, K, f, *, rtol=1e-10, **options):
    factorization = gmg_solver(problem, rtol=rtol, maxiter=200, **options).factorize(K)
    return factorization.solve(f), factorization.last_iterations[0]


# -- lattice detection ------------------------------------------------------------------
def check_lattice(mesh, grid):
    """Independent check: the cells are exactly the lattice cells, as node sets."""
    nodes, dim = grid.nodes, grid.dim
    corners = [nodes[tuple(slice(o, o + n) for o, n in zip(offset, grid.shape))].ravel()
               for offset in np.ndindex(*(2,) * dim)]
    lattice_cells = np.sort(np.stack(corners, axis=1), axis=1)
    mesh_cells = np.sort(np.asarray(mesh.cells), axis=1)
    assert set(map(tuple, lattice_cells.tolist())) == set(map(tuple, mesh_cells.tolist()))
    assert np.array_equal(np.sort(nodes.ravel()), np.arange(mesh.n_nodes))


@pytest.mark.parametrize("mesh, shape", [
    (fo.mesh.box(shape=(3, 4, 5), cell="hex8"), (3, 4, 5)),
    (fo.mesh.rectangle(shape=(7, 2), cell="quad4"), (7, 2)),
    (fo.mesh.quarter_annulus(1.0, 2.0, shape=(3, 6), cell="quad4"), (3, 6)),
    (fo.mesh.plate_with_hole(4.0, 3.0, 1.0, shape=(6, 4), cell="quad4", grading=3.0), (4, 6)),
], ids=["box", "rectangle", "quarter_annulus", "plate_with_hole"])
def test_structured_grid_of_generated_meshes(mesh, shape):
    grid = structured_grid(mesh)
    assert sorted(grid.shape) == sorted(shape)
    check_lattice(mesh, grid)


def test_structured_grid_of_unit_box_follows_the_coordinates():
    mesh = fo.mesh.box(size=(3, 4, 5), shape=(3, 4, 5), cell="hex8")
    grid = structured_grid(mesh)
    X = mesh.points[grid.nodes]
    steps = [np.diff(X, axis=k).reshape(-1, 3) for k in range(3)]
    for step in steps:                           # one unit vector per lattice axis
        assert np.allclose(step, step[0]) and np.isclose(np.linalg.norm(step[0]), 1.0)
    assert np.allclose(np.abs(np.array([s[0] for s in steps]) @ np.array([s[0] for s in steps]).T), np.eye(3))


def test_structured_grid_with_shuffled_nodes_and_cells():
    mesh = fo.mesh.box(shape=(4, 3, 2), cell="hex8")
    rng = np.random.default_rng(1)
    order = rng.permutation(mesh.n_nodes)
    new_id = np.argsort(order)
    shuffled = fo.mesh.Mesh(mesh.points[order], new_id[mesh.cells][rng.permutation(mesh.n_cells)], "hex8")
    grid = structured_grid(shuffled)
    assert sorted(grid.shape) == [2, 3, 4]
    check_lattice(shuffled, grid)


@pytest.mark.parametrize("dim", [2, 3])
def test_structured_grid_with_cells_in_different_local_frames(dim):
    """Rotated and mirrored local node orders, cell by cell (the coordinate fallback)."""
    mesh = (fo.mesh.box(shape=(4, 3, 2), cell="hex8") if dim == 3
            else fo.mesh.rectangle(shape=(5, 3), cell="quad4"))
    cells = np.array(mesh.cells)
    rng = np.random.default_rng(2)
    rotate = [1, 2, 3, 0, 5, 6, 7, 4] if dim == 3 else [1, 2, 3, 0]
    mirror = [4, 5, 6, 7, 0, 1, 2, 3] if dim == 3 else [3, 2, 1, 0]
    pick = rng.integers(0, 3, len(cells))
    cells[pick == 1] = cells[pick == 1][:, rotate]
    cells[pick == 2] = cells[pick == 2][:, mirror]
    moved = fo.mesh.Mesh(mesh.points, cells, mesh.cell_type, check=False)
    grid = structured_grid(moved)
    assert grid is not None
    check_lattice(moved, grid)


@pytest.mark.parametrize("mesh", [
    fo.mesh.box(shape=(2, 2, 2), cell="tet4"),
    fo.mesh.box(shape=(2, 2, 2), cell="hex20"),
    fo.mesh.rectangle(shape=(3, 3), cell="quad9"),
    fo.mesh.rectangle(shape=(3, 3), cell="tri3"),
    fo.mesh.box(shape=(3, 3, 3), cell="hex8").submesh(np.arange(1, 27)),     # a corner cell missing
    fo.mesh.rectangle(shape=(4, 4), cell="quad4").submesh(np.r_[0:5, 7:16]),  # a hole
], ids=["tet4", "hex20", "quad9", "tri3", "box_minus_a_cell", "rectangle_with_hole"])
def test_structured_grid_rejects_non_lattices(mesh):
    assert structured_grid(mesh) is None


def test_structured_grid_rejects_two_glued_blocks():
    """An L-shape of two lattices: every node and cell looks lattice-like locally."""
    mesh = fo.mesh.rectangle(size=(4.0, 4.0), shape=(4, 4), cell="quad4")
    keep = np.flatnonzero(~((mesh.cell_centroids()[:, 0] > 2) & (mesh.cell_centroids()[:, 1] > 2)))
    assert structured_grid(mesh.submesh(keep)) is None


# -- transfer operators -----------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("graded", [False, True])
def test_interpolation_1d_is_exact_for_linear_functions(n, graded):
    positions = np.cumsum(np.r_[0.0, 1.3 ** np.arange(n)]) if graded else np.arange(n + 1.0)
    P, selected = interpolation_1d(positions)
    assert np.allclose(P @ (2.0 * positions[selected] - 1.0), 2.0 * positions - 1.0)
    assert np.allclose(P.sum(axis=1), 1.0)
    assert P.shape == (n + 1, selected.size) and selected[0] == 0 and selected[-1] == n


def level_values(mesh, transfers, field):
    """The field at the dofs of every level: the finest level lists all free dofs."""
    return [field(mesh.points[t.coarse_nodes], t.coarse_components) for t in transfers]


def graded(mesh):
    """The mesh with its nodes moved x -> x^1.7 (still a straight-lined tensor grid)."""
    return mesh.with_points(np.asarray(mesh.points) ** 1.7)


@pytest.mark.parametrize("mesh, c", [
    (fo.mesh.box(shape=(5, 4, 7), cell="hex8"), 3),
    (graded(fo.mesh.box(shape=(6, 3, 5), cell="hex8")), 1),
    (fo.mesh.rectangle(shape=(9, 6), cell="quad4"), 2),
    (graded(fo.mesh.rectangle(shape=(7, 10), cell="quad4")), 2),
], ids=["hex8_c3", "graded_hex8_c1", "quad4_c2", "graded_quad4_c2"])
@pytest.mark.parametrize("fixed", [False, True], ids=["free", "fixed_xmin"])
def test_prolongation_reproduces_linear_fields(mesh, c, fixed):
    """P reproduces a linear field component by component on every level (odd axes and
    graded spacing included); with x = 0 fixed, a field that vanishes there stays exact
    (the dropped dofs carried zeros)."""
    dim = mesh.dim
    slopes = np.random.default_rng(3).normal(size=(c, dim))

    def field(x, component):
        if fixed:
            return slopes[component, 0] * x[:, 0]
        return np.einsum("nd,nd->n", slopes[component], x) + 1.0 + component

    n_dofs = mesh.n_nodes * c
    fixed_dofs = (mesh.nodes("xmin")[:, None] * c + np.arange(c)).ravel() if fixed else np.zeros(0, int)
    free = np.setdiff1d(np.arange(n_dofs), fixed_dofs)
    transfers = transfer_hierarchy(structured_grid(mesh), c, free, coarse_dofs=1, max_levels=10)
    assert len(transfers) >= 2
    values = [field(mesh.points[free // c], free % c)] + level_values(mesh, transfers, field)
    for transfer, fine, coarse in zip(transfers, values[:-1], values[1:]):
        assert np.allclose(transfer.P @ coarse, fine, atol=1e-12)
        assert np.array_equal(transfer.R.toarray(), transfer.P.T.toarray())
        if fixed:
            assert np.all(mesh.points[transfer.coarse_nodes, 0] > 0)


def test_prolongation_on_a_mapped_mesh_is_linear_in_the_lattice_index():
    mesh = fo.mesh.plate_with_hole(4.0, 3.0, 1.0, shape=(10, 6), cell="quad4", grading=3.0)
    grid = structured_grid(mesh)
    index = np.empty((mesh.n_nodes, 2))
    index[grid.nodes.ravel()] = np.stack(np.meshgrid(*[np.arange(n + 1) for n in grid.shape],
                                                     indexing="ij"), axis=-1).reshape(-1, 2)
    transfers = transfer_hierarchy(grid, 1, np.arange(mesh.n_nodes), coarse_dofs=1, max_levels=3)
    (P0, P1) = (t.P for t in transfers)
    coarse = 0.7 * index[transfers[1].coarse_nodes, 0] - 1.3 * index[transfers[1].coarse_nodes, 1]
    assert np.allclose(P0 @ (P1 @ coarse), 0.7 * index[:, 0] - 1.3 * index[:, 1])


# -- the V-cycle ------------------------------------------------------------------------
def test_largest_scaled_eigenvalue_is_a_close_lower_bound():
    _, model = elastic_box((6, 4, 4))
    K = model.stiffness(simp_field(96))
    scale = 1.0 / np.sqrt(K.diagonal())
    exact = spla.eigsh(sp.diags(scale) @ K @ sp.diags(scale), k=1, which="LA")[0][0]
    estimate = largest_scaled_eigenvalue(K, scale ** 2)
    assert 0.9 * exact <= estimate <= exact * (1 + 1e-12)


@pytest.mark.parametrize("smoother", ["chebyshev", "jacobi"])
@pytest.mark.parametrize("field", ["uniform", "simp"])
def test_vcycle_is_symmetric_positive_definite(smoother, field):
    problem, model = elastic_box((6, 4, 4))
    K = model.stiffness(np.ones(96) if field == "uniform" else simp_field(96))
    gmg = GeometricMultigrid(structured_grid(problem.mesh), 3, problem.partition.free,
                             smoother=smoother, coarse_dofs=20)
    assert len(gmg.level_dofs) >= 3
    apply = gmg.setup(K)
    M = np.column_stack([apply(e) for e in np.eye(K.shape[0])])
    assert np.abs(M - M.T).max() <= 1e-10 * np.abs(M).max()
    assert np.linalg.eigvalsh(0.5 * (M + M.T)).min() > 0.0


def test_vcycle_symmetry_with_random_vectors_on_a_larger_problem():
    problem, model = elastic_box((16, 8, 8))
    apply = gmg_solver(problem, coarse_dofs=100).preconditioner.setup(model.stiffness(simp_field(1024)))
    rng = np.random.default_rng(4)
    for _ in range(3):
        x, y = rng.normal(size=(2, model.force.size))
        My, Mx = apply(y), apply(x)
        assert abs(x @ My - y @ Mx) <= 1e-12 * np.linalg.norm(x) * np.linalg.norm(My)
        assert x @ Mx > 0.0


def test_setup_is_reproducible_and_old_cycles_stay_valid():
    """Bitwise-equal set-ups; a new set-up (next design iteration) reuses the transfers
    and leaves the previous cycle untouched; scaling A by 2 halves M⁻¹."""
    problem, model = elastic_box((8, 4, 4))
    K = model.stiffness(simp_field(128))
    gmg = gmg_solver(problem, coarse_dofs=50).preconditioner
    transfers = list(gmg.transfers)
    v = np.random.default_rng(5).normal(size=K.shape[0])
    first = gmg.setup(K)
    before = first(v)
    assert np.array_equal(gmg.setup(K)(v), before)
    doubled = gmg.setup(2.0 * K)
    assert all(a is b for a, b in zip(transfers, gmg.transfers))
    assert np.array_equal(first(v), before)
    assert np.allclose(doubled(v), 0.5 * before, rtol=1e-10, atol=1e-14 * np.abs(before).max())


# -- CG + GMG against the direct solver -------------------------------------------------
def test_elasticity_matches_direct_in_mesh_independent_iterations():
    iterations = []
    for shape in [(8, 4, 4), (16, 8, 8)]:
        problem, model = elastic_box(shape)
        K, f = model.stiffness(np.ones(problem.mesh.n_cells)), model.force
        u, its = solve_gmg(problem, K, f, coarse_dofs=50)
        reference = direct(K, f)
        assert np.abs(u - reference).max() <= 1e-8 * np.abs(reference).max()
        iterations.append(its)
    assert max(iterations) < 30
    assert abs(iterations[1] - iterations[0]) <= 3, iterations


def test_elasticity_through_cell_scaled_model_with_simp_voids():
    """The topology-optimization path: CellScaledModel solving with CG+GMG, SIMP field
    with E_min = 1e-9 and 30 % void cells; compliance and its gradient as with direct."""
    problem, reference_model = elastic_box((16, 8, 8))
    model = fd.CellScaledModel(problem, "E", linear_solver=gmg_solver(problem, rtol=1e-10, maxiter=200),
                               check=False)
    E = simp_field(problem.mesh.n_cells, seed=6)
    _, factorization = model.solve(E)
    # scattered voids leave nearly floating solid islands: slower than the uniform case for
    # any preconditioner (pyamg's smoothed aggregation with rigid-body modes needs ~57 here)
    assert factorization.solver_name == "cg+gmg" and factorization.last_iterations[0] < 100
    compliance, gradient, u = model.compliance(E)           # warm-started from the last solve
    compliance_ref, gradient_ref, u_ref = reference_model.compliance(E)
    assert np.isclose(compliance, compliance_ref, rtol=1e-9)
    assert np.allclose(gradient, gradient_ref, rtol=0, atol=1e-7 * np.abs(gradient_ref).max())


@pytest.mark.parametrize("shape", [(48, 24), (10, 10, 10)], ids=["quad4", "hex8"])
def test_heat_conduction_matches_direct(shape):
    problem, model = heat_block(shape)
    conductivity = np.random.default_rng(7).uniform(0.3, 1.0, problem.mesh.n_cells) ** 3
    K, f = model.stiffness(conductivity), model.force
    u, its = solve_gmg(problem, K, f, coarse_dofs=30)
    reference = direct(K, f)
    assert np.abs(u - reference).max() <= 1e-8 * np.abs(reference).max()
    assert its < 30


def test_mapped_graded_mesh_with_symmetry_supports():
    """Plate with a hole: a mapped, graded lattice; only one component fixed per side."""
    problem, model = elastic_plate_with_hole()
    K, f = model.stiffness(np.ones(problem.mesh.n_cells)), model.force
    u, its = solve_gmg(problem, K, f, coarse_dofs=40)
    reference = direct(K, f)
    assert np.abs(u - reference).max() <= 1e-8 * np.abs(reference).max()
    assert its < 30


# -- bad input --------------------------------------------------------------------------
def test_bad_input_is_rejected():
    problem, model = elastic_box((8, 4, 4))
    grid, free = structured_grid(problem.mesh), problem.partition.free
    with pytest.raises(InputError, match="free_dofs"):
        GeometricMultigrid(grid, 3, free[::-1])
    with pytest.raises(InputError, match="free_dofs"):
        GeometricMultigrid(grid, 3, np.r_[free, 10 ** 6])
    with pytest.raises(InputError, match="smoother"):
        GeometricMultigrid(grid, 3, free, smoother="gauss-seidel")
    with pytest.raises(InputError, match="degree"):
        GeometricMultigrid(grid, 3, free, degree=0)
    with pytest.raises(InputError, match="StructuredGrid"):
        GeometricMultigrid(problem.mesh, 3, free)
    with pytest.raises(InputError, match="setup"):
        GeometricMultigrid(grid, 3, free).setup(sp.identity(5, format="csr"))
    with pytest.raises(InputError, match="structured"):
        gmg_solver(fo.mesh.box(shape=(2, 2, 2), cell="tet4"), np.arange(10), 3)
    with pytest.raises(InputError, match="free_dofs and n_components"):
        gmg_solver(problem.mesh)


def test_matrix_that_is_not_positive_definite_is_reported():
    problem, model = elastic_box((8, 4, 4))
    K = model.stiffness(np.ones(128)).tolil()
    K[3, 3] = -1.0
    with pytest.raises(SolverError, match="not symmetric positive definite"):
        gmg_solver(problem, coarse_dofs=50).factorize(K.tocsr())


def test_benchmark_runs_at_a_small_size(capsys):
    from femopt.benchmarks.multigrid import main

    assert main(["--shape", "6", "6", "6", "--repeat", "1", "--case", "simp"]) == 0
    table = capsys.readouterr().out
    assert "gmg" in table and "amg" in table
