"""backprop.layers.spatial_batchnorm: central differences with random upstream gradients
(B = 1, 1x1 images, several shapes), JAX's autodiff of the definition, chapter 15's batch
norm on the channels' values, and why one value per channel (B = 1 for the dense batch
norm) is refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_layers_multihead_attention import jax_vjp

from backprop.layers import batchnorm, gradcheck
from backprop.layers import spatial_batchnorm as sbn

jax.config.update("jax_enable_x64", True)

SHAPES = [(2, 3, 4, 5), (1, 2, 3, 3), (1, 1, 1, 2), (4, 2, 1, 1), (3, 1, 2, 2)]


def inputs(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    C = shape[1]
    return (
        (rng.standard_normal(shape) * 3 + 1).astype(dtype),
        (1 + 0.3 * rng.standard_normal(C)).astype(dtype),
        (0.3 * rng.standard_normal(C)).astype(dtype),
    )


def spatial_batchnorm_jax(X, g, b, eps):
    mu = jnp.mean(X, axis=(0, 2, 3), keepdims=True)
    var = jnp.mean((X - mu) ** 2, axis=(0, 2, 3), keepdims=True)
    return g[None, :, None, None] * (X - mu) / jnp.sqrt(var + eps) + b[None, :, None, None]


# Two values per channel with a tiny eps: Xhat = +-1 and dX of order eps, below what central
# differences resolve (as in test_layers_batchnorm); those shapes run with eps = 0.1.
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_backward_matches_central_differences_with_random_dout(shape):
    B, _, H, W = shape
    eps = 0.1 if B * H * W == 2 else 1e-5
    for seed in range(2):
        report = gradcheck(sbn, *inputs(shape, seed), eps=eps, seed=seed + 7)
        assert report.ok, str(report)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_forward_and_every_gradient_match_jax(shape, eps):
    X, g, b = inputs(shape, 2)
    out, cache = sbn.forward(X, g, b, eps=eps)
    G = np.random.default_rng(3).standard_normal(out.shape)
    ref, ref_grads = jax_vjp(lambda *a: spatial_batchnorm_jax(*a, eps), (X, g, b), G)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    for name, got, r in zip("X g b".split(), sbn.backward(G, cache), ref_grads):
        np.testing.assert_allclose(got, r, rtol=1e-10, atol=1e-12, err_msg=name)


def test_it_is_chapter_15s_batch_norm_over_each_channels_values():
    X, g, b = inputs((3, 2, 4, 5))
    G = np.random.default_rng(1).standard_normal(X.shape)
    out, cache = sbn.forward(X, g, b)
    rows = lambda A: A.transpose(1, 0, 2, 3).reshape(2, -1)  # (C, B H W): a row per channel
    out_rows, cache_rows = batchnorm.forward(rows(X), g[:, None], b[:, None])
    np.testing.assert_allclose(rows(out), out_rows, rtol=1e-13, atol=1e-14)
    dX, dg, db = sbn.backward(G, cache)
    dX_rows, dg_rows, db_rows = batchnorm.backward(rows(G), cache_rows)
    np.testing.assert_allclose(rows(dX), dX_rows, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dg, dg_rows.ravel(), rtol=1e-12)
    np.testing.assert_allclose(db, db_rows.ravel(), rtol=1e-12)


def test_each_channel_has_mean_0_and_variance_1():
    X, _, _ = inputs((4, 3, 5, 5))
    out, _ = sbn.forward(X, np.ones(3), np.zeros(3), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-9)


def test_one_image_is_normalised_over_its_pixels():
    X, g, b = inputs((1, 2, 3, 3))
    out, _ = sbn.forward(X, g, b)
    Xhat = (X - X.mean(axis=(2, 3), keepdims=True)) / np.sqrt(X.var(axis=(2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, g[:, None, None] * Xhat + b[:, None, None], rtol=1e-12, atol=1e-13)


def test_one_value_per_channel_is_refused_and_says_why():
    X, g, b = inputs((1, 3, 1, 1))
    with pytest.raises(
        ValueError,
        match=r"at least 2 values per channel.*\(1, 3, 1, 1\).*variance 0.*"
        r"every normalised value is 0.*gradient dX is 0",
    ):
        sbn.forward(X, g, b)


def test_dense_batch_norm_with_one_example_says_why_it_is_refused():
    X = np.random.default_rng(0).standard_normal((4, 1))
    with pytest.raises(
        ValueError,
        match=r"at least 2 examples.*\(4, 1\).*B = 1.*variance 0.*"
        r"every normalised value is 0.*gradient dX is 0",
    ):
        batchnorm.forward(X, np.ones((4, 1)), np.zeros((4, 1)))


def test_float32_stays_float32():
    X, g, b = inputs((2, 3, 4, 4), dtype=np.float32)
    out, cache = sbn.forward(X, g, b)
    assert out.dtype == np.float32
    assert all(x.dtype == np.float32 for x in sbn.backward(np.ones_like(out), cache))


@pytest.mark.parametrize(
    "args, error, match",
    [
        (
            lambda X, g, b: (X[0], g, b),
            ValueError,
            r"X must be 4-D \(B, C, n_h, n_w\).*got shape \(3, 4, 5\)",
        ),
        (
            lambda X, g, b: (X, g[:2], b),
            ValueError,
            r"gamma has shape \(2,\) but X of shape \(2, 3, 4, 5\) has C = 3.*\(3,\)",
        ),
        (lambda X, g, b: (X, g, b[:, None]), ValueError, r"beta has shape \(3, 1\).*must have shape \(3,\)"),
        (lambda X, g, b: (X, g, b, 0.0), ValueError, "eps must be a finite positive number"),
    ],
)
def test_bad_input_gets_a_clear_error(args, error, match):
    with pytest.raises(error, match=match):
        sbn.forward(*args(*inputs((2, 3, 4, 5))))
