"""Initialisation schemes: the standard deviation of a layer's weights W_l (n_out, n_in).

With independent zero-mean weights of variance sigma^2, independent of x_{l-1},
    forward:   Var(v_l,i)        = n_in  sigma^2 E[x_{l-1,j}^2],
    backward:  E[(W_l^T delta_l)_j^2] = n_out sigma^2 E[delta_l,i^2],
so a layer keeps the size of x when n_in sigma^2 E[x^2] / Var(v) = 1 and the size of delta
when n_out sigma^2 E[f'(v)^2] = 1 (book/13_initialisation.ipynb derives and measures this):

    "normal"  sigma^2 = 1                  (no scaling: explodes or saturates with width)
    "lecun"   sigma^2 = 1 / n_in           (tanh, sigmoid near 0: keeps Var(v) forward)
    "xavier"  sigma^2 = 2 / (n_in + n_out) (Glorot & Bengio 2010: forward and backward compromise)
    "he"      sigma^2 = 2 / n_in           (He et al. 2015: ReLU halves E[x^2])

``"auto"`` is backprop.MLP's original choice: "he" for the hidden layers of a ReLU network,
"lecun" for every other layer (including the output layer of a ReLU network).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCHEMES", "weight_std"]

SCHEMES = ("auto", "normal", "lecun", "xavier", "he")


def weight_std(scheme: str, n_in: int, n_out: int, *, hidden: str | None = None, last: bool = False) -> float:
    """Standard deviation of the N(0, sigma^2) entries of a weight matrix (n_out, n_in).

    ``hidden`` (the network's hidden activation) and ``last`` (the output layer) matter only
    for ``"auto"``.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; choose one of {list(SCHEMES)}")
    if scheme == "auto":
        scheme = "he" if hidden == "relu" and not last else "lecun"
    variance = {"normal": 1.0, "lecun": 1.0 / n_in, "xavier": 2.0 / (n_in + n_out), "he": 2.0 / n_in}[scheme]
    return float(np.sqrt(variance))
