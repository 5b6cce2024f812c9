"""Grader-side checks of the assignment `differentials` (never released, never in the sandbox)."""
import numpy as np

from backprop import differential
from backprop.checking import numerical_gradient
from backprop.diagnose import seed_mistakes
from backprop.seed import E, example, forward

STUDENT_PACKAGE = {"backprop.seed": "*", "backprop.activations": ["sigmoid"]}


def networks(rng):
    """The visible example and two fresh networks, one of another shape."""
    cases = [dict(zip("Wxy", example()))]
    for m, n in ((3, 6), (5, 4)):
        cases.append(dict(W=rng.standard_normal((m, n)), x=rng.standard_normal((n, 1)),
                          y=rng.uniform(0.0, 1.0, (m, 1))))
    return cases


def directions(rng):
    """Fresh networks, each with three directions dW."""
    return [{**c, "dWs": [rng.standard_normal(c["W"].shape) for _ in range(3)]} for c in networks(rng)[1:]]


def one_direction(rng):
    return [{**c, "dW": 1e-3 * rng.standard_normal(c["W"].shape)} for c in networks(rng)[1:]]


def grad_x(W, x, y):
    """W^T (sigma'(v) o (s - y)); test_grader_assignments checks it against central differences."""
    f = forward(W, x, y)
    return W.T @ ((f.s - f.s * f.s) * (f.s - f.y))


def grad_x_numerical(W, x, y):
    return numerical_gradient(lambda x_: E(W, x_, y), x)


TESTS = {
    "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks,
                              expected=lambda W, x, y: differential.grad_W(W, x, y)),
    "test_grad_W_values": dict(call="grad_W(W, x, y)", cases=networks,
                               mistakes=lambda W, x, y: seed_mistakes(W, x, y),
                               expected=lambda W, x, y: differential.grad_W(W, x, y)),
    "test_dE_scalar": dict(kind="scalar", call="dE(W, x, y, dW)", cases=one_direction,
                           expected=lambda W, x, y, dW: differential.dE(W, x, y, dW)),
    "test_dE_values": dict(call="[dE(W, x, y, dW) for dW in dWs]", cases=directions,
                           expected=lambda W, x, y, dWs: np.array([differential.dE(W, x, y, d) for d in dWs])),
    "test_grad_x_shape": dict(kind="shape", call="grad_x(W, x, y)", cases=networks, expected=grad_x),
    "test_grad_x_values": dict(call="grad_x(W, x, y)", cases=networks, expected=grad_x),
}
