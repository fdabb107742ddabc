"""Solved problems shared by the visualization tests (a solve compiles its kernels once
per session), and helpers that read a rendered PNG."""
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

import femopt as fo


@pytest.fixture(scope="session")
def beam_2d():
    """A 4:1 cantilever, quad4, clamped at x = 0, pulled down at x = 4."""
    mesh = fo.mesh.rectangle((4.0, 1.0), (16, 4))
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, -1e-2])
    return mesh, problem, problem.solve()


@pytest.fixture(scope="session")
def beam_3d():
    """A 4:1:1 cantilever, hex8, clamped at x = 0, pulled down at x = 4."""
    mesh = fo.mesh.box((4.0, 1.0, 1.0), (8, 2, 2))
    problem = fo.Problem(mesh, fo.physics.LinearElasticity(E=1.0, nu=0.3))
    problem.fix("xmin")
    problem.traction("xmax", [0.0, 0.0, -1e-2])
    return mesh, problem, problem.solve()


class Picture:
    """A rendered PNG: RGB pixels, the background (the corner colour), the foreground
    mask and its largest connected blob (the drawn body; the scalar bar and its labels
    are separate blobs)."""

    def __init__(self, path):
        self.rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
        self.hsv = np.asarray(Image.open(path).convert("RGB").convert("HSV")).astype(np.int16)
        background = self.rgb[0, 0]
        self.foreground = np.abs(self.rgb - background).max(axis=2) > 12
        labels, n = ndimage.label(self.foreground)
        sizes = ndimage.sum(self.foreground, labels, range(1, n + 1))
        self.body = labels == (1 + int(np.argmax(sizes))) if n else self.foreground

    @property
    def std(self) -> float:
        return float(self.rgb.std())

    def extent(self, mask=None):
        """(width, height) in pixels of the bounding box of ``mask`` (default: the body)."""
        rows, cols = np.nonzero(self.body if mask is None else mask)
        return cols.max() - cols.min() + 1, rows.max() - rows.min() + 1

    def n_hues(self, mask=None, bins=12, share=0.01) -> int:
        """Distinct hues (of ``bins`` on the colour wheel) among saturated pixels of the
        body, each counted when it covers ``share`` of them."""
        mask = self.body if mask is None else mask
        saturated = mask & (self.hsv[..., 1] > 60) & (self.hsv[..., 2] > 40)
        hues = self.hsv[..., 0][saturated] * bins // 256
        counts = np.bincount(hues, minlength=bins)
        return int(np.sum(counts > share * max(1, saturated.sum())))

    def columns(self, start: float, stop: float):
        """A mask of the body's pixels between fractions ``start`` and ``stop`` of its width."""
        cols = np.nonzero(self.body)[1]
        lo, hi = cols.min(), cols.max()
        keep = np.zeros_like(self.body)
        keep[:, int(lo + start * (hi - lo)): int(lo + stop * (hi - lo)) + 1] = True
        return self.body & keep


@pytest.fixture
def picture():
    return Picture
