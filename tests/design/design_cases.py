"""Small problems the design tests share."""
import numpy as np

import femopt as fo
from femopt import design as fd


def tip_loaded_cantilever(length, height=4):
    """A plane-stress QUAD4 cantilever of unit cells, clamped at x = 0, a unit downward
    point load at the bottom of the free end: ``(mesh, problem, CellScaledModel on "E")``."""
    mesh = fo.mesh.rectangle(size=(float(length), float(height)), shape=(length, height), cell="quad4")
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3, plane="stress"))
    problem.fix("xmin")
    problem.point_load(lambda x: np.isclose(x[:, 0], length) & np.isclose(x[:, 1], 0), [0.0, -1.0])
    return mesh, problem, fd.CellScaledModel(problem, "E")
