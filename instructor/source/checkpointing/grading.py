"""Grader-side checks of the assignment `checkpointing` (never released, never in the sandbox)."""
import math

import numpy as np

from backprop import MLP, engine
from backprop.checkpoint import segments as _segments

# numpy only: the answers may use nothing of backprop
STUDENT_PACKAGE = {}


def _params(rng, widths):
    """W_l (widths[l], widths[l-1]) with N(0, 1/n_in) entries (LeCun: tanh stays unsaturated)."""
    return {f"W{l}": rng.standard_normal((b, a)) / np.sqrt(a)
            for l, (a, b) in enumerate(zip(widths, widths[1:]), start=1)}


def segment_cases(rng):
    """Fresh (L, k), including k >= L (one segment) and k not dividing L."""
    L = [int(rng.integers(5, 40)) for _ in range(3)]
    return ([dict(L=L[0], k=int(rng.integers(2, 7))), dict(L=L[1], k=int(L[1] + rng.integers(0, 3))),
             dict(L=L[2], k=1)])


def segment_list(L, k):
    return [list(p) for p in _segments(L, k)]


def networks(rng):
    """Fresh tanh networks of two depths with layers of different widths, a batch and targets."""
    cases = []
    for L, B in ((5, 3), (7, 4)):
        widths = [int(w) for w in rng.integers(2, 7, size=L + 1)]
        cases.append(dict(params=_params(rng, widths), X=rng.standard_normal((widths[0], B)),
                          Y=rng.uniform(-0.9, 0.9, (widths[-1], B)), k=int(rng.integers(2, L))))
    return cases


def _net(params, X):
    L = len(params)
    sizes = [X.shape[0]] + [params[f"W{l}"].shape[0] for l in range(1, L + 1)]
    return MLP(sizes, hidden="tanh", output="tanh", loss="half_squared_error", bias=False)


def checkpoints(params, X, Y, k):
    xs = _net(params, X).forward(X, params)[0]
    return {f"x{a}": xs[a] for a, _ in _segments(len(params), k)}


def segments_of_networks(rng):
    """A segment (a, b] of a fresh network, its checkpoint x_a and the gradient g_b w.r.t. x_b."""
    cases = []
    for L, a, b, B in ((6, 1, 4, 3), (5, 0, 2, 2), (4, 2, 4, 3)):
        widths = [int(w) for w in rng.integers(2, 7, size=L + 1)]
        cases.append(dict(params=_params(rng, widths), x_a=rng.standard_normal((widths[a], B)),
                          a=a, b=b, g_b=rng.standard_normal((widths[b], B))))
    return cases


def segment_backward(params, x_a, a, b, g_b):
    """By the engine: x_b = tanh(W_b ... tanh(W_{a+1} x_a)), VJP of g_b."""
    x = engine.Tensor(x_a, "x_a")
    W = {l: engine.Tensor(params[f"W{l}"], f"W{l}") for l in range(a + 1, b + 1)}
    A = x
    for l in range(a + 1, b + 1):
        A = engine.tanh(W[l] @ A)
    A.backward(g_b)
    return {**{f"W{l}": W[l].grad for l in W}, "g": x.grad}


def gradients(params, X, Y, k):
    return _net(params, X).gradients(X, Y, params)


def deep_networks(rng):
    """Deep, narrow networks with a wide batch: the activations dominate the memory."""
    cases = []
    for L, k in ((32, 4), (27, 5)):
        n, B = 8, 1024
        cases.append(dict(params=_params(rng, [n] * (L + 1)), X=rng.standard_normal((n, B)),
                          Y=rng.uniform(-0.9, 0.9, (n, B)), k=k))
    return cases


def memory(got, params, X, Y, k):
    """Right gradients, and a peak below the checkpointing model plus a margin."""
    want = gradients(params, X, Y, k)
    grads = got.get("grads") if isinstance(got, dict) else None
    if not isinstance(grads, dict) or sorted(grads) != sorted(want):
        return False, f"checkpointed_gradients must return a dict with keys {sorted(want)}"
    if not all(np.shape(grads[p]) == want[p].shape and np.allclose(grads[p], want[p], rtol=1e-8, atol=1e-12)
               for p in want):
        return False, "the gradients are not right (the values test says more)"
    L, (n, B) = len(params), X.shape
    arrays = float(got["peak"]) / (n * B * 8)
    limit = math.ceil(L / k) + 2 * k + 6
    if arrays > limit:
        return False, (f"the peak memory was {arrays:.0f} arrays of shape (n, B) = {(n, B)} for L = {L}; "
                       f"checkpoints every k = {k} layers need about ceil(L/k) + 2k = "
                       f"{math.ceil(L / k) + 2 * k} (at most {limit} accepted); keeping every "
                       f"activation takes about {L}-{2 * L}")
    return True, ""


MEASURE = ('(lambda tm: (tm.start(), (lambda G: {"grads": G, "peak": tm.get_traced_memory()[1]})'
           '(checkpointed_gradients(params, X, Y, k)), tm.stop())[1])(__import__("tracemalloc"))')

TESTS = {
    "test_segments_values": dict(call="segments(L, k)", cases=segment_cases, expected=segment_list),
    "test_forward_checkpoints_shapes": dict(kind="shape", call="forward_checkpoints(params, X, k)",
                                            cases=networks, expected=checkpoints),
    "test_forward_checkpoints_values": dict(call="forward_checkpoints(params, X, k)", cases=networks,
                                            expected=checkpoints),
    "test_segment_backward_shapes": dict(kind="shape", call="segment_backward(params, x_a, a, b, g_b)",
                                         cases=segments_of_networks, expected=segment_backward),
    "test_segment_backward_values": dict(call="segment_backward(params, x_a, a, b, g_b)",
                                         cases=segments_of_networks, expected=segment_backward),
    "test_checkpointed_gradients_shapes": dict(kind="shape", call="checkpointed_gradients(params, X, Y, k)",
                                               cases=networks, expected=gradients),
    "test_checkpointed_gradients_values": dict(call="checkpointed_gradients(params, X, Y, k)",
                                               cases=networks, expected=gradients),
    "test_checkpointed_gradients_memory": dict(call=MEASURE, cases=deep_networks, compare=memory),
}
