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


# ------------------------------------------------------------------------------------- variants
# What the layer computes: PyTorch's cross-correlation as written; a true convolution (the kernel
# flipped); a cross-correlation with dilation 2 (the kernel's taps two pixels apart).
WINDOW = "Xp[:, :, u * s : u * s + k, v * s : v * s + k]"
VARIANTS = {"layer": {
    "cross_correlation": [],
    "convolution": [
        ("(a cross-correlation, as in PyTorch)",
         "(a true convolution: the kernel is flipped, unlike PyTorch's cross-correlation)"),
        (r"K_{f c i j}\, \tilde X", r"K_{f,\, c,\, k-1-i,\, k-1-j}\, \tilde X"),
        (r"G_{nfuv}\, \tilde X_{n,\, c,\, us+i,\, vs+j}", r"G_{nfuv}\, \tilde X_{n,\, c,\, us+k-1-i,\, vs+k-1-j}"),
        (r"G_{nfuv}\, K_{fcij},", r"G_{nfuv}\, K_{f,\, c,\, k-1-i,\, k-1-j},"),
        ("weighted by the upstream gradient there.",
         "weighted by the upstream gradient there, flipped: kernel entry $(i, j)$ met window entry "
         "$(k-1-i, k-1-j)$."),
        ('np.einsum("ncij,fcij->nf", window, K)', 'np.einsum("ncij,fcij->nf", window, K[:, :, ::-1, ::-1])'),
        ("    return dK\n", "    return dK[:, :, ::-1, ::-1]\n"),
        ('np.einsum("nf,fcij->ncij", G_uv, K)', 'np.einsum("nf,fcij->ncij", G_uv, K[:, :, ::-1, ::-1])')],
    "dilated": [
        ("stride $s$ and zero padding $p$ computes",
         "stride $s$, zero padding $p$ and **dilation 2** (the kernel's taps two pixels apart) computes"),
        (r"\tilde X_{n,\, c,\, us + i,\, vs + j}", r"\tilde X_{n,\, c,\, us + 2i,\, vs + 2j}"),
        (r"\frac{H + 2p - k}{s}", r"\frac{H + 2p - 2(k - 1) - 1}{s}"),
        (r"\tilde X_{n,\, c,\, us+i,\, vs+j}", r"\tilde X_{n,\, c,\, us+2i,\, vs+2j}"),
        (r"us + i = \alpha,\; vs + j = \beta", r"us + 2i = \alpha,\; vs + 2j = \beta"),
        ("When $s < k$ the windows", "When $s < 2k - 1$ the windows"),
        ("dout = rng.standard_normal((2, 3, 3, 3))  # dE/dY: Y is (2, 3, 3, 3) here",
         "dout = rng.standard_normal((2, 3, 2, 2))  # dE/dY: Y is (2, 3, 2, 2) here"),
        ("Hy, Wy = (Xp.shape[2] - k) // s + 1, (Xp.shape[3] - k) // s + 1",
         "Hy, Wy = (Xp.shape[2] - 2 * k + 1) // s + 1, (Xp.shape[3] - 2 * k + 1) // s + 1"),
        (WINDOW, "Xp[:, :, u * s : u * s + 2 * k - 1 : 2, v * s : v * s + 2 * k - 1 : 2]"),
        ("rows, cols = slice(u * s, u * s + k), slice(v * s, v * s + k)",
         "rows, cols = slice(u * s, u * s + 2 * k - 1, 2), slice(v * s, v * s + 2 * k - 1, 2)")],
}}


def flipped(K):
    return K[:, :, ::-1, ::-1]


def dilated(K):
    """The kernel (F, C, 2k-1, 2k-1) with K's taps two apart and zeros between: a dilated
    cross-correlation with K is the plain one with it."""
    F, C, k, _ = K.shape
    Kd = np.zeros((F, C, 2 * k - 1, 2 * k - 1))
    Kd[:, :, ::2, ::2] = K
    return Kd


def _dilated_assigned(X, K, b, dout, stride, padding):
    """'=' instead of '+=' where dilated windows share pixels."""
    p, s, k = padding, stride, K.shape[2]
    dXp = np.zeros((X.shape[0], X.shape[1], X.shape[2] + 2 * p, X.shape[3] + 2 * p))
    for u, v in np.ndindex(dout.shape[2:]):
        rows, cols = slice(u * s, u * s + 2 * k - 1, 2), slice(v * s, v * s + 2 * k - 1, 2)
        dXp[:, :, rows, cols] = np.einsum("nf,fcij->ncij", dout[:, :, u, v], K)
    return {"windows_assigned_instead_of_added": (
        dXp[:, :, p:p + X.shape[2], p:p + X.shape[3]],
        "your gradient assigns each window's contribution (=) where windows sharing pixels must add up (+=)")}


def make_tests(layer):
    """TESTS of a variant: the reference cross-correlation with the flipped or the dilated kernel
    (the notebook as written: the tests above, unchanged)."""
    if layer == "cross_correlation":
        return TESTS
    kernel = flipped if layer == "convolution" else dilated

    def layers_(rng):
        cases = []
        for C, F, H, W, k, s, p in SHAPES:
            X, K, b = rng.standard_normal((2, C, H, W)), rng.standard_normal((F, C, k, k)), rng.standard_normal(F)
            Y, _ = conv2d.forward(X, kernel(K), b, stride=s, padding=p)
            cases.append(dict(X=X, K=K, b=b, dout=rng.standard_normal(Y.shape), stride=s, padding=p))
        return cases

    def forward_(X, K, b, stride, padding, **_):
        return forward(X, kernel(K), b, stride, padding)

    def grad_K_(X, K, b, dout, stride, padding):
        dK = grads(X, kernel(K), b, dout, stride, padding)[1]
        return flipped(dK) if layer == "convolution" else dK[:, :, ::2, ::2]

    def grad_X_(X, K, b, dout, stride, padding):
        return grads(X, kernel(K), b, dout, stride, padding)[0]

    def x_mistakes_(X, K, b, dout, stride, padding):
        if layer == "convolution":
            return x_mistakes(X, flipped(K), b, dout, stride, padding)
        return _dilated_assigned(X, K, b, dout, stride, padding)

    call = {g: t["call"] for g, t in TESTS.items()}
    return {
        "test_conv2d_forward_shape": dict(kind="shape", call=call["test_conv2d_forward_shape"], cases=layers_,
                                          expected=forward_, noun="output Y"),
        "test_conv2d_forward_values": dict(call=call["test_conv2d_forward_values"], cases=layers_,
                                           expected=forward_, noun="output Y"),
        "test_grad_K_shape": dict(kind="shape", call=call["test_grad_K_shape"], cases=layers_, expected=grad_K_,
                                  noun="gradient"),
        "test_grad_K_values": dict(call=call["test_grad_K_values"], cases=layers_, expected=grad_K_,
                                   noun="gradient"),
        "test_grad_X_shape": dict(kind="shape", call=call["test_grad_X_shape"], cases=layers_, expected=grad_X_,
                                  noun="gradient"),
        "test_grad_X_values": dict(call=call["test_grad_X_values"], cases=layers_, noun="gradient",
                                   expected=grad_X_, mistakes=x_mistakes_),
    }
