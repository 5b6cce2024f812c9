"""backprop.layers.conv2d: a loop reference, central differences with random upstream
gradients (overlapping, gapped and padded windows), the transposed-convolution identity,
and JAX's forward and backward (lax.conv_general_dilated)."""

import jax_reference as jr
import numpy as np
import pytest

from backprop.layers import conv2d, gradcheck

# (C, F, H, W, kh, kw, stride, padding): stride < kernel overlaps, stride > kernel skips
CASES = [
    (1, 1, 5, 5, 3, 3, 1, 0),
    (2, 3, 7, 6, 3, 2, 2, 1),  # overlapping rows (kh 3 > 2), padded
    (2, 2, 8, 8, 3, 3, 2, 0),  # overlapping
    (1, 2, 9, 7, 2, 2, 3, 0),  # gaps: some inputs in no window
    (3, 2, 6, 5, 4, 3, (1, 2), (2, 1)),
    (1, 1, 4, 4, 4, 4, 1, 0),  # a single window
    (2, 1, 3, 3, 5, 5, 1, 1),  # kernel larger than the image, fits with the padding
]


def inputs(C, F, H, W, kh, kw, B=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((B, C, H, W)), rng.standard_normal((F, C, kh, kw)), rng.standard_normal(F))


def conv_loops(X, K, b, stride, padding):
    """The definition, one output entry at a time."""
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    F, C, kh, kw = K.shape
    Ho, Wo = (Xp.shape[2] - kh) // sh + 1, (Xp.shape[3] - kw) // sw + 1
    out = np.zeros((X.shape[0], F, Ho, Wo))
    for n in range(X.shape[0]):
        for f in range(F):
            for p in range(Ho):
                for q in range(Wo):
                    window = Xp[n, :, p * sh : p * sh + kh, q * sw : q * sw + kw]
                    out[n, f, p, q] = b[f] + np.sum(K[f] * window)
    return out


@pytest.mark.parametrize("case", CASES)
def test_forward_is_the_definition(case):
    C, F, H, W, kh, kw, stride, padding = case
    X, K, b = inputs(C, F, H, W, kh, kw)
    out, _ = conv2d.forward(X, K, b, stride=stride, padding=padding)
    np.testing.assert_allclose(out, conv_loops(X, K, b, stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_backward_matches_central_differences_with_random_dout(case):
    C, F, H, W, kh, kw, stride, padding = case
    for seed in range(2):
        report = gradcheck(
            conv2d, *inputs(C, F, H, W, kh, kw, seed=seed), stride=stride, padding=padding, seed=seed + 5
        )
        assert report.ok, str(report)


def test_inputs_outside_every_window_get_zero_gradient():
    X, K, b = inputs(1, 1, 7, 7, 2, 2)
    out, cache = conv2d.forward(X, K, b, stride=3)  # rows/cols 2 and 5 are skipped
    dX = conv2d.backward(np.random.default_rng(1).standard_normal(out.shape), cache)[0]
    assert np.all(dX[:, :, [2, 5], :] == 0) and np.all(dX[:, :, :, [2, 5]] == 0)
    assert np.all(dX[:, :, :2, :2] != 0)


@pytest.mark.parametrize("kh, kw, padding", [(3, 3, 0), (2, 3, 1), (3, 3, 2), (1, 2, 0)])
def test_dX_is_a_correlation_with_the_flipped_kernel(kh, kw, padding):
    """Stride 1: dX = conv(dout padded by k-1-p, K flipped in space, channels swapped)."""
    X, K, b = inputs(2, 3, 6, 7, kh, kw)
    out, cache = conv2d.forward(X, K, b, padding=padding)
    G = np.random.default_rng(2).standard_normal(out.shape)
    dX = conv2d.backward(G, cache)[0]
    K_flipped = K[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, kh, kw)
    transposed, _ = conv2d.forward(G, K_flipped, np.zeros(2), padding=(kh - 1 - padding, kw - 1 - padding))
    np.testing.assert_allclose(dX, transposed, rtol=1e-12, atol=1e-12)


def test_dK_is_a_correlation_of_the_input_with_dout():
    """Stride 1: dK[f, c] = sum_n corr(Xp[n, c], dout[n, f])."""
    X, K, b = inputs(2, 3, 6, 5, 3, 2)
    out, cache = conv2d.forward(X, K, b, padding=1)
    G = np.random.default_rng(4).standard_normal(out.shape)
    dK = conv2d.backward(G, cache)[1]
    Xp = np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1)))
    as_kernel = conv2d.forward(Xp.transpose(1, 0, 2, 3), G.transpose(1, 0, 2, 3), np.zeros(3))[0]
    np.testing.assert_allclose(dK, as_kernel.transpose(1, 0, 2, 3), rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    X, K, b = (a.astype(np.float32) for a in inputs(2, 2, 5, 5, 3, 3))
    out, cache = conv2d.forward(X, K, b, stride=2, padding=1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv2d.backward(np.ones_like(out), cache))


@pytest.mark.parametrize("case", CASES)
def test_matches_jax_forward_and_backward(case):
    C, F, H, W, kh, kw, stride, padding = case
    X, K, b = inputs(C, F, H, W, kh, kw)
    out, cache = conv2d.forward(X, K, b, stride=stride, padding=padding)
    G = np.random.default_rng(7).standard_normal(out.shape)
    grads = conv2d.backward(G, cache)
    ref_out, ref_grads = jr.vjp(jr.conv2d, (X, K, b), G, stride=stride, padding=padding)
    np.testing.assert_allclose(out, ref_out, rtol=1e-10, atol=1e-12)
    for g, r, name in zip(grads, ref_grads, ("X", "K", "b")):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12, err_msg=f"d{name}")
