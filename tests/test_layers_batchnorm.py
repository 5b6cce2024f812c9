"""backprop.layers.batchnorm and layernorm: central differences with random upstream
gradients, the all-ones trap, the two axes, and JAX's forward and backward."""

import jax_reference as jr
import numpy as np
import pytest

from backprop.layers import batchnorm, gradcheck, layernorm

LAYERS = [batchnorm, layernorm]


def inputs(n=4, B=6, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, B)) * 3 + 1).astype(dtype)
    return X, rng.standard_normal((n, 1)).astype(dtype), rng.standard_normal((n, 1)).astype(dtype)


# With B = 2 (or n = 2 for layernorm) and a tiny eps, Xhat = +-1 hardly depends on X: dX is
# of order eps and central differences cannot resolve it to 1e-7; those run with eps = 0.1.
@pytest.mark.parametrize("layer", LAYERS, ids=["batchnorm", "layernorm"])
@pytest.mark.parametrize(
    "n, B, eps",
    [
        (1, 3, 1e-5),
        (4, 6, 1e-5),
        (4, 6, 0.1),
        (3, 17, 1e-5),
        (3, 17, 0.1),
        (7, 2, 0.1),
        (1, 2, 0.1),
        (2, 5, 0.1),
    ],
)
def test_backward_matches_central_differences_with_random_dout(layer, n, B, eps):
    if layer is layernorm:
        n, B = B, n  # the same shapes along the other axis
    for seed in range(3):
        report = gradcheck(layer, *inputs(n, B, seed), eps=eps, seed=seed + 10)
        assert report.ok, str(report)


@pytest.mark.parametrize("layer", LAYERS, ids=["batchnorm", "layernorm"])
def test_forward_statistics(layer):
    X, gamma, beta = inputs(5, 8)
    Xhat, _ = layer.forward(X, np.ones((5, 1)), np.zeros((5, 1)), eps=1e-12)
    axis = 1 if layer is batchnorm else 0
    np.testing.assert_allclose(Xhat.mean(axis=axis), 0, atol=1e-12)
    np.testing.assert_allclose(Xhat.var(axis=axis), 1, rtol=1e-9)  # biased variance
    out, _ = layer.forward(X, gamma, beta)
    np.testing.assert_allclose(out, gamma * Xhat + beta, rtol=1e-5, atol=1e-5)


def test_layernorm_is_batchnorm_on_the_other_axis():
    X, _, _ = inputs(5, 8)
    rng = np.random.default_rng(3)
    G = rng.standard_normal(X.shape)
    ones, zeros = np.ones((5, 1)), np.zeros((5, 1))
    out_l, cache_l = layernorm.forward(X, ones, zeros)
    out_b, cache_b = batchnorm.forward(X.T, np.ones((8, 1)), np.zeros((8, 1)))
    np.testing.assert_allclose(out_l, out_b.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        layernorm.backward(G, cache_l)[0], batchnorm.backward(G.T, cache_b)[0].T, rtol=1e-12, atol=1e-12
    )


def test_gamma_beta_given_as_vectors_get_gradients_of_their_shape():
    X, gamma, beta = inputs()
    for layer in LAYERS:
        out, cache = layer.forward(X, gamma.ravel(), beta.ravel())
        dX, dgamma, dbeta = layer.backward(np.ones_like(out), cache)
        assert (dX.shape, dgamma.shape, dbeta.shape) == (X.shape, (4,), (4,))
        assert np.allclose(out, layer.forward(X, gamma, beta)[0])


@pytest.mark.parametrize("layer", LAYERS, ids=["batchnorm", "layernorm"])
def test_float32_stays_float32(layer):
    X, gamma, beta = inputs(dtype=np.float32)
    out, cache = layer.forward(X, gamma, beta)
    grads = layer.backward(np.ones_like(out), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


# ---------------------------------------------------------------- the classic mistakes


def backward_mu_sigma_constant(dout, cache):
    """Mistake: mu and sigma treated as constants (they depend on every x of the row)."""
    dX, dgamma, dbeta = batchnorm.backward(dout, cache)
    return cache.gamma * cache.r * dout, dgamma, dbeta


def backward_mean_only(dout, cache):
    """Mistake: the dependence of mu is kept, that of sigma forgotten."""
    dX, dgamma, dbeta = batchnorm.backward(dout, cache)
    dXhat = cache.gamma * dout
    return cache.r * (dXhat - dXhat.mean(axis=1, keepdims=True)), dgamma, dbeta


def backward_dgamma_without_dout(dout, cache):
    """Mistake: dgamma = sum of Xhat (the upstream gradient left out)."""
    dX, dgamma, dbeta = batchnorm.backward(dout, cache)
    return dX, cache.Xhat.sum(axis=1, keepdims=True), dbeta


@pytest.mark.parametrize("wrong, name", [(backward_mean_only, "X"), (backward_dgamma_without_dout, "gamma")])
def test_all_ones_upstream_gradient_hides_the_mistake_and_a_random_one_finds_it(wrong, name):
    X, gamma, beta = inputs()
    ones = np.ones(X.shape)
    out, cache = batchnorm.forward(X, gamma, beta)
    right = batchnorm.backward(ones, cache)
    hidden = gradcheck(batchnorm, X, gamma, beta, dout=ones, backward=wrong)
    for g_wrong, g_right, N in zip(wrong(ones, cache), right, hidden.numerical.values()):
        np.testing.assert_allclose(g_wrong, g_right, atol=1e-12)  # E = sum(out): dX = dgamma = 0
        np.testing.assert_allclose(g_wrong, N, atol=1e-7)
    found = gradcheck(batchnorm, X, gamma, beta, backward=wrong, seed=1)  # not 0: X came from it
    assert not found.ok and found.errors[name] > 1e-2, str(found)
    assert all(e < 1e-7 for k, e in found.errors.items() if k != name)


def test_constant_mu_sigma_fails_even_with_ones():
    report = gradcheck(batchnorm, *inputs(), dout=np.ones((4, 6)), backward=backward_mu_sigma_constant)
    assert report.errors["X"] > 0.5


def test_bessel_correction_is_not_what_torch_or_this_layer_computes():
    X, gamma, beta = inputs(3, 4)
    out, _ = batchnorm.forward(X, gamma, beta, eps=1e-12)
    unbiased = (X - X.mean(1, keepdims=True)) / X.std(axis=1, ddof=1, keepdims=True)
    assert not np.allclose(out, gamma * unbiased + beta, rtol=1e-3)
    biased = (X - X.mean(1, keepdims=True)) / X.std(axis=1, ddof=0, keepdims=True)
    np.testing.assert_allclose(out, gamma * biased + beta, rtol=1e-9)


# ---------------------------------------------------------------- against JAX


@pytest.mark.parametrize(
    "layer, reference", [(batchnorm, jr.batchnorm), (layernorm, jr.layernorm)], ids=["batchnorm", "layernorm"]
)
@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_matches_jax_forward_and_backward(layer, reference, eps):
    """jax.nn.standardize (biased variance, as torch's batch_norm(training=True) and layer_norm)."""
    X, gamma, beta = inputs(5, 7)
    G = np.random.default_rng(1).standard_normal(X.shape)
    out, cache = layer.forward(X, gamma, beta, eps=eps)
    dX, dgamma, dbeta = layer.backward(G, cache)
    ref_out, (rX, rgamma, rbeta) = jr.vjp(reference, (X, gamma, beta), G, eps=eps)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dX, rX, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dgamma, rgamma, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dbeta, rbeta, rtol=1e-10, atol=1e-12)
