"""backprop — the derivatives inside backpropagation, three ways.

The seed network v = W x, s = sigma(v), E = 1/2 ||s - y||^2 differentiated by
:mod:`~backprop.subscript` (one weight at a time), :mod:`~backprop.jacobian`
(explicit Jacobians, a 3-D dv/dW) and :mod:`~backprop.differential`
(dE = G : dW); then :class:`MLP` for deep networks, :func:`gradcheck` and the
diagnosing checker (:mod:`~backprop.diagnose`), minibatch training
(:mod:`~backprop.train`), Jacobian chains (:mod:`~backprop.chain`) and a tiny
reverse-mode engine (:mod:`~backprop.engine`), initialisation schemes
(:mod:`~backprop.init`) and checkpointed backward (:mod:`~backprop.checkpoint`).
"""

from . import (
    activations,
    chain,
    checkpoint,
    diagnose,
    differential,
    engine,
    init,
    jacobian,
    layers,  # normalisation, convolution, pooling, attention (issue 16)
    losses,
    seed,
    subscript,
    train,
)
from .activations import relu, sigmoid, softmax, tanh
from .checking import GradcheckReport, gradcheck, numerical_gradient, relative_error
from .diagnose import Diagnosis, check_gradient, seed_mistakes
from .mlp import MLP

__all__ = [
    "activations",
    "losses",
    "seed",
    "subscript",
    "jacobian",
    "differential",
    "chain",
    "diagnose",
    "engine",
    "train",
    "init",
    "checkpoint",
    "layers",
    "sigmoid",
    "tanh",
    "relu",
    "softmax",
    "MLP",
    "gradcheck",
    "numerical_gradient",
    "relative_error",
    "GradcheckReport",
    "Diagnosis",
    "check_gradient",
    "seed_mistakes",
]
__version__ = "0.1.0"
# Tells this course's package from PyPI's unrelated `backprop` (same import name): the install
# cell of every chapter checks it.
__course__ = "backprop-three-ways"
