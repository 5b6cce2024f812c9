"""backprop.engine: each VJP against finite differences, the seed gradient and MLP gradients."""
import numpy as np
import pytest

import backprop
from backprop import differential, seed
from backprop.checking import numerical_gradient
from backprop.engine import (Tensor, add, frobenius, half_squared_error, matmul, relu, sigmoid, softmax_cross_entropy,
                             sum_all, tanh, topological_order)

rng = np.random.default_rng(0)


def _check_vjp(build, *arrays, tol=1e-8):
    """E = sum(Gbar o op(arrays)) with a random Gbar: the engine's grads vs central differences."""
    out = build(*[Tensor(a) for a in arrays])
    Gbar = np.random.default_rng(1).standard_normal(out.shape)

    def E_of(i):
        def f(A):
            args = list(arrays); args[i] = A
            return float(np.sum(Gbar * build(*[Tensor(a) for a in args]).data))
        return f

    ts = [Tensor(a) for a in arrays]
    E = frobenius(build(*ts), Gbar)              # E = Gbar : op(...), so dE/d op = Gbar
    E.backward()
    for i, (t, a) in enumerate(zip(ts, arrays)):
        N = numerical_gradient(E_of(i), a)
        err = np.linalg.norm(t.grad - N) / (np.linalg.norm(t.grad) + np.linalg.norm(N))
        assert err < tol, (i, err)


def test_matmul_vjp():
    _check_vjp(matmul, rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))


def test_add_vjp_same_shape_and_bias():
    _check_vjp(add, rng.standard_normal((3, 5)), rng.standard_normal((3, 5)))
    _check_vjp(add, rng.standard_normal((3, 5)), rng.standard_normal((3, 1)))


@pytest.mark.parametrize("op", [sigmoid, tanh, relu])
def test_elementwise_vjps(op):
    V = rng.standard_normal((4, 3))
    V[np.abs(V) < 1e-3] = 0.5                     # keep relu away from its kink
    _check_vjp(op, V)


def test_sum_frobenius_and_losses():
    A = rng.standard_normal((3, 4))
    _check_vjp(sum_all, A)
    C = rng.standard_normal((3, 4))
    _check_vjp(lambda T: frobenius(T, C), A)
    Y = rng.uniform(size=(3, 4))
    _check_vjp(lambda S: half_squared_error(S, Y), A)
    P = Y / Y.sum(axis=0, keepdims=True)
    _check_vjp(lambda V: softmax_cross_entropy(V, P), A)
    _check_vjp(lambda V: softmax_cross_entropy(V, Y), A)      # columns not summing to 1: general rule


def test_seed_gradient_matches_differential():
    for k in range(5):
        W, x, y = seed.example(seed=k)
        Wt = Tensor(W, "W")
        E = half_squared_error(sigmoid(Wt @ Tensor(x, "x")), y)
        E.backward()
        assert float(E.data) == pytest.approx(seed.E(W, x, y), rel=1e-15)
        G = differential.grad_W(W, x, y)
        assert np.max(np.abs(Wt.grad - G)) <= 1e-12 * max(1.0, np.max(np.abs(G)))
        assert Wt.grad.shape == W.shape


def engine_mlp(net, X, Y):
    """Build E for backprop.MLP ``net`` from engine ops; return (E, {name: Tensor})."""
    P = {k: Tensor(v, k) for k, v in net.params.items()}
    acts = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "identity": lambda V: V}
    A = Tensor(X, "X")
    for l in range(1, net.L + 1):
        V = P[f"W{l}"] @ A
        if net.bias:
            V = V + P[f"b{l}"]
        if l < net.L:
            A = acts[net.hidden.name](V)
    if net.loss_name == "cross_entropy":
        E = softmax_cross_entropy(V, Y)
    else:
        E = half_squared_error(acts[net.output.name](V), Y)
    return E, P


@pytest.mark.parametrize("sizes, hidden, output, loss, bias", [
    ([4, 5, 3], "sigmoid", "sigmoid", "half_squared_error", True),
    ([4, 5, 3], "sigmoid", "sigmoid", "half_squared_error", False),
    ([3, 6, 5, 2], "tanh", "identity", "half_squared_error", True),
    ([3, 6, 5, 4], "relu", "softmax", "cross_entropy", True),
    ([5, 4, 4, 4, 3], "tanh", "softmax", "cross_entropy", False),
    ([2, 3], None, "softmax", "cross_entropy", True),
])
def test_random_mlps_match_backprop(sizes, hidden, output, loss, bias):
    r = np.random.default_rng(sum(sizes))
    for trial in range(3):
        net = backprop.MLP(sizes, hidden=hidden, output=output, loss=loss, bias=bias, seed=trial)
        if bias:
            for k in net.params:
                if k.startswith("b"):
                    net.params[k] = r.standard_normal(net.params[k].shape)
        B = int(r.integers(1, 8))
        X = r.standard_normal((sizes[0], B))
        Y = r.uniform(size=(sizes[-1], B))
        if output == "softmax":
            Y = np.eye(sizes[-1])[:, r.integers(0, sizes[-1], size=B)]
        E, P = engine_mlp(net, X, Y)
        E.backward()
        E_ref, grads = net.loss_and_gradients(X, Y)
        assert float(E.data) == pytest.approx(E_ref, rel=1e-12)
        for k, G in grads.items():
            scale = max(1.0, float(np.max(np.abs(G))))
            assert np.max(np.abs(P[k].grad - G)) <= 1e-10 * scale, k


def test_shared_node_gradients_accumulate_and_backward_resets():
    A = Tensor(rng.standard_normal((3, 3)), "A")
    E = sum_all(A @ A)                                  # A used twice: dE/dA = 1 1^T A^T + A^T 1 1^T
    E.backward()
    J = np.ones((3, 3))
    np.testing.assert_allclose(A.grad, J @ A.data.T + A.data.T @ J, rtol=1e-14)
    first = A.grad.copy()
    E.backward()                                         # a second call recomputes, it does not add
    np.testing.assert_array_equal(A.grad, first)


def test_topological_order_puts_parents_first():
    W, x = Tensor(np.ones((2, 3)), "W"), Tensor(np.ones((3, 1)), "x")
    E = sum_all(sigmoid(W @ x))
    order = topological_order(E)
    pos = {id(t): i for i, t in enumerate(order)}
    assert all(pos[id(p)] < pos[id(t)] for t in order for p in t.parents) and order[-1] is E


def test_clear_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 1\)"):
        matmul(np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="bias column"):
        add(np.ones((3, 4)), np.ones((1, 4)))
    with pytest.raises(ValueError, match="2-D"):
        matmul(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="scalar"):
        sigmoid(np.ones((2, 2))).backward()
    with pytest.raises(ValueError, match="targets"):
        half_squared_error(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(TypeError, match="float"):
        Tensor(np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        Tensor(np.array([[np.inf]]))


def test_stable_for_large_inputs():
    V = np.array([[1e3, -1e3], [-1e3, 1e3], [0.0, 5.0]])
    Y = np.eye(3)[:, [0, 1]]
    Vt = Tensor(V)
    E = softmax_cross_entropy(Vt, Y)
    E.backward()
    assert np.isfinite(E.data) and np.all(np.isfinite(Vt.grad))
    S = Tensor(V)
    E2 = half_squared_error(sigmoid(S), np.zeros_like(V))
    E2.backward()
    assert np.all(np.isfinite(S.grad))
