"""The grader-side pieces without a sandbox: every assignment's grading.py, the verdicts and
their words, the encoding between grader and kernel, the self-check students get, the student
copy of the package, students' keys and submissions as received.

(The sandboxed runs are in test_grader_adversarial.py; nbgrader's own flow in test_grader_nbgrader.py.)
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if (p / "grading.py").exists())


def _grading():
    if "grading" not in sys.modules:
        folder = ROOT / "tools" / "grading"
        spec = importlib.util.spec_from_file_location(
            "grading", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["grading"] = module
        spec.loader.exec_module(module)
    return sys.modules["grading"]


_grading()
from grading import intake, notebook, selfcheck, spec, student_package, students, verdicts  # noqa: E402
from grading.kernel import wire  # noqa: E402


def _answer(value):
    """What the probe sends for ``value``."""
    return wire.answer(value)


# ------------------------------------------------------------------------------- every assignment
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_check_has_fresh_cases_unlike_the_visible_example(assignment):
    checks = spec.load(SOURCE / assignment)
    for gid, test in checks.tests.items():
        a, b = spec.cases(test, seed=1), spec.cases(test, seed=2)
        enc = lambda cs: [wire.encode(c) for c in cs]
        assert enc(a) != enc(b), f"{gid}: the cases do not depend on the seed"
        assert enc(a) == enc(spec.cases(test, seed=1)), f"{gid}: the cases are not reproducible from the seed"
        assert len(a) >= 2 or test.peak_memory is not None, gid
        for case in a:  # the reference's answer passes its own check
            want = test.expected(**case)
            ok, msg = verdicts.judge(test, case, {"ok": _answer(want)}, extra_memory=0.0)
            assert ok, (gid, msg)


def test_expected_values_written_out_agree_with_the_references():
    from backprop import numerical_gradient
    from backprop.losses import cross_entropy_from_logits
    from backprop.seed import E

    diff = spec.load(SOURCE / "differentials")
    for case in spec.cases(diff.tests["test_grad_x_values"], 5):
        want = diff.tests["test_grad_x_values"].expected(**case)
        num = numerical_gradient(lambda x_: E(case["W"], x_, case["y"]), case["x"])
        assert np.allclose(want, num, rtol=1e-6, atol=1e-9)
    deep = spec.load(SOURCE / "deep_softmax")
    for case in spec.cases(deep.tests["test_output_delta_values"], 5):
        want = deep.tests["test_output_delta_values"].expected(**case)
        num = numerical_gradient(lambda V: cross_entropy_from_logits(V, case["Y"], "softmax"), case["V2"])
        assert np.allclose(want, num, rtol=1e-6, atol=1e-9)
    ckpt = spec.load(SOURCE / "checkpointing")  # the numpy formula of the memory test = the MLP
    module = spec._module(SOURCE / "checkpointing" / "grading.py")
    for case in spec.cases(ckpt.tests["test_checkpointed_gradients_values"], 5):
        mine, ref = module.plain_gradients(**case), module.gradients(**case)
        assert all(np.allclose(mine[k], ref[k], rtol=1e-10, atol=1e-14) for k in ref)


def test_multihead_expected_values_agree_with_jax_and_the_definitions():
    """The fresh cases of multihead_backward against an independent reference: JAX's autodiff of
    the per-head definition (tests/test_layers_multihead_attention.py), jax.nn.softmax, and the
    split's entry formula; and the backward pass its mistakes are written from (grading.py's
    backward_with) against the package's."""
    from test_layers_multihead_attention import jax, jax_vjp, jnp, mha_jax

    folder = SOURCE / "multihead_backward"
    checks, module = spec.load(folder), spec._module(folder / "grading.py")
    for case in spec.cases(checks.tests["test_multihead_backward_shapes"], 5):
        want = checks.tests["test_multihead_backward_shapes"].expected(**case)
        Ws = [case[k] for k in ("Wq", "Wk", "Wv", "Wo")]
        _, ref = jax_vjp(
            lambda *a: mha_jax(*a, case["h"], case["causal"], None), (case["X"], *Ws), case["dout"]
        )
        written = module.backward_with(**case)
        for name, r in zip(("X", "Wq", "Wk", "Wv", "Wo"), ref):
            np.testing.assert_allclose(want[name], r, rtol=1e-10, atol=1e-12, err_msg=name)
            np.testing.assert_allclose(written[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)
    for case in spec.cases(checks.tests["test_attention_weights_values"], 5):
        T, d_k = case["Qs"].shape[2:]
        allowed = np.tril(np.ones((T, T), dtype=bool)) if case["causal"] else np.ones((T, T), dtype=bool)
        ref = jax.nn.softmax(
            jnp.einsum("bjtk,bjuk->bjtu", case["Qs"], case["Ks"]) / np.sqrt(d_k), axis=-1, where=allowed
        )
        np.testing.assert_allclose(
            checks.tests["test_attention_weights_values"].expected(**case), ref, rtol=1e-12, atol=1e-15
        )
    for case in spec.cases(checks.tests["test_split_heads_values"], 5):
        Y, h = case["Y"], case["h"]
        S = checks.tests["test_split_heads_values"].expected(**case)
        d_k = Y.shape[2] // h
        assert all(S[b, j, t, k] == Y[b, t, j * d_k + k] for b, j, t, k in np.ndindex(S.shape))
        assert np.array_equal(module.merge(S), Y)


def test_multihead_variants_expected_values_agree_with_the_pass_written_out():
    """Another scale of the scores: the reference (the package's layer with Wq rescaled) against
    the backward pass written out with that scale (grading.py's backward_with), and P against the
    softmax of the scores divided by the variant's scale."""
    folder = SOURCE / "multihead_backward"
    module = spec._module(folder / "grading.py")
    for scale in ("d_k", "none"):
        checks = spec.load(folder, {"scale": scale})
        for case in spec.cases(checks.tests["test_multihead_backward_shapes"], 5):
            want = checks.tests["test_multihead_backward_shapes"].expected(**case)
            written = module.backward_with(**case, scale=scale)
            for name in ("X", "Wq", "Wk", "Wv", "Wo"):
                np.testing.assert_allclose(written[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)
        for case in spec.cases(checks.tests["test_attention_weights_values"], 5):
            T, d_k = case["Qs"].shape[2:]
            Z = np.einsum("bjtk,bjuk->bjtu", case["Qs"], case["Ks"]) / {"d_k": d_k, "none": 1.0}[scale]
            Z = np.where(np.tril(np.ones((T, T), dtype=bool)) | (not case["causal"]), Z, -np.inf)
            P = np.exp(Z - Z.max(axis=-1, keepdims=True))
            np.testing.assert_allclose(
                checks.tests["test_attention_weights_values"].expected(**case),
                P / P.sum(axis=-1, keepdims=True),
                rtol=1e-12,
                atol=1e-15,
            )


def _assignment_scope(assignment: str, **replaced) -> dict:
    """The instructor version's functions, some replaced by a student's."""
    return {**_solutions(assignment), **replaced}


def _graded(test, scope: dict, seed: int) -> list[tuple[bool, str]]:
    """The grader's verdicts on the fresh cases of ``seed``, the call evaluated as the probe does."""
    out = []
    for case in spec.cases(test, seed):
        try:
            result = {"ok": _answer(eval(test.call, {**scope, "np": np, **case}))}
        except Exception as err:
            result = {"raised": type(err).__name__, "message": str(err)}
        out.append(verdicts.judge(test, case, result))
    return out


@pytest.mark.parametrize(
    "function, mistake",
    [
        (f, m)
        for f, ms in spec._module(SOURCE / "multihead_backward" / "grading.py").WRONG.items()
        for m in ms
    ],
)
def test_multihead_mistakes_keep_only_shape_points_are_named_and_fail_the_selfcheck(
    tmp_path, function, mistake
):
    """Each typical mistake of grading.py's WRONG, answered as a student would: the grader keeps
    the question's shape tests, names the mistake in every values test that lists it, and the
    self-check students get says "not yet right" in exactly the tests where the grader gives 0."""
    folder = SOURCE / "multihead_backward"
    checks, module = spec.load(folder), spec._module(folder / "grading.py")
    wrong, words = module.WRONG[function][mistake]
    scope = _assignment_scope("multihead_backward", **{function: wrong})
    selfcheck_module = _selfcheck_package(tmp_path, "multihead_backward")
    named_in = 0
    for gid, test in checks.tests.items():
        if not gid.startswith(f"test_{function}_"):
            continue
        verdicts_ = _graded(test, scope, seed=11)
        passed = all(ok for ok, _ in verdicts_)
        assert passed == _run_check(selfcheck_module, gid, **scope)[0], (gid, verdicts_)
        if test.kind == "shape":
            assert passed, (gid, verdicts_)
        elif mistake in test.mistakes(**spec.cases(test, 11)[0]):
            named_in += 1
            assert not passed and words in [msg for _, msg in verdicts_], (gid, verdicts_)
    assert named_in >= 1


def test_multihead_instructor_answers_pass_the_grader_and_the_selfcheck(tmp_path):
    checks = spec.load(SOURCE / "multihead_backward")
    scope = _assignment_scope("multihead_backward")
    module = _selfcheck_package(tmp_path, "multihead_backward")
    for gid, test in checks.tests.items():
        assert all(ok for ok, _ in _graded(test, scope, seed=11)), gid
        assert _run_check(module, gid, **scope)[0], gid


def test_cases_are_the_same_bits_on_every_cpu():
    """Fresh and self-check inputs computed with exp or a matrix product (whose last bits differ
    between CPUs) are rounded to 20 significant bits: flipping the last bit of every input gives
    the same case."""
    attention = spec.load(SOURCE / "attention_backward").tests["test_softmax_rows_backward_values"]
    for case in spec.cases(attention, 3):
        P = case["P"]
        assert np.array_equal(spec.quantize(np.nextafter(P, 2)), P)
        assert np.array_equal(spec.quantize(np.nextafter(P, -2)), P)
        frac, _ = np.frexp(P)
        assert np.all(np.ldexp(frac, spec.BITS) == np.round(np.ldexp(frac, spec.BITS)))


# ------------------------------------------------------------------------------- verdicts, in words
def _test(**kw):
    kw.setdefault("cases", lambda rng: [{}])
    kw.setdefault("expected", lambda: np.arange(1.0, 7.0).reshape(2, 3))
    return spec.Test("t", "f()", **kw)


def test_verdicts_charge_a_shape_mistake_once_and_name_the_rest():
    values, shape = _test(noun="gradient"), _test(kind="shape")
    right_numbers = {"ok": _answer(np.arange(1.0, 7.0))}  # (6,) instead of (2, 3)
    assert verdicts.judge(values, {}, right_numbers)[0]
    ok, msg = verdicts.judge(shape, {}, right_numbers)
    assert not ok and "(2, 3)" in msg and "(6,)" in msg
    ok, msg = verdicts.judge(values, {}, {"ok": _answer(-np.arange(1.0, 7.0).reshape(2, 3))})
    assert not ok and msg.startswith("your gradient has the wrong sign")
    ok, msg = verdicts.judge(values, {}, {"ok": _answer(2 * np.arange(1.0, 7.0).reshape(2, 3))})
    assert not ok and "twice" in msg
    ok, msg = verdicts.judge(values, {}, {"raised": "NotImplementedError", "message": ""})
    assert not ok and msg.startswith("not answered")
    ok, msg = verdicts.judge(values, {}, {"ok": {"bad": "str (ValueError)"}})
    assert not ok and "could not be read as numbers" in msg
    keys = _test(expected=lambda: {"W1": np.ones((2, 2)), "b1": np.ones((2, 1))})
    ok, msg = verdicts.judge(keys, {}, {"ok": {"dict": {"W1": _answer(np.ones((2, 2)))}}})
    assert not ok and "'b1' is missing" in msg


def test_a_scalar_in_an_array_is_told_why():
    scalar = _test(kind="scalar", expected=lambda: 0.25)
    assert verdicts.judge(scalar, {}, {"ok": _answer(0.25 * (1 + 1e-12))})[0]
    ok, msg = verdicts.judge(scalar, {}, {"ok": _answer(np.array([[0.25]]))})
    assert not ok and "single number" in msg and "(1, 1)" in msg and ".item()" in msg
    ok, msg = verdicts.judge(scalar, {}, {"ok": _answer(0.75)})
    assert not ok and "0.25" not in msg and "0.75" not in msg, msg  # no expected number quoted
    assert "multiple" not in msg, msg  # any two numbers are multiples: that is no diagnosis
    ok, msg = verdicts.judge(scalar, {}, {"ok": _answer(0.5)})
    assert not ok and "twice" in msg, msg  # a forgotten 1/2 still is one


def test_messages_never_quote_an_expected_number():
    rng = np.random.default_rng(0)
    want = rng.standard_normal((4, 3))
    test = _test(expected=lambda: want, noun="gradient")
    for got in (want + rng.standard_normal((4, 3)), 3.7 * want, np.zeros((4, 3))):
        ok, msg = verdicts.judge(test, {}, {"ok": _answer(got)})
        assert not ok
        assert not any(f"{v:.3g}" in msg for v in want.ravel()), msg
    assert "3.7" not in verdicts.judge(test, {}, {"ok": _answer(3.7 * want)})[1]


def test_a_named_mistake_is_explained_in_the_words_of_its_test():
    """The missing sigma' is named in every test of the seed network (grad_x and ds/dv too)."""
    from backprop.seed import example, forward

    diff = spec.load(SOURCE / "differentials").tests["test_grad_x_values"]
    W, x, y = example()
    f = forward(W, x, y)
    ok, msg = verdicts.judge(diff, dict(W=W, x=x, y=y), {"ok": _answer(W.T @ (f.s - f.y))})
    assert not ok and "sigma'(v)" in msg and msg.startswith("your gradient equals W^T (s - y)")
    jac = spec.load(SOURCE / "jacobians").tests["test_ds_dv_values"]
    ok, msg = verdicts.judge(jac, dict(s=f.s), {"ok": _answer(np.eye(5))})
    assert not ok and msg.startswith("your Jacobian is the identity") and "sigma'(v)" in msg
    ok, msg = verdicts.judge(jac, dict(s=f.s), {"ok": _answer(np.diagflat(f.s).T * 3)})
    assert not ok and "gradient" not in msg, msg


def test_memory_verdict_uses_the_measurement_from_outside():
    ckpt = spec.load(SOURCE / "checkpointing").tests["test_checkpointed_gradients_memory"]
    case = ckpt.examples(np.random.default_rng(0))[0]
    right = {"ok": _answer(ckpt.expected(**case))}
    limit = ckpt.peak_memory(**case)
    assert verdicts.judge(ckpt, case, right, extra_memory=limit / 2)[0]
    ok, msg = verdicts.judge(ckpt, case, right, extra_memory=2 * limit)
    assert not ok and "MiB" in msg
    ok, msg = verdicts.judge(ckpt, case, right, extra_memory=None)
    assert not ok and msg.startswith("inconclusive")


# ------------------------------------------------------------------------------- wire, notebook
def test_wire_round_trips_inputs_and_answers(tmp_path):
    value = {
        "W": np.arange(6.0).reshape(2, 3),
        "k": 3,
        "ds": [np.ones(2, np.float32), 1.5],
        "s": "x",
        "z": np.array(2.0),
    }
    back = wire.decode(wire.encode(value))
    assert back["k"] == 3 and back["s"] == "x" and back["ds"][0].dtype == np.float32
    assert np.array_equal(back["W"], value["W"]) and back["z"].shape == ()
    wire.save(value, tmp_path / "case")
    loaded = wire.load(tmp_path / "case")
    assert np.array_equal(loaded["W"], value["W"]) and loaded["ds"][1] == 1.5
    got = wire.read_answer(wire.answer({"a": [[1, 2], [3, 4]], "b": object()}))
    assert got["a"].shape == (2, 2) and isinstance(got["b"], wire.Unreadable)
    assert "object" in got["b"].why


def test_feedback_describes_each_test_in_words():
    import nbformat

    nb = nbformat.read(SOURCE / "conv_backward" / "conv_backward.ipynb", as_version=4)
    words = {notebook.meta(c)["grade_id"]: notebook.description(c) for c in nb.cells if notebook.is_test(c)}
    assert words["test_grad_X_values"] == "dE/dX has the right values: overlapping windows, padding, gaps"
    assert all(len(w) > 10 for w in words.values()), words


# ------------------------------------------------------------------------------- the self-check
def _selfcheck_package(tmp_path: Path, assignment: str):
    """The released package, imported under a name of its own."""
    folder = tmp_path / assignment
    for rel, content in selfcheck.files(SOURCE / assignment).items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(content)
    sys.path.insert(0, str(folder))
    try:
        for name in [m for m in sys.modules if m == "selfcheck" or m.startswith("selfcheck.")]:
            del sys.modules[name]
        return importlib.import_module("selfcheck")
    finally:
        sys.path.remove(str(folder))


def _run_check(module, grade_id: str, **functions) -> tuple[bool, str]:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            module.check(grade_id, {**functions, "np": np})
    except module.SelfCheckFailed as err:
        return False, str(err)
    return True, out.getvalue()


def test_selfcheck_says_right_or_raises_without_holding_the_answers(tmp_path):
    from backprop.differential import grad_W

    module = _selfcheck_package(tmp_path, "differentials")
    ok, said = _run_check(module, "test_grad_W_values", grad_W=grad_W)
    assert ok and "right on" in said
    assert _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: grad_W(W, x, y) * (1 + 1e-12))[0]
    ok, said = _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: grad_W(W, x, y).T)
    assert not ok and "not yet right" in said and "shape" in said
    ok, said = _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: 2 * grad_W(W, x, y))
    assert not ok and "numbers are not" in said
    ok, said = _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: grad_W(W, x, y).ravel())
    assert not ok and "numbers are right but the shape" in said
    assert all(len(line) <= 80 for line in said.splitlines())
    assert issubclass(module.SelfCheckFailed, AssertionError)  # nbgrader scores the cell 0
    text = selfcheck.files(SOURCE / "differentials")["selfcheck/data.json"].decode()
    from backprop.seed import example

    G = grad_W(*example())
    assert f"{G[0, 0]:.5e}" not in text and f"{G[0, 0]:.6g}" not in text


def test_selfcheck_of_a_scalar_and_of_memory(tmp_path):
    from backprop.subscript import grad_W

    module = _selfcheck_package(tmp_path, "subscripts")
    ok, said = _run_check(
        module, "test_dE_dw_scalar", dE_dw=lambda W, x, y, i, j: np.array([[grad_W(W, x, y)[i, j]]])
    )
    assert not ok and "single number" in said and "(1, 1)" in said
    ckpt = _selfcheck_package(tmp_path, "checkpointing")
    solution = _solutions("checkpointing")
    assert _run_check(ckpt, "test_checkpointed_gradients_memory", **solution)[0]
    grading = spec._module(SOURCE / "checkpointing" / "grading.py")
    ok, said = _run_check(
        ckpt,
        "test_checkpointed_gradients_memory",  # every activation kept
        checkpointed_gradients=lambda params, X, Y, k: grading.plain_gradients(params, X, Y),
    )
    assert not ok and "peak memory" in said and "ceil(L/k)" in said


def _solutions(assignment: str) -> dict:
    """The functions the instructor version's answer cells define."""
    import nbformat

    nb = nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)
    scope = {"np": np}
    for cell in nb.cells:
        if notebook.meta(cell).get("solution"):
            exec(cell.source, scope)
    return {k: v for k, v in scope.items() if callable(v) and k != "np"}


# ------------------------------------------------------------------------------- the student package
def test_student_package_blocks_references_with_a_clear_message(tmp_path):
    from grading import sandbox

    pkg = student_package.build(
        sandbox.package_dir(), {"backprop.seed": "*", "backprop.activations": ["sigmoid"]}, tmp_path
    )
    code = (
        "import importlib, sys\n"
        "from backprop.seed import example, forward\n"
        "print(forward(*example()).s.shape)\n"
        "from backprop import MLP, numerical_gradient\n"
        "from backprop.activations import sigmoid, sigmoid_prime\n"
        "for attempt in (lambda: importlib.import_module('backprop.differential'),\n"
        "                lambda: __import__('backprop.checking'), lambda: MLP([2, 1]),\n"
        "                lambda: numerical_gradient(None, None), lambda: sigmoid_prime(0.0)):\n"
        "    try:\n        attempt()\n        print('REACHED')\n"
        "    except ImportError as err:\n        print('blocked:', err)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + code],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(5, 1)" in proc.stdout and "REACHED" not in proc.stdout
    assert proc.stdout.count("reference implementations") == 5, proc.stdout
    assert pkg.name == "backprop"


# ------------------------------------------------------------------------------- students and names
def test_names_in_any_alphabet_get_distinct_stable_keys():
    names = ["张伟", "李娜", "Zoë", "Zoé", "Zoe", "Jürgen Weiß", "ada", "O'Brien"]
    keys = [students.key_for(n) for n in names]
    assert len(set(keys)) == len(keys), keys
    assert all(students.SAFE.match(k) for k in keys), keys
    assert students.key_for("ada") == "ada" and keys[2].startswith("Zoe-") and keys[0].startswith("student-")
    assert students.key_for(unicodedata.normalize("NFD", "Zoë")) == students.key_for("Zoë")  # macOS names


def test_a_duplicate_key_stops_with_a_message():
    roster = students.Roster()
    roster.add(students.make("Zoë", "the folder 'Zoë'"))
    with pytest.raises(students.DuplicateStudent, match="same student"):
        roster.add(students.make(unicodedata.normalize("NFD", "Zoë"), "the folder 'Zoë' (decomposed)"))
    roster.add(students.make("Ada", "the folder 'Ada'"))
    with pytest.raises(students.DuplicateStudent, match="letter case"):
        roster.add(students.make("ada", "the folder 'ada'"))
    one = students.make("smithjane", "the download a.zip", canvas_user_id="1234")
    assert roster.add(one) is roster.add(
        students.make("smithjane", "the download b.zip", canvas_user_id="1234")
    )


@pytest.mark.parametrize(
    "received, expected",
    [
        ("subscripts.ipynb", "subscripts.ipynb"),
        ("subscripts (1).ipynb", "subscripts.ipynb"),
        ("subscripts(2).ipynb", "subscripts.ipynb"),
        ("subscripts-1.ipynb", "subscripts.ipynb"),
        ("subscripts copy.ipynb", "subscripts.ipynb"),
        ("deep_softmax (3).ipynb", "deep_softmax.ipynb"),
    ],
)
def test_browser_and_lms_copies_of_a_name(received, expected):
    assert intake.base_name(received) == expected


def test_lms_entry_names_keep_the_lms_ids():
    s, a, name = intake._parse(["doejohn_LATE_123_456_jacobians.ipynb"], "x.zip")
    assert (s.key, s.name, s.lms_id("canvas_user_id"), a, name) == (
        "doejohn_123",
        "doejohn",
        "123",
        None,
        "jacobians.ipynb",
    )
    s, _, name = intake._parse(["Ann Lee_77_assignsubmission_file_", "x (1).ipynb"], "x.zip")
    assert (s.key, s.name, s.lms_id("moodle_participant_id"), name) == (
        "Ann_Lee_77",
        "Ann Lee",
        "77",
        "x (1).ipynb",
    )
    s, a, _ = intake._parse(["student_1", "subscripts", "subscripts.ipynb"], "x.zip")
    assert (s.key, s.lms, a) == ("student_1", (), "subscripts")  # trailing digits are no LMS id


def test_the_newest_copy_is_graded_with_one_note():
    old = intake.Candidate(b"blank", "jacobians.ipynb", 1000.0)
    new = intake.Candidate(b"right", "jacobians-1.ipynb", 2000.0)
    best, notes = intake.choose([old, new], "jacobians.ipynb")
    assert best is new and len(notes) == 1
    assert "newest" in notes[0] and "'jacobians-1.ipynb'" in notes[0] and "'jacobians.ipynb'" in notes[0]
    best, _ = intake.choose(
        [intake.Candidate(b"a", "x (1).ipynb", 5.0), intake.Candidate(b"b", "x.ipynb", 5.0)], "x.ipynb"
    )
    assert best.data == b"b"  # a tie: the exact name


def test_links_and_special_files_are_never_read(tmp_path):
    secret = tmp_path / "root_only.txt"
    secret.write_text("TOP SECRET")
    secret.chmod(0o600)
    subs = tmp_path / "subs"
    (subs / "eve" / "subscripts").mkdir(parents=True)
    (subs / "eve" / "subscripts" / "subscripts.ipynb").symlink_to(secret)
    os.link(secret, subs / "eve" / "hard.ipynb")
    os.mkfifo(subs / "eve" / "pipe.ipynb")
    (subs / "eve" / "linked_folder").symlink_to(tmp_path)
    (subs / "mallory").symlink_to(tmp_path)
    found = intake.collect(subs, {"subscripts": ["subscripts.ipynb"]})
    key = students.key_for("eve")
    assert found.copies.get(key, {}) == {}
    notes = " ".join(found.notes[key])
    assert "symbolic link" in notes and "hard links" in notes and "not a regular file" in notes
    assert "linked_folder" in notes and "mallory" in " ".join(found.notes["_archives"])
    assert "TOP SECRET" not in repr(found.notes)


def test_a_zip_entry_is_data_whatever_it_claims(tmp_path):
    import nbformat

    nb = nbformat.writes(nbformat.read(SOURCE / "subscripts" / "subscripts.ipynb", as_version=4))
    link = zipfile.ZipInfo("smithjane_1234_5678_subscripts.ipynb")
    link.external_attr = 0o120777 << 16
    path = tmp_path / "canvas.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(link, "/etc/shadow")
        z.writestr("../../evil_9_9_subscripts.ipynb", nb)
    found = intake.collect(path, {"subscripts": ["subscripts.ipynb"]})
    assert "symbolic link" in " ".join(found.notes["smithjane_1234"])
    assert list(found.copies["evil_9"]["subscripts"]) == ["subscripts.ipynb"]
    assert not (tmp_path.parent / "evil_9_9_subscripts.ipynb").exists()


# ------------------------------------------------------------------------------- the gradebook
def test_gradebook_retries_grader_failures_keeps_notes_and_seeds_per_submission(tmp_path):
    from grading import gradebook

    book = gradebook.Gradebook(tmp_path / "gradebook.sqlite")
    secret = book.secret()
    assert book.secret() == secret and (tmp_path / "gradebook.sqlite").stat().st_mode & 0o077 == 0
    first, second = gradebook.sha256(b"first"), gradebook.sha256(b"second")
    assert gradebook.seed(secret, "ada", "a", first) != gradebook.seed(secret, "ada", "a", second)
    assert gradebook.seed(secret, "ada", "a") == gradebook.seed(
        secret, "ada", "a"
    )  # --fresh-inputs per-student
    q = [{"grade_id": "t", "points": 0.0, "max_points": 1.0, "status": "not run", "message": ""}]
    book.record("ada", "a", "a.ipynb", first, 1, {"questions": q, "notes": [], "grader_error": True})
    assert not book.done("ada", "a", "a.ipynb", first, 1)  # a grader failure is graded again
    book.record("ada", "a", "a.ipynb", first, 1, {"questions": q, "notes": []})
    assert book.done("ada", "a", "a.ipynb", first, 1) and not book.done("ada", "a", "a.ipynb", second, 2)
    ada = students.make("ada", "the folder 'ada'")
    book.add_students([ada], {"ada": ["ignored 'notes.pdf': not a notebook (.ipynb)"]})
    book.add_students([ada], {})  # a later run without the file
    assert book.notes() == {"ada": ["ignored 'notes.pdf': not a notebook (.ipynb)"]}
    assert "seed" not in book.rows()[0]


def test_a_zip_bomb_cannot_fill_the_graders_memory(tmp_path):
    path = tmp_path / "canvas.zip"
    zeros = b"\0" * (45 * 2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k in range(7):  # 7 x 45 MB of copies: 315 MB
            z.writestr(f"smithjane_1234_5678_subscripts-{k + 1}.ipynb", zeros)
        z.writestr("smithjane_1234_5678_movie.mp4", zeros)  # not a notebook: never read
    found = intake.collect(path, {"subscripts": ["subscripts.ipynb"]})
    assert found.spent["smithjane_1234"] <= intake.MAX_STUDENT_BYTES
    assert len(found.copies["smithjane_1234"]["subscripts"]["subscripts.ipynb"]) == 5
    notes = found.notes["smithjane_1234"]
    assert sum("MB submitted in all" in n for n in notes) == 2 and any("movie.mp4" in n for n in notes)
