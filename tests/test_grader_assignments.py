"""The grader-side pieces without a sandbox: every assignment's grading.py, the verdicts,
the self-check students get, the student copy of the package, and submission names.

(The sandboxed runs are in test_grader_adversarial.py.)
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if (p / "grading.py").exists())


def _grading():
    if "grading" not in sys.modules:
        folder = ROOT / "tools" / "grading"
        spec = importlib.util.spec_from_file_location("grading", folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules["grading"] = module
        spec.loader.exec_module(module)
    return sys.modules["grading"]


_grading()
from grading import intake, selfcheck, spec, student_package  # noqa: E402


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_check_has_fresh_cases_unlike_the_visible_example(assignment):
    checks = spec.load(SOURCE / assignment)
    for gid, test in checks.tests.items():
        a, b = spec.cases(test, seed=1), spec.cases(test, seed=2)
        assert len(a) >= 2, gid
        enc = lambda cs: [spec.encode(c) for c in cs]
        assert enc(a) != enc(b), f"{gid}: the cases do not depend on the seed"
        assert enc(a) == enc(spec.cases(test, seed=1)), f"{gid}: the cases are not reproducible from the seed"
        if test.compare is None:
            for case in a:                 # the reference's answer passes its own check
                want = test.expected(**case)
                ok, msg = spec.judge(test, case, {"ok": _answer(want)})
                assert ok, (gid, msg)


def _answer(value):
    """What the probe sends for ``value`` (float64 arrays, dicts of them)."""
    if isinstance(value, dict):
        return {"dict": {k: _answer(v) for k, v in value.items()}}
    return spec.encode(np.asarray(value, dtype="<f8"))


def test_expected_values_written_out_agree_with_central_differences():
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


def test_verdicts_charge_a_shape_mistake_once_and_name_the_rest():
    test = spec.Test("t", "f(W)", cases=lambda rng: [{}], expected=lambda: np.arange(1.0, 7.0).reshape(2, 3))
    right_numbers = {"ok": spec.encode(np.arange(1.0, 7.0))}                  # (6,) instead of (2, 3)
    assert spec.judge(test, {}, right_numbers)[0]                              # values: right numbers
    shape = spec.Test("s", "f(W)", cases=test.cases, expected=test.expected, kind="shape")
    ok, msg = spec.judge(shape, {}, right_numbers)
    assert not ok and "(2, 3)" in msg and "(6,)" in msg
    ok, msg = spec.judge(test, {}, {"ok": spec.encode(-np.arange(1.0, 7.0).reshape(2, 3))})
    assert not ok and "wrong sign" in msg
    ok, msg = spec.judge(test, {}, {"raised": "NotImplementedError", "message": ""})
    assert not ok and msg.startswith("not answered")
    ok, msg = spec.judge(test, {}, {"ok": {"bad": "str (ValueError: could not convert)"}})
    assert not ok and "could not be read as numbers" in msg
    scalar = spec.Test("c", "f()", cases=test.cases, expected=lambda: 0.25, kind="scalar")
    assert spec.judge(scalar, {}, {"ok": spec.encode(np.asarray(0.25 * (1 + 1e-12)))})[0]
    assert not spec.judge(scalar, {}, {"ok": spec.encode(np.array([0.25]))})[0]
    keys = spec.Test("d", "f()", cases=test.cases, expected=lambda: {"W1": np.ones((2, 2)), "b1": np.ones((2, 1))})
    ok, msg = spec.judge(keys, {}, {"ok": {"dict": {"W1": spec.encode(np.ones((2, 2)))}}})
    assert not ok and "'b1' is missing" in msg


def _selfcheck(assignment: str):
    module = types.ModuleType(f"selfcheck_{assignment}")
    exec(compile(selfcheck.text(SOURCE / assignment), "selfcheck.py", "exec"), module.__dict__)
    return module


def _run_check(module, grade_id: str, **functions) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(f"check({grade_id!r})", {**functions, "check": module.check, "np": np})
    return out.getvalue()


def test_selfcheck_says_right_or_wrong_without_holding_the_answers():
    from backprop.differential import grad_W
    module = _selfcheck("differentials")
    assert "right on" in _run_check(module, "test_grad_W_values", grad_W=grad_W)
    noisy = lambda W, x, y: grad_W(W, x, y) * (1 + 1e-12)
    assert "right on" in _run_check(module, "test_grad_W_values", grad_W=noisy)
    said = _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: grad_W(W, x, y).T)
    assert "not yet right" in said and "shape" in said
    said = _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: 2 * grad_W(W, x, y))
    assert "not yet right" in said and "numbers are not" in said
    said = _run_check(module, "test_grad_W_values", grad_W=lambda W, x, y: grad_W(W, x, y).ravel())
    assert "numbers are right but the shape" in said
    assert all(len(line) <= 80 for line in said.splitlines())
    text = selfcheck.text(SOURCE / "differentials")
    from backprop.seed import example
    G = grad_W(*example())
    assert f"{G[0, 0]:.5e}" not in text and f"{G[0, 0]:.6g}" not in text


def test_student_package_blocks_references_with_a_clear_message(tmp_path):
    from grading import sandbox
    pkg = student_package.build(sandbox.package_dir(), {"backprop.seed": "*", "backprop.activations": ["sigmoid"]},
                                tmp_path)
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
        "    except ImportError as err:\n        print('blocked:', err)\n")
    proc = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n" + code],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "(5, 1)" in proc.stdout and "REACHED" not in proc.stdout
    assert proc.stdout.count("reference implementations") == 5, proc.stdout
    assert pkg.name == "backprop"


@pytest.mark.parametrize("received, expected", [
    ("subscripts.ipynb", "subscripts.ipynb"), ("subscripts (1).ipynb", "subscripts.ipynb"),
    ("subscripts(2).ipynb", "subscripts.ipynb"), ("subscripts-1.ipynb", "subscripts.ipynb"),
    ("subscripts copy.ipynb", "subscripts.ipynb"), ("deep_softmax (3).ipynb", "deep_softmax.ipynb"),
])
def test_browser_and_lms_copies_of_a_name(received, expected):
    assert intake.base_name(received) == expected


def test_lms_entry_names():
    assert intake._parse(["doejohn_LATE_123_456_jacobians.ipynb"]) == ("doejohn_123", None, "jacobians.ipynb")
    assert intake._parse(["Ann Lee_77_assignsubmission_file_", "x (1).ipynb"]) == ("Ann_Lee_77", None, "x (1).ipynb")
    assert intake._parse(["bob", "subscripts", "subscripts.ipynb"]) == ("bob", "subscripts", "subscripts.ipynb")
