"""The student copy of ``backprop``: only what an assignment's STUDENT_PACKAGE allows.

Built from the installed package into a folder that the sandbox mounts read-only over the real
package folder, so inside the kernel ``import backprop.differential`` (or importlib, or
``__import__``, or reading the file) finds a stub that raises an ImportError saying that it is
the course's reference implementation. Allowed modules are copied; when only some of their
public names are allowed, the copy deletes the others after it has run (their functions keep
working where an allowed function needs them only if the author allows them too; private
helpers defined in the module count, e.g. ``_softmax_vjp``; what the module imported from outside
backprop or from its private helper modules stays). Private helper modules (``_checks.py``) are
copied.
An allowed subpackage is copied whole; a list of names trims only its ``__init__``.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

STUB = '''"""Not available while grading."""
raise ImportError({message!r})
'''

MESSAGE = (
    "{module} is one of the course's reference implementations: it is not available to "
    "answers while grading. Compute the result with your own code (numpy is available)."
)

UNAVAILABLE = '''"""Stand-ins for what the student copy leaves out: using one raises an ImportError that says why."""


class Unavailable:
    def __init__(self, name, message):
        self._name, self._message = name, message

    def _fail(self, *args, **kwargs):
        raise ImportError(self._message)

    __call__ = _fail

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._fail()

    def __repr__(self):
        return f"<{self._name}: not available while grading>"
'''

TRIM = """

# --- added by the grader: only these public names are available while grading ---
import types as _grader_types
from backprop._unavailable import Unavailable as _GraderUnavailable
_grader_keep = {keep!r}
for _grader_name in [n for n in list(globals()) if not n.startswith(("__", "_grader", "_Grader"))]:
    _grader_from = getattr(globals()[_grader_name], "__module__", None) or ""
    # kept: modules, and functions/classes from outside backprop or from its private helper
    # modules (input checks such as backprop._checks.as_float_array, copied whole anyway)
    if _grader_name not in _grader_keep and not isinstance(globals()[_grader_name], _grader_types.ModuleType) \
            and not (_grader_from and (_grader_from.startswith("backprop._") or not _grader_from.startswith("backprop"))):
        globals()[_grader_name] = _GraderUnavailable(
            "backprop.{module}." + _grader_name,
            "backprop.{module}." + _grader_name + " is one of the course's reference implementations: it is "
            "not available to answers while grading (this module offers only {keep_text})")
del _grader_types, _grader_keep, _grader_name, _grader_from
"""

INIT = '''"""backprop — the student copy used while grading (only {allowed})."""
from ._unavailable import Unavailable as _Unavailable

__version__ = {version!r}
_MESSAGE = ("backprop.{{name}} is one of the course's reference implementations: it is not available to "
            "answers while grading. Compute the result with your own code (numpy is available).")
for _name in {public!r}:
    globals()[_name] = _Unavailable("backprop." + _name, _MESSAGE.format(name=_name))
del _name


def __getattr__(name):
    raise AttributeError({missing!r}.format(name=name))
'''


def build(package: Path, allowed: dict[str, object], dest: Path) -> Path:
    """Write the student copy of ``package`` (the real package folder) into ``dest``/backprop.

    ``allowed``: {"backprop.seed": "*", "backprop.activations": ["sigmoid", ...]}.
    Returns the copy's package folder. The same inputs give the same files.
    """
    out = dest / "backprop"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    top = {}
    for name, names in allowed.items():
        parts = name.split(".")
        if parts[0] != "backprop" or len(parts) != 2:
            raise ValueError(
                f"STUDENT_PACKAGE key {name!r} must be a module or subpackage of backprop, e.g. "
                "'backprop.seed' (a subpackage is allowed whole or by the names of its __init__)"
            )
        top[parts[1]] = names
    version = _version(package)
    for src in sorted(package.glob("*.py")):
        mod = src.stem
        if mod == "__init__":
            continue
        text = src.read_text()
        if mod.startswith("_"):
            (out / src.name).write_text(text)
        elif mod in top:
            names = top[mod]
            if names != "*":
                text += TRIM.format(keep=sorted(names), module=mod, keep_text=", ".join(sorted(names)))
            (out / src.name).write_text(text)
        else:
            (out / src.name).write_text(STUB.format(message=MESSAGE.format(module=f"backprop.{mod}")))
    for sub in sorted(p for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        if sub.name in top:  # an allowed subpackage is copied whole ...
            shutil.copytree(sub, out / sub.name, ignore=shutil.ignore_patterns("__pycache__"))
            if top[sub.name] != "*":  # ... and its __init__ keeps only the allowed names
                init = out / sub.name / "__init__.py"
                init.write_text(
                    init.read_text()
                    + TRIM.format(
                        keep=sorted(top[sub.name]),
                        module=sub.name,
                        keep_text=", ".join(sorted(top[sub.name])),
                    )
                )
            continue
        (out / sub.name).mkdir()
        (out / sub.name / "__init__.py").write_text(
            STUB.format(message=MESSAGE.format(module=f"backprop.{sub.name}"))
        )
    missing = (
        "backprop.{name} is not available while grading: the student copy of the package has only "
        + ", ".join(sorted(allowed))
        + " (import from those modules)"
    )
    import backprop

    public = sorted(n for n in getattr(backprop, "__all__", []) if f"backprop.{n}" not in allowed)
    (out / "_unavailable.py").write_text(UNAVAILABLE)
    (out / "__init__.py").write_text(
        INIT.format(
            allowed=", ".join(sorted(allowed)) or "nothing", version=version, missing=missing, public=public
        )
    )
    return out


def _version(package: Path) -> str:
    for line in (package / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    return "0"


def key(allowed: dict[str, object]) -> str:
    """A short name for a STUDENT_PACKAGE setting (one copy per distinct setting)."""
    return hashlib.sha256(
        repr(sorted((k, v if v == "*" else sorted(v)) for k, v in allowed.items())).encode()
    ).hexdigest()[:12]
