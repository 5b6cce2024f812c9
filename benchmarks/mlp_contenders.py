"""The contenders of section 3: backprop.MLP, its matmuls alone, its operations inline, PyTorch.

Network ``sizes`` with two hidden ReLU layers, softmax output, cross-entropy; X (n0, B).
"""

from __future__ import annotations

import numpy as np
from machine_info import torch

import backprop
from backprop.losses import cross_entropy_from_logits


def flops(sizes, B) -> tuple[int, int]:
    """Exact multiply-add FLOPs (2 per multiply-add) of the matmuls: forward, backward.

    Forward: V_l = W_l X_{l-1} for every layer. Backward: dE/dW_l = Delta_l X_{l-1}^T for every layer,
    W_l^T Delta_l for l >= 2 only (no gradient with respect to the input X).
    """
    layer = [sizes[l] * sizes[l - 1] for l in range(1, len(sizes))]
    return 2 * B * sum(layer), 2 * B * (sum(layer) + sum(layer[1:]))


def network(sizes, B: int, dtype, rng) -> tuple:
    """(net, X, labels, Y): the package's network with small random biases, and one batch."""
    net = backprop.MLP(sizes, hidden="relu", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
    for k in net.params:
        if k.startswith("b"):
            net.params[k] = (0.1 * rng.standard_normal(net.params[k].shape)).astype(dtype)
    X = rng.standard_normal((sizes[0], B)).astype(dtype)
    labels = rng.integers(0, sizes[-1], size=B)
    return net, X, labels, np.eye(sizes[-1], dtype=dtype)[:, labels]


def numpy_contenders(net, X, Y) -> dict:
    """The package, its matmuls alone (forward; forward+backward) and its operations inline."""
    p, B = net.params, X.shape[1]
    W1, W2, W3, b1, b2, b3 = (p[k] for k in ("W1", "W2", "W3", "b1", "b2", "b3"))
    xs, vs = net.forward(X)
    X1, X2 = xs[1], xs[2]
    D3 = (xs[3] - Y) / B
    D2 = (W3.T @ D3) * (vs[1] > 0)
    D1 = (W2.T @ D2) * (vs[0] > 0)

    def mm_forward():
        W1 @ X
        W2 @ X1
        W3 @ X2

    def mm_both():
        mm_forward()
        D3 @ X2.T
        W3.T @ D3
        D2 @ X1.T
        W2.T @ D2
        D1 @ X.T

    inline_fb = inline(W1, W2, W3, b1, b2, b3, X, Y)

    return {
        "backprop.MLP forward": lambda: net.forward(X),
        "backprop.MLP forward+backward": lambda: net.loss_and_gradients(X, Y),
        "matmuls alone, forward": mm_forward,
        "matmuls alone, forward+backward": mm_both,
        "same operations inline, no checks, forward+backward": inline_fb,
    }


#: The elementwise passes that :func:`inline` can leave out, to price each one in context.
PASSES = {
    "bias": "the bias adds",
    "relu": "the ReLUs",
    "softmax": "the softmax and the loss",
    "bsum": "the bias gradients (row sums)",
    "mask": "the ReLU masks in the backward pass",
}


def inline(W1, W2, W3, b1, b2, b3, X, Y, skip: frozenset = frozenset()):
    """The package's operations written inline (no input checks, no dicts, no layer loop), forward
    and backward, optionally without the passes named in ``skip`` (keys of PASSES)."""
    B = X.shape[1]

    def fb():
        V1 = W1 @ X
        if "bias" not in skip:
            V1 += b1
        H1 = V1 if "relu" in skip else np.maximum(V1, 0)
        V2 = W2 @ H1
        if "bias" not in skip:
            V2 += b2
        H2 = V2 if "relu" in skip else np.maximum(V2, 0)
        V3 = W3 @ H2
        if "bias" not in skip:
            V3 += b3
        S = V3
        if "softmax" not in skip:
            S = backprop.softmax(V3)
            cross_entropy_from_logits(V3, Y, "softmax")
        D = S - Y
        D /= B
        sums = "bsum" not in skip
        D @ H2.T, sums and D.sum(axis=1, keepdims=True)
        G = W3.T @ D
        if "mask" not in skip:
            G *= V2 > 0
        G @ H1.T, sums and G.sum(axis=1, keepdims=True)
        G1 = W2.T @ G
        if "mask" not in skip:
            G1 *= V1 > 0
        G1 @ X.T, sums and G1.sum(axis=1, keepdims=True)

    return fb


def torch_mlp(params: dict, X: np.ndarray, labels: np.ndarray, dtype):
    """PyTorch's own idiom for the network: rows are examples, F.linear (x W^T + b) and the fused
    F.cross_entropy; the same parameters and data as backprop.MLP. Returns (forward, fwd+bwd);
    fwd+bwd returns (E, grads in the order of params)."""
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tp = {
        k: torch.tensor(v.reshape(-1) if k.startswith("b") else v, dtype=tdt, requires_grad=True)
        for k, v in params.items()
    }
    tX = torch.tensor(np.ascontiguousarray(X.T), dtype=tdt)  # (B, n0)
    tlab = torch.tensor(labels)
    F = torch.nn.functional

    def logits():
        H = torch.relu(F.linear(tX, tp["W1"], tp["b1"]))
        H = torch.relu(F.linear(H, tp["W2"], tp["b2"]))
        return F.linear(H, tp["W3"], tp["b3"])

    def t_forward():
        with torch.no_grad():
            return torch.softmax(logits(), dim=1)

    def t_fb():
        E = F.cross_entropy(logits(), tlab)
        return E, torch.autograd.grad(E, list(tp.values()))

    return t_forward, t_fb


def torch_contenders(sizes, B: int, dtype, N: int) -> dict:
    """(child process) PyTorch forward+backward of the network, and its own N x N matmul."""
    rng = np.random.default_rng(0)
    net, X, labels, _ = network(sizes, B, dtype, rng)
    _, t_fb = torch_mlp(net.params, X, labels, dtype)
    A = torch.tensor(
        rng.standard_normal((N, N)), dtype=torch.float32 if dtype == np.float32 else torch.float64
    )
    return {"PyTorch forward+backward": t_fb, f"torch.matmul {N}x{N}": lambda: A @ A}
