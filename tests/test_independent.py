"""Every gradient path against an independent autodiff (HIPS autograd) and exact arithmetic (mpmath).

autograd differentiates plain formulas written here from the maths, not the package's code, so
an error shared by the package's three approaches would still be caught.
"""

import itertools

import autograd.numpy as anp
import mpmath
import numpy as np
import pytest
from autograd import grad
from autograd import jacobian as ag_jacobian
from autograd.scipy.special import logsumexp

import backprop
from backprop import activations, differential, jacobian, losses, seed, subscript

SEED_PATHS = [
    subscript.grad_W,
    subscript.grad_W_einsum,
    jacobian.grad_W,
    jacobian.grad_W_vec,
    jacobian.grad_W_denominator,
    differential.grad_W,
    differential.grad_W_hadamard,
]


def E_seed(W, x, y):
    s = 1 / (1 + anp.exp(-anp.dot(W, x)))
    return 0.5 * anp.sum((s - y) ** 2)


@pytest.mark.parametrize("m, n", [(5, 4), (1, 1), (1, 6), (7, 1), (3, 3)])
@pytest.mark.parametrize("path", SEED_PATHS)
def test_seed_paths_match_autograd(path, m, n):
    rng = np.random.default_rng(10 * m + n)
    W, x, y = rng.standard_normal((m, n)), rng.standard_normal((n, 1)), rng.uniform(size=(m, 1))
    G_ref = grad(E_seed)(W, x, y)
    np.testing.assert_allclose(path(W, x, y), G_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(path(W, x.ravel(), y.ravel()), G_ref, rtol=1e-12, atol=1e-15)


def test_subscript_entries_and_chain_terms_match_autograd():
    W, x, y = seed.example()
    G_ref = grad(E_seed)(W, x, y)
    for i, j in itertools.product(range(5), range(4)):
        assert subscript.dE_dw(W, x, y, i, j) == pytest.approx(G_ref[i, j], rel=1e-12, abs=1e-15)
        assert subscript.chain_terms(W, x, y, i, j).sum() == pytest.approx(G_ref[i, j], rel=1e-12, abs=1e-15)


def test_jacobian_building_blocks_match_autograd():
    W, x, y = seed.example()
    v = W @ x
    s = activations.sigmoid(v)
    J_s = ag_jacobian(lambda v: 1 / (1 + anp.exp(-v)))(v)[:, 0, :, 0]  # (m, m)
    np.testing.assert_allclose(jacobian.ds_dv(s), J_s, rtol=1e-12, atol=1e-15)
    J_W = ag_jacobian(lambda W: anp.dot(W, x))(W)[:, 0]  # (m, m, n)
    np.testing.assert_allclose(jacobian.dv_dW(x, 5), J_W, rtol=0, atol=0)
    J_vec = ag_jacobian(lambda w: anp.dot(anp.reshape(w, (4, 5)).T, x))(W.T.ravel())[:, 0]
    np.testing.assert_allclose(jacobian.dv_dvecW(x, 5), J_vec, rtol=0, atol=0)
    np.testing.assert_allclose(
        jacobian.dE_ds(s, y), ag_jacobian(lambda s: 0.5 * anp.sum((s - y) ** 2))(s).T, rtol=1e-14
    )


def test_differential_dE_is_the_directional_derivative():
    W, x, y = seed.example()
    dW = np.random.default_rng(3).standard_normal(W.shape)
    dd = grad(lambda t: E_seed(W + t * dW, x, y))(0.0)
    assert differential.dE(W, x, y, dW) == pytest.approx(dd, rel=1e-12)


# -- MLP: every activation / loss / bias combination and several batch sizes ---------------------


def act(name, V):
    return {
        "sigmoid": lambda: 1 / (1 + anp.exp(-V)),
        "tanh": lambda: anp.tanh(V),
        "relu": lambda: anp.maximum(V, 0),
        "identity": lambda: V,
    }[name]()


def loss_ref(net, params, X, Y):
    A, L = X, net.L
    for l in range(1, L + 1):
        V = anp.dot(params[f"W{l}"], A) + (params[f"b{l}"] if net.bias else 0)
        if l < L:
            A = act(net.hidden.name, V)
    B = X.shape[1]
    if net.loss_name == "cross_entropy" and net.output.name == "softmax":
        return -anp.sum(Y * (V - logsumexp(V, axis=0, keepdims=True))) / B
    if net.loss_name == "cross_entropy":
        return anp.sum(Y * anp.logaddexp(0, -V) + (1 - Y) * anp.logaddexp(0, V)) / B
    return 0.5 * anp.sum((act(net.output.name, V) - Y) ** 2) / B


OUTPUTS = [
    ("sigmoid", "half_squared_error"),
    ("tanh", "half_squared_error"),
    ("identity", "half_squared_error"),
    ("relu", "half_squared_error"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "cross_entropy"),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("output, loss", OUTPUTS)
@pytest.mark.parametrize("hidden", ["sigmoid", "tanh", "relu", "identity"])
def test_mlp_matches_autograd(hidden, output, loss, bias):
    net = backprop.MLP([3, 5, 4, 3], hidden=hidden, output=output, loss=loss, bias=bias, seed=1)
    rng = np.random.default_rng(2)
    if bias:
        net.params = {k: P + 0.1 * rng.standard_normal(P.shape) for k, P in net.params.items()}
    for B in (1, 2, 7):
        X = rng.standard_normal((3, B))
        if output == "softmax":
            Y = rng.dirichlet(np.ones(3), size=B).T  # probability targets, not one-hot
        else:
            Y = rng.uniform(size=(3, B))
        E, G = net.loss_and_gradients(X, Y)
        assert E == pytest.approx(loss_ref(net, net.params, X, Y), rel=1e-12)
        G_ref = grad(lambda p: loss_ref(net, p, X, Y))(dict(net.params))
        for k in net.params:
            np.testing.assert_allclose(G[k], G_ref[k], rtol=1e-10, atol=1e-14, err_msg=f"{k}, B = {B}")


def test_softmax_gradient_is_the_gradient_of_the_reported_loss_for_inexact_targets():
    """Targets whose columns sum to 1 +- 9e-6 are accepted, and then the gradient is still exact."""
    net = backprop.MLP([3, 4], hidden=None, output="softmax", loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 5))
    Y = rng.dirichlet(np.ones(4), size=5).T * (1 + np.array([9e-6, -9e-6, 5e-6, 0, 1e-6]))
    E, G = net.loss_and_gradients(X, Y)
    G_ref = grad(lambda p: loss_ref(net, p, X, Y))(dict(net.params))
    for k in G:
        np.testing.assert_allclose(G[k], G_ref[k], rtol=1e-12, atol=1e-15)
    report = backprop.gradcheck(lambda p: net.loss(X, Y, params=p), net.params, G)
    assert report.ok, str(report)
    V = net.params["W1"] @ X + net.params["b1"]
    Delta_ref = grad(lambda V: -anp.sum(Y * (V - logsumexp(V, axis=0, keepdims=True))) / 5)(V)
    np.testing.assert_allclose(
        losses.cross_entropy_grad(activations.softmax(V), Y, "softmax"), Delta_ref, rtol=1e-12, atol=1e-15
    )


# -- sigma' against exact arithmetic ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_prime_has_full_relative_accuracy(dtype):
    v = np.linspace(-80, 80, 641).astype(dtype)
    if dtype == np.float32:
        v = v[np.abs(v) <= 80]
    mpmath.mp.dps = 50
    exact = np.array(
        [
            float(mpmath.exp(-abs(mpmath.mpf(float(t)))) / (1 + mpmath.exp(-abs(mpmath.mpf(float(t))))) ** 2)
            for t in v
        ]
    )
    got = activations.sigmoid_prime(v)
    assert got.dtype == dtype
    eps = np.finfo(dtype).eps
    rel = np.abs(got.astype(np.float64) - exact) / exact
    assert rel.max() <= 8 * eps
    s = activations.sigmoid(v)
    naive = (s - s * s).astype(np.float64)
    assert np.any(naive[v > 40] == 0)  # the cancellation the stable form avoids


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_backward_rules_of_sigmoid_and_tanh_keep_full_relative_accuracy(name, dtype):
    """The derivative inside MLP's backward (Activation.vjp and vjp_overwrite) and tanh_prime:
    no cancellation for large |v|, so a saturated unit's gradient keeps its digits."""
    v = np.linspace(-80, 80, 641).astype(dtype)
    mpmath.mp.dps = 50
    if name == "sigmoid":
        d = lambda t: mpmath.exp(-abs(t)) / (1 + mpmath.exp(-abs(t))) ** 2
    else:
        d = lambda t: 1 / mpmath.cosh(t) ** 2
    exact = np.array([float(d(mpmath.mpf(float(t)))) for t in v])
    act = activations.get_activation(name)
    s = act.f(v)
    g = np.ones_like(v)
    results = [act.vjp(v, s, g), act.vjp_overwrite(v, s, g.copy())]
    if name == "tanh":
        results.append(activations.tanh_prime(v))
    tiny = np.finfo(dtype).tiny
    for got in results:
        assert got.dtype == dtype
        keep = exact > tiny  # below that the value underflows in `dtype`
        rel = np.abs(got.astype(np.float64)[keep] - exact[keep]) / exact[keep]
        assert rel.max() <= 8 * np.finfo(dtype).eps
