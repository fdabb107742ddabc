"""Mapped meshes of curved domains: a quarter annulus (optionally extruded) and a
quarter plate with a circular hole.

Every node, mid-edge nodes included, is the image of a lattice point under the exact
geometric map, so nodes on a circle lie on it to round-off, and nodes on the symmetry
lines have a coordinate that is exactly zero.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .generators import generator_cell, positive_floats, positive_ints
from .lattice import axis_values, lattice_mesh
from .mesh import Mesh
from ..errors import InputError

__all__ = ["quarter_annulus", "plate_with_hole"]

_PLANAR = ("tri3", "tri6", "quad4", "quad8", "quad9")
_SOLID = ("tet4", "tet10", "hex8", "hex20", "hex27")


def _unit_circle(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``cos, sin`` with the quarter-turn values exact (``cos(pi/2)`` is 6e-17 in floats)."""
    cos, sin = np.cos(theta), np.sin(theta)
    quarter = theta == 0.5 * np.pi
    cos[quarter], sin[quarter] = 0.0, 1.0
    zero = theta == 0.0
    cos[zero], sin[zero] = 1.0, 0.0
    return cos, sin


def quarter_annulus(r_inner: float, r_outer: float, shape: Sequence[int] = (4, 8),
                    cell: str = "quad4", height: float | None = None,
                    n_height: int | None = None) -> Mesh:
    """Mapped mesh of the quarter ring ``r_inner <= r <= r_outer, 0 <= theta <= pi/2``.

    Args:
        r_inner, r_outer: radii, ``0 < r_inner < r_outer``.
        shape: ``(n_radial, n_angular)`` cells.
        cell: 2D: tri3, tri6, quad4, quad8, quad9; with ``height``: tet4, tet10, hex8,
            hex20, hex27.
        height: extrude along z to ``0 <= z <= height`` (a 3D mesh).
        n_height: cells along z (default ``n_radial``).

    Returns:
        A mesh with facet and node tags ``inner, outer`` (the arcs), ``xsym`` (the side
        on x = 0), ``ysym`` (the side on y = 0), and with ``height`` also ``zmin, zmax``.
        Angles run counterclockwise, so cells are positively oriented.

    Raises:
        InputError: bad arguments.
        ResourceError: the mesh would not fit in the available memory (checked first).
    """
    radii = positive_floats((r_inner, r_outer), 2, "(r_inner, r_outer)")
    if not radii[0] < radii[1]:
        raise InputError(f"quarter_annulus needs r_inner < r_outer, got {r_inner!r} >= {r_outer!r}")
    n_radial, n_angular = positive_ints(shape, 2, "shape (n_radial, n_angular)")
    solid = height is not None
    ctype = generator_cell(cell, _SOLID if solid else _PLANAR, "quarter_annulus" +
                           (" with height" if solid else " without height"))
    order = ctype.order
    values = [axis_values(np.linspace(radii[0], radii[1], n_radial + 1), order),
              axis_values(np.linspace(0.0, 0.5 * np.pi, n_angular + 1), order)]
    box_shape = [n_radial, n_angular]
    sides = {
        "inner": lambda index: index[:, 0] == 0,
        "outer": lambda index: index[:, 0] == order * n_radial,
        "ysym": lambda index: index[:, 1] == 0,
        "xsym": lambda index: index[:, 1] == order * n_angular,
    }
    if solid:
        (height,) = positive_floats((height,), 1, "height")
        (n_height,) = positive_ints((n_radial if n_height is None else n_height,), 1, "n_height")
        values.append(axis_values(np.linspace(0.0, height, n_height + 1), order))
        box_shape.append(n_height)
        sides["zmin"] = lambda index: index[:, 2] == 0
        sides["zmax"] = lambda index: index[:, 2] == order * n_height

    def polar(params: np.ndarray) -> np.ndarray:
        cos, sin = _unit_circle(params[:, 1])
        xy = [params[:, 0] * cos, params[:, 0] * sin]
        return np.stack(xy + [params[:, 2]] if solid else xy, axis=1)

    def describe(boxes):
        return (f"quarter_annulus(shape={tuple(boxes[:2])}, cell={ctype.name!r}"
                + (f", n_height={boxes[2]})" if solid else ")"))

    return lattice_mesh(box_shape, ctype, values, polar, sides, describe)


def plate_with_hole(width: float, height: float, radius: float,
                    shape: Sequence[int] = (8, 4), cell: str = "quad4",
                    grading: float = 1.0) -> Mesh:
    """Mapped mesh of the quarter plate ``[0, width] x [0, height]`` minus the disk of
    ``radius`` at the origin.

    The plate is one lattice block in (radial, around) parameters, kinked along the
    line from the arc to the corner ``(width, height)``: on each side of it the mesh
    blends linearly between the arc and the straight outer side (transfinite in the
    radial direction).

    Args:
        width, height: plate size; ``radius < min(width, height)``.
        radius: hole radius.
        shape: ``(n_around, n_radial)``: cells along the arc (>= 2; split between the
            two sides of the corner in proportion to their angles) and across.
        cell: tri3, tri6, quad4, quad8 or quad9.
        grading: ratio of the outermost to the innermost radial cell size; > 1 refines
            toward the hole (geometric progression), 1 is uniform.

    Returns:
        A mesh with facet and node tags ``hole``, ``xmax`` (x = width), ``ymax``
        (y = height), ``xsym`` (x = 0) and ``ysym`` (y = 0).

    Raises:
        InputError: bad arguments.
        ResourceError: the mesh would not fit in the available memory (checked first).
    """
    width, height, radius = positive_floats((width, height, radius), 3, "(width, height, radius)")
    if not radius < min(width, height):
        raise InputError(f"plate_with_hole needs radius < min(width, height), got radius "
                         f"{radius!r} for a {width!r} x {height!r} plate")
    n_around, n_radial = positive_ints(shape, 2, "shape (n_around, n_radial)")
    if n_around < 2:
        raise InputError(f"plate_with_hole needs n_around >= 2 (one cell each side of the "
                         f"corner), got shape {tuple(shape)!r}")
    (grading,) = positive_floats((grading,), 1, "grading")
    ctype = generator_cell(cell, _PLANAR, "plate_with_hole")
    order = ctype.order

    corner_angle = np.arctan2(height, width)
    n_lower = int(np.clip(round(n_around * corner_angle / (0.5 * np.pi)), 1, n_around - 1))
    j_corner, j_last = order * n_lower, order * n_around
    growth = grading ** (1.0 / max(n_radial - 1, 1))
    sizes = growth ** np.arange(n_radial)
    rho = np.concatenate([[0.0], np.cumsum(sizes) / sizes.sum()])
    rho[-1] = 1.0
    values = [axis_values(rho, order), np.arange(j_last + 1, dtype=np.float64)]

    def blend(params: np.ndarray) -> np.ndarray:
        rho, j = params[:, 0], params[:, 1]
        lower = j <= j_corner
        # u runs 0 -> 1 along each side of the corner.
        u = np.where(lower, j / j_corner, (j - j_corner) / (j_last - j_corner))
        theta = np.where(lower, corner_angle * u, corner_angle + (0.5 * np.pi - corner_angle) * u)
        theta[j == j_last] = 0.5 * np.pi
        cos, sin = _unit_circle(theta)
        outer_x = np.where(lower, width, width * (1.0 - u))
        outer_y = np.where(lower, height * u, height)
        return np.stack([(1.0 - rho) * radius * cos + rho * outer_x,
                         (1.0 - rho) * radius * sin + rho * outer_y], axis=1)

    last = order * n_radial
    sides = {
        "hole": lambda index: index[:, 0] == 0,
        "xmax": lambda index: (index[:, 0] == last) & (index[:, 1] <= j_corner),
        "ymax": lambda index: (index[:, 0] == last) & (index[:, 1] >= j_corner),
        "ysym": lambda index: index[:, 1] == 0,
        "xsym": lambda index: index[:, 1] == j_last,
    }
    # Only the memory refusal calls describe, with the shape as given or a coarser one.
    return lattice_mesh((n_radial, n_around), ctype, values, blend, sides,
                        lambda boxes: f"plate_with_hole(shape={(boxes[1], boxes[0])}, cell={ctype.name!r})")
