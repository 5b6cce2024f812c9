"""Property-based bad inputs (hypothesis): every call gives a clear error or a correct answer,
never a silent wrong one; and no function modifies its inputs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop
from backprop import activations, differential, jacobian, seed, subscript
from backprop.diagnose import check_gradient

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLEAR = (ValueError, TypeError, IndexError)

dtypes = st.sampled_from(
    [np.float64, np.float32, np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128]
)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


def any_array():
    return st.one_of(
        hnp.arrays(st.sampled_from([np.float64, np.float32]), shapes, elements=st.floats(-50, 50, width=32)),
        hnp.arrays(st.sampled_from([np.int64, np.int8, np.bool_]), shapes),
        hnp.arrays(np.complex128, shapes, elements=st.complex_numbers(max_magnitude=10, allow_nan=False)),
        hnp.arrays(np.float64, shapes, elements=st.sampled_from([np.nan, np.inf, 1.0])),
    )


ELEMENTWISE = {
    "sigmoid": (activations.sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "sigmoid_prime": (activations.sigmoid_prime, lambda v: np.exp(-abs(v)) / (1 + np.exp(-abs(v))) ** 2),
    "tanh": (activations.tanh, np.tanh),
    "relu": (activations.relu, lambda v: np.maximum(v, 0.0)),
    "relu_prime": (activations.relu_prime, lambda v: (v > 0).astype(float)),
    "identity": (activations.identity, lambda v: v),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@FAST
@given(v=any_array())
def test_activations_are_right_or_refuse(name, v):
    f, ref = ELEMENTWISE[name]
    v0 = v.copy()
    try:
        out = f(v)
    except CLEAR:
        assert v.dtype.kind == "c"  # only complex input may be refused
        return
    finally:
        np.testing.assert_array_equal(v, v0)  # never modified
    assert v.dtype.kind != "c" and out.shape == v.shape and out.dtype.kind == "f"
    v64 = v.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = ref(v64)
    tol = {np.dtype(np.float16): 2e-3, np.dtype(np.float32): 2e-6}.get(out.dtype, 1e-12)
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=tol, atol=tol * 1e-3)


@FAST
@given(v=any_array())
def test_softmax_is_right_or_refuses(v):
    """Finite real input of any shape: the softmax of each column (over axis 0)."""
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            S = activations.softmax(v)
    except CLEAR:
        assert v.dtype.kind == "c" or v.ndim == 0 or v.size == 0
        return
    if v.size and np.all(np.isfinite(v)):
        e = np.exp(v.astype(np.float64) - v.astype(np.float64).max(axis=0))
        np.testing.assert_allclose(
            S, e / e.sum(axis=0), rtol=2e-6 if v.dtype != np.float64 else 1e-12, atol=1e-12
        )
    else:  # NaN/inf logits: the result shows it, never a number
        assert not np.all(np.isfinite(S)) or v.size == 0


def test_masked_arrays_are_refused():
    v = np.ma.masked_array([1.0, -2.0, 3.0], mask=[False, True, False])
    for f in (activations.sigmoid, activations.relu, activations.softmax, activations.sigmoid_prime):
        with pytest.raises(TypeError, match="masked"):
            f(v)
    W, x, y = seed.example()
    with pytest.raises(TypeError, match="masked"):
        seed.forward(np.ma.masked_array(W), x, y)


seed_args = st.tuples(st.integers(1, 4), st.integers(1, 4))


@FAST
@given(mn=seed_args, W=any_array(), x=any_array(), y=any_array())
def test_seed_paths_are_right_or_refuse(mn, W, x, y):
    """Random arrays of random shapes and dtypes: an error, or exactly the gradient of the maths."""
    for path in (subscript.grad_W, jacobian.grad_W, differential.grad_W_hadamard):
        try:
            G = path(W, x, y)
        except CLEAR:
            continue
        # accepted: W (m, n) float, x (n,1)/(n,), y of s's shape, all finite
        assert W.ndim == 2 and W.dtype.kind == "f" and np.all(np.isfinite(W))
        m, n = W.shape
        xc, yc = x.reshape(n, 1), y.reshape(m, 1)
        assert x.shape in ((n,), (n, 1)) and y.shape == ((m,) if x.ndim == 1 else (m, 1))
        v = W.astype(np.float64) @ xc.astype(np.float64)
        s = 1 / (1 + np.exp(-v))
        expected = ((s - s * s) * (s - yc)) @ xc.T
        np.testing.assert_allclose(
            G,
            expected,
            rtol=1e-3 if W.dtype == np.float32 else 1e-10,
            atol=1e-5 if np.float32 in (W.dtype, x.dtype, y.dtype) else 1e-12,
        )


@FAST
@given(a=any_array(), b=any_array())
def test_dE_ds_is_right_or_refuses(a, b):
    try:
        out = jacobian.dE_ds(a, b)
    except CLEAR:
        return
    assert a.shape == b.shape and a.ndim == 2 and a.shape[1] == 1
    np.testing.assert_array_equal(out, (a - b).T)


@FAST
@given(
    i=st.one_of(st.integers(-3, 8), st.floats(-2, 6), st.booleans(), st.just("1")),
    j=st.one_of(st.integers(-3, 8), st.floats(-2, 6), st.booleans()),
)
def test_subscript_indices_are_integers_in_range(i, j):
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    for f in (subscript.dE_dw, lambda *a: float(subscript.chain_terms(*a).sum())):
        try:
            g = f(W, x, y, i, j)
        except CLEAR:
            assert not (type(i) is int and type(j) is int and 0 <= i < 5 and 0 <= j < 4)
            continue
        assert type(i) is int and type(j) is int and 0 <= i < 5 and 0 <= j < 4
        assert g == pytest.approx(G[i, j], rel=1e-12, abs=1e-15)


@FAST
@given(dW=any_array())
def test_dE_checks_dW(dW):
    W, x, y = seed.example()
    try:
        d = differential.dE(W, x, y, dW)
    except CLEAR:
        assert dW.shape != W.shape or dW.dtype.kind != "f" or not np.all(np.isfinite(dW))
        return
    assert d == pytest.approx(float(np.sum(differential.grad_W(W, x, y) * dW)), rel=1e-12, abs=1e-14)


NET = backprop.MLP([3, 4, 2], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
X = np.random.default_rng(0).standard_normal((3, 5))
Y = np.eye(2)[:, [0, 1, 1, 0, 1]]


@FAST
@given(key=st.sampled_from(sorted(NET.params)), P=any_array())
def test_mlp_params_are_right_or_refused(key, P):
    params = {**NET.params, key: P}
    try:
        E = NET.loss(X, Y, params=params)
        G = NET.gradients(X, Y, params=params)
    except CLEAR:
        assert P.shape != NET.params[key].shape or P.dtype != np.float64 or not np.all(np.isfinite(P))
        return
    assert P.shape == NET.params[key].shape and P.dtype == np.float64 and np.all(np.isfinite(P))
    report = backprop.gradcheck(lambda p: NET.loss(X, Y, params=p), params, G, tol=1e-6)
    assert report.ok or report.inconclusive, str(report)
    assert np.isfinite(E)


@FAST
@given(
    c=st.floats(-3, 3),
    k=st.integers(0, 19),
    bump=st.floats(-1, 1),
    scale=st.sampled_from([1e-8, 1e-3, 1.0, 1e4]),
)
def test_check_gradient_is_never_confidently_wrong(c, k, bump, scale):
    """The candidate c G + bump e_k is judged "correct" only if it is right (to tol), and a named
    or "wrong" verdict only if it is wrong (the exact G comes from the analytic formula)."""
    W, x, y = seed.example()
    f = lambda A: scale * seed.E(A, x, y)
    G = scale * differential.grad_W(W, x, y)
    cand = c * G
    cand.flat[k] += bump * scale * 1e-2
    d = check_gradient(f, W, cand)
    truly_right = (np.abs(cand - G) <= 1e-6 * (np.abs(cand) + np.abs(G))).all()
    if d.kind == "correct":
        assert (np.abs(cand - G) <= 1e-6 * (np.abs(cand) + np.abs(G)) + 1e-7 * scale).all()
    elif d.kind != "inconclusive":
        assert not truly_right


MUTATION_CASES = [
    ("seed.forward", lambda W, x, y: seed.forward(W, x, y)),
    ("subscript.grad_W", subscript.grad_W),
    ("subscript.grad_W_einsum", subscript.grad_W_einsum),
    ("subscript.dE_dw", lambda W, x, y: subscript.dE_dw(W, x, y, 1, 2)),
    ("subscript.chain_terms", lambda W, x, y: subscript.chain_terms(W, x, y, 1, 2)),
    ("jacobian.grad_W", jacobian.grad_W),
    ("jacobian.grad_W_vec", jacobian.grad_W_vec),
    ("jacobian.grad_W_denominator", jacobian.grad_W_denominator),
    (
        "jacobian.blocks",
        lambda W, x, y: (
            jacobian.dE_ds(activations.sigmoid(W @ x), y),
            jacobian.ds_dv(activations.sigmoid(W @ x)),
            jacobian.dv_dW(x, 5),
            jacobian.dv_dvecW(x, 5),
            jacobian.vec(W),
        ),
    ),
    ("differential.grad_W", differential.grad_W),
    ("differential.grad_W_hadamard", differential.grad_W_hadamard),
    ("differential.dE", lambda W, x, y: differential.dE(W, x, y, W)),
    ("differential.remainder", lambda W, x, y: differential.remainder(W, x, y, 1e-3 * W)),
    (
        "activations",
        lambda W, x, y: [
            f(W)
            for f in (
                activations.sigmoid,
                activations.sigmoid_prime,
                activations.tanh,
                activations.relu,
                activations.softmax,
                activations.log_softmax,
            )
        ],
    ),
    (
        "check_gradient",
        lambda W, x, y: check_gradient(lambda A: seed.E(A, x, y), W, differential.grad_W(W, x, y)),
    ),
    (
        "gradcheck",
        lambda W, x, y: backprop.gradcheck(lambda A: seed.E(A, x, y), W, differential.grad_W(W, x, y)),
    ),
]


@pytest.mark.parametrize("name, f", MUTATION_CASES, ids=[c[0] for c in MUTATION_CASES])
def test_no_function_mutates_its_inputs(name, f):
    W, x, y = seed.example()
    copies = [a.copy() for a in (W, x, y)]
    f(W, x, y)
    for a, a0 in zip((W, x, y), copies):
        np.testing.assert_array_equal(a, a0)


def test_mlp_does_not_mutate_params_or_data():
    net = backprop.MLP([3, 4, 2], hidden="relu", output="sigmoid", loss="cross_entropy", seed=0)
    p = {k: P.copy() for k, P in net.params.items()}
    X0, Y0 = X.copy(), np.full((2, 5), 0.25)
    Y_ = Y0.copy()
    net.loss_and_gradients(X, Y_, params=p)
    backprop.gradcheck(lambda q: net.loss(X, Y_, params=q), p, net.gradients(X, Y_, params=p))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y_, Y0)
    for k in p:
        np.testing.assert_array_equal(p[k], net.params[k])
