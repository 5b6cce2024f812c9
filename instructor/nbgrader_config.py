"""nbgrader configuration: this folder (instructor/) is an nbgrader course root, usable unchanged.

    cd instructor
    nbgrader generate_assignment subscripts --force   # student version -> release/subscripts/
    nbgrader collect / nbgrader autograde subscripts  # grades submitted/<student>/subscripts/

The points come from `python3 dev.py autograde SUBMISSIONS` (tools/autograde.py, see
book/instructor_guide.md): nbgrader's preprocessors in a sandbox, with each test decided outside
the student's kernel from source/<assignment>/grading.py. The test cells themselves only run the
students' self-check, so `nbgrader autograde` alone would give every student the points.
`python3 dev.py release` (tools/release.py) writes the same release as generate_assignment.
"""
c = get_config()  # noqa: F821  (nbgrader provides get_config when it loads this file)

c.CourseDirectory.course_id = "backprop-three-ways"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# The stubs and markers the sources use (nbgrader's defaults, stated so they cannot drift).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# Executing (also used by tools/autograde.py's defaults): every cell gets 30 s; a cell that runs
# longer is interrupted (an endless loop then costs that question, not the whole notebook).
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True

# grading.py (the grader-side checks, see AUTHORING.md) is never copied into a release.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "grading.py"]
