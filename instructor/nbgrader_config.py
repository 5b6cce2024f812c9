"""nbgrader configuration: this folder (instructor/) is an nbgrader course root, usable unchanged.

    python3 dev.py release                            # writes source/*/selfcheck/ (not committed)
    cd instructor
    nbgrader generate_assignment subscripts --force   # student version -> release/subscripts/
    nbgrader collect / nbgrader autograde subscripts  # grades submitted/<student>/subscripts/

The test cells run the students' self-check (source/<assignment>/selfcheck/, restored from the
sources by autograde), which raises when an answer is wrong: nbgrader's autograde grades an honest
class right (tests/test_grader_nbgrader.py). Grades that hold against a clever student come from
`python3 dev.py autograde SUBMISSIONS` (tools/autograde.py, see book/instructor_guide.md): fresh
inputs, a sandbox, each test decided outside the student's kernel from grading.py.
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
