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


def deep_networks(rng, B=65536):
    """A deep, narrow network with a wide batch: its activations (n, B) of 4 MiB each dominate what
    the kernel holds (a library imported in another cell adds ~30 MB, inside the slack)."""
    L, k, n = 32, 4, 8
    return [dict(params=_params(rng, [n] * (L + 1)), X=rng.standard_normal((n, B)),
                 Y=rng.uniform(-0.9, 0.9, (n, B)), k=k)]


def small_deep_networks(rng):
    """The same for the self-check (B = 1024: a small data file; tracemalloc measures exactly)."""
    return deep_networks(rng, B=1024)


def plain_gradients(params, X, Y, k=None):
    """The gradients of the tanh network by the rules of the notebook's introduction, with numpy's
    tanh (the reference MLP takes seconds on a batch of 65536; test_grader_assignments checks that
    both agree)."""
    L, B = len(params), X.shape[1]
    xs = [X]
    for l in range(1, L + 1):
        xs.append(np.tanh(params[f"W{l}"] @ xs[-1]))
    g, grads = (xs[-1] - Y) / B, {}
    for l in range(L, 0, -1):
        delta = (1 - xs[l] * xs[l]) * g
        grads[f"W{l}"] = delta @ xs[l - 1].T
        g = params[f"W{l}"].T @ delta
    return {f"W{l}": grads[f"W{l}"] for l in range(1, L + 1)}


def memory_limit(params, X, Y, k):
    """Bytes the call may hold beyond its inputs: ceil(L/k) checkpoints, a segment's k recomputed
    activations and k backward temporaries, and 10 more arrays of shape (n, B) for slack (the
    temporaries of an expression, what another cell's imports keep). Measured by the grader: the
    instructor version holds 15, plain backprop 36 (L = 32, k = 4: 26 allowed)."""
    L, (n, B) = len(params), X.shape
    return (math.ceil(L / k) + 2 * k + 10) * n * B * 8


MEMORY_HINT = ("Checkpoints every k layers need about ceil(L/k) + 2k arrays of shape (n, B); keeping every "
               "activation takes L to 2L of them.")

def segment_mistakes(L, k):
    """The last segment not cut at L."""
    return {"last_segment_not_cut_at_L": (
        [[a, a + k] for a in range(0, L, k)],
        "your last segment ends after layer L: it must end at L (min(a + k, L))")}


TESTS = {
    "test_segments_values": dict(call="segments(L, k)", cases=segment_cases, expected=segment_list,
                                 noun="list of segments", mistakes=segment_mistakes),
    "test_forward_checkpoints_shapes": dict(kind="shape", call="forward_checkpoints(params, X, k)",
                                            cases=networks, expected=checkpoints, noun="checkpoint"),
    "test_forward_checkpoints_values": dict(call="forward_checkpoints(params, X, k)", cases=networks,
                                            expected=checkpoints, noun="checkpoint"),
    "test_segment_backward_shapes": dict(kind="shape", call="segment_backward(params, x_a, a, b, g_b)",
                                         cases=segments_of_networks, expected=segment_backward, noun="gradient"),
    "test_segment_backward_values": dict(call="segment_backward(params, x_a, a, b, g_b)", noun="gradient",
                                         cases=segments_of_networks, expected=segment_backward),
    "test_checkpointed_gradients_shapes": dict(kind="shape", call="checkpointed_gradients(params, X, Y, k)",
                                               cases=networks, expected=gradients, noun="gradient"),
    "test_checkpointed_gradients_values": dict(call="checkpointed_gradients(params, X, Y, k)",
                                               cases=networks, expected=gradients, noun="gradient"),
    # the right gradients, and the memory the kernel holds at the call's peak (measured by the grader
    # from outside the kernel; by tracemalloc in the students' self-check)
    "test_checkpointed_gradients_memory": dict(call="checkpointed_gradients(params, X, Y, k)",
                                               cases=deep_networks, examples=small_deep_networks,
                                               expected=plain_gradients, noun="gradient",
                                               peak_memory=memory_limit, hint=MEMORY_HINT),
}


# ------------------------------------------------------------------------------------- variants
# The activation: tanh as written; sigma and softplus (whose derivatives also need only x_l).
TANH_X = 'np.tanh(params[f"W{l}"] @ x)'
TANH_XS = 'np.tanh(params[f"W{l}"] @ xs[-1])'
DELTA = "delta = (1 - xs[l - a] ** 2) * g"
VARIANTS = {"activation": {
    "tanh": [],
    "sigmoid": [
        (r"$x_l = \tanh(v_l)$", r"$x_l = \sigma(v_l) = 1/(1 + e^{-v_l})$"),
        (r"\delta_l = (1 - x_l \circ x_l) \circ g_l", r"\delta_l = (x_l - x_l \circ x_l) \circ g_l"),
        (r"(For $\tanh$, $f'(v_l) = 1 - x_l \circ x_l$ needs only $x_l$.)",
         r"(For $\sigma$, $f'(v_l) = x_l - x_l \circ x_l$ needs only $x_l$.)"),
        (TANH_X, '1.0 / (1.0 + np.exp(-(params[f"W{l}"] @ x)))'),
        (TANH_XS, '1.0 / (1.0 + np.exp(-(params[f"W{l}"] @ xs[-1])))'),
        (DELTA, "delta = (xs[l - a] - xs[l - a] ** 2) * g")],
    "softplus": [
        (r"$x_l = \tanh(v_l)$", r"$x_l = \operatorname{softplus}(v_l) = \log(1 + e^{v_l})$"),
        (r"\delta_l = (1 - x_l \circ x_l) \circ g_l", r"\delta_l = (1 - e^{-x_l}) \circ g_l"),
        (r"(For $\tanh$, $f'(v_l) = 1 - x_l \circ x_l$ needs only $x_l$.)",
         r"(For softplus, $f'(v_l) = \sigma(v_l) = 1 - e^{-x_l}$ needs only $x_l$, entry by entry.)"),
        (TANH_X, 'np.logaddexp(0.0, params[f"W{l}"] @ x)'),
        (TANH_XS, 'np.logaddexp(0.0, params[f"W{l}"] @ xs[-1])'),
        (DELTA, "delta = (1.0 - np.exp(-xs[l - a])) * g")],
}}

#: f(v) and f'(v) written with x = f(v)
ACTIVATIONS = {"sigmoid": (lambda v: 1.0 / (1.0 + np.exp(-v)), lambda x: x - x * x),
               "softplus": (lambda v: np.logaddexp(0.0, v), lambda x: 1.0 - np.exp(-x))}


def make_tests(activation):
    """TESTS of a variant: the rules of the notebook's introduction with f and f' (the notebook as
    written: the tests above, unchanged)."""
    if activation == "tanh":
        return TESTS
    f, f_prime = ACTIVATIONS[activation]

    def forward_(params, x, a, b):
        xs = [x]
        for l in range(a + 1, b + 1):
            xs.append(f(params[f"W{l}"] @ xs[-1]))
        return xs

    def backward_(params, xs, a, g):
        grads = {}
        for l in range(a + len(xs) - 1, a, -1):
            delta = f_prime(xs[l - a]) * g
            grads[f"W{l}"] = delta @ xs[l - a - 1].T
            g = params[f"W{l}"].T @ delta
        return grads, g

    def checkpoints_(params, X, Y, k):
        xs = forward_(params, X, 0, len(params))
        return {f"x{a}": xs[a] for a, _ in _segments(len(params), k)}

    def segment_backward_(params, x_a, a, b, g_b):
        grads, g = backward_(params, forward_(params, x_a, a, b), a, g_b)
        return {**grads, "g": g}

    def gradients_(params, X, Y, k=None):
        xs = forward_(params, X, 0, len(params))
        grads, _ = backward_(params, xs, 0, (xs[-1] - Y) / X.shape[1])
        return {f"W{l}": grads[f"W{l}"] for l in range(1, len(params) + 1)}

    tests = dict(TESTS)
    for gid, expected in (("test_forward_checkpoints_shapes", checkpoints_),
                          ("test_forward_checkpoints_values", checkpoints_),
                          ("test_segment_backward_shapes", segment_backward_),
                          ("test_segment_backward_values", segment_backward_),
                          ("test_checkpointed_gradients_shapes", gradients_),
                          ("test_checkpointed_gradients_values", gradients_),
                          ("test_checkpointed_gradients_memory", gradients_)):
        tests[gid] = dict(TESTS[gid], expected=expected)
    return tests
