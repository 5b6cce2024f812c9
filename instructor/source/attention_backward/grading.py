"""Grader-side checks of the assignment `attention_backward` (never released, never in the sandbox)."""
import numpy as np

from backprop.layers import attention

STUDENT_PACKAGE: dict = {}        # numpy only: backprop.layers is the reference

# (T, S, d, d_v, causal): self-attention with and without the mask, and more keys than queries
SHAPES = ((4, 4, 3, 2, False), (5, 5, 4, 3, True), (3, 6, 2, 4, False))


def sequences(rng):
    """Fresh Q (T, d), K (S, d), V (S, d_v) and a random upstream gradient dout (T, d_v)."""
    return [dict(Q=rng.standard_normal((T, d)), K=rng.standard_normal((S, d)),
                 V=rng.standard_normal((S, d_v)), dout=rng.standard_normal((T, d_v)), causal=causal)
            for T, S, d, d_v, causal in SHAPES]


def weights(rng):
    """Fresh weights P (T, S) (rows: softmax of random scores) and upstream gradients dP (T, S)."""
    cases = []
    for T, S in ((4, 4), (3, 6)):
        Z = np.exp(rng.standard_normal((T, S)))
        cases.append(dict(P=Z / Z.sum(axis=1, keepdims=True), dP=rng.standard_normal((T, S))))
    return cases


def P_of(Q, K, causal, **_):
    return attention.forward(Q, K, np.zeros((K.shape[0], 1)), causal=causal)[1].P


def grads(Q, K, V, dout, causal):
    """{"Q", "K", "V"} of the reference; test_layers_attention checks it against loops, central
    differences and PyTorch."""
    dQ, dK, dV = attention.backward(dout, attention.forward(Q, K, V, causal=causal)[1])
    return {"Q": dQ, "K": dK, "V": dV}


TESTS = {
    "test_attention_weights_shape": dict(kind="shape", call="attention_weights(Q, K, causal)",
                                         cases=sequences, expected=P_of, noun="weight matrix P"),
    "test_attention_weights_values": dict(call="attention_weights(Q, K, causal)", cases=sequences,
                                          expected=P_of, noun="weight matrix P"),
    "test_softmax_rows_backward_shape": dict(kind="shape", call="softmax_rows_backward(P, dP)", noun="gradient",
                                             cases=weights, expected=attention.row_softmax_backward),
    "test_softmax_rows_backward_values": dict(
        call="softmax_rows_backward(P, dP)", cases=weights, expected=attention.row_softmax_backward, noun="gradient",
        mistakes=lambda P, dP: {
            "minus_p_p_transpose_forgotten": (
                P * dP, "your gradient equals P * dP: the Jacobian of a softmax row is diag(p) - p p^T, and "
                        "the - p p^T part (the row sum) is missing"),
            "row_sum_not_weighted_by_P": (
                P * (dP - np.sum(dP, axis=1, keepdims=True)),
                "your gradient subtracts the plain row sum of dP: the sum must be weighted by P, "
                "P * (dP - sum(P * dP) over each row)")}),
    "test_attention_backward_shapes": dict(kind="shape", call="attention_backward(dout, Q, K, V, causal)",
                                           cases=sequences, expected=grads, noun="gradient"),
    "test_attention_backward_values": dict(call="attention_backward(dout, Q, K, V, causal)",
                                           cases=sequences, expected=grads, noun="gradient"),
}


# ------------------------------------------------------------------------------------- variants
# The scale of the scores: 1/sqrt(d) as written, 1/d, or none; it changes S, grad_Q and grad_K.
VARIANTS = {"scale": {
    "sqrt_d": [],
    "d": [
        ("Single-head scaled dot-product attention computes",
         r"Single-head dot-product attention, with the scores scaled by $1/d$ (not $1/\sqrt d$), computes"),
        (r"\tfrac{1}{\sqrt d}", r"\tfrac{1}{d}"),
        ("np.sqrt(Q.shape[1])", "Q.shape[1]"),
        ("Q K^T / sqrt(d)", "Q K^T / d")],
    "none": [
        ("Single-head scaled dot-product attention computes",
         "Single-head dot-product attention, with scores that are **not** scaled, computes"),
        ("\\tfrac{1}{\\sqrt d}\\, ", ""),
        ("each row a softmax of\nthe scaled scores", "each row a softmax of\nthe scores"),
        (" / np.sqrt(Q.shape[1])", ""),
        ("Q K^T / sqrt(d)", "Q K^T")],
}}
SCALES = {"d": lambda d: 1.0 / d, "none": lambda d: 1.0}


def make_tests(scale):
    """TESTS of a variant: the reference (1/sqrt(d)) on Q rescaled by c sqrt(d), whose scores are
    c Q K^T (the notebook as written: the tests above, unchanged)."""
    if scale == "sqrt_d":
        return TESTS

    def alpha(Q):
        return SCALES[scale](Q.shape[1]) * np.sqrt(Q.shape[1])

    def P_(Q, K, causal, **_):
        return P_of(alpha(Q) * Q, K, causal)

    def grads_(Q, K, V, dout, causal):
        g = grads(alpha(Q) * Q, K, V, dout, causal)
        return {**g, "Q": alpha(Q) * g["Q"]}

    tests = dict(TESTS)
    for gid in ("test_attention_weights_shape", "test_attention_weights_values"):
        tests[gid] = dict(TESTS[gid], expected=P_)
    for gid in ("test_attention_backward_shapes", "test_attention_backward_values"):
        tests[gid] = dict(TESTS[gid], expected=grads_)
    return tests
