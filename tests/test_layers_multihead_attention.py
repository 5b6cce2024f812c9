"""backprop.layers.multihead_attention: central differences with random upstream gradients
(several shapes, B = 1, T = 1, heads = d, padded and fully padded rows), JAX's autodiff of
a reference written per head as torch.nn.MultiheadAttention defines heads, the head
bookkeeping, and what a query with no key does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from backprop.layers import attention, gradcheck
from backprop.layers import multihead_attention as mha

jax.config.update("jax_enable_x64", True)

# (B, T, d, heads, causal, padding): padding names a key_padding pattern (see padding_mask)
CASES = [
    (1, 1, 1, 1, False, None),  # the smallest: B = T = d = 1
    (1, 1, 4, 4, True, None),  # T = 1, heads = d (d_k = 1)
    (1, 5, 4, 1, True, None),  # B = 1, one head
    (2, 5, 8, 2, False, None),
    (2, 5, 8, 2, True, None),
    (3, 4, 6, 3, False, "random"),
    (2, 4, 6, 6, True, "random"),  # heads = d with padding
    (2, 4, 6, 2, False, "all"),  # sequence 1 entirely padded: its queries have no key
    (3, 5, 4, 2, True, "left"),  # padding at the start + causal: early queries have no key
]
IDS = [f"B{B}-T{T}-d{d}-h{h}-{'causal' if c else 'full'}-{p}" for B, T, d, h, c, p in CASES]


def padding_mask(kind, B, T, rng):
    """(B, T) bool, True at padded positions, or None."""
    if kind is None:
        return None
    if kind == "random":
        mask = rng.random((B, T)) < 0.35
        mask[:, rng.integers(T)] = False  # every sequence keeps a key
        return mask
    mask = np.zeros((B, T), dtype=bool)
    if kind == "all":
        mask[1] = True
    elif kind == "left":
        mask[0, :2] = True
        mask[2, :3] = True
    return mask


def inputs(B, T, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B, T, d))
    Ws = [rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(4)]
    return X, Ws, rng


def mha_jax(X, Wq, Wk, Wv, Wo, heads, causal, key_padding):
    """torch.nn.MultiheadAttention's definition: head j projects X with row block j of each W
    (in_proj_weight = [Wq; Wk; Wv]), the heads' outputs are concatenated and multiplied by
    out_proj (Wo^T, whose row block j meets head j). Written with the weights cut into blocks,
    W.reshape(h, d_k, d)[j] = W[j d_k:(j + 1) d_k], where the layer reshapes the activations.
    A query with no allowed key gets jax.nn.softmax(..., where=...)'s weights (zero)."""
    B, T, d = X.shape
    d_k = d // heads
    allowed = jnp.ones((B, 1, T, T), dtype=bool)
    if causal:
        allowed = allowed & jnp.tril(jnp.ones((T, T), dtype=bool))
    if key_padding is not None:
        allowed = allowed & ~jnp.asarray(key_padding)[:, None, None, :]
    q, k, v = (jnp.einsum("btd,jkd->bjtk", X, W.reshape(heads, d_k, d)) for W in (Wq, Wk, Wv))
    scores = jnp.einsum("bjtk,bjsk->bjts", q, k) / jnp.sqrt(d_k)
    weights = jax.nn.softmax(scores, axis=-1, where=allowed)
    heads_out = jnp.einsum("bjts,bjsk->bjtk", weights, v)  # head j, (T, d_k)
    return jnp.einsum("bjtk,ejk->bte", heads_out, Wo.reshape(d, heads, d_k))  # concat, out_proj


def jax_vjp(f, args, G):
    """(f(*args), the gradient of G : f with respect to every argument), by jax.vjp, compiled
    once (jax.jit) rather than primitive by primitive."""

    def both(args, G):
        out, vjp = jax.vjp(f, *args)
        return out, vjp(G)

    out, grads = jax.jit(both)(tuple(args), G)
    return np.asarray(out), [np.asarray(g) for g in grads]


# The default step h = 1e-6. E = G : out sums B T d terms of both signs, so its round-off is
# about eps sum|G * out|, several times 10 eps |E|: layers.gradcheck gives the checker that scale
# (E.roundoff_scale). Before it did, one correct entry of these cases (B2-T5-d8-h2-causal, seed 1,
# Wq[4, 1], equal to JAX's to 3e-16) was called a "mismatch" at h = 1e-6
# (tests/test_checking.py::test_round_off_follows_the_terms_of_a_cancelling_sum).


@pytest.mark.parametrize("B, T, d, heads, causal, padding", CASES, ids=IDS)
def test_backward_matches_central_differences_with_random_dout(B, T, d, heads, causal, padding):
    for seed in range(2):
        X, Ws, rng = inputs(B, T, d, seed)
        kp = padding_mask(padding, B, T, rng)
        report = gradcheck(mha, X, *Ws, heads=heads, causal=causal, key_padding=kp, seed=seed + 5)
        assert report.ok, str(report)


@pytest.mark.parametrize("B, T, d, heads, causal, padding", CASES, ids=IDS)
def test_forward_and_every_gradient_match_jax(B, T, d, heads, causal, padding):
    X, Ws, rng = inputs(B, T, d, seed=3)
    kp = padding_mask(padding, B, T, rng)
    out, cache = mha.forward(X, *Ws, heads=heads, causal=causal, key_padding=kp)
    G = rng.standard_normal(out.shape)
    grads = mha.backward(G, cache)
    ref, ref_grads = jax_vjp(lambda *a: mha_jax(*a, heads, causal, kp), (X, *Ws), G)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-13)
    for name, g, r in zip(("X", "Wq", "Wk", "Wv", "Wo"), grads, ref_grads):
        assert g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12, err_msg=name)


def test_one_head_with_identity_projections_is_chapter_17s_attention():
    X, _, rng = inputs(3, 5, 4)
    identity = np.eye(4)
    for causal in (False, True):
        out, cache = mha.forward(X, *[identity] * 4, heads=1, causal=causal)
        G = rng.standard_normal(out.shape)
        dX = mha.backward(G, cache)[0]
        for b in range(3):
            ref, ref_cache = attention.forward(X[b], X[b], X[b], causal=causal)
            np.testing.assert_allclose(out[b], ref, rtol=1e-14, atol=1e-15)
            dQ, dK, dV = attention.backward(G[b], ref_cache)
            np.testing.assert_allclose(dX[b], dQ + dK + dV, rtol=1e-12, atol=1e-14)


def test_split_heads_is_torchs_layout_and_merge_is_its_inverse_and_adjoint():
    rng = np.random.default_rng(0)
    B, T, h, d_k = 2, 3, 4, 5
    Y = rng.standard_normal((B, T, h * d_k))
    Ys = mha.split_heads(Y, h)
    assert Ys.shape == (B, h, T, d_k)
    for b, j, t, k in np.ndindex(Ys.shape):
        assert Ys[b, j, t, k] == Y[b, t, j * d_k + k]
    assert np.array_equal(mha.merge_heads(Ys), Y)
    Z = rng.standard_normal((B, h, T, d_k))
    # the derivation's step: split(A) : Z = A : merge(Z), so the gradient of split is merge
    np.testing.assert_allclose(np.sum(mha.split_heads(Y, h) * Z), np.sum(Y * mha.merge_heads(Z)), rtol=1e-14)


def test_a_query_with_no_key_outputs_zero_and_passes_no_gradient():
    X, Ws, rng = inputs(3, 5, 4)
    kp = padding_mask("left", 3, 5, rng)
    kp[1] = True  # sequence 1: no query has a key
    out, cache = mha.forward(X, *Ws, heads=2, causal=True, key_padding=kp)
    expected = np.zeros((3, 5), dtype=bool)
    expected[0, :2], expected[1], expected[2, :3] = True, True, True
    assert np.array_equal(cache.no_key, expected)
    assert np.isfinite(out).all() and np.all(out[expected] == 0) and np.all(out[~expected] != 0)
    assert np.all(cache.P[expected.nonzero()[0], :, expected.nonzero()[1]] == 0)
    G = rng.standard_normal(out.shape)
    grads = mha.backward(G, cache)
    assert all(np.isfinite(g).all() for g in grads)
    assert np.all(grads[0][1] == 0)  # a fully padded sequence gets no gradient
    # the upstream gradient at queries with no key changes nothing
    G_other = np.where(expected[..., None], rng.standard_normal(out.shape), G)
    for g, g_other in zip(grads, mha.backward(G_other, cache)):
        np.testing.assert_array_equal(g, g_other)
    # the weights' gradients are those of the sequences with keys alone
    keep = [0, 2]
    out_kept, cache_kept = mha.forward(X[keep], *Ws, heads=2, causal=True, key_padding=kp[keep])
    np.testing.assert_array_equal(out_kept, out[keep])
    for g, g_kept in zip(grads[1:], mha.backward(G[keep], cache_kept)[1:]):
        np.testing.assert_allclose(g, g_kept, rtol=1e-13, atol=1e-15)


def test_padded_positions_neither_change_the_other_outputs_nor_get_gradient_as_keys():
    X, Ws, rng = inputs(2, 6, 4)
    kp = np.zeros((2, 6), dtype=bool)
    kp[0, [1, 4]], kp[1, 5] = True, True
    out, cache = mha.forward(X, *Ws, heads=2, key_padding=kp)
    X_changed = X.copy()
    X_changed[kp] = rng.standard_normal((3, 4)) * 10
    out_changed, _ = mha.forward(X_changed, *Ws, heads=2, key_padding=kp)
    np.testing.assert_allclose(out_changed[~kp], out[~kp], rtol=1e-13, atol=1e-14)
    G = rng.standard_normal(out.shape)
    G[kp] = 0  # look only at the real positions' outputs
    dX = mha.backward(G, cache)[0]
    assert np.all(dX[kp] == 0) and np.all(dX[~kp] != 0)


def test_causal_masks_the_future_for_every_head():
    X, Ws, rng = inputs(2, 5, 6)
    out, cache = mha.forward(X, *Ws, heads=3, causal=True)
    assert np.all(np.triu(cache.P, 1) == 0) and cache.P.shape == (2, 3, 5, 5)
    G = np.zeros(out.shape)
    G[:, 2] = rng.standard_normal((2, 6))
    dX = mha.backward(G, cache)[0]
    assert np.all(dX[:, 3:] == 0) and np.all(dX[:, :3] != 0)


def test_float32_stays_float32():
    X, Ws, _ = inputs(2, 3, 4)
    X, Ws = X.astype(np.float32), [W.astype(np.float32) for W in Ws]
    kp = np.array([[False, False, True], [True, True, True]])
    out, cache = mha.forward(X, *Ws, heads=2, causal=True, key_padding=kp)
    grads = mha.backward(np.ones_like(out), cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert np.isfinite(out).all() and all(np.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda a: {**a, "X": a["X"][0]}, ValueError, r"X must be 3-D \(B, T, d\).*got shape \(3, 4\)"),
        (
            lambda a: {**a, "Wk": a["Wk"][:3]},
            ValueError,
            r"Wk has shape \(3, 4\) but X of shape \(2, 3, 4\) has d = 4.*\(4, 4\)",
        ),
        (lambda a: {**a, "heads": 3}, ValueError, r"heads must be a positive divisor of d = 4.*heads = 3"),
        (lambda a: {**a, "heads": 0}, ValueError, "positive divisor"),
        (lambda a: {**a, "heads": True}, TypeError, "heads must be a positive int"),
        (lambda a: {**a, "heads": 2.0}, TypeError, "heads must be a positive int"),
        (lambda a: {**a, "causal": 1}, TypeError, "causal must be True or False"),
        (
            lambda a: {**a, "key_padding": np.zeros((2, 3))},
            TypeError,
            r"key_padding must be a boolean array.*float64",
        ),
        (
            lambda a: {**a, "key_padding": np.zeros((3, 2), dtype=bool)},
            ValueError,
            r"key_padding has shape \(3, 2\).*\(2, 3\)",
        ),
        (lambda a: {**a, "X": np.ones((2, 3, 4), dtype=int)}, TypeError, "floating-point"),
        (lambda a: {**a, "Wv": np.full((4, 4), np.nan)}, ValueError, "Wv contains NaN"),
    ],
)
def test_bad_input_gets_a_clear_error(change, error, match):
    X, (Wq, Wk, Wv, Wo), _ = inputs(2, 3, 4)
    args = change(dict(X=X, Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo, heads=2))
    with pytest.raises(error, match=match):
        mha.forward(**args)


def test_backward_refuses_a_wrong_dout_or_cache():
    X, Ws, _ = inputs(2, 3, 4)
    out, cache = mha.forward(X, *Ws, heads=2)
    with pytest.raises(
        ValueError, match=r"dout has shape \(2, 3\) but the layer's output has shape \(2, 3, 4\)"
    ):
        mha.backward(out[..., 0], cache)
    _, att_cache = attention.forward(X[0], X[0], X[0])
    with pytest.raises(TypeError, match="multihead_attention.forward"):
        mha.backward(out, att_cache)


@pytest.mark.torch
def test_matches_pytorch_multihead_attention():
    """PyTorch's own layer (bench extra; deselected from the test command, where JAX is the
    reference above): the same outputs and gradients with its in_proj stacking and mask meanings."""
    import torch

    X, (Wq, Wk, Wv, Wo), rng = inputs(2, 5, 8)
    kp = padding_mask("random", 2, 5, rng)
    out, cache = mha.forward(X, Wq, Wk, Wv, Wo, heads=4, causal=True, key_padding=kp)
    G = rng.standard_normal(out.shape)
    dX, dWq, dWk, dWv, dWo = mha.backward(G, cache)
    m = torch.nn.MultiheadAttention(8, 4, bias=False, batch_first=True).double()
    with torch.no_grad():
        m.in_proj_weight.copy_(torch.tensor(np.vstack([Wq, Wk, Wv])))
        m.out_proj.weight.copy_(torch.tensor(Wo))
    tX = torch.tensor(X, requires_grad=True)
    future = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    t_out, _ = m(tX, tX, tX, key_padding_mask=torch.tensor(kp), attn_mask=future, need_weights=False)
    t_out.backward(torch.tensor(G))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dX, tX.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        np.vstack([dWq, dWk, dWv]), m.in_proj_weight.grad.numpy(), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(dWo, m.out_proj.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
