"""Checkpointed backward for :class:`backprop.MLP`: keep every k-th activation, recompute the rest.

The plain backward pass keeps x_0 ... x_L and v_1 ... v_L (2L + 1 arrays of shape (n, B)).
Here the forward pass keeps only the checkpoints x_0, x_k, x_2k, ... (about L/k arrays).
The backward pass then visits the segments (a, b] = (jk, (j+1)k] from the last to the first:
it recomputes x_{a+1..b}, v_{a+1..b} from the checkpoint x_a (at most 2k arrays), runs the usual
rules of :mod:`backprop.mlp` through the segment,

    Delta_l = f'(v_l) o g_l,   dE/dW_l = Delta_l x_{l-1}^T,   dE/db_l = Delta_l 1,
    g_{l-1} = W_l^T Delta_l   (the gradient with respect to x_{l-1}, handed to the segment below),

and frees the segment. Peak memory ~ (L/k + 2k) arrays, smallest at k = sqrt(L/2); the price is a
second forward pass. The numbers are those of ``MLP.loss_and_gradients``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .mlp import MLP

__all__ = ["segments", "checkpointed_loss_and_gradients"]


def segments(L: int, k: int) -> list[tuple[int, int]]:
    """The segments (a, b] of layers 1..L between checkpoints every k layers: [(0, k), (k, 2k), ...]."""
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
        raise ValueError(f"k (layers per segment) must be a positive integer, got {k!r}")
    return [(a, min(a + k, L)) for a in range(0, L, k)]


def _layer(net: MLP, p: Mapping[str, np.ndarray], l: int, x: np.ndarray):
    """v_l = W_l x_{l-1} + b_l and x_l = f_l(v_l)."""
    V = p[f"W{l}"] @ x
    if net.bias:
        V = V + p[f"b{l}"]
    return V, (net.output if l == net.L else net.hidden).f(V)


def checkpointed_loss_and_gradients(
    net: MLP, X, Y, k: int, params: Mapping[str, np.ndarray] | None = None
) -> tuple[float, dict[str, np.ndarray]]:
    """(E, grads) of ``net.loss_and_gradients(X, Y)``, storing only every k-th activation.

    X (n0, B), Y (nL, B), columns are examples; k >= 1 layers per segment (k >= L: one segment,
    which is the plain backward pass plus one extra forward).
    """
    if getattr(net, "layout", "column") != "column":
        raise ValueError(f"checkpointed backward is written for layout='column', got {net.layout!r}")
    p = net.checked_params(params)
    parts = segments(net.L, k)
    x, Y, _ = net.examples(X, Y)
    checkpoints = {0: x}
    for l in range(1, net.L + 1):  # forward: keep x_a of every segment start
        V, x = _layer(net, p, l, x)
        if l % k == 0 and l < net.L:
            checkpoints[l] = x
    E = net.output_loss(V, x, Y)
    del V, x
    grads: dict[str, np.ndarray] = {}
    g = None  # dE/dx_b for the segment's top b
    for a, b in reversed(parts):
        xs, vs = [checkpoints.pop(a)], []
        for l in range(a + 1, b + 1):  # recompute the segment
            V, x = _layer(net, p, l, xs[-1])
            vs.append(V)
            xs.append(x)
        del V, x
        for l in range(b, a, -1):
            v_l, x_l = vs[l - a - 1], xs[l - a]
            if l == net.L:
                Delta = net.output_delta(v_l, x_l, Y)
            else:
                Delta = net.hidden.vjp(v_l, x_l, g)
            grads[f"W{l}"] = Delta @ xs[l - a - 1].T
            if net.bias:
                grads[f"b{l}"] = Delta.sum(axis=1, keepdims=True)
            g = p[f"W{l}"].T @ Delta if l > 1 else None
            del v_l, x_l, Delta
            vs.pop(), xs.pop()  # x_l, v_l are no longer needed
        del xs, vs
    return E, {key: grads[key] for key in net.params}
