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


# ------------------------------------------------------------------------------------- variants
# The activation: the notebook as written uses sigma; tanh and softplus need other code (f and f').
VARIANTS = {"activation": {
    "sigmoid": [],
    "tanh": [
        (r"$s = \sigma(v)$", r"$s = \tanh(v)$"),
        ("$\\sigma(t) = 1/(1 + e^{-t})$ and\n$\\sigma'(v) = s - s \\circ s$",
         "$\\tanh' = 1 - \\tanh^2$, so\n$\\tanh'(v) = 1 - s \\circ s$"),
        (r"\,\sigma'(v_k)\,", r"\,\tanh'(v_k)\,"),
        ("s = sigma(v)", "s = tanh(v)"),
        ("s = 1.0 / (1.0 + np.exp(-v))", "s = np.tanh(v)"),
        ("(s[k, 0] - s[k, 0] ** 2)", "(1.0 - s[k, 0] ** 2)")],
    "softplus": [
        (r"$s = \sigma(v)$", r"$s = \operatorname{softplus}(v)$"),
        ("$\\sigma(t) = 1/(1 + e^{-t})$ and\n$\\sigma'(v) = s - s \\circ s$",
         "$\\operatorname{softplus}(t) = \\log(1 + e^{t})$ and\n"
         "$\\operatorname{softplus}'(v) = \\sigma(v) = 1 - e^{-s}$ (entry by entry)"),
        (r"\,\sigma'(v_k)\,", r"\,\operatorname{softplus}'(v_k)\,"),
        ("s = sigma(v)", "s = softplus(v)"),
        ("s = 1.0 / (1.0 + np.exp(-v))", "s = np.logaddexp(0.0, v)"),
        ("(s[k, 0] - s[k, 0] ** 2)", "(1.0 - np.exp(-s[k, 0]))")],
}}

#: f(v) and f'(v) written with s = f(v), and how the feedback writes f'(v)
ACTIVATIONS = {"tanh": (np.tanh, lambda s: 1.0 - s * s, "tanh'(v) = 1 - s*s"),
               "softplus": (lambda v: np.logaddexp(0.0, v), lambda s: 1.0 - np.exp(-s),
                            "softplus'(v) = 1 - exp(-s)")}


def _variant_tests(activation):
    f, f_prime, words = ACTIVATIONS[activation]

    def grad_(W, x, y, **_):
        s = f(W @ x)
        return (f_prime(s) * (s - y)) @ x.T

    def mistakes(W, x, y):
        s = f(W @ x)
        return {"missing_activation_derivative": (
                    (s - y) @ x.T, f"your gradient equals (s - y) x^T: the factor {words} of the activation "
                    "is missing"),
                "activation_instead_of_derivative": (
                    (s * (s - y)) @ x.T, f"your gradient equals (s * (s - y)) x^T: you multiplied by "
                    f"{activation}(v) = s where its derivative {words} belongs")}

    return {
        "test_dE_dw_scalar": dict(kind="scalar", call="dE_dw(W, x, y, i, j)", cases=entries,
                                  noun="partial derivative", expected=lambda W, x, y, i, j: grad_(W, x, y)[i, j]),
        "test_dE_dw_values": dict(call=ALL_ENTRIES, cases=networks, expected=grad_, noun="gradient",
                                  mistakes=mistakes),
        "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks, expected=grad_,
                                  noun="gradient"),
        "test_grad_W_values": dict(call="grad_W(W, x, y)", cases=networks, expected=grad_, noun="gradient",
                                   mistakes=mistakes),
    }


def make_tests(activation):
    """TESTS of a variant (the notebook as written: the tests above, unchanged)."""
    return TESTS if activation == "sigmoid" else _variant_tests(activation)
