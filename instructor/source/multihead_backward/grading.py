"""Grader-side checks of the assignment `multihead_backward` (never released, never in the sandbox).

Expected values come from the package's layer (backprop.layers.multihead_attention, checked
against central differences and JAX's autodiff in tests/test_layers_multihead_attention.py;
tests/test_grader_assignments.py checks these cases against JAX too). The typical mistakes are
written out in ``WRONG``: one wrong function per mistake, with the arguments of the student's
function, so that the tests can also hand each one to the self-check as a student's answer.

Variants (tools/grading/variants.py): the scale of the scores, Z = Q~ K~^T / c with c = sqrt(d_k)
as written, c = d_k, or no scale (c = 1). The reference for another scale is the package's layer
with Wq multiplied by alpha = sqrt(d_k) / c (its scores are then Q~ K~^T / c): dE/dX is the
layer's, dE/dWq is alpha times the layer's; ``backward_with`` writes the pass out with c itself.
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


#: the scale c(d_k) of the scores Z = Q~ K~^T / c of each variant, and its formula in words
SCALES = {"sqrt_d_k": math.sqrt, "d_k": float, "none": lambda d_k: 1.0}
FORMULAS = {"sqrt_d_k": "Z = Q~ K~^T / sqrt(d_k)", "d_k": "Z = Q~ K~^T / d_k", "none": "Z = Q~ K~^T (not scaled)"}


def _alpha(d_k, scale):
    """The factor on Q~ that turns the package's scores Q~ K~^T / sqrt(d_k) into Q~ K~^T / c."""
    return math.sqrt(d_k) / SCALES[scale](d_k)


def weights(Qs, Ks, causal, scale="sqrt_d_k"):
    """P (B, h, T, T) of the reference."""
    T = Qs.shape[2]
    return attend(_alpha(Qs.shape[3], scale) * Qs, Ks, np.zeros(Ks.shape[:3] + (1,)),
                  causal_mask(T, T) if causal else None)[1]


def grads(dout, X, Wq, Wk, Wv, Wo, h, causal, scale="sqrt_d_k"):
    """{"X", "Wq", "Wk", "Wv", "Wo"} of the reference layer (with Wq scaled by alpha for a variant)."""
    alpha = _alpha(X.shape[2] // h, scale)
    cache = mha.forward(X, alpha * Wq, Wk, Wv, Wo, heads=h, causal=causal)[1]
    out = dict(zip(("X", "Wq", "Wk", "Wv", "Wo"), mha.backward(dout, cache)))
    return {**out, "Wq": alpha * out["Wq"]}


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


def _weights_with(Qs, Ks, causal, mask=causal_mask, scale=math.sqrt):
    T, d_k = Qs.shape[2], Qs.shape[3]
    Z = Qs @ np.swapaxes(Ks, -1, -2) / scale(d_k)
    return masked_softmax(Z, mask(T, T) if causal else None)


def _softmax_backward_summed(axis):
    return lambda P, dP: P * (dP - np.sum(P * dP, axis=axis, keepdims=True))


def backward_with(dout, X, Wq, Wk, Wv, Wo, h, causal, mistake=None, scale="sqrt_d_k"):
    """The backward pass of the layer, its scores scaled by 1 / SCALES[scale](d_k), written out
    with one typical ``mistake`` (None: none)."""
    B, T, d = X.shape
    split = _split_reshape if mistake == "gradient_split_by_reshape" else mha.split_heads
    merge = _merge_reshape if mistake == "gradients_merged_by_reshape" else mha.merge_heads
    Qs, Ks, Vs = (mha.split_heads(X @ W.T, h) for W in (Wq, Wk, Wv))
    masked = causal and mistake != "causal_mask_ignored"
    c = SCALES[scale](d // h)
    P = masked_softmax(Qs @ np.swapaxes(Ks, -1, -2) / c, causal_mask(T, T) if masked else None)
    C = mha.merge_heads(P @ Vs)
    c_backward = {"no_scale_in_backward": 1.0, "sqrt_d_not_sqrt_d_k": math.sqrt(d), "d_not_d_k": float(d),
                  "scale_in_backward": math.sqrt(d // h)}.get(mistake, c)
    dOs = split(dout @ Wo, h)
    dZ = row_softmax_backward(P, dOs @ np.swapaxes(Vs, -1, -2)) / c_backward
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


def _wrong_backward(mistake, scale="sqrt_d_k"):
    return lambda dout, X, Wq, Wk, Wv, Wo, h, causal: backward_with(dout, X, Wq, Wk, Wv, Wo, h,
                                                                     causal, mistake, scale)


DIVISORS = {"sqrt_d_k": "sqrt(d_k)", "d_k": "d_k"}
#: a wrong scale of the scores in attention_weights: (mistake, the scale used)
WRONG_SCALES = (("scale_forgotten", "none"), ("divided_by_d_k", "d_k"), ("divided_by_sqrt_d_k", "sqrt_d_k"))


def _weights_mistakes(scale):
    """attention_weights' scale mistakes of a variant: every other variant's scale."""
    formula, out = FORMULAS[scale], {}
    for name, other in WRONG_SCALES:
        if other == scale:
            continue
        if other == "none":
            words = f"your P is the softmax of Q~ K~^T without the factor 1/{DIVISORS[scale]}: {formula}"
        elif scale == "none":
            words = f"your scores are divided by {DIVISORS[other]}: in this version they are not scaled, {formula}"
        else:
            words = f"your scores are divided by {DIVISORS[other]} instead of {DIVISORS[scale]}: {formula}"
        out[name] = (lambda Qs, Ks, causal, c=SCALES[other]: _weights_with(Qs, Ks, causal, scale=c), words)
    return out


def _backward_scale_mistakes(scale):
    """multihead_backward's scale mistakes of a variant: (name, explanation)."""
    formula = FORMULAS[scale]
    if scale == "none":
        return [("scale_in_backward", f"your backward pass divides by sqrt(d_k): this version's scores are not "
                                      f"scaled ({formula}), so grad Q~ = grad Z K~ and grad K~ = (grad Z)^T Q~")]
    c = DIVISORS[scale]
    wide = {"sqrt_d_k": ("sqrt_d_not_sqrt_d_k", "sqrt(d)"), "d_k": ("d_not_d_k", "d")}[scale]
    return [("no_scale_in_backward", f"the factor 1/{c} is missing in your backward pass: {formula}, so "
                                     f"grad Q~ = grad Z K~ / {c} and grad K~ = (grad Z)^T Q~ / {c}"),
            (wide[0], f"your backward pass divides by {wide[1]}, the width of X: each head has width "
                      f"d_k = d / h and {formula}")]


def wrong(scale="sqrt_d_k"):
    """{student's function: {mistake: (a wrong function with the student's arguments, explanation)}}
    of the variant whose scores are scaled by 1 / SCALES[scale](d_k)."""
    backward = {name: (_wrong_backward(name, scale), words) for name, words in _backward_scale_mistakes(scale)}
    for name, words in (
            ("causal_mask_ignored", "with causal true your gradients are those of the unmasked layer: the backward "
                                    "pass must use the forward pass's masked weights P (zero above the diagonal)"),
            ("gradient_split_by_reshape", "grad C = dout Wo is split into heads with a reshape alone: its split "
                                          "must be the forward pass's split (reshape to (B, T, h, d_k), then "
                                          "transpose)"),
            ("gradients_merged_by_reshape", "the heads' gradients grad Q~, grad K~, grad V~ are put back with a "
                                            "reshape alone: the adjoint of the split is the merge (transpose, then "
                                            "reshape to (B, T, d))"),
            ("projection_gradients_transposed", "your gradients of Wq, Wk, Wv are the transposes of the right "
                                                "ones: Q = X Wq^T, so grad Wq = sum over b of (grad Q_b)^T X_b "
                                                "(and likewise Wk, Wv)"),
            ("one_path_to_x", "your dX has only the path through the queries: X feeds Q, K and V, so "
                              "dX = grad Q Wq + grad K Wk + grad V Wv"),
            ("transposed_weights_in_dx", "your dX multiplies by Wq^T, Wk^T, Wv^T: Q = X Wq^T, so the path "
                                         "through Q gives grad Q Wq (and likewise K, V)")):
        backward[name] = (_wrong_backward(name, scale), words)
    return {
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
            "causal_mask_ignored": (lambda Qs, Ks, causal: _weights_with(Qs, Ks, False, scale=SCALES[scale]), (
                "your P is the unmasked softmax: with causal true, query t may attend only to "
                "keys u <= t (P = 0 above the diagonal)")),
            "mask_transposed": (lambda Qs, Ks, causal: _weights_with(
                Qs, Ks, causal, lambda T, S: np.triu(np.ones((T, S), dtype=bool)), SCALES[scale]), (
                "your mask keeps the keys u >= t (the future): the causal mask keeps u <= t, "
                "the lower triangle")),
            **_weights_mistakes(scale)},
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
        "multihead_backward": backward,
    }


WRONG = wrong()          # the notebook as written


def named(wrong_, function, names=None, pick=None):
    """mistakes(**case) of a test of ``function``: its mistakes in ``wrong_`` (only ``names`` if
    given), each answer passed through ``pick`` (the part of the answer the test compares)."""
    chosen = {n: wrong_[function][n] for n in (names or wrong_[function])}
    return lambda **case: {n: ((pick or (lambda a: a))(f(**case)), words)
                           for n, (f, words) in chosen.items()}


CALL = "multihead_backward(dout, X, Wq, Wk, Wv, Wo, h, causal)"
PATHS_TO_X = ["one_path_to_x", "transposed_weights_in_dx"]
HEADS = ["causal_mask_ignored", "gradient_split_by_reshape", "gradients_merged_by_reshape"]


def make_tests(scale):
    """TESTS of the variant whose scores are Q~ K~^T / SCALES[scale](d_k)."""
    wrong_ = wrong(scale)
    heads = [name for name, _ in _backward_scale_mistakes(scale)] + HEADS

    def P(**c):
        return weights(**c, scale=scale)

    def layer(**c):
        return grads(**c, scale=scale)

    return {
        "test_split_heads_shape": dict(kind="shape", call="split_heads(Y, h)", cases=split_cases,
                                       expected=split, noun="split"),
        "test_split_heads_values": dict(call="split_heads(Y, h)", cases=split_cases,
                                        expected=split, noun="split",
                                        mistakes=named(wrong_, "split_heads")),
        "test_merge_heads_shape": dict(kind="shape", call="merge_heads(A)", cases=merge_cases,
                                       expected=merge, noun="merge"),
        "test_merge_heads_values": dict(call="merge_heads(A)", cases=merge_cases,
                                        expected=merge, noun="merge",
                                        mistakes=named(wrong_, "merge_heads")),
        "test_attention_weights_shape": dict(kind="shape", call="attention_weights(Qs, Ks, causal)",
                                             cases=head_cases, expected=P, noun="weight array P"),
        "test_attention_weights_values": dict(call="attention_weights(Qs, Ks, causal)", cases=head_cases,
                                              expected=P, noun="weight array P",
                                              mistakes=named(wrong_, "attention_weights")),
        "test_softmax_rows_backward_shape": dict(kind="shape", call="softmax_rows_backward(P, dP)",
                                                 cases=weight_cases, expected=row_softmax_backward,
                                                 noun="gradient"),
        "test_softmax_rows_backward_values": dict(call="softmax_rows_backward(P, dP)", cases=weight_cases,
                                                  expected=row_softmax_backward, noun="gradient",
                                                  mistakes=named(wrong_, "softmax_rows_backward")),
        "test_multihead_backward_shapes": dict(kind="shape", call=CALL, cases=layer_cases, expected=layer,
                                               noun="gradient"),
        "test_multihead_backward_Wo_values": dict(
            call=f"{CALL}['Wo']", cases=layer_cases, expected=lambda **c: layer(**c)["Wo"], noun="gradient",
            mistakes=named(wrong_, "multihead_backward", ["causal_mask_ignored"], pick=lambda g: g["Wo"])),
        "test_multihead_backward_Wqkv_values": dict(
            call=f"[{CALL}[k] for k in ('Wq', 'Wk', 'Wv')]", cases=layer_cases,
            expected=lambda **c: qkv(layer(**c)), noun="gradient",
            mistakes=named(wrong_, "multihead_backward", heads + ["projection_gradients_transposed"], pick=qkv)),
        "test_multihead_backward_X_values": dict(
            call=f"{CALL}['X']", cases=layer_cases, expected=lambda **c: layer(**c)["X"], noun="gradient",
            mistakes=named(wrong_, "multihead_backward", heads + PATHS_TO_X, pick=lambda g: g["X"])),
    }


TESTS = make_tests("sqrt_d_k")    # the notebook as written


# ------------------------------------------------------------------------------------- variants
# The scale of the scores: 1/sqrt(d_k) as written, 1/d_k, or none; it changes P and every
# gradient of the layer (the split, the merge and the softmax's backward are the same).
VARIANTS = {"scale": {
    "sqrt_d_k": [],
    "d_k": [
        ("$Z$ and $P$ have shape $(B, h, T, T)$",
         r"In this version the scores are divided by $d_k$, not by the usual $\sqrt{d_k}$."
         "\n$Z$ and $P$ have "
         "shape $(B, h, T, T)$"),
        (r"\tfrac{1}{\sqrt{d_k}}", r"\tfrac{1}{d_k}"),
        ("chapter 17's backward pass with\n$d_k$ in place of $d$",
         "chapter 17's backward pass with\n$1/d_k$ in place of $1/\\sqrt d$"),
        ("the scaled\nscores", "the scores\ndivided by $d_k$"),
        ("Qs Ks^T / sqrt(d_k)", "Qs Ks^T / d_k"),
        ("/ np.sqrt(d_k)", "/ d_k"),
        ("/ np.sqrt(Qs.shape[-1])", "/ Qs.shape[-1]")],
    "none": [
        ("$Z$ and $P$ have shape $(B, h, T, T)$",
         r"In this version the scores are **not** scaled (the usual factor is $1/\sqrt{d_k}$)."
         "\n$Z$ and $P$ "
         "have shape $(B, h, T, T)$"),
        (r"\tfrac{1}{\sqrt{d_k}}\,\tilde Q", r"\tilde Q"),
        (r"\tfrac{1}{\sqrt{d_k}}\, ", ""),
        ("chapter 17's backward pass with\n$d_k$ in place of $d$",
         "chapter 17's backward pass without\nits factor $1/\\sqrt d$"),
        ("the scaled\nscores", "the scores\n(not scaled)"),
        ("row-wise softmax of Qs Ks^T / sqrt(d_k) for every", "row-wise softmax of Qs Ks^T (not scaled) for every"),
        ("T, d_k = Qs.shape[2], Qs.shape[3]", "T = Qs.shape[2]"),
        (" / np.sqrt(d_k)", ""),
        (" / np.sqrt(Qs.shape[-1])", "")],
}}
