"""A tiny transformer — embeddings, one pre-norm block, an output layer — and a task for it.

Tokens are integers 0..vocab-1 in sequences of T positions, batch-first, tokens (B, T):

    X0 = Emb[tokens] + Pos[:T]          (B, T, d)       Emb (vocab, d), Pos (T_max, d)
    X1 = block(X0; g1, ..., c2)         (B, T, d)       :mod:`~backprop.layers.transformer_block`
    Z  = X1 Wout^T + bout               (B, T, vocab)   Wout (vocab, d), bout (vocab,)
    E  = mean over the B T positions of the cross-entropy of softmax(Z[b, t]) and targets[b, t]

Backward, with N = B T and Y the one-hot targets (B, T, vocab):

    dZ = (softmax(Z) - Y) / N,   dWout = sum_{b,t} dZ^T X1,   dbout = sum_{b,t} dZ,
    dX1 = dZ Wout,   (dX0, dg1, ..., dc2) = block backward of dX1,
    dPos[t] = sum_b dX0[b, t] (0 for t >= T),   dEmb[v] = sum of dX0[b, t] over tokens[b, t] = v.

The embedding lookup Emb[tokens] is a product with one-hot rows, so its gradient adds the rows
of dX0 into the rows of the tokens that were looked up (``np.add.at``: a token seen twice
gets both). :func:`reverse_digits` generates the task of the tests and the chapter: read T
digits, output them in reverse order (every position must look at another one: attention
is needed, hence ``causal=False``). :func:`sgd` trains with the hand-derived gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..activations import log_softmax, softmax
from ..init import weight_std
from ..train import History, _positive_int, check_settings, momentum_step
from . import transformer_block

__all__ = ["TinyTransformer", "BLOCK_PARAMS", "reverse_digits", "sgd"]

#: The names of the block's parameters, in the order of transformer_block.forward.
BLOCK_PARAMS = ("g1", "b1", "Wq", "Wk", "Wv", "Wo", "g2", "b2", "W1", "c1", "W2", "c2")


def reverse_digits(n: int, T: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, targets), both (n, T) int64: n random sequences of T digits 0..9 drawn from
    ``default_rng(seed)``, and the same sequences reversed (targets[:, t] = tokens[:, T-1-t])."""
    n, T = _positive_int(n, "n"), _positive_int(T, "T")
    tokens = np.random.default_rng(seed).integers(0, 10, size=(n, T))
    return tokens, tokens[:, ::-1].copy()


class TinyTransformer:
    """Token and position embeddings, one transformer block, a dense output layer.

    ``params`` (a dict, drawn by :meth:`init`): Emb (vocab, d), Pos (T_max, d); the block's
    g1, b1 (d,), Wq, Wk, Wv, Wo (d, d), g2, b2 (d,), W1 (4d, d), c1 (4d,), W2 (d, 4d), c2 (d,);
    Wout (vocab, d), bout (vocab,). ``heads`` divides d; ``causal`` is the block's mask
    (False for :func:`reverse_digits`, where position t needs position T-1-t).
    """

    def __init__(
        self,
        vocab: int = 10,
        T_max: int = 8,
        d: int = 16,
        heads: int = 2,
        causal: bool = False,
        seed: int = 0,
    ) -> None:
        self.vocab, self.T_max = _positive_int(vocab, "vocab"), _positive_int(T_max, "T_max")
        self.d, self.heads = _positive_int(d, "d"), _positive_int(heads, "heads")
        if d % heads:
            raise ValueError(f"heads must divide d, got d = {d}, heads = {heads}")
        if not isinstance(causal, (bool, np.bool_)):
            raise TypeError(f"causal must be True or False, got {causal!r}")
        self.causal = bool(causal)
        self.params = self.init(seed)

    def init(self, seed: int) -> dict[str, np.ndarray]:
        """Parameters drawn from ``default_rng(seed)``: embeddings N(0, 1/d); every weight
        matrix (n_out, n_in) with LeCun's variance 1/n_in; gains 1, biases 0."""
        rng = np.random.default_rng(seed)
        d, V = self.d, self.vocab

        def W(n_out, n_in):
            return rng.standard_normal((n_out, n_in)) * weight_std("lecun", n_in, n_out)

        return {
            "Emb": rng.standard_normal((V, d)) / np.sqrt(d),
            "Pos": rng.standard_normal((self.T_max, d)) / np.sqrt(d),
            "g1": np.ones(d),
            "b1": np.zeros(d),
            "Wq": W(d, d),
            "Wk": W(d, d),
            "Wv": W(d, d),
            "Wo": W(d, d),
            "g2": np.ones(d),
            "b2": np.zeros(d),
            "W1": W(4 * d, d),
            "c1": np.zeros(4 * d),
            "W2": W(d, 4 * d),
            "c2": np.zeros(d),
            "Wout": W(V, d),
            "bout": np.zeros(V),
        }

    def _tokens(self, tokens, name: str = "tokens") -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.dtype.kind not in "iu" or arr.ndim != 2 or arr.size == 0:
            raise TypeError(
                f"{name} must be a non-empty 2-D integer array (B, T), got "
                f"dtype {arr.dtype} and shape {arr.shape}"
            )
        if arr.shape[1] > self.T_max:
            raise ValueError(
                f"{name} has T = {arr.shape[1]} positions but the model has "
                f"position embeddings for T_max = {self.T_max}"
            )
        if arr.min() < 0 or arr.max() >= self.vocab:
            raise ValueError(
                f"{name} must lie in 0..{self.vocab - 1}, got values from {arr.min()} to {arr.max()}"
            )
        return arr

    def forward(self, tokens, params: dict | None = None) -> tuple[np.ndarray, tuple]:
        """Logits Z (B, T, vocab) of tokens (B, T), and what backward needs."""
        p = self.params if params is None else params
        tokens = self._tokens(tokens)
        X0 = p["Emb"][tokens] + p["Pos"][: tokens.shape[1]]  # (B, T, d)
        X1, block_cache = transformer_block.forward(
            X0, *(p[k] for k in BLOCK_PARAMS), heads=self.heads, causal=self.causal
        )
        return X1 @ p["Wout"].T + p["bout"], (tokens, X1, block_cache)

    def loss(self, tokens, targets, params: dict | None = None) -> float:
        """Mean cross-entropy over the B T positions; targets (B, T) integers 0..vocab-1."""
        Z, (tokens, _, _) = self.forward(tokens, params)
        return self._loss_and_dZ(Z, targets)[0]

    def _loss_and_dZ(self, Z: np.ndarray, targets) -> tuple[float, np.ndarray]:
        targets = self._tokens(targets, "targets")
        if targets.shape != Z.shape[:2]:
            raise ValueError(f"targets has shape {targets.shape} but tokens has shape {Z.shape[:2]}")
        cols = Z.reshape(-1, self.vocab).T  # (vocab, N): columns again
        rows, N = targets.ravel(), cols.shape[1]
        E = float(-np.mean(log_softmax(cols)[rows, np.arange(N)]))
        dZ = softmax(cols)
        dZ[rows, np.arange(N)] -= 1.0
        return E, (dZ / N).T.reshape(Z.shape)

    def loss_and_gradients(self, tokens, targets) -> tuple[float, dict[str, np.ndarray]]:
        """(E, gradients): the loss and a dict with one gradient per parameter, of its shape."""
        p = self.params
        Z, (tokens, X1, block_cache) = self.forward(tokens)
        E, dZ = self._loss_and_dZ(Z, targets)
        grads = {"Wout": np.tensordot(dZ, X1, axes=((0, 1), (0, 1))), "bout": dZ.sum(axis=(0, 1))}
        dX0, *dblock = transformer_block.backward(dZ @ p["Wout"], block_cache)
        grads.update(zip(BLOCK_PARAMS, dblock))
        grads["Pos"] = np.zeros_like(p["Pos"])
        grads["Pos"][: tokens.shape[1]] = dX0.sum(axis=0)
        grads["Emb"] = np.zeros_like(p["Emb"])
        np.add.at(grads["Emb"], tokens, dX0)  # rows of repeated tokens add up
        return E, {k: grads[k] for k in p}

    def predict(self, tokens) -> np.ndarray:
        """The most probable token at every position, (B, T)."""
        return self.forward(tokens)[0].argmax(axis=-1)

    def accuracy(self, tokens, targets) -> float:
        """Fraction of the B T positions where the prediction equals the target."""
        return float(np.mean(self.predict(tokens) == self._tokens(targets, "targets")))


def sgd(
    net: TinyTransformer,
    tokens,
    targets,
    *,
    learning_rate: float,
    batch_size: int,
    steps: int,
    momentum: float = 0.9,
    seed: int = 0,
    callback: Callable[[int, np.ndarray, np.ndarray, float, dict], None] | None = None,
) -> History:
    """Train ``net`` in place for ``steps`` minibatch steps of SGD with momentum (the update is
    :func:`backprop.train.momentum_step`, as in every loop of the package).

    tokens, targets (n, T); each step draws ``batch_size`` sequences without replacement from
    ``default_rng(seed)``. ``callback(step, tokens_b, targets_b, E, grads)`` (if given) is
    called at every step before the update, with the minibatch (B, T), its loss and the
    gradients: ``net.params`` are then still those the gradients were computed at (e.g. to
    check them against another autodiff).
    Returns a History whose ``loss`` holds every step's minibatch loss.
    """
    tokens, targets = net._tokens(tokens), net._tokens(targets, "targets")
    if tokens.shape != targets.shape:
        raise ValueError(f"tokens has shape {tokens.shape} but targets has shape {targets.shape}")
    batch_size, steps = _positive_int(batch_size, "batch_size"), _positive_int(steps, "steps")
    check_settings(learning_rate, momentum)
    rng = np.random.default_rng(seed)
    U = {k: np.zeros_like(P) for k, P in net.params.items()}
    history = History()
    for step in range(steps):
        idx = rng.choice(tokens.shape[0], size=min(batch_size, tokens.shape[0]), replace=False)
        E, G = net.loss_and_gradients(tokens[idx], targets[idx])
        if callback is not None:
            callback(step, tokens[idx], targets[idx], E, G)
        momentum_step(net.params, G, U, learning_rate, momentum)
        history.loss.append(E)
    return history
