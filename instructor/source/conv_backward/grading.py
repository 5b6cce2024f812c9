"""Grader-side checks of the assignment `conv_backward` (never released, never in the sandbox)."""
import numpy as np

from backprop.layers import conv2d

STUDENT_PACKAGE: dict = {}        # numpy only: backprop.layers is the reference

# (C, F, H, W, k, stride, padding): overlapping windows, padding, gaps between windows
SHAPES = ((2, 3, 6, 6, 3, 1, 0), (1, 2, 7, 5, 3, 2, 1), (2, 2, 7, 7, 2, 3, 0))


def layers(rng):
    """Fresh inputs X (B, C, H, W), kernels K (F, C, k, k), biases b (F,) and a random upstream
    gradient dout of the output's shape, for three strides and paddings."""
    cases = []
    for C, F, H, W, k, s, p in SHAPES:
        X, K, b = rng.standard_normal((2, C, H, W)), rng.standard_normal((F, C, k, k)), rng.standard_normal(F)
        Y, _ = conv2d.forward(X, K, b, stride=s, padding=p)
        cases.append(dict(X=X, K=K, b=b, dout=rng.standard_normal(Y.shape), stride=s, padding=p))
    return cases


def forward(X, K, b, stride, padding, **_):
    return conv2d.forward(X, K, b, stride=stride, padding=padding)[0]


def grads(X, K, b, dout, stride, padding):
    """(dX, dK, db) of the reference layer; test_layers_conv2d checks it against loops, central
    differences and PyTorch."""
    return conv2d.backward(dout, conv2d.forward(X, K, b, stride=stride, padding=padding)[1])


def x_mistakes(X, K, b, dout, stride, padding):
    """'=' instead of '+=' for overlapping windows; the kernel not flipped (stride 1 only)."""
    Xp = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = K.shape[2]
    assigned = np.zeros(Xp.shape)
    for u, v in np.ndindex(dout.shape[2:]):
        rows, cols = slice(u * stride, u * stride + k), slice(v * stride, v * stride + k)
        assigned[:, :, rows, cols] = np.einsum("nf,fcij->ncij", dout[:, :, u, v], K)
    crop = (slice(None), slice(None), slice(padding, padding + X.shape[2]), slice(padding, padding + X.shape[3]))
    wrong = {"windows_assigned_instead_of_added": (
        assigned[crop], "your gradient assigns each window's contribution (=) where overlapping windows must "
                        "add up (+=)")}
    if stride == 1:
        unflipped = conv2d.forward(dout, K.transpose(1, 0, 2, 3), np.zeros(K.shape[1]),
                                   padding=k - 1 - padding)[0]
        if unflipped.shape == X.shape:
            wrong["kernel_not_flipped"] = (
                unflipped, "your gradient convolves dout with the kernel as it is: dE/dX needs the kernel "
                           "flipped (rotated by 180 degrees), a full convolution of dout")
    return wrong


TESTS = {
    "test_conv2d_forward_shape": dict(kind="shape", call="conv2d_forward(X, K, b, stride, padding)",
                                      cases=layers, expected=forward, noun="output Y"),
    "test_conv2d_forward_values": dict(call="conv2d_forward(X, K, b, stride, padding)",
                                       cases=layers, expected=forward, noun="output Y"),
    "test_grad_K_shape": dict(kind="shape", call="grad_K(dout, X, K, stride, padding)", cases=layers,
                              expected=lambda **c: grads(**c)[1], noun="gradient"),
    "test_grad_K_values": dict(call="grad_K(dout, X, K, stride, padding)", cases=layers,
                               expected=lambda **c: grads(**c)[1], noun="gradient"),
    "test_grad_X_shape": dict(kind="shape", call="grad_X(dout, X, K, stride, padding)", cases=layers,
                              expected=lambda **c: grads(**c)[0], noun="gradient"),
    "test_grad_X_values": dict(call="grad_X(dout, X, K, stride, padding)", cases=layers, noun="gradient",
                               expected=lambda **c: grads(**c)[0], mistakes=x_mistakes),
}
