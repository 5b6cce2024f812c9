"""A small convolutional network for the 8x8 digits, built from these layers.

Images are batch-first, X (B, 1, 8, 8); the dense layer at the end works on columns as
everywhere else in the package, so the pooled maps are flattened into columns:

    A = conv2d(X; K, b, padding 1)   (B, F, 8, 8),   R = relu(A),
    M = maxpool2d(R, 2, 2)           (B, F, 4, 4),   Z = M.reshape(B, 16 F).T   (16 F, B),
    V = W Z + c                      (10, B),        E = mean cross-entropy of softmax(V).

Backward runs the same chain in reverse: dV = (softmax(V) - Y) / B, dW = dV Z^T,
dc = dV 1, dZ = W^T dV, dM = dZ.T reshaped, then maxpool2d, relu and conv2d backward.
"""

from __future__ import annotations

import numpy as np

from .._checks import as_labels, as_pair, as_positive_int
from ..activations import log_softmax, relu_prime, softmax
from ..train import History, momentum_sgd
from . import conv2d, maxpool2d
from ._validate import as_array

__all__ = ["SmallCNN", "CNN_DIGITS_SETTINGS", "as_images", "sgd"]

#: Settings of the convolution chapter (book/16_convolution.ipynb), reused by the benchmark.
CNN_DIGITS_SETTINGS: dict = dict(
    filters=16, learning_rate=0.05, momentum=0.9, batch_size=32, epochs=15, seed=0, test_size=0.25
)


def as_images(X_columns) -> np.ndarray:
    """(64, B) columns of 8x8 pixels (as ``load_digits_split`` returns) -> (B, 1, 8, 8)."""
    X = as_array(X_columns, "X_columns", 2, "(64, B): one flattened 8x8 image per column")
    if X.shape[0] != 64:
        raise ValueError(f"X_columns has shape {X.shape}; each column must hold 64 = 8x8 pixels")
    return np.ascontiguousarray(X.T.reshape(-1, 1, 8, 8))


class SmallCNN:
    """conv 3x3 (``filters`` kernels, padding 1) -> ReLU -> max-pool 2x2 -> dense -> softmax.

    ``params``: K (F, 1, 3, 3) and W (10, 16 F) drawn from ``default_rng(seed)`` with
    variances 2/9 and 1/(16 F); b (F,) and c (10, 1) start at zero.
    """

    def __init__(self, filters: int = 8, classes: int = 10, seed: int = 0) -> None:
        F = as_positive_int(filters, "filters")
        self.classes = as_positive_int(classes, "classes")
        rng = np.random.default_rng(seed)
        self.params = {
            "K": rng.standard_normal((F, 1, 3, 3)) * np.sqrt(2 / 9),
            "b": np.zeros(F),
            "W": rng.standard_normal((classes, 16 * F)) / np.sqrt(16 * F),
            "c": np.zeros((classes, 1)),
        }

    def forward(self, X, params: dict | None = None) -> tuple[np.ndarray, tuple]:
        """Logits V (10, B) of images X (B, 1, 8, 8), and the caches for backward."""
        p = self.params if params is None else params
        X = _images(X)
        A, conv_cache = conv2d.forward(X, p["K"], p["b"], padding=1)
        M, pool_cache = maxpool2d.forward(np.maximum(A, 0), 2, 2)
        Z = M.reshape(M.shape[0], -1).T  # (16 F, B): columns again
        return p["W"] @ Z + p["c"], (A, conv_cache, M.shape, pool_cache, Z)

    def loss(self, X, labels, params: dict | None = None) -> float:
        """Mean cross-entropy of softmax(V) against the integer labels (B,)."""
        V, _ = self.forward(X, params)
        labels = as_labels(labels, self.classes)
        return float(-np.mean(log_softmax(V)[labels, np.arange(V.shape[1])]))

    def loss_and_gradients(self, X, labels) -> tuple[float, dict]:
        """(E, {K, b, W, c}): the loss and its gradients, each of its parameter's shape."""
        V, (A, conv_cache, M_shape, pool_cache, Z) = self.forward(X)
        labels = as_labels(labels, self.classes)
        if labels.size != V.shape[1]:
            raise ValueError(f"X holds {V.shape[1]} images but labels has {labels.size} entries")
        B = V.shape[1]
        E = float(-np.mean(log_softmax(V)[labels, np.arange(B)]))
        dV = softmax(V)
        dV[labels, np.arange(B)] -= 1.0
        dV /= B
        dZ = self.params["W"].T @ dV
        (dR,) = maxpool2d.backward(dZ.T.reshape(M_shape), pool_cache)
        _, dK, db = conv2d.backward(dR * relu_prime(A), conv_cache)
        return E, {"K": dK, "b": db, "W": dV @ Z.T, "c": dV.sum(axis=1, keepdims=True)}

    def predict(self, X) -> np.ndarray:
        """The most probable class of each image, shape (B,)."""
        return self.forward(X)[0].argmax(axis=0)

    def accuracy(self, X, labels) -> float:
        """Fraction of the images X (B, 1, 8, 8) classified as their labels (B,)."""
        return float(np.mean(self.predict(X) == as_labels(labels, self.classes)))

    # -- data for backprop.train.momentum_sgd: batch-first images and their labels -------------
    def examples(self, X, labels) -> tuple[np.ndarray, np.ndarray, int]:
        """(X, labels, B): images X (B, 1, 8, 8) and labels (B,) checked once for training."""
        X, labels = _images(X), as_labels(labels, self.classes)
        if labels.size != X.shape[0]:
            raise ValueError(f"X holds {X.shape[0]} images but labels has {labels.size} entries")
        return X, labels, X.shape[0]

    def batch(self, X, labels, index) -> tuple[np.ndarray, np.ndarray]:
        """The images X[index] and their labels[index] (``index``: integers)."""
        return X[index], labels[index]


def _images(X) -> np.ndarray:
    """X as a float array of batch-first 8x8 images (B, 1, 8, 8), or raise."""
    X = as_array(X, "X", 4, "(B, 1, 8, 8): batch-first images")
    if X.shape[1:] != (1, 8, 8):
        raise ValueError(f"X has shape {X.shape} but must be (B, 1, 8, 8)")
    return X


def sgd(
    net: SmallCNN,
    X,
    labels,
    *,
    learning_rate: float,
    batch_size: int,
    epochs: int,
    momentum: float = 0.0,
    seed: int = 0,
    validation: tuple | None = None,
) -> History:
    """Train ``net`` in place on images X (B, 1, 8, 8) and labels (B,) by backprop.train.momentum_sgd
    (the loop, guards and seeding of backprop.train.sgd); ``validation=(X_val, labels_val)`` records
    the held-out accuracy after every epoch."""
    score = None
    if validation is not None:
        X_val, labels_val, _ = net.examples(*as_pair(validation, "validation", "(X_val, labels_val)"))

        def score() -> float:
            return net.accuracy(X_val, labels_val)

    return momentum_sgd(
        net,
        X,
        labels,
        learning_rate=learning_rate,
        batch_size=batch_size,
        epochs=epochs,
        momentum=momentum,
        seed=seed,
        score=score,
    )
