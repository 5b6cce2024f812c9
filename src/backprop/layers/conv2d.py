"""2-D convolution layer (a cross-correlation, as in every deep-learning library).

Images are batch-first: X (B, C, n_h, n_w), kernels K (F, C, k_h, k_w), bias b (F,), and

    out[n, f, p, q] = b[f] + sum_{c, i, j} K[f, c, i, j] * Xp[n, c, p*sh + i, q*sw + j]

where Xp is X with ``padding`` zeros on each side, exactly ``torch.nn.functional.conv2d``.
out has shape (B, F, o_h, o_w), o_h = (n_h + 2 p_h - k_h) // s_h + 1 (and o_w alike).

Forward gathers the windows (im2col, a strided view of Xp) and contracts them with K.
Backward (the book's differential view), with dout = dE/d(out) of out's shape:
    db = sum of dout over (n, p, q);
    dK[f, c, i, j] = sum_{n, p, q} dout[n, f, p, q] Xp[n, c, p*sh + i, q*sw + j];
    dXp[n, c, p*sh + i, q*sw + j] += sum_f dout[n, f, p, q] K[f, c, i, j]  (overlapping
    windows add up), and dX is dXp without its padding. For stride 1 this is the
    correlation of the zero-padded dout with the flipped kernel: a transposed convolution.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._checks import as_float_array
from ._validate import as_array, check_cache, check_dout, pair

__all__ = ["forward", "backward", "windows", "ConvCache"]


class ConvCache(NamedTuple):
    """What backward needs: the padded input Xp, the kernels K, stride, padding, X's shape."""

    Xp: np.ndarray
    K: np.ndarray
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_shape: tuple[int, ...]


def windows(
    Xp: np.ndarray, size: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> np.ndarray:
    """View (B, C, o_h, o_w, k_h, k_w) of the windows of Xp (B, C, Hp, Wp); no copy."""
    (kh, kw), (sh, sw), (Ho, Wo) = size, stride, out_hw
    view = sliding_window_view(Xp, (kh, kw), axis=(2, 3))
    return view[:, :, : (Ho - 1) * sh + 1 : sh, : (Wo - 1) * sw + 1 : sw]


def output_size(n: int, k: int, s: int, p: int, axis: str) -> int:
    """floor((n + 2p - k) / s) + 1, or an error when the kernel does not fit."""
    if n + 2 * p < k:
        raise ValueError(
            f"kernel {axis} {k} is larger than the padded input {axis} {n} + 2*{p} = {n + 2 * p}"
        )
    return (n + 2 * p - k) // s + 1


def forward(X, K, b, stride=1, padding=0) -> tuple[np.ndarray, ConvCache]:
    """out (B, F, o_h, o_w) of X (B, C, n_h, n_w), K (F, C, k_h, k_w), b (F,); stride, padding int or (h, w)."""
    X = as_array(X, "X", 4, "(B, C, n_h, n_w): batch-first images")
    K = as_array(K, "K", 4, "(F, C, k_h, k_w): F kernels over C channels")
    b = as_float_array(b, "b", ndim=1)
    if K.shape[1] != X.shape[1]:
        raise ValueError(
            f"K has shape {K.shape} with {K.shape[1]} channels but X of shape "
            f"{X.shape} has {X.shape[1]}: K must have shape "
            f"({K.shape[0]}, {X.shape[1]}, kh, kw)"
        )
    if b.shape != (K.shape[0],):
        raise ValueError(
            f"b has shape {b.shape} but K has {K.shape[0]} kernels: b must have shape ({K.shape[0]},)"
        )
    (sh, sw), (ph, pw) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    Ho = output_size(X.shape[2], K.shape[2], sh, ph, "height")
    Wo = output_size(X.shape[3], K.shape[3], sw, pw, "width")
    Xp = np.pad(X, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else X
    cols = windows(Xp, K.shape[2:], (sh, sw), (Ho, Wo))  # (B, C, o_h, o_w, k_h, k_w)
    out = np.tensordot(cols, K, axes=([1, 4, 5], [1, 2, 3]))  # (B, Ho, Wo, F)
    out = out.transpose(0, 3, 1, 2) + b[:, None, None]
    return out, ConvCache(Xp, K, (sh, sw), (ph, pw), out.shape)


def backward(dout, cache: ConvCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dX (B, C, n_h, n_w), dK (F, C, k_h, k_w), db (F,)) from dout = dE/d(out) (B, F, o_h, o_w)."""
    check_cache(cache, ConvCache, "conv2d")
    dout = check_dout(dout, cache.out_shape)
    Xp, K, (sh, sw), (ph, pw) = cache.Xp, cache.K, cache.stride, cache.padding
    Ho, Wo = dout.shape[2:]
    kh, kw = K.shape[2:]
    db = dout.sum(axis=(0, 2, 3))
    dK = np.tensordot(
        dout, windows(Xp, (kh, kw), (sh, sw), (Ho, Wo)), axes=([0, 2, 3], [0, 2, 3])
    )  # (F, C, k_h, k_w)
    dcols = np.tensordot(dout, K, axes=([1], [0]))  # (B, Ho, Wo, C, kh, kw)
    dXp = np.zeros(Xp.shape, dtype=np.result_type(dout, K))
    for i in range(kh):  # each kernel offset adds to a strided grid of Xp;
        for j in range(kw):  # overlapping windows accumulate
            dXp[:, :, i : i + (Ho - 1) * sh + 1 : sh, j : j + (Wo - 1) * sw + 1 : sw] += dcols[
                :, :, :, :, i, j
            ].transpose(0, 3, 1, 2)
    dX = dXp[:, :, ph : Xp.shape[2] - ph, pw : Xp.shape[3] - pw]
    return dX, dK, db
