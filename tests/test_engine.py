"""backprop.engine: every VJP and JVP against central differences with random upstream gradients,
the seed gradient, MLP gradients, accumulation, constants, errors, and random graphs against HIPS
autograd (an independent reverse-mode implementation)."""

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import backprop
from backprop import differential, engine, seed
from backprop.checking import numerical_gradient
from backprop.engine import (
    Tensor,
    add,
    frobenius,
    half_squared_error,
    jvp,
    matmul,
    mlp_graph,
    relu,
    sigmoid,
    softmax_cross_entropy,
    sum_all,
    tanh,
    topological_order,
)

rng = np.random.default_rng(0)


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0 else float(np.linalg.norm(a - b) / den)


def _check_vjp_jvp(build, *arrays, tol=1e-8):
    """E = Gbar : op(arrays) with a random Gbar: the engine's grads vs central differences;
    the JVP along random directions D_i vs the directional central difference, and the
    adjoint identity Gbar : JVP(D) = sum_i VJP_i(Gbar) : D_i."""
    out = build(*[Tensor(a) for a in arrays])
    r = np.random.default_rng(1)
    Gbar = r.standard_normal(out.shape)

    def E_of(i):
        def f(A):
            args = list(arrays)
            args[i] = A
            return float(np.sum(Gbar * build(*[Tensor(a) for a in args]).data))

        return f

    ts = [Tensor(a) for a in arrays]
    out = build(*ts)
    frobenius(out, Gbar).backward()  # dE/d op = Gbar
    for i, (t, a) in enumerate(zip(ts, arrays)):
        assert t.grad.shape == a.shape
        err = _rel(t.grad, numerical_gradient(E_of(i), a))
        assert err < tol, ("vjp", i, err)
    D = [r.standard_normal(np.shape(a)) for a in arrays]
    dC = jvp(out, dict(zip(ts, D)))
    assert dC.shape == out.shape
    h = 1e-6
    plus = build(*[Tensor(a + h * d) for a, d in zip(arrays, D)]).data
    minus = build(*[Tensor(a - h * d) for a, d in zip(arrays, D)]).data
    assert _rel(dC, (plus - minus) / (2 * h)) < tol, "jvp"
    lhs = float(np.sum(Gbar * dC))
    rhs = sum(float(np.sum(t.grad * d)) for t, d in zip(ts, D))
    assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-14)


M34, M34b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
COL, ROW, SCALAR = rng.standard_normal((3, 1)), rng.standard_normal((1, 4)), np.array(0.7)
POS = rng.uniform(0.5, 2.0, size=(3, 4))


@pytest.mark.parametrize(
    "build, arrays",
    [
        (matmul, (rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))),
        (lambda A, B: A @ B.T, (M34, M34b)),
        (add, (M34, M34b)),
        (add, (M34, COL)),
        (add, (COL, M34)),
        (add, (ROW, M34)),
        (add, (M34, SCALAR)),
        (add, (SCALAR, SCALAR)),
        (engine.sub, (M34, ROW)),
        (engine.sub, (COL, M34)),
        (engine.mul, (M34, M34b)),
        (engine.mul, (COL, M34)),
        (engine.mul, (SCALAR, M34)),
        (engine.div, (M34, POS)),
        (engine.div, (M34, COL + 3.0)),
        (engine.div, (ROW, POS)),
        (engine.neg, (M34,)),
        (engine.transpose, (M34,)),
        (engine.exp, (M34,)),
        (engine.log, (POS,)),
        (sigmoid, (M34,)),
        (tanh, (M34,)),
        (lambda A: engine.sum(A), (M34,)),
        (lambda A: engine.sum(A, axis=0), (M34,)),
        (lambda A: engine.sum(A, axis=1), (M34,)),
        (lambda A: engine.mean(A), (M34,)),
        (lambda A: engine.mean(A, axis=0), (M34,)),
        (lambda A: engine.mean(A, axis=1), (M34,)),
        (sum_all, (M34,)),
        (lambda A: frobenius(A, M34b), (M34,)),
        (lambda S: half_squared_error(S, POS), (M34,)),
        (lambda V: softmax_cross_entropy(V, POS / POS.sum(axis=0)), (M34,)),
        (lambda V: softmax_cross_entropy(V, POS), (M34,)),  # columns not summing to 1
        (lambda A, b: 2.0 * A - A / 3.0 + 1.0 - b, (M34, COL)),  # Python numbers as constants
    ],
)
def test_every_vjp_and_jvp(build, arrays):
    _check_vjp_jvp(build, *arrays)


def test_relu_vjp_away_from_the_kink_and_at_it():
    V = rng.standard_normal((4, 3))
    assert np.min(np.abs(V)) > 1e-4  # this seed has no entry within h of 0
    _check_vjp_jvp(relu, V)
    # at the kink: the engine takes the derivative 0; central differences see the average 1/2
    Z = Tensor(np.zeros((1, 1)))
    engine.sum(relu(Z)).backward()
    assert Z.grad[0, 0] == 0.0
    N = numerical_gradient(lambda A: float(np.maximum(A, 0).sum()), np.zeros((1, 1)))
    assert N[0, 0] == pytest.approx(0.5)


def test_numpy_arrays_on_the_left_use_the_reflected_operators():
    A = Tensor(M34)
    for out in (M34b + A, M34b - A, M34b * A, POS / (A * A + 1.0), M34b.T @ A):
        assert isinstance(out, Tensor)
    np.testing.assert_array_equal((M34b - A).data, M34b - M34)


def test_constants_get_no_gradient():
    W = Tensor(M34, "W")
    X = Tensor(rng.standard_normal((4, 2)), "X", requires_grad=False)
    V = W @ X
    assert V.requires_grad and not X.requires_grad and X.grad is None
    engine.sum(V).backward()
    assert X.grad is None and W.grad.shape == W.shape
    C = Tensor(M34, requires_grad=False) * 2.0
    assert not C.requires_grad
    with pytest.raises(ValueError, match="nothing to differentiate"):
        engine.sum(C).backward()


def test_backward_accumulates_and_zero_grad_resets():
    A = Tensor(rng.standard_normal((3, 3)), "A")
    E = engine.sum(A @ A)  # A used twice: dE/dA = 1 1^T A^T + A^T 1 1^T
    E.backward()
    J = np.ones((3, 3))
    expected = J @ A.data.T + A.data.T @ J
    np.testing.assert_allclose(A.grad, expected, rtol=1e-14)
    E.backward()  # a second call adds
    np.testing.assert_allclose(A.grad, 2 * expected, rtol=1e-14)
    E.zero_grad()
    assert not A.grad.any()
    E.backward()  # inner nodes restart from zero: no double counting
    np.testing.assert_allclose(A.grad, expected, rtol=1e-14)


def test_backward_from_any_scalar_and_with_an_upstream_gradient():
    W, x = Tensor(M34, "W"), Tensor(rng.standard_normal((4, 1)), "x")
    v = W @ x
    s = sigmoid(v)
    inner = engine.sum(v)  # a scalar in the middle of a bigger graph
    half_squared_error(s, np.zeros((3, 1)))
    inner.backward()
    np.testing.assert_allclose(W.grad, np.ones((3, 1)) @ x.data.T, rtol=1e-15)
    W.zero_grad(), x.zero_grad()
    Gbar = rng.standard_normal((3, 1))
    s.backward(Gbar)  # a VJP of a non-scalar output
    sp = s.data - s.data**2
    np.testing.assert_allclose(W.grad, (sp * Gbar) @ x.data.T, rtol=1e-14)
    with pytest.raises(ValueError, match="Gbar has shape"):
        s.backward(np.ones((1, 3)))
    one = Tensor(np.ones((1, 1)))  # a (1, 1) leaf is a scalar too
    one.backward()
    assert one.grad[0, 0] == 1.0


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


@pytest.mark.parametrize(
    "sizes, hidden, output, loss, bias",
    [
        ([4, 5, 3], "sigmoid", "sigmoid", "half_squared_error", True),
        ([4, 5, 3], "sigmoid", "sigmoid", "half_squared_error", False),
        ([3, 6, 5, 2], "tanh", "identity", "half_squared_error", True),
        ([3, 6, 5, 4], "relu", "softmax", "cross_entropy", True),
        ([5, 4, 4, 4, 3], "tanh", "softmax", "cross_entropy", False),
        ([2, 3], None, "softmax", "cross_entropy", True),
    ],
)
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
        E, P, Vs = mlp_graph(net, X, Y)
        E.backward()
        E_ref, grads = net.loss_and_gradients(X, Y)
        assert float(E.data) == pytest.approx(E_ref, rel=1e-12)
        for k, G in grads.items():
            scale = max(1.0, float(np.max(np.abs(G))))
            assert np.max(np.abs(P[k].grad - G)) <= 1e-10 * scale, k
        assert len(Vs) == net.L
        # delta_1 = dE/dV_1 from the engine gives dE/dW_1 = delta_1 X^T
        np.testing.assert_allclose(Vs[0].grad @ X.T, grads["W1"], rtol=1e-10, atol=1e-14)


def test_topological_order_puts_parents_first():
    W, x = Tensor(np.ones((2, 3)), "W"), Tensor(np.ones((3, 1)), "x")
    E = sum_all(sigmoid(W @ x))
    order = topological_order(E)
    pos = {id(t): i for i, t in enumerate(order)}
    assert all(pos[id(p)] < pos[id(t)] for t in order for p in t.parents) and order[-1] is E


def test_clear_errors_name_the_operation_and_the_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(2, 1\)"):
        matmul(np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"add: shapes \(3, 1\) and \(1, 4\)"):
        add(np.ones((3, 1)), np.ones((1, 4)))  # column + row: no outer broadcasting
    with pytest.raises(ValueError, match=r"mul: shapes \(3, 4\) and \(4, 3\)"):
        engine.mul(np.ones((3, 4)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"2-D.*\(3,\).*column"):
        Tensor(np.ones(3))  # (5,) vectors are refused, not broadcast
    with pytest.raises(ValueError, match="2-D"):
        matmul(Tensor(np.array(2.0)), np.ones((1, 1)))
    with pytest.raises(ValueError, match="scalar"):
        sigmoid(np.ones((2, 2)) * Tensor(np.ones((2, 2)))).backward()
    with pytest.raises(ValueError, match="targets"):
        half_squared_error(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(TypeError, match="float"):
        Tensor(np.ones((2, 2), dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        Tensor(np.array([[np.inf]]))
    with pytest.raises(ValueError, match=r"exp: overflow.*\(1, 2\)"):
        engine.exp(np.array([[1.0, 800.0]]))
    with pytest.raises(ValueError, match=r"log: needs positive.*\(1, 2\)"):
        engine.log(np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match=r"div: the divisor of shape \(2, 1\) has zero"):
        engine.div(np.ones((2, 3)), np.array([[1.0], [0.0]]))
    with pytest.raises(ValueError, match="axis"):
        engine.sum(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match=r"jvp: the tangent.*\(2, 2\)"):
        A = Tensor(np.ones((2, 2)))
        jvp(engine.sum(A), {A: np.ones((2, 1))})


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


# -- random graphs against HIPS autograd -------------------------------------------------------


def _a_sigmoid(x):
    return 0.5 * (anp.tanh(0.5 * x) + 1.0)


UNARY = {
    "neg": (engine.neg, lambda x: -x),
    "T": (engine.transpose, lambda x: x.T),
    "exp": (engine.exp, anp.exp),
    "log": (engine.log, anp.log),
    "tanh": (tanh, anp.tanh),
    "sigmoid": (sigmoid, _a_sigmoid),
    "relu": (relu, lambda x: anp.maximum(x, 0.0)),
    "sum0": (lambda x: engine.sum(x, axis=0), lambda x: anp.sum(x, axis=0, keepdims=True)),
    "sum1": (lambda x: engine.sum(x, axis=1), lambda x: anp.sum(x, axis=1, keepdims=True)),
    "mean": (engine.mean, anp.mean),
}
BINARY = {
    "add": (engine.add, lambda a, b: a + b),
    "sub": (engine.sub, lambda a, b: a - b),
    "mul": (engine.mul, lambda a, b: a * b),
    "div": (engine.div, lambda a, b: a / b),
    "matmul": (engine.matmul, lambda a, b: anp.dot(a, b)),
}


def _fits(op, a, b):
    if op == "matmul":
        return a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]
    return (
        a.shape == b.shape
        or b.ndim == 0
        or a.ndim == 0
        or (
            a.ndim == 2
            and b.ndim == 2
            and (
                all(x in (1, y) for x, y in zip(b.shape, a.shape))
                or all(x in (1, y) for x, y in zip(a.shape, b.shape))
            )
        )
    )


def _random_program(r, n_ops=14):
    """Leaves (m, m), (m, m), (m, 1), (1, m), a scalar and a constant; n_ops random operations
    whose inputs keep every value moderate (exp of |x| < 5, log of x > 0.1, divisors > 0.5)."""
    m = int(r.integers(2, 5))
    shapes = [(m, m), (m, m), (m, 1), (1, m), ()]
    values = [r.standard_normal(s) for s in shapes] + [r.standard_normal((m, m))]
    prog = []
    while len(prog) < n_ops:
        if r.random() < 0.45:
            op = str(r.choice(list(UNARY)))
            i = int(r.integers(len(values)))
            x = values[i]
            if (
                (op == "exp" and np.max(np.abs(x)) > 5)
                or (op == "log" and np.min(x) <= 0.1)
                or (op in ("T", "sum0", "sum1") and x.ndim != 2)
            ):
                continue
            y = UNARY[op][0](Tensor(x, requires_grad=False)).data
            args = (i,)
        else:
            op = str(r.choice(list(BINARY)))
            i, j = (int(k) for k in r.integers(len(values), size=2))
            a, b = values[i], values[j]
            if not _fits(op, a, b) or (op == "div" and np.min(np.abs(b)) < 0.5):
                continue
            y = BINARY[op][0](Tensor(a, requires_grad=False), Tensor(b, requires_grad=False)).data
            args = (i, j)
        if np.max(np.abs(y)) > 1e3:
            continue
        prog.append((op, args))
        values.append(y)
    return values[:6], prog


def _run(prog, leaves, lib):
    vals = list(leaves)
    for op, args in prog:
        f = (UNARY if len(args) == 1 else BINARY)[op][lib]
        vals.append(f(*[vals[i] for i in args]))
    return vals


@pytest.mark.parametrize("graph", range(40))
def test_random_graphs_match_hips_autograd(graph):
    r = np.random.default_rng(1000 + graph)
    leaves, prog = _random_program(r)
    ts = [Tensor(a, f"L{i}") for i, a in enumerate(leaves[:5])]
    ts.append(Tensor(leaves[5], "C", requires_grad=False))
    vals = _run(prog, ts, 0)
    # E = sum over every computed value of Gbar_k : value_k (every node's VJP is exercised)
    Gbars = [r.standard_normal(v.shape) for v in vals[6:]]
    E = engine.sum(frobenius(vals[6], Gbars[0]))
    for v, G in zip(vals[7:], Gbars[1:]):
        E = E + frobenius(v, G)
    E.backward()

    def f(xs):
        out = _run(prog, list(xs) + [leaves[5]], 1)
        return sum(anp.sum(G * v) for v, G in zip(out[6:], Gbars))

    ref = autograd.grad(f)(list(leaves[:5]))
    assert float(E.data) == pytest.approx(float(f(list(leaves[:5]))), rel=1e-12, abs=1e-12)
    for t, G in zip(ts[:5], ref):
        scale = max(1.0, float(np.max(np.abs(G))))
        assert np.max(np.abs(t.grad - G)) <= 1e-10 * scale, (t.name, prog)
    assert ts[5].grad is None


def test_retain_grads_false_frees_inner_gradients_with_the_same_leaf_gradients():
    net = backprop.MLP([3, 5, 5, 2], hidden="tanh", output="identity", seed=0)
    X, Y = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    E1, P1, Vs1 = mlp_graph(net, X, Y)
    E1.backward()
    E2, P2, Vs2 = mlp_graph(net, X, Y)
    assert all(V.grad is None for V in Vs2)  # inner nodes: no gradient before backward
    E2.backward(retain_grads=False)
    assert all(V.grad is None for V in Vs2) and all(V.grad is not None for V in Vs1)
    for k in P1:
        np.testing.assert_array_equal(P1[k].grad, P2[k].grad)
    E1.zero_grad()
    assert all(V.grad is None for V in Vs1) and not any(P1[k].grad.any() for k in P1)


def test_mlp_graph_refuses_what_it_does_not_build():
    net = backprop.MLP([3, 2], hidden=None, output="sigmoid", loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match="sigmoid output"):
        mlp_graph(net, np.ones((3, 1)), np.ones((2, 1)) / 2)
    net.layout = "batch_first"  # what the layout branch's MLP sets
    with pytest.raises(ValueError, match="layout='column'"):
        mlp_graph(net, np.ones((3, 1)), np.ones((2, 1)) / 2)
