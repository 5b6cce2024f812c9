"""Values between the grader and a student's kernel: the one encoding both sides use.

numpy only: this module runs in the grader, in the sandboxed kernel (the probe) and in the
students' own notebooks (the self-check), where nothing of the grader exists.

* ``encode``/``decode``: exact, for the inputs the grader sends (arrays as their bytes with their
  dtype; dicts with string keys, lists, tuples, numbers, strings, None), JSON-able.
* ``save``/``load``: the same, as a folder (``tree.json`` and one ``.npy`` file per array), for the
  grader's inputs on disk: a large array is read straight into memory, with no copy on the way;
* ``answer``/``read_answer``: what a student's function returned, as the grader judges it:
  numbers become float64 arrays (a nested list of numbers is an array), dicts keep their string
  keys (three levels at most), anything else is reported as unreadable with its type — never
  converted by calling the student's objects' methods beyond ``numpy.asarray``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import numpy as np

#: the most numbers one answer may hold (an array of more is reported, not sent)
MAX_ENTRIES = 10**7
MAX_DEPTH = 3


class WireError(ValueError):
    """A value that cannot travel (the message says which and why)."""


def _array(a: np.ndarray) -> dict:
    a = np.array(a, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    return {"nd": a.dtype.str, "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


def _from_array(data: dict) -> np.ndarray:
    dtype = np.dtype(data["nd"])
    if dtype.hasobject:
        raise WireError("object arrays cannot travel")
    raw = base64.b64decode(data["b64"], validate=True)
    shape = tuple(int(s) for s in data["shape"])
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def encode(value: Any) -> dict:
    """JSON-able form of an input value (exact: arrays as their bytes)."""
    if isinstance(value, np.ndarray):
        return _array(value)
    if isinstance(value, dict):
        return {"dict": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"list": [encode(v) for v in value]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"py": value}
    raise WireError(f"a value of type {type(value).__name__} cannot be sent to the kernel")


def decode(data: dict) -> Any:
    """The value ``encode`` encoded."""
    if "nd" in data:
        return _from_array(data)
    if "dict" in data:
        return {k: decode(v) for k, v in data["dict"].items()}
    if "list" in data:
        return [decode(v) for v in data["list"]]
    return data["py"]


def save(value: Any, folder) -> None:
    """Write ``value`` into the (new) folder: tree.json, arrays as a0.npy, a1.npy, ..."""
    import json
    from pathlib import Path

    folder, arrays = Path(folder), []

    def tree(v):
        if isinstance(v, np.ndarray):
            arrays.append(v)
            return {"npy": f"a{len(arrays) - 1}.npy"}
        if isinstance(v, dict):
            return {"dict": {str(k): tree(x) for k, x in v.items()}}
        if isinstance(v, (list, tuple)):
            return {"list": [tree(x) for x in v]}
        return encode(v)

    folder.mkdir(parents=True)
    text = json.dumps(tree(value))
    for k, a in enumerate(arrays):
        np.save(folder / f"a{k}.npy", a, allow_pickle=False)
    (folder / "tree.json").write_text(text)


def load(folder) -> Any:
    """The value ``save`` wrote."""
    import json
    from pathlib import Path

    folder = Path(folder)

    def value(t):
        if "npy" in t:
            return np.load(folder / Path(t["npy"]).name, allow_pickle=False)
        if "dict" in t:
            return {k: value(v) for k, v in t["dict"].items()}
        if "list" in t:
            return [value(v) for v in t["list"]]
        return decode(t)

    return value(json.loads((folder / "tree.json").read_text()))


def answer(value: Any, depth: int = 0) -> dict:
    """What the probe sends for a student's return value (kernel side)."""
    if isinstance(value, dict) and depth < MAX_DEPTH:
        return {"dict": {str(k): answer(v, depth + 1) for k, v in value.items()}}
    try:
        a = np.asarray(value, dtype=np.float64)
    except Exception as err:  # a student's object: its type and the error, never its content
        return {"bad": f"{type(value).__name__} ({type(err).__name__})"}
    if a.size > MAX_ENTRIES:
        return {"bad": f"an array of {a.size} numbers is too large"}
    return _array(a.astype("<f8"))


@dataclass
class Unreadable:
    """An answer that is not numbers (``why`` says what it was)."""

    why: str


def read_answer(data: Any) -> Any:
    """A probe's answer as the grader judges it: float64 arrays, dicts of them, or Unreadable."""
    if not isinstance(data, dict):
        return Unreadable("a malformed answer")
    if "nd" in data:
        try:
            a = _from_array(data)
        except Exception as err:
            return Unreadable(f"a malformed array ({type(err).__name__})")
        return a.astype(np.float64) if a.dtype.kind in "biuf" else Unreadable("an array that is not numbers")
    if isinstance(data.get("dict"), dict):
        return {str(k): read_answer(v) for k, v in data["dict"].items()}
    if "bad" in data:
        return Unreadable(str(data["bad"])[:200])
    return Unreadable("a malformed answer")
