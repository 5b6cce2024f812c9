"""Section 1's contenders: every way to get G = dE/dW for the seed example, and the parts of one."""

from __future__ import annotations

import numpy as np
from machine_info import anp, autograd, torch

from backprop import differential, jacobian, seed, subscript
from backprop._checks import as_float_array
from backprop.activations import sigmoid

HADAMARD, DIAG = "differential.grad_W_hadamard", "differential.grad_W (Diag form)"
BARE, TORCH = "differential formula, inline numpy, no checks", "PyTorch CPU autograd"
FORWARD = "seed.forward (checks + forward + E)"
CHECKS = "input checks alone (as_float_array of W, x, y)"
UNCHECKED = "grad_W_hadamard's operations without input checks"


def bare_differential(W, x, y):
    """The differential formula G = ((s - s*s) * (s - y)) x^T as inline numpy, with no input checks."""
    s = 1.0 / (1.0 + np.exp(-(W @ x)))
    return ((s - s * s) * (s - y)) @ x.T


def contenders() -> tuple[dict, list]:
    """Every way to get G for the question's example, and the optional ones that are missing."""
    W, x, y = seed.example()
    c = {
        "subscript.grad_W (loops)": lambda: subscript.grad_W(W, x, y),
        "subscript.grad_W_einsum": lambda: subscript.grad_W_einsum(W, x, y),
        "jacobian.grad_W (3-D dv/dW)": lambda: jacobian.grad_W(W, x, y),
        "jacobian.grad_W_vec (Kronecker)": lambda: jacobian.grad_W_vec(W, x, y),
        DIAG: lambda: differential.grad_W(W, x, y),
        HADAMARD: lambda: differential.grad_W_hadamard(W, x, y),
        BARE: lambda: bare_differential(W, x, y),
    }
    skipped = []
    if torch is not None:
        Wt = torch.tensor(W, requires_grad=True)
        xt, yt = torch.tensor(x), torch.tensor(y)

        def torch_grad():
            E = 0.5 * ((torch.sigmoid(Wt @ xt) - yt) ** 2).sum()
            return torch.autograd.grad(E, Wt)[0]

        c[TORCH] = torch_grad
    else:
        skipped.append("PyTorch (not installed)")
    if autograd is not None:

        def E_hips(W_):
            r = 1.0 / (1.0 + anp.exp(-anp.dot(W_, x))) - y
            return 0.5 * anp.sum(r * r)

        hips = autograd.grad(E_hips)
        c["HIPS autograd"] = lambda: hips(W)
    else:
        skipped.append("HIPS autograd (not installed)")
    return c, skipped


def breakdown_contenders(W, x, y) -> dict:
    """Where grad_W_hadamard's time goes: its input checks, its sigmoid, its operations without checks."""
    v = W @ x

    def unchecked():
        s = sigmoid(W @ x)
        return ((s - s * s) * (s - y)) @ x.T

    return {
        HADAMARD: lambda: differential.grad_W_hadamard(W, x, y),
        BARE: lambda: bare_differential(W, x, y),
        FORWARD: lambda: seed.forward(W, x, y),
        CHECKS: lambda: (
            as_float_array(W, "W", ndim=2),
            as_float_array(x, "x", ndim=(1, 2)),
            as_float_array(y, "y", ndim=(1, 2)),
        ),
        UNCHECKED: unchecked,
        "backprop.activations.sigmoid(v) (overflow-free)": lambda: sigmoid(v),
        "1 / (1 + exp(-v)) (the bare formula's sigmoid)": lambda: 1.0 / (1.0 + np.exp(-v)),
    }
