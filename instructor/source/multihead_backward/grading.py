"""Grader-side checks of the assignment `multihead_backward` (never released, never in the sandbox).

Expected values come from the package's layer (backprop.layers.multihead_attention, checked
against central differences and JAX's autodiff in tests/test_layers_multihead_attention.py;
tests/test_grader_assignments.py checks these cases against JAX too). The typical mistakes are
written out in ``WRONG``: one wrong function per mistake, with the arguments of the student's
function, so that the tests can also hand each one to the self-check as a student's answer.
"""
import math

import numpy as np

from backprop.layers import multihead_attention as mha
from backprop.layers.attention import attend, causal_mask, masked_softmax, row_softmax_backward

STUDENT_PACKAGE: dict = {}        # numpy only: backprop.layers is the reference

# (B, T, d, h, causal) of the backward's cases: several heads, causal and not, B = 1
SHAPES = ((2, 4, 6, 3, True), (1, 5, 4, 2, False), (3, 3, 8, 4, True))


def _blocks(rng, h_choices=(2, 3)):
    """Fresh Y (B, T, d) to split and A (B, h, T, d_k) to merge, two shapes each."""
    cases = []
    for B, T, d_k in ((2, 3, 2), (1, 4, 3)):
        h = int(rng.choice(h_choices))
        cases.append(dict(Y=rng.standard_normal((B, T, h * d_k)), h=h,
                          A=rng.standard_normal((B, h, T, d_k))))
    return cases


def split_cases(rng):
    return [dict(Y=c["Y"], h=c["h"]) for c in _blocks(rng)]


def merge_cases(rng):
    return [dict(A=c["A"]) for c in _blocks(rng)]


def head_cases(rng):
    """Fresh heads Qs, Ks (B, h, T, d_k), causal and not."""
    return [dict(Qs=rng.standard_normal((B, h, T, d_k)), Ks=rng.standard_normal((B, h, T, d_k)),
                 causal=causal) for B, h, T, d_k, causal in ((2, 3, 4, 2, True), (1, 2, 5, 3, False),
                                                              (2, 2, 3, 4, True))]


def weight_cases(rng):
    """Fresh weights P (B, h, T, T) (rows: softmax of random scores, some causal) and dP."""
    cases = []
    for B, h, T, causal in ((2, 3, 4, False), (1, 2, 5, True)):
        P = masked_softmax(rng.standard_normal((B, h, T, T)), causal_mask(T, T) if causal else None)
        cases.append(dict(P=P, dP=rng.standard_normal((B, h, T, T))))
    return cases


def layer_cases(rng):
    """Fresh X (B, T, d), the four W (d, d), the upstream gradient dout (B, T, d), h, causal."""
    return [dict(dout=rng.standard_normal((B, T, d)), X=rng.standard_normal((B, T, d)),
                 **{name: rng.standard_normal((d, d)) / np.sqrt(d) for name in ("Wq", "Wk", "Wv", "Wo")},
                 h=h, causal=causal) for B, T, d, h, causal in SHAPES]


# ------------------------------------------------------------------------------- expected values
def split(Y, h):
    return mha.split_heads(Y, h)


def merge(A):
    return mha.merge_heads(A)


def weights(Qs, Ks, causal):
    """P (B, h, T, T) of the reference."""
    T = Qs.shape[2]
    return attend(Qs, Ks, np.zeros(Ks.shape[:3] + (1,)), causal_mask(T, T) if causal else None)[1]


def grads(dout, X, Wq, Wk, Wv, Wo, h, causal):
    """{"X", "Wq", "Wk", "Wv", "Wo"} of the reference layer."""
    cache = mha.forward(X, Wq, Wk, Wv, Wo, heads=h, causal=causal)[1]
    return dict(zip(("X", "Wq", "Wk", "Wv", "Wo"), mha.backward(dout, cache)))


def qkv(g):
    """The three projection gradients stacked, (3, d, d): what test_..._Wqkv_values compares."""
    return np.stack([g["Wq"], g["Wk"], g["Wv"]])


# ------------------------------------------------------------------------------- typical mistakes
def _split_reshape(Y, h):
    B, T, d = Y.shape
    return Y.reshape(B, h, T, d // h)


def _split_interleaved(Y, h):
    B, T, d = Y.shape
    return Y.reshape(B, T, d // h, h).transpose(0, 3, 1, 2)


def _merge_reshape(A):
    B, h, T, d_k = A.shape
    return A.reshape(B, T, h * d_k)


def _merge_interleaved(A):
    B, h, T, d_k = A.shape
    return A.transpose(0, 2, 3, 1).reshape(B, T, h * d_k)


def _weights_with(Qs, Ks, causal, mask=causal_mask, scale=None):
    T, d_k = Qs.shape[2], Qs.shape[3]
    Z = Qs @ np.swapaxes(Ks, -1, -2) / (math.sqrt(d_k) if scale is None else scale(d_k))
    return masked_softmax(Z, mask(T, T) if causal else None)


def _softmax_backward_summed(axis):
    return lambda P, dP: P * (dP - np.sum(P * dP, axis=axis, keepdims=True))


def backward_with(dout, X, Wq, Wk, Wv, Wo, h, causal, mistake=None):
    """The backward pass of the layer written out with one typical ``mistake`` (None: none)."""
    B, T, d = X.shape
    split = _split_reshape if mistake == "gradient_split_by_reshape" else mha.split_heads
    merge = _merge_reshape if mistake == "gradients_merged_by_reshape" else mha.merge_heads
    Qs, Ks, Vs = (mha.split_heads(X @ W.T, h) for W in (Wq, Wk, Wv))
    masked = causal and mistake != "causal_mask_ignored"
    Os, P = attend(Qs, Ks, Vs, causal_mask(T, T) if masked else None)
    C = mha.merge_heads(Os)
    scale = {"no_scale_in_backward": 1.0, "sqrt_d_not_sqrt_d_k": math.sqrt(d)}.get(
        mistake, math.sqrt(d // h))
    dOs = split(dout @ Wo, h)
    dZ = row_softmax_backward(P, dOs @ np.swapaxes(Vs, -1, -2)) / scale
    dQ, dK, dV = (merge(g) for g in (dZ @ Ks, np.swapaxes(dZ, -1, -2) @ Qs,
                                     np.swapaxes(P, -1, -2) @ dOs))
    paths = {"one_path_to_x": ((dQ, Wq),)}.get(mistake, ((dQ, Wq), (dK, Wk), (dV, Wv)))
    dX = sum(g @ (W.T if mistake == "transposed_weights_in_dx" else W) for g, W in paths)
    out = {"X": dX, "Wo": np.tensordot(dout, C, axes=((0, 1), (0, 1)))}
    for name, g in (("Wq", dQ), ("Wk", dK), ("Wv", dV)):
        out[name] = np.tensordot(g, X, axes=((0, 1), (0, 1)))
    if mistake == "projection_gradients_transposed":
        out = {k: (v if k == "X" else v.T) for k, v in out.items()}
    return out


def _wrong_backward(mistake):
    return lambda dout, X, Wq, Wk, Wv, Wo, h, causal: backward_with(dout, X, Wq, Wk, Wv, Wo, h,
                                                                     causal, mistake)


SCALE = "Z = Q~ K~^T / sqrt(d_k)"
#: {student's function: {mistake: (a wrong function with the student's arguments, explanation)}}
WRONG = {
    "split_heads": {
        "reshape_without_transpose": (_split_reshape, (
            "your split equals Y.reshape(B, h, T, d_k): the right shape, but head j must hold "
            "features j d_k ... (j + 1) d_k - 1 of every position; reshape to (B, T, h, d_k) "
            "first, then move the head axis forward with a transpose")),
        "heads_interleaved": (_split_interleaved, (
            "your heads take every h-th feature (head j gets features j, j + h, ...): head j "
            "must take the block of consecutive features j d_k ... (j + 1) d_k - 1"))},
    "merge_heads": {
        "reshape_without_transpose": (_merge_reshape, (
            "your merge equals A.reshape(B, T, h d_k): the right shape, but it mixes positions "
            "and heads; move the head axis back next to d_k with a transpose, then reshape")),
        "heads_interleaved": (_merge_interleaved, (
            "your merge interleaves the heads (feature j + h k comes from head j): the heads "
            "must sit side by side, head j at features j d_k ... (j + 1) d_k - 1"))},
    "attention_weights": {
        "causal_mask_ignored": (lambda Qs, Ks, causal: _weights_with(Qs, Ks, False), (
            "your P is the unmasked softmax: with causal true, query t may attend only to "
            "keys u <= t (P = 0 above the diagonal)")),
        "mask_transposed": (lambda Qs, Ks, causal: _weights_with(
            Qs, Ks, causal, lambda T, S: np.triu(np.ones((T, S), dtype=bool))), (
            "your mask keeps the keys u >= t (the future): the causal mask keeps u <= t, "
            "the lower triangle")),
        "scale_forgotten": (lambda Qs, Ks, causal: _weights_with(Qs, Ks, causal, scale=lambda d_k: 1.0), (
            f"your P is the softmax of Q~ K~^T without the factor 1/sqrt(d_k): {SCALE}")),
        "divided_by_d_k": (lambda Qs, Ks, causal: _weights_with(Qs, Ks, causal, scale=float), (
            f"your scores are divided by d_k instead of sqrt(d_k): {SCALE}"))},
    "softmax_rows_backward": {
        "row_sum_over_heads": (_softmax_backward_summed(1), (
            "your sum runs over axis 1, the heads: a row of P is its last axis (the keys u), "
            "so sum(P * dP) must run over axis -1 of the (B, h, T, T) arrays")),
        "column_sum": (_softmax_backward_summed(-2), (
            "your sum runs over the queries (axis -2): each row of P is a softmax over the "
            "keys, so sum(P * dP) must run over the last axis")),
        "minus_p_p_transpose_forgotten": (lambda P, dP: P * dP, (
            "your gradient equals P * dP: the Jacobian of a softmax row is Diag(p) - p p^T, and "
            "the - p p^T part (the row sum) is missing"))},
    "multihead_backward": {
        "no_scale_in_backward": (_wrong_backward("no_scale_in_backward"), (
            f"the factor 1/sqrt(d_k) is missing in your backward pass: {SCALE}, so grad Q~ = "
            "grad Z K~ / sqrt(d_k) and grad K~ = (grad Z)^T Q~ / sqrt(d_k)")),
        "sqrt_d_not_sqrt_d_k": (_wrong_backward("sqrt_d_not_sqrt_d_k"), (
            f"your backward pass divides by sqrt(d), the width of X: each head has width "
            f"d_k = d / h and {SCALE}")),
        "causal_mask_ignored": (_wrong_backward("causal_mask_ignored"), (
            "with causal true your gradients are those of the unmasked layer: the backward pass "
            "must use the forward pass's masked weights P (zero above the diagonal)")),
        "gradient_split_by_reshape": (_wrong_backward("gradient_split_by_reshape"), (
            "grad C = dout Wo is split into heads with a reshape alone: its split must be the "
            "forward pass's split (reshape to (B, T, h, d_k), then transpose)")),
        "gradients_merged_by_reshape": (_wrong_backward("gradients_merged_by_reshape"), (
            "the heads' gradients grad Q~, grad K~, grad V~ are put back with a reshape alone: "
            "the adjoint of the split is the merge (transpose, then reshape to (B, T, d))")),
        "projection_gradients_transposed": (_wrong_backward("projection_gradients_transposed"), (
            "your gradients of Wq, Wk, Wv are the transposes of the right ones: Q = X Wq^T, so "
            "grad Wq = sum over b of (grad Q_b)^T X_b (and likewise Wk, Wv)")),
        "one_path_to_x": (_wrong_backward("one_path_to_x"), (
            "your dX has only the path through the queries: X feeds Q, K and V, so "
            "dX = grad Q Wq + grad K Wk + grad V Wv")),
        "transposed_weights_in_dx": (_wrong_backward("transposed_weights_in_dx"), (
            "your dX multiplies by Wq^T, Wk^T, Wv^T: Q = X Wq^T, so the path through Q "
            "gives grad Q Wq (and likewise K, V)"))},
}


def named(function, names=None, pick=None):
    """mistakes(**case) of a test of ``function``: its WRONG answers (only ``names`` if given),
    each passed through ``pick`` (the part of the answer the test compares)."""
    chosen = {n: WRONG[function][n] for n in (names or WRONG[function])}
    return lambda **case: {n: ((pick or (lambda a: a))(f(**case)), words)
                           for n, (f, words) in chosen.items()}


CALL = "multihead_backward(dout, X, Wq, Wk, Wv, Wo, h, causal)"
PATHS_TO_X = ["one_path_to_x", "transposed_weights_in_dx"]
HEADS = ["no_scale_in_backward", "sqrt_d_not_sqrt_d_k", "causal_mask_ignored",
         "gradient_split_by_reshape", "gradients_merged_by_reshape"]
TESTS = {
    "test_split_heads_shape": dict(kind="shape", call="split_heads(Y, h)", cases=split_cases,
                                   expected=split, noun="split"),
    "test_split_heads_values": dict(call="split_heads(Y, h)", cases=split_cases,
                                    expected=split, noun="split",
                                    mistakes=named("split_heads")),
    "test_merge_heads_shape": dict(kind="shape", call="merge_heads(A)", cases=merge_cases,
                                   expected=merge, noun="merge"),
    "test_merge_heads_values": dict(call="merge_heads(A)", cases=merge_cases,
                                    expected=merge, noun="merge",
                                    mistakes=named("merge_heads")),
    "test_attention_weights_shape": dict(kind="shape", call="attention_weights(Qs, Ks, causal)",
                                         cases=head_cases, expected=weights, noun="weight array P"),
    "test_attention_weights_values": dict(call="attention_weights(Qs, Ks, causal)", cases=head_cases,
                                          expected=weights, noun="weight array P",
                                          mistakes=named("attention_weights")),
    "test_softmax_rows_backward_shape": dict(kind="shape", call="softmax_rows_backward(P, dP)",
                                             cases=weight_cases, expected=row_softmax_backward,
                                             noun="gradient"),
    "test_softmax_rows_backward_values": dict(call="softmax_rows_backward(P, dP)", cases=weight_cases,
                                              expected=row_softmax_backward, noun="gradient",
                                              mistakes=named("softmax_rows_backward")),
    "test_multihead_backward_shapes": dict(kind="shape", call=CALL, cases=layer_cases, expected=grads,
                                           noun="gradient"),
    "test_multihead_backward_Wo_values": dict(
        call=f"{CALL}['Wo']", cases=layer_cases, expected=lambda **c: grads(**c)["Wo"], noun="gradient",
        mistakes=named("multihead_backward", ["causal_mask_ignored"], pick=lambda g: g["Wo"])),
    "test_multihead_backward_Wqkv_values": dict(
        call=f"[{CALL}[k] for k in ('Wq', 'Wk', 'Wv')]", cases=layer_cases,
        expected=lambda **c: qkv(grads(**c)), noun="gradient",
        mistakes=named("multihead_backward", HEADS + ["projection_gradients_transposed"], pick=qkv)),
    "test_multihead_backward_X_values": dict(
        call=f"{CALL}['X']", cases=layer_cases, expected=lambda **c: grads(**c)["X"], noun="gradient",
        mistakes=named("multihead_backward", HEADS + PATHS_TO_X, pick=lambda g: g["X"])),
}
