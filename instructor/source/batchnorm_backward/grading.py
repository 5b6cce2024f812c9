"""Grader-side checks of the assignment `batchnorm_backward` (never released, never in the sandbox)."""
import numpy as np

from backprop.layers import batchnorm

STUDENT_PACKAGE: dict = {}        # numpy only: backprop.layers is the reference


def batches(rng):
    """Fresh batches of two shapes: X (n, B), gamma (n, 1), a random upstream gradient dout (n, B)."""
    return [dict(X=2 * rng.standard_normal((n, B)) + 1, gamma=rng.uniform(0.5, 2, (n, 1)),
                 dout=rng.standard_normal((n, B)), eps=eps)
            for n, B, eps in ((3, 5, 1e-5), (4, 8, 1e-3))]


def x_hat(X, eps, **_):
    return batchnorm.forward(X, np.ones((X.shape[0], 1)), np.zeros((X.shape[0], 1)), eps)[1].Xhat


def grads(X, gamma, dout, eps):
    """(dX, dgamma, dbeta) of the reference layer; test_layers_batchnorm checks it against
    central differences and PyTorch."""
    return batchnorm.backward(dout, batchnorm.forward(X, gamma, np.zeros_like(gamma), eps)[1])


def gamma_mistakes(X, gamma, dout, eps):
    return {"upstream_gradient_left_out": (
        x_hat(X, eps).sum(axis=1, keepdims=True),
        "your gradient equals the row sums of X_hat: the upstream gradient dout is missing (sum dout * X_hat)")}


def x_mistakes(X, gamma, dout, eps):
    """The classic wrong answers of the chapter: constant statistics, mean only, Bessel."""
    Xh, B = x_hat(X, eps), X.shape[1]
    r = 1 / np.sqrt(X.var(axis=1, keepdims=True) + eps)
    G = gamma * dout
    C = X - X.mean(axis=1, keepdims=True)
    dvar = -0.5 * r**3 * np.sum(G * C, axis=1, keepdims=True)
    dmu = -r * G.sum(axis=1, keepdims=True)
    return {"mu_and_sigma_treated_as_constants": (
                r * G, "your gradient treats the batch mean and variance as constants: they depend on X "
                       "too, which adds two terms"),
            "sigma_dependence_forgotten": (
                r * (G - G.mean(axis=1, keepdims=True)),
                "your gradient has the mean's term but not the variance's: sigma depends on X too"),
            "bessel_correction_in_the_backward": (
                r * G + dmu / B + 2 / (B - 1) * dvar * C,
                "your gradient uses 1/(B - 1) for the variance: training-mode batch normalisation divides by B"),
            "gamma_left_out": (
                r * (dout - dout.mean(axis=1, keepdims=True) - Xh * np.mean(dout * Xh, axis=1, keepdims=True)),
                "your gradient is right but for the factor gamma: dE/dX_hat = gamma * dout")}


TESTS = {
    "test_normalise_shape": dict(kind="shape", call="normalise(X, eps)", cases=batches, expected=x_hat,
                                 noun="X_hat"),
    "test_normalise_values": dict(call="normalise(X, eps)", cases=batches, expected=x_hat, noun="X_hat"),
    "test_grad_gamma_shape": dict(kind="shape", call="grad_gamma(dout, X, eps)", cases=batches,
                                  expected=lambda **c: grads(**c)[1], noun="gradient"),
    "test_grad_gamma_values": dict(call="grad_gamma(dout, X, eps)", cases=batches, noun="gradient",
                                   expected=lambda **c: grads(**c)[1], mistakes=gamma_mistakes),
    "test_grad_X_shape": dict(kind="shape", call="grad_X(dout, X, gamma, eps)", cases=batches,
                              expected=lambda **c: grads(**c)[0], noun="gradient"),
    "test_grad_X_values": dict(call="grad_X(dout, X, gamma, eps)", cases=batches, noun="gradient",
                               expected=lambda **c: grads(**c)[0], mistakes=x_mistakes),
}
