"""Layers beyond the dense one, each a pair forward / backward.

``forward(*inputs, **options) -> (out, cache)`` and ``backward(dout, cache) -> tuple``
with one gradient per positional input of ``forward``, in its order and of its shape;
``dout = dE/d(out)`` has the shape of ``out``.

- :mod:`~backprop.layers.batchnorm`: ``forward(X, gamma, beta, eps=1e-5)``, X (n, B)
  columns are examples, each row normalised over the batch (training mode);
- :mod:`~backprop.layers.layernorm`: the same, each column normalised over its features;
- :mod:`~backprop.layers.conv2d`: ``forward(X, K, b, stride=1, padding=0)``, batch-first
  images X (B, C, n_h, n_w), K (F, C, k_h, k_w), b (F,); a cross-correlation;
- :mod:`~backprop.layers.maxpool2d`: ``forward(X, size, stride)``, windows may overlap;
- :mod:`~backprop.layers.attention`: ``forward(Q, K, V, causal=False)``, rows are positions;
- :mod:`~backprop.layers.spatial_batchnorm`: ``forward(X, gamma, beta, eps=1e-5)``, images
  X (B, C, n_h, n_w), each channel normalised over (B, n_h, n_w), gamma and beta (C,);
- :mod:`~backprop.layers.dropout`: ``forward(X, p=0.5, rng=None, training=True)``, inverted
  dropout, the mask drawn from ``rng`` and kept in the cache;
- :mod:`~backprop.layers.layernorm_rows`: ``forward(X, gamma, beta, eps=1e-5)``, X (..., d)
  batch-first, each row normalised over its d features, gamma and beta (d,);
- :mod:`~backprop.layers.feedforward`: ``forward(X, W1, c1, W2, c2)``, relu(X W1^T + c1) W2^T + c2;
- :mod:`~backprop.layers.multihead_attention`: ``forward(X, Wq, Wk, Wv, Wo, heads=1,
  causal=False, key_padding=None)``, X (B, T, d), each W (d, d);
- :class:`~backprop.layers.residual.Residual`: a layer F wrapped as X + F(X) (or pre-norm
  X + F(LN(X))), itself a layer;
- :mod:`~backprop.layers.transformer_block`: ``forward(X, g1, b1, Wq, Wk, Wv, Wo, g2, b2, W1,
  c1, W2, c2, heads=1, causal=True)``, a pre-norm block, X (B, T, d);
- :func:`gradcheck`: a backward against central differences with a random upstream gradient;
- :mod:`~backprop.layers.cnn`: a small CNN of these layers for the 8x8 digits;
- :mod:`~backprop.layers.tiny_transformer`: embedding, one block and an output layer,
  trained on generated digit sequences.
"""

from . import (
    attention,
    batchnorm,
    cnn,
    conv2d,
    dropout,
    feedforward,
    layernorm,
    layernorm_rows,
    maxpool2d,
    multihead_attention,
    residual,
    spatial_batchnorm,
    tiny_transformer,
    transformer_block,
)
from .check import gradcheck
from .residual import Residual

__all__ = [
    "batchnorm",
    "layernorm",
    "conv2d",
    "maxpool2d",
    "attention",
    "gradcheck",
    "cnn",
    "spatial_batchnorm",
    "dropout",
    "layernorm_rows",
    "feedforward",
    "multihead_attention",
    "residual",
    "Residual",
    "transformer_block",
    "tiny_transformer",
]
