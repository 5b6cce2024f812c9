"""backprop.layers.maxpool2d: overlapping windows, ties (first maximum, as PyTorch and JAX),
central differences with random upstream gradients, JAX's forward and backward (lax.reduce_window)."""

import jax_reference as jr
import numpy as np
import pytest

from backprop.layers import gradcheck, maxpool2d

# (H, W, size, stride): stride < size overlaps
CASES = [(4, 4, 2, 2), (5, 5, 3, 1), (7, 6, 3, 2), (6, 7, (2, 3), (1, 2)), (5, 5, 2, 3)]


def distinct(B, C, H, W, seed=0):
    """Inputs without ties, entries at least 0.01 apart (central differences step 1e-6)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(B * C * H * W).reshape(B, C, H, W) / 100.0


def pool_loops(X, size, stride):
    kh, kw = (size, size) if np.isscalar(size) else size
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    Ho, Wo = (X.shape[2] - kh) // sh + 1, (X.shape[3] - kw) // sw + 1
    out = np.empty(X.shape[:2] + (Ho, Wo))
    for p in range(Ho):
        for q in range(Wo):
            out[:, :, p, q] = X[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw].max(axis=(2, 3))
    return out


@pytest.mark.parametrize("H, W, size, stride", CASES)
def test_forward_is_the_definition_and_backward_matches_central_differences(H, W, size, stride):
    for seed in range(3):
        X = distinct(2, 3, H, W, seed)
        np.testing.assert_array_equal(maxpool2d.forward(X, size, stride)[0], pool_loops(X, size, stride))
        report = gradcheck(maxpool2d, X, size=size, stride=stride, seed=seed)
        assert report.ok, str(report)


def test_overlapping_windows_add_up_at_a_shared_maximum():
    X = np.zeros((1, 1, 3, 3))
    X[0, 0, 1, 1] = 5.0  # the maximum of all four 2x2 windows
    out, cache = maxpool2d.forward(X, 2, 1)
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    (dX,) = maxpool2d.backward(dout, cache)
    assert dX[0, 0, 1, 1] == 10.0 and dX.sum() == 10.0


def test_ties_go_to_the_first_maximum_in_row_major_order():
    X = np.array([[[[1.0, 3.0, 3.0], [3.0, 2.0, 0.0], [3.0, 3.0, 3.0]]]])
    out, cache = maxpool2d.forward(X, 2, 1)
    (dX,) = maxpool2d.backward(np.ones(out.shape), cache)
    expected = np.zeros((3, 3))
    expected[0, 1] = 2.0  # windows (0, 0) [1 3; 3 2] and (0, 1) [3 3; 2 0]: first 3 at (0, 1)
    expected[1, 0] = 1.0  # window (1, 0) [3 2; 3 3]: first 3 at (1, 0)
    expected[2, 1] = 1.0  # window (1, 1) [2 0; 3 3]: first 3 at (2, 1)
    np.testing.assert_array_equal(dX[0, 0], expected)


def test_at_a_tie_every_window_sends_its_whole_gradient_to_one_maximum():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(float)  # many ties
    out, cache = maxpool2d.forward(X, 3, 1)
    G = rng.standard_normal(out.shape)
    (dX,) = maxpool2d.backward(G, cache)
    np.testing.assert_allclose(dX.sum(axis=(2, 3)), G.sum(axis=(2, 3)), rtol=1e-12)
    for p in range(out.shape[2]):  # one window alone: its dout lands on a maximum
        for q in range(out.shape[3]):
            one = np.zeros(out.shape)
            one[:, :, p, q] = 1.0
            (d,) = maxpool2d.backward(one, cache)
            window = d[:, :, p : p + 3, q : q + 3]
            assert np.all(window.sum(axis=(2, 3)) == 1) and np.all((window == 1) | (window == 0))
            assert np.all(X[:, :, p : p + 3, q : q + 3][window == 1] == out[:, :, p, q].ravel())


def test_central_differences_at_a_tie_give_half_to_each_of_two_maxima():
    """Not a bug of either side: max is not differentiable at a tie; the one-sided
    derivatives are 1 and 0, the central difference averages them."""
    X = np.array([[[[2.0, 2.0], [0.0, 1.0]]]])
    report = gradcheck(maxpool2d, X, size=2, stride=2, dout=np.ones((1, 1, 1, 1)))
    np.testing.assert_allclose(report.numerical["X"][0, 0], [[0.5, 0.5], [0, 0]], atol=1e-9)
    (dX,) = maxpool2d.backward(np.ones((1, 1, 1, 1)), maxpool2d.forward(X, 2, 2)[1])
    np.testing.assert_array_equal(dX[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_float32_stays_float32():
    X = distinct(1, 2, 5, 5).astype(np.float32)
    out, cache = maxpool2d.forward(X, 3, 2)
    assert out.dtype == np.float32 and maxpool2d.backward(np.ones_like(out), cache)[0].dtype == np.float32


@pytest.mark.parametrize("H, W, size, stride", CASES)
@pytest.mark.parametrize("ties", [False, True])
def test_matches_jax_forward_and_backward(H, W, size, stride, ties):
    """With ties too: JAX's gradient of lax.reduce_window(max) on the CPU also sends each window's
    whole upstream gradient to its first maximum in row-major order."""
    rng = np.random.default_rng(5)
    X = rng.integers(0, 3, size=(2, 3, H, W)).astype(float) if ties else distinct(2, 3, H, W)
    out, cache = maxpool2d.forward(X, size, stride)
    G = rng.standard_normal(out.shape)
    (dX,) = maxpool2d.backward(G, cache)
    ref_out, (ref_dX,) = jr.vjp(jr.maxpool2d, (X,), G, size=size, stride=stride)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_allclose(dX, ref_dX, rtol=1e-12, atol=1e-12)
