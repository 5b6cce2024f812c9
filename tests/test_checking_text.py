"""The checker's printed text does not depend on the CPU, the BLAS kernel or the thread count.

Stored notebook outputs print gradcheck reports and diagnoses (chapters 1-9, 11, 15-17). Their
text must be the same wherever the notebook runs: the same report is computed here under other
OpenBLAS kernels and one thread (in subprocesses), and with every input moved by one ulp, which
changes the last bits of every number the way another machine does. Run as a script, this file
prints the texts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import backprop
from backprop import differential, layers, seed
from backprop.checking import Float32Warning, gradcheck
from backprop.diagnose import check_gradient, diagnose, seed_mistakes
from backprop.layers import attention, batchnorm, conv2d, layernorm, maxpool2d


def _same(a):
    return a


def _one_ulp(a):
    """Every entry moved by one unit in the last place (up or down at random, seeded)."""
    a = np.asarray(a)
    up = np.random.default_rng(7).random(a.shape) < 0.5
    return np.where(up, np.nextafter(a, np.inf), np.nextafter(a, -np.inf)).astype(a.dtype)


def seed_cases(nudge) -> list[str]:
    W, x, y = (nudge(a) for a in seed.example())
    E = lambda W: seed.E(W, x, y)
    G = differential.grad_W(W, x, y)
    out = [str(gradcheck(E, W, G)), str(check_gradient(E, W, G, mistakes=seed_mistakes(W, x, y)))]
    E_big, G_big = (lambda W: 1e4 * seed.E(W, x, y)), 1e4 * G
    one_bad = G_big.copy()
    one_bad[np.unravel_index(np.abs(G_big).argmin(), G.shape)] *= 2
    out += [
        str(gradcheck(E_big, W, one_bad, tol=1e-2)),
        str(gradcheck(E_big, W, 2 * G_big)),
        str(gradcheck(E_big, W, -G_big)),
        str(check_gradient(E_big, W, one_bad, tol=1e-2)),
    ]
    fw = seed.forward(W, x, y)
    delta = (fw.s - fw.s**2) * (fw.s - fw.y)
    typo = delta @ fw.x.T
    typo[2, 1] += 0.01
    M = seed_mistakes(W, x, y)
    for cand in (typo, fw.x @ delta.T, -G, 2 * G, 3 * G, M["missing_activation_derivative"]):
        out.append(str(check_gradient(E, W, cand, mistakes=M)))
    out.append(str(diagnose(differential.grad_W_hadamard(W, x, y), G)))
    return out


def mlp_cases(nudge) -> list[str]:
    rng = np.random.default_rng(0)
    net = backprop.MLP([4, 6, 5, 3], hidden="sigmoid", output="sigmoid", loss="half_squared_error")
    for k in net.params:
        net.params[k] = nudge(rng.standard_normal(net.params[k].shape))
    x0, y = nudge(rng.standard_normal((4, 1))), nudge(rng.uniform(size=(3, 1)))
    loss = lambda p: net.loss(x0, y, params=p)
    grads = net.gradients(x0, y)
    out = [str(gradcheck(loss, net.params, grads, tol=1e-7))]
    out.append(str(gradcheck(loss, net.params, {**grads, "W2": 1.5 * grads["W2"]}, tol=1e-7)))
    net2 = backprop.MLP([4, 6, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=1)
    X = nudge(rng.standard_normal((4, 8)))
    Y = np.eye(3)[:, rng.integers(0, 3, size=8)]
    loss2 = lambda p: net2.loss(X, Y, params=p)
    out.append(str(gradcheck(loss2, net2.params, net2.gradients(X, Y), tol=1e-7)))
    return out


def layer_cases(nudge) -> list[str]:
    rng = np.random.default_rng(0)
    X, gamma, beta = (nudge(rng.standard_normal(s)) for s in ((3, 6), (3, 1), (3, 1)))
    Q, K, V = (nudge(rng.standard_normal(s)) for s in ((5, 4), (6, 4), (6, 3)))
    Xc, Kc, bc = (nudge(rng.standard_normal(s)) for s in ((2, 3, 6, 6), (2, 3, 3, 3), (2,)))
    X_pool = nudge(rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 100.0)

    def no_scale(dout, cache):  # the 1/sqrt(d) of the scores forgotten in dQ
        dQ, dK, dV = attention.backward(dout, cache)
        return 2.0 * dQ, dK, dV

    return [
        str(layers.gradcheck(batchnorm, X, gamma, beta, seed=1)),
        str(layers.gradcheck(layernorm, X, gamma, beta, seed=2)),
        str(layers.gradcheck(attention, Q, K, V, causal=True, seed=2)),
        str(layers.gradcheck(attention, Q, K, V, backward=no_scale, seed=1)),
        str(layers.gradcheck(conv2d, Xc, Kc, bc, stride=2, padding=1, seed=3)),
        str(layers.gradcheck(maxpool2d, X_pool, size=3, stride=2, seed=4)),
    ]


def edge_cases(nudge) -> list[str]:
    rng = np.random.default_rng(0)
    Wr, xr = nudge(rng.standard_normal((3, 4))), nudge(rng.standard_normal((4, 1)))
    t, V2 = nudge(rng.standard_normal((2, 1))), nudge(rng.standard_normal((2, 3)))
    Wr[0, 0] -= ((Wr @ xr)[0, 0] - 3e-7) / xr[0, 0]  # a ReLU kink within h
    E_relu = lambda W: 0.5 * float(np.sum((V2 @ np.maximum(W @ xr, 0) - t) ** 2))
    v = Wr @ xr
    G_relu = ((V2.T @ (V2 @ np.maximum(v, 0) - t)) * (v > 0)) @ xr.T
    _, x, y = (nudge(a) for a in seed.example())
    W_sat = 24.0 * np.sign(rng.standard_normal((5, 1))) @ x.T / float((x.T @ x)[0, 0])
    E_sat = lambda W: seed.E(W, x, y)
    G_sat = differential.grad_W(W_sat, x, y)
    W = nudge(seed.example()[0])
    const = lambda A: float(np.sum(np.cosh(A) ** 2 - np.sinh(A) ** 2))
    E_const = lambda A: seed.E(A, x, y) + 1e12
    out = [
        str(gradcheck(E_relu, Wr, G_relu)),
        str(check_gradient(E_relu, Wr, G_relu)),
        str(check_gradient(E_relu, Wr, -G_relu)),
    ]
    out += [str(gradcheck(E_sat, W_sat, c)) for c in (G_sat, -G_sat, 0 * G_sat)]
    out += [str(check_gradient(E_sat, W_sat, c)) for c in (G_sat, -G_sat, 0 * G_sat)]
    out += [str(check_gradient(const, W, np.zeros_like(W))), str(gradcheck(E_const, W, 0 * W))]
    W32, x32, y32 = (a.astype(np.float32) for a in (W, x, y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Float32Warning)
        G32 = differential.grad_W(W32, x32, y32)
        out.append(str(gradcheck(lambda A: seed.E(A, x32, y32), W32, G32)))
    return out


def texts(nudge=_same) -> list[str]:
    """Every case's printed text (reports, diagnoses)."""
    return seed_cases(nudge) + mlp_cases(nudge) + layer_cases(nudge) + edge_cases(nudge)


SEPARATOR = "\n=====\n"


def test_the_cases_cover_every_verdict_and_reason():
    joined = SEPARATOR.join(texts())
    for word in (
        "  ok",
        "MISMATCH",
        "INCONCLUSIVE",
        "kink",
        "below what central differences resolve",
        "correct:",
        "wrong_sign:",
        "scaled:",
        "wrong:",
        "missing_activation_derivative:",
        "transposed:",
        "inconclusive:",
    ):
        assert word in joined, word


def test_one_ulp_changes_no_printed_text():
    """Every input moved by one ulp: the last bits of every number change, the text does not."""
    for before, after in zip(texts(), texts(_one_ulp)):
        assert before == after


KERNELS = [
    {"OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "1"},
    {"OPENBLAS_CORETYPE": "Sandybridge", "OPENBLAS_NUM_THREADS": "1"},
    {"OPENBLAS_NUM_THREADS": "1"},
]


@pytest.mark.parametrize("env", KERNELS, ids=lambda e: "-".join(e.values()))
def test_other_blas_kernels_and_threads_print_the_same_text(env):
    here = SEPARATOR.join(texts())
    run = subprocess.run(
        [sys.executable, __file__], capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == here + "\n"


if __name__ == "__main__":
    print(SEPARATOR.join(texts()))
