"""backprop.layers.residual: X + F(X) and X + F(LN(X)) for layers F of this package, checked
against central differences and JAX, the rule dX = G + (dF/dX)^T G, and the names the
gradients get."""

import jax
import numpy as np
import pytest
from test_layers_multihead_attention import jax_vjp, mha_jax
from test_layers_transformer_block import layer_norm_jax

from backprop.layers import Residual, attention, feedforward, gradcheck, multihead_attention

jax.config.update("jax_enable_x64", True)


def ffn_inputs(shape=(2, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    return (
        rng.standard_normal(shape),
        rng.standard_normal((4 * d, d)) / np.sqrt(d),
        0.3 * rng.standard_normal(4 * d),
        rng.standard_normal((d, 4 * d)) / np.sqrt(4 * d),
        0.3 * rng.standard_normal(d),
    ), rng


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4), (1, 1, 2)], ids=str)
@pytest.mark.parametrize("prenorm", [False, True])
def test_residual_feedforward_matches_central_differences_and_jax(shape, prenorm):
    (X, *params), rng = ffn_inputs(shape)
    d = shape[-1]
    norm = (1 + 0.3 * rng.standard_normal(d), 0.3 * rng.standard_normal(d)) if prenorm else ()
    layer = Residual(feedforward, prenorm=prenorm)
    eps_ok = d > 2  # d = 2: layer norm's dX is of order eps (see layernorm_rows tests)
    if eps_ok or not prenorm:
        report = gradcheck(layer, X, *norm, *params, seed=2)
        assert report.ok, str(report)
    out, cache = layer.forward(X, *norm, *params)
    G = rng.standard_normal(out.shape)

    def ref(X, *p):
        A = layer_norm_jax(X, p[0], p[1]) if prenorm else X
        W1, c1, W2, c2 = p[2:] if prenorm else p
        return X + jax.nn.relu(A @ W1.T + c1) @ W2.T + c2

    ref_out, ref_grads = jax_vjp(ref, (X, *norm, *params), G)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    for got, r in zip(layer.backward(G, cache), ref_grads):
        np.testing.assert_allclose(got, r, rtol=1e-10, atol=1e-12)


def test_the_gradient_is_G_plus_the_branchs_gradient():
    (X, *params), rng = ffn_inputs()
    out, cache = Residual(feedforward).forward(X, *params)
    G = rng.standard_normal(out.shape)
    dX, *dparams = Residual(feedforward).backward(G, cache)
    branch = feedforward.backward(G, feedforward.forward(X, *params)[1])
    np.testing.assert_array_equal(dX, G + branch[0])
    for got, expected in zip(dparams, branch[1:]):
        np.testing.assert_array_equal(got, expected)


def test_prenorm_attention_names_its_gradients_and_matches_jax():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((2, 4, 6))
    g, b = 1 + 0.3 * rng.standard_normal(6), 0.3 * rng.standard_normal(6)
    Ws = [rng.standard_normal((6, 6)) / np.sqrt(6) for _ in range(4)]
    layer = Residual(multihead_attention, prenorm=True)
    report = gradcheck(layer, X, g, b, *Ws, heads=3, causal=True, seed=1)
    assert list(report.comparisons) == ["X", "gamma", "beta", "Wq", "Wk", "Wv", "Wo"]
    assert report.ok, str(report)
    out, cache = layer.forward(X, g, b, *Ws, heads=3, causal=True)
    G = rng.standard_normal(out.shape)
    ref_out, ref_grads = jax_vjp(
        lambda X, g, b, *W: X + mha_jax(layer_norm_jax(X, g, b), *W, 3, True, None), (X, g, b, *Ws), G
    )
    np.testing.assert_allclose(out, ref_out, rtol=1e-12, atol=1e-13)
    for got, r in zip(layer.backward(G, cache), ref_grads):
        np.testing.assert_allclose(got, r, rtol=1e-10, atol=1e-12)


def test_a_branch_whose_output_is_not_X_shaped_is_refused():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4))
    W1, c1, W2, c2 = np.ones((8, 4)), np.zeros(8), np.ones((2, 8)), np.zeros(2)
    with pytest.raises(ValueError, match=r"output has shape \(3, 2\) but X has shape \(3, 4\)"):
        Residual(feedforward).forward(X, W1, c1, W2, c2)
    Q = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"Residual\(attention\).*\(3, 2\) but X has shape \(3, 4\)"):
        Residual(attention).forward(Q, Q, rng.standard_normal((3, 2)))


def test_bad_construction_and_caches_are_refused():
    with pytest.raises(TypeError, match="layer must have forward and backward"):
        Residual(np)
    with pytest.raises(TypeError, match="prenorm must be True or False"):
        Residual(feedforward, prenorm="yes")
    (X, *params), _ = ffn_inputs()
    with pytest.raises(TypeError, match="needs gamma and beta after X"):
        Residual(feedforward, prenorm=True).forward(X)
    _, cache = feedforward.forward(X, *params)
    with pytest.raises(
        TypeError, match=r"cache must be the second value returned by Residual\(feedforward\)"
    ):
        Residual(feedforward).backward(np.ones(X.shape), cache)
