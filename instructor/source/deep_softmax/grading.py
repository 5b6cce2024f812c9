"""Grader-side checks of the assignment `deep_softmax` (never released, never in the sandbox)."""
import numpy as np

from backprop import MLP
from backprop.activations import softmax

STUDENT_PACKAGE = {"backprop.seed": "*", "backprop.activations": ["sigmoid", "softmax"]}


def _one_hot(rng, k, B):
    return np.eye(k)[:, rng.integers(k, size=B)]


def logits(rng):
    """Fresh logits V2 (k, B) with one-hot targets, two sizes."""
    return [dict(V2=rng.standard_normal((k, B)), Y=_one_hot(rng, k, B)) for k, B in ((3, 4), (4, 2))]


def batches(rng):
    """Fresh two-layer networks (params), batches X and targets Y of two sizes."""
    cases = []
    for n0, n1, n2, B in ((4, 5, 3, 3), (3, 6, 4, 5)):
        params = {"W1": rng.standard_normal((n1, n0)), "b1": rng.standard_normal((n1, 1)),
                  "W2": rng.standard_normal((n2, n1)), "b2": rng.standard_normal((n2, 1))}
        cases.append(dict(params=params, X=rng.standard_normal((n0, B)), Y=_one_hot(rng, n2, B)))
    return cases


def delta(V2, Y):
    """Delta_2 = (softmax(V2) - Y) / B; test_grader_assignments checks it with central differences."""
    return (softmax(V2) - Y) / V2.shape[1]


def delta_mistakes(V2, Y):
    """Delta_2 without the mean over the batch."""
    return {"batch_mean_forgotten": (softmax(V2) - Y,
                                     "your Delta_2 equals P - Y: the 1/B of the batch mean is missing")}


def gradients(params, X, Y):
    net = MLP([X.shape[0], params["W1"].shape[0], params["W2"].shape[0]], hidden="sigmoid",
              output="softmax", loss="cross_entropy")
    return net.gradients(X, Y, params)


TESTS = {
    "test_output_delta_shape": dict(kind="shape", call="output_delta(V2, Y)", cases=logits, expected=delta,
                                    noun="Delta_2"),
    "test_output_delta_values": dict(call="output_delta(V2, Y)", cases=logits, expected=delta, noun="Delta_2",
                                     mistakes=delta_mistakes),
    "test_backward_shapes": dict(kind="shape", call="backward(params, X, Y)", cases=batches, expected=gradients,
                                 noun="gradient"),
    "test_backward_values": dict(call="backward(params, X, Y)", cases=batches, expected=gradients,
                                 noun="gradient"),
}


# ------------------------------------------------------------------------------------- variants
# The hidden activation: the notebook as written uses sigma; tanh and relu need another Delta_1.
SETUP_IMPORT = "from backprop.activations import sigmoid, softmax"
VARIANTS = {"hidden": {
    "sigmoid": [],
    "tanh": [
        (r"$X_1 = \sigma(V_1)$", r"$X_1 = \tanh(V_1)$"),
        (r"$\Delta_1 = \sigma'(V_1) \circ (W_2^\top \Delta_2)$",
         r"$\Delta_1 = \tanh'(V_1) \circ (W_2^\top \Delta_2)$ with $\tanh'(V_1) = 1 - X_1 \circ X_1$"),
        (SETUP_IMPORT, "from backprop.activations import softmax"),
        ("X1 = sigmoid(W1 @ X + b1)", "X1 = np.tanh(W1 @ X + b1)"),
        ("Delta1 = (X1 - X1 * X1) * (W2.T @ Delta2)", "Delta1 = (1.0 - X1 * X1) * (W2.T @ Delta2)")],
    "relu": [
        (r"$X_1 = \sigma(V_1)$", r"$X_1 = \operatorname{relu}(V_1) = \max(V_1, 0)$"),
        (r"$\Delta_1 = \sigma'(V_1) \circ (W_2^\top \Delta_2)$",
         r"$\Delta_1 = \operatorname{relu}'(V_1) \circ (W_2^\top \Delta_2)$ with "
         r"$\operatorname{relu}'(V_1) = \mathbb 1[V_1 > 0]$"),
        (SETUP_IMPORT, "from backprop.activations import softmax"),
        ("X1 = sigmoid(W1 @ X + b1)", "X1 = np.maximum(W1 @ X + b1, 0.0)"),
        ("Delta1 = (X1 - X1 * X1) * (W2.T @ Delta2)", "Delta1 = (X1 > 0) * (W2.T @ Delta2)")],
}}


def make_tests(hidden):
    """TESTS of a variant: the reference MLP with that hidden activation (the notebook as written:
    the tests above, unchanged)."""
    if hidden == "sigmoid":
        return TESTS

    def gradients_(params, X, Y):
        net = MLP([X.shape[0], params["W1"].shape[0], params["W2"].shape[0]], hidden=hidden,
                  output="softmax", loss="cross_entropy")
        return net.gradients(X, Y, params)

    return {**TESTS,
            "test_backward_shapes": dict(TESTS["test_backward_shapes"], expected=gradients_),
            "test_backward_values": dict(TESTS["test_backward_values"], expected=gradients_)}
