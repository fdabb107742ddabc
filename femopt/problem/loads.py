"""The load verbs of :class:`~femopt.problem.Problem`: each declares a named parameter
(its magnitude, a field, or the scale of a function of x) and the term that applies it.

Every value is checked where it enters: its shape against the load's (a vector of
``n_components`` for a traction, a number for a heat source; or one per cell / node,
plain or wrapped in :func:`~femopt.cell_field` / :func:`~femopt.nodal_field`), and
every entry finite; a function of x is traced once at one point (:mod:`.validate`). A
refused load leaves the problem as it was.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..assembly.assembler import CellTerm, FacetTerm
from ..assembly.parameters import as_float_value
from ..errors import InputError
from ..physics.admissible import non_negative
from ..physics.loads import Convection, HeatFlux, Pressure, Traction, VolumeLoad
from .validate import check_load_function, load_name


class ProblemTerms(NamedTuple):
    """What :meth:`LoadMethods.terms` returns."""

    cell_terms: list
    facet_terms: list
    point_loads: list
    dirichlet: dict

__all__ = ["LoadMethods"]


class LoadMethods:
    """Mixed into :class:`~femopt.problem.Problem` (it supplies ``mesh``, ``space``,
    ``params``, the term lists and ``check_parameters``)."""

    def traction(self, selection, value, *, name: str | None = None):
        """Dead traction (force per reference area) on boundary facets; ``value`` is a
        vector ``(n_components,)``, a per-cell / per-node field of such vectors, or a
        function ``f(x)`` (JAX) scaled by the parameter ``name`` (default 1)."""
        return self._facet_load(Traction, selection, value, name, "traction", (self.space.n_components,))

    def pressure(self, selection, value, *, name: str | None = None):
        """Pressure on boundary facets (pushes against the outward normal): a number, a
        field, or ``f(x)``."""
        return self._facet_load(Pressure, selection, value, name, "pressure", ())

    def heat_flux(self, selection, value, *, name: str | None = None):
        """Heat flux into the body through boundary facets (per unit area): a number, a
        field, or ``f(x)``."""
        return self._facet_load(HeatFlux, selection, value, name, "heat_flux", ())

    def convection(self, selection, h, ambient, *, name: str | None = None):
        """Convective (Robin) cooling h (T − ambient); parameters ``<name>.h`` (≥ 0) and
        ``<name>.ambient``, each a number or a field."""
        name = load_name(name) or self._new_name("convection")
        facets = self.mesh.facets(selection)
        load = Convection(name)
        h_name, ambient_name = load.parameter_names()
        self._add_parameters({h_name: (h, ()), ambient_name: (ambient, ())}, rules=[non_negative(h_name)])
        self._facet_terms.append(FacetTerm(load, facets))
        self._invalidate()
        return self

    def body_force(self, cells_or_value, value=None, *, name: str = "body_force", cells=None):
        """Force per unit volume: a vector, a per-cell/per-node field, or ``f(x)`` (JAX).

        ``body_force(value)`` acts on every cell; ``body_force(cells, value)`` on the
        selected ones (a cell tag, a centroid predicate, ids or a mask) — the order of
        ``traction(selection, value)``. ``cells=`` is the same selection by keyword."""
        cells, value = _where_and_value(cells_or_value, value, cells, "body_force")
        return self._volume_load(value, name, "body_force", (self.space.n_components,), cells)

    def heat_source(self, cells_or_value, value=None, *, name: str = "heat_source", cells=None):
        """Heat generated per unit volume: a number, a per-cell/per-node field, or ``f(x)``
        (JAX).

        ``heat_source(value)`` acts on every cell; ``heat_source(cells, value)`` on the
        selected ones (a cell tag, a centroid predicate, ids or a mask) — the order of
        ``heat_flux(selection, value)``. ``cells=`` is the same selection by keyword."""
        cells, value = _where_and_value(cells_or_value, value, cells, "heat_source")
        return self._volume_load(value, name, "heat_source", (), cells)

    def point_load(self, selection, value, *, name: str | None = None):
        """A force on each selected node (``value`` per node, ``(n_components,)``)."""
        name = load_name(name) or self._new_name("point_load")
        nodes = self.mesh.nodes(selection)
        self._add_parameters({name: (value, (self.space.n_components,))}, fields=False)
        self._point_loads.append((name, nodes))
        self._invalidate()
        return self

    def loads(self) -> list[tuple[str, str, np.ndarray]]:
        """Every load as ``(kind, parameter name, where)``: ``where`` holds the facets
        ``(n, 2)`` of a boundary load, the cell ids of a volume load (all cells: None) or
        the node ids of a point load (e.g. for a checkpoint's fingerprint)."""
        out = [(type(t.load).__name__, t.load.name, np.asarray(t.facets)) for t in self._facet_terms]
        out += [(type(t.law).__name__, t.law.name, None if t.cells is None else np.asarray(t.cells))
                for t in self._cell_terms[1:]]
        out += [("PointLoad", name, np.asarray(nodes)) for name, nodes in self._point_loads]
        return out

    def terms(self) -> "ProblemTerms":
        """The problem's assembly terms, for code that assembles a part of it (e.g. one
        MPI rank's cells, :mod:`femopt.distributed`): copies of the volume terms
        (``CellTerm``: law, cell ids or None for all), the boundary terms (``FacetTerm``:
        load, facets ``(n, 2)``), the point loads ``[(parameter name, node ids)]`` and the
        prescribed values ``{global dof: value}``."""
        return ProblemTerms(list(self._cell_terms), list(self._facet_terms), list(self._point_loads),
                            dict(self._dirichlet))

    # -- helpers -------------------------------------------------------------------------
    def _new_name(self, base):
        """``base``, ``base1``, ... : the first that no parameter uses, alone or as the
        prefix of a convection's ``<name>.h``."""
        k = 0
        while any(p == f"{base}{k or ''}" or p.startswith(f"{base}{k or ''}.") for p in self.params):
            k += 1
        return f"{base}{k or ''}"

    def _add_parameters(self, entries, fields=True, rules=()):
        """Declare the parameters ``{name: (value, point_shape)}`` of one load, with the
        ``rules`` their values must meet. All are checked (name free, real numbers of the
        shape, finite, admissible) before any is kept."""
        values = {}
        for name, (value, point_shape) in entries.items():
            if name in self.params:
                raise InputError(f"parameter name {name!r} is taken; pass name=... to choose another")
            values[name] = as_float_value(value, name)
            shape = np.shape(getattr(values[name], "values", values[name]))
            if not fields and shape != tuple(point_shape):
                raise InputError(f"{name!r}: expected shape {tuple(point_shape)}, got {shape}")
        n_rules = len(self._extra_rules)
        self._point_shapes.update({name: tuple(point_shape) for name, (_, point_shape) in entries.items()})
        self._extra_rules.extend(rules)
        try:
            self.split(values)
            self.check_parameters(values)
        except Exception:  # put back what was declared, whatever refused it
            for name in entries:
                del self._point_shapes[name]
            del self._extra_rules[n_rules:]
            raise
        self.params.update(values)
        self._load_names.update(values)

    def _split_value(self, value, point_shape, name):
        """(function of x or None, the value to store as the parameter, its point shape)."""
        if callable(value):
            check_load_function(value, f"load {name!r}", self.mesh.dim, point_shape)
            return value, np.float64(1.0), ()
        return None, value, point_shape

    def _facet_load(self, cls, selection, value, name, base, point_shape):
        name = load_name(name) or self._new_name(base)
        facets = self.mesh.facets(selection)
        fn, stored, ps = self._split_value(value, point_shape, name)
        self._add_parameters({name: (stored, ps)})
        self._facet_terms.append(FacetTerm(cls(name, fn), facets))
        self._invalidate()
        return self

    def _volume_load(self, value, name, base, point_shape, cells):
        name = load_name(name) or self._new_name(base)
        fn, stored, ps = self._split_value(value, point_shape, name)
        cell_ids = None if cells is None else self.mesh._cells(cells)
        self._add_parameters({name: (stored, ps)})
        self._cell_terms.append(CellTerm(VolumeLoad(name, fn), cell_ids))
        self._invalidate()
        return self


def _where_and_value(first, value, cells, verb):
    """``(cells, value)`` of a volume load called as ``verb(value)``, ``verb(cells, value)``
    or ``verb(value, cells=...)``."""
    if value is None:
        return cells, first
    if cells is not None:
        raise InputError(f"{verb}: the cells are given twice (as the first argument and as cells=); "
                         f"write {verb}(cells, value) or {verb}(value, cells=cells)")
    return first, value
