"""Layers beyond the dense one, each a pair forward / backward.

``forward(*inputs, **options) -> (out, cache)`` and ``backward(dout, cache) -> tuple``
with one gradient per positional input of ``forward``, in its order and of its shape;
``dout = dE/d(out)`` has the shape of ``out``.

- :mod:`~backprop.layers.batchnorm`: ``forward(X, gamma, beta, eps=1e-5)``, X (n, B)
  columns are examples, each row normalised over the batch (training mode);
- :mod:`~backprop.layers.layernorm`: the same, each column normalised over its features;
- :mod:`~backprop.layers.conv2d`: ``forward(X, K, b, stride=1, padding=0)``, batch-first
  images X (B, C, H, W), K (F, C, kh, kw), b (F,); a cross-correlation;
- :mod:`~backprop.layers.maxpool2d`: ``forward(X, size, stride)``, windows may overlap;
- :mod:`~backprop.layers.attention`: ``forward(Q, K, V, causal=False)``, rows are positions;
- :func:`gradcheck`: a backward against central differences with a random upstream gradient;
- :mod:`~backprop.layers.cnn`: a small CNN of these layers for the 8x8 digits.
"""
from . import attention, batchnorm, conv2d, layernorm, maxpool2d
from . import cnn
from .check import gradcheck

__all__ = ["batchnorm", "layernorm", "conv2d", "maxpool2d", "attention", "gradcheck", "cnn"]
