"""backprop.layers.attention: central differences with random upstream gradients, the
softmax Jacobian per row, the causal mask, JAX's forward and backward."""

import jax_reference as jr
import numpy as np
import pytest

from backprop.layers import attention, gradcheck

# (T, S, d, d_v)
CASES = [(1, 1, 1, 1), (4, 4, 3, 2), (5, 5, 8, 8), (3, 6, 4, 5), (6, 2, 2, 3)]


def inputs(T, S, d, d_v, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return (
        scale * rng.standard_normal((T, d)),
        scale * rng.standard_normal((S, d)),
        rng.standard_normal((S, d_v)),
    )


def attention_loops(Q, K, V, causal):
    out = np.zeros((Q.shape[0], V.shape[1]))
    for t in range(Q.shape[0]):
        keys = range(min(t + 1, K.shape[0])) if causal else range(K.shape[0])
        scores = np.array([Q[t] @ K[s] / np.sqrt(Q.shape[1]) for s in keys])
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        out[t] = sum(w * V[s] for w, s in zip(weights, keys))
    return out


@pytest.mark.parametrize("T, S, d, d_v", CASES)
@pytest.mark.parametrize("causal", [False, True])
def test_forward_is_the_definition_and_backward_matches_central_differences(T, S, d, d_v, causal):
    for seed in range(3):
        Q, K, V = inputs(T, S, d, d_v, seed)
        np.testing.assert_allclose(
            attention.forward(Q, K, V, causal=causal)[0],
            attention_loops(Q, K, V, causal),
            rtol=1e-12,
            atol=1e-12,
        )
        report = gradcheck(attention, Q, K, V, causal=causal, seed=seed + 3)
        assert report.ok, str(report)


def test_softmax_backward_is_the_jacobian_of_each_row():
    rng = np.random.default_rng(0)
    Sc, dP = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    P = np.exp(Sc) / np.exp(Sc).sum(axis=1, keepdims=True)
    dSc = attention.row_softmax_backward(P, dP)
    for t in range(4):
        p = P[t][:, None]
        J = np.diag(P[t]) - p @ p.T  # symmetric: J^T dp = J dp
        np.testing.assert_allclose(dSc[t], J @ dP[t], rtol=1e-12, atol=1e-14)


def test_causal_mask_stops_every_gradient_from_the_future():
    Q, K, V = inputs(5, 5, 3, 2)
    out, cache = attention.forward(Q, K, V, causal=True)
    assert np.all(np.triu(cache.P, 1) == 0)
    dout = np.zeros(out.shape)
    dout[1] = np.random.default_rng(1).standard_normal(2)  # only position 1 is looked at
    dQ, dK, dV = attention.backward(dout, cache)
    assert np.all(dK[2:] == 0) and np.all(dV[2:] == 0) and np.all(dQ[[0, 2, 3, 4]] == 0)
    assert np.all(dK[:2] != 0) and np.all(dV[:2] != 0)


def test_large_scores_do_not_overflow():
    Q, K, V = inputs(4, 4, 3, 2, scale=100.0)  # scores of order 1e4
    for causal in (False, True):
        out, cache = attention.forward(Q, K, V, causal=causal)
        grads = attention.backward(np.ones(out.shape), cache)
        assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in grads)


def test_float32_stays_float32():
    Q, K, V = (a.astype(np.float32) for a in inputs(4, 4, 3, 2))
    out, cache = attention.forward(Q, K, V, causal=True)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in attention.backward(np.ones_like(out), cache))


@pytest.mark.parametrize("T, S, d, d_v", CASES)
@pytest.mark.parametrize("causal", [False, True])
def test_matches_jax_forward_and_backward(T, S, d, d_v, causal):
    Q, K, V = inputs(T, S, d, d_v)
    out, cache = attention.forward(Q, K, V, causal=causal)
    G = np.random.default_rng(9).standard_normal(out.shape)
    grads = attention.backward(G, cache)
    ref_out, ref_grads = jr.vjp(jr.attention, (Q, K, V), G, causal=causal)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    for g, r, name in zip(grads, ref_grads, "QKV"):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12, err_msg=f"d{name}")


@pytest.mark.parametrize("T, S, d, d_v", CASES)
@pytest.mark.parametrize("causal", [False, True])
def test_causal_mask_is_that_of_jax_dot_product_attention(T, S, d, d_v, causal):
    """Which keys each query sees (also for T != S) is JAX's ``is_causal``. JAX computes that
    softmax in float32 whatever the inputs, so the values agree to float32's ~1e-7 only; a key
    seen or hidden wrongly changes an output row by O(0.1)."""
    Q, K, V = inputs(T, S, d, d_v)
    out, _ = attention.forward(Q, K, V, causal=causal)
    np.testing.assert_allclose(out, jr.framework_attention(Q, K, V, causal), rtol=1e-5, atol=1e-5)
