"""Newton's last steps on a variational problem: an energy line search that compares
round-off must not shorten the step that would converge.

Found by the derandomized property search of tests/property (neo-Hookean, tet4, per-cell
shear modulus, compliance): one of the two solves of a central finite difference
stalled at |r| = 2.6e-9 against a tolerance of 6.3e-13 — the energy line search took
steps of 0.18 and 0.004 that it judged by energy differences below the energy's
round-off — and stopped by the increment test; the finite difference was 25 % off the
adjoint gradient. The case is kept here as it was drawn."""
import numpy as np

import femopt as fo

POINTS = np.array([
    [0.0, 0.0, 0.0],
    [-0.2002859038867334, -0.14961803602598914, 0.0],
    [-0.4005718077734668, -0.2992360720519783, 0.0],
    [0.3352199825609916, -0.44874160222542153, 0.0],
    [0.13493407867425822, -0.5983596382514107, 0.0],
    [-0.06535182521247518, -0.7479776742773998, 0.0],
    [0.6704399651219832, -0.8974832044508431, 0.0],
    [0.47015406123524983, -1.0471012404768323, 0.0],
    [0.26986815734851644, -1.1967192765028214, 0.0],
    [0.0, 0.0, 0.4375],
    [-0.2002859038867334, -0.14961803602598914, 0.4375],
    [-0.4005718077734668, -0.2992360720519783, 0.4375],
    [0.3352199825609916, -0.44874160222542153, 0.4375],
    [0.11286925908995224, -0.5808909883546438, 0.39513866993356483],
    [-0.06535182521247518, -0.7479776742773998, 0.4375],
    [0.6704399651219832, -0.8974832044508431, 0.4375],
    [0.47015406123524983, -1.0471012404768323, 0.4375],
    [0.26986815734851644, -1.1967192765028214, 0.4375],
    [0.0, 0.0, 0.875],
    [-0.2002859038867334, -0.14961803602598914, 0.875],
    [-0.4005718077734668, -0.2992360720519783, 0.875],
    [0.3352199825609916, -0.44874160222542153, 0.875],
    [0.13493407867425822, -0.5983596382514107, 0.875],
    [-0.06535182521247518, -0.7479776742773998, 0.875],
    [0.6704399651219832, -0.8974832044508431, 0.875],
    [0.47015406123524983, -1.0471012404768323, 0.875],
    [0.26986815734851644, -1.1967192765028214, 0.875]])
SHEAR = np.array([1.5, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 1.0, 1.0, 1.15625, 1.0, 1.6383848622040897, 1.7265625, 1.0, 1.5, 1.359375, 1.0, 1.75, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0625, 1.0, 1.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 0.8125, 0.75])


def membrane():
    """The drawn problem: a distorted 2 x 2 x 2 tet4 block, clamped on zmax, the ymin side
    moved, a traction on xmin."""
    mesh = fo.mesh.box(shape=(2, 2, 2), cell="tet4").with_points(POINTS)
    problem = fo.Problem(mesh, fo.physics.NeoHookean(mu=1.0, lmbda=1.9919125020637376),
                         newton=fo.NewtonOptions(atol=1e-14))
    problem.traction("xmin", [0.0, -0.01, 0.0], name="traction")
    problem.fix("zmax", [0.0, 0.0, 0.0])
    problem.fix("ymin", [0.0029566229122408357, 0.0, 0.0])
    return problem


def test_every_solve_of_a_finite_difference_meets_the_residual_test():
    problem = membrane()
    compliance = fo.functionals.compliance()
    params = dict(problem.params, mu=fo.cell_field(SHEAR))
    gradient = fo.gradient(compliance, problem, wrt=["mu"], params=params)
    direction = np.random.default_rng(0).normal(size=SHEAR.size)
    direction *= np.max(SHEAR) / np.max(np.abs(direction))
    h, values = 1e-5, []
    for step in (h, -h):
        problem.solve(dict(params, mu=fo.cell_field(SHEAR + step * direction)), initial=np.zeros(problem.space.n_dofs))
        assert problem.state.newton[-1].reason == "residual", problem.state.newton[-1].message
        values.append(compliance(problem))
    central = (values[0] - values[1]) / (2 * h)
    predicted = float(gradient["mu"] @ direction)
    assert abs(central - predicted) <= 1e-4 * abs(predicted)
