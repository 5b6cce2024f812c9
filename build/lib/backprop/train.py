"""Training an MLP by minibatch stochastic gradient descent (with momentum).

Columns are examples: X has shape (n0, B), targets Y shape (nL, B), class labels shape (B,).
One step on a minibatch (X_b, Y_b) with learning rate eta and momentum mu, for every parameter P:

    E, G = net.loss_and_gradients(X_b, Y_b)      # G = dE/dP, the shape of P
    U <- mu U - eta G                            # velocity, starts at 0 (mu = 0: plain SGD)
    P <- P + U                                   # in place, in net.params

An epoch visits the training columns once, in an order drawn from ``numpy.random.default_rng(seed)``.
This module needs numpy only; :func:`load_digits_split` imports scikit-learn when it is called.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from ._checks import as_float_array, refuse_masked
from .mlp import MLP

__all__ = ["DIGITS_SETTINGS", "History", "one_hot", "accuracy", "sgd", "load_digits_split"]

#: Settings of the digits chapter (book/10_training_digits.ipynb), reused by benchmarks/run.py.
#: ``seed`` seeds the weights, the shuffling and the stratified split; ``test_size`` is the held-out
#: fraction of scikit-learn's 1797 digits (450 test, 1347 training examples).
DIGITS_SETTINGS: dict = dict(
    sizes=[64, 128, 10], hidden="relu", learning_rate=0.1, momentum=0.9,
    batch_size=16, epochs=20, seed=0, test_size=0.25,
)


@dataclass
class History:
    """What :func:`sgd` records once per epoch.

    ``loss``: mean of the minibatch losses of the epoch, weighted by batch size (as scikit-learn's
    ``loss_curve_``); ``val_accuracy``: held-out accuracy after the epoch (empty without validation data).
    """

    loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def _labels(labels, k: int, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D integer array with entries in 0..k-1, or raise (masked arrays too)."""
    refuse_masked(labels, name)
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers 0..{k - 1}, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of shape (B,), got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= k:
        raise ValueError(f"{name} must lie in 0..{k - 1} (k = {k} classes), got values "
                         f"from {arr.min()} to {arr.max()}")
    return arr


def _positive_int(value, name: str) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def one_hot(labels, k: int) -> np.ndarray:
    """Targets Y of shape (k, B) with Y[c, b] = 1 if labels[b] == c, else 0 (float64).

    ``labels``: integers 0..k-1, shape (B,). ``Y.argmax(axis=0)`` gives the labels back.
    """
    k = _positive_int(k, "k (the number of classes)")
    labels = _labels(labels, k)
    Y = np.zeros((k, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y


def accuracy(net: MLP, X, labels) -> float:
    """Fraction of the columns of X (n0, B) whose largest output is at the true label; labels (B,)."""
    X = net._X(X)
    labels = _labels(labels, net.sizes[-1])
    if labels.size != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} columns (examples) but labels has {labels.size} entries")
    return float(np.mean(net.predict(X).argmax(axis=0) == labels))


def sgd(net: MLP, X, Y, *, learning_rate: float, batch_size: int, epochs: int, momentum: float = 0.0,
        seed: int = 0, validation: tuple | None = None) -> History:
    """Train ``net`` in place by minibatch SGD with (heavy-ball) momentum; return its :class:`History`.

    X (n0, B) inputs, Y (nL, B) targets (e.g. ``one_hot(labels, nL)``), columns are examples.
    Each epoch shuffles the B columns with ``numpy.random.default_rng(seed)`` and steps through
    minibatches of ``batch_size`` columns (the last one may be smaller). ``validation=(X_val, labels_val)``
    with X_val (n0, B_val), labels_val (B_val,) records the held-out accuracy after every epoch.
    """
    X = net._X(X)
    B = X.shape[1]
    Y = net._Y(Y, B)
    if not (isinstance(learning_rate, Real) and np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
    if not (isinstance(momentum, Real) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    batch_size = _positive_int(batch_size, "batch_size")
    epochs = _positive_int(epochs, "epochs")
    if validation is not None:
        if not (isinstance(validation, tuple) and len(validation) == 2):
            raise ValueError("validation must be a pair (X_val, labels_val)")
        X_val, labels_val = net._X(validation[0]), _labels(validation[1], net.sizes[-1], "labels_val")
        if labels_val.size != X_val.shape[1]:
            raise ValueError(f"X_val has {X_val.shape[1]} columns but labels_val has {labels_val.size} entries")

    rng = np.random.default_rng(seed)
    U = {k: np.zeros_like(P) for k, P in net.params.items()}          # velocities, shapes of the params
    history = History()
    for _ in range(epochs):
        order = rng.permutation(B)
        total = 0.0
        for start in range(0, B, batch_size):
            b = order[start:start + batch_size]
            E, G = net.loss_and_gradients(X[:, b], Y[:, b])
            for k, P in net.params.items():
                U[k] *= momentum
                U[k] -= learning_rate * G[k]
                P += U[k]                                              # in place: net.params changes
            total += E * b.size
        if not np.isfinite(total):
            raise FloatingPointError(f"the loss became {total / B} in epoch {len(history.loss) + 1}; "
                                     f"learning_rate {learning_rate} is probably too large")
        history.loss.append(total / B)
        if validation is not None:
            history.val_accuracy.append(accuracy(net, X_val, labels_val))
    return history


def load_digits_split(test_size: float = DIGITS_SETTINGS["test_size"], seed: int = DIGITS_SETTINGS["seed"]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (shipped with it), scaled to [0, 1], split once, stratified by class.

    Returns (X_train, labels_train, X_test, labels_test) with X_* of shape (64, B_*) (columns are
    examples, pixel values / 16) and labels_* of shape (B_*,); the split is
    ``sklearn.model_selection.train_test_split(..., test_size, random_state=seed, stratify=labels)``.
    """
    from sklearn.datasets import load_digits          # a dependency of the book, not of the package
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_tr, X_te, l_tr, l_te = train_test_split(digits.data / 16.0, digits.target, test_size=test_size,
                                              random_state=seed, stratify=digits.target)
    return X_tr.T.copy(), l_tr, X_te.T.copy(), l_te
