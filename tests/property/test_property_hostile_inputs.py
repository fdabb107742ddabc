"""Property 5: whatever goes in, only documented femopt errors come out.

Random — and hostile — arguments to the public entry points: ``fo.Mesh`` with random
arrays and with valid meshes corrupted (inverted and collapsed cells, repeated and
out-of-range node ids, NaN coordinates, coincident and orphan nodes, a wrong cell type),
the generators ``fo.mesh.rectangle`` / ``box``, the physics constructors, the ``Problem``
verbs (``fix``, ``traction``, ``pressure``, ``body_force``, ``point_load``,
``heat_source``, ``heat_flux``, ``convection``) and ``solve(params, load_steps=,
initial=)``. Every exception must be a :class:`femopt.FemoptError` with a message — never
a raw TypeError / ValueError / IndexError / KeyError / ZeroDivisionError, NumPy or JAX
error — and a solve that returns must return finite numbers.

Two families of input: *numeric* (numbers and arrays of any shape, NaN / Inf, huge and
tiny values, negative constants, cell / nodal fields, selections by tag, ids, masks and
predicates, functions of x) and *junk* (strings, complex numbers, ragged lists, dicts,
objects, None where numbers belong). A verb that refuses its input leaves the problem as it
was. Every raw exception these properties once found has a deterministic reproduction in
:data:`FORMER_RAW_EXCEPTIONS`, with the femopt error it gets now.
"""
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import femopt as fo
from property_cases import CELLS, property_settings


def attempt(function, *args, **kwargs):
    """Call; return (True, result), or (False, error) for a documented femopt error with a
    message. Anything else propagates and fails the test. FemoptWarnings (coincident
    nodes) are expected here and ignored, and so are NumPy's overflow warnings."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return True, function(*args, **kwargs)
    except fo.FemoptError as error:
        assert str(error).strip(), f"{type(error).__name__} raised without a message"
        return False, error


# -- values ---------------------------------------------------------------------------------------
special_floats = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 0.49999999, -0.99999999, 1e-300, -1e-300,
                                  1e300, -1e300, 1.7e308, float("nan"), float("inf"), float("-inf")])
numeric_scalars = st.one_of(special_floats, st.floats(-1e6, 1e6), st.integers(-5, 5), st.booleans())
NUMERIC_DTYPES = (np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_)


def _elements(dtype):
    if dtype == np.bool_:
        return st.booleans()
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return st.integers(max(info.min, -3), min(info.max, 40))
    return st.one_of(special_floats, st.floats(-10, 10, width=32))


def numeric_arrays(max_side=5, max_dims=3):
    return st.sampled_from(NUMERIC_DTYPES).flatmap(lambda dtype: hnp.arrays(
        dtype, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side),
        elements=_elements(dtype)))


numeric = st.one_of(numeric_scalars, numeric_arrays(), st.lists(numeric_scalars, max_size=4))
junk = st.one_of(
    st.none(), st.text(max_size=3), st.complex_numbers(max_magnitude=10, allow_nan=False),
    hnp.arrays(np.complex128, st.integers(0, 3)),
    hnp.arrays(np.str_, st.integers(0, 3), elements=st.text("abc ", max_size=2)),
    st.lists(st.lists(numeric_scalars, max_size=3), min_size=2, max_size=3).filter(
        lambda rows: len({len(r) for r in rows}) > 1),                               # ragged
    st.dictionaries(st.text(max_size=2), numeric_scalars, max_size=2), st.just(object()),
    st.just(lambda x: "a"))
anything = st.one_of(numeric, junk)


# -- meshes ---------------------------------------------------------------------------------------
def structured(cell, n):
    generate = fo.mesh.rectangle if fo.mesh.CELL_TYPES[cell].dim == 2 else fo.mesh.box
    return generate(shape=(n,) * fo.mesh.CELL_TYPES[cell].dim, cell=cell)


TET = fo.mesh.box(shape=(1, 1, 1), cell="tet4")

CORRUPTIONS = ("none", "swap", "repeat", "out of range", "negative id", "nan point", "inf point", "collapse",
               "coincident", "orphan", "float cells", "wrong type", "flat z", "transpose", "drop column",
               "scale", "mid node far", "all one point")


@st.composite
def corrupted_meshes(draw, scales=(1e-12, 1e-3, 1e3, 1e12, -1.0)):
    """(points, cells, cell_type) of a small generated mesh, possibly corrupted."""
    cell = draw(st.sampled_from(CELLS))
    mesh = structured(cell, draw(st.integers(1, 2)))
    points, cells = np.array(mesh.points), np.array(mesh.cells)
    kind = draw(st.sampled_from(CORRUPTIONS))
    c = draw(st.integers(0, len(cells) - 1))
    i, j = draw(st.lists(st.integers(0, cells.shape[1] - 1), min_size=2, max_size=2, unique=True))
    node = draw(st.integers(0, len(points) - 1))
    name = cell
    if kind == "swap":
        cells[c, [i, j]] = cells[c, [j, i]]
    elif kind == "repeat":
        cells[c, i] = cells[c, j]
    elif kind == "out of range":
        cells[c, i] = len(points) + draw(st.integers(0, 3))
    elif kind == "negative id":
        cells[c, i] = -draw(st.integers(1, 3))
    elif kind == "nan point":
        points[node, draw(st.integers(0, points.shape[1] - 1))] = np.nan
    elif kind == "inf point":
        points[node, 0] = -np.inf
    elif kind == "collapse":
        points[cells[c, i]] = points[cells[c, j]]
    elif kind == "coincident":
        points = np.vstack([points, points[cells[c, i]]])
        cells[c, i] = len(points) - 1
    elif kind == "orphan":
        points = np.vstack([points, points.max(axis=0) + 1.0])
    elif kind == "float cells":
        cells = cells.astype(float) + draw(st.sampled_from([0.0, 0.5]))
    elif kind == "wrong type":
        name = draw(st.sampled_from(list(CELLS) + ["line2", "line3", "triangle", "hexahedron", "hex", "", "tri7"]))
    elif kind == "flat z":
        points = np.c_[points, np.zeros(len(points))] if points.shape[1] == 2 else points[:, :2]
    elif kind == "transpose":
        cells = cells.T.copy()
    elif kind == "drop column":
        cells = cells[:, :-1]
    elif kind == "scale":
        points = points * draw(st.sampled_from(scales))
    elif kind == "mid node far" and cells.shape[1] > fo.mesh.CELL_TYPES[cell].n_corners:
        points[cells[c, -1]] += draw(st.sampled_from([0.3, 1.0, 10.0]))
    elif kind == "all one point":
        points[:] = points[node]
    return points, cells, name


def check_mesh(points, cells, cell_type, **options):
    built, mesh = attempt(fo.Mesh, points, cells, cell_type, **options)
    if not built:
        return
    assert np.all(np.isfinite(mesh.points))
    attempt(mesh.boundary_facets)
    attempt(mesh.nodes, lambda x: x[:, 0] <= np.median(x[:, 0]))
    attempt(fo.mesh.cell_measures, mesh.points, mesh.cells, mesh.cell_type)


@property_settings(150)
@given(points=numeric, cells=numeric, cell_type=st.one_of(st.sampled_from(CELLS), st.text(max_size=4)))
def test_mesh_from_random_numeric_arrays_raises_only_femopt_errors(points, cells, cell_type):
    check_mesh(points, cells, cell_type)


@property_settings(100, shrink=False)
@given(points=anything, cells=anything, cell_type=st.one_of(st.sampled_from(CELLS), anything))
@example(points=[[0.0, 0.0], [1.0]], cells=[[0, 1, 2]], cell_type="tri3")
def test_mesh_from_junk_raises_only_femopt_errors(points, cells, cell_type):
    check_mesh(points, cells, cell_type)


@property_settings(150)
@given(case=corrupted_meshes())
def test_corrupted_meshes_raise_only_femopt_errors(case):
    check_mesh(*case)


@property_settings(30, shrink=False)
@given(case=corrupted_meshes(scales=(1e155, 1e200, 1e300)))
@example(case=(np.array(TET.points) * 1e200, np.array(TET.cells), "tet4"))
def test_meshes_with_extreme_coordinates_raise_only_femopt_errors(case):
    check_mesh(*case)


@property_settings(60, shrink=False)
@given(case=corrupted_meshes(), node_tags=anything, facet_tags=anything, cell_tags=anything,
       check=st.one_of(st.booleans(), anything), coincident=st.one_of(st.sampled_from(["warn", "error", "ignore"]),
                                                                      anything))
@example(case=(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[0, 1, 2]]), "tri3"),
         node_tags=None, facet_tags=None, cell_tags=None, check=np.array([]), coincident="warn")
def test_mesh_tags_and_options_raise_only_femopt_errors(case, node_tags, facet_tags, cell_tags, check, coincident):
    check_mesh(*case, node_tags={"a": node_tags}, facet_tags={"b": facet_tags}, cell_tags=cell_tags, check=check,
               coincident=coincident)


# -- generators -----------------------------------------------------------------------------------
#: Counts up to 3, and astronomically large ones that NumPy refuses at once: nothing between
#: 10**6 and 10**15. (``rectangle(shape=(10**9, 1))`` fills an 8 GB ``np.linspace`` before
#: the memory check refuses it, and ``box(shape=(10**9, 1, 1), cell="hex27")`` is killed
#: for memory: not something a test may run.)
small_counts = st.one_of(st.integers(-2, 3), st.floats(-2, 3), special_floats.filter(lambda v: not 1e6 < abs(v)),
                         st.sampled_from(["2", None, True]))
sizes = st.one_of(st.lists(st.one_of(st.floats(-2, 3), special_floats), max_size=4), special_floats)


@property_settings(150)
@given(size=st.one_of(sizes, junk), shape=st.one_of(st.lists(small_counts, max_size=4), small_counts, junk),
       cell=st.one_of(st.sampled_from(CELLS), st.text(max_size=4), junk), origin=st.one_of(sizes, junk),
       three_d=st.booleans())
def test_generators_raise_only_femopt_errors(size, shape, cell, origin, three_d):
    generate = fo.mesh.box if three_d else fo.mesh.rectangle
    built, mesh = attempt(generate, size=size, shape=shape, cell=cell, origin=origin)
    if built:
        assert mesh.n_cells >= 1 and np.all(np.isfinite(mesh.points))


# -- physics constants ------------------------------------------------------------------------------
def make_problem(physics, first, second, cell):
    mesh = structured(cell, 1)
    if physics.startswith("elastic"):
        plane = "stress" if physics.endswith("stress") else "strain"
        law = fo.physics.LinearElasticity(E=first, nu=second, plane=plane)
    elif physics == "neo_hookean":
        law = fo.physics.NeoHookean(mu=first, lmbda=second)
    elif physics == "svk":
        law = fo.physics.StVenantKirchhoff(mu=first, lmbda=second)
    else:
        law = fo.physics.HeatConduction(k=first)
    return fo.Problem(mesh, law)


LAWS = st.sampled_from(["elastic", "elastic stress", "neo_hookean", "svk", "heat"])


def constants(cell):
    """Numbers, fields of the cell type's mesh (one cell; as many values as its cells or
    nodes: a default constant may be a field), and arrays of any other shape."""
    mesh = structured(cell, 1)
    fields = st.sampled_from([mesh.n_cells, mesh.n_nodes]).flatmap(
        lambda n: hnp.arrays(np.float64, n, elements=st.one_of(special_floats, st.floats(-3, 3))))
    return st.one_of(numeric_scalars, fields, fields.map(fo.cell_field).filter(lambda f: len(f.values) == mesh.n_cells),
                     numeric_arrays())


@property_settings(100)
@given(data=st.data(), physics=LAWS, cell=st.sampled_from(["tri3", "tet4"]))
def test_numeric_physics_constants_raise_only_femopt_errors(data, physics, cell):
    attempt(make_problem, physics, data.draw(constants(cell)), data.draw(constants(cell)), cell)


@property_settings(60, shrink=False)
@given(physics=LAWS, first=anything, second=anything, cell=st.sampled_from(["tri3", "tet4"]))
@example(physics="elastic", first="abc", second=0.3, cell="tri3")
def test_junk_physics_constants_raise_only_femopt_errors(physics, first, second, cell):
    attempt(make_problem, physics, first, second, cell)


# -- problem verbs and solves -------------------------------------------------------------------
#: One small mesh per physics: a valid solve compiles for its parameter layout only.
FUZZ_MESH = {"elastic": ("tri3", 2), "heat": ("quad4", 2)}


def fuzz_mesh(physics):
    return structured(*FUZZ_MESH[physics])


@st.composite
def selections(draw, mesh, hostile):
    options = [st.sampled_from(["xmin", "xmax", "ymin", "nope", ""]),
               st.lists(st.integers(-2, mesh.n_nodes + 2), max_size=4).map(np.array),
               st.just(np.arange(mesh.n_nodes)),                        # every node
               st.lists(st.booleans(), min_size=mesh.n_nodes - 1, max_size=mesh.n_nodes + 1).map(np.array),
               st.just(lambda x: x[:, 0] < 0.3), st.just(lambda x: np.ones(3)), st.just(lambda x: x[:, 0]),
               numeric]
    return draw(st.one_of(*options, junk) if hostile else st.one_of(*options))


#: Functions of x: ``fix`` calls them with the nodes (n, dim), loads with one point (dim,);
#: the first returns a scalar per point, the second a vector.
NODE_FUNCTIONS = (lambda x: x[:, 0], lambda x: x)
POINT_FUNCTIONS = (lambda x: x[0], lambda x: x)


def field_values(mesh, point_shape, functions):
    """Per-point values; plain fields of any length; cell / nodal fields of the right
    length and of others; ``functions`` of x."""
    entries = st.one_of(special_floats, st.floats(-3, 3))
    lengths = st.sampled_from([mesh.n_cells, mesh.n_nodes, mesh.n_cells + 1, 1, 0])

    def array(n):
        return hnp.arrays(np.float64, (n,) + point_shape, elements=entries)

    point = hnp.arrays(np.float64, point_shape, elements=entries)
    plain = st.one_of(point, lengths.flatmap(array), numeric)
    wrong = st.one_of(lengths.flatmap(array), point, numeric)
    cells, nodes = st.one_of(array(mesh.n_cells), wrong), st.one_of(array(mesh.n_nodes), wrong)
    return st.one_of(plain, cells.map(fo.cell_field), nodes.map(fo.nodal_field), *map(st.just, functions))


@st.composite
def operations(draw, physics, mesh, hostile):
    """One call on the problem: (verb, args, kwargs)."""
    c = mesh.dim if physics == "elastic" else 1
    point = () if c == 1 else (c,)
    def values(shape, functions=POINT_FUNCTIONS):
        if hostile:
            return st.one_of(field_values(mesh, shape, NODE_FUNCTIONS + POINT_FUNCTIONS), junk)
        return field_values(mesh, shape, functions)

    names = st.one_of(st.none(), st.sampled_from(["E", "load", "k", ""]), *([junk] if hostile else []))
    verb = draw(st.sampled_from(["fix", "solve", "solve"] + (["traction", "pressure", "body_force", "point_load"]
                                                             if physics == "elastic" else
                                                             ["heat_source", "heat_flux", "convection"])))
    if verb == "fix":
        components = st.one_of(st.none(), st.integers(-1, 3), st.lists(st.integers(-1, 3), max_size=3),
                               *([junk, numeric] if hostile else []))
        return verb, (draw(selections(mesh, hostile)),), {"value": draw(values(point, NODE_FUNCTIONS)),
                                                          "components": draw(components)}
    if verb in ("traction", "pressure", "heat_flux"):
        return verb, (draw(selections(mesh, hostile)), draw(values(point if verb == "traction" else ()))), \
            {"name": draw(names)}
    if verb in ("body_force", "heat_source"):
        cells = st.one_of(st.none(), st.lists(st.integers(-1, mesh.n_cells), max_size=3).map(np.array),
                          st.just(lambda x: x[:, 0] > 0.5), *([junk, numeric] if hostile else []))
        return verb, (draw(values(point)),), {"cells": draw(cells)}
    if verb == "point_load":
        return verb, (draw(selections(mesh, hostile)), draw(values(point, ()))), {}
    if verb == "convection":
        return verb, (draw(selections(mesh, hostile)), draw(values((), ())), draw(values((), ()))), {}
    known = ["E", "nu", "traction", "body_force"] if physics == "elastic" else ["k", "heat_source", "heat_flux"]
    params = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(known + ["bogus"]), values((), ()), max_size=2),
                            st.dictionaries(st.sampled_from(known), values(point, ()), max_size=2),
                            *([junk, numeric] if hostile else [])))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["load_steps"] = draw(st.one_of(st.integers(-1, 3), special_floats, *([junk] if hostile else [])))
    if draw(st.booleans()):
        kwargs["initial"] = draw(st.one_of(numeric_arrays(max_side=mesh.n_nodes * c + 1, max_dims=2),
                                           hnp.arrays(np.float64, mesh.n_nodes * c,
                                                      elements=st.one_of(special_floats, st.floats(-1, 1))),
                                           *([junk] if hostile else [])))
    return "solve", (params,), kwargs


def snapshot(problem):
    """What a verb may change: parameters (by identity), loads, prescribed dofs and values,
    parameter rules, the state."""
    loads = [(kind, name, None if where is None else where.tolist()) for kind, name, where in problem.loads()]
    return ({name: id(value) for name, value in problem.params.items()}, loads,
            problem.partition.prescribed.tolist(), problem.prescribed_values().tolist(),
            [rule.admissible for rule in problem.parameter_rules()], id(problem.state))


def fuzz_problem(physics, data, steps, hostile):
    mesh = fuzz_mesh(physics)
    law = fo.physics.LinearElasticity(E=2.0, nu=0.3) if physics == "elastic" else fo.physics.HeatConduction(k=2.0)
    problem = fo.Problem(mesh, law)
    for _ in range(steps):
        verb, args, kwargs = data.draw(operations(physics, mesh, hostile))
        before = snapshot(problem)
        solved, u = attempt(getattr(problem, verb), *args, **kwargs)
        if verb == "solve" and solved:
            assert np.all(np.isfinite(u)), "a solve returned NaN or Inf without an error"
        if not solved:
            assert snapshot(problem) == before, f"a refused {verb} changed the problem"


@pytest.mark.parametrize("physics", ["elastic", "heat"])
@property_settings(40)
@given(data=st.data())
def test_numeric_problem_verbs_and_solves_raise_only_femopt_errors(physics, data):
    fuzz_problem(physics, data, steps=5, hostile=False)


@pytest.mark.parametrize("physics", ["elastic", "heat"])
@property_settings(40, shrink=False)
@given(data=st.data())
def test_hostile_problem_verbs_and_solves_raise_only_femopt_errors(physics, data):
    fuzz_problem(physics, data, steps=5, hostile=True)


# -- former raw exceptions, one deterministic reproduction each ------------------------------------
def _elastic():
    problem = fo.Problem(fuzz_mesh("elastic"), fo.physics.LinearElasticity(E=2.0, nu=0.3))
    return problem.fix("xmin").traction("xmax", [1.0, 0.0])


def _heat():
    return fo.Problem(fuzz_mesh("heat"), fo.physics.HeatConduction(k=2.0))


#: Inputs that once let a raw exception out, and the femopt error each gets now. (None: the
#: input is valid — a tetrahedral mesh with coordinates of 1e200 is a mesh like any other;
#: the coincident-node search scales it instead of letting SciPy's KD-tree overflow.)
FORMER_RAW_EXCEPTIONS = {
    "Mesh: ragged points": (lambda: fo.Mesh([[0.0, 0.0], [1.0]], [[0, 1, 2]], "tri3"), fo.MeshError),
    "Mesh: check=np.array([])":
        (lambda: fo.Mesh(np.eye(3)[:, :2], [[0, 1, 2]], "tri3", check=np.array([])), fo.InputError),
    "Mesh: tet4 coordinates of 1e200": (lambda: fo.Mesh(TET.points * 1e200, TET.cells, "tet4"), None),
    "rectangle: shape (2**63, 1)": (lambda: fo.mesh.rectangle(shape=(2**63, 1)), fo.ResourceError),
    "rectangle: shape (10**18, 10**18)": (lambda: fo.mesh.rectangle(shape=(10**18, 10**18)), fo.ResourceError),
    "LinearElasticity(E='abc')":
        (lambda: fo.Problem(fuzz_mesh("elastic"), fo.physics.LinearElasticity(E="abc")), fo.ParameterError),
    "LinearElasticity(E=1j)":
        (lambda: fo.Problem(fuzz_mesh("elastic"), fo.physics.LinearElasticity(E=1j)), fo.ParameterError),
    "NeoHookean(mu=[], lmbda=[0, 0])":
        (lambda: fo.Problem(fuzz_mesh("elastic"), fo.physics.NeoHookean(mu=[], lmbda=[0, 0])), fo.InputError),
    "NeoHookean(mu=[[1, 2], []])":
        (lambda: fo.Problem(fuzz_mesh("elastic"), fo.physics.NeoHookean(mu=[[1, 2], []])), fo.ParameterError),
    "fix(components=10**30)": (lambda: _elastic().fix("xmin", components=10**30), fo.InputError),
    "fix([[], [1, 2]])": (lambda: _elastic().fix([[], [1, 2]]), fo.InputError),
    "solve(params=[1, 2])": (lambda: _elastic().solve([1, 2]), fo.InputError),
    "solve(params=np.array([]))": (lambda: _elastic().solve(np.array([])), fo.InputError),
    "solve({'E': 'a'})": (lambda: _elastic().solve({"E": "a"}), fo.ParameterError),
    "solve({'E': 1j})": (lambda: _elastic().solve({"E": 1j}), fo.ParameterError),
    "solve({'E': cell_field of 3 values})": (lambda: _elastic().solve({"E": fo.cell_field(np.ones(3))}), fo.InputError),
    "solve({'E': nodal_field of 3 values})":
        (lambda: _elastic().solve({"E": fo.nodal_field(np.ones(3))}), fo.InputError),
    "solve({'E': f(x)})": (lambda: _elastic().solve({"E": lambda x: x[0]}), fo.ParameterError),
    "solve(initial='abc')": (lambda: _elastic().solve(initial="abc"), fo.InputError),
    "solve(initial=1j)": (lambda: _elastic().solve(initial=1j), fo.InputError),
    "pressure(value=cell_field(0.0))": (lambda: _elastic().pressure("xmin", fo.cell_field(0.0)), fo.InputError),
    "pressure(name={'a': 1})": (lambda: _elastic().pressure("xmin", 1.0, name={"a": 1}), fo.InputError),
    "traction(name=np.array([1, 2]))":
        (lambda: _elastic().traction("xmin", [1.0, 0.0], name=np.array([1, 2])), fo.InputError),
    "traction(name=3), then solve": (lambda: _elastic().traction("xmin", [1.0, 0.0], name=3).solve(), fo.InputError),
    "traction(f(x) returning a string)":
        (lambda: _elastic().traction("xmax", lambda x: "a", name="t").solve(), fo.InputError),
    "body_force(cells=[[], [1, 2j]])": (lambda: _elastic().body_force([1.0, 0.0], cells=[[], [1, 2j]]), fo.InputError),
    "heat_source(f(x) indexing x as (n, dim)), then solve":
        (lambda: _heat().fix("xmin").heat_source(lambda x: x[:, 0]).solve(), fo.InputError),
    "heat_flux(f(x) returning a vector), then solve":
        (lambda: _heat().fix("xmin").heat_flux("xmax", lambda x: x).solve(), fo.InputError),
    "heat_flux(selection=[[], [1, 2]])": (lambda: _heat().heat_flux([[], [1, 2]], 1.0), fo.MeshError),
    "convection(value=nodal_field(0-d))":
        (lambda: _heat().convection("xmin", fo.nodal_field(1.0), 0.0), fo.InputError),
}


@pytest.mark.parametrize("case", sorted(FORMER_RAW_EXCEPTIONS))
def test_former_raw_exceptions_are_femopt_errors(case):
    call, error = FORMER_RAW_EXCEPTIONS[case]
    if error is None:
        call()
        return
    with pytest.raises(error) as info:
        call()
    assert str(info.value).strip()


def test_vector_valued_pressure_function_is_refused():
    with pytest.raises(fo.InputError, match=r"load 'pressure': the load function must return a real number"):
        _elastic().pressure("xmax", lambda x: x)


def test_fractional_component_is_refused():
    with pytest.raises(fo.InputError):
        _elastic().fix("xmax", components=0.7)


def test_every_dof_prescribed_solves_to_the_prescribed_field():
    mesh = fuzz_mesh("heat")
    problem = fo.Problem(mesh, fo.physics.HeatConduction(k=2.0))
    problem.fix(np.arange(mesh.n_nodes), lambda x: 1.0 + x[:, 0])
    assert np.allclose(problem.solve(), 1.0 + mesh.points[:, 0])


# -- slow study ----------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("physics", ["elastic", "heat"])
@property_settings(400)
@given(data=st.data())
def test_numeric_problem_verbs_and_solves_raise_only_femopt_errors_study(physics, data):
    fuzz_problem(physics, data, steps=8, hostile=False)


@pytest.mark.slow
@property_settings(2000)
@given(case=corrupted_meshes())
def test_corrupted_meshes_raise_only_femopt_errors_study(case):
    check_mesh(*case)


@pytest.mark.slow
@property_settings(1000)
@given(points=numeric, cells=numeric, cell_type=st.one_of(st.sampled_from(CELLS), st.text(max_size=4)))
def test_mesh_from_random_numeric_arrays_raises_only_femopt_errors_study(points, cells, cell_type):
    check_mesh(points, cells, cell_type)


@pytest.mark.parametrize("components", ["x", [None], 0.7, True, [0, 1.5]])
def test_non_integer_components_are_refused(components):
    with pytest.raises(fo.InputError, match="components must be whole numbers"):
        _elastic().fix("xmin", components=components)
