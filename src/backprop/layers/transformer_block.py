"""A pre-norm transformer block: attention and a feed-forward layer, each in a residual branch.

X (B, T, d), batch-first; LN is layer norm over the last axis
(:mod:`~backprop.layers.layernorm_rows`, eps = 1e-5), MHA multi-head self-attention
(:mod:`~backprop.layers.multihead_attention`), FFN the position-wise feed-forward layer
(:mod:`~backprop.layers.feedforward`):

    A = LN(X; g1, b1)                     (B, T, d)
    H = X + MHA(A; Wq, Wk, Wv, Wo)        (B, T, d)     Wq, Wk, Wv, Wo (d, d)
    N = LN(H; g2, b2)                     (B, T, d)     g1, b1, g2, b2 (d,)
    out = H + relu(N W1^T + c1) W2^T + c2 (B, T, d)     W1 (4d, d), c1 (4d,), W2 (d, 4d), c2 (d,)

Each line "Y + F(LN(Y))" is a :class:`~backprop.layers.residual.Residual` with pre-norm, so the
backward is the residual rule twice, with G = dE/d(out):

    dH = G + LN2^T(FFN^T G)         (the FFN branch; gives dg2, db2, dW1, dc1, dW2, dc2)
    dX = dH + LN1^T(MHA^T dH)       (the attention branch; gives dg1, db1, dWq, dWk, dWv, dWo)

where F^T G stands for the backward of F for the upstream gradient G. The upstream gradient
reaches X once unchanged (G, through both identities) plus once per branch.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import feedforward, multihead_attention
from ._validate import check_cache
from .residual import Residual, ResidualCache

__all__ = ["forward", "backward", "BlockCache", "ATTENTION", "FEEDFORWARD"]

#: H = X + MHA(LN(X; g1, b1)): forward(X, g1, b1, Wq, Wk, Wv, Wo, heads=, causal=)
ATTENTION = Residual(multihead_attention, prenorm=True)
#: out = H + FFN(LN(H; g2, b2)): forward(H, g2, b2, W1, c1, W2, c2)
FEEDFORWARD = Residual(feedforward, prenorm=True)


class BlockCache(NamedTuple):
    """The caches of the two residual branches (attention, then feed-forward)."""

    attention: ResidualCache
    feedforward: ResidualCache


def forward(
    X, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1, c1, W2, c2, heads: int = 1, causal: bool = True
) -> tuple[np.ndarray, BlockCache]:
    """out (B, T, d) of X (B, T, d); parameter shapes in the module docstring; ``heads``
    divides d; ``causal`` (default True): position t attends to positions s <= t only."""
    d = np.shape(X)[-1] if np.ndim(X) else 0
    if np.ndim(W1) == 2 and np.shape(W1)[0] != 4 * d:
        raise ValueError(
            f"W1 has shape {np.shape(W1)} but X has d = {d} features: the block's "
            f"hidden layer has 4d units, W1 must have shape ({4 * d}, {d})"
        )
    H, attention_cache = ATTENTION.forward(X, g1, b1, Wq, Wk, Wv, Wo, heads=heads, causal=causal)
    out, feedforward_cache = FEEDFORWARD.forward(H, g2, b2, W1, c1, W2, c2)
    return out, BlockCache(attention_cache, feedforward_cache)


def backward(dout, cache: BlockCache) -> tuple[np.ndarray, ...]:
    """(dX, dg1, db1, dWq, dWk, dWv, dWo, dg2, db2, dW1, dc1, dW2, dc2) from dout (B, T, d),
    one gradient per positional input of :func:`forward`, in its order and of its shape."""
    check_cache(cache, BlockCache, "transformer_block")
    dH, dg2, db2, dW1, dc1, dW2, dc2 = FEEDFORWARD.backward(dout, cache.feedforward)
    dX, dg1, db1, dWq, dWk, dWv, dWo = ATTENTION.backward(dH, cache.attention)
    return dX, dg1, db1, dWq, dWk, dWv, dWo, dg2, db2, dW1, dc1, dW2, dc2
