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


# ------------------------------------------------------------------------------------- variants
# The statistics: batch norm (each row: a feature over the batch) as written; layer norm (each
# column: an example over its features); RMS norm (each column, divided by its root mean square).
BN_STATS = r"""Columns of $X$ (shape $n \times B$) are examples. Batch normalisation (training mode) normalises
each **row** — one feature over the batch — with the biased variance, then scales and shifts it:

$$
\mu = \tfrac1B X\mathbf 1, \qquad \sigma^2 = \tfrac1B \bigl((X - \mu\mathbf 1^\top) \circ
(X - \mu\mathbf 1^\top)\bigr)\mathbf 1, \qquad
\hat X = \frac{X - \mu\mathbf 1^\top}{\sqrt{\sigma^2 + \varepsilon}}, \qquad
Y = \gamma \circ \hat X + \beta\mathbf 1^\top ,
$$

with $\gamma$, $\beta$ of shape $(n, 1)$ and the division and $\gamma\,\circ$ taken row by row.
Given the upstream gradient $G = \partial E/\partial Y$ (`dout`, shape $(n, B)$), the chapter on
normalisation derived, with $\hat G = \gamma \circ G$ and $r = (\sigma^2 + \varepsilon)^{-1/2}$,"""
LN_STATS = r"""Columns of $X$ (shape $n \times B$) are examples. Layer normalisation normalises each **column**
— one example over its $n$ features — with the biased variance, then scales and shifts every feature:

$$
\mu = \tfrac1n \mathbf 1^\top X, \qquad \sigma^2 = \tfrac1n \mathbf 1^\top \bigl((X - \mathbf 1\mu) \circ
(X - \mathbf 1\mu)\bigr), \qquad
\hat X = \frac{X - \mathbf 1\mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad
Y = \gamma \circ \hat X + \beta\mathbf 1^\top ,
$$

with $\mu$, $\sigma^2$ rows of shape $(1, B)$ (the division taken column by column) and $\gamma$,
$\beta$ of shape $(n, 1)$ (taken row by row). Given the upstream gradient $G = \partial E/\partial Y$
(`dout`, shape $(n, B)$), the rules of the chapter on normalisation give, with $\hat G = \gamma \circ G$
and $r = (\sigma^2 + \varepsilon)^{-1/2}$ (a row $(1, B)$),"""
RMS_STATS = r"""Columns of $X$ (shape $n \times B$) are examples. RMS normalisation divides each **column** — one
example over its $n$ features — by its root mean square (no centring), then scales and shifts every
feature:

$$
q = \tfrac1n \mathbf 1^\top (X \circ X), \qquad r = (q + \varepsilon)^{-1/2}, \qquad
\hat X = X \circ (\mathbf 1 r), \qquad Y = \gamma \circ \hat X + \beta\mathbf 1^\top ,
$$

with $q$, $r$ rows of shape $(1, B)$ and $\gamma$, $\beta$ of shape $(n, 1)$ (taken row by row).
Given the upstream gradient $G = \partial E/\partial Y$ (`dout`, shape $(n, B)$), the rules of the
chapter on normalisation give, with $\hat G = \gamma \circ G$ (no mean to subtract: one term fewer),"""
BN_GRAD = r"""\frac{\partial E}{\partial X} = r \circ \Bigl(\hat G - \operatorname{mean}(\hat G)
  - \hat X \circ \operatorname{mean}(\hat G \circ \hat X)\Bigr), \qquad"""
ROWS = "means taken along each row."
ONES = ("Try your function with `dout = np.ones((n, B))` as well: the result is (almost) zero whatever\n"
        "you wrote for the last two terms — the reason why the checks use random upstream gradients.")
NOT_ONES = "The checks call your function with random upstream gradients `dout`."
Q1 = ("every row centred by its mean and\ndivided by $\\sqrt{\\sigma^2 + \\varepsilon}$, where $\\sigma^2$ is the "
      "row's variance **divided by\n$B$** (not $B - 1$).")
DOC = "X_hat (n, B): rows of X (n, B) centred and scaled (biased variance)."
NORMALISE = ("C = X - X.mean(axis=1, keepdims=True)\n"
             "    return C / np.sqrt(np.mean(C * C, axis=1, keepdims=True) + eps)")
R = "r = 1 / np.sqrt(X.var(axis=1, keepdims=True) + eps)"
GRAD_X = ("return r * (G_hat - G_hat.mean(axis=1, keepdims=True)\n"
          "                - X_hat * np.mean(G_hat * X_hat, axis=1, keepdims=True))")
VARIANTS = {"statistics": {
    "batch_norm": [],
    "layer_norm": [
        ("# Assignment 6 — The backward pass of batch normalisation",
         "# Assignment 6 — The backward pass of layer normalisation"),
        (BN_STATS, LN_STATS), (ROWS, "means taken along each column (over the $n$ features)."), (ONES, NOT_ONES),
        (Q1, Q1.replace("every row", "every column").replace("row's", "column's").replace("$B$", "$n$")
         .replace("$B - 1$", "$n - 1$")),
        ("depend on every entry of their row.", "depend on every entry of their column."),
        (DOC, DOC.replace("rows of X", "columns of X")),
        (NORMALISE, NORMALISE.replace("axis=1", "axis=0")), (R, R.replace("axis=1", "axis=0")),
        (GRAD_X, GRAD_X.replace("axis=1", "axis=0"))],
    "rms_norm": [
        ("# Assignment 6 — The backward pass of batch normalisation",
         "# Assignment 6 — The backward pass of RMS normalisation"),
        (BN_STATS, RMS_STATS),
        (BN_GRAD, r"\frac{\partial E}{\partial X} = r \circ \Bigl(\hat G - \hat X \circ \operatorname{mean}"
                  r"(\hat G \circ \hat X)\Bigr), \qquad"),
        (ROWS, "means taken along each column (over the $n$ features)."), (ONES, NOT_ONES),
        (Q1, "every column divided by\n$\\sqrt{q + \\varepsilon}$, where $q$ is the column's mean square "
             "(**divided by $n$**; no centring)."),
        ("Remember that $\\mu$ and $\\sigma^2$ depend on every entry of their row.",
         "Remember that $q$ depends on every entry of its column."),
        (DOC, "X_hat (n, B): columns of X (n, B) divided by their root mean square."),
        (NORMALISE, "return X / np.sqrt(np.mean(X * X, axis=0, keepdims=True) + eps)"),
        (R, "r = 1 / np.sqrt(np.mean(X * X, axis=0, keepdims=True) + eps)"),
        (GRAD_X, "return r * (G_hat - X_hat * np.mean(G_hat * X_hat, axis=0, keepdims=True))")],
}}


def _x_hat_of(statistics):
    if statistics == "layer_norm":          # batch norm of the transpose (the reference layer)
        return lambda X, eps, **_: x_hat(X.T, eps).T
    return lambda X, eps, **_: X / np.sqrt(np.mean(X * X, axis=0, keepdims=True) + eps)


def _grad_X_of(statistics):
    def layer_norm(X, gamma, dout, eps):
        dXt, _, _ = batchnorm.backward((gamma * dout).T, batchnorm.forward(
            X.T, np.ones((X.shape[1], 1)), np.zeros((X.shape[1], 1)), eps)[1])
        return dXt.T

    def rms_norm(X, gamma, dout, eps):
        r = 1 / np.sqrt(np.mean(X * X, axis=0, keepdims=True) + eps)
        G, Xh = gamma * dout, X * r
        return r * (G - Xh * np.mean(G * Xh, axis=0, keepdims=True))
    return layer_norm if statistics == "layer_norm" else rms_norm


def make_tests(statistics):
    """TESTS of a variant: layer norm by the reference batch norm of X^T, RMS norm written out
    (the notebook as written: the tests above, unchanged)."""
    if statistics == "batch_norm":
        return TESTS
    xh, gx = _x_hat_of(statistics), _grad_X_of(statistics)

    def grad_gamma_(X, dout, eps, **_):
        return np.sum(dout * xh(X, eps), axis=1, keepdims=True)

    def gamma_mistakes_(X, gamma, dout, eps):
        return {"upstream_gradient_left_out": (
            xh(X, eps).sum(axis=1, keepdims=True),
            "your gradient equals the row sums of X_hat: the upstream gradient dout is missing (sum dout * X_hat)")}

    def x_mistakes_(X, gamma, dout, eps):
        ones = np.ones_like(gamma)
        second = np.mean(X * X, axis=0, keepdims=True) if statistics == "rms_norm" else X.var(axis=0, keepdims=True)
        r = 1 / np.sqrt(second + eps)                            # a row (1, B)
        return {"statistics_treated_as_constants": (
                    r * gamma * dout, "your gradient treats the column statistics as constants: they depend on "
                                      "X too, which adds terms"),
                "gamma_left_out": (gx(X, ones, dout, eps),
                                   "your gradient is right but for the factor gamma: dE/dX_hat = gamma * dout")}

    return {
        "test_normalise_shape": dict(kind="shape", call="normalise(X, eps)", cases=batches, expected=xh,
                                     noun="X_hat"),
        "test_normalise_values": dict(call="normalise(X, eps)", cases=batches, expected=xh, noun="X_hat"),
        "test_grad_gamma_shape": dict(kind="shape", call="grad_gamma(dout, X, eps)", cases=batches,
                                      expected=grad_gamma_, noun="gradient"),
        "test_grad_gamma_values": dict(call="grad_gamma(dout, X, eps)", cases=batches, noun="gradient",
                                       expected=grad_gamma_, mistakes=gamma_mistakes_),
        "test_grad_X_shape": dict(kind="shape", call="grad_X(dout, X, gamma, eps)", cases=batches,
                                  expected=gx, noun="gradient"),
        "test_grad_X_values": dict(call="grad_X(dout, X, gamma, eps)", cases=batches, noun="gradient",
                                   expected=gx, mistakes=x_mistakes_),
    }
