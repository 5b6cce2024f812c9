"""backprop.differential: the Frobenius product, the rules dv, ds, dE and the first-order remainder."""

import numpy as np
import pytest

from backprop import differential
from backprop.activations import sigmoid
from backprop.checking import numerical_gradient, relative_error
from backprop.seed import E, example, forward


def test_frobenius_is_trace_and_entry_sum():
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    value = differential.frobenius(A, B)
    assert value == pytest.approx(np.trace(A.T @ B), rel=1e-13)
    assert value == pytest.approx(sum(A[i, j] * B[i, j] for i in range(5) for j in range(4)), rel=1e-13)
    assert value == pytest.approx(differential.frobenius(B, A), rel=1e-15)


def test_frobenius_rejects_unequal_shapes():
    with pytest.raises(ValueError, match=r"\(5, 1\).*\(5,\)"):
        differential.frobenius(np.ones((5, 1)), np.ones(5))


def test_frobenius_trace_moves():
    """A : (B C) = (B^T A) : C = (A C^T) : B for non-square factors (each side computed independently)."""
    rng = np.random.default_rng(1)
    A, B, C = rng.standard_normal((3, 5)), rng.standard_normal((3, 4)), rng.standard_normal((4, 5))
    lhs = differential.frobenius(A, B @ C)
    assert differential.frobenius(B.T @ A, C) == pytest.approx(lhs, rel=1e-12)
    assert differential.frobenius(A @ C.T, B) == pytest.approx(lhs, rel=1e-12)


def test_dv_is_exact_change_of_v():
    W, x, _ = example()
    dW = np.random.default_rng(2).standard_normal(W.shape)  # not small: v is linear in W
    np.testing.assert_allclose(differential.dv(x, dW), (W + dW) @ x - W @ x, rtol=1e-12, atol=1e-12)
    assert differential.dv(x.ravel(), dW).shape == (5, 1)


@pytest.mark.parametrize("t", [1e-3, 1e-4, 1e-5])
def test_ds_is_first_order_change_of_s(t):
    rng = np.random.default_rng(3)
    v, D = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    s = sigmoid(v)
    gap = np.linalg.norm(sigmoid(v + t * D) - s - differential.ds(s, t * D))
    assert gap < 0.2 * t**2 * np.linalg.norm(D) ** 2  # |sigma''| <= 0.1: Taylor bound


@pytest.mark.parametrize("t", [1e-3, 1e-4, 1e-5])
def test_dE_from_ds_is_first_order_change_of_E(t):
    rng = np.random.default_rng(4)
    s, y, D = rng.uniform(size=(5, 1)), rng.uniform(size=(5, 1)), rng.standard_normal((5, 1))
    change = 0.5 * np.sum((s + t * D - y) ** 2) - 0.5 * np.sum((s - y) ** 2)
    # E is quadratic in s: the remainder is exactly 1/2 ||t D||^2
    assert change - differential.dE_from_ds(s, y, t * D) == pytest.approx(
        0.5 * t**2 * np.sum(D * D), rel=1e-5
    )


def test_chained_rules_give_dE():
    W, x, y = example(seed=5)
    dW = np.random.default_rng(5).standard_normal(W.shape)
    f = forward(W, x, y)
    chained = differential.dE_from_ds(f.s, f.y, differential.ds(f.s, differential.dv(f.x, dW)))
    assert chained == pytest.approx(differential.dE(W, x, y, dW), rel=1e-12)


def test_rules_reject_mismatched_shapes():
    s = np.full((5, 1), 0.5)
    with pytest.raises(ValueError, match=r"\(5, 1\).*\(4, 1\)"):
        differential.ds(s, np.ones((4, 1)))
    with pytest.raises(ValueError, match="shape"):
        differential.dv(np.ones((3, 1)), np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"\(5, 1\).*\(1, 5\)"):
        differential.dE_from_ds(s, s, np.ones((1, 5)))
    with pytest.raises(TypeError, match="float"):
        differential.ds(s, np.ones((5, 1), dtype=int))
    with pytest.raises(ValueError, match="NaN or infinite"):
        differential.dv(np.ones((4, 1)), np.full((5, 4), np.nan))


def test_remainder_is_second_order():
    W, x, y = example()
    D = np.random.default_rng(6).standard_normal(W.shape)
    ts = np.logspace(-5, -1, 9)
    r = np.array([abs(differential.remainder(W, x, y, t * D)) for t in ts])
    slope = np.polyfit(np.log10(ts), np.log10(r), 1)[0]
    assert abs(slope - 2) < 0.05


def test_remainder_of_a_wrong_gradient_is_first_order():
    """The remainder test has teeth: with 2G in place of G the leftover is first order."""
    W, x, y = example()
    D = np.random.default_rng(7).standard_normal(W.shape)
    G = differential.grad_W(W, x, y)
    for t in (1e-3, 1e-4):
        wrong = E(W + t * D, x, y) - E(W, x, y) - differential.frobenius(2 * G, t * D)
        assert abs(wrong) == pytest.approx(abs(differential.frobenius(G, t * D)), rel=1e-2)


def test_remainder_rejects_dW_of_wrong_shape():
    W, x, y = example()
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(4, 5\)"):
        differential.remainder(W, x, y, np.zeros((4, 5)))


@pytest.mark.parametrize("grad", [differential.grad_W, differential.grad_W_hadamard])
def test_gradients_match_finite_differences(grad):
    W, x, y = example(seed=8, m=3, n=6)
    N = numerical_gradient(lambda A: E(A, x, y), W)
    G = grad(W, x, y)
    assert G.shape == W.shape and relative_error(G, N) < 1e-8


def test_large_inputs_stay_finite():
    W, x, y = example()
    W = 1e3 * W
    G = differential.grad_W_hadamard(W, x, y)
    assert np.all(np.isfinite(G))
    assert np.isfinite(differential.remainder(W, x, y, 1e-6 * np.ones_like(W)))
