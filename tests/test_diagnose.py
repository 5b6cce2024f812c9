"""backprop.diagnose: every mistake kind is named, and a correct gradient never raises an alarm."""

import warnings

import numpy as np
import pytest

import backprop
from backprop import differential, seed
from backprop.checking import Float32Warning, numerical_gradient, relative_error
from backprop.diagnose import Diagnosis, check_gradient, diagnose, seed_mistakes


@pytest.fixture
def net():
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    return W, x, y, G, (lambda A: seed.E(A, x, y))


def test_correct_seed_gradient(net):
    W, x, y, G, f = net
    d = check_gradient(f, W, G, mistakes=seed_mistakes(W, x, y))
    assert d.kind == "correct" and d and d.relative_error < 1e-8 and d.factor is None
    assert isinstance(d, Diagnosis) and "correct" in d.message


@pytest.mark.parametrize(
    "kind, make",
    [
        ("transposed", lambda G: G.T.copy()),
        ("wrong_sign", lambda G: -G),
        ("scaled", lambda G: 2 * G),
    ],
)
def test_generic_kinds_on_the_seed(net, kind, make):
    W, x, y, G, f = net
    d = check_gradient(f, W, make(G), mistakes=seed_mistakes(W, x, y))
    assert d.kind == kind and not d


def test_scaled_names_the_factor_and_cause(net):
    W, x, y, G, f = net
    d2 = check_gradient(f, W, 2 * G)
    assert d2.kind == "scaled" and d2.factor == pytest.approx(2, rel=1e-6) and "1/2" in d2.message
    dh = diagnose(0.5 * G, G)
    assert dh.kind == "scaled" and dh.factor == pytest.approx(0.5) and "half" in dh.message
    d3 = diagnose(3 * G, G)
    assert d3.kind == "scaled" and d3.factor == pytest.approx(3) and "3 times" in d3.message


@pytest.mark.parametrize(
    "key",
    [
        "missing_activation_derivative",
        "sigma_instead_of_sigma_prime",
        "sigma_prime_at_s",
        "reshape_instead_of_transpose",
    ],
)
def test_each_seed_mistake_is_named(net, key):
    W, x, y, G, f = net
    M = seed_mistakes(W, x, y)
    assert M[key].shape == W.shape
    d = check_gradient(f, W, M[key], mistakes=M)
    assert d.kind == key and not d and d.relative_error > 1e-3
    assert "your gradient" in d.message


def test_missing_activation_derivative_formula(net):
    W, x, y, G, f = net
    fw = seed.forward(W, x, y)
    np.testing.assert_allclose(
        seed_mistakes(W, x, y)["missing_activation_derivative"], (fw.s - fw.y) @ fw.x.T
    )
    # and it really is wrong: it differs from G by the factor s - s*s row by row
    assert diagnose(seed_mistakes(W, x, y)["missing_activation_derivative"], G).kind == "wrong"


def test_shape_and_non_finite_and_wrong(net):
    W, x, y, G, f = net
    d = diagnose(G[:, :3], G)
    assert d.kind == "shape" and "(5, 3)" in d.message and "(5, 4)" in d.message
    d = diagnose(G.ravel(), G)
    assert d.kind == "shape" and "numbers are right" in d.message
    d = diagnose(-G.T, G)  # transpose shape, but not the transpose
    assert d.kind == "shape" and "even transposed" in d.message
    Gn = G.copy()
    Gn[1, 2] = np.nan
    assert diagnose(Gn, G).kind == "non_finite"
    Gw = G.copy()
    Gw[3, 1] += 1.0
    d = diagnose(Gw, G)
    assert d.kind == "wrong" and "(3, 1)" in d.message and f"{d.relative_error:.1e}" in d.message
    assert diagnose(np.zeros_like(G), G).kind == "wrong"


def test_no_false_alarm_on_symmetric_or_zero_gradients():
    A = np.random.default_rng(1).standard_normal((4, 4))
    S = A + A.T  # a symmetric true gradient
    assert diagnose(S, S).kind == "correct" and diagnose(S.T, S).kind == "correct"
    assert diagnose(S + 1e-12, S).kind == "correct"
    Z = np.zeros((3, 2))
    assert diagnose(Z, Z).kind == "correct"
    assert diagnose(np.ones((3, 2)), Z).kind == "wrong"
    # f = sum(cosh^2 - sinh^2) = 9 is constant: the true gradient is 0, the numerical one is round-off
    g = lambda M: float(np.sum(np.cosh(M) ** 2 - np.sinh(M) ** 2))
    W = np.random.default_rng(2).standard_normal((3, 3))
    N = numerical_gradient(g, W)
    assert np.any(N != 0)  # round-off noise is really there ...
    assert diagnose(np.zeros_like(W), N).kind == "wrong"  # ... and fools a purely relative test,
    d = check_gradient(g, W, np.zeros_like(W))  # nor check_gradient: it cannot tell
    assert (d.kind, d.reason) == ("inconclusive", "resolution")  # 0 from a gradient below round-off
    assert check_gradient(g, W, np.ones_like(W)).kind == "wrong"
    # a symmetric true gradient from f(M) = 1/2 M : S M with S symmetric is grad = S M
    h = lambda M: float(0.5 * np.sum(M * (S @ M)))
    I = np.eye(4)
    assert check_gradient(h, I, S @ I).kind == "correct"
    assert check_gradient(h, I, -S).kind == "wrong_sign"


def test_a_mistake_equal_to_the_truth_is_never_reported(net):
    W, x, y, G, f = net
    assert diagnose(G, G, mistakes={"bogus": G.copy()}).kind == "correct"
    assert diagnose(G * (1 + 1e-12), G).kind == "correct"
    assert diagnose(G * (1 + 1e-4), G).kind == "scaled"
    odd = np.ones((2, 7))
    assert diagnose(odd, G, mistakes={"odd_shape": odd}).kind == "odd_shape"


def test_zero_true_gradient_from_zero_input():
    """x = 0: E does not depend on W at all (unchanged even at a far step): zero is correct."""
    W, x, y = seed.example()
    x0 = np.zeros_like(x)
    G = differential.grad_W(W, x0, y)
    assert not np.any(G)
    f = lambda A: seed.E(A, x0, y)
    assert check_gradient(f, W, G, mistakes=seed_mistakes(W, x0, y)).kind == "correct"
    assert check_gradient(f, W, np.full(W.shape, 1e-3)).kind == "wrong"  # E is flat: 1e-3 is not 0


def _mlp_mistakes(net, X, Y):
    """Hand-made wrong gradients of W1 for a 2-layer sigmoid MLP with half squared error."""
    xs, vs = net.forward(X)
    B = X.shape[1]
    W2 = net.params["W2"]
    Delta2 = (xs[2] - xs[2] ** 2) * (xs[2] - Y) / B
    no_hidden_deriv = (W2.T @ Delta2) @ xs[0].T  # sigma' of layer 1 forgotten
    no_mean = ((xs[1] - xs[1] ** 2) * (W2.T @ Delta2 * B)) @ xs[0].T  # the 1/B forgotten: scaled by B
    return {"missing_activation_derivative": no_hidden_deriv}, no_mean


@pytest.mark.parametrize(
    "sizes, hidden, output, loss",
    [
        ([3, 4, 2], "sigmoid", "sigmoid", "half_squared_error"),
        ([3, 5, 4, 3], "tanh", "softmax", "cross_entropy"),
    ],
)
def test_mlp_correct_and_mistakes(sizes, hidden, output, loss):
    rng = np.random.default_rng(0)
    net = backprop.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=1)
    B = 6
    X = rng.standard_normal((sizes[0], B))
    Y = rng.uniform(size=(sizes[-1], B))
    if output == "softmax":
        Y /= Y.sum(axis=0, keepdims=True)
    grads = net.gradients(X, Y)
    for k, P in net.params.items():
        f = lambda A, k=k: net.loss(X, Y, params={**net.params, k: A})
        assert check_gradient(f, P, grads[k]).kind == "correct", k
        if P.shape[0] != P.shape[1] and P.shape[1] > 1:
            assert check_gradient(f, P, grads[k].T).kind == "transposed"
        assert check_gradient(f, P, -grads[k]).kind == "wrong_sign"
        d = check_gradient(f, P, B * grads[k])  # forgot to divide by the batch size
        assert d.kind == "scaled" and d.factor == pytest.approx(B, rel=1e-5)


def test_mlp_missing_hidden_derivative_is_named():
    rng = np.random.default_rng(0)
    net = backprop.MLP([3, 4, 2], hidden="sigmoid", output="sigmoid", seed=1)
    X, Y = rng.standard_normal((3, 5)), rng.uniform(size=(2, 5))
    mistakes, no_mean = _mlp_mistakes(net, X, Y)
    f = lambda A: net.loss(X, Y, params={**net.params, "W1": A})
    G1 = net.gradients(X, Y)["W1"]
    assert check_gradient(f, net.params["W1"], G1, mistakes=mistakes).kind == "correct"
    d = check_gradient(f, net.params["W1"], mistakes["missing_activation_derivative"], mistakes=mistakes)
    assert d.kind == "missing_activation_derivative" and "sigma'" in d.message
    d = check_gradient(f, net.params["W1"], no_mean, mistakes=mistakes)
    assert d.kind == "scaled" and d.factor == pytest.approx(5, rel=1e-5)


def test_bad_input():
    with pytest.raises(TypeError, match="float"):
        diagnose(np.zeros((2, 2), dtype=int), np.ones((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        diagnose(np.zeros((2, 2)), np.array([[np.nan, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="non-negative"):
        diagnose(np.ones(2), np.ones(2), tol=-1)


def test_float32_gradient_is_accepted():
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    assert diagnose(G.astype(np.float32), G, tol=1e-6).kind == "correct"
    assert diagnose((2 * G).astype(np.float32), G, tol=1e-6).kind == "scaled"


def test_float32_check_with_an_honest_tolerance():
    """In float32 the central difference is good to ~1e-5 at best (h ~ 1e-2): tol 1e-3 is honest."""
    W, x, y = (a.astype(np.float32) for a in seed.example())
    f = lambda A: seed.E(A, x, y)
    G = differential.grad_W(W, x, y)
    with pytest.warns(Float32Warning, match="float32"):
        check_gradient(f, W, G, h=1e-2, tol=1e-3)
    warnings.simplefilter("ignore", Float32Warning)
    assert check_gradient(f, W, G, h=1e-2, tol=1e-3).kind == "correct"
    # with the default step h = 1e-6 float32 round-off swamps the differences: no verdict either way
    assert check_gradient(f, W, G, h=1e-6, tol=1e-3).reason == "float32"
    assert check_gradient(f, W, 2 * G, h=1e-6, tol=1e-3).kind == "inconclusive"
    d = check_gradient(f, W, 2 * G, h=1e-2, tol=1e-3)
    assert d.kind == "scaled" and "1/2" in d.message
    d = check_gradient(
        f,
        W,
        seed_mistakes(W, x, y)["missing_activation_derivative"],
        h=1e-2,
        tol=1e-3,
        mistakes=seed_mistakes(W, x, y),
    )
    assert d.kind == "missing_activation_derivative"


@pytest.mark.parametrize("h", [1e-13, 1e-11, 1e-9, 1e-6, 1e-4])
def test_round_off_never_makes_a_correct_gradient_a_mistake(net, h):
    W, x, y, G, f = net
    d = check_gradient(f, W, G, h=h, tol=1e-6, mistakes=seed_mistakes(W, x, y))
    assert d.kind in ("correct", "inconclusive")  # Richardson removes the h^2 truncation
    assert check_gradient(f, W, -G, h=h).kind in ("wrong_sign", "inconclusive")


def test_symmetric_kink_of_abs_never_calls_a_subgradient_wrong_and_catches_one_outside():
    """|a| at a = 0: the central difference is exactly 0 (the kink is symmetric), so only the
    one-sided slopes -1 and 1 tell the subdifferential [-1, 1]. Any subgradient in it must not be
    called wrong; a value outside it must be."""
    A = np.array([[0.0], [1.0], [-2.0]])
    f = lambda a: float(np.sum(np.abs(a)))
    for g0 in (0.0, 0.5, 1.0, -1.0):  # valid subgradients at the kink
        d = check_gradient(f, A, np.array([[g0], [1.0], [-1.0]]))
        assert d.kind in ("correct", "inconclusive"), (g0, d)
    for g0 in (5.0, -3.0):  # outside [-1, 1]: a wrong gradient
        d = check_gradient(f, A, np.array([[g0], [1.0], [-1.0]]))
        assert d.kind not in ("correct", "inconclusive"), (g0, d)


# -- gradients far from 1: the squares inside a norm must not overflow or underflow --------------


@pytest.mark.parametrize("k", [1e-200, 1.0, 1e200])
def test_verdicts_do_not_depend_on_the_scale_of_the_gradient(k):
    """At 1e-200 every squared norm used to underflow to 0 (two different gradients had relative
    error 0, a wrong one was called 'transposed' and the correct one 'zero'); at 1e200 they
    overflowed (nan and RuntimeWarnings). The same pair times k must get the same verdict."""
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    T = np.array([[5.0, -1.0], [0.5, 7.0]])
    assert relative_error(k * A, -k * A) == 1.0
    assert relative_error(k * A, k * A * (1 + 1e-3)) == pytest.approx(1e-3 / (2 + 1e-3), rel=1e-12)
    cases = [
        (k * A, k * T, "wrong"),
        (k * A, k * A, "correct"),
        (-k * A, k * A, "wrong_sign"),
        (3 * k * A, k * A, "scaled"),
        (k * A, k * A.T, "transposed"),
    ]
    for G, G_true, kind in cases:
        d = diagnose(G, G_true, tol=1e-6, atol=0.0)
        assert d.kind == kind, (k, kind, str(d))
    assert diagnose(3 * k * A, k * A, tol=1e-6, atol=0.0).factor == pytest.approx(3.0, rel=1e-12)
