"""Grader-side checks of the assignment `subscripts` (never released, never in the sandbox)."""
import numpy as np

from backprop import subscript
from backprop.diagnose import seed_mistakes
from backprop.seed import example

STUDENT_PACKAGE = {"backprop.seed": "*", "backprop.activations": ["sigmoid"]}


def networks(rng):
    """The visible example and two fresh networks, one of another shape."""
    cases = [dict(zip("Wxy", example()))]
    for m, n in ((3, 6), (5, 4)):
        cases.append(dict(W=rng.standard_normal((m, n)), x=rng.standard_normal((n, 1)),
                          y=rng.uniform(0.0, 1.0, (m, 1))))
    return cases


def entries(rng):
    """Fresh networks with the index (i, j) of one weight."""
    cases = []
    for case in networks(rng)[1:]:
        m, n = case["W"].shape
        cases.append({**case, "i": int(rng.integers(m)), "j": int(rng.integers(n))})
    return cases


def grad(W, x, y, **_):
    return subscript.grad_W(W, x, y)


ALL_ENTRIES = "[[dE_dw(W, x, y, i, j) for j in range(W.shape[1])] for i in range(W.shape[0])]"

TESTS = {
    "test_dE_dw_scalar": dict(
        kind="scalar", call="dE_dw(W, x, y, i, j)", cases=entries, noun="partial derivative",
        expected=lambda W, x, y, i, j: subscript.grad_W(W, x, y)[i, j]),
    "test_dE_dw_values": dict(
        call=ALL_ENTRIES, cases=networks, expected=grad, noun="gradient",
        mistakes=lambda W, x, y: seed_mistakes(W, x, y)),
    "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks, expected=grad,
                              noun="gradient"),
    "test_grad_W_values": dict(
        call="grad_W(W, x, y)", cases=networks, expected=grad, noun="gradient",
        mistakes=lambda W, x, y: seed_mistakes(W, x, y)),
}
