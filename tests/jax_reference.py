"""JAX as the independent reference of the layer, CNN and MLP tests (issue 21, item 4).

Every test that says "this agrees with a framework" compares the package with the functions
below. They use JAX's own implementations where JAX has one in float64
(``lax.conv_general_dilated``, ``lax.reduce_window``, ``jax.nn.standardize``, ``jax.nn.softmax``,
``jax.nn.log_softmax`` and the activations of ``jax.nn``) and a few lines of ``jax.numpy`` written
from the maths around them; gradients come from JAX's autodiff (:func:`vjp`,
:func:`value_and_grad`), never from the package's backward rules. JAX installs from PyPI (``jax``
in the ``test`` extra), so these tests run in the README's test command and are never skipped.

Importing this module switches JAX to float64 (``jax_enable_x64``) on the CPU, so comparisons
hold to ~1e-10 rather than float32's ~1e-6. The reference functions take numpy or JAX arrays in
the package's shapes and return JAX arrays (they are differentiated); :func:`vjp` and
:func:`value_and_grad` take and return numpy arrays:

    out, (dX, dK, db) = vjp(conv2d, (X, K, b), dout, stride=2, padding=1)
    E, grads = value_and_grad(mlp_loss, params, X, Y, hidden="relu", output="softmax", ...)

Shapes (as in the package): images batch-first (B, C, H, W), kernels (F, C, kh, kw); attention
Q (T, d), K (S, d), V (S, d_v); normalisation X (n, B) with columns as examples; MLP X (n0, B) in
layout "column" and (B, n0) in layout "batch_first".
"""

from __future__ import annotations

import os
from functools import partial

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # no search for accelerators, no warning about them

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

jax.config.update("jax_enable_x64", True)

__all__ = [
    "jax",
    "jnp",
    "lax",
    "vjp",
    "value_and_grad",
    "conv2d",
    "maxpool2d",
    "attention",
    "framework_attention",
    "standardize",
    "batchnorm",
    "layernorm",
    "cross_entropy",
    "mlp_loss",
    "small_cnn_loss",
]


def _pair(k) -> tuple[int, int]:
    """An int or a pair of ints as the pair (k_h, k_w)."""
    return (int(k), int(k)) if np.isscalar(k) else (int(k[0]), int(k[1]))


def _numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


# -- autodiff -------------------------------------------------------------------------------------


def vjp(f, inputs: tuple, dout, **options) -> tuple[np.ndarray, tuple]:
    """(f(*inputs), the gradients of <dout, f(*inputs)> with respect to every input), by jax.vjp.

    ``options`` are passed to f unchanged (not differentiated). The gradients have the shapes
    of the inputs, in their order. Forward and backward are compiled together (jax.jit): one
    compilation instead of one per primitive and shape.
    """

    def forward_backward(args, g):
        out, pullback = jax.vjp(lambda *a: f(*a, **options), *args)
        return out, pullback(g)

    args = tuple(jnp.asarray(a) for a in inputs)
    out, grads = jax.jit(forward_backward)(args, jnp.asarray(dout))
    return np.asarray(out), _numpy(grads)


def value_and_grad(f, params: dict, *args, **options) -> tuple[float, dict]:
    """(E, {name: dE/dparams[name]}) for a scalar E = f(params, *args, **options), by
    jax.value_and_grad, compiled (jax.jit) with ``args`` and ``options`` as constants."""
    E, G = jax.jit(jax.value_and_grad(lambda p: f(p, *args, **options)))(
        {k: jnp.asarray(P) for k, P in params.items()}
    )
    return float(E), _numpy(G)


# -- layers, JAX's own implementations --------------------------------------------------------------


def conv2d(X, K, b, stride=1, padding=0):
    """Cross-correlation as in ``backprop.layers.conv2d``: X (B, C, H, W), K (F, C, kh, kw), b (F,)
    -> (B, F, H_y, W_y), by ``lax.conv_general_dilated`` (zero padding on both sides)."""
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    out = lax.conv_general_dilated(
        X,
        K,
        window_strides=(sh, sw),
        padding=((ph, ph), (pw, pw)),
        dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=lax.Precision.HIGHEST,
    )
    return out + b[None, :, None, None]


def maxpool2d(X, size, stride):
    """Max pooling of X (B, C, H, W) over (kh, kw) windows, no padding, by ``lax.reduce_window``."""
    (kh, kw), (sh, sw) = _pair(size), _pair(stride)
    return lax.reduce_window(X, -jnp.inf, lax.max, (1, 1, kh, kw), (1, 1, sh, sw), "VALID")


def attention(Q, K, V, causal=False):
    """softmax(Q K^T / sqrt(d) + M) V for one head: Q (T, d), K (S, d), V (S, d_v) -> (T, d_v), with
    ``jax.nn.softmax`` over each row; the causal mask M is -inf above the diagonal (query t sees
    keys s <= t), as ``is_causal`` of ``jax.nn.dot_product_attention`` and of PyTorch.

    Written in jax.numpy because ``jax.nn.dot_product_attention`` computes its softmax in float32
    whatever the input dtype (so it agrees to ~1e-7 only); :func:`framework_attention` calls it."""
    scores = Q @ K.T / np.sqrt(Q.shape[1])
    if causal:
        scores = jnp.where(jnp.tril(jnp.ones(scores.shape, dtype=bool)), scores, -jnp.inf)
    return jax.nn.softmax(scores, axis=1) @ V


@partial(jax.jit, static_argnames="causal")
def framework_attention(Q, K, V, causal=False):
    """The same by ``jax.nn.dot_product_attention`` (implementation "xla"), whose softmax runs in
    float32: use it for what it decides exactly (which keys a query sees), at float32 tolerance.

    JAX wants one head size for Q, K and V; zero columns appended to Q and K leave Q K^T unchanged
    and zero columns appended to V give zero output columns, which are dropped."""
    d, d_v = Q.shape[1], V.shape[1]
    D = max(d, d_v)

    def heads(A):  # (T, k) -> (T, 1 head, D)
        return jnp.pad(A, ((0, 0), (0, D - A.shape[1])))[:, None, :]

    out = jax.nn.dot_product_attention(
        heads(Q), heads(K), heads(V), scale=1 / np.sqrt(d), is_causal=causal, implementation="xla"
    )
    return out[:, 0, :d_v]


def standardize(X, axis, eps):
    """(X - mean) / sqrt(var + eps) along ``axis`` with the biased variance, by ``jax.nn.standardize``
    (its two-pass "stable" variance)."""
    return jax.nn.standardize(X, axis=axis, epsilon=eps, algorithm="stable")


def batchnorm(X, gamma, beta, eps=1e-5):
    """Batch normalisation of X (n, B) over the batch (each row): gamma, beta (n, 1) or (n,)."""
    return jnp.reshape(gamma, (-1, 1)) * standardize(X, 1, eps) + jnp.reshape(beta, (-1, 1))


def layernorm(X, gamma, beta, eps=1e-5):
    """Layer normalisation of X (n, B) over the features (each column): gamma, beta (n, 1) or (n,)."""
    return jnp.reshape(gamma, (-1, 1)) * standardize(X, 0, eps) + jnp.reshape(beta, (-1, 1))


# -- losses and whole networks, jax.numpy written from the maths -------------------------------------


def cross_entropy(V, Y, axis=0):
    """Mean over examples of -sum_c Y_c log softmax(V)_c, classes along ``axis`` (0: columns are
    examples); Y holds probabilities (one-hot or not) of V's shape."""
    return -jnp.sum(Y * jax.nn.log_softmax(V, axis=axis)) / (V.size // V.shape[axis])


_ACTIVATIONS = {"sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu, "identity": lambda V: V}


def mlp_loss(params, X, Y, *, hidden, output, loss, layout="column"):
    """E of a fully connected network with ``params`` W1, b1, ..., WL, bL (W_l (n_l, n_{l-1}); no b_l
    without bias), as ``backprop.MLP`` defines it: layout "column" X (n0, B), V_l = W_l X + b_l;
    layout "batch_first" X (B, n0), V_l = X W_l^T + b_l (rows are examples, as ``torch.nn.Linear``).
    ``loss``: "half_squared_error" (1/(2B) sum (f(V_L) - Y)^2) or "cross_entropy" with a softmax
    output (the mean of :func:`cross_entropy`)."""
    L = sum(k.startswith("W") for k in params)
    A, B = X, X.shape[1 if layout == "column" else 0]
    for l in range(1, L + 1):
        W, b = params[f"W{l}"], params.get(f"b{l}", 0.0)
        V = (W @ A if layout == "column" else A @ W.T) + b
        A = _ACTIVATIONS[hidden](V) if l < L else V
    if loss == "cross_entropy":
        if output != "softmax":
            raise ValueError(f"the reference has cross-entropy for a softmax output only, got {output!r}")
        return cross_entropy(V, Y, axis=0 if layout == "column" else 1)
    return 0.5 * jnp.sum((_ACTIVATIONS[output](V) - Y) ** 2) / B


def small_cnn_loss(params, X, labels):
    """E of ``backprop.layers.cnn.SmallCNN``: conv 3x3 (padding 1) -> relu -> max-pool 2x2 -> dense
    -> mean cross-entropy of softmax against integer labels (B,); X (B, 1, 8, 8), params K, b, W, c."""
    A = conv2d(X, params["K"], params["b"], padding=1)
    M = maxpool2d(jax.nn.relu(A), 2, 2)
    V = params["W"] @ M.reshape(M.shape[0], -1).T + params["c"]  # (10, B): columns again
    return cross_entropy(V, jax.nn.one_hot(labels, V.shape[0], axis=0, dtype=V.dtype), axis=0)
