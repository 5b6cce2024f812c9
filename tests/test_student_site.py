"""The student site (tools/student_site.py): every exercise present, no solution text anywhere.

The book is built once for this module into a temporary folder. Each solution's body is taken from
the book sources (markdown cells of the notebooks in _toc.yml, and .md pages); its prose pieces and
code lines that occur nowhere else in the book are searched in every file of the build (HTML with
tags stripped, and everything else as text: search index, doctrees, static files ...).
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>exercise|solution)\}\s*(?P<arg>.*)$")
PROSE = re.compile(r"[A-Za-z0-9 ,.;()]+")


def _load_tool():
    spec = importlib.util.spec_from_file_location("tools_student_site", ROOT / "tools" / "student_site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _book_files() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    names = [toc["root"]] + [ch["file"] for part in toc.get("parts", []) for ch in part.get("chapters", [])]
    files = []
    for name in names:
        for suffix in (".ipynb", ".md"):
            if (ROOT / f"{name}{suffix}").exists():
                files.append(ROOT / f"{name}{suffix}")
    return files


def _texts(path: Path) -> list[tuple[str, str]]:
    """(kind, text) of a page: its markdown (cell by cell for notebooks) and its code cells."""
    if path.suffix == ".md":
        return [("markdown", path.read_text())]
    nb = json.loads(path.read_text())
    out = []
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        out.append((cell["cell_type"], src))
    return out


def _directives(text: str) -> tuple[list[dict], str]:
    """The exercise/solution directives of a markdown text, and the text without solution bodies."""
    found, rest, lines, i = [], [], text.split("\n"), 0
    while i < len(lines):
        m = OPEN.match(lines[i].strip())
        if not m:
            rest.append(lines[i])
            i += 1
            continue
        fence, kind, arg = m["fence"], m["kind"], m["arg"].strip()
        j, body, options, label = i + 1, [], True, None
        while j < len(lines) and lines[j].strip() != fence:
            line = lines[j]
            if options and line.startswith(":"):
                if line.startswith(":label:"):
                    label = line.split(":label:", 1)[1].strip()
            else:
                options = False
                body.append(line)
            j += 1
        found.append({"kind": kind, "arg": arg, "label": label, "body": "\n".join(body)})
        if kind == "exercise":
            rest += lines[i : j + 1]
        i = j + 1
    return found, "\n".join(rest)


def _fragments(body: str, short: bool = False) -> set[str]:
    """Searchable pieces of a directive body: code lines (>= 20 characters), TeX of its maths
    (>= 15 characters; the HTML keeps it verbatim for MathJax) and prose runs (>= 4 words, no
    markup, maths or quotes, which Sphinx may turn into typographic ones). ``short``: half those
    lengths, for a solution too short to have any piece of the normal length."""
    min_code, min_tex, min_prose, min_words = (10, 8, 10, 2) if short else (20, 15, 20, 4)
    frags, prose_lines, in_code = set(), [], None
    for line in body.split("\n"):
        s = line.strip()
        if in_code is None and re.match(r"^(`{3,}|~{3,})", s):
            in_code = re.match(r"^(`{3,}|~{3,})", s).group(1)
            continue
        if in_code is not None:
            if s == in_code:
                in_code = None
            elif len(s) >= min_code:
                frags.add(_norm(s))
            continue
        prose_lines.append(s)
    prose = "\n".join(prose_lines)
    for display, inline in re.findall(r"\$\$(.+?)\$\$|\$([^$]+)\$", prose, flags=re.S):
        tex = _norm(display or inline).strip()
        if len(tex) >= min_tex:
            frags.add(tex)
    prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\{[^}]*\}", "\x00", prose, flags=re.S)
    for piece in PROSE.findall(prose):
        piece = piece.strip(" ,.;(")
        if (
            len(piece) >= min_prose
            and len(piece.split()) >= min_words
            and piece.count("(") == piece.count(")")
            and "\n" not in piece
        ):
            frags.add(_norm(piece))
    return frags


@pytest.fixture(scope="module")
def book():
    """Exercises and solutions of the book, each with its fragments unique to it."""
    directives, public = [], []
    for path in _book_files():
        for kind, text in _texts(path):
            if kind == "markdown":
                found, rest = _directives(text)
                for d in found:
                    d["page"] = path.relative_to(ROOT).as_posix()
                directives += found
                public.append(rest)
            else:
                public.append(text)
    public_text = _norm("\n".join(public))
    for d in directives:
        d["fragments"] = sorted(f for f in _fragments(d["body"]) if f not in public_text) or sorted(
            f for f in _fragments(d["body"], short=True) if f not in public_text
        )
    return directives


@pytest.fixture(scope="module")
def student_build(tmp_path_factory) -> Path:
    tool = _load_tool()
    out = tmp_path_factory.mktemp("student")
    if tool.MATHJAX.is_dir():
        try:
            tool.build(out)
        except RuntimeError as err:
            pytest.fail(str(err))
    else:  # dev.py stages MathJax from the npm registry first
        proc = subprocess.run(
            [sys.executable, str(ROOT / "dev.py"), "student-site", "--out", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


@pytest.fixture(scope="module")
def control_build(tmp_path_factory, student_build) -> Path:
    """The same site with the solutions left in: proves that the search below can see them."""
    tool = _load_tool()
    out = tmp_path_factory.mktemp("control")
    try:
        tool.build(out, hide_solutions=False)
    except RuntimeError as err:
        pytest.fail(str(err))
    return out


def _build_texts(out: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(out.rglob("*")):
        if not path.is_file():
            continue
        raw = path.read_bytes().decode("utf-8", errors="ignore")
        variants = [raw]
        if path.suffix == ".html":
            variants.append(html.unescape(re.sub(r"<[^>]+>", "", raw)))
        if "\\" in raw:
            variants.append(raw.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\"))
        texts[str(path.relative_to(out))] = _norm("\n".join(variants))
    return texts


def test_book_has_exercises_with_solutions(book):
    exercises = [d for d in book if d["kind"] == "exercise"]
    solutions = [d for d in book if d["kind"] == "solution"]
    assert len(exercises) >= 10 and len(solutions) >= 10
    labels = {d["label"] for d in exercises}
    assert all(d["arg"] in labels for d in solutions), "every solution names an exercise label"
    empty = [d["arg"] for d in solutions if not d["fragments"]]
    assert not empty, f"solutions without a searchable piece of their own text: {empty}"


def test_every_solution_is_found_in_a_build_with_solutions(book, control_build):
    texts = _build_texts(control_build / "_build" / "html")
    unseen = [
        f"{d['page']}: solution of {d['arg']}"
        for d in book
        if d["kind"] == "solution" and not any(frag in t for frag in d["fragments"] for t in texts.values())
    ]
    assert not unseen, "the leak search cannot see these solutions even when they are shown:\n" + "\n".join(
        unseen
    )


def test_student_build_contains_no_solution_text(book, student_build):
    texts = _build_texts(student_build)
    assert any(name.endswith("index.html") for name in texts)
    assert not (student_build / "_build" / "html" / "_sources").exists(), "_sources/ ships the page sources"
    assert not (student_build / "_build" / "jupyter_execute").exists()
    leaks = []
    for d in book:
        if d["kind"] != "solution":
            continue
        for frag in d["fragments"]:
            leaks += [
                f"{d['page']} solution of {d['arg']}: {frag!r} in {name}"
                for name, t in texts.items()
                if frag in t
            ]
    assert not leaks, "solution text in the student build:\n" + "\n".join(leaks[:40])


def test_student_build_shows_every_exercise_and_no_solution_box(book, student_build):
    pages = {}
    for d in book:
        page = student_build / "_build" / "html" / Path(d["page"]).with_suffix(".html")
        pages.setdefault(
            page, _norm(html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))) if page.exists() else ""
        )
    missing = []
    for d in book:
        if d["kind"] != "exercise":
            continue
        page = student_build / "_build" / "html" / Path(d["page"]).with_suffix(".html")
        raw = page.read_text()
        if f'id="{d["label"]}"' not in raw:
            missing.append(f"{d['label']}: no exercise box in {page.name}")
        elif d["fragments"] and not any(f in pages[page] for f in d["fragments"]):
            missing.append(f"{d['label']}: its text is missing from {page.name}")
    assert not missing, "\n".join(missing)
    for page in pages:
        assert 'class="solution' not in page.read_text(), f"a solution box is left in {page.name}"


def test_student_build_has_no_instructor_page_and_no_launch_buttons(student_build):
    html_dir = student_build / "_build" / "html"
    assert not (html_dir / "book" / "instructor_guide.html").exists()
    for page in html_dir.rglob("*.html"):
        text = page.read_text()
        assert "instructor_guide" not in text and "instructor/" not in text, (
            f"{page.name} links to instructor material"
        )
        assert "mybinder.org/v2/" not in text and "colab.research.google.com/github/" not in text, (
            f"{page.name} has launch buttons (into this repository, which holds the solutions)"
        )


def test_launch_buttons_point_to_a_configurable_student_repository():
    tool = _load_tool()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    off = tool.student_config(config)
    assert not any(off["launch_buttons"].get(k) for k in ("binderhub_url", "jupyterhub_url", "colab_url"))
    assert off["html"]["use_repository_button"] is False and "repository" not in off
    on = tool.student_config(config, student_repo="https://github.com/example/backprop-student")
    assert on["repository"]["url"] == "https://github.com/example/backprop-student"
    assert on["launch_buttons"] == config["launch_buttons"]
    toc = tool.student_toc(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert "book/instructor_guide" not in files and "book/02_subscripts" in files
