"""backprop.subscript: one weight at a time, the Kronecker delta, loops and einsum."""

import numpy as np
import pytest

from backprop import differential, subscript
from backprop.checking import numerical_gradient, relative_error
from backprop.seed import E, example, forward


def test_dv_dw_is_kronecker_delta_times_x():
    W, x, y = example()
    f = forward(W, x, y)
    for k in range(5):
        for i in range(5):
            for j in range(4):
                expected = x[j, 0] if k == i else 0.0
                assert subscript.dv_dw(f, k, i, j) == expected


def test_dv_dw_agrees_with_finite_differences_of_v():
    W, x, y = example(seed=1)
    f = forward(W, x, y)
    for k in range(5):
        N = numerical_gradient(lambda A: (A @ x)[k, 0], W)  # N[i, j] = dv_k / dw_ij
        table = np.array([[subscript.dv_dw(f, k, i, j) for j in range(4)] for i in range(5)])
        np.testing.assert_allclose(table, N, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_entry_matches_central_differences(seed):
    W, x, y = example(seed=seed)
    N = numerical_gradient(lambda A: E(A, x, y), W)
    for i in range(5):
        for j in range(4):
            assert subscript.dE_dw(W, x, y, i, j) == pytest.approx(N[i, j], rel=1e-6, abs=1e-10)
    assert relative_error(subscript.grad_W(W, x, y), N) < 1e-8


def test_chain_terms_vanish_except_k_equals_i_and_sum_to_the_entry():
    W, x, y = example()
    f = forward(W, x, y)
    for i in range(5):
        for j in range(4):
            terms = subscript.chain_terms(W, x, y, i, j)
            assert terms.shape == (5,)
            assert np.count_nonzero(np.delete(terms, i)) == 0
            s_i, y_i = f.s[i, 0], f.y[i, 0]
            assert terms[i] == pytest.approx((s_i - y_i) * s_i * (1 - s_i) * x[j, 0], rel=1e-12)
            assert terms.sum() == pytest.approx(subscript.dE_dw(W, x, y, i, j), rel=1e-15, abs=0)


def test_chain_terms_rejects_index_outside_W():
    W, x, y = example()
    with pytest.raises(IndexError, match=r"\(0, 4\)"):
        subscript.chain_terms(W, x, y, 0, 4)


def test_loops_and_einsum_agree_with_the_outer_product_formula():
    rng = np.random.default_rng(3)
    for m, n in [(1, 1), (5, 4), (3, 7)]:
        W, x, y = rng.standard_normal((m, n)), rng.standard_normal((n, 1)), rng.uniform(size=(m, 1))
        G = differential.grad_W(W, x, y)
        np.testing.assert_allclose(subscript.grad_W(W, x, y), G, rtol=0, atol=1e-14)
        np.testing.assert_allclose(subscript.grad_W_einsum(W, x, y), G, rtol=0, atol=1e-14)


def test_bad_input_is_rejected_with_shapes_named():
    W, x, y = example()
    with pytest.raises(ValueError, match=r"\(5,\)"):
        subscript.grad_W(W, x, y.ravel())
    with pytest.raises(TypeError):
        subscript.grad_W_einsum(W.astype(int), x, y)
