"""The three approach modules agree with each other and with finite differences."""

import numpy as np
import pytest

from backprop import differential, jacobian, subscript
from backprop.checking import numerical_gradient, relative_error
from backprop.seed import E, example, forward

PATHS = {
    "subscript": subscript.grad_W,
    "subscript_einsum": subscript.grad_W_einsum,
    "jacobian": jacobian.grad_W,
    "jacobian_vec": jacobian.grad_W_vec,
    "differential": differential.grad_W,
    "differential_hadamard": differential.grad_W_hadamard,
}


def random_case(rng, m, n, column=True):
    W = rng.standard_normal((m, n))
    x = rng.standard_normal((n, 1) if column else n)
    y = rng.uniform(size=(m, 1) if column else m)
    return W, x, y


@pytest.mark.parametrize("seed", range(25))
def test_all_paths_agree_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 9, size=2)
    W, x, y = random_case(rng, m, n, column=bool(seed % 2))
    G = differential.grad_W(W, x, y)
    assert G.shape == W.shape
    for name, grad in PATHS.items():
        np.testing.assert_allclose(grad(W, x, y), G, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", PATHS)
def test_seed_example_matches_central_differences(name):
    W, x, y = example()
    N = numerical_gradient(lambda A: E(A, x, y), W)
    assert relative_error(PATHS[name](W, x, y), N) < 1e-8


def test_seed_formula_of_the_answer():
    """G = (S - S^2)(s x^T - y x^T), written out independently of the package."""
    W, x, y = example(seed=3)
    s = 1 / (1 + np.exp(-W @ x))
    S = np.diag(s[:, 0])
    np.testing.assert_allclose(differential.grad_W(W, x, y), (S - S @ S) @ (s @ x.T - y @ x.T), atol=1e-15)


def test_one_entry_by_subscripts():
    W, x, y = example()
    G = differential.grad_W(W, x, y)
    assert subscript.dE_dw(W, x, y, 2, 3) == pytest.approx(G[2, 3], abs=1e-15)
    with pytest.raises(IndexError):
        subscript.dE_dw(W, x, y, 5, 0)


def test_jacobian_objects_have_documented_shapes_and_structure():
    W, x, y = example()
    f = forward(W, x, y)
    assert jacobian.dE_ds(f.s, f.y).shape == (1, 5)
    J = jacobian.ds_dv(f.s)
    assert J.shape == (5, 5) and np.count_nonzero(J - np.diag(np.diag(J))) == 0
    T = jacobian.dv_dW(f.x, 5)
    assert T.shape == (5, 5, 4)
    for k in range(5):
        for i in range(5):
            expected = f.x[:, 0] if i == k else np.zeros(4)
            np.testing.assert_array_equal(T[k, i], expected)
    K = jacobian.dv_dvecW(f.x, 5)
    assert K.shape == (5, 20)
    np.testing.assert_allclose(K @ jacobian.vec(W), W @ x, atol=1e-14)


def test_dv_dW_is_the_derivative_of_v():
    """Each slice T[k] equals the numerical gradient of v_k with respect to W."""
    W, x, _ = example()
    T = jacobian.dv_dW(x, 5)
    for k in range(5):
        N = numerical_gradient(lambda A: (A @ x)[k, 0], W)
        np.testing.assert_allclose(T[k], N, atol=1e-8)


def test_differential_predicts_the_change_of_E():
    """E(W + t D) - E(W) - t G:D is second order: dividing t by 10 divides it by about 100."""
    W, x, y = example()
    D = np.random.default_rng(7).standard_normal(W.shape)

    def remainder(t):
        return abs(E(W + t * D, x, y) - E(W, x, y) - differential.dE(W, x, y, t * D))

    ratio = remainder(1e-2) / remainder(1e-3)
    assert 80 < ratio < 120, ratio


def test_float32_inputs_give_float32_gradients():
    W, x, y = (a.astype(np.float32) for a in example())
    for name, grad in PATHS.items():
        G = grad(W, x, y)
        assert G.dtype == np.float32, name
        np.testing.assert_allclose(
            G, differential.grad_W(*(a.astype(float) for a in (W, x, y))), rtol=1e-4, atol=1e-6, err_msg=name
        )
