"""A multilayer perceptron whose gradients are the differential rules of the book.

Layer l = 1..L:  v_l = W_l x_{l-1} + b_l,  x_l = f_l(v_l),  with x_0 = X (n0, B), columns examples.
Backward, with the gradient Delta_l = grad_{V_l} E (shape of V_l; book/notation.md):
    Delta_L = (X_L - Y) / B                     (fused softmax/sigmoid + cross-entropy)
            = f_L'(V_L) * (X_L - Y) / B          (half squared error, elementwise f_L)
    dE/dW_l = Delta_l X_{l-1}^T,   grad_{b_l} E = Delta_l 1  (row sums),
    Delta_{l-1} = f_{l-1}'(V_{l-1}) * (W_l^T Delta_l).
``layout="batch_first"`` (rows are examples, as in torch.nn.Linear): X (B, n0), Y (B, nL),
V_l = X_{l-1} W_l^T + 1 b_l^T with b_l of shape (n_l,); dE/dW_l = Delta_l^T X_{l-1}. It is the
same computation on transposed views, so its numbers equal the column layout's on X^T, Y^T.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import as_float_array
from .activations import get_activation
from .init import weight_std
from .losses import (
    LOSSES,
    _cross_entropy_grad,
    check_probability_targets,
    cross_entropy_from_logits,
    half_squared_error,
    half_squared_error_grad,
)

__all__ = ["MLP"]

LAYOUTS = ("column", "batch_first")  # examples as columns (the book) or as rows (PyTorch)


class MLP:
    """Fully connected network ``sizes = [n0, n1, ..., nL]``.

    ``hidden``: activation of layers 1..L-1 (None only when there is no hidden layer);
    ``output``: activation of layer L; ``loss``: "half_squared_error" or "cross_entropy"
    (the latter needs output "softmax" or "sigmoid" and is computed from V_L, fused and stable).
    ``params``: dict ``W1, b1, ..., WL, bL`` with W_l of shape (sizes[l], sizes[l-1]) and b_l of
    shape (sizes[l], 1) (no b_l when ``bias=False``). ``init`` chooses the weights' variance
    (:mod:`backprop.init`): "auto" (the default) N(0, 2/sizes[l-1]) for the hidden layers of a
    relu network and N(0, 1/sizes[l-1]) for every other layer; "he", "xavier", "lecun" or
    "normal" (N(0, 1)) for every layer. Weights are drawn from ``numpy.random.default_rng(seed)``
    in the order W1, ..., WL, so a scheme changes only their scale; biases start at 0.
    ``layout``: "column" (default; X (n0, B), columns are examples) or "batch_first" (X (B, n0),
    rows are examples, b_l of shape (sizes[l],) like ``torch.nn.Linear``; W_l keeps its shape).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        hidden: str | None = "sigmoid",
        output: str = "sigmoid",
        loss: str = "half_squared_error",
        bias: bool = True,
        seed: int = 0,
        dtype=np.float64,
        init: str = "auto",
        layout: str = "column",
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
        self.layout = layout
        sizes = list(sizes)
        if len(sizes) < 2 or not all(
            isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k > 0 for k in sizes
        ):
            raise ValueError(f"sizes must list at least two positive integers [n0, ..., nL], got {sizes!r}")
        if hidden is None and len(sizes) > 2:
            raise ValueError(f"sizes {sizes} has hidden layers, so hidden= must name an activation")
        self.hidden = get_activation(hidden) if hidden is not None else None
        self.output = get_activation(output)
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {list(LOSSES)}")
        if loss == "cross_entropy" and output not in ("softmax", "sigmoid"):
            raise ValueError(f"loss='cross_entropy' needs output='softmax' or 'sigmoid', got {output!r}")
        if loss == "half_squared_error" and not self.output.elementwise:
            raise ValueError(
                "half_squared_error is implemented for elementwise outputs; use "
                "loss='cross_entropy' with a softmax output"
            )
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.sizes, self.loss_name, self.bias, self.seed = sizes, loss, bool(bias), seed
        weight_std(init, 1, 1)  # an unknown scheme fails before any drawing
        self.init = init
        rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        for l in range(1, len(sizes)):
            scale = weight_std(init, sizes[l - 1], sizes[l], hidden=hidden, last=l == len(sizes) - 1)
            self.params[f"W{l}"] = (scale * rng.standard_normal((sizes[l], sizes[l - 1]))).astype(self.dtype)
            if self.bias:
                self.params[f"b{l}"] = np.zeros((sizes[l], 1), dtype=self.dtype)
        if layout == "batch_first":
            for k in self.params:
                if k.startswith("b"):
                    self.params[k] = self.params[k][:, 0].copy()

    @property
    def L(self) -> int:
        """Number of layers (weight matrices)."""
        return len(self.sizes) - 1

    def __repr__(self) -> str:
        h = self.hidden.name if self.hidden else None
        return (
            f"MLP(sizes={self.sizes}, hidden={h!r}, output={self.output.name!r}, "
            f"loss={self.loss_name!r}, bias={self.bias}"
            + (f", layout={self.layout!r})" if self.layout != "column" else ")")
        )

    # -- data in the model's layout (what backprop.train.momentum_sgd uses) ----------------------
    @property
    def batch_axis(self) -> int:
        """The axis of X and Y that runs over examples: 1 in layout 'column', 0 in 'batch_first'."""
        return 0 if self.layout == "batch_first" else 1

    def inputs(self, X) -> np.ndarray:
        """X checked as every method checks it, in the model's dtype and layout: (n0, B), or (B, n0)
        in layout 'batch_first'."""
        X = self._X(X)
        return X.T if self.layout == "batch_first" else X

    def examples(self, X, Y) -> tuple[np.ndarray, np.ndarray, int]:
        """(X, Y, B): inputs and targets checked once for training, in the model's dtype and layout
        (X (n0, B) and Y (nL, B), or (B, n0) and (B, nL) in 'batch_first'), and the number B of examples."""
        X = self._X(X)
        B = X.shape[1]
        Y = self._Y(Y, B)
        return (X.T, Y.T, B) if self.layout == "batch_first" else (X, Y, B)

    def batch(self, X, Y, index) -> tuple[np.ndarray, np.ndarray]:
        """The examples ``index`` (integers) of X and Y given by :meth:`examples`: the columns
        X[:, index], Y[:, index], or the rows X[index], Y[index] in layout 'batch_first'."""
        if self.layout == "batch_first":
            return X[index], Y[index]
        return X[:, index], Y[:, index]

    # -- checks ---------------------------------------------------------------------------------
    def checked_params(self, params: Mapping[str, np.ndarray] | None) -> Mapping[str, np.ndarray]:
        """``params`` checked: the keys of self.params, each a finite real ndarray (not masked) of
        the model's dtype and the right shape; None means self.params."""
        if params is None:
            return self.params
        if not isinstance(params, Mapping) or set(params) != set(self.params):
            keys = sorted(params) if isinstance(params, Mapping) else type(params).__name__
            raise ValueError(f"params must be a dict with keys {sorted(self.params)}, got {keys}")
        for k, P in params.items():
            name, want = f"params[{k!r}]", self.params[k].shape
            if type(P) is not np.ndarray:
                what = "a masked array" if isinstance(P, np.ma.MaskedArray) else type(P).__name__
                raise TypeError(f"{name} must be a plain numpy ndarray of shape {want}, got {what}")
            if P.dtype != self.dtype:
                raise TypeError(
                    f"{name} has dtype {P.dtype}, but the model computes in {self.dtype} "
                    f"(shape {want}); convert it, e.g. {name}.astype(np.{self.dtype})"
                )
            if P.shape != want:
                raise ValueError(f"{name} has shape {P.shape}, expected {want} in layout={self.layout!r}")
            if not np.isfinite(P).all():
                raise ValueError(f"{name} (shape {P.shape}) contains NaN or infinite values")
        return params

    def _X(self, X) -> np.ndarray:
        X = as_float_array(X, "X", ndim=2)
        if self.layout == "batch_first":
            if X.shape[1] != self.sizes[0]:
                raise ValueError(
                    f"X must have shape (B, {self.sizes[0]}) in layout='batch_first' "
                    f"(rows are examples), got {X.shape}"
                )
            X = X.T  # a view: the column computation on X^T
        elif X.shape[0] != self.sizes[0]:
            raise ValueError(
                f"X must have shape ({self.sizes[0]}, B) in layout='column' "
                f"(columns are examples), got {X.shape}"
            )
        return X.astype(self.dtype, copy=False)

    def _Y(self, Y, B: int) -> np.ndarray:
        Y = as_float_array(Y, "Y", ndim=2)
        if self.layout == "batch_first":
            if Y.shape != (B, self.sizes[-1]):
                raise ValueError(
                    f"Y must have shape {(B, self.sizes[-1])} like the output in "
                    f"layout='batch_first', got {Y.shape}"
                )
            Y = Y.T
        elif Y.shape != (self.sizes[-1], B):
            raise ValueError(
                f"Y must have shape {(self.sizes[-1], B)} like the output in layout='column', got {Y.shape}"
            )
        if self.loss_name == "cross_entropy":
            check_probability_targets(Y, self.output.name)
        return Y.astype(self.dtype, copy=False)

    # -- forward / backward ----------------------------------------------------------------------
    def forward(self, X, params: Mapping[str, np.ndarray] | None = None) -> tuple[list, list]:
        """Return ([X_0, ..., X_L], [V_1, ..., V_L]); X (n0, B), or (B, n0) and every X_l, V_l
        of shape (B, n_l) in layout='batch_first'."""
        xs, vs = self._forward(X, self.checked_params(params))
        if self.layout == "batch_first":
            return [A.T for A in xs], [V.T for V in vs]
        return xs, vs

    def _forward(self, X, p: Mapping[str, np.ndarray]) -> tuple[list, list]:
        """:meth:`forward` with params ``p`` already checked by :meth:`_params`."""
        xs, vs = [self._X(X)], []
        for l in range(1, self.L + 1):
            V = p[f"W{l}"] @ xs[-1]
            if self.bias:
                b = p[f"b{l}"]
                if self.layout == "batch_first":
                    b = np.asarray(b)[:, None]  # (n_l,) -> the column (n_l, 1), a view
                if getattr(b, "dtype", None) == V.dtype:
                    V += b  # in place: the same sums as V + b, one array fewer
                else:
                    V = V + b
            f = self.output if l == self.L else self.hidden
            vs.append(V)
            xs.append(f.f(V))
        return xs, vs

    def predict(self, X, params: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Network output X_L, shape (nL, B) ((B, nL) in layout='batch_first')."""
        return self.forward(X, params)[0][-1]

    def output_loss(self, V_L: np.ndarray, X_L: np.ndarray, Y: np.ndarray) -> float:
        """E of the output layer's V_L and X_L = f_L(V_L), each (nL, B), against checked Y (nL, B)."""
        if self.loss_name == "cross_entropy":
            return cross_entropy_from_logits(V_L, Y, self.output.name)
        return half_squared_error(X_L, Y)

    def output_delta(self, V_L: np.ndarray, X_L: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Delta_L = dE/dV_L (nL, B), where the backward pass starts (shapes as in output_loss)."""
        if self.loss_name == "cross_entropy":
            return _cross_entropy_grad(X_L, Y, self.output.name)  # (X_L - Y) / B for one-hot Y
        return self.output.vjp(V_L, X_L, half_squared_error_grad(X_L, Y))

    def loss(self, X, Y, params: Mapping[str, np.ndarray] | None = None) -> float:
        """Mean loss E over the batch; X (n0, B), Y (nL, B) (transposed in 'batch_first')."""
        xs, vs = self._forward(X, self.checked_params(params))
        return self.output_loss(vs[-1], xs[-1], self._Y(Y, xs[0].shape[1]))

    def loss_and_gradients(
        self, X, Y, params: Mapping[str, np.ndarray] | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """(E, grads) with grads[k] of the shape of params[k]."""
        p = self.checked_params(params)
        xs, vs = self._forward(X, p)
        B = xs[0].shape[1]
        Y = self._Y(Y, B)
        E = self.output_loss(vs[-1], xs[-1], Y)
        Delta = self.output_delta(vs[-1], xs[-1], Y)
        grads: dict[str, np.ndarray] = {}
        for l in range(self.L, 0, -1):
            grads[f"W{l}"] = Delta @ xs[l - 1].T
            if self.bias:
                grads[f"b{l}"] = Delta.sum(axis=1, keepdims=self.layout == "column")
            if l > 1:
                # W_l^T Delta_l is a fresh temporary, so the Hadamard product may overwrite it
                Delta = self.hidden.vjp_overwrite(vs[l - 2], xs[l - 1], p[f"W{l}"].T @ Delta)
        return E, {k: grads[k] for k in self.params}

    def gradients(self, X, Y, params: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """dE/dparams as a dict with the keys and shapes of ``params``."""
        return self.loss_and_gradients(X, Y, params)[1]
