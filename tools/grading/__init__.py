"""The grader behind ``python3 dev.py autograde`` (see book/instructor_guide.md).

Modules, in the order a notebook meets them: :mod:`.intake` (submission folders and LMS zips,
read without following links) and :mod:`.students` (keys for names in any alphabet);
:mod:`.gradebook` (SQLite results, seeds, the course secret); :mod:`.spec` (an assignment's
grading.py: fresh cases); :mod:`.worker` (grade one notebook: a self-contained Task; :mod:`.cluster`
runs it as a task of a Dask scheduler), with
:mod:`.notebook` (restoring cells, probes, the kept copy), :mod:`.sandbox` (bubblewrap kernels,
the capped socket folder, the memory cgroup), :mod:`.student_package` (the package without its
references) and :mod:`.execute` (nbgrader's Execute with every stream capped); :mod:`.verdicts`
(the comparisons and their words); :mod:`.reports` (CSV, HTML feedback, LMS grade files);
:mod:`.selfcheck` (the students' self-check data, generated at release).

:mod:`.kernel` is the code that runs in the student's kernel — ``wire`` (the one encoding of
values between grader and kernel), ``check`` (the self-check) and ``probe`` — released with every
assignment as the package ``selfcheck``.
"""
