"""An assignment's variants: declared in its grading.py, drawn per student, rendered into its notebook.

An assignment may declare (instructor/AUTHORING.md, "Variants")::

    VARIANTS = {"activation": {"sigmoid": [],                       # the notebook as written
                               "tanh": [(old_text, new_text), ...]},
                "loss": {...}}
    def make_tests(activation, loss): return {grade_id: dict(call=..., ...)}   # TESTS of a variant

A *variant* is one option of every dimension; its name joins the options with ``+``
("tanh+cross_entropy"). The first option of every dimension is the notebook as written (the
*default* variant, the one ``release`` without a roster writes). Each option's replacements are
applied, dimension by dimension in declaration order, to the source of every cell — text,
formulas, docstrings and the solution — so the student reads "s = tanh(v)" and the key computes
it; a replacement whose old text is not found is an error (release checks every variant), so a
notebook edited without its variants cannot drift silently. An assignment without VARIANTS has
one variant, the default, named "".

Drawing: variant index = SHA-256(secret, "variant", student key, assignment) mod the number of
variants, in the order :func:`names` lists them (dimensions in declaration order, options in
declaration order). Nothing is stored per student: the grader recomputes it from the course
secret. The list a class was released with is recorded in the gradebook (see release.py), so a
variant declared later does not move anyone.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import spec

DEFAULT = ""  # the name of the only variant of an assignment without VARIANTS


class VariantError(spec.SpecError):
    """VARIANTS is malformed or does not fit the notebook (the message names the file and variant)."""


@dataclass(frozen=True)
class Variant:
    """One variant of an assignment: its name, its choice per dimension, its text replacements."""

    assignment: str
    name: str
    choice: tuple  # ((dimension, option), ...) in declaration order
    replacements: tuple  # ((old, new), ...) in the order they are applied

    def describe(self) -> str:
        """'activation tanh, loss cross_entropy' (or 'the common version' for the default of none)."""
        return ", ".join(f"{d} {o}" for d, o in self.choice) or "the common version"


def declared(folder: Path) -> dict:
    """The VARIANTS of the assignment in ``folder`` ({} when it declares none), validated."""
    module = spec.module(Path(folder) / "grading.py")
    dims = getattr(module, "VARIANTS", None)
    if dims is None:
        return {}
    where = f"{Path(folder) / 'grading.py'}: VARIANTS"
    if not isinstance(dims, dict) or not dims:
        raise VariantError(f"{where} must be a non-empty dict {{dimension: {{option: [(old, new), ...]}}}}")
    for dim, options in dims.items():
        if not isinstance(options, dict) or not options:
            raise VariantError(f"{where}[{dim!r}] must be a non-empty dict {{option: [(old, new), ...]}}")
        for opt, pairs in options.items():
            if "+" in opt or not all(
                isinstance(p, tuple) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
            ):
                raise VariantError(
                    f"{where}[{dim!r}][{opt!r}] must be a list of (old, new) strings "
                    "(and an option's name has no '+')"
                )
    if not callable(getattr(module, "make_tests", None)):
        raise VariantError(f"{where}: an assignment with variants needs make_tests(**choice) -> TESTS")
    return dims


def all_variants(folder: Path) -> list[Variant]:
    """Every variant of the assignment in ``folder``, the default first."""
    folder = Path(folder)
    dims = declared(folder)
    if not dims:
        return [Variant(folder.name, DEFAULT, (), ())]
    out = []
    for options in itertools.product(*[[(d, o) for o in opts] for d, opts in dims.items()]):
        pairs = tuple(p for d, o in options for p in dims[d][o])
        out.append(Variant(folder.name, "+".join(o for _, o in options), tuple(options), pairs))
    return out


def names(folder: Path) -> list[str]:
    return [v.name for v in all_variants(folder)]


def get(folder: Path, name: str) -> Variant:
    for v in all_variants(folder):
        if v.name == name:
            return v
    raise VariantError(f"{Path(folder).name}: no variant {name!r} (declared: {names(folder)})")


def draw(secret: str, student: str, assignment: str, choices: list[str]) -> str:
    """The variant of ``student`` (a key) in ``assignment`` among ``choices`` (deterministic)."""
    if len(choices) == 1:
        return choices[0]
    digest = hashlib.sha256("\0".join([secret, "variant", student, assignment]).encode()).hexdigest()
    return choices[int(digest, 16) % len(choices)]


def render(nb, variant: Variant, where: str = "notebook"):
    """A copy of the instructor notebook ``nb`` written for ``variant`` (VariantError if a text is missing)."""
    nb = nbformat.from_dict(nb)
    for old, new in variant.replacements:
        hits = [c for c in nb.cells if old in c.source]
        if not hits:
            raise VariantError(
                f"{where}: variant {variant.name!r}: the text {old!r} is not in the notebook "
                "(after the replacements before it)"
            )
        for cell in hits:
            cell.source = cell.source.replace(old, new)
    if variant.name:
        nb.metadata["backprop_variant"] = {"assignment": variant.assignment, "name": variant.name}
    return nb


def checks(folder: Path, name: str = DEFAULT) -> spec.Spec:
    """The grader-side checks of one variant (spec.load for an assignment without variants)."""
    return spec.load(folder, dict(get(folder, name).choice) if name else None)
