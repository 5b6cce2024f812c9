"""Training by minibatch stochastic gradient descent (with momentum): one loop for every model.

Columns are examples for the MLP: X has shape (n0, B), targets Y shape (nL, B), class labels
shape (B,) (rows, X (B, n0) and Y (B, nL), for ``MLP(layout="batch_first")``). One step on a
minibatch (X_b, T_b) with learning rate eta and momentum mu, for every parameter P:

    E, G = model.loss_and_gradients(X_b, T_b)    # G = dE/dP, the shape of P
    U <- mu U - eta G                            # velocity, starts at 0 (mu = 0: plain SGD)
    P <- P + U                                   # in place, in model.params

An epoch visits the training examples once, in an order drawn from ``numpy.random.default_rng(seed)``.
:func:`momentum_sgd` is that loop for any model with ``params``, ``loss_and_gradients``,
``examples`` (the training data checked once, in the model's layout) and ``batch`` (the examples
of a minibatch in that layout): :class:`~backprop.MLP` and :class:`~backprop.layers.cnn.SmallCNN`;
:func:`sgd` runs it on an MLP. This module needs numpy only; :func:`load_digits_split` imports
scikit-learn when it is called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from numbers import Real

import numpy as np

from ._checks import as_labels, as_pair, as_positive_int
from .mlp import MLP

__all__ = [
    "DIGITS_SETTINGS",
    "History",
    "one_hot",
    "accuracy",
    "sgd",
    "momentum_sgd",
    "momentum_step",
    "load_digits_split",
]

#: Settings of the digits chapter (book/10_training_digits.ipynb), reused by benchmarks/run.py.
#: ``seed`` seeds the weights, the shuffling and the stratified split; ``test_size`` is the held-out
#: fraction of scikit-learn's 1797 digits (450 test, 1347 training examples).
DIGITS_SETTINGS: dict = dict(
    sizes=[64, 128, 10],
    hidden="relu",
    learning_rate=0.1,
    momentum=0.9,
    batch_size=16,
    epochs=20,
    seed=0,
    test_size=0.25,
)


#: Kept for modules that still import it from here (layers/tiny_transformer.py, issue 26, in flight);
#: the check itself is backprop._checks.as_positive_int.
_positive_int = as_positive_int


@dataclass
class History:
    """What :func:`momentum_sgd` records once per epoch.

    ``loss``: mean of the minibatch losses of the epoch, weighted by batch size (as scikit-learn's
    ``loss_curve_``); ``val_accuracy``: held-out accuracy after the epoch (empty without validation data).
    """

    loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def one_hot(labels, k: int) -> np.ndarray:
    """Targets Y of shape (k, B) with Y[c, b] = 1 if labels[b] == c, else 0 (float64).

    ``labels``: integers 0..k-1, shape (B,). ``Y.argmax(axis=0)`` gives the labels back.
    """
    k = as_positive_int(k, "k (the number of classes)")
    labels = as_labels(labels, k)
    Y = np.zeros((k, labels.size))
    Y[labels, np.arange(labels.size)] = 1.0
    return Y


def accuracy(net: MLP, X, labels) -> float:
    """Fraction of the examples of X whose largest output is at the true label; labels (B,).

    X (n0, B), columns are examples (or (B, n0) in layout 'batch_first')."""
    X, labels = _inputs_and_labels(net, X, labels)
    return float(np.mean(net.predict(X).argmax(axis=1 - net.batch_axis) == labels))


def _inputs_and_labels(net: MLP, X, labels, names: tuple[str, str] = ("X", "labels")):
    """(X, labels) checked: X in the net's layout, labels 0..nL-1 with one entry per example of X."""
    X = net.inputs(X)
    labels = as_labels(labels, net.sizes[-1], names[1])
    B = X.shape[net.batch_axis]
    if labels.size != B:
        unit = "columns" if net.batch_axis == 1 else "rows"
        raise ValueError(f"{names[0]} has {B} {unit} (examples) but {names[1]} has {labels.size} entries")
    return X, labels


def sgd(
    net: MLP,
    X,
    Y,
    *,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    momentum: float = 0.0,
    seed: int = 0,
    validation: tuple | None = None,
) -> History:
    """Train the MLP ``net`` in place by :func:`momentum_sgd`; return its :class:`History`.

    X (n0, B) inputs, Y (nL, B) targets (e.g. ``one_hot(labels, nL)``), columns are examples (rows,
    X (B, n0) and Y (B, nL), in layout 'batch_first'). ``validation=(X_val, labels_val)`` with X_val
    in the same layout and labels_val (B_val,) records the held-out accuracy after every epoch.
    """
    score = None
    if validation is not None:
        X_val, labels_val = _inputs_and_labels(
            net, *as_pair(validation, "validation", "(X_val, labels_val)"), names=("X_val", "labels_val")
        )

        def score() -> float:
            return accuracy(net, X_val, labels_val)

    return momentum_sgd(
        net,
        X,
        Y,
        learning_rate=learning_rate,
        batch_size=batch_size,
        epochs=epochs,
        momentum=momentum,
        seed=seed,
        score=score,
    )


def momentum_sgd(
    model,
    X,
    T,
    *,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    momentum: float = 0.0,
    seed: int = 0,
    score: Callable[[], float] | None = None,
) -> History:
    """Train ``model`` in place by minibatch SGD with (heavy-ball) momentum; return its :class:`History`.

    ``model`` has ``params`` (a dict of arrays, updated in place), ``loss_and_gradients(X_b, T_b)``,
    ``examples(X, T) -> (X, T, B)`` and ``batch(X, T, index) -> (X_b, T_b)``. X and T are the
    training inputs and targets in the model's layout. Each epoch shuffles the B examples with
    ``numpy.random.default_rng(seed)`` and steps through minibatches of ``batch_size`` examples (the
    last one may be smaller); ``score()``, if given, is recorded after every epoch as ``val_accuracy``.
    Raises ``FloatingPointError`` when the loss of an epoch is not finite.
    """
    X, T, B = model.examples(X, T)
    check_settings(learning_rate, momentum)
    batch_size, epochs = as_positive_int(batch_size, "batch_size"), as_positive_int(epochs, "epochs")
    rng = np.random.default_rng(seed)
    U = {k: np.zeros_like(P) for k, P in model.params.items()}  # velocities, shapes of the params
    history = History()
    for _ in range(epochs):
        order = rng.permutation(B)
        total = 0.0
        for start in range(0, B, batch_size):
            b = order[start : start + batch_size]
            E, G = model.loss_and_gradients(*model.batch(X, T, b))
            momentum_step(model.params, G, U, learning_rate, momentum)
            total += E * b.size
        if not np.isfinite(total):
            raise FloatingPointError(
                f"the loss became {total / B} in epoch {len(history.loss) + 1}; "
                f"learning_rate {learning_rate} is probably too large"
            )
        history.loss.append(total / B)
        if score is not None:
            history.val_accuracy.append(score())
    return history


def momentum_step(
    params: dict[str, np.ndarray],
    G: dict[str, np.ndarray],
    U: dict[str, np.ndarray],
    learning_rate: float,
    momentum: float,
) -> None:
    """One step for every parameter P, in place: U <- momentum U - learning_rate G, P <- P + U.

    ``G[k]`` and the velocity ``U[k]`` have the shape of ``params[k]``; both dicts have its keys.
    """
    for k, P in params.items():
        U[k] *= momentum
        U[k] -= learning_rate * G[k]
        P += U[k]  # in place: the model's params change


def check_settings(learning_rate, momentum) -> None:
    """ValueError unless learning_rate is a finite number > 0 and momentum a number in [0, 1)."""
    if not (isinstance(learning_rate, Real) and np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
    if not (isinstance(momentum, Real) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")


def load_digits_split(
    test_size: float = DIGITS_SETTINGS["test_size"], seed: int = DIGITS_SETTINGS["seed"]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (shipped with it), scaled to [0, 1], split once, stratified by class.

    Returns (X_train, labels_train, X_test, labels_test) with X_* of shape (64, B_*) (columns are
    examples, pixel values / 16) and labels_* of shape (B_*,); the split is
    ``sklearn.model_selection.train_test_split(..., test_size, random_state=seed, stratify=labels)``.
    """
    from sklearn.datasets import load_digits  # a dependency of the book, not of the package
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X_tr, X_te, l_tr, l_te = train_test_split(
        digits.data / 16.0, digits.target, test_size=test_size, random_state=seed, stratify=digits.target
    )
    return X_tr.T.copy(), l_tr, X_te.T.copy(), l_te
