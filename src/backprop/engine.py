"""A tiny reverse-mode automatic differentiation engine on matrices.

Every operation C = op(A, B, ...) knows its vector-Jacobian product (VJP): given
Gbar = dE/dC (the shape of C) it returns dE/dA, dE/dB (the shapes of A, B). Each VJP
is read off the differential rule: write dE = Gbar : dC, expand dC in dA, dB, and move
everything next to dA (resp. dB) with the identities

    P : (Q R) = (P R^T) : Q = (Q^T P) : R,     P : (Q o R) = (P o Q) : R,

where A : B = tr(A^T B) and o is the Hadamard product. :meth:`Tensor.backward` then
calls the VJPs in reverse topological order, starting from dE/dE = 1.

Shapes: matrices are 2-D (columns are examples); losses and ``sum_all`` are 0-D scalars.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ._checks import as_float_array
from .activations import log_softmax, sigmoid as _sigmoid, softmax as _softmax

__all__ = ["Tensor", "matmul", "add", "sigmoid", "tanh", "relu", "sum_all", "frobenius",
           "half_squared_error", "softmax_cross_entropy", "topological_order", "leaves"]


class Tensor:
    """A node of the computation graph: ``data`` (float ndarray) and ``grad`` = dE/d(data), same shape.

    Leaves are made by ``Tensor(array, name)``; operations make the other nodes and remember
    their ``parents`` and the closure ``_vjp`` that adds the parents' gradient contributions.
    """

    def __init__(self, data, name: str = "", parents: tuple["Tensor", ...] = (), op: str = "") -> None:
        self.data = as_float_array(data, name or "data")
        self.grad = np.zeros_like(self.data)
        self.name, self.parents, self.op = name, tuple(parents), op
        self._vjp: Callable[[], None] = lambda: None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def __repr__(self) -> str:
        label = self.name or (f"<{self.op}>" if self.op else "leaf")
        return f"Tensor({label}, shape={self.shape})"

    def __matmul__(self, other: "Tensor | np.ndarray") -> "Tensor":
        return matmul(self, other)

    def __add__(self, other: "Tensor | np.ndarray") -> "Tensor":
        return add(self, other)

    def backward(self) -> None:
        """Compute dE/dT for every node T of the graph that ends at this scalar E.

        Every ``.grad`` in the graph is reset to zero, E.grad is set to 1, and each node's VJP is
        called after all nodes that use it (reverse topological order), so its ``grad`` is complete.
        """
        if self.data.size != 1:
            raise ValueError(f"backward() starts from a scalar E, but this tensor has shape {self.shape}; "
                             "reduce it first, e.g. with sum_all or a loss")
        order = topological_order(self)
        for node in order:
            node.grad = np.zeros_like(node.data)
        self.grad = np.ones_like(self.data)
        for node in reversed(order):
            node._vjp()


def topological_order(root: Tensor) -> list[Tensor]:
    """Nodes of root's graph, every node after all of its parents (iterative depth-first search)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in node.parents if id(p) not in seen)
    return order


def _t(a, name: str) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor(a, name)


def _need_2d(T: Tensor, what: str) -> None:
    if T.data.ndim != 2:
        raise ValueError(f"{what} needs a 2-D matrix (use columns (n, 1) for vectors), got shape {T.shape}")


def matmul(A, B) -> Tensor:
    """C = A B for A (m, k), B (k, n); C is (m, n).

    dE = Gbar : dC = Gbar : (dA B + A dB) = Gbar B^T : dA + A^T Gbar : dB,
    so dE/dA = Gbar B^T and dE/dB = A^T Gbar.
    """
    A, B = _t(A, "A"), _t(B, "B")
    _need_2d(A, "matmul"), _need_2d(B, "matmul")
    if A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul: A has shape {A.shape} and B has shape {B.shape}; "
                         f"A's {A.shape[1]} columns must equal B's {B.shape[0]} rows")
    C = Tensor(A.data @ B.data, parents=(A, B), op="matmul")

    def vjp() -> None:
        A.grad += C.grad @ B.data.T
        B.grad += A.data.T @ C.grad
    C._vjp = vjp
    return C


def add(A, b) -> Tensor:
    """C = A + b for b of A's shape, or a bias column b (m, 1) added to every column of A (m, B).

    The bias case is C = A + b 1^T with 1 the all-ones (B, 1):
    dE = Gbar : (dA + db 1^T) = Gbar : dA + Gbar 1 : db,
    so dE/dA = Gbar and dE/db = Gbar 1 (the row sums of Gbar; just Gbar when b has A's shape).
    """
    A, b = _t(A, "A"), _t(b, "b")
    _need_2d(A, "add"), _need_2d(b, "add")
    bias = b.shape != A.shape
    if bias and b.shape != (A.shape[0], 1):
        raise ValueError(f"add: b has shape {b.shape} but must have A's shape {A.shape} or be a bias column "
                         f"({A.shape[0]}, 1) added to each of A's {A.shape[1]} columns")
    C = Tensor(A.data + b.data, parents=(A, b), op="add")

    def vjp() -> None:
        A.grad += C.grad
        b.grad += C.grad.sum(axis=1, keepdims=True) if bias else C.grad
    C._vjp = vjp
    return C


def _elementwise(V, op: str, f: Callable[[np.ndarray], np.ndarray],
                 f_prime: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Tensor:
    V = _t(V, "V")
    S = Tensor(f(V.data), parents=(V,), op=op)

    def vjp() -> None:
        V.grad += f_prime(V.data, S.data) * S.grad
    S._vjp = vjp
    return S


def sigmoid(V) -> Tensor:
    """S = sigma(V) entrywise. dS = (S - S o S) o dV, so Gbar : dS = ((S - S o S) o Gbar) : dV
    and dE/dV = (S - S o S) o Gbar."""
    return _elementwise(V, "sigmoid", _sigmoid, lambda v, s: s - s * s)


def tanh(V) -> Tensor:
    """S = tanh(V) entrywise. dS = (1 - S o S) o dV, so dE/dV = (1 - S o S) o Gbar."""
    return _elementwise(V, "tanh", np.tanh, lambda v, s: 1.0 - s * s)


def relu(V) -> Tensor:
    """S = max(V, 0) entrywise. dS = [V > 0] o dV (derivative 0 taken at 0), so dE/dV = [V > 0] o Gbar."""
    return _elementwise(V, "relu", lambda v: np.maximum(v, 0), lambda v, s: (v > 0).astype(v.dtype))


def sum_all(A) -> Tensor:
    """e = sum_ij A_ij = (1 1^T) : A, a 0-D scalar. de = 1 1^T : dA, so dE/dA = gbar 1 1^T
    (gbar, the scalar dE/de, copied into every entry)."""
    A = _t(A, "A")
    e = Tensor(np.array(A.data.sum()), parents=(A,), op="sum")

    def vjp() -> None:
        A.grad += e.grad * np.ones_like(A.data)
    e._vjp = vjp
    return e


def frobenius(A, C) -> Tensor:
    """e = A : C = sum_ij A_ij C_ij with C a constant of A's shape, a 0-D scalar.

    de = C : dA, so dE/dA = gbar C. With C = Gbar, backward from e hands Gbar to A:
    the way to test any op's VJP (e = Gbar : op(X) has de/dX = VJP of Gbar).
    """
    A = _t(A, "A")
    C = as_float_array(C.data if isinstance(C, Tensor) else C, "C")
    if C.shape != A.shape:
        raise ValueError(f"frobenius: A has shape {A.shape} but C has shape {C.shape}; they must match")
    e = Tensor(np.array(np.sum(A.data * C)), parents=(A,), op="frobenius")

    def vjp() -> None:
        A.grad += e.grad * C
    e._vjp = vjp
    return e


def _target(Y, S: Tensor, who: str) -> np.ndarray:
    Y = as_float_array(Y.data if isinstance(Y, Tensor) else Y, "Y")
    if Y.shape != S.shape:
        raise ValueError(f"{who}: targets Y have shape {Y.shape} but the output has shape {S.shape}; "
                         "they must match exactly (no broadcasting)")
    return Y


def half_squared_error(S, Y) -> Tensor:
    """E = 1/(2B) ||S - Y||_F^2 for S, Y (m, B): half the squared error, mean over the B columns.

    Y is a constant. dE = (1/B) (S - Y) : dS, so dE/dS = gbar (S - Y) / B.
    For one example (B = 1) this is the seed network's E = 1/2 ||s - y||^2.
    """
    S = _t(S, "S")
    _need_2d(S, "half_squared_error")
    Y = _target(Y, S, "half_squared_error")
    B = S.shape[1]
    R = S.data - Y
    E = Tensor(np.array(0.5 * np.sum(R * R) / B), parents=(S,), op="half_squared_error")

    def vjp() -> None:
        S.grad += E.grad * R / B
    E._vjp = vjp
    return E


def softmax_cross_entropy(V, Y) -> Tensor:
    """E = -(1/B) Y : log P with P = softmax(V) columnwise, V, Y (m, B); fused and stable.

    log P = V - 1 l^T with l_b = log sum_k exp(v_kb) (computed after subtracting the column max),
    and dl_b = p_b^T dv_b. Hence d log P = dV - 1 (1^T (P o dV)) and
    dE = -(1/B) [Y : dV - (1^T Y) : (1^T (P o dV))] = (1/B) (P o (1 1^T Y) - Y) : dV,
    so dE/dV = gbar (P o (1 1^T Y) - Y) / B, which is gbar (P - Y) / B when Y's columns sum to 1.
    """
    V = _t(V, "V")
    _need_2d(V, "softmax_cross_entropy")
    Y = _target(Y, V, "softmax_cross_entropy")
    B = V.shape[1]
    E = Tensor(np.array(-np.sum(Y * log_softmax(V.data)) / B), parents=(V,), op="softmax_cross_entropy")

    def vjp() -> None:
        P = _softmax(V.data)
        V.grad += E.grad * (P * Y.sum(axis=0, keepdims=True) - Y) / B
    E._vjp = vjp
    return E


def leaves(root: Tensor) -> Iterable[Tensor]:
    """The leaves (nodes without parents) of root's graph, in topological order."""
    return [T for T in topological_order(root) if not T.parents]
