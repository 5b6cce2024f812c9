"""backprop.layers.feedforward: central differences with random upstream gradients for one
row, (B, d) and (B, T, d), JAX's autodiff of relu(X W1^T + c1) W2^T + c2, and relu'(0) = 0."""

import jax
import numpy as np
import pytest
from test_layers_multihead_attention import jax_vjp

from backprop.layers import feedforward, gradcheck

jax.config.update("jax_enable_x64", True)

NAMES = ("X", "W1", "c1", "W2", "c2")
# (shape of X, h, d_out)
CASES = [((3,), 5, 3), ((1, 4), 16, 4), ((5, 3), 7, 2), ((2, 3, 4), 16, 4), ((1, 1, 2), 8, 2)]


def inputs(shape, h, d_out, seed=0):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    return (
        rng.standard_normal(shape),
        rng.standard_normal((h, d)) / np.sqrt(d),
        0.3 * rng.standard_normal(h),
        rng.standard_normal((d_out, h)) / np.sqrt(h),
        0.3 * rng.standard_normal(d_out),
    )


def feedforward_jax(X, W1, c1, W2, c2):
    return jax.nn.relu(X @ W1.T + c1) @ W2.T + c2


@pytest.mark.parametrize("shape, h, d_out", CASES, ids=str)
def test_backward_matches_central_differences_with_random_dout(shape, h, d_out):
    for seed in range(2):
        report = gradcheck(feedforward, *inputs(shape, h, d_out, seed), seed=seed + 1)
        assert list(report.comparisons) == list(NAMES)
        assert report.ok, str(report)


@pytest.mark.parametrize("shape, h, d_out", CASES, ids=str)
def test_forward_and_every_gradient_match_jax(shape, h, d_out):
    args = inputs(shape, h, d_out, 2)
    out, cache = feedforward.forward(*args)
    G = np.random.default_rng(3).standard_normal(out.shape)
    ref, ref_grads = jax_vjp(feedforward_jax, args, G)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)
    for name, got, r, a in zip(NAMES, feedforward.backward(G, cache), ref_grads, args):
        assert got.shape == a.shape, name
        np.testing.assert_allclose(got, r, rtol=1e-11, atol=1e-13, err_msg=name)


def test_relu_derivative_at_zero_is_zero_as_in_jax():
    X, W1, c1, W2, c2 = inputs((2, 3), 4, 3)
    c1 = -(X @ W1.T)[0]  # row 0: every hidden unit exactly at the kink
    out, cache = feedforward.forward(X, W1, c1, W2, c2)
    assert np.all(cache.U[0] == 0)
    G = np.ones(out.shape)
    _, ref_grads = jax_vjp(feedforward_jax, (X, W1, c1, W2, c2), G)
    for name, got, r in zip(NAMES, feedforward.backward(G, cache), ref_grads):
        np.testing.assert_allclose(got, r, rtol=1e-12, atol=1e-14, err_msg=name)
    assert np.all(feedforward.backward(G, cache)[0][0] == 0)


@pytest.mark.parametrize(
    "index, bad, match",
    [
        (1, np.ones((5, 2)), r"W1 has shape \(5, 2\) but X of shape \(4, 3\) has d = 3.*\(h, 3\)"),
        (2, np.ones(4), r"c1 has shape \(4,\) but W1 has 5 rows: c1 must have shape \(5,\)"),
        (
            3,
            np.ones((3, 4)),
            r"W2 has shape \(3, 4\) but W1 has shape \(5, 3\), so h = 5: W2 must have shape \(d_out, 5\)",
        ),
        (4, np.ones((2, 1)), r"c2 has shape \(2, 1\) but W2 has 2 rows"),
    ],
)
def test_bad_shapes_get_a_clear_error(index, bad, match):
    args = list(inputs((4, 3), 5, 2))
    args[index] = bad
    with pytest.raises(ValueError, match=match):
        feedforward.forward(*args)
