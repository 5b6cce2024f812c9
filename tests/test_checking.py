"""backprop.gradcheck and its pieces."""
import numpy as np
import pytest

import backprop
from backprop.checking import numerical_gradient, relative_error


def test_numerical_gradient_of_a_quadratic():
    A = np.arange(6.0).reshape(2, 3)
    N = numerical_gradient(lambda M: float(np.sum(M ** 2)), A)
    np.testing.assert_allclose(N, 2 * A, atol=1e-8)
    np.testing.assert_array_equal(A, np.arange(6.0).reshape(2, 3))   # input untouched


def test_gradcheck_flags_a_wrong_gradient():
    A = np.random.default_rng(0).standard_normal((3, 2))
    f = lambda M: float(np.sum(np.sin(M)))
    assert backprop.gradcheck(f, A, np.cos(A)).ok
    bad = backprop.gradcheck(f, A, 0.5 * np.cos(A))
    assert not bad.ok and bad.max_error > 0.1
    assert "MISMATCH" in str(bad)


def test_gradcheck_on_dicts_leaves_params_alone():
    net = backprop.MLP([2, 3, 1], hidden="tanh", output="identity")
    before = {k: v.copy() for k, v in net.params.items()}
    X, Y = np.ones((2, 4)), np.zeros((1, 4))
    report = backprop.gradcheck(lambda p: net.loss(X, Y, params=p), net.params, net.gradients(X, Y))
    assert report.ok, str(report)
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])


def test_relative_error_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        relative_error(np.zeros((2, 3)), np.zeros((3, 2)))
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


def test_forward_and_central_difference_error_orders():
    """Halving h halves the forward error (O(h)) and quarters the central one (O(h^2))."""
    A = np.array([[0.3, -0.7], [1.1, 0.2]])
    f = lambda M: float(np.sum(np.exp(M)))
    errs = {s: [np.abs(numerical_gradient(f, A, h, scheme=s) - np.exp(A)).max() for h in (1e-2, 5e-3)]
            for s in ("central", "forward", "backward")}
    assert errs["forward"][0] / errs["forward"][1] == pytest.approx(2, rel=0.02)
    assert errs["backward"][0] / errs["backward"][1] == pytest.approx(2, rel=0.02)
    assert errs["central"][0] / errs["central"][1] == pytest.approx(4, rel=0.02)
    with pytest.raises(ValueError, match="scheme"):
        numerical_gradient(f, A, scheme="sideways")
    np.testing.assert_array_equal(A, [[0.3, -0.7], [1.1, 0.2]])
