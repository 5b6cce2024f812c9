"""How the chapters print numbers, so that a stored output means the same on every machine.

A notebook is stored with its outputs and re-run by anyone, on any CPU, BLAS kernel and thread
count. The last bits of a floating-point result differ between those (an FMA kernel rounds once
where another rounds twice; two threads add in another order), so a printed ``3.3e-11`` here is
``2.8e-11`` there although both say the same thing: *at roundoff level*. The rule:

* a quantity that is roundoff by nature (a relative error of an exact formula, a difference
  that is zero in exact arithmetic) is printed as the bound it meets, ``below(err, 1e-8)``
  -> ``'< 1e-08'``, with the bound well above what any machine produces; the cell asserts the
  same bound, so the print and the check say one thing;
* a yes/no comparison is printed as ``agree(ok)`` -> ``'ok'`` / ``'mismatch'``;
* a quantity set by the maths (an O(1) error of a wrong formula, an accuracy, a slope) keeps a
  few significant digits, which rounding noise cannot change.

``glue(name, text)`` records a value that the prose of the page quotes. A Markdown cell writes
the value literally, followed by an HTML comment naming it — ``97.8 %<!-- glue:acc -->`` — so
that it reads as plain text in the book, JupyterLab, Colab and any Markdown viewer;
``tools/execute_notebooks.py`` rewrites the literal when the recorded value changes and
``tests/test_prose_numbers.py`` fails when prose and record disagree. The record is an
invisible output in the format of ``myst_nb.glue`` (so the book build knows it), written with
IPython alone: a chapter runs in a plain Jupyter kernel with only the learner's install.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["below", "agree", "glue"]

GLUE_MIME = "application/papermill.record/text/plain"


def below(x: float, bound: float) -> str:
    """``'< 1e-08'`` when ``|x| < bound`` (``bound`` a positive float), else ``|x|`` itself.

    The second case is a failure the cell's assert reports; printing the value then shows by how
    much the bound was missed.
    """
    if not (isinstance(bound, (int, float)) and math.isfinite(bound) and bound > 0):
        raise ValueError(f"bound must be a positive finite number, got {bound!r}")
    x = abs(float(x))
    if x < bound:
        return f"< {bound:.0e}"
    return f"{x:.1e} (not below {bound:.0e})"


def agree(ok: bool) -> str:
    """``'ok'`` or ``'mismatch'`` for the outcome of a comparison (``np.allclose`` and the like)."""
    if not isinstance(ok, (bool, np.bool_)):
        raise TypeError(f"agree() takes the bool of a comparison, got {type(ok).__name__}")
    return "ok" if ok else "mismatch"


def glue(name: str, text: str) -> None:
    """Record ``text`` (already formatted, e.g. ``f"{acc:.1f}"``) under ``name`` for the prose.

    Displays nothing in JupyterLab, Colab or the book; the record is an invisible cell output.
    """
    if not (isinstance(name, str) and name.replace("_", "").isalnum() and name[:1].isalpha()):
        raise ValueError(f"glue name must be a Python-style identifier, got {name!r}")
    if not isinstance(text, str):
        raise TypeError(
            f"glue records the text the prose shows: format {name} first, "
            f"e.g. f'{{value:.1f}}' (got {type(text).__name__})"
        )
    from IPython.display import display  # only where it is used: the package needs no IPython

    display(
        {GLUE_MIME: repr(text)},
        raw=True,
        metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    )
