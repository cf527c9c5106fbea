"""Validation of single spec fields: typed look-ups, ranges, names, and values shown in error messages."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

from mxbench.errors import SpecError
from mxbench.spec.constants import MAX_NAME_LENGTH

#: A name (the task's or a modality's): letters, digits, ``_`` or ``-``.
_NAME = re.compile(r"[A-Za-z0-9_\-]+")
#: A player's index: ASCII digits in canonical form (``"0"``, ``"7"``, ``"12"``; not ``"07"``).
_INDEX = re.compile(r"0|[1-9][0-9]*")


def _show(value: Any) -> str:
    """``repr(value)`` for an error message, cut to 100 characters.

    Safe for values ``repr`` cannot print: integers of more than 4300 digits, lists nested too deeply.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return "<a value too large to print>"
    return text if len(text) <= 100 else text[:97] + "..."


def _typed(d: Mapping[str, Any], key: str, types: tuple, path: str, default: Any = ...) -> Any:
    """Return ``d[key]`` checked against ``types`` (bool is never an int here)."""
    if key not in d:
        if default is ...:
            raise SpecError(f"{path}.{key}" if path else key, "is required")
        return default
    value = d[key]
    where = f"{path}.{key}" if path else key
    if isinstance(value, bool) and bool not in types:
        raise SpecError(where, f"expected {_tname(types)}, got {value!r}")
    if not isinstance(value, types):
        raise SpecError(where, f"expected {_tname(types)}, got {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(where, f"must be finite, got {value!r}")
    return value


def _tname(types: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", bool: "a boolean"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _no_extra(d: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(where, f"unknown field (allowed: {', '.join(allowed)})")


def _positive_int(d: Mapping[str, Any], key: str, path: str, default: Any = ..., minimum: int = 1,
                  maximum: int | None = None) -> int:
    value = _typed(d, key, (int,), path, default)  # comparisons only: any Python int is safe here
    where = f"{path}.{key}" if path else key
    if value < minimum:
        raise SpecError(where, f"must be at least {minimum}, got {_show(value)}")
    if maximum is not None and value > maximum:
        raise SpecError(where, f"must be at most {maximum}, got {_show(value)}")
    return value


def _finite(value: int | float, where: str) -> float:
    """``float(value)``, or SpecError when it is not finite or an int too large for a float."""
    try:
        x = float(value)
    except OverflowError:
        raise SpecError(where, f"is too large, got {_show(value)}") from None
    if not math.isfinite(x):
        raise SpecError(where, f"must be finite, got {value!r}")
    return x


def _number(d: Mapping[str, Any], key: str, path: str, default: Any = ..., lo: float | None = None,
            hi: float | None = None, bound: float | None = None) -> float:
    """``d[key]`` as a finite float in ``[lo, hi]`` with ``|value| <= bound``."""
    where = f"{path}.{key}" if path else key
    value = _finite(_typed(d, key, (int, float), path, default), where)
    if lo is not None and value < lo:
        raise SpecError(where, f"must be at least {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise SpecError(where, f"must be at most {hi}, got {value!r}")
    if bound is not None and abs(value) > bound:
        raise SpecError(where, f"must have absolute value at most {bound:g}, got {value!r}")
    return value


def _name(d: Mapping[str, Any], path: str) -> str:
    """``d["name"]``: 1-100 letters, digits, ``_`` or ``-``."""
    name = _typed(d, "name", (str,), path)
    where = f"{path}.name" if path else "name"
    if len(name) > MAX_NAME_LENGTH:
        raise SpecError(where, f"must be at most {MAX_NAME_LENGTH} characters, got {len(name)}: {_show(name)}")
    if not _NAME.fullmatch(name):
        raise SpecError(where, f"must be letters, digits, '_' or '-', got {_show(name)}")
    return name


class _JSONObject(dict):
    """A parsed JSON object that remembers the keys it held more than once (in ``duplicates``)."""

    __slots__ = ("duplicates",)


def _json_object(pairs: list[tuple[str, Any]]) -> _JSONObject:
    """``object_pairs_hook`` for :func:`json.loads`: a dict that records its duplicate keys."""
    obj = _JSONObject()
    dups = []
    for key, value in pairs:
        if key in obj and key not in dups:
            dups.append(key)
        obj[key] = value
    obj.duplicates = dups
    return obj


def _duplicate_key(doc: Any) -> tuple[str, str] | None:
    """The path and name of the first duplicate key in a document parsed with :func:`_json_object`, or None.

    Paths read like spec fields: ``terms``, ``modalities[0].name``. Walks without recursion.
    """
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            dups = getattr(node, "duplicates", ())
            if dups:
                return (f"{path}.{dups[0]}" if path else str(dups[0])), dups[0]
            stack.extend(reversed([(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(v, f"{path}[{i}]") for i, v in enumerate(node)]))
    return None


def loads_unique(text: str | bytes, error: Any, source: str) -> Any:
    """``json.loads(text)``, refusing duplicate keys (JSON would silently keep the last one).

    Parameters
    ----------
    text : str or bytes
        The JSON text.
    error : callable
        ``error(field, message)`` builds the exception to raise (e.g. :class:`~mxbench.errors.SpecError`).
    source : str
        What the text is (a file name), shown in the message.

    Raises
    ------
    json.JSONDecodeError, ValueError, RecursionError
        As :func:`json.loads`; the caller words them.
    error
        A key appears twice in one object.

    Examples
    --------
    >>> try:
    ...     loads_unique('{"a": 1, "b": {"c": 2, "c": 3}}', SpecError, "x.json")
    ... except SpecError as e:
    ...     print(e)
    b.c: duplicate key 'c' in 'x.json' (JSON would keep only the last value; give each key once)
    """
    import json

    doc = json.loads(text, object_pairs_hook=_json_object)
    dup = _duplicate_key(doc)
    if dup is not None:
        raise error(dup[0], f"duplicate key {_show(dup[1])} in {_show(source)} (JSON would keep only the last "
                            "value; give each key once)")
    return doc
