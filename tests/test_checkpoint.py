"""backprop.checkpoint: the checkpointed backward gives MLP's numbers for every k and keeps less."""

import tracemalloc

import numpy as np
import pytest

from backprop import MLP
from backprop.checkpoint import checkpointed_loss_and_gradients, segments


def test_segments_cover_every_layer_once():
    for L in range(1, 12):
        for k in range(1, L + 2):
            parts = segments(L, k)
            assert [l for a, b in parts for l in range(a + 1, b + 1)] == list(range(1, L + 1))
    with pytest.raises(ValueError, match="positive integer"):
        segments(4, 0)


@pytest.mark.parametrize(
    "hidden, output, loss, bias",
    [
        ("sigmoid", "sigmoid", "half_squared_error", True),
        ("tanh", "identity", "half_squared_error", False),
        ("relu", "softmax", "cross_entropy", True),
        ("tanh", "sigmoid", "cross_entropy", True),
    ],
)
def test_same_numbers_as_the_plain_backward(hidden, output, loss, bias):
    r = np.random.default_rng(0)
    net = MLP([5, 6, 6, 6, 6, 6, 6, 3], hidden=hidden, output=output, loss=loss, bias=bias, seed=2)
    X = r.standard_normal((5, 9))
    Y = np.eye(3)[:, r.integers(0, 3, 9)] if output == "softmax" else r.uniform(size=(3, 9))
    E, G = net.loss_and_gradients(X, Y)
    for k in range(1, 9):
        Ek, Gk = checkpointed_loss_and_gradients(net, X, Y, k)
        assert Ek == E
        assert list(Gk) == list(G)
        for key in G:
            np.testing.assert_array_equal(Gk[key], G[key])


def _peak(f):
    tracemalloc.start()
    tracemalloc.reset_peak()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_follows_L_over_k_plus_2k():
    """Activations dominate (B >> n): peak ~ (L/k + 2k) arrays of n*B floats, far below 2L."""
    L, n, B = 32, 8, 2048
    net = MLP([n] * (L + 1), hidden="tanh", output="identity", seed=0)
    r = np.random.default_rng(0)
    X, Y = r.standard_normal((n, B)), r.standard_normal((n, B))
    array = n * B * 8
    plain = _peak(lambda: net.loss_and_gradients(X, Y)) / array
    ck = {k: _peak(lambda: checkpointed_loss_and_gradients(net, X, Y, k)) / array for k in (1, 2, 4, 8, 32)}
    assert plain > 2 * L
    assert ck[4] < 0.3 * plain  # L/k + 2k = 16 arrays at k = 4
    for k, m in ck.items():
        model = -(-L // k) + 2 * k
        assert model <= m <= model + 2, (k, m, model)  # one or two temporaries on top


def test_refuses_other_layouts_and_bad_k():
    net = MLP([3, 4, 2], hidden="tanh", output="identity", seed=0)
    X, Y = np.ones((3, 2)), np.ones((2, 2))
    with pytest.raises(ValueError, match="positive integer"):
        checkpointed_loss_and_gradients(net, X, Y, 0)
    net.layout = "batch_first"  # what the layout branch's MLP sets
    with pytest.raises(ValueError, match="layout='column'"):
        checkpointed_loss_and_gradients(net, X, Y, 1)
