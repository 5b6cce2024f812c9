"""backprop — the derivatives inside backpropagation, three ways.

The seed network v = W x, s = sigma(v), E = 1/2 ||s - y||^2 differentiated by
:mod:`~backprop.subscript` (one weight at a time), :mod:`~backprop.jacobian`
(explicit Jacobians, a 3-D dv/dW) and :mod:`~backprop.differential`
(dE = G : dW); then :class:`MLP` for deep networks and :func:`gradcheck`.
"""
from . import activations, differential, jacobian, losses, seed, subscript
from .activations import relu, sigmoid, softmax, tanh
from .checking import GradcheckReport, gradcheck, numerical_gradient, relative_error
from .mlp import MLP

__all__ = [
    "activations", "losses", "seed", "subscript", "jacobian", "differential",
    "sigmoid", "tanh", "relu", "softmax",
    "MLP", "gradcheck", "numerical_gradient", "relative_error", "GradcheckReport",
]
__version__ = "0.1.0"
