"""Code that runs in a student's kernel, released with every assignment as the package ``selfcheck``.

* :mod:`.check` — ``check("test_...")``, the self-check in the notebook's test cells (its data,
  ``data.json``, is generated at release from the assignment's grading.py);
* :mod:`.probe` — what replaces a test cell while the course's grader runs the notebook;
* :mod:`.wire` — the encoding of values between the grader and the kernel (the grader uses it too).

numpy only; nothing here decides a grade (the grader judges the numbers outside the kernel).
"""

from .check import SelfCheckFailed, check

__all__ = ["check", "SelfCheckFailed"]
