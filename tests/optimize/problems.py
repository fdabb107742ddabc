"""Small optimization problems with known optima, shared by the optimizer tests."""
import numpy as np

# Svanberg (1987), the 5-variable cantilever: min 0.0624 sum(x) s.t.
# 61/x1^3 + 37/x2^3 + 19/x3^3 + 7/x4^3 + 1/x5^3 <= 1, 1 <= x <= 10; optimum 1.340.
CANTILEVER_WEIGHTS = np.array([61.0, 37.0, 19.0, 7.0, 1.0])
CANTILEVER_OPTIMUM = 1.3399
CANTILEVER_X = np.array([6.016, 5.309, 4.494, 3.502, 2.153])


def cantilever_weight(x):
    return 0.0624 * np.sum(x), np.full(x.size, 0.0624)


def cantilever_stiffness(x):
    return float(np.sum(CANTILEVER_WEIGHTS / x ** 3) - 1.0), -3.0 * CANTILEVER_WEIGHTS / x ** 4


class Budget:
    """sum(x) / V - 1 <= 0, with a cheap value() for OC."""

    def __init__(self, total):
        self.total = total

    def value(self, x):
        return float(np.sum(x) / self.total - 1.0)

    def __call__(self, x):
        return self.value(x), np.full(x.size, 1.0 / self.total)


def separable(c):
    """f = sum(c / x): with sum(x) <= V the optimum is x ∝ sqrt(c) (inside the bounds)."""
    return lambda x: (float(np.sum(c / x)), -c / x ** 2)


def separable_optimum(c, total):
    return total * np.sqrt(c) / np.sum(np.sqrt(c))
