"""backprop.MLP: the seed network as a special case, and gradients against central differences."""

import numpy as np
import pytest

import backprop
from backprop import differential
from backprop.seed import example

CONFIGS = [
    dict(sizes=[4, 6, 3], hidden="sigmoid", output="sigmoid", loss="half_squared_error"),
    dict(sizes=[4, 6, 5, 3], hidden="tanh", output="softmax", loss="cross_entropy"),
    dict(sizes=[3, 7, 2], hidden="relu", output="identity", loss="half_squared_error"),
    dict(sizes=[5, 4, 2], hidden="tanh", output="sigmoid", loss="cross_entropy"),
    dict(sizes=[5, 4, 2], hidden="identity", output="tanh", loss="half_squared_error", bias=False),
]


def data(net, B, rng):
    X = rng.standard_normal((net.sizes[0], B))
    m = net.sizes[-1]
    if net.loss_name == "cross_entropy" and net.output.name == "softmax":
        Y = np.eye(m)[:, rng.integers(0, m, size=B)]
    else:
        Y = rng.uniform(size=(m, B))
    return X, Y


def test_seed_network_is_a_special_case():
    W, x, y = example()
    net = backprop.MLP([4, 5], hidden=None, output="sigmoid", loss="half_squared_error", bias=False)
    net.params["W1"] = W.copy()
    assert set(net.params) == {"W1"}
    assert net.loss(x, y) == pytest.approx(backprop.seed.E(W, x, y), abs=1e-15)
    np.testing.assert_allclose(net.gradients(x, y)["W1"], differential.grad_W(W, x, y), atol=1e-15)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c["sizes"])) + c["hidden"])
@pytest.mark.parametrize("B", [1, 7])
def test_gradients_match_central_differences(config, B):
    rng = np.random.default_rng(B)
    net = backprop.MLP(seed=B, **config)
    if net.bias:  # non-zero biases so that their gradients are tested at a generic point
        for k in net.params:
            if k.startswith("b"):
                net.params[k] = rng.standard_normal(net.params[k].shape)
    X, Y = data(net, B, rng)
    grads = net.gradients(X, Y)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in net.params.items()}
    report = backprop.gradcheck(lambda p: net.loss(X, Y, params=p), net.params, grads, tol=1e-6)
    assert report.ok, str(report)


def test_loss_is_the_mean_over_the_batch():
    rng = np.random.default_rng(0)
    net = backprop.MLP([3, 4, 2], hidden="tanh", output="sigmoid")
    X, Y = data(net, 6, rng)
    per_example = [net.loss(X[:, [b]], Y[:, [b]]) for b in range(6)]
    assert net.loss(X, Y) == pytest.approx(np.mean(per_example), rel=1e-14)
    G = net.gradients(X, Y)
    G_loop = [net.gradients(X[:, [b]], Y[:, [b]]) for b in range(6)]
    for k in G:
        np.testing.assert_allclose(G[k], np.mean([g[k] for g in G_loop], axis=0), atol=1e-15)


def test_params_layout_and_seed():
    a = backprop.MLP([4, 8, 3], hidden="relu", seed=5)
    b = backprop.MLP([4, 8, 3], hidden="relu", seed=5)
    assert list(a.params) == ["W1", "b1", "W2", "b2"]
    assert a.params["W1"].shape == (8, 4) and a.params["b1"].shape == (8, 1)
    assert a.params["W2"].shape == (3, 8) and a.params["b2"].shape == (3, 1)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_float32_network():
    net = backprop.MLP([4, 6, 3], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32)
    rng = np.random.default_rng(0)
    X, Y = data(net, 5, rng)
    E, grads = net.loss_and_gradients(X, Y)
    assert all(g.dtype == np.float32 for g in grads.values())
    ref = backprop.MLP([4, 6, 3], hidden="relu", output="softmax", loss="cross_entropy")
    ref.params = {k: v.astype(np.float64) for k, v in net.params.items()}
    for k, g in ref.gradients(X, Y).items():
        np.testing.assert_allclose(grads[k], g, rtol=1e-4, atol=1e-6)
