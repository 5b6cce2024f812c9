"""backprop.init and MLP(init=...): the documented variances, today's default reproduced bit for bit."""

import numpy as np
import pytest

from backprop import MLP
from backprop.init import SCHEMES, weight_std


def _original_weights(sizes, hidden, seed):
    """MLP's weights before the init option existed: N(0, c / n_in), c = 2 for relu hidden layers."""
    rng = np.random.default_rng(seed)
    gain = 2.0 if hidden == "relu" else 1.0
    out = {}
    for l in range(1, len(sizes)):
        scale = np.sqrt(gain / sizes[l - 1]) if l < len(sizes) - 1 else np.sqrt(1.0 / sizes[l - 1])
        out[f"W{l}"] = scale * rng.standard_normal((sizes[l], sizes[l - 1]))
    return out


@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh"])
def test_default_init_is_the_original_one(hidden):
    sizes = [5, 7, 6, 3]
    for s in range(3):
        net = MLP(sizes, hidden=hidden, seed=s)
        for k, W in _original_weights(sizes, hidden, s).items():
            np.testing.assert_array_equal(net.params[k], W)
        assert net.init == "auto"


@pytest.mark.parametrize(
    "scheme, variance",
    [
        ("normal", lambda i, o: 1.0),
        ("lecun", lambda i, o: 1 / i),
        ("xavier", lambda i, o: 2 / (i + o)),
        ("he", lambda i, o: 2 / i),
    ],
)
def test_schemes_have_their_variance(scheme, variance):
    assert weight_std(scheme, 40, 10) == pytest.approx(np.sqrt(variance(40, 10)), rel=1e-15)
    net = MLP([300, 200, 100], hidden="tanh", init=scheme, seed=1)
    for l, (i, o) in enumerate([(300, 200), (200, 100)], start=1):
        W = net.params[f"W{l}"]
        # sample variance of i*o >= 20000 normal draws: within 4 % of the scheme's (4+ std errors)
        assert np.var(W) == pytest.approx(variance(i, o), rel=0.04)


def test_same_draws_different_scale():
    a, b = MLP([4, 6, 2], init="normal", seed=3), MLP([4, 6, 2], init="he", seed=3)
    np.testing.assert_allclose(b.params["W1"], a.params["W1"] * np.sqrt(2 / 4), rtol=1e-15)


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        MLP([2, 3], init="glorot")
    assert set(SCHEMES) == {"auto", "normal", "lecun", "xavier", "he"}
