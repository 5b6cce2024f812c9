"""Instructor assignments: the sources and their release (tools/release.py).

Grading is tested in test_grader_adversarial.py (one run of the real grader over a made-up class)
and test_grader_assignments.py (the grader-side checks of every assignment).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
# every assignment folder of the source (an assignment is a folder with its notebook and grading.py)
ASSIGNMENTS = sorted(
    p.name for p in (ROOT / "instructor" / "source").iterdir() if (p / f"{p.name}.ipynb").exists()
)


def _load(name: str):
    """Import tools/<name>.py as a module (tools/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the documented importlib recipe (dataclasses need it)
    spec.loader.exec_module(module)
    return module


def _load_grading():
    """tools/grading as the package ``grading`` (what tools/*.py import when run as scripts)."""
    if "grading" not in sys.modules:
        folder = ROOT / "tools" / "grading"
        spec = importlib.util.spec_from_file_location(
            "grading", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["grading"] = module
        spec.loader.exec_module(module)
    return sys.modules["grading"]


_load_grading()
release_mod = _load("release")


def _source(assignment: str) -> Path:
    return SOURCE / assignment / f"{assignment}.ipynb"


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _tree_digest(folder: Path, skip: str | None = None) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not (skip and skip in p.parts)
    }


SELFCHECK = (
    "selfcheck/__init__.py",
    "selfcheck/check.py",
    "selfcheck/probe.py",
    "selfcheck/wire.py",
    "selfcheck/data.json",
)


def _hidden_lines(nb) -> tuple[set[str], str]:
    """Lines inside solution / hidden-test regions, and the text of everything outside them."""
    secret, public = set(), []
    for cell in nb.cells:
        inside = False
        for line in cell.source.split("\n"):
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            elif inside:
                if line.strip():
                    secret.add(line.strip())
            else:
                public.append(line)
    return secret, "\n".join(public)


@pytest.fixture(scope="module")
def source_digest() -> dict[str, str]:
    """The instructor folder as committed (the generated self-check packages left out)."""
    return _tree_digest(ROOT / "instructor", skip="selfcheck")


@pytest.fixture(scope="module")
def released(tmp_path_factory, source_digest) -> Path:
    out = tmp_path_factory.mktemp("release") / "release"
    release_mod.release(SOURCE, out)
    return out


# ------------------------------------------------------------------------------------------ sources
def test_sources_are_an_nbgrader_course_folder():
    assert (ROOT / "instructor" / "nbgrader_config.py").is_file()
    for a in ASSIGNMENTS:
        nb = nbformat.read(_source(a), as_version=4)
        kinds = {"solution": 0, "tests": 0, "hidden": 0}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if not meta:
                continue
            assert set(meta) <= {
                "grade",
                "solution",
                "locked",
                "grade_id",
                "points",
                "schema_version",
                "task",
            }
            assert meta["schema_version"] == 3 and isinstance(meta["grade_id"], str)
            if meta["solution"]:
                kinds["solution"] += 1
                assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
            if meta["grade"]:
                kinds["tests"] += 1
                assert meta["locked"] and meta["points"] > 0
                assert "HIDDEN TESTS" not in cell.source  # the grader decides, see AUTHORING.md
                assert cell.source.rstrip().endswith(f'check("{meta["grade_id"]}")')
        assert kinds["solution"] >= 2 and kinds["tests"] >= 4, (a, kinds)
        assert release_mod.validate(_source(a)) == []
        assert release_mod.validate_checks(SOURCE / a, [_source(a)]) == []


# ------------------------------------------------------------------------------------------ release
def test_release_is_leak_free(released):
    for a in ASSIGNMENTS:
        src = nbformat.read(_source(a), as_version=4)
        secret, public = _hidden_lines(src)
        secret = {line for line in secret if line not in public}
        assert len(secret) >= 3, f"{a}: too few solution lines to make the check meaningful"
        out = nbformat.read(released / a / f"{a}.ipynb", as_version=4)
        text = "\n".join(c.source for c in out.cells)
        leaked = sorted(line for line in secret if line in text)
        assert not leaked, f"{a}: the release contains solution or hidden-test lines: {leaked}"
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text
        assert "raise NotImplementedError()" in text
        assert all(not c.get("outputs") for c in out.cells if c.cell_type == "code")
        # every graded and solution cell survives with its nbgrader metadata, locked as nbgrader locks them
        src_ids = [c.metadata["nbgrader"]["grade_id"] for c in src.cells if c.metadata.get("nbgrader")]
        out_ids = [c.metadata["nbgrader"]["grade_id"] for c in out.cells if c.metadata.get("nbgrader")]
        assert src_ids == out_ids
        for c in out.cells:
            meta = c.metadata.get("nbgrader", {})
            if meta.get("grade"):
                assert (
                    c.metadata["editable"] is False
                    and c.metadata["deletable"] is False
                    and "checksum" in meta
                )


def test_release_is_idempotent_and_leaves_sources_untouched(released, source_digest, tmp_path):
    first = _tree_digest(released)
    assert sorted(first) == sorted(f"{a}/{n}" for a in ASSIGNMENTS for n in (f"{a}.ipynb", *SELFCHECK))
    (released / "subscripts" / "stale.txt").write_text("left over from an older release")
    release_mod.release(SOURCE, released)  # the same folder again
    assert _tree_digest(released) == first
    other = tmp_path / "again"
    release_mod.release(SOURCE, other)  # and a fresh folder
    assert _tree_digest(other) == first
    assert _tree_digest(ROOT / "instructor", skip="selfcheck") == source_digest
    tracked = subprocess.run(
        ["git", "ls-files", "instructor"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert "selfcheck" not in tracked, "the self-check is generated at release, not committed"


def test_release_writes_the_same_bytes_on_another_cpu(released, tmp_path):
    """On another CPU the last bits of exp and of matrix products differ (OpenBLAS's Prescott kernel,
    numpy without AVX/AVX2/FMA stand in for one): the self-check's inputs and fingerprints must not."""
    env = {
        **os.environ,
        "OPENBLAS_CORETYPE": "Prescott",
        "OPENBLAS_NUM_THREADS": "1",
        "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512_SKX AVX512_ICL AVX512_SPR X86_V4 X86_V3 AVX2 FMA3 F16C AVX",
    }
    out = tmp_path / "elsewhere"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "release.py"), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _tree_digest(out) == _tree_digest(released)


def test_release_equals_nbgrader_generate_assignment(released, tmp_path):
    """The real `nbgrader generate_assignment`, run in a copy of instructor/ with its own config,
    writes byte-for-byte the notebook tools/release.py writes (so the folder works unchanged)."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "instructor", course, ignore=shutil.ignore_patterns("release", "gradebook.db"))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [str(bin_dir / "nbgrader"), "generate_assignment", "subscripts", "--force"],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ours = (released / "subscripts" / "subscripts.ipynb").read_bytes()
    assert (course / "release" / "subscripts" / "subscripts.ipynb").read_bytes() == ours


def _broken_source(tmp_path: Path, change) -> Path:
    src = tmp_path / "source"
    shutil.copytree(SOURCE, src)
    path = src / "subscripts" / "subscripts.ipynb"
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)
    return src


def _drop_end_solution(nb):
    cell = _cell(nb, "grad_W")
    cell.source = "\n".join(line for line in cell.source.split("\n") if "END SOLUTION" not in line)


def _duplicate_id(nb):
    _cell(nb, "test_grad_W_shape").metadata["nbgrader"]["grade_id"] = "test_dE_dw_scalar"


def _no_points(nb):
    del _cell(nb, "test_grad_W_values").metadata["nbgrader"]["points"]


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            _drop_end_solution,
            ["cell 8 (grade_id 'grad_W')", "'BEGIN SOLUTION' without a matching 'END SOLUTION'"],
        ),
        (_duplicate_id, ["cell 9 (grade_id 'test_dE_dw_scalar')", "duplicate grade_id 'test_dE_dw_scalar'"]),
        (_no_points, ["cell 10 (grade_id 'test_grad_W_values')", "graded cell without points"]),
    ],
    ids=["begin-without-end", "duplicate-grade-id", "no-points"],
)
def test_malformed_sources_fail_naming_notebook_and_cell(tmp_path, change, expected):
    src = _broken_source(tmp_path, change)
    out = tmp_path / "out"
    with pytest.raises(release_mod.ReleaseError) as info:
        release_mod.release(src, out)
    message = str(info.value)
    assert "subscripts/subscripts.ipynb" in message
    for part in expected:
        assert part in message
    assert not out.exists() or not any(out.iterdir()), "nothing may be written when validation fails"


def test_release_command_line_reports_problems(tmp_path):
    src = _broken_source(tmp_path, _no_points)
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "release.py"),
            "--source",
            str(src),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "graded cell without points" in proc.stderr and "test_grad_W_values" in proc.stderr


def test_release_refuses_output_inside_sources(tmp_path):
    with pytest.raises(release_mod.ReleaseError, match="outside the source folder"):
        release_mod.release(SOURCE, SOURCE / "subscripts" / "out")


# ------------------------------------------------------------------------------------------ grader checks
def test_grading_files_are_never_released_and_the_selfcheck_is_generated(released):
    from grading import selfcheck

    kernel = ROOT / "tools" / "grading" / "kernel"
    for a in ASSIGNMENTS:
        assert not (released / a / "grading.py").exists()
        for rel, content in selfcheck.files(SOURCE / a).items():
            assert (released / a / rel).read_bytes() == content == (SOURCE / a / rel).read_bytes(), (a, rel)
        for module in kernel.glob("*.py"):  # the kernel's code is released as it is
            assert (released / a / "selfcheck" / module.name).read_bytes() == module.read_bytes()
            text = module.read_text()
            assert (
                "import backprop" not in text
                and "from backprop" not in text
                and "numerical_gradient" not in text
            )


def test_released_notebooks_link_to_no_instructor_material(released):
    for path in released.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "instructor/" not in text and "instructor_guide" not in text, path
            assert "github.com" not in text, f"{path} links to the repository (which holds the solutions)"


def test_nbgrader_config_ignores_grading_files():
    assert '"grading.py"' in (ROOT / "instructor" / "nbgrader_config.py").read_text()


def _unchecked_test(nb):
    _cell(nb, "test_grad_W_values").metadata["nbgrader"]["grade_id"] = "new_test"


def _reference_in_setup(nb):
    _cell(nb, "setup").source += "\nfrom backprop.subscript import grad_W as reference"


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            _unchecked_test,
            [
                "the test cell 'new_test' has no entry in TESTS",
                "TESTS['test_grad_W_values'] has no test cell",
            ],
        ),
        (
            _reference_in_setup,
            ["(grade_id 'setup')", "imports backprop.subscript, which STUDENT_PACKAGE does not allow"],
        ),
    ],
    ids=["test-without-check", "reference-in-setup"],
)
def test_release_refuses_sources_the_grader_cannot_trust(tmp_path, change, expected):
    src = _broken_source(tmp_path, change)
    with pytest.raises(release_mod.ReleaseError) as info:
        release_mod.release(src, tmp_path / "out")
    for part in expected:
        assert part in str(info.value)
