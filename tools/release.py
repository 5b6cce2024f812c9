"""Generate the student release of the assignments from the instructor sources.

    python tools/release.py [--source instructor/source] [--out release] [ASSIGNMENT ...]

Each assignment folder also holds ``grading.py``, the grader-side checks (instructor/AUTHORING.md):
it is validated (every test cell has a check and every check a test cell; every test cell ends
with ``check("<its grade_id>")``, which raises when the answer is wrong, so nbgrader's own
autograde scores it; the setup cell imports only what its STUDENT_PACKAGE allows), it is never
released, and the students' self-check, the package ``selfcheck/`` (tools/grading/kernel/ and the
data drawn from grading.py with a fixed public seed), is generated from it into the source folder
(not committed; rewritten only when stale; nbgrader's generate_assignment and autograde copy it
from there) and released with the notebook. The same sources give the same bytes on every
machine.

The sources are an nbgrader course source folder: SOURCE/<assignment>/<notebook>.ipynb with
nbgrader cell metadata (solution cells with ``### BEGIN SOLUTION`` / ``### END SOLUTION``,
autograder test cells with points; ``### BEGIN HIDDEN TESTS`` regions are supported but these
sources have none: the course's grader tests on fresh inputs instead).
The release is OUT/<assignment>/<notebook>.ipynb (plus any other file of the assignment folder),
made by nbgrader's own preprocessors in the order ``nbgrader generate_assignment`` runs them
(LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums, ClearHiddenTests,
ClearMarkScheme, ComputeChecksums, CheckCellMetadata), less the steps that need its gradebook
database (SaveCells) or a course configuration (IncludeHeaderFooter, InstantiateTests).

Every source notebook is validated first and nothing is written if one fails: a BEGIN marker
without its END (or the reverse, or nested), a marker in a cell of the wrong kind, a missing or
duplicate grade_id, or a graded cell without points gives an error naming the notebook and the
cell. Of the sources only ``selfcheck/`` is written. Each assignment's output folder is rebuilt from
scratch, so a second run gives byte-identical files.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "instructor" / "source"
OUT = ROOT / "release"

#: (begin, end, the nbgrader flag a cell holding the region must have)
REGIONS = (
    ("BEGIN SOLUTION", "END SOLUTION", "solution"),
    ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "grade"),
    ("BEGIN MARK SCHEME", "END MARK SCHEME", "grade"),
)
GRADE_ID = re.compile(r"^[a-zA-Z0-9_\-]+$")
NEVER_RELEASED = {"grading.py", "__pycache__"}


class ReleaseError(Exception):
    """The sources cannot be released; the message lists every problem found."""


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def notebooks(source: Path, assignments: list[str] | None = None) -> dict[str, list[Path]]:
    """{assignment: [notebook paths]} for the assignment folders of ``source`` (sorted)."""
    if not source.is_dir():
        raise ReleaseError(f"source folder {source} does not exist")
    names = assignments or sorted(
        p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    found = {}
    for name in names:
        folder = source / name
        if not folder.is_dir():
            raise ReleaseError(f"assignment {name!r} not found: no folder {folder}")
        found[name] = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return found


def _cell_name(index: int, cell) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {index + 1}" + (f" (grade_id {gid!r})" if gid else "")


def validate(path: Path) -> list[str]:
    """Problems of one source notebook, each naming the notebook and the cell (counted from 1)."""
    where = _rel(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook
        return [f"{where}: cannot be read as a notebook ({type(err).__name__}: {err})"]
    problems, seen = [], {}
    for index, cell in enumerate(nb.cells):
        name = _cell_name(index, cell)
        meta = cell.metadata.get("nbgrader")
        flags = {k: bool(meta.get(k, False)) for k in ("grade", "solution", "locked")} if meta else {}
        for begin, end, flag in REGIONS:
            inside = False
            for line in cell.source.split("\n"):
                if begin in line:
                    if inside:
                        problems.append(f"{where}: {name}: nested {begin!r} (a second one before {end!r})")
                    inside = True
                elif end in line:
                    if not inside:
                        problems.append(f"{where}: {name}: {end!r} without a preceding {begin!r}")
                    inside = False
            if inside:
                problems.append(f"{where}: {name}: {begin!r} without a matching {end!r}")
            if begin in cell.source and not flags.get(flag):
                problems.append(
                    f"{where}: {name}: contains {begin!r} but is not marked {flag}: true "
                    "in its nbgrader metadata"
                )
        if not meta:
            continue
        if meta.get("schema_version") != 3:
            problems.append(
                f"{where}: {name}: nbgrader schema_version is {meta.get('schema_version')!r}, expected 3"
            )
        if not any(flags.values()):
            continue
        gid = meta.get("grade_id")
        if not isinstance(gid, str) or not GRADE_ID.match(gid):
            problems.append(
                f"{where}: {name}: grade_id {gid!r} is missing or not made of letters, digits, _ and -"
            )
        elif gid in seen:
            problems.append(f"{where}: {name}: duplicate grade_id {gid!r} (also cell {seen[gid] + 1})")
        else:
            seen[gid] = index
        if flags["grade"]:
            points = meta.get("points")
            if isinstance(points, bool) or not isinstance(points, (int, float)) or not points >= 0:
                problems.append(
                    f"{where}: {name}: graded cell without points (points = {points!r}); "
                    "give it a number of points >= 0"
                )
    if not problems:  # nbgrader's own schema check, for anything the checks above do not name
        from nbgrader.nbgraderformat import MetadataValidator, ValidationError

        try:
            MetadataValidator().validate_nb(nb)
        except ValidationError as err:
            problems.append(f"{where}: nbgrader metadata invalid: {err}")
    return problems


def validate_checks(folder: Path, paths: list[Path]) -> list[str]:
    """Problems of an assignment's grading.py against its notebooks (see instructor/AUTHORING.md)."""
    from grading import spec

    where = _rel(folder / "grading.py")
    try:
        checks = spec.load(folder)
    except spec.SpecError as err:
        return [str(err)]
    problems, tests = [], set()
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:
            continue
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                tests.add(meta.get("grade_id"))
                if not cell.source.rstrip().endswith(f'check("{meta.get("grade_id")}")'):
                    problems.append(
                        f"{_rel(path)}: {_cell_name(index, cell)}: a test cell must end with "
                        f'check("{meta.get("grade_id")}") (it raises when the answer is wrong, '
                        "so that nbgrader's autograde scores the cell)"
                    )
            if meta.get("locked") and not meta.get("grade") and cell.cell_type == "code":
                problems += [
                    f"{_rel(path)}: {_cell_name(index, cell)}: {p}"
                    for p in _setup_imports(cell.source, checks.student_package)
                ]
    for gid in sorted(tests - set(checks.tests)):
        problems.append(f"{where}: the test cell {gid!r} has no entry in TESTS")
    for gid in sorted(set(checks.tests) - tests):
        problems.append(f"{where}: TESTS[{gid!r}] has no test cell (grade: true) in the notebook")
    return problems


def _setup_imports(source: str, allowed: dict) -> list[str]:
    """Imports of backprop in a read-only code cell that the assignment's STUDENT_PACKAGE forbids."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        return [f"not valid Python ({err})"]
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods = [(node.module, [a.name for a in node.names])]
        else:
            continue
        for mod, names in mods:
            if mod.split(".")[0] != "backprop":
                continue
            if mod == "backprop":
                for n in names or []:
                    if f"backprop.{n}" not in allowed:
                        bad.append(f"imports backprop.{n}, which STUDENT_PACKAGE does not allow")
                continue
            if mod not in allowed:
                bad.append(f"imports {mod}, which STUDENT_PACKAGE does not allow (a reference is no setup)")
            elif allowed[mod] != "*":
                for n in names or []:
                    if n not in allowed[mod]:
                        bad.append(f"imports {n} from {mod}, which STUDENT_PACKAGE does not allow")
    return bad


def student_version(nb, name: str = "notebook"):
    """The student version of an instructor notebook (a copy), by nbgrader's preprocessors."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    nb = nbformat.from_dict(nb)  # a deep copy: the caller's notebook is never changed
    resources = {"unique_key": name, "metadata": {"name": name}}
    for step in (
        LockCells,
        ClearSolutions,
        ClearOutput,
        CheckCellMetadata,
        ComputeChecksums,
        ClearHiddenTests,
        ClearMarkScheme,
        ComputeChecksums,
        CheckCellMetadata,
    ):
        nb, resources = step().preprocess(nb, resources)
    return nb


def check_sources(source: Path, found: dict[str, list[Path]]) -> None:
    """ReleaseError listing every problem of the notebooks and their grading.py files."""
    problems = [p for paths in found.values() for path in paths for p in validate(path)]
    if not problems:
        problems = [p for name, paths in found.items() for p in validate_checks(source / name, paths)]
    if problems:
        raise ReleaseError(
            "the instructor sources have problems; nothing was written:\n  " + "\n  ".join(problems)
        )


def release(source: Path = SOURCE, out: Path = OUT, assignments: list[str] | None = None) -> list[Path]:
    """Validate every notebook, then write the release; returns the files written."""
    source, out = Path(source).resolve(), Path(out).resolve()
    if out == source or source in out.parents or out in source.parents:
        raise ReleaseError(
            f"the output folder {out} must be outside the source folder {source} and not contain it"
        )
    found = notebooks(source, assignments)
    check_sources(source, found)
    from grading import selfcheck

    for name in found:
        selfcheck.write(source / name)  # the students' check, from grading.py (only when stale)
    written = []
    for name, paths in found.items():
        folder, target = source / name, out / name
        tmp = out / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for path in paths:
            nb = student_version(nbformat.read(path, as_version=4), path.stem)
            dest = tmp / path.relative_to(folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, dest)
        for other in sorted(folder.rglob("*")):  # data files etc. travel with the assignment
            rel = other.relative_to(folder)
            if (
                other.is_file()
                and other.suffix != ".ipynb"
                and not any(p.startswith(".") for p in rel.parts)
                and not NEVER_RELEASED & set(rel.parts)
            ):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(other, tmp / rel)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        written += sorted(p for p in target.rglob("*") if p.is_file())
    return written


# ------------------------------------------------------------------------ one version per student
def read_roster(path: Path) -> tuple[list[str], list[dict]]:
    """(columns, rows) of a roster CSV with a ``student`` column; each row gets ``key`` and ``folder``."""
    import csv

    from grading.students import key_for

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows, columns = list(reader), list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ReleaseError(f"the roster {path} cannot be read ({type(err).__name__}: {err})") from err
    if "student" not in columns:
        raise ReleaseError(f"the roster {path} has no 'student' column (its columns: {columns})")
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("student") or "").strip()
        if not name:
            raise ReleaseError(f"{path}: line {line}: the student is empty")
        lms = (row.get("canvas_user_id") or row.get("moodle_participant_id") or "").strip()
        row["key"] = key_for(name, lms)
        plain = name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name
        row["folder"] = name if plain and not lms else row["key"]
        if row["key"].casefold() in seen:
            raise ReleaseError(
                f"{path}: lines {seen[row['key'].casefold()]} and {line} are the same student "
                f"(key {row['key']!r}); nothing was written"
            )
        seen[row["key"].casefold()] = line
    return columns, rows


def class_variants(source: Path, names: list[str], gradebook: Path, secret: str | None) -> tuple[str, dict]:
    """(course secret, {assignment: [variant names]}) — recorded in the gradebook the grader uses."""
    from grading import gradebook as gb
    from grading import variants

    book = gb.Gradebook(gradebook)
    try:
        key = book.secret(secret)
        lists = {}
        for name in names:
            declared = variants.names(source / name)
            lists[name] = book.variant_list(name) or declared
            missing = sorted(set(lists[name]) - set(declared))
            if missing:
                raise ReleaseError(
                    f"{name} was released to this class with the variants {lists[name]}, and "
                    f"{missing} are no longer declared in its grading.py; declare them again"
                )
            book.set_variant_list(name, lists[name])
        return key, lists
    finally:
        book.close()


def _variant_notebooks(source: Path, found: dict, lists: dict) -> tuple[dict, dict]:
    """({(assignment, variant): [(path, rendered instructor notebook)]}, {(assignment, variant):
    self-check files}), every variant checked (and its self-check made) before anything is written."""
    from grading import selfcheck, variants

    rendered, check_files, problems = {}, {}, []
    for name, paths in found.items():
        for vname in lists[name]:
            v = variants.get(source / name, vname)
            try:
                variants.checks(source / name, vname)
                rendered[name, vname] = [
                    (p, variants.render(nbformat.read(p, as_version=4), v, _rel(p))) for p in paths
                ]
                check_files[name, vname] = selfcheck.files(source / name, vname)
            except variants.spec.SpecError as err:
                problems.append(str(err))
    if problems:
        raise ReleaseError(
            "the variants do not fit their notebooks; nothing was written:\n  " + "\n  ".join(problems)
        )
    return rendered, check_files


def release_roster(
    roster: Path,
    source: Path = SOURCE,
    out: Path = OUT,
    assignments: list[str] | None = None,
    solutions: bool = False,
    gradebook: Path | None = None,
    secret: str | None = None,
) -> list[Path]:
    """OUT/<student>/<assignment>/<notebook>.ipynb (+ self-check) for every roster student, each
    written for the student's variant (with its solutions: the key); OUT/roster.csv lists them."""
    source, out = Path(source).resolve(), Path(out).resolve()
    if out == source or source in out.parents or out in source.parents:
        raise ReleaseError(
            f"the output folder {out} must be outside the source folder {source} and not contain it"
        )
    columns, rows = read_roster(Path(roster))
    found = notebooks(source, assignments)
    check_sources(source, found)
    key, lists = class_variants(
        source, list(found), Path(gradebook or ROOT / "autograded" / "gradebook.sqlite"), secret
    )
    rendered, check_files = _variant_notebooks(source, found, lists)
    from grading import variants

    written = []
    for row in rows:
        row_out = {}
        for name in found:
            vname = variants.draw(key, row["key"], name, lists[name])
            row_out[name] = vname
            target = out / row["folder"] / name  # the student's notebook and the self-check of their variant
            written += _write_version(
                source / name, target, rendered[name, vname], check_files[name, vname], solutions
            )
        row.update(row_out)
    _write_roster(out / "roster.csv", columns + ["key", "folder"] + list(found), rows)
    return written + [out / "roster.csv"]


def _write_version(folder: Path, target: Path, nbs: list, check_files: dict, solutions: bool) -> list[Path]:
    tmp = target.parent / f".{target.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for path, nb in nbs:
        dest = tmp / path.relative_to(folder)
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb if solutions else student_version(nb, path.stem), dest)
    for other in sorted(folder.rglob("*")):
        rel = other.relative_to(folder)
        if (
            other.is_file()
            and other.suffix != ".ipynb"
            and not any(p.startswith(".") for p in rel.parts)
            and not NEVER_RELEASED & set(rel.parts)
            and rel.parts[0] != "selfcheck"
        ):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(other, tmp / rel)
    for rel, content in check_files.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(content)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return sorted(p for p in target.rglob("*") if p.is_file())


def _write_roster(path: Path, columns: list[str], rows: list[dict]) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(columns)), extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("assignments", nargs="*", help="assignment folders to release (default: all)")
    ap.add_argument(
        "--source", type=Path, default=SOURCE, help="nbgrader source folder (default: instructor/source)"
    )
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default: release/)")
    ap.add_argument(
        "--roster",
        type=Path,
        help="CSV with a 'student' column: one version per student, "
        "OUT/<student>/<assignment>/ (each student's variant, drawn from the course secret)",
    )
    ap.add_argument(
        "--solutions",
        action="store_true",
        help="with --roster: each student's version with its solutions (the key a TA uses)",
    )
    ap.add_argument(
        "--gradebook",
        type=Path,
        default=ROOT / "autograded" / "gradebook.sqlite",
        help="with --roster: the grader's gradebook, which keeps the course secret and the variants "
        "released (default: autograded/gradebook.sqlite, autograde's default)",
    )
    ap.add_argument(
        "--secret", help="with --roster: the course secret (default: the gradebook's; created once)"
    )
    args = ap.parse_args(argv)
    if args.solutions and not args.roster:
        ap.error("--solutions goes with --roster (the instructor notebooks are the common version's key)")
    try:
        if args.roster:
            written = release_roster(
                args.roster,
                args.source,
                args.out,
                args.assignments or None,
                args.solutions,
                args.gradebook,
                args.secret,
            )
        else:
            written = release(args.source, args.out, args.assignments or None)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    if args.roster:
        print(f"wrote {len(written)} files into {_rel(args.out)} (see {_rel(args.out / 'roster.csv')})")
        return 0
    for path in written:
        print(f"wrote {_rel(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
