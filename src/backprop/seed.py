"""The seed network of the course: v = W x, s = sigma(v), E = 1/2 ||s - y||^2.

Shapes (column vectors, as in the question): W is (m, n), x is (n, 1) or (n,),
v and s are (m, 1) — or (m,) when x was given as (n,) — and y has exactly the
shape of s. In the question m = 5 and n = 4 (x0 in R^4, W in R^{5x4}).

The three approach modules (:mod:`backprop.subscript`, :mod:`backprop.jacobian`,
:mod:`backprop.differential`) all start from :func:`forward`, which checks their inputs, differ
only in how they compute G = dE/dW, and return it through :func:`shape_like_W`.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array
from .activations import sigmoid

__all__ = ["Forward", "forward", "E", "example", "shape_like_W"]


class Forward:
    """Every quantity of one forward pass, as columns: x (n,1), v (m,1), s (m,1), y (m,1), E (float).

    E is computed when it is read, so the gradient paths (which need s and y, not E) do not pay for it.
    """

    __slots__ = ("x", "v", "s", "y")

    def __init__(self, x: np.ndarray, v: np.ndarray, s: np.ndarray, y: np.ndarray) -> None:
        self.x, self.v, self.s, self.y = x, v, s, y

    @property
    def E(self) -> float:
        """E = 1/2 ||s - y||^2."""
        r = self.s - self.y
        return float(0.5 * np.sum(r * r))

    def __repr__(self) -> str:
        return (
            f"Forward(x {self.x.shape}, v {self.v.shape}, s {self.s.shape}, y {self.y.shape}, E={self.E!r})"
        )


def forward(W, x, y) -> Forward:
    """Check the inputs and run v = W x, s = sigma(v), E = 1/2 ||s - y||^2.

    W: (m, n) float array; x: (n, 1) or (n,); y: (m, 1) if x is a column, (m,) if x is 1-D.
    Returns a :class:`Forward` whose vectors are all columns (k, 1).
    Raises ``ValueError`` on any shape mismatch (no broadcasting), ``TypeError`` on non-float data.
    """
    W = as_float_array(W, "W", ndim=2)
    m, n = W.shape
    x_arr = as_float_array(x, "x", ndim=(1, 2))
    if x_arr.shape not in ((n,), (n, 1)):
        raise ValueError(
            f"x must have shape ({n}, 1) or ({n},) to be multiplied by W of shape {W.shape}, got {x_arr.shape}"
        )
    x_col = x_arr.reshape(n, 1)
    y_arr = as_float_array(y, "y", ndim=(1, 2))
    s_shape = (m,) if x_arr.ndim == 1 else (m, 1)
    if y_arr.shape != s_shape:
        raise ValueError(
            f"y has shape {y_arr.shape} but s = sigma(W x) has shape {s_shape} (W {W.shape}, x {x_arr.shape}); "
            "they must match exactly, since numpy would silently broadcast s - y"
        )
    y_col = y_arr.reshape(m, 1)
    v = W @ x_col
    return Forward(x_col, v, sigmoid(v), y_col)


def E(W, x, y) -> float:
    """The error E(W) = 1/2 ||sigma(W x) - y||^2 as a float (same checks as :func:`forward`)."""
    return forward(W, x, y).E


def example(seed: int = 0, m: int = 5, n: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The question's example with reproducible numbers: W (m, n), x0 (n, 1), y (m, 1).

    Entries of W and x0 are standard normal, y is uniform in (0, 1) like a sigmoid output.
    """
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((m, n))
    x0 = rng.standard_normal((n, 1))
    y = rng.uniform(0.0, 1.0, size=(m, 1))
    return W, x0, y


def shape_like_W(G: np.ndarray, W) -> np.ndarray:
    """G (m, n) with W's dtype, as every grad_W returns it (a float32 W gets a float32 G)."""
    return G.astype(np.asarray(W).dtype, copy=False)
