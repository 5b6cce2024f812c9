"""Grader-side checks of the assignment `jacobians` (never released, never in the sandbox)."""
import numpy as np

from backprop import jacobian
from backprop.activations import sigmoid
from backprop.diagnose import seed_mistakes
from backprop.seed import example, forward

STUDENT_PACKAGE = {"backprop.seed": "*", "backprop.activations": ["sigmoid"]}


def networks(rng):
    """The visible example and two fresh networks, one of another shape."""
    cases = [dict(zip("Wxy", example()))]
    for m, n in ((3, 6), (5, 4)):
        cases.append(dict(W=rng.standard_normal((m, n)), x=rng.standard_normal((n, 1)),
                          y=rng.uniform(0.0, 1.0, (m, 1))))
    return cases


def outputs(rng):
    """s = sigma(v) and y of fresh networks."""
    return [dict(s=forward(**c).s, y=c["y"]) for c in networks(rng)[1:]]


def inputs(rng):
    return [dict(x=c["x"], m=int(c["W"].shape[0])) for c in networks(rng)[1:]]


def s_only(rng):
    return [dict(s=c["s"]) for c in outputs(rng)]


def mistakes(W, x, y):
    return seed_mistakes(W, x, y)


def ds_dv_mistakes(s):
    """ds/dv = diag(sigma'(v)) with sigma'(v) = s - s*s; the typical wrong Jacobians."""
    return {"missing_activation_derivative": (
                np.eye(s.shape[0]),
                "your Jacobian is the identity: the factor sigma'(v) = s - s*s is missing "
                "(ds/dv = diag(s - s*s), since s = sigma(v) entry by entry)"),
            "sigma_instead_of_sigma_prime": (
                np.diagflat(s),
                "your Jacobian is diag(s): you used sigma(v) = s where its derivative "
                "sigma'(v) = s - s*s belongs")}


TESTS = {
    "test_dE_ds_shape": dict(kind="shape", call="dE_ds(s, y)", cases=outputs, noun="Jacobian",
                             expected=lambda s, y: jacobian.dE_ds(s, y)),
    "test_dE_ds_values": dict(call="dE_ds(s, y)", cases=outputs, tol=1e-10, noun="Jacobian",
                              expected=lambda s, y: jacobian.dE_ds(s, y)),
    "test_ds_dv_shape": dict(kind="shape", call="ds_dv(s)", cases=s_only, noun="Jacobian",
                             expected=lambda s: jacobian.ds_dv(s)),
    "test_ds_dv_values": dict(call="ds_dv(s)", cases=s_only, tol=1e-10, noun="Jacobian",
                              mistakes=ds_dv_mistakes, expected=lambda s: jacobian.ds_dv(s)),
    "test_dv_dW_shape": dict(kind="shape", call="dv_dW(x, m)", cases=inputs, noun="Jacobian",
                             expected=lambda x, m: jacobian.dv_dW(x, m)),
    "test_dv_dW_values": dict(call="dv_dW(x, m)", cases=inputs, tol=1e-10, noun="Jacobian",
                              expected=lambda x, m: jacobian.dv_dW(x, m)),
    "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks, noun="gradient",
                              expected=lambda W, x, y: jacobian.grad_W(W, x, y)),
    "test_grad_W_values": dict(call="grad_W(W, x, y)", cases=networks, mistakes=mistakes, noun="gradient",
                               expected=lambda W, x, y: jacobian.grad_W(W, x, y)),
}


# ------------------------------------------------------------------------------------- variants
# The activation: the notebook as written uses sigma; tanh and softplus need another ds/dv.
SETUP_S = "f = forward(W, x, y)    # f.v, f.s: columns (m, 1)\ns = f.s"
VARIANTS = {"activation": {
    "sigmoid": [],
    "tanh": [
        (r"$s = \sigma(v)$", r"$s = \tanh(v)$"),
        (r"using $\sigma'(v) = s - s\circ s$.", r"using $\tanh'(v) = 1 - s\circ s$."),
        ("s = sigma(v)", "s = tanh(v)"),
        ("np.diag((s - s * s)[:, 0])", "np.diag((1.0 - s * s)[:, 0])"),
        (SETUP_S, "s = np.tanh(W @ x)      # a column (m, 1)"),
        ("s = 1.0 / (1.0 + np.exp(-v))", "s = np.tanh(v)")],
    "softplus": [
        (r"$s = \sigma(v)$", r"$s = \operatorname{softplus}(v) = \log(1 + e^{v})$"),
        (r"using $\sigma'(v) = s - s\circ s$.",
         r"using $\operatorname{softplus}'(v) = \sigma(v) = 1 - e^{-s}$ (entry by entry)."),
        ("s = sigma(v)", "s = softplus(v)"),
        ("np.diag((s - s * s)[:, 0])", "np.diag((1.0 - np.exp(-s))[:, 0])"),
        (SETUP_S, "s = np.logaddexp(0.0, W @ x)   # a column (m, 1)"),
        ("s = 1.0 / (1.0 + np.exp(-v))", "s = np.logaddexp(0.0, v)")],
}}

#: f(v), f'(v) written with s = f(v), and how the feedback writes f'(v)
ACTIVATIONS = {"tanh": (np.tanh, lambda s: 1.0 - s * s, "tanh'(v) = 1 - s*s"),
               "softplus": (lambda v: np.logaddexp(0.0, v), lambda s: 1.0 - np.exp(-s),
                            "softplus'(v) = 1 - exp(-s)")}


def _variant_tests(activation):
    f, f_prime, words = ACTIVATIONS[activation]

    def outputs_(rng):
        return [dict(s=f(c["W"] @ c["x"]), y=c["y"]) for c in networks(rng)[1:]]

    def s_only_(rng):
        return [dict(s=c["s"]) for c in outputs_(rng)]

    def ds_dv_(s):
        return np.diag(f_prime(s)[:, 0])

    def ds_dv_mistakes_(s):
        return {"missing_activation_derivative": (
                    np.eye(s.shape[0]), f"your Jacobian is the identity: the factor {words} is missing"),
                "activation_instead_of_derivative": (
                    np.diagflat(s), f"your Jacobian is diag(s): you used {activation}(v) = s where its "
                    f"derivative {words} belongs")}

    def grad_(W, x, y):
        s = f(W @ x)
        return (f_prime(s) * (s - y)) @ x.T

    def mistakes_(W, x, y):
        s = f(W @ x)
        return {"missing_activation_derivative": (
            (s - y) @ x.T, f"your gradient equals (s - y) x^T: the factor {words} of the activation is missing")}

    tests = dict(TESTS)
    tests.update({
        "test_dE_ds_shape": dict(TESTS["test_dE_ds_shape"], cases=outputs_),
        "test_dE_ds_values": dict(TESTS["test_dE_ds_values"], cases=outputs_),
        "test_ds_dv_shape": dict(kind="shape", call="ds_dv(s)", cases=s_only_, noun="Jacobian", expected=ds_dv_),
        "test_ds_dv_values": dict(call="ds_dv(s)", cases=s_only_, tol=1e-10, noun="Jacobian",
                                  mistakes=ds_dv_mistakes_, expected=ds_dv_),
        "test_grad_W_shape": dict(kind="shape", call="grad_W(W, x, y)", cases=networks, noun="gradient",
                                  expected=grad_),
        "test_grad_W_values": dict(call="grad_W(W, x, y)", cases=networks, mistakes=mistakes_, noun="gradient",
                                   expected=grad_),
    })
    return tests


def make_tests(activation):
    """TESTS of a variant (the notebook as written: the tests above, unchanged)."""
    return TESTS if activation == "sigmoid" else _variant_tests(activation)
