"""Input checks shared by every module: clear errors instead of silent wrong answers.

numpy happily broadcasts a (5, 1) column against a (5,) vector into a (5, 5)
matrix; every function of this package therefore checks shapes *before* it
does arithmetic, and names the shapes in the error message.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.ma import MaskedArray

__all__ = [
    "as_float_array",
    "as_column",
    "as_strict_column",
    "as_index",
    "as_entry",
    "as_positive_int",
    "as_labels",
    "as_pair",
    "as_activation_input",
    "refuse_masked",
    "check_same_shape",
]


def refuse_masked(a, name: str) -> None:
    """Raise ``TypeError`` for a numpy masked array (np.asarray would silently drop its mask)."""
    if isinstance(a, MaskedArray):
        raise TypeError(
            f"{name} is a masked array; its mask would be ignored. Pass a plain array "
            f"(e.g. {name}.filled(value) or {name}.compressed())"
        )


def as_float_array(a, name: str, ndim: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``a`` as a finite, non-empty float32/float64 array, or raise.

    Raises ``TypeError`` for integer, boolean, complex or object data (cast on
    purpose with ``.astype(float)``) and ``ValueError`` for empty arrays,
    NaN/inf entries or a wrong number of dimensions.
    """
    if type(a) is np.ndarray:  # the common case: no conversion, no mask
        arr = a
    else:
        refuse_masked(a, name)
        arr = np.asarray(a)
    if arr.dtype.char not in "fd":
        if arr.dtype.kind != "f":
            raise TypeError(
                f"{name} must hold real floating-point numbers (float32 or float64), "
                f"got dtype {arr.dtype}; convert it explicitly, e.g. {name}.astype(float)"
            )
        raise TypeError(f"{name} must be float32 or float64, got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if type(ndim) is int else ndim
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not _all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _all_finite(arr: np.ndarray) -> bool:
    """Every entry finite. For small contiguous arrays a sum of squares (one BLAS call, which
    raises no floating-point warnings) decides first: it is finite only when every entry is; when
    it is not (a NaN/inf entry, or huge finite entries whose squares overflow) the exact
    entrywise test decides. Same answer as ``np.isfinite(arr).all()``, about half the cost on
    the seed network's small arrays."""
    if arr.size <= 4096 and arr.flags.c_contiguous and math.isfinite(np.vdot(arr, arr)):
        return True
    return bool(np.isfinite(arr).all())


def as_column(x, name: str, length: int | None = None) -> np.ndarray:
    """Return a vector of shape (n,) or (n, 1) as a column of shape (n, 1).

    ``length`` (if given) is the required n; a row (1, n) or any 2-D array that
    is not a single column raises ``ValueError``.
    """
    arr = as_float_array(x, name, ndim=(1, 2))
    if arr.ndim == 2 and arr.shape[1] != 1:
        raise ValueError(f"{name} must be a column vector of shape (n, 1) or (n,), got shape {arr.shape}")
    col = arr.reshape(-1, 1)
    if length is not None and col.shape[0] != length:
        raise ValueError(f"{name} has {col.shape[0]} entries but {length} are needed (got shape {arr.shape})")
    return col


def as_strict_column(x, name: str, length: int | None = None) -> np.ndarray:
    """Return ``x`` if it is a float column of shape (n, 1) (n = ``length`` if given), else raise.

    Unlike :func:`as_column`, a 1-D (n,) vector is refused too: the Jacobian building blocks are
    stated for columns, and a (n,) or (1, n) input would broadcast into a wrong answer.
    """
    arr = as_float_array(x, name)
    want = f"({length}, 1)" if length is not None else "(n, 1)"
    if arr.ndim != 2 or arr.shape[1] != 1 or (length is not None and arr.shape[0] != length):
        raise ValueError(f"{name} must be a column of shape {want}, got shape {arr.shape}")
    return arr


def _check_integer(i, name: str) -> None:
    """Raise ``TypeError`` unless ``i`` is an integer (a Python or numpy int, not a bool)."""
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"index {name} must be an integer, got {i!r} ({type(i).__name__})")


def as_index(i, name: str, size: int) -> int:
    """Return ``i`` as an int if it is an integer (not bool) with 0 <= i < size; else raise.

    ``TypeError`` for 1.5, "1", True; ``IndexError`` for an integer out of range. Negative indices
    are refused too (a subscript of the maths runs from 0 to size - 1 here).
    """
    _check_integer(i, name)
    if not 0 <= i < size:
        raise IndexError(f"index {name} = {i} is out of range: it must satisfy 0 <= {name} < {size}")
    return int(i)


def as_entry(i, j, shape: tuple, name: str = "W") -> tuple[int, int]:
    """(i, j) as ints for an entry of the matrix ``name`` of ``shape`` (m, n): ``TypeError`` unless both
    are integers (not bools), ``IndexError`` naming the pair and the shape unless 0 <= i < m, 0 <= j < n."""
    _check_integer(i, "i")
    _check_integer(j, "j")
    if not (0 <= i < shape[0] and 0 <= j < shape[1]):
        raise IndexError(f"(i, j) = ({i}, {j}) is outside {name} of shape {tuple(shape)}")
    return int(i), int(j)


def as_positive_int(value, name: str) -> int:
    """``value`` as an int if it is an integer > 0 (a Python or numpy int, not a bool); else ``ValueError``
    naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_labels(labels, k: int, name: str = "labels") -> np.ndarray:
    """Class labels: a non-empty 1-D integer array (B,) with entries in 0..k-1, or raise.

    ``TypeError`` for non-integer dtypes and masked arrays, ``ValueError`` for shapes and values."""
    refuse_masked(labels, name)
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers 0..{k - 1}, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of shape (B,), got shape {arr.shape}")
    if arr.min() < 0 or arr.max() >= k:
        raise ValueError(
            f"{name} must lie in 0..{k - 1} (k = {k} classes), got values from {arr.min()} to {arr.max()}"
        )
    return arr


def as_pair(value, name: str, what: str) -> tuple:
    """``value`` if it is a tuple of two items, else ``ValueError`` saying it must be the pair ``what``."""
    if not (isinstance(value, tuple) and len(value) == 2):
        raise ValueError(f"{name} must be a pair {what}")
    return value


def as_activation_input(v, name: str = "v") -> np.ndarray:
    """v as a floating-point array for an activation: integers and booleans are promoted to
    float64 (like numpy's np.exp); complex, object and masked arrays raise ``TypeError``."""
    if type(v) is np.ndarray and v.dtype.kind == "f":  # the common case, kept cheap
        return v
    refuse_masked(v, name)
    arr = np.asarray(v)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have exactly the same shape (no broadcasting)."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; they must match exactly "
            f"(numpy would broadcast them to {_broadcast_shape(a, b)} and give a wrong answer)"
        )


def _broadcast_shape(a: np.ndarray, b: np.ndarray) -> str:
    try:
        return str(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        return "an error"
