"""backprop.layers: bad input gets a clear error naming the argument and the shapes."""

import numpy as np
import pytest

from backprop.layers import attention, batchnorm, conv2d, gradcheck, layernorm, maxpool2d

rng = np.random.default_rng(0)
X2, g, b = rng.standard_normal((4, 5)), rng.standard_normal((4, 1)), rng.standard_normal((4, 1))
X4, K4, b4 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
Q, K, V = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), rng.standard_normal((4, 2))

GOOD = {
    "batchnorm": (batchnorm, (X2, g, b), {}),
    "layernorm": (layernorm, (X2, g, b), {}),
    "conv2d": (conv2d, (X4, K4, b4), {"stride": 2, "padding": 1}),
    "maxpool2d": (maxpool2d, (X4,), {"size": 2, "stride": 1}),
    "attention": (attention, (Q, K, V), {"causal": True}),
}


@pytest.mark.parametrize("name", GOOD)
def test_backward_returns_one_gradient_per_input_of_its_shape_and_dtype(name):
    layer, args, opts = GOOD[name]
    out, cache = layer.forward(*args, **opts)
    grads = layer.backward(np.ones_like(out), cache)
    assert isinstance(grads, tuple) and len(grads) == len(args)
    assert [gr.shape for gr in grads] == [a.shape for a in args]
    assert all(gr.dtype == np.float64 for gr in grads)


@pytest.mark.parametrize("name", GOOD)
@pytest.mark.parametrize("which", [0, -1])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_inputs_are_refused(name, which, value):
    layer, args, opts = GOOD[name]
    args = [a.copy() for a in args]
    args[which].flat[0] = value
    with pytest.raises(ValueError, match="NaN or infinite"):
        layer.forward(*args, **opts)


@pytest.mark.parametrize("name", GOOD)
def test_integer_inputs_are_refused_by_name(name):
    layer, args, opts = GOOD[name]
    args = list(args)
    args[0] = np.ones(args[0].shape, dtype=int)
    with pytest.raises(TypeError, match="floating-point"):
        layer.forward(*args, **opts)


@pytest.mark.parametrize("name", GOOD)
def test_dout_of_the_wrong_shape_is_refused(name):
    layer, args, opts = GOOD[name]
    out, cache = layer.forward(*args, **opts)
    with pytest.raises(ValueError, match=r"dout has shape \(\d+,\) but the layer's output has shape"):
        layer.backward(np.ones(out.shape[:1]), cache)
    with pytest.raises(ValueError, match="NaN or infinite"):
        layer.backward(np.full(out.shape, np.nan), cache)


def test_a_cache_from_another_layer_is_refused():
    _, cache = conv2d.forward(X4, K4, b4)
    with pytest.raises(TypeError, match="cache must be the second value returned by attention.forward"):
        attention.backward(np.ones((4, 2)), cache)
    _, cache = layernorm.forward(X2, g, b)
    with pytest.raises(TypeError, match="layernorm.backward"):
        batchnorm.backward(np.ones(X2.shape), cache)


@pytest.mark.parametrize("layer", [batchnorm, layernorm])
@pytest.mark.parametrize(
    "bad, match",
    [
        (
            lambda: (X2, g[:3], b),
            r"gamma has shape \(3, 1\) but X of shape \(4, 5\) has 4 features.*\(4, 1\)",
        ),
        (lambda: (X2, g, b.T), r"beta has shape \(1, 4\)"),
        (lambda: (X2, g.ravel()[None], b), r"gamma has shape \(1, 4\)"),
        (lambda: (X2[0], g, b), r"X must be 2-D \(n, B\).*got shape \(5,\)"),
        (lambda: (X2[None], g, b), r"X must be 2-D"),
    ],
)
def test_normalisation_shapes(layer, bad, match):
    with pytest.raises(ValueError, match=match):
        layer.forward(*bad())


@pytest.mark.parametrize("eps", [0.0, -1e-5, np.nan])
def test_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match="eps must be a finite positive number"):
        batchnorm.forward(X2, g, b, eps=eps)
    with pytest.raises(TypeError, match="eps must be a positive real number"):
        layernorm.forward(X2, g, b, eps="1e-5")


def test_batchnorm_needs_two_examples():
    with pytest.raises(ValueError, match=r"at least 2 examples.*\(4, 1\)"):
        batchnorm.forward(X2[:, :1], g, b)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda: (X4[0], K4, b4), r"X must be 4-D \(B, C, n_h, n_w\).*got shape \(3, 6, 6\)"),
        (
            lambda: (X4, K4[:, :2], b4),
            r"K has shape \(2, 2, 3, 3\) with 2 channels but X .* has 3.*\(2, 3, kh, kw\)",
        ),
        (lambda: (X4, K4, b4[:, None]), r"b must be 1-D"),
        (lambda: (X4, K4, b4[:1]), r"b has shape \(1,\) but K has 2 kernels.*\(2,\)"),
        (
            lambda: (X4, np.ones((2, 3, 7, 3)), b4),
            r"kernel height 7 is larger than the padded input height 6",
        ),
    ],
)
def test_conv2d_shapes(bad, match):
    with pytest.raises(ValueError, match=match):
        conv2d.forward(*bad())


@pytest.mark.parametrize(
    "opts, error, match",
    [
        ({"stride": 0}, ValueError, "stride must be at least 1"),
        ({"stride": 1.5}, TypeError, "stride must be an int or a pair"),
        ({"stride": (1, 2, 3)}, TypeError, "stride must be an int or a pair"),
        ({"padding": -1}, ValueError, "padding must be at least 0"),
        ({"padding": True}, TypeError, "padding must be an int or a pair"),
    ],
)
def test_conv2d_options(opts, error, match):
    with pytest.raises(error, match=match):
        conv2d.forward(X4, K4, b4, **opts)


@pytest.mark.parametrize(
    "size, stride, error, match",
    [
        (0, 1, ValueError, "size must be at least 1"),
        (2, 0, ValueError, "stride must be at least 1"),
        (7, 1, ValueError, "kernel height 7 is larger than the padded input height 6"),
        ("2", 1, TypeError, "size must be an int or a pair"),
    ],
)
def test_maxpool2d_options(size, stride, error, match):
    with pytest.raises(error, match=match):
        maxpool2d.forward(X4, size, stride)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda: (Q[:, :2], K, V), r"K has shape \(4, 3\) but Q has shape \(4, 2\).*\(4, 2\)"),
        (lambda: (Q, K, V[:3]), r"V has shape \(3, 2\) but K has shape \(4, 3\).*\(4, d_v\)"),
        (lambda: (Q[0], K, V), r"Q must be 2-D \(T, d\).*got shape \(3,\)"),
    ],
)
def test_attention_shapes(bad, match):
    with pytest.raises(ValueError, match=match):
        attention.forward(*bad())


def test_attention_causal_must_be_a_bool():
    with pytest.raises(TypeError, match="causal must be True or False"):
        attention.forward(Q, K, V, causal="yes")


def test_gradcheck_refuses_a_backward_with_the_wrong_number_of_gradients():
    with pytest.raises(ValueError, match="backward returned 2 gradients for 3 inputs"):
        gradcheck(batchnorm, X2, g, b, backward=lambda dout, cache: batchnorm.backward(dout, cache)[:2])
