"""backprop.jacobian: numerator-layout Jacobians, the 3-D dv/dW, its unfoldings, vec and Kronecker."""

import numpy as np
import pytest

from backprop import differential, jacobian
from backprop.activations import sigmoid
from backprop.checking import numerical_gradient
from backprop.seed import E, example


def numerical_jacobian(func, b):
    """Numerator layout [k, l] = d func_k / d b_l by central differences (b a column)."""
    p = func(b).shape[0]
    return np.stack([numerical_gradient(lambda c: func(c)[k, 0], b)[:, 0] for k in range(p)])


def test_dE_ds_is_the_transposed_gradient_of_E_in_s():
    _, _, y = example()
    s = np.random.default_rng(0).uniform(size=(5, 1))
    N = numerical_gradient(lambda t: 0.5 * np.sum((t - y) ** 2), s)  # column (5, 1)
    np.testing.assert_allclose(jacobian.dE_ds(s, y), N.T, atol=1e-9)


def test_ds_dv_matches_a_finite_difference_jacobian():
    v = np.random.default_rng(1).standard_normal((6, 1))
    s = sigmoid(v)
    np.testing.assert_allclose(jacobian.ds_dv(s), numerical_jacobian(sigmoid, v), atol=1e-9)


def test_unfold_row_order_blocks_and_vec_order_is_dv_dvecW():
    rng = np.random.default_rng(2)
    for m, n in [(5, 4), (3, 2), (1, 6)]:
        x = rng.standard_normal((n, 1))
        T = jacobian.dv_dW(x, m)
        U = jacobian.unfold(T)  # columns i*n + j
        assert U.shape == (m, m * n)
        for k in range(m):
            for i in range(m):
                for j in range(n):
                    assert U[k, i * n + j] == T[k, i, j]
        np.testing.assert_array_equal(jacobian.unfold(T, order="F"), jacobian.dv_dvecW(x, m))


def test_unfold_F_is_the_jacobian_of_v_with_respect_to_vec_W():
    W, x, _ = example()
    m, n = W.shape

    def v_of_vecW(w):
        return w.reshape(m, n, order="F") @ x

    N = numerical_jacobian(v_of_vecW, jacobian.vec(W))
    np.testing.assert_allclose(jacobian.unfold(jacobian.dv_dW(x, m), order="F"), N, atol=1e-9)


def test_unfold_rejects_bad_input():
    with pytest.raises(ValueError, match="3-D"):
        jacobian.unfold(np.zeros((5, 20)))
    with pytest.raises(ValueError, match="order"):
        jacobian.unfold(np.zeros((5, 5, 4)), order="A")
    with pytest.raises(TypeError):
        jacobian.unfold(np.zeros((5, 5, 4), dtype=int))


def test_vec_stacks_columns():
    A = np.arange(6.0).reshape(2, 3)  # columns (0, 3), (1, 4), (2, 5)
    np.testing.assert_array_equal(jacobian.vec(A)[:, 0], [0.0, 3.0, 1.0, 4.0, 2.0, 5.0])


@pytest.mark.parametrize("seed", range(6))
def test_denominator_layout_gives_the_same_G(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 8, size=2)
    W, x, y = rng.standard_normal((m, n)), rng.standard_normal((n, 1)), rng.uniform(size=(m, 1))
    G = differential.grad_W(W, x, y)
    np.testing.assert_allclose(jacobian.grad_W_denominator(W, x, y), G, rtol=0, atol=1e-14)
    np.testing.assert_allclose(jacobian.grad_W(W, x, y), G, rtol=0, atol=1e-14)
    np.testing.assert_allclose(jacobian.grad_W_vec(W, x, y), G, rtol=0, atol=1e-14)


def test_denominator_layout_matches_central_differences():
    W, x, y = example(seed=4)
    N = numerical_gradient(lambda A: E(A, x, y), W)
    np.testing.assert_allclose(jacobian.grad_W_denominator(W, x, y), N, rtol=1e-6, atol=1e-10)


def test_denominator_layout_keeps_dtype_and_rejects_broadcasting():
    W, x, y = (a.astype(np.float32) for a in example())
    assert jacobian.grad_W_denominator(W, x, y).dtype == np.float32
    with pytest.raises(ValueError, match=r"\(5,\)"):
        jacobian.grad_W_denominator(W, x, y.ravel())
