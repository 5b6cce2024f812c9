"""backprop.gradcheck and its pieces."""

import numpy as np
import pytest

import backprop
from backprop.checking import numerical_gradient, relative_error


def test_numerical_gradient_of_a_quadratic():
    A = np.arange(6.0).reshape(2, 3)
    N = numerical_gradient(lambda M: float(np.sum(M**2)), A)
    np.testing.assert_allclose(N, 2 * A, atol=1e-8)
    np.testing.assert_array_equal(A, np.arange(6.0).reshape(2, 3))  # input untouched


def test_gradcheck_flags_a_wrong_gradient():
    A = np.random.default_rng(0).standard_normal((3, 2))
    f = lambda M: float(np.sum(np.sin(M)))
    assert backprop.gradcheck(f, A, np.cos(A)).ok
    bad = backprop.gradcheck(f, A, 0.5 * np.cos(A))
    assert not bad.ok and bad.max_error > 0.1
    assert "MISMATCH" in str(bad)


def test_gradcheck_on_dicts_leaves_params_alone():
    net = backprop.MLP([2, 3, 1], hidden="tanh", output="identity")
    before = {k: v.copy() for k, v in net.params.items()}
    X, Y = np.ones((2, 4)), np.zeros((1, 4))
    report = backprop.gradcheck(lambda p: net.loss(X, Y, params=p), net.params, net.gradients(X, Y))
    assert report.ok, str(report)
    for k in before:
        np.testing.assert_array_equal(net.params[k], before[k])


def test_relative_error_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        relative_error(np.zeros((2, 3)), np.zeros((3, 2)))
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0


def test_forward_and_central_difference_error_orders():
    """Halving h halves the forward error (O(h)) and quarters the central one (O(h^2))."""
    A = np.array([[0.3, -0.7], [1.1, 0.2]])
    f = lambda M: float(np.sum(np.exp(M)))
    errs = {
        s: [np.abs(numerical_gradient(f, A, h, scheme=s) - np.exp(A)).max() for h in (1e-2, 5e-3)]
        for s in ("central", "forward", "backward")
    }
    assert errs["forward"][0] / errs["forward"][1] == pytest.approx(2, rel=0.02)
    assert errs["backward"][0] / errs["backward"][1] == pytest.approx(2, rel=0.02)
    assert errs["central"][0] / errs["central"][1] == pytest.approx(4, rel=0.02)
    with pytest.raises(ValueError, match="scheme"):
        numerical_gradient(f, A, scheme="sideways")
    np.testing.assert_array_equal(A, [[0.3, -0.7], [1.1, 0.2]])


# -- verdicts at the edges (issue 12) ------------------------------------------------------------

from backprop import differential, seed  # noqa: E402
from backprop.checking import Float32Warning, compare, entry_errors, gradcheck  # noqa: E402
from backprop.diagnose import check_gradient, seed_mistakes  # noqa: E402


def relu_net(v0=3e-7):
    """E(W) = 1/2 ||V2 relu(W x) - t||^2 with the first pre-activation at v0 (a kink within h)."""
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal((4, 1))
    t, V2 = rng.standard_normal((2, 1)), rng.standard_normal((2, 3))
    W[0, 0] -= ((W @ x)[0, 0] - v0) / x[0, 0]
    E = lambda W: 0.5 * float(np.sum((V2 @ np.maximum(W @ x, 0) - t) ** 2))

    def G(A):
        v = A @ x
        return ((V2.T @ (V2 @ np.maximum(v, 0) - t)) * (v > 0)) @ x.T

    return E, W, G(W)


def test_a_kink_within_h_is_inconclusive_not_a_mismatch():
    E, W, G = relu_net()
    assert relative_error(G, numerical_gradient(E, W)) > 1e-2  # the old check: a false alarm
    d = check_gradient(E, W, G)
    assert (d.kind, d.reason) == ("inconclusive", "kink") and "kink" in d.message
    report = gradcheck(E, W, G)
    assert not report and report.inconclusive == ["W"] and "INCONCLUSIVE" in str(report)
    # real mistakes are still named: the entries away from the kink decide
    assert check_gradient(E, W, -G).kind == "wrong_sign"
    assert check_gradient(E, W, 2 * G).kind == "scaled"
    assert gradcheck(E, W, -G).verdicts == {"W": "mismatch"}
    # moved off the kink (v0 = 1e-3 >> h), the same code is checked and passes
    E2, W2, G2 = relu_net(1e-3)
    assert check_gradient(E2, W2, G2).kind == "correct" and gradcheck(E2, W2, G2).ok


def test_a_kink_of_max_is_inconclusive():
    A = np.array([[1.0, 1.0 + 2e-7, -0.5]])
    f = lambda M: float(np.max(M))
    G = np.array([[0.0, 1.0, 0.0]])
    assert check_gradient(f, A, G).reason == "kink"
    assert check_gradient(f, A, np.array([[0.0, 5.0, 0.0]])).kind in ("wrong", "scaled")


def saturated(v=23.0):
    """A seed network with every |pre-activation| = v: at 23, ||G|| ~ 1e-10, below what h = 1e-6 resolves."""
    _, x, y = seed.example()
    v = v * np.sign(np.random.default_rng(0).standard_normal((5, 1)))
    W = v @ x.T / float((x.T @ x)[0, 0])
    return W, (lambda W: seed.E(W, x, y)), differential.grad_W(W, x, y)


def test_a_gradient_below_resolution_is_never_judged_correct():
    W, E, G = saturated()
    assert np.linalg.norm(G) < 1e-9
    for wrong in (-G, 0 * G, 10 * G):
        d = check_gradient(E, W, wrong)
        assert (d.kind, d.reason) == ("inconclusive", "resolution"), d
        assert gradcheck(E, W, wrong).verdicts == {"W": "inconclusive"}
    # a larger step resolves it: the mistakes are named, and the right gradient passes a tol it can decide
    assert check_gradient(E, W, -G, h=1e-2).kind == "wrong_sign"
    assert check_gradient(E, W, 10 * G, h=1e-2).factor == pytest.approx(10, rel=1e-3)
    assert check_gradient(E, W, 0 * G, h=1e-2).kind == "wrong"
    assert check_gradient(E, W, G, h=1e-2, tol=1e-2).kind == "correct"


@pytest.mark.parametrize("v", [24.0, 26.0, 30.0, 40.0])
def test_a_saturated_network_never_calls_a_zero_or_negated_gradient_correct(v):
    """Issue 21: at v ~ 24 and beyond, E(W +- h e_ij) are often the same float, so the differences
    are exactly 0 -- as they are for a zero gradient. Zero used to agree with zero; now the entry
    counts as unresolved, and a zero or negated gradient is inconclusive, never correct."""
    W, E, G = saturated(v)
    for cand in (0 * G, -G, G):
        d = check_gradient(E, W, cand)
        assert (d.kind, d.reason) == ("inconclusive", "resolution"), (v, d)
        report = gradcheck(E, W, cand)
        assert report.verdicts == {"W": "inconclusive"} and not report
        assert "INCONCLUSIVE" in str(report)


def test_a_saturated_network_is_judged_where_a_step_resolves_it():
    """The honest twin: at v = 24 a step h = 1e-2 resolves the gradient; the right one is correct
    there, zero and the negated one are named; mildly saturated (v = 4), the default step suffices."""
    W, E, G = saturated(24.0)
    assert check_gradient(E, W, G, h=1e-2, tol=1e-2).kind == "correct"
    assert gradcheck(E, W, G, h=1e-2, tol=1e-2).ok
    assert check_gradient(E, W, -G, h=1e-2, tol=1e-2).kind == "wrong_sign"
    assert check_gradient(E, W, 0 * G, h=1e-2, tol=1e-2).kind == "wrong"
    W, E, G = saturated(4.0)
    assert check_gradient(E, W, G).kind == "correct" and gradcheck(E, W, G).ok
    assert check_gradient(E, W, 0 * G).kind == "wrong"
    assert gradcheck(E, W, 0 * G).verdicts == {"W": "mismatch"}


def test_a_large_constant_part_of_E_never_makes_a_zero_gradient_correct():
    """E + 1e12: every change of E by h G is below the rounding of 1e12 (1.2e-4), so every
    difference is 0. A zero, negated or right gradient is inconclusive, and the reason says why."""
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    E = lambda A: seed.E(A, x, y) + 1e12
    for cand in (0 * G, -G, G):
        d = check_gradient(E, W, cand)
        assert (d.kind, d.reason) == ("inconclusive", "resolution") and "own rounding" in d.message
        assert gradcheck(E, W, cand).verdicts == {"A": "inconclusive"}


def test_a_moderate_constant_part_of_E_is_resolved_by_a_larger_step():
    """The honest twin: E + 1e3 at h = 1e-4 is resolved: the right gradient is ok, the others named."""
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    E = lambda A: seed.E(A, x, y) + 1e3
    assert gradcheck(E, W, G, h=1e-4).ok and check_gradient(E, W, G, h=1e-4).kind == "correct"
    assert check_gradient(E, W, -G, h=1e-4).kind == "wrong_sign"
    assert check_gradient(E, W, 0 * G, h=1e-4).kind == "wrong"


def test_an_unused_input_has_a_zero_gradient_that_is_correct():
    """E does not depend on A at all (unchanged even at a far step): zero is correct, anything else
    is not; and a dead ReLU unit's exact zeros beside resolved entries do not make a check inconclusive."""
    A = np.random.default_rng(0).standard_normal((2, 3))
    f = lambda M: 3.0
    assert gradcheck(f, A, np.zeros_like(A)).ok
    assert gradcheck(f, A, np.full(A.shape, 1e-3)).verdicts == {"M": "mismatch"}
    E, W, G = relu_net(-0.5)  # the first unit is dead: row 0 of G is 0
    assert not np.any(G[0]) and gradcheck(E, W, G).ok


def test_one_bad_entry_is_found_and_named():
    W, x, y = seed.example()
    E = lambda W: 1e4 * seed.E(W, x, y)
    G = 1e4 * differential.grad_W(W, x, y)
    i = np.unravel_index(np.argmin(np.abs(G)), G.shape)
    bad = G.copy()
    bad[i] *= 2
    assert relative_error(bad, G) < 1e-2  # the norm hides it ...
    report = gradcheck(E, W, bad, tol=1e-2)
    c = report.comparisons["W"]
    assert not report and c.worst == tuple(int(k) for k in i)  # ... the entries do not
    assert c.analytic == pytest.approx(bad[i]) and c.numeric == pytest.approx(G[i], rel=1e-6)
    d = check_gradient(E, W, bad, tol=1e-2)
    assert d.kind == "wrong" and str(tuple(int(k) for k in i)) in d.message and d.worst[0] == c.worst
    assert entry_errors(bad, G)[i] == pytest.approx(1 / 3)


def test_missing_sigma_prime_is_named_when_m_is_1():
    rng = np.random.default_rng(4)
    W, x, y = rng.standard_normal((1, 4)), rng.standard_normal((4, 1)), np.array([[0.3]])
    M = seed_mistakes(W, x, y)
    d = check_gradient(lambda A: seed.E(A, x, y), W, M["missing_activation_derivative"], mistakes=M)
    assert d.kind == "missing_activation_derivative"  # although it is also a multiple of G


def test_vector_valued_functions_are_checked_through_a_random_upstream_gradient():
    """A normalisation z = a / sum(a): an error that keeps sum(z) is invisible to an all-ones sum."""
    a = np.random.default_rng(1).uniform(1, 2, size=(4, 1))
    f = lambda A: A / A.sum()
    J = (np.eye(4) - f(a) @ np.ones((1, 4))) / a.sum()  # dz/da, (4, 4)
    J_wrong = J + 0.1 * (np.eye(4) - 0.25)  # columns still sum to 0
    ones = lambda A: float(f(A).sum())
    assert np.abs(np.ones((1, 4)) @ (J_wrong - J)).max() < 1e-15  # the all-ones sum is blind to it
    assert np.abs(numerical_gradient(ones, a)).max() < 1e-9
    assert gradcheck(f, a, J[:, None, :, None].reshape(4, 1, 4, 1)).ok
    assert not gradcheck(f, a, J_wrong.reshape(4, 1, 4, 1))
    vjp = lambda u: (u.T @ J).T
    assert gradcheck(f, a, vjp).ok and not gradcheck(f, a, lambda u: (u.T @ J_wrong).T)


def test_float32_checks_warn():
    W, x, y = (np.asarray(a, dtype=np.float32) for a in seed.example())
    G = differential.grad_W(W, x, y)
    with pytest.warns(Float32Warning):
        report = gradcheck(lambda W: seed.E(W, x, y), W, G)
    assert report.comparisons["W"].reason == "float32"
    with pytest.warns(Float32Warning):
        assert gradcheck(lambda W: seed.E(W, x, y), W, G, h=1e-2, tol=1e-3).ok


def test_report_labels_the_parameter_by_its_name():
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    assert list(gradcheck(lambda W: seed.E(W, x, y), W, G).errors) == ["W"]
    assert list(gradcheck(lambda A: seed.E(A, x, y), W, G, name="W").errors) == ["W"]
    assert str(gradcheck(lambda A: seed.E(A, x, y), W, G, name="W")).splitlines()[2].startswith("W ")
    text = str(gradcheck(*relu_net()[:2], relu_net()[2]))
    assert all(len(line) <= 80 for line in text.splitlines()) and "kink" in text


def test_compare_does_not_modify_its_inputs():
    E, W, G = relu_net()
    W0, G0 = W.copy(), G.copy()
    compare(E, W, G)
    check_gradient(E, W, G)
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(G, G0)


def test_a_non_finite_gradient_is_a_mismatch_naming_the_entry():
    W, x, y = seed.example()
    G = differential.grad_W(W, x, y)
    G[3, 2] = np.nan
    report = gradcheck(lambda W: seed.E(W, x, y), W, G)
    assert report.verdicts == {"W": "mismatch"} and report.comparisons["W"].worst == (3, 2)
    assert check_gradient(lambda W: seed.E(W, x, y), W, G).kind == "non_finite"


def test_each_entry_gets_a_named_verdict():
    """Comparison.status holds an EntryVerdict per entry: the doubled entry is a confirmed mismatch,
    a ReLU kink within h is inconclusive there, and the rest of a right gradient agrees."""
    from backprop.checking import EntryVerdict

    W, x, y = seed.example()
    E = lambda W: 1e4 * seed.E(W, x, y)
    G = 1e4 * differential.grad_W(W, x, y)
    bad = G.copy()
    bad[1, 0] *= 2
    c = compare(E, W, bad, tol=1e-2)
    assert c.status[1, 0] == EntryVerdict.MISMATCH and c.worst == (1, 0)
    assert np.all(np.delete(c.status.ravel(), 4) == EntryVerdict.AGREES)
    E, W, G = relu_net()
    c = compare(E, W, G)
    assert c.status[c.worst] == EntryVerdict.INCONCLUSIVE_KINK and c.reason == "kink"
    assert compare(E, W, -G).status[c.worst] == EntryVerdict.MISMATCH_AT_KINK
    W, E, G = saturated(24.0)
    assert np.all(compare(E, W, 0 * G).status == EntryVerdict.WITHIN_ROUNDOFF)


def test_round_off_follows_the_terms_of_a_cancelling_sum():
    """E = G : out sums terms of both signs: its rounding is eps sum|G * out|, not eps |E|.
    layers.gradcheck says so (E.roundoff_scale), and a correct multi-head attention gradient is
    no longer called a mismatch at the default step (it was, at Wq[4, 1], before the scale);
    the honest twin: a gradient off by 1e-4 relative in one entry is still caught."""
    from backprop import checking
    from backprop.layers import gradcheck as layer_check
    from backprop.layers import multihead_attention as mha

    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 5, 8))
    Ws = [rng.standard_normal((8, 8)) / np.sqrt(8) for _ in range(4)]
    report = layer_check(mha, X, *Ws, heads=2, causal=True, seed=6)
    assert report.ok, str(report)

    def wrong_backward(dout, cache):
        dX, dWq, *rest = mha.backward(dout, cache)
        dWq = dWq.copy()
        dWq[4, 1] *= 1 + 1e-4
        return (dX, dWq, *rest)

    bad = layer_check(mha, X, *Ws, heads=2, causal=True, seed=6, backward=wrong_backward)
    assert not bad.ok and bad.verdicts["Wq"] == "mismatch", str(bad)

    def E(A):
        return float(np.sum(A))

    E.roundoff_scale = 1e6
    assert checking.roundoff_scale(E) == 1e6 and checking.roundoff_scale(lambda A: 0.0) == 0.0
