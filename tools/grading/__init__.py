"""The grader behind ``python3 dev.py autograde`` (see book/instructor_guide.md).

Modules: :mod:`.sandbox` (bubblewrap kernels, the student copy of the package),
:mod:`.spec` (an assignment's grading.py: fresh cases, expected values, verdicts),
:mod:`.notebook` (restoring cells, probes), :mod:`.worker` (grade one notebook),
:mod:`.gradebook` (SQLite results), :mod:`.intake` (submission folders and LMS zips),
:mod:`.reports` (CSV, HTML feedback, LMS grade file), :mod:`.selfcheck` (the students' check).
"""
