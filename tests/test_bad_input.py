"""Bad input gets a clear error, never a silent wrong answer."""

import warnings

import numpy as np
import pytest

import backprop
from backprop import differential, jacobian, subscript
from backprop.activations import log_softmax, sigmoid, softmax
from backprop.seed import example

GRADS = [
    subscript.grad_W,
    subscript.grad_W_einsum,
    jacobian.grad_W,
    jacobian.grad_W_vec,
    differential.grad_W,
    differential.grad_W_hadamard,
]


@pytest.mark.parametrize("grad", GRADS)
def test_broadcasting_trap_column_minus_vector(grad):
    W, x, y = example()
    with pytest.raises(ValueError, match=r"\(5,\).*\(5, 1\)"):
        grad(W, x, y.ravel())  # s is (5, 1), y is (5,): numpy would make (5, 5)
    with pytest.raises(ValueError, match=r"\(5, 1\).*\(5,\)"):
        grad(W, x.ravel(), y)  # s is (5,), y is (5, 1)


@pytest.mark.parametrize("grad", GRADS)
@pytest.mark.parametrize("bad", ["x_len", "x_row", "y_len", "W_1d", "W_3d"])
def test_shape_mismatches_name_the_shapes(grad, bad):
    W, x, y = example()
    args = {
        "x_len": (W, np.ones((3, 1)), y),
        "x_row": (W, x.T, y),
        "y_len": (W, x, np.ones((4, 1))),
        "W_1d": (W.ravel(), x, y),
        "W_3d": (W[None], x, y),
    }[bad]
    with pytest.raises(ValueError, match=r"shape"):
        grad(*args)


@pytest.mark.parametrize("grad", GRADS)
@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(grad, which, value):
    args = list(example())
    args[which] = args[which].copy()
    args[which].flat[0] = value
    with pytest.raises(ValueError, match="NaN or infinite"):
        grad(*args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_check_accepts_huge_finite_values_and_rejects_any_non_finite(dtype):
    # a cheaper check by summing first was tried: the sum of huge finite entries overflows and warns
    from backprop._checks import as_float_array

    big = np.finfo(dtype).max
    assert as_float_array(np.array([big, big, -big], dtype=dtype), "A").shape == (3,)  # no warning either
    for entries in ([big, np.inf], [np.inf, -np.inf], [-big, np.nan, big]):
        with pytest.raises(ValueError, match="NaN or infinite"):
            as_float_array(np.array(entries, dtype=dtype), "A")


@pytest.mark.parametrize("grad", GRADS)
@pytest.mark.parametrize("dtype", [np.int64, bool, object, np.complex128])
def test_non_float_dtypes(grad, dtype):
    W, x, y = example()
    with pytest.raises(TypeError, match="float"):
        grad(W.astype(dtype), x, y)


@pytest.mark.parametrize("grad", GRADS)
def test_empty_arrays(grad):
    with pytest.raises(ValueError, match="empty"):
        grad(np.zeros((0, 4)), np.ones((4, 1)), np.zeros((0, 1)))


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown activation"):
        backprop.MLP([2, 3], hidden=None, output="sigmoidd")
    with pytest.raises(ValueError, match="unknown loss"):
        backprop.MLP([2, 3], hidden=None, loss="mse")
    with pytest.raises(ValueError, match="cross_entropy"):
        backprop.MLP([2, 3], hidden=None, output="tanh", loss="cross_entropy")
    with pytest.raises(ValueError, match="hidden"):
        backprop.MLP([2, 3, 4], hidden=None)
    with pytest.raises(ValueError, match="sizes"):
        backprop.MLP([2])


def test_mlp_shape_errors():
    net = backprop.MLP([3, 4, 2], hidden="tanh", output="softmax", loss="cross_entropy")
    X = np.ones((3, 5))
    Y = np.eye(2)[:, [0, 1, 0, 1, 0]]
    with pytest.raises(ValueError, match=r"\(3, B\)"):
        net.loss(np.ones((4, 5)), Y)
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        net.loss(np.ones(3), Y[:, :1])
    with pytest.raises(ValueError, match=r"\(2, 5\)"):
        net.loss(X, Y[:, :4])
    with pytest.raises(ValueError, match="sum to 1"):
        net.loss(X, 0.3 * Y)
    with pytest.raises(TypeError, match="float"):
        net.loss(X.astype(int), Y)
    with pytest.raises(ValueError, match="W1"):
        net.gradients(X, Y, params={**net.params, "W1": np.ones((2, 2))})


@pytest.mark.parametrize("big", [1e3, 50.0, 710.0])
def test_stable_numerics_for_large_inputs(big):
    v = np.array([[-big], [0.0], [big]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(v)
        p = softmax(v)
        lp = log_softmax(v)
        net = backprop.MLP([1, 3], hidden=None, output="softmax", loss="cross_entropy", bias=False)
        net.params["W1"][:] = v
        E = net.loss(np.ones((1, 1)), np.array([[1.0], [0.0], [0.0]]))
        G = net.gradients(np.ones((1, 1)), np.array([[1.0], [0.0], [0.0]]))
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert s[0, 0] < 1e-20 and s[2, 0] == 1.0
    np.testing.assert_allclose(p.sum(), 1.0)
    assert np.all(np.isfinite(lp))
    assert np.isfinite(E) and E == pytest.approx(
        2 * big, rel=1e-12
    )  # -log p_0 = 2*big + log(1 + e^-big + ...)
    assert all(np.all(np.isfinite(g)) for g in G.values())


def test_sigmoid_cross_entropy_is_stable():
    net = backprop.MLP([1, 2], hidden=None, output="sigmoid", loss="cross_entropy", bias=False)
    net.params["W1"][:] = [[1e3], [-1e3]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        E = net.loss(np.ones((1, 1)), np.array([[0.0], [1.0]]))
    assert E == pytest.approx(2e3)


# -- the silent wrong answers found by the independent review (issue 12) -------------------------


def test_integer_input_to_activations_is_promoted_like_numpy():
    v = np.arange(-3, 4)
    np.testing.assert_allclose(sigmoid(v), 1 / (1 + np.exp(-v.astype(float))), rtol=1e-15)
    assert sigmoid(v).dtype == np.float64 and backprop.activations.relu(v).dtype == np.float64
    np.testing.assert_allclose(softmax(np.array([[1], [2], [3]])), softmax(np.array([[1.0], [2.0], [3.0]])))
    with pytest.raises(TypeError, match="real"):
        sigmoid(np.array([1 + 2j]))


def test_jacobian_blocks_accept_only_columns():
    s, y = np.full((5, 1), 0.3), np.full((5,), 0.1)
    with pytest.raises(ValueError, match=r"y must be a column of shape \(n, 1\), got shape \(5,\)"):
        jacobian.dE_ds(s, y)
    with pytest.raises(ValueError, match=r"\(5, 1\).*\(4, 1\)"):
        jacobian.dE_ds(s, np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"s must be a column.*\(1, 5\)"):
        jacobian.ds_dv(s.T)
    for f in (jacobian.dv_dW, jacobian.dv_dvecW):
        with pytest.raises(ValueError, match=r"x must be a column.*\(1, 4\)"):
            f(np.ones((1, 4)), 5)
        with pytest.raises(ValueError, match="m must be a positive integer"):
            f(np.ones((4, 1)), 2.5)
    with pytest.raises(TypeError, match="dtype int"):
        jacobian.ds_dv(np.ones((5, 1), dtype=int))


def test_mlp_params_must_be_finite_real_arrays_of_the_models_dtype():
    net = backprop.MLP([3, 4, 2])
    X, Y = np.ones((3, 2)), np.full((2, 2), 0.5)
    for bad, err, msg in [
        (np.nan, ValueError, r"params\['W1'\] \(shape \(4, 3\)\) contains NaN"),
        (1j, TypeError, r"params\['W1'\] has dtype complex128.*float64"),
        (np.float16(1), TypeError, "dtype float16"),
        (np.float32(1), TypeError, "dtype float32"),
    ]:
        W1 = (
            net.params["W1"] + bad
            if isinstance(bad, (float, complex))
            else net.params["W1"].astype(type(bad))
        )
        for call in (net.loss, net.gradients):
            with pytest.raises(err, match=msg):
                call(X, Y, params={**net.params, "W1": W1})
    with pytest.raises(TypeError, match="masked"):
        net.loss(X, Y, params={**net.params, "W1": np.ma.masked_array(net.params["W1"])})
    with pytest.raises(ValueError, match=r"shape \(3, 4\), expected \(4, 3\)"):
        net.loss(X, Y, params={**net.params, "W1": net.params["W1"].T})
    net32 = backprop.MLP([3, 4, 2], dtype=np.float32)
    with pytest.raises(TypeError, match="float32"):
        net32.loss(X, Y, params={k: P.astype(np.float64) for k, P in net32.params.items()})


def test_masked_arrays_are_refused_everywhere():
    W, x, y = example()
    Wm = np.ma.masked_array(W, mask=np.zeros_like(W, dtype=bool))
    for f in (differential.grad_W, jacobian.grad_W, subscript.grad_W):
        with pytest.raises(TypeError, match="masked"):
            f(Wm, x, y)
    with pytest.raises(TypeError, match="masked"):
        differential.frobenius(Wm, W)


def test_indices_must_be_integers_in_range():
    W, x, y = example()
    for i, j in [(1.5, 0), (0, 1.0), (True, 0), ("1", 0)]:
        with pytest.raises(TypeError, match="must be an integer"):
            subscript.dE_dw(W, x, y, i, j)
        with pytest.raises(TypeError, match="must be an integer"):
            subscript.chain_terms(W, x, y, i, j)
    with pytest.raises(IndexError, match=r"\(-1, 0\)"):
        subscript.dE_dw(W, x, y, -1, 0)
    f = backprop.seed.forward(W, x, y)
    with pytest.raises(IndexError, match="k = 5"):
        subscript.dv_dw(f, 5, 0, 0)
    assert subscript.dE_dw(W, x, y, np.int64(1), 2) == subscript.dE_dw(W, x, y, 1, 2)


def test_differential_dE_checks_dW():
    W, x, y = example()
    with pytest.raises(ValueError, match=r"W has shape \(5, 4\) but dW has shape \(4, 5\)"):
        differential.dE(W, x, y, W.T)
    with pytest.raises(ValueError, match=r"dW must be 2-D"):
        differential.dE(W, x, y, W.ravel())
    with pytest.raises(TypeError, match="dW"):
        differential.dE(W, x, y, np.ones((5, 4), dtype=int))
    with pytest.raises(ValueError, match="dW contains NaN"):
        differential.dE(W, x, y, np.full((5, 4), np.nan))


def test_losses_check_shapes():
    from backprop import losses

    S = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        losses.half_squared_error(S, S.T)
    with pytest.raises(TypeError, match="2-D"):
        losses.half_squared_error(S[:, 0], S[:, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finiteness_fast_path_agrees_with_the_entrywise_test(dtype):
    """_all_finite (sum of squares first) gives np.isfinite(...).all() on every kind of entry,
    including huge finite values whose squares overflow and non-contiguous views."""
    from backprop._checks import _all_finite

    big = np.finfo(dtype).max
    rng = np.random.default_rng(0)
    for special in (0.0, 1.0, big, -big, np.inf, -np.inf, np.nan):
        for shape in ((5, 1), (5, 4), (70, 70)):
            a = rng.standard_normal(shape).astype(dtype)
            a[-1, 0] = special
            for view in (a, a.T, a[::2]):
                assert _all_finite(view) == bool(np.isfinite(view).all()), (special, shape)
