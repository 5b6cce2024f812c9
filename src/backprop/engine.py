"""A small reverse-mode automatic differentiation engine on matrices.

A :class:`Tensor` is a 2-D matrix (columns are examples) or a 0-D scalar. Every operation
C = op(A, B, ...) knows two rules, both read off its differential dC:

* its vector-Jacobian product (VJP), used by :meth:`Tensor.backward`: given Gbar = dE/dC
  (the shape of C) it adds dE/dA, dE/dB (the shapes of A, B) to A.grad, B.grad. Write
  dE = Gbar : dC, expand dC, and move everything next to dA (resp. dB) with

      P : (Q R) = (P R^T) : Q = (Q^T P) : R,     P : (Q o R) = (P o Q) : R,

  where A : B = tr(A^T B) and o is the Hadamard product;
* its Jacobian-vector product (JVP), used by :func:`jvp` (forward mode): given tangents
  dA, dB it returns dC -- the differential itself.

``backward()`` runs the VJPs in reverse topological order, starting from dE/dE = 1.
Broadcasting is allowed only where it is meant: a column (m, 1), a row (1, n) or a scalar
against an (m, n) matrix; its gradient is summed back to its own shape.

Adding an operation: compute the value, make ``Tensor(value, parents=(A, ...), op="name")``
and give it ``_vjp`` (adds to each parent's ``grad``, skipping parents with
``requires_grad=False``) and ``_jvp`` (maps the parents' tangents to the node's tangent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ._checks import as_float_array
from .activations import get_activation, log_softmax
from .activations import sigmoid as _sigmoid
from .activations import softmax as _softmax

__all__ = [
    "Tensor",
    "matmul",
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "transpose",
    "exp",
    "log",
    "sigmoid",
    "tanh",
    "relu",
    "sum",
    "sum_all",
    "mean",
    "frobenius",
    "half_squared_error",
    "softmax_cross_entropy",
    "jvp",
    "topological_order",
    "leaves",
    "mlp_graph",
]


class Tensor:
    """A node: ``data`` (float ndarray, 2-D or 0-D) and ``grad`` = dE/d(data), the same shape.

    ``Tensor(array, name, requires_grad=True)`` makes a leaf, whose ``grad`` starts at zero;
    ``requires_grad=False`` makes a constant, whose ``grad`` stays None. Operations make the
    other nodes: they remember their ``parents``, require a gradient when any parent does, and
    hold a ``grad`` only after :meth:`backward` (None before).
    """

    __array_ufunc__ = None  # ``ndarray + Tensor`` calls Tensor.__radd__ instead of numpy's loop

    def __init__(
        self,
        data,
        name: str = "",
        *,
        requires_grad: bool = True,
        parents: tuple[Tensor, ...] = (),
        op: str = "",
    ) -> None:
        self.data = as_float_array(data, name or op or "data")
        if self.data.ndim not in (0, 2):
            raise ValueError(
                f"{name or op or 'Tensor'}: data must be a 2-D matrix or a 0-D scalar, "
                f"got shape {self.data.shape}; write a vector as a column (n, 1)"
            )
        self.name, self.parents, self.op = name, tuple(parents), op
        self.requires_grad = (
            any(p.requires_grad for p in self.parents) if self.parents else bool(requires_grad)
        )
        self.grad = np.zeros_like(self.data) if self.requires_grad and not parents else None
        self._vjp: Callable[[], None] = lambda: None
        self._jvp: Callable[..., np.ndarray] = lambda *tangents: np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def T(self) -> Tensor:
        return transpose(self)

    def __repr__(self) -> str:
        label = self.name or (f"<{self.op}>" if self.op else "leaf")
        return f"Tensor({label}, shape={self.shape}, requires_grad={self.requires_grad})"

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        return neg(self)

    def zero_grad(self) -> None:
        """Reset the leaves' ``grad`` to zero (and drop the inner nodes') in this node's graph."""
        for node in topological_order(self):
            if node.requires_grad:
                node.grad = None if node.parents else np.zeros_like(node.data)

    def backward(self, Gbar=None, retain_grads: bool = True) -> None:
        """Add dE/dT to ``T.grad`` for every node T of the graph that ends at this node E.

        E must be a scalar (0-D or (1, 1)) unless ``Gbar`` (E's shape) is given: then the
        result is the VJP of Gbar. Leaves *accumulate*: a second call adds to their ``grad``
        (reset with :meth:`zero_grad`). Inner nodes start from zero at every call, so after it
        their ``grad`` is dE/d(node) of this call; ``retain_grads=False`` frees it as soon as the
        node's VJP has run (less memory; leaves keep theirs). Each VJP runs after all nodes that
        use the node (reverse topological order), so its ``grad`` is complete when passed on.
        """
        if not self.requires_grad:
            raise ValueError(
                f"backward(): {self!r} does not depend on any tensor with "
                "requires_grad=True, so there is nothing to differentiate"
            )
        if Gbar is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() starts from a scalar E, but this tensor has shape "
                    f"{self.shape}; reduce it first (sum, mean, a loss) or pass Gbar"
                )
            Gbar = np.ones_like(self.data)
        Gbar = as_float_array(Gbar, "Gbar")
        if Gbar.shape != self.shape:
            raise ValueError(f"backward(): Gbar has shape {Gbar.shape}, expected {self.shape}")
        order = [n for n in topological_order(self) if n.requires_grad]
        for node in order:
            if node.parents:
                node.grad = None  # inner gradients are made as they are needed
        self.grad = self.grad + Gbar if not self.parents else Gbar.copy()
        for node in reversed(order):
            for p in node.parents:
                if p.requires_grad and p.grad is None:
                    p.grad = np.zeros_like(p.data)
            node._vjp()
            if node.parents and not retain_grads:
                node.grad = None


def topological_order(root: Tensor) -> list[Tensor]:
    """Nodes of root's graph, every node after all of its parents (iterative depth-first)."""
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


def leaves(root: Tensor) -> Iterable[Tensor]:
    """The leaves (nodes without parents) of root's graph, in topological order."""
    return [T for T in topological_order(root) if not T.parents]


def jvp(root: Tensor, tangents: Mapping[Tensor, np.ndarray]) -> np.ndarray:
    """Forward mode: the differential d(root) when each leaf T in ``tangents`` moves by
    ``tangents[T]`` (T's shape) and every other leaf is held fixed. One pass over the graph
    per direction: the Jacobian-vector product, never the Jacobian."""
    ids = {id(T) for T in tangents}
    d: dict[int, np.ndarray] = {}
    for node in topological_order(root):
        if not node.parents:
            t = tangents[node] if id(node) in ids else np.zeros_like(node.data)
            t = as_float_array(t, f"tangent of {node!r}")
            if t.shape != node.shape:
                raise ValueError(f"jvp: the tangent of {node!r} has shape {t.shape}, expected {node.shape}")
            d[id(node)] = t
        else:
            d[id(node)] = node._jvp(*[d[id(p)] for p in node.parents])
    return d[id(root)]


# -- helpers ---------------------------------------------------------------------------------


def _t(a, name: str) -> Tensor:
    """A Tensor as is; anything else (a number, an array) becomes a constant."""
    return (
        a if isinstance(a, Tensor) else Tensor(a if np.ndim(a) else np.float64(a), name, requires_grad=False)
    )


def _compute(op: str, f: Callable[[], np.ndarray], *inputs: Tensor) -> np.ndarray:
    """f() with numpy's overflow / invalid / divide-by-zero turned into an error naming op."""
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            return f()
    except FloatingPointError as err:
        shapes = ", ".join(str(T.shape) for T in inputs)
        raise ValueError(f"{op}: {err} on inputs of shape {shapes}") from None


def _unbroadcast(G: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum G back to ``shape``: over every axis where ``shape`` is 1 (column, row) or all of it."""
    if G.shape == shape:
        return G
    if shape == ():
        return np.array(G.sum())
    return G.sum(axis=tuple(i for i, k in enumerate(shape) if k == 1), keepdims=True)


def _result_shape(op: str, A: Tensor, B: Tensor) -> tuple[int, ...]:
    """The shape of an entrywise op: one operand fixes it, the other equals it or is a column,
    row or scalar that numpy broadcasts to it. Anything else (column op row ...) is an error."""
    for full, other in ((A, B), (B, A)):
        if (
            other.data.ndim == 0
            or other.shape == full.shape
            or (full.data.ndim == 2 and all(o in (1, f) for o, f in zip(other.shape, full.shape)))
        ):
            return full.shape
    raise ValueError(
        f"{op}: shapes {A.shape} and {B.shape} do not fit: one operand must have the "
        f"other's shape or be a column (m, 1), a row (1, n) or a scalar against it"
    )


def _need_2d(T: Tensor, op: str) -> None:
    if T.data.ndim != 2:
        raise ValueError(f"{op} needs 2-D matrices (use columns (n, 1) for vectors), got shape {T.shape}")


def _node(value, op: str, parents: tuple[Tensor, ...]) -> Tensor:
    return Tensor(value, parents=parents, op=op)


# -- matrix product and entrywise arithmetic -------------------------------------------------


def matmul(A, B) -> Tensor:
    """C = A B for A (m, k), B (k, n); C is (m, n).

    dC = dA B + A dB, so dE = Gbar : dC = Gbar B^T : dA + A^T Gbar : dB:
    dE/dA = Gbar B^T and dE/dB = A^T Gbar.
    """
    A, B = _t(A, "A"), _t(B, "B")
    _need_2d(A, "matmul"), _need_2d(B, "matmul")
    if A.shape[1] != B.shape[0]:
        raise ValueError(
            f"matmul: A has shape {A.shape} and B has shape {B.shape}; "
            f"A's {A.shape[1]} columns must equal B's {B.shape[0]} rows"
        )
    C = _node(_compute("matmul", lambda: A.data @ B.data, A, B), "matmul", (A, B))

    def vjp() -> None:
        if A.requires_grad:
            A.grad += C.grad @ B.data.T
        if B.requires_grad:
            B.grad += A.data.T @ C.grad

    C._vjp, C._jvp = vjp, lambda dA, dB: dA @ B.data + A.data @ dB
    return C


def _entrywise(op: str, A, B, f, dA_rule, dB_rule, jvp_rule) -> Tensor:
    """C = f(A, B) entry by entry, with broadcasting; the rules map Gbar to dE/dA, dE/dB
    *before* summing back to A's and B's shapes."""
    A, B = _t(A, "A"), _t(B, "B")
    _result_shape(op, A, B)
    C = _node(_compute(op, lambda: f(A.data, B.data), A, B), op, (A, B))

    def vjp() -> None:
        if A.requires_grad:
            A.grad += _unbroadcast(dA_rule(C.grad, A.data, B.data, C.data), A.shape)
        if B.requires_grad:
            B.grad += _unbroadcast(dB_rule(C.grad, A.data, B.data, C.data), B.shape)

    C._vjp = vjp
    C._jvp = lambda dA, dB: np.broadcast_to(jvp_rule(dA, dB, A.data, B.data, C.data), C.shape)
    return C


def add(A, B) -> Tensor:
    """C = A + B. A bias column b (m, 1) added to A (m, n) is A + b 1^T, so
    dE = Gbar : (dA + db 1^T) = Gbar : dA + Gbar 1 : db: dE/dA = Gbar,
    grad_b E = Gbar 1 (a column, the shape of b)
    (the row sums of Gbar); a row or a scalar is summed back the same way."""
    return _entrywise(
        "add", A, B, np.add, lambda G, a, b, c: G, lambda G, a, b, c: G, lambda da, db, a, b, c: da + db
    )


def sub(A, B) -> Tensor:
    """C = A - B: dE/dA = Gbar, dE/dB = -Gbar (each summed back to its shape)."""
    return _entrywise(
        "sub", A, B, np.subtract, lambda G, a, b, c: G, lambda G, a, b, c: -G, lambda da, db, a, b, c: da - db
    )


def mul(A, B) -> Tensor:
    """C = A o B (entrywise). dC = dA o B + A o dB, so dE/dA = Gbar o B, dE/dB = Gbar o A."""
    return _entrywise(
        "mul",
        A,
        B,
        np.multiply,
        lambda G, a, b, c: G * b,
        lambda G, a, b, c: G * a,
        lambda da, db, a, b, c: da * b + a * db,
    )


def div(A, B) -> Tensor:
    """C = A / B (entrywise), B without zeros. dC = dA / B - C o dB / B, so
    dE/dA = Gbar / B and dE/dB = -Gbar o C / B."""
    B_ = _t(B, "B")
    if np.any(B_.data == 0):
        raise ValueError(f"div: the divisor of shape {B_.shape} has zero entries")
    return _entrywise(
        "div",
        A,
        B_,
        np.divide,
        lambda G, a, b, c: G / b,
        lambda G, a, b, c: -G * c / b,
        lambda da, db, a, b, c: (da - c * db) / b,
    )


def _unary(op: str, A, f, f_prime) -> Tensor:
    """S = f(A) entrywise with f' given as a function of (A, S): dS = f'(A) o dA, so
    Gbar : dS = (f'(A) o Gbar) : dA and dE/dA = f'(A) o Gbar."""
    A = _t(A, "A")
    S = _node(_compute(op, lambda: f(A.data), A), op, (A,))

    def vjp() -> None:
        if A.requires_grad:
            A.grad += f_prime(A.data, S.data) * S.grad

    S._vjp, S._jvp = vjp, lambda dA: f_prime(A.data, S.data) * dA
    return S


def neg(A) -> Tensor:
    """S = -A: dE/dA = -Gbar."""
    return _unary("neg", A, np.negative, lambda a, s: -1.0)


def transpose(A) -> Tensor:
    """C = A^T. Gbar : dA^T = Gbar^T : dA, so dE/dA = Gbar^T."""
    A = _t(A, "A")
    C = _node(A.data.T, "transpose", (A,))

    def vjp() -> None:
        if A.requires_grad:
            A.grad += C.grad.T

    C._vjp, C._jvp = vjp, lambda dA: dA.T
    return C


def exp(A) -> Tensor:
    """S = exp(A): dS = S o dA, dE/dA = S o Gbar. Overflow (entries above ~709) is an error."""
    return _unary("exp", A, np.exp, lambda a, s: s)


def log(A) -> Tensor:
    """S = log(A) for A > 0: dS = dA / A, dE/dA = Gbar / A."""
    A = _t(A, "A")
    if np.any(A.data <= 0):
        raise ValueError(
            f"log: needs positive entries, but the input of shape {A.shape} has minimum {A.data.min()}"
        )
    return _unary("log", A, np.log, lambda a, s: 1.0 / a)


def sigmoid(V) -> Tensor:
    """S = sigma(V). dS = sigma'(V) o dV with sigma' the rule of backprop.activations
    (s - s o s), so dE/dV = sigma'(V) o Gbar -- the numbers backprop.MLP uses."""
    rule = get_activation("sigmoid").vjp
    return _unary("sigmoid", V, _sigmoid, lambda v, s: rule(v, s, np.ones_like(s)))


def tanh(V) -> Tensor:
    """S = tanh(V). dS = (1 - S o S) o dV, so dE/dV = (1 - S o S) o Gbar."""
    return _unary("tanh", V, np.tanh, lambda v, s: 1.0 - s * s)


def relu(V) -> Tensor:
    """S = max(V, 0). dS = [V > 0] o dV (the derivative at the kink 0 taken as 0),
    so dE/dV = [V > 0] o Gbar."""
    return _unary("relu", V, lambda v: np.maximum(v, 0), lambda v, s: (v > 0).astype(v.dtype))


# -- reductions and losses -------------------------------------------------------------------


def sum(A, axis: int | None = None) -> Tensor:  # noqa: A001 (engine.sum, as numpy.sum)
    """e = sum of A's entries: axis=None gives a 0-D scalar, e = 1 1^T : A, and
    dE/dA = gbar 1 1^T; axis=0 gives the row 1^T A (1, n), axis=1 the column A 1 (m, 1),
    and dE/dA copies Gbar along the summed axis."""
    A = _t(A, "A")
    if axis not in (None, 0, 1) or (axis is not None and A.data.ndim != 2):
        raise ValueError(
            f"sum: axis must be None, 0 or 1 for a 2-D input, got axis={axis!r} for shape {A.shape}"
        )
    keep = axis is not None
    e = _node(np.asarray(A.data.sum(axis=axis, keepdims=keep)), "sum", (A,))

    def vjp() -> None:
        if A.requires_grad:
            A.grad += np.broadcast_to(e.grad, A.shape)

    e._vjp, e._jvp = vjp, lambda dA: np.asarray(dA.sum(axis=axis, keepdims=keep))
    return e


def sum_all(A) -> Tensor:
    """``sum(A)``: the 0-D sum of every entry (kept for chapter 11's first version)."""
    return sum(A)


def mean(A, axis: int | None = None) -> Tensor:
    """The mean over ``axis`` (None: every entry): ``sum(A, axis) / count``."""
    A = _t(A, "A")
    s = sum(A, axis)
    return div(s, float(A.data.size // s.data.size))


def frobenius(A, C) -> Tensor:
    """e = A : C = sum_ij A_ij C_ij with C a constant of A's shape, a 0-D scalar.

    de = C : dA, so dE/dA = gbar C. With C = Gbar, backward from e hands Gbar to A:
    the way to test any op's VJP (e = Gbar : op(X) has de/dX = VJP of Gbar).
    """
    A = _t(A, "A")
    C = as_float_array(C.data if isinstance(C, Tensor) else C, "C")
    if C.shape != A.shape:
        raise ValueError(f"frobenius: A has shape {A.shape} but C has shape {C.shape}; they must match")
    e = _node(np.array(np.sum(A.data * C)), "frobenius", (A,))

    def vjp() -> None:
        if A.requires_grad:
            A.grad += e.grad * C

    e._vjp, e._jvp = vjp, lambda dA: np.array(np.sum(C * dA))
    return e


def _target(Y, S: Tensor, who: str) -> np.ndarray:
    Y = as_float_array(Y.data if isinstance(Y, Tensor) else Y, "Y")
    if Y.shape != S.shape:
        raise ValueError(
            f"{who}: targets Y have shape {Y.shape} but the output has shape "
            f"{S.shape}; they must match exactly (no broadcasting)"
        )
    return Y


def half_squared_error(S, Y) -> Tensor:
    """E = 1/(2B) ||S - Y||_F^2 for S, Y (m, B): half the squared error, mean over columns.

    Y is a constant. dE = (1/B) (S - Y) : dS, so dE/dS = gbar (S - Y) / B.
    For one example (B = 1) this is the seed network's E = 1/2 ||s - y||^2.
    """
    S = _t(S, "S")
    _need_2d(S, "half_squared_error")
    Y = _target(Y, S, "half_squared_error")
    B = S.shape[1]
    R = S.data - Y
    E = _node(np.array(0.5 * np.sum(R * R) / B), "half_squared_error", (S,))

    def vjp() -> None:
        if S.requires_grad:
            S.grad += E.grad * R / B

    E._vjp, E._jvp = vjp, lambda dS: np.array(np.sum(R * dS) / B)
    return E


def softmax_cross_entropy(V, Y) -> Tensor:
    """E = -(1/B) Y : log P with P = softmax(V) columnwise, V, Y (m, B); fused and stable.

    log P = V - 1 l^T with l_b = log sum_k exp(v_kb) (computed after subtracting the column
    max), and dl_b = p_b^T dv_b. Hence d log P = dV - 1 (1^T (P o dV)) and
    dE = (1/B) (P o (1 1^T Y) - Y) : dV, so dE/dV = gbar (P o (1 1^T Y) - Y) / B,
    which is gbar (P - Y) / B when Y's columns sum to 1.
    """
    V = _t(V, "V")
    _need_2d(V, "softmax_cross_entropy")
    Y = _target(Y, V, "softmax_cross_entropy")
    B = V.shape[1]
    E = _node(np.array(-np.sum(Y * log_softmax(V.data)) / B), "softmax_cross_entropy", (V,))

    def rule() -> np.ndarray:
        return (_softmax(V.data) * Y.sum(axis=0, keepdims=True) - Y) / B

    def vjp() -> None:
        if V.requires_grad:
            V.grad += E.grad * rule()

    E._vjp, E._jvp = vjp, lambda dV: np.array(np.sum(rule() * dV))
    return E


def mlp_graph(net, X, Y, params: Mapping[str, np.ndarray] | None = None):
    """The loss of ``backprop.MLP`` ``net`` (column layout) built from engine nodes.

    Returns (E, P, Vs): the 0-D loss, the parameters as leaves ``P[name]`` (so after
    ``E.backward()``, ``P["W1"].grad`` is dE/dW_1) and the pre-activations [V_1, ..., V_L]
    (after backward, ``Vs[l-1].grad`` is delta_l = dE/dV_l). X (n0, B) is a constant.
    """
    if getattr(net, "layout", "column") != "column":
        raise ValueError(f"mlp_graph is written for layout='column', got {net.layout!r}")
    ACT = {"sigmoid": sigmoid, "tanh": tanh, "relu": relu, "identity": lambda V: V}
    P = {k: Tensor(v, k) for k, v in (net.params if params is None else params).items()}
    A, Vs = Tensor(X, "X", requires_grad=False), []
    for l in range(1, net.L + 1):
        V = P[f"W{l}"] @ A
        if net.bias:
            V = V + P[f"b{l}"]
        Vs.append(V)
        if l < net.L:
            A = ACT[net.hidden.name](V)
    if net.loss_name == "cross_entropy" and net.output.name == "softmax":
        return softmax_cross_entropy(V, Y), P, Vs
    if net.loss_name == "cross_entropy":
        raise ValueError("mlp_graph: cross-entropy with a sigmoid output is not in the engine")
    return half_squared_error(ACT[net.output.name](V), Y), P, Vs
