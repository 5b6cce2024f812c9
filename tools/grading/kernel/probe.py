"""The probe: what runs in place of a test cell while a notebook is graded.

``send_answers(grade_id, call, scope)`` reads the grader's fresh inputs for the test (written by
the grader next to this package, one folder per input: ``_grading_cases/<grade_id>/<k>/``), evaluates ``call`` (e.g.
``grad_W(W, x, y)``) in the notebook's namespace on each of them and displays the return values
(MIME type ``MIME``) for the grader to judge outside the kernel. Nothing here decides a grade: a
forged or patched probe can only send numbers, and numbers are judged by the grader.
"""

from __future__ import annotations

from pathlib import Path

from .wire import answer, load

MIME = "application/vnd.backprop.grading+json"
CASES = Path(__file__).resolve().parent.parent / "_grading_cases"


def _one(call: str, scope: dict, case: dict) -> dict:
    env = dict(scope)
    env.update(case)
    try:
        return {"ok": answer(eval(call, env))}
    except BaseException as err:  # KeyboardInterrupt = the cell's time limit
        try:
            message = str(err)[:300]
        except BaseException:
            message = "?"
        return {"raised": type(err).__name__, "message": message}


def send_answers(grade_id: str, call: str, scope: dict, case: int | None = None) -> None:
    """Answer every input of ``grade_id`` (or only input number ``case``) and display the answers."""
    from IPython.display import display

    count = len(list((CASES / grade_id).iterdir()))
    results = []
    for k in range(count) if case is None else [case]:
        # the inputs of one case live only while it runs (a memory test measures one case)
        one = _one(call, scope, load(CASES / grade_id / str(k)))
        results.append(one)
        if one.get("raised") == "KeyboardInterrupt":
            break
    display(
        {
            MIME: {"grade_id": grade_id, "case": case, "results": results},
            "text/plain": f"{grade_id}: answers sent to the grader",
        },
        raw=True,
    )
