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


def grad_x_mistakes(W, x, y):
    """The wrong answers of a forgotten or misplaced sigma'(v) = s - s*s."""
    f = forward(W, x, y)
    return {"missing_activation_derivative": (
                W.T @ (f.s - f.y),
                "your gradient equals W^T (s - y): the factor sigma'(v) = s - s*s of the activation is missing "
                "(the chain rule passes through s = sigma(v): multiply s - y entrywise by s - s*s)"),
            "sigma_instead_of_sigma_prime": (
                W.T @ (f.s * (f.s - f.y)),
                "your gradient equals W^T (s * (s - y)): you multiplied by sigma(v) = s where its derivative "
                "sigma'(v) = s - s*s belongs")}


def dE_mistakes(W, x, y, dWs):
    """G : dW with the gradient of a forgotten sigma'(v)."""
    f = forward(W, x, y)
    G = (f.s - f.y) @ x.T
    return {"missing_activation_derivative": (
        np.array([np.sum(G * d) for d in dWs]),
        "your changes equal (s - y) x^T : dW: the factor sigma'(v) = s - s*s is missing from G")}


TESTS = {
    "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks, noun="gradient",
                              expected=lambda W, x, y: differential.grad_W(W, x, y)),
    "test_grad_W_values": dict(call="grad_W(W, x, y)", cases=networks, noun="gradient",
                               mistakes=lambda W, x, y: seed_mistakes(W, x, y),
                               expected=lambda W, x, y: differential.grad_W(W, x, y)),
    "test_dE_scalar": dict(kind="scalar", call="dE(W, x, y, dW)", cases=one_direction, noun="change dE",
                           expected=lambda W, x, y, dW: differential.dE(W, x, y, dW)),
    "test_dE_values": dict(call="[dE(W, x, y, dW) for dW in dWs]", cases=directions, noun="list of changes",
                           mistakes=dE_mistakes,
                           expected=lambda W, x, y, dWs: np.array([differential.dE(W, x, y, d) for d in dWs])),
    "test_grad_x_shape": dict(kind="shape", call="grad_x(W, x, y)", cases=networks, expected=grad_x,
                              noun="gradient"),
    "test_grad_x_values": dict(call="grad_x(W, x, y)", cases=networks, expected=grad_x, noun="gradient",
                               mistakes=grad_x_mistakes),
}


# ------------------------------------------------------------------------------------- variants
# The activation: the notebook as written uses sigma (ds = (S - S^2) dv); tanh and softplus need
# another derivative, in the text, the formulas and the code.
SIGMOID_S = "s = 1.0 / (1.0 + np.exp(-(W @ x)))"
VARIANTS = {"activation": {
    "sigmoid": [],
    "tanh": [
        ("Same seed network. With", r"The seed network with $s = \tanh(v)$, whose derivative is "
                                    r"$\tanh'(v) = 1 - s \circ s$. With"),
        ("(S - S^2)", "(I - S^2)"),
        (SIGMOID_S, "s = np.tanh(W @ x)"),
        ("return (S - S @ S) @ (s - y) @ x.T", "return (np.eye(len(s)) - S @ S) @ (s - y) @ x.T"),
        ("(s - s * s)", "(1.0 - s * s)")],
    "softplus": [
        ("Same seed network. With", r"The seed network with $s = \operatorname{softplus}(v) = \log(1 + e^{v})$, "
                                    r"whose derivative is $\sigma(v) = 1 - e^{-s}$. With"),
        ("(S - S^2)", "D"),
        (r"$S = \operatorname{Diag}(s)$", r"$D = \operatorname{Diag}(1 - e^{-s})$"),
        (SIGMOID_S, "s = np.logaddexp(0.0, W @ x)"),
        ("S = np.diag(s[:, 0])\n    return (S - S @ S) @ (s - y) @ x.T",
         "D = np.diag(1.0 - np.exp(-s[:, 0]))\n    return D @ (s - y) @ x.T"),
        ("(s - s * s)", "(1.0 - np.exp(-s))")],
}}

#: f(v), f'(v) written with s = f(v), and how the feedback writes f'(v)
ACTIVATIONS = {"tanh": (np.tanh, lambda s: 1.0 - s * s, "tanh'(v) = 1 - s*s"),
               "softplus": (lambda v: np.logaddexp(0.0, v), lambda s: 1.0 - np.exp(-s),
                            "softplus'(v) = 1 - exp(-s)")}


def _variant_tests(activation):
    f, f_prime, words = ACTIVATIONS[activation]

    def grad_(W, x, y):
        s = f(W @ x)
        return (f_prime(s) * (s - y)) @ x.T

    def grad_x_(W, x, y):
        s = f(W @ x)
        return W.T @ (f_prime(s) * (s - y))

    def mistakes_(W, x, y):
        s = f(W @ x)
        return {"missing_activation_derivative": (
            (s - y) @ x.T, f"your gradient equals (s - y) x^T: the factor {words} of the activation is missing")}

    def grad_x_mistakes_(W, x, y):
        s = f(W @ x)
        return {"missing_activation_derivative": (
            W.T @ (s - y), f"your gradient equals W^T (s - y): the factor {words} of the activation is missing")}

    def dE_(W, x, y, dW):
        return float(np.sum(grad_(W, x, y) * dW))

    def dE_mistakes_(W, x, y, dWs):
        G = (f(W @ x) - y) @ x.T
        return {"missing_activation_derivative": (
            np.array([np.sum(G * d) for d in dWs]),
            f"your changes equal (s - y) x^T : dW: the factor {words} is missing from G")}

    return {
        "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks, noun="gradient",
                                  expected=grad_),
        "test_grad_W_values": dict(call="grad_W(W, x, y)", cases=networks, noun="gradient", mistakes=mistakes_,
                                   expected=grad_),
        "test_dE_scalar": dict(kind="scalar", call="dE(W, x, y, dW)", cases=one_direction, noun="change dE",
                               expected=dE_),
        "test_dE_values": dict(call="[dE(W, x, y, dW) for dW in dWs]", cases=directions, noun="list of changes",
                               mistakes=dE_mistakes_,
                               expected=lambda W, x, y, dWs: np.array([dE_(W, x, y, d) for d in dWs])),
        "test_grad_x_shape": dict(kind="shape", call="grad_x(W, x, y)", cases=networks, expected=grad_x_,
                                  noun="gradient"),
        "test_grad_x_values": dict(call="grad_x(W, x, y)", cases=networks, expected=grad_x_, noun="gradient",
                                   mistakes=grad_x_mistakes_),
    }


def make_tests(activation):
    """TESTS of a variant (the notebook as written: the tests above, unchanged)."""
    return TESTS if activation == "sigmoid" else _variant_tests(activation)
