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
