"""2-D max-pooling, windows allowed to overlap (stride < size), no padding.

X (B, C, n_h, n_w) batch-first; out[n, c, p, q] = max_{i < kh, j < kw} X[n, c, p*sh + i, q*sw + j],
of shape (B, C, o_h, o_w) with o_h = (n_h - k_h) // s_h + 1, as ``torch.nn.functional.max_pool2d``.

Backward: each window sends its dout entry to the position of its maximum; an entry that
is the maximum of several overlapping windows collects the sum of their dout.

Ties: where a window's maximum is attained more than once, max is not differentiable
(its one-sided derivatives differ). This layer, like PyTorch, picks the FIRST maximum of
the window in row-major order (smallest i, then smallest j) and gives it the whole dout
entry; any split of it among the tied positions would be an equally valid subgradient.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import as_array, check_cache, check_dout, pair
from .conv2d import output_size, windows

__all__ = ["forward", "backward", "PoolCache"]


class PoolCache(NamedTuple):
    """What backward needs: X's shape, the flat argmax (i * kw + j) of each window, size, stride."""

    X_shape: tuple[int, ...]
    argmax: np.ndarray
    size: tuple[int, int]
    stride: tuple[int, int]
    dtype: np.dtype


def forward(X, size, stride) -> tuple[np.ndarray, PoolCache]:
    """out (B, C, o_h, o_w): the maximum of each size = (kh, kw) window, windows stride apart."""
    X = as_array(X, "X", 4, "(B, C, n_h, n_w): batch-first images")
    (kh, kw), (sh, sw) = pair(size, "size", 1), pair(stride, "stride", 1)
    Ho = output_size(X.shape[2], kh, sh, 0, "height")
    Wo = output_size(X.shape[3], kw, sw, 0, "width")
    cols = windows(X, (kh, kw), (sh, sw), (Ho, Wo)).reshape(*X.shape[:2], Ho, Wo, kh * kw)
    argmax = cols.argmax(axis=-1)  # numpy returns the first maximum: the tie rule
    out = np.take_along_axis(cols, argmax[..., None], axis=-1)[..., 0]
    return out, PoolCache(X.shape, argmax, (kh, kw), (sh, sw), X.dtype)


def backward(dout, cache: PoolCache) -> tuple[np.ndarray]:
    """(dX,) of X's shape (B, C, n_h, n_w) from dout = dE/d(out) (B, C, o_h, o_w)."""
    check_cache(cache, PoolCache, "maxpool2d")
    dout = check_dout(dout, cache.argmax.shape)
    (kh, kw), (sh, sw) = cache.size, cache.stride
    Ho, Wo = dout.shape[2:]
    dX = np.zeros(cache.X_shape, dtype=np.result_type(dout, cache.dtype))
    for i in range(kh):  # windows whose maximum sits at offset (i, j)
        for j in range(kw):  # add their dout there; overlaps accumulate
            hit = cache.argmax == i * kw + j
            dX[:, :, i : i + (Ho - 1) * sh + 1 : sh, j : j + (Wo - 1) * sw + 1 : sw] += np.where(hit, dout, 0)
    return (dX,)
