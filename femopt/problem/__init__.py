"""The problem layer: space + physics + supports + loads + parameters → state.

:class:`Problem` is the one place where the layers meet; :class:`State` is what a solve
leaves behind; :mod:`.supports` explains a singular tangent in terms of the mesh;
:mod:`.validate` checks what enters the problem's verbs.
"""
from .problem import Problem
from .state import State

__all__ = ["Problem", "State"]
