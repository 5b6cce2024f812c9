"""MLP(layout="batch_first"): rows are examples, as in torch.nn.Linear.

The reference below is written independently of the package, in the batch-first form
Y = X W^T + 1 b^T, Delta = dE/dV of shape (B, n_l), dE/dW = Delta^T X, dE/db = 1^T Delta.
"""

from __future__ import annotations

import jax_reference as jr
import numpy as np
import pytest

from backprop import MLP

SIZES = [4, 6, 5, 3]


def _act(name, V):
    """(f(V), f'(V)) for the elementwise activations of the reference."""
    if name == "sigmoid":
        S = 1 / (1 + np.exp(-V))
        return S, S * (1 - S)
    if name == "tanh":
        T = np.tanh(V)
        return T, 1 - T**2
    if name == "relu":
        return np.maximum(V, 0), (V > 0).astype(V.dtype)
    raise ValueError(name)


def reference(params, X, Y, hidden, output, loss):
    """(E, grads) of a batch-first network; X (B, n0), Y (B, nL), b_l of shape (n_l,)."""
    L = len([k for k in params if k.startswith("W")])
    B = X.shape[0]
    xs, ds = [X], []
    for l in range(1, L + 1):
        V = xs[-1] @ params[f"W{l}"].T + params[f"b{l}"]  # (B, n_l)
        if l == L and output == "softmax":
            Z = np.exp(V - V.max(axis=1, keepdims=True))
            xs.append(Z / Z.sum(axis=1, keepdims=True))
            ds.append(None)
        else:
            A, dA = _act(hidden if l < L else output, V)
            xs.append(A)
            ds.append(dA)
    P = xs[-1]
    if loss == "cross_entropy":  # softmax output
        E = -np.sum(Y * np.log(P)) / B
        Delta = (P - Y) / B
    else:
        E = 0.5 * np.sum((P - Y) ** 2) / B
        Delta = ds[-1] * (P - Y) / B
    grads = {}
    for l in range(L, 0, -1):
        grads[f"W{l}"] = Delta.T @ xs[l - 1]  # (n_l, n_{l-1})
        grads[f"b{l}"] = Delta.sum(axis=0)  # (n_l,)
        if l > 1:
            Delta = (Delta @ params[f"W{l}"]) * ds[l - 2]
    return E, grads


def _data(B=7, seed=1, onehot=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, SIZES[0]))
    if onehot:
        Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], size=B)]
    else:
        Y = rng.uniform(size=(B, SIZES[-1]))
    return X, Y


def _with_random_biases(net, seed=2):
    rng = np.random.default_rng(seed)
    for k in net.params:
        if k.startswith("b"):
            net.params[k] = rng.standard_normal(net.params[k].shape)
    return net


CASES = [
    ("sigmoid", "sigmoid", "half_squared_error"),
    ("tanh", "sigmoid", "half_squared_error"),
    ("relu", "softmax", "cross_entropy"),
]


def test_default_layout_is_column():
    net = MLP(SIZES)
    assert net.layout == "column"
    assert net.params["b1"].shape == (SIZES[1], 1)


def test_param_shapes_are_those_of_torch_linear():
    net = MLP(SIZES, layout="batch_first")
    for l in range(1, len(SIZES)):
        assert net.params[f"W{l}"].shape == (SIZES[l], SIZES[l - 1])
        assert net.params[f"b{l}"].shape == (SIZES[l],)
    assert "batch_first" in repr(net)


@pytest.mark.parametrize("hidden, output, loss", CASES)
def test_batch_first_matches_independent_reference(hidden, output, loss):
    net = _with_random_biases(MLP(SIZES, hidden, output, loss, layout="batch_first"))
    X, Y = _data(onehot=loss == "cross_entropy")
    E, grads = net.loss_and_gradients(X, Y)
    E_ref, grads_ref = reference(net.params, X, Y, hidden, output, loss)
    assert np.isclose(E, E_ref, rtol=1e-12, atol=0)
    assert np.isclose(net.loss(X, Y), E_ref, rtol=1e-12, atol=0)
    for k, G in grads_ref.items():
        assert grads[k].shape == net.params[k].shape == G.shape, k
        np.testing.assert_allclose(grads[k], G, rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.parametrize("hidden, output, loss", CASES)
def test_batch_first_equals_column_layout_on_transposed_data(hidden, output, loss):
    rows = _with_random_biases(MLP(SIZES, hidden, output, loss, layout="batch_first"))
    cols = MLP(SIZES, hidden, output, loss)
    cols.params = {k: P.reshape(-1, 1) if k.startswith("b") else P for k, P in rows.params.items()}
    X, Y = _data(onehot=loss == "cross_entropy")
    E_r, g_r = rows.loss_and_gradients(X, Y)
    E_c, g_c = cols.loss_and_gradients(X.T, Y.T)
    assert E_r == E_c
    for k in g_c:
        np.testing.assert_array_equal(g_r[k], g_c[k].reshape(g_r[k].shape))
    xs_r, vs_r = rows.forward(X)
    xs_c, vs_c = cols.forward(X.T)
    assert [A.shape for A in xs_r] == [(X.shape[0], n) for n in SIZES]
    for A, C in zip(xs_r + vs_r, xs_c + vs_c):
        np.testing.assert_array_equal(A, C.T)
    np.testing.assert_array_equal(rows.predict(X), cols.predict(X.T).T)


def test_batch_first_without_bias():
    net = MLP(SIZES, "tanh", "sigmoid", bias=False, layout="batch_first")
    X, Y = _data()
    params = dict(net.params)
    params.update({f"b{l}": np.zeros(SIZES[l]) for l in range(1, len(SIZES))})
    E_ref, g_ref = reference(params, X, Y, "tanh", "sigmoid", "half_squared_error")
    E, g = net.loss_and_gradients(X, Y)
    assert sorted(g) == sorted(net.params) and np.isclose(E, E_ref, rtol=1e-12)
    for k in g:
        np.testing.assert_allclose(g[k], g_ref[k], rtol=1e-10, atol=1e-14)


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match=r"layout must be one of .*'row_major'"):
        MLP(SIZES, layout="row_major")


def test_bad_shapes_name_the_layout_and_the_shapes():
    rows = MLP(SIZES, layout="batch_first")
    cols = MLP(SIZES)
    X, Y = _data(B=7)
    with pytest.raises(
        ValueError,
        match=r"X must have shape \(B, 4\) in "
        r"layout='batch_first'.*got \(4, 7\)",
    ):
        rows.loss(X.T, Y)
    with pytest.raises(
        ValueError,
        match=r"Y must have shape \(7, 3\) .*"
        r"layout='batch_first', got \(3, 7\)",
    ):
        rows.loss(X, Y.T)
    with pytest.raises(
        ValueError,
        match=r"X must have shape \(4, B\) in "
        r"layout='column'.*got \(7, 4\)",
    ):
        cols.loss(X, Y.T)
    with pytest.raises(
        ValueError,
        match=r"Y must have shape \(3, 7\) .*"
        r"layout='column', got \(7, 3\)",
    ):
        cols.loss(X.T, Y)
    column_bias = dict(rows.params, b1=np.zeros((SIZES[1], 1)))
    with pytest.raises(
        ValueError,
        match=r"b1.*\(6, 1\), expected \(6,\) in "
        r"layout='batch_first'",
    ):
        rows.gradients(X, Y, column_bias)


@pytest.mark.parametrize("layout", ["batch_first", "column"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("hidden, output, loss", CASES)
def test_matches_a_jax_network(hidden, output, loss, bias, layout):
    """JAX's autodiff through a jax.numpy network of that layout (V = X W^T + b in batch-first,
    as torch.nn.Linear; V = W X + b in columns)."""
    net = MLP(SIZES, hidden, output, loss, bias=bias, layout=layout)
    if bias:
        net = _with_random_biases(net)
    X, Y = _data(onehot=loss == "cross_entropy")
    if layout == "column":
        X, Y = X.T, Y.T
    E, grads = net.loss_and_gradients(X, Y)
    E_ref, grads_ref = jr.value_and_grad(
        jr.mlp_loss, net.params, X, Y, hidden=hidden, output=output, loss=loss, layout=layout
    )
    assert np.isclose(E, E_ref, rtol=1e-12, atol=0)
    assert sorted(grads) == sorted(grads_ref) == sorted(net.params)
    for k, G in grads_ref.items():
        assert grads[k].shape == net.params[k].shape == G.shape, k
        np.testing.assert_allclose(grads[k], G, rtol=1e-10, atol=1e-14, err_msg=k)
