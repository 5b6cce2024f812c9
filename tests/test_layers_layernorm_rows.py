"""backprop.layers.layernorm_rows: central differences with random upstream gradients for
(B, d), (B, T, d) and one row, JAX's autodiff of the definition, and the column layer norm
of chapter 15 on the transposed matrix."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_layers_multihead_attention import jax_vjp

from backprop.layers import gradcheck, layernorm, layernorm_rows

jax.config.update("jax_enable_x64", True)

SHAPES = [(5,), (1, 2), (3, 4), (1, 1, 6), (2, 3, 5), (2, 2, 2, 3)]


def inputs(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    X = rng.standard_normal(shape) * 2 + 1
    return (
        X.astype(dtype),
        (1 + 0.3 * rng.standard_normal(d)).astype(dtype),
        (0.3 * rng.standard_normal(d)).astype(dtype),
    )


def layer_norm_jax(X, g, b, eps):
    mu = jnp.mean(X, axis=-1, keepdims=True)
    return g * (X - mu) / jnp.sqrt(jnp.var(X, axis=-1, keepdims=True) + eps) + b


# d = 2 with a tiny eps: Xhat = +-1 hardly depends on X and dX is of order eps, below what
# central differences resolve (as in test_layers_batchnorm); d = 2 runs with eps = 0.1.
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_central_differences_with_random_dout(shape):
    eps = 0.1 if shape[-1] == 2 else 1e-5
    for seed in range(2):
        report = gradcheck(layernorm_rows, *inputs(shape, seed), eps=eps, seed=seed + 3)
        assert report.ok, str(report)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("eps", [1e-5, 0.5])
def test_forward_and_every_gradient_match_jax(shape, eps):
    X, g, b = inputs(shape, 4)
    out, cache = layernorm_rows.forward(X, g, b, eps=eps)
    G = np.random.default_rng(5).standard_normal(out.shape)
    ref, ref_grads = jax_vjp(lambda *a: layer_norm_jax(*a, eps), (X, g, b), G)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    for name, got, r in zip("X g b".split(), layernorm_rows.backward(G, cache), ref_grads):
        np.testing.assert_allclose(got, r, rtol=1e-10, atol=1e-12, err_msg=name)


def test_it_is_chapter_15s_layer_norm_with_examples_as_rows():
    X, g, b = inputs((6, 5))
    G = np.random.default_rng(1).standard_normal(X.shape)
    out, cache = layernorm_rows.forward(X, g, b)
    out_cols, cache_cols = layernorm.forward(X.T, g[:, None], b[:, None])
    np.testing.assert_allclose(out, out_cols.T, rtol=1e-14, atol=1e-15)
    for got, cols in zip(layernorm_rows.backward(G, cache), layernorm.backward(G.T, cache_cols)):
        np.testing.assert_allclose(got, cols.T.reshape(got.shape), rtol=1e-13, atol=1e-15)


def test_float32_stays_float32():
    X, g, b = inputs((2, 3, 4), dtype=np.float32)
    out, cache = layernorm_rows.forward(X, g, b)
    assert out.dtype == np.float32
    assert all(x.dtype == np.float32 for x in layernorm_rows.backward(np.ones_like(out), cache))


@pytest.mark.parametrize(
    "args, error, match",
    [
        (
            lambda X, g, b: (X, g[:3], b),
            ValueError,
            r"gamma has shape \(3,\) but X of shape \(2, 3, 4\) has d = 4.*\(4,\)",
        ),
        (lambda X, g, b: (X, g, b[:, None]), ValueError, r"beta has shape \(4, 1\)"),
        (lambda X, g, b: (X[..., :1], g[:1], b[:1]), ValueError, r"d = 1 feature normalises every row to 0"),
        (lambda X, g, b: (X.astype(int), g, b), TypeError, "floating-point"),
    ],
)
def test_bad_input_gets_a_clear_error(args, error, match):
    with pytest.raises(error, match=match):
        layernorm_rows.forward(*args(*inputs((2, 3, 4))))
