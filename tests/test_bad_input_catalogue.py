"""The bad-input catalogue: one row per kind of bad input, over every public entry point
(mesh, reading, problem set-up, solve, gradient, design, minimize, checkpoint, output,
solvers). Each row asserts the error type and that the message names the offending
thing — an id, a name, a shape, a file — so that the user can fix it from the message.
"""
import os
import warnings

import numpy as np
import pytest

import femopt as fo
from femopt.design import CellScaledModel, DensityDesign, DensityFilter
from femopt.design.projection import SIMP
from femopt.optimize import minimize as _minimize
from femopt.solvers.linear import CGSolver, DirectSolver

SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])



def minimize(*args, bounds=(0.0, 1.0), **kwargs):
    """The catalogue's objectives are plain functions of variables in [0, 1]."""
    return _minimize(*args, bounds=bounds, **kwargs)

def rectangle():
    return fo.mesh.rectangle(size=(2.0, 1.0), shape=(6, 3), cell="quad4")


def elasticity(**kwargs):
    problem = fo.Problem(rectangle(), fo.physics.LinearElasticity(**kwargs))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -1.0])
    return problem


def heat():
    problem = fo.Problem(rectangle(), fo.physics.HeatConduction())
    problem.fix("xmin")
    problem.heat_source(1.0)
    return problem


def with_orphan_node():
    mesh = rectangle()
    orphaned = fo.Mesh(np.vstack([mesh.points, [[9.0, 9.0]]]), mesh.cells, "quad4")
    problem = fo.Problem(orphaned, fo.physics.HeatConduction())
    problem.fix(lambda x: np.isclose(x[:, 0], 0.0))
    return problem.solve()


def cracked_mesh():
    left = fo.mesh.rectangle(size=(1.0, 1.0), shape=(1, 1), cell="quad4")
    points = np.vstack([left.points, left.points + [1.0, 0.0]])
    cells = np.vstack([left.cells, left.cells + 4])
    return fo.Mesh(points, cells, "quad4", coincident="error")


def memory_limited(fn):
    def run():
        old = os.environ.get("FEMOPT_MEMORY_LIMIT")
        os.environ["FEMOPT_MEMORY_LIMIT"] = "1M"
        try:
            return fn()
        finally:
            if old is None:
                del os.environ["FEMOPT_MEMORY_LIMIT"]
            else:
                os.environ["FEMOPT_MEMORY_LIMIT"] = old
    return run


def solve_big_box():
    problem = fo.Problem(fo.mesh.box(size=(1, 1, 1), shape=(8, 8, 8), cell="hex8"), fo.physics.LinearElasticity())
    problem.fix("xmin")
    return problem.solve()


def file_with(tmp, name, content):
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def compliance_model():
    problem = elasticity()
    design = DensityDesign(problem.mesh, filter=DensityFilter(problem.mesh, 1.5))
    return problem, design, CellScaledModel(problem, "E")


def negative_E_in_model():
    _, _, model = compliance_model()
    E = np.ones(model.n_cells)
    E[5] = -1.0
    return model.compliance(E)


def quadratic(x):
    return float(np.sum((x - 0.3) ** 2)), 2.0 * (x - 0.3)


def shifted(x):
    return float(np.sum((x - 0.6) ** 2)), 2.0 * (x - 0.6)


def written_checkpoint(tmp, n=3, objective=quadratic):
    path = tmp / "run.npz"
    minimize(objective, np.zeros(n), method="mma", max_iterations=2, checkpoint=path)
    return path


def truncated_checkpoint(tmp):
    path = written_checkpoint(tmp)
    path.write_bytes(path.read_bytes()[:200])
    return minimize(quadratic, np.zeros(3), checkpoint=path, resume=True)


def read_only_folder(tmp):
    from femopt.optimize import checkpoint as checkpoint_module

    def refuse(*args, **kwargs):          # what a read-only folder answers (root writes anywhere)
        raise PermissionError(13, "Permission denied")

    original = checkpoint_module.tempfile.mkstemp
    folder = tmp / "locked"
    folder.mkdir()
    checkpoint_module.tempfile.mkstemp = refuse
    try:
        return minimize(quadratic, np.zeros(3), checkpoint=folder / "run.npz", max_iterations=1)
    finally:
        checkpoint_module.tempfile.mkstemp = original


ROWS = {
    # -- mesh --------------------------------------------------------------------------
    "mesh: NaN coordinates": (lambda t: fo.Mesh([[0, 0], [1, np.nan], [1, 1]], [[0, 1, 2]], "tri3"),
                              fo.MeshError, r"non-finite coordinates: node ids \[1\]"),
    "mesh: node id out of range": (lambda t: fo.Mesh(SQUARE, [[0, 1, 2, 7]], "quad4"),
                                   fo.MeshError, r"outside 0..3: cell ids \[0\]"),
    "mesh: inverted cell": (lambda t: fo.Mesh(SQUARE[:3], [[0, 2, 1]], "tri3"), fo.MeshError, r"inverted tri3.*\[0\]"),
    "mesh: node listed twice": (lambda t: fo.Mesh(SQUARE, [[0, 1, 1, 3]], "quad4"), fo.MeshError, r"list a node twice"),
    "mesh: unknown cell type": (lambda t: fo.Mesh(SQUARE, [[0, 1, 2, 3]], "pentagon"), fo.MeshError, r"pentagon"),
    "mesh: coincident nodes": (lambda t: cracked_mesh(), fo.MeshError, r"coincident.*node"),
    "mesh: generator beyond memory": (lambda t: memory_limited(
        lambda: fo.mesh.box(size=(1, 1, 1), shape=(400, 400, 400), cell="hex27"))(),
        fo.ResourceError, r"box\(.*400.*hex27.*needs about"),
    "mesh: empty selection": (lambda t: rectangle().nodes(lambda x: x[:, 0] > 5), fo.InputError, r"selects no nodes"),
    "mesh: unknown tag": (lambda t: rectangle().nodes("left"), fo.InputError, r"no tag named 'left'.*xmin"),
    "mesh: predicate not vectorized": (lambda t: rectangle().nodes(lambda x: True), fo.InputError,
                                       r"must return a boolean mask of shape \(28,\)"),
    "mesh: ragged points": (lambda t: fo.Mesh([[0.0, 0.0], [1.0]], [[0, 1, 2]], "tri3"), fo.MeshError,
                            r"points must be an \(n_nodes, dim\) array.*list \[\[0.0, 0.0\], \[1.0\]\].*lengths"),
    "mesh: check not a flag": (lambda t: fo.Mesh(SQUARE, [[0, 1, 2, 3]], "quad4", check=np.array([])), fo.InputError,
                               r"check must be True or False, got ndarray"),
    "mesh: coincident mode not a name": (lambda t: fo.Mesh(SQUARE, [[0, 1, 2, 3]], "quad4", coincident=np.ones(2)),
                                         fo.InputError, r"coincident must be one of \['warn', 'error', 'ignore'\]"),
    "mesh: ragged tag": (lambda t: fo.Mesh(SQUARE, [[0, 1, 2, 3]], "quad4", node_tags={"a": [[0], [1, 2]]}),
                         fo.MeshError, r"node tag 'a' must be a 1D array of integer node ids, got list"),
    "mesh: ragged node ids": (lambda t: rectangle().nodes([[], [1, 2]]), fo.InputError,
                              r"node selection must be .* node ids .* got list \[\[\], \[1, 2\]\]"),
    "mesh: generator axes beyond memory": (lambda t: fo.mesh.rectangle(shape=(10**18, 10**18)), fo.ResourceError,
                                           r"rectangle\(shape=\(1000000000000000000, .*needs about"),
    # -- reading / writing -------------------------------------------------------------
    "read: missing file": (lambda t: fo.mesh.read(t / "missing.vtu"), fo.InputError, r"missing\.vtu"),
    "read: empty file": (lambda t: fo.mesh.read(file_with(t, "empty.msh", "")), fo.InputError, r"empty\.msh"),
    "read: garbage bytes": (lambda t: fo.mesh.read(file_with(t, "junk.vtk", b"\x00\xff" * 50)), fo.InputError,
                            r"junk\.vtk"),
    "write: field of the wrong length": (lambda t: fo.mesh.write(t / "x.vtu", rectangle(), point_data={"u": np.zeros(3)}),
                                         fo.InputError, r"'u'.*28 rows"),
    "write: unknown format": (lambda t: fo.mesh.write(t / "x.unknownformat", rectangle()), fo.InputError,
                              r"x\.unknownformat"),
    # -- problem set-up ----------------------------------------------------------------
    "physics: negative Young's modulus": (lambda t: elasticity(E=-1.0), fo.ParameterError, r"E = -1.*0 < E"),
    "physics: Poisson's ratio 0.6": (lambda t: elasticity(nu=0.6), fo.ParameterError, r"nu = 0.6.*-1 < nu < 0.5"),
    "physics: plane stress in 3D": (lambda t: fo.Problem(fo.mesh.box(shape=(1, 1, 1)),
                                                         fo.physics.LinearElasticity(plane="stress")),
                                    fo.InputError, r"plane='stress'.*3D"),
    "physics: negative conductivity": (lambda t: fo.Problem(rectangle(), fo.physics.HeatConduction(k=-1)),
                                       fo.ParameterError, r"k = -1.*0 < k"),
    "physics: a string constant": (lambda t: elasticity(E="abc"), fo.ParameterError,
                                   r"parameter 'E': expected real numbers, got str 'abc'"),
    "physics: a complex constant": (lambda t: elasticity(E=1j), fo.ParameterError, r"'E'.*complex 1j"),
    "physics: ragged constant": (lambda t: fo.Problem(rectangle(), fo.physics.NeoHookean(mu=[[1, 2], []])),
                                 fo.ParameterError, r"'mu'.*list \[\[1, 2\], \[\]\].*lengths"),
    "physics: constant of the wrong shape": (lambda t: fo.Problem(rectangle(), fo.physics.NeoHookean(mu=[1.0, 2.0])),
                                             fo.InputError, r"'mu' has shape \(2,\); expected a scalar"),
    "load: NaN traction": (lambda t: elasticity().traction("xmin", [np.nan, 0.0], name="t2"), fo.ParameterError,
                           r"'t2'.*NaN or Inf.*ids \[0\]"),
    "load: name taken": (lambda t: elasticity().traction("xmin", [1.0, 0.0], name="traction"), fo.InputError,
                         r"'traction' is taken"),
    "load: negative convection coefficient": (lambda t: heat().convection("xmax", -2.0, 0.0), fo.ParameterError,
                                              r"convection\.h"),
    "load: wrong shape": (lambda t: elasticity().body_force([1.0, 2.0, 3.0]), fo.InputError, r"'body_force'.*\(3,\)"),
    "load: field of the wrong length": (lambda t: elasticity().pressure("xmax", fo.cell_field(0.0)), fo.InputError,
                                        r"'pressure' is a cell field of shape \(\); expected \(18,\)"),
    "load: name not a string": (lambda t: elasticity().traction("xmax", [1.0, 0.0], name=3), fo.InputError,
                                r"name must be a string .* got int 3"),
    "load: function of many points": (lambda t: heat().heat_flux("xmax", lambda x: x[:, 0]), fo.InputError,
                                      r"'heat_flux'.*one point x of shape \(2,\).*IndexError.*lambda x: x\[0\]"),
    "load: vector function for a number": (lambda t: heat().heat_flux("xmax", lambda x: x), fo.InputError,
                                           r"'heat_flux'.*must return a real number.*got dtype float64, shape \(2,\)"),
    "load: function returning a string": (lambda t: elasticity().traction("xmax", lambda x: "a", name="t"),
                                          fo.InputError, r"load 't'.*str"),
    "load: ragged cell ids": (lambda t: elasticity().body_force([1.0, 0.0], cells=[[], [1, 2j]]), fo.InputError,
                              r"cell selection must be .* got list"),
    "fix: value of the wrong shape": (lambda t: elasticity().fix("xmax", value=[1.0, 2.0, 3.0]), fo.InputError,
                                      r"value has shape \(3,\)"),
    "fix: ragged node ids": (lambda t: elasticity().fix([[], [1, 2]]), fo.InputError, r"node selection.*list"),
    "fix: component beyond int64": (lambda t: elasticity().fix("xmin", components=10**30), fo.InputError,
                                    r"component\(s\) 10{30} out of range for a field with 2 component"),
    "fix: NaN prescribed value": (lambda t: heat().fix("xmax", value=np.nan), fo.ParameterError,
                                  r"prescribed values are NaN or Inf at 4 node\(s\)"),
    "problem: components do not match": (lambda t: fo.Problem(fo.FunctionSpace(rectangle(), 1),
                                                              fo.physics.LinearElasticity()),
                                         fo.InputError, r"LinearElasticity needs 2 component"),
    # -- solve -------------------------------------------------------------------------
    "solve: unknown parameter": (lambda t: elasticity().solve({"F": 1.0}), fo.InputError, r"unknown parameter 'F'"),
    "solve: field of the wrong length": (lambda t: elasticity().solve({"E": np.ones(5)}), fo.InputError,
                                         r"'E' has shape \(5,\)"),
    "solve: negative entry in a field": (lambda t: elasticity().solve({"E": np.r_[np.ones(17), -1.0]}),
                                         fo.ParameterError, r"'E' \(per cell\).*ids \[17\]"),
    "solve: NaN in a nodal field": (lambda t: heat().solve({"k": fo.nodal_field(np.r_[np.nan, np.ones(27)])}),
                                    fo.ParameterError, r"'k' \(per node\) is NaN.*ids \[0\]"),
    "solve: params not a mapping": (lambda t: elasticity().solve([1, 2]), fo.InputError,
                                    r"params must be a mapping \{name: value\}.*got list \[1, 2\]"),
    "solve: a string parameter": (lambda t: elasticity().solve({"E": "a"}), fo.ParameterError, r"'E'.*str 'a'"),
    "solve: a function as a parameter": (lambda t: elasticity().solve({"E": lambda x: x[0]}), fo.ParameterError,
                                         r"'E': expected numbers, got the function.*load"),
    "solve: cell field of the wrong length": (lambda t: elasticity().solve({"E": fo.cell_field(np.ones(3))}),
                                              fo.InputError, r"'E' is a cell field of shape \(3,\); expected \(18,\)"),
    "solve: nodal field of the wrong length": (lambda t: heat().solve({"k": fo.nodal_field(np.ones(3))}),
                                               fo.InputError, r"'k' is a node field of shape \(3,\); expected \(28,\)"),
    "solve: initial not numbers": (lambda t: elasticity().solve(initial="abc"), fo.InputError,
                                   r"initial=.*expected real numbers, got str 'abc'"),
    "solve: load_steps 0": (lambda t: elasticity().solve(load_steps=0), fo.InputError, r"load_steps.*got 0"),
    "solve: missing supports": (lambda t: fo.Problem(rectangle(), fo.physics.LinearElasticity()).solve(),
                                fo.SingularJacobianError, r"free to move: translation x, translation y, rotation"),
    "solve: node in no cell": (lambda t: with_orphan_node(), fo.SingularMatrixError, r"Node\(s\) \[28\] belong to no cell"),
    "solve: assembly beyond memory": (lambda t: memory_limited(solve_big_box)(), fo.ResourceError,
                                      r"assembling 2187 dofs on 512 hex8 cells"),
    # -- gradient ----------------------------------------------------------------------
    "gradient: unknown quantity": (lambda t: fo.gradient(fo.functionals.compliance(), elasticity(), wrt="G"),
                                   fo.InputError, r"with respect to 'G'.*parameters:"),
    "gradient: not a functional": (lambda t: fo.gradient(lambda u: 0.0, elasticity(), wrt="E"), fo.InputError,
                                   r"expected a femopt Functional.*function"),
    "gradient: unknown solve option": (lambda t: fo.gradient(fo.functionals.compliance(), elasticity(), wrt="E",
                                                             solve_options={"steps": 2}),
                                       fo.InputError, r"\['steps'\] are not keywords of Problem.solve"),
    # -- design ------------------------------------------------------------------------
    "design: negative Emin": (lambda t: SIMP(Emin=-1e-3), fo.InputError, r"0 <= Emin < E0.*Emin=-0.001"),
    "design: model of a nonlinear problem": (lambda t: CellScaledModel(
        fo.Problem(rectangle(), fo.physics.NeoHookean()), "mu"), fo.InputError, r"NeoHookean is nonlinear"),
    "design: design vector of the wrong length": (lambda t: compliance_model()[1](np.ones(3)), fo.InputError,
                                                  r"design vector has shape \(3,\), expected \(18,\)"),
    "design: negative design-driven stiffness": (lambda t: negative_E_in_model(), fo.ParameterError,
                                                 r"'E' \(per cell\).*ids \[5\]"),
    # -- minimize ----------------------------------------------------------------------
    "minimize: unknown method": (lambda t: minimize(quadratic, np.zeros(3), method="newton"), fo.InputError,
                                 r"unknown method 'newton'"),
    "minimize: bounds crossed": (lambda t: minimize(quadratic, np.zeros(3), bounds=(1.0, 0.0)), fo.InputError,
                                 r"lower bounds exceed"),
    "minimize: MMA without bounds": (lambda t: _minimize(quadratic, np.zeros(3)), fo.InputError,
                                     r"MMA needs finite bounds.*no bounds were given.*bounds=\(0, 1\)"),
    "minimize: no iterations": (lambda t: minimize(quadratic, np.zeros(3), max_iterations=0), fo.InputError,
                                r"max_iterations must be >= 1, got 0"),
    "minimize: NaN in the start": (lambda t: minimize(quadratic, np.array([0.0, np.nan, 0.5])), fo.InputError,
                                   r"x0.*\[1\]"),
    "minimize: gradient of the wrong length": (lambda t: minimize(lambda x: (0.0, np.zeros(2)), np.zeros(3)),
                                               fo.InputError, r"3 entries"),
    # -- checkpoint --------------------------------------------------------------------
    "checkpoint: truncated file": (truncated_checkpoint, fo.CheckpointError, r"run\.npz.*truncated|run\.npz.*corrupt"),
    "checkpoint: a text file": (lambda t: minimize(quadratic, np.zeros(3), resume=True,
                                                    checkpoint=file_with(t, "notes.npz", "hello\n")),
                                fo.CheckpointError, r"notes\.npz"),
    "checkpoint: required but missing": (lambda t: minimize(quadratic, np.zeros(3), checkpoint=t / "typo.npz",
                                                             resume="require"),
                                         fo.CheckpointError, r"typo\.npz"),
    "checkpoint: written by another run": (lambda t: minimize(shifted, np.zeros(3), resume=True,
                                                               checkpoint=written_checkpoint(t)),
                                           fo.CheckpointError, r"objective.*quadratic.*shifted"),
    "checkpoint: folder not writable": (read_only_folder, fo.CheckpointError, r"locked"),
    "checkpoint: resume without a path": (lambda t: minimize(quadratic, np.zeros(3), resume=True), fo.InputError,
                                          r"resume.*checkpoint"),
    # -- solvers -----------------------------------------------------------------------
    "solver: unknown preconditioner": (lambda t: CGSolver("multigrid"), fo.InputError,
                                       r"unknown CG preconditioner 'multigrid'"),
    "solver: right-hand side of the wrong shape": (lambda t: DirectSolver().factorize(np.eye(3)).solve(np.ones(4)),
                                                   fo.InputError, r"\(3,\) or \(3, k\).*\(4,\)"),
    "solver: negative Newton tolerance": (lambda t: fo.NewtonOptions(atol=-1.0), fo.InputError,
                                          r"NewtonOptions.atol.*got -1.0"),
}


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_bad_input(kind, tmp_path):
    make, error, names = ROWS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fo.FemoptWarning)
        with pytest.raises(error, match=names) as info:
            make(tmp_path)
    assert isinstance(info.value, fo.FemoptError)


def test_the_catalogue_covers_every_entry_point():
    areas = {kind.split(":")[0] for kind in ROWS}
    assert {"mesh", "read", "write", "physics", "load", "fix", "problem", "solve", "gradient", "design",
            "minimize", "checkpoint", "solver"} <= areas
    assert len(ROWS) >= 30
