"""backprop.layers.dropout: the mask lives in the cache, inverted scaling, reproducible masks,
central differences and JAX's autodiff for a fixed mask, and the classic mistake."""

from types import SimpleNamespace

import jax
import numpy as np
import pytest
from test_layers_multihead_attention import jax_vjp

from backprop.layers import dropout, gradcheck

jax.config.update("jax_enable_x64", True)


def fixed_mask_dropout(p, seed):
    """dropout as a function of X alone: every forward draws its mask from default_rng(seed),
    so central differences perturb X under one and the same mask."""

    def forward(X):
        return dropout.forward(X, p=p, rng=np.random.default_rng(seed))

    return SimpleNamespace(forward=forward, backward=dropout.backward)


@pytest.mark.parametrize("shape", [(1,), (4, 5), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_backward_matches_central_differences_and_jax_for_the_cached_mask(shape, p):
    X = np.random.default_rng(0).standard_normal(shape)
    layer = fixed_mask_dropout(p, seed=3)
    report = gradcheck(layer, X, seed=1)
    assert report.ok, str(report)
    out, cache = layer.forward(X)
    G = np.random.default_rng(2).standard_normal(shape)
    ref_out, (ref_dX,) = jax_vjp(lambda X: X * cache.M, (X,), G)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_allclose(dropout.backward(G, cache)[0], ref_dX, rtol=1e-15, atol=0)


def test_the_mask_is_zero_or_one_over_one_minus_p_and_keeps_the_mean():
    p, n = 0.3, 200_000
    X = np.ones(n)
    out, cache = dropout.forward(X, p=p, rng=np.random.default_rng(0))
    assert set(np.unique(cache.M)) == {0.0, 1 / (1 - p)}
    kept = np.mean(cache.M > 0)
    sd = np.sqrt(p * (1 - p) / n)  # binomial standard deviation of kept
    assert abs(kept - (1 - p)) < 5 * sd
    # E[out] = X: the mean of out differs from 1 only by the sampling noise of kept, / (1 - p)
    assert abs(out.mean() - 1) < 5 * sd / (1 - p)
    np.testing.assert_array_equal(out, cache.M * X)


def test_the_same_seed_gives_the_same_mask_and_another_seed_another():
    X = np.random.default_rng(0).standard_normal((6, 7))
    a = dropout.forward(X, p=0.5, rng=np.random.default_rng(1))[1].M
    b = dropout.forward(X, p=0.5, rng=np.random.default_rng(1))[1].M
    c = dropout.forward(X, p=0.5, rng=np.random.default_rng(2))[1].M
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_evaluation_mode_and_p_zero_are_the_identity():
    X = np.random.default_rng(0).standard_normal((3, 4))
    G = np.random.default_rng(1).standard_normal((3, 4))
    for kwargs in ({"p": 0.5, "training": False}, {"p": 0.0, "rng": None}):
        out, cache = dropout.forward(X, **kwargs)
        np.testing.assert_array_equal(out, X)
        np.testing.assert_array_equal(dropout.backward(G, cache)[0], G)


def test_a_backward_that_draws_a_new_mask_is_caught():
    X = np.random.default_rng(0).standard_normal((5, 6))

    def backward_new_mask(dout, cache):
        """Wrong: the mask drawn again in backward instead of taken from the cache."""
        fresh = dropout.forward(np.ones_like(dout), p=0.5, rng=np.random.default_rng(99))[1]
        return (fresh.M * dout,)

    def backward_unscaled(dout, cache):
        """Wrong: the 1 / (1 - p) of inverted dropout forgotten in backward."""
        return ((cache.M > 0) * dout,)

    layer = fixed_mask_dropout(0.5, seed=3)
    for wrong in (backward_new_mask, backward_unscaled):
        report = gradcheck(layer, X, backward=wrong, seed=1)
        assert not report.ok and report.errors["X"] > 0.1, wrong.__name__


def test_float32_stays_float32():
    X = np.ones((3, 4), dtype=np.float32)
    out, cache = dropout.forward(X, p=0.25, rng=np.random.default_rng(0))
    assert out.dtype == cache.M.dtype == np.float32
    assert set(np.unique(out)) <= {np.float32(0), np.float32(1 / 0.75)}
    assert dropout.backward(np.ones_like(out), cache)[0].dtype == np.float32


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"p": 1.0, "rng": np.random.default_rng(0)},
            ValueError,
            r"p must lie in \[0, 1\).*1 / \(1 - p\) is 1/0",
        ),
        ({"p": -0.1, "rng": np.random.default_rng(0)}, ValueError, r"p must lie in \[0, 1\)"),
        ({"p": "0.5", "rng": np.random.default_rng(0)}, TypeError, "p must be a number"),
        ({"p": 0.5}, TypeError, r"rng must be a numpy Generator, e.g. np.random.default_rng\(seed\)"),
        ({"p": 0.5, "rng": 0}, TypeError, "rng must be a numpy Generator"),
        (
            {"p": 0.5, "rng": np.random.default_rng(0), "training": "yes"},
            TypeError,
            "training must be True or False",
        ),
    ],
)
def test_bad_options_get_a_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        dropout.forward(np.ones((2, 2)), **kwargs)


def test_a_wrong_dout_or_cache_is_refused():
    out, cache = dropout.forward(np.ones((2, 3)), p=0.5, rng=np.random.default_rng(0))
    with pytest.raises(
        ValueError, match=r"dout has shape \(3, 2\) but the layer's output has shape \(2, 3\)"
    ):
        dropout.backward(np.ones((3, 2)), cache)
    with pytest.raises(TypeError, match="dropout.forward"):
        dropout.backward(out, (cache.M,))
