"""backprop.layers.transformer_block: central differences with random upstream gradients
(B = 1, T = 1, heads = d, causal or not), JAX's autodiff of the pre-norm block written from
its definition, the block as its two residual lines, and the identity paths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_layers_multihead_attention import jax_vjp, mha_jax

from backprop.layers import feedforward, gradcheck, layernorm_rows, multihead_attention
from backprop.layers import transformer_block as block

jax.config.update("jax_enable_x64", True)

NAMES = ("X", "g1", "b1", "Wq", "Wk", "Wv", "Wo", "g2", "b2", "W1", "c1", "W2", "c2")
# (B, T, d, heads, causal)
CASES = [
    (1, 1, 2, 1, True),
    (1, 1, 4, 4, True),
    (1, 4, 4, 2, True),
    (2, 3, 4, 4, True),
    (2, 5, 8, 2, True),
    (3, 4, 6, 3, False),
    (2, 3, 4, 1, False),
]
IDS = [f"B{B}-T{T}-d{d}-h{h}-{'causal' if c else 'full'}" for B, T, d, h, c in CASES]


def inputs(B, T, d, seed=0):
    """X (B, T, d) and the 12 parameters, gains and biases away from 1 and 0."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, d))
    near = lambda c, n: c + 0.3 * rng.standard_normal(n)
    W = lambda m, n: rng.standard_normal((m, n)) / np.sqrt(n)
    params = (
        near(1, d),
        near(0, d),
        W(d, d),
        W(d, d),
        W(d, d),
        W(d, d),
        near(1, d),
        near(0, d),
        W(4 * d, d),
        near(0, 4 * d),
        W(d, 4 * d),
        near(0, d),
    )
    return X, params, rng


def layer_norm_jax(X, g, b, eps=1e-5):
    mu = jnp.mean(X, axis=-1, keepdims=True)
    var = jnp.mean((X - mu) ** 2, axis=-1, keepdims=True)
    return g * (X - mu) / jnp.sqrt(var + eps) + b


def block_jax(X, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, heads, causal):
    """The issue's definition: H = X + MHA(LN(X)), out = H + relu(LN(H) W1^T + c1) W2^T + c2."""
    H = X + mha_jax(layer_norm_jax(X, g1, b1), Wq, Wk, Wv, Wo, heads, causal, None)
    return H + jax.nn.relu(layer_norm_jax(H, g2, b2) @ W1.T + c1) @ W2.T + c2


@pytest.mark.parametrize("B, T, d, heads, causal", CASES, ids=IDS)
def test_backward_matches_central_differences_with_random_dout(B, T, d, heads, causal):
    X, params, _ = inputs(B, T, d, seed=B + T + d)
    report = gradcheck(block, X, *params, heads=heads, causal=causal, seed=1)
    assert list(report.comparisons) == list(NAMES)
    assert report.ok, str(report)


@pytest.mark.parametrize("B, T, d, heads, causal", CASES, ids=IDS)
def test_forward_and_every_gradient_match_jax(B, T, d, heads, causal):
    X, params, rng = inputs(B, T, d, seed=7)
    out, cache = block.forward(X, *params, heads=heads, causal=causal)
    G = rng.standard_normal(out.shape)
    grads = block.backward(G, cache)
    ref, ref_grads = jax_vjp(lambda *a: block_jax(*a, heads, causal), (X, *params), G)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert len(grads) == 13
    for name, g, r in zip(NAMES, grads, ref_grads):
        assert g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-11, err_msg=name)


def test_the_block_is_its_two_residual_lines():
    X, (g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2), rng = inputs(2, 5, 8)
    out, cache = block.forward(X, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, heads=2)
    A, ln1 = layernorm_rows.forward(X, g1, b1)
    M, att = multihead_attention.forward(A, Wq, Wk, Wv, Wo, heads=2, causal=True)
    H = X + M
    N, ln2 = layernorm_rows.forward(H, g2, b2)
    F, ffn = feedforward.forward(N, W1, c1, W2, c2)
    np.testing.assert_array_equal(out, H + F)
    G = rng.standard_normal(out.shape)
    dN, dW1, dc1, dW2, dc2 = feedforward.backward(G, ffn)
    dH_branch, dg2, db2 = layernorm_rows.backward(dN, ln2)
    dH = G + dH_branch  # the residual rule: G + (dF/dH)^T G
    dA, dWq, dWk, dWv, dWo = multihead_attention.backward(dH, att)
    dX_branch, dg1, db1 = layernorm_rows.backward(dA, ln1)
    expected = (dH + dX_branch, dg1, db1, dWq, dWk, dWv, dWo, dg2, db2, dW1, dc1, dW2, dc2)
    for name, g, e in zip(NAMES, block.backward(G, cache), expected):
        np.testing.assert_array_equal(g, e, err_msg=name)


def test_with_both_branches_switched_off_the_block_is_the_identity_and_so_is_its_gradient():
    X, params, rng = inputs(2, 4, 4)
    params = list(params)
    params[5] = np.zeros((4, 4))  # Wo = 0: the attention branch adds 0
    params[10] = np.zeros((4, 16))  # W2 = 0 and c2 = 0: so does the feed-forward branch
    params[11] = np.zeros(4)
    out, cache = block.forward(X, *params, heads=2)
    np.testing.assert_array_equal(out, X)
    G = rng.standard_normal(X.shape)
    dX = block.backward(G, cache)[0]
    np.testing.assert_array_equal(dX, G)  # the gradient passes the identities unchanged


def test_causal_block_keeps_the_future_out_of_the_past():
    X, params, rng = inputs(2, 5, 4)
    out, cache = block.forward(X, *params, heads=2)
    X_changed = X.copy()
    X_changed[:, 3:] += rng.standard_normal((2, 2, 4))
    np.testing.assert_array_equal(block.forward(X_changed, *params, heads=2)[0][:, :3], out[:, :3])
    G = np.zeros(out.shape)
    G[:, 2] = rng.standard_normal((2, 4))
    dX = block.backward(G, cache)[0]
    assert np.all(dX[:, 3:] == 0) and np.all(dX[:, :3] != 0)


def test_float32_stays_float32():
    X, params, _ = inputs(2, 3, 4)
    out, cache = block.forward(X.astype(np.float32), *(p.astype(np.float32) for p in params), heads=2)
    grads = block.backward(np.ones_like(out), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize(
    "index, bad, error, match",
    [
        (9, np.ones((8, 4)), ValueError, r"W1 has shape \(8, 4\).*4d units, W1 must have shape \(16, 4\)"),
        (11, np.ones((4, 8)), ValueError, r"W2 has shape \(4, 8\) but W1 has shape \(16, 4\), so h = 16"),
        (1, np.ones(3), ValueError, r"gamma has shape \(3,\) but X of shape \(2, 3, 4\) has d = 4"),
        (3, np.ones((4, 3)), ValueError, r"Wq has shape \(4, 3\)"),
        (0, np.ones((3, 4)), ValueError, r"X must be 3-D \(B, T, d\)"),
    ],
)
def test_bad_input_gets_a_clear_error(index, bad, error, match):
    X, params, _ = inputs(2, 3, 4)
    args = [X, *params]
    args[index] = bad
    with pytest.raises(error, match=match):
        block.forward(*args, heads=2)


def test_heads_must_divide_d_and_the_cache_must_be_the_blocks():
    X, params, _ = inputs(2, 3, 4)
    with pytest.raises(ValueError, match="heads must be a positive divisor of d = 4"):
        block.forward(X, *params, heads=3)
    out, _ = block.forward(X, *params)
    _, other = multihead_attention.forward(X, *params[2:6])
    with pytest.raises(TypeError, match="transformer_block.forward"):
        block.backward(out, other)
