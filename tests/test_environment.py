"""environment.yml (Binder/conda) is the learner's install: pyproject.toml's `notebooks` extra (with
the `chapters` ranges it pulls in, which its pins tighten), the same names and versions."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> tuple[str, str]:
    """('name', 'specifier') with conda's single '=' written as pip's '=='."""
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    name, spec = m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")
    if re.match(r"^=[^=]", spec):
        spec = "=" + spec
    return name, spec


def pyproject_requirements() -> set:
    """The notebooks extra; a name it pins replaces that name's range from the chapters extra."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    reqs = dict(_norm(r) for r in extras["chapters"])
    reqs.update(_norm(r) for r in extras["notebooks"] if not r.startswith("backprop-three-ways"))
    return set(reqs.items())


def environment_requirements() -> set:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            reqs += [r for r in dep["pip"] if not r.startswith("-e")]
        elif not dep.startswith(("python", "pip")):
            reqs.append(dep)
    return {_norm(r) for r in reqs}


def test_environment_yml_matches_pyproject():
    assert environment_requirements() == pyproject_requirements()


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_reqs = [r for dep in env["dependencies"] if isinstance(dep, dict) for r in dep["pip"]]
    assert "-e ." in pip_reqs
    assert "conda-forge" in env["channels"]
