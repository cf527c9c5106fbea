"""Checks of explainer parameters: each returns the value in its plain type or raises ExplainerError.

Every message reads ``"{name}: expected {what}, got {value!r}"``; ``expected`` replaces the
``{what}`` of a check where a parameter needs its own wording. :func:`check_random_state`
turns a ``random_state`` into the generator an explanation draws from.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Sequence

import numpy as np

from mxbench.errors import ExplainerError


def _fail(name: str, what: str, value: Any) -> ExplainerError:
    return ExplainerError(f"{name}: expected {what}, got {value!r}")


def check_int(name: str, value: Any, low: int = 1, *, allow_none: bool = False,
              expected: str | None = None) -> int | None:
    """Return ``value`` as an int, or raise ExplainerError unless it is an integer ``>= low`` (not a bool).

    Parameters
    ----------
    name : str
        The parameter's name (the message starts with it).
    value : Any
        The value given.
    low : int, default 1
        The smallest value allowed.
    allow_none : bool, default False
        Accept None (returned as is); the message then reads ``expected None or an integer >= low``.
    expected : str, optional
        The message's description of a valid value, instead of the default.

    Returns
    -------
    int or None

    Raises
    ------
    ExplainerError
        ``value`` is not a valid integer.

    Examples
    --------
    >>> check_int("n_flips", 3)
    3
    >>> check_int("max_players", None, 2, allow_none=True) is None
    True
    >>> try:
    ...     check_int("n_steps", 0, expected="a positive integer")
    ... except ExplainerError as e:
    ...     print(e)
    n_steps: expected a positive integer, got 0
    """
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise _fail(name, expected or f"{'None or ' if allow_none else ''}an integer >= {low}", value)
    return int(value)


def check_positive(name: str, value: Any, *, allow_zero: bool = False, expected: str | None = None) -> float:
    """Return ``value`` as a float, or raise ExplainerError unless finite and ``> 0`` (``>= 0`` with ``allow_zero``).

    ``expected`` replaces the message's description of a valid value.

    Examples
    --------
    >>> check_positive("kernel_width", 0.25)
    0.25
    >>> try:
    ...     check_positive("ridge_alpha", -1.0, allow_zero=True)
    ... except ExplainerError as e:
    ...     print(e)
    ridge_alpha: expected a finite number >= 0, got -1.0
    """
    if (isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value)
            or value < 0 or (value == 0 and not allow_zero)):
        raise _fail(name, expected or f"a finite number {'>=' if allow_zero else '>'} 0", value)
    return float(value)


def check_unit(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ExplainerError unless it is a number in ``[0, 1]``.

    Examples
    --------
    >>> check_unit("alpha", 1)
    1.0
    >>> try:
    ...     check_unit("alpha", 1.5)
    ... except ExplainerError as e:
    ...     print(e)
    alpha: expected a number in [0, 1], got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise _fail(name, "a number in [0, 1]", value)
    return float(value)


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> bool | None:
    """Return ``value`` as a bool, or raise ExplainerError unless it is a (numpy) bool, or None with ``allow_none``.

    Examples
    --------
    >>> check_bool("paired", True)
    True
    >>> try:
    ...     check_bool("refit", "yes", allow_none=True)
    ... except ExplainerError as e:
    ...     print(e)
    refit: expected True, False or None, got 'yes'
    """
    if allow_none and value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise _fail(name, "True, False or None" if allow_none else "True or False", value)
    return bool(value)


def check_choice(name: str, value: Any, options: Sequence[str], *, expected: str | None = None) -> str:
    """Return ``value``, or raise ExplainerError unless it is one of the strings ``options``.

    Parameters
    ----------
    name : str
        The parameter's name.
    value : Any
        The value given.
    options : sequence of str
        The valid values.
    expected : str, optional
        The message's description of a valid value (default ``"one of a, b, c"``).

    Examples
    --------
    >>> check_choice("variant", "ends", ("ends", "lime"))
    'ends'
    >>> try:
    ...     check_choice("method", "Tree", ("KernelExplainer", "ExactExplainer"))
    ... except ExplainerError as e:
    ...     print(e)
    method: expected one of KernelExplainer, ExactExplainer, got 'Tree'
    """
    if not isinstance(value, str) or value not in options:
        raise _fail(name, expected or f"one of {', '.join(options)}", value)
    return value


#: The largest seed (exclusive) drawn from a generator given as ``random_state``.
_SEED_BOUND = 2**63


def check_random_state(random_state: Any) -> np.random.Generator:
    """The generator an explanation draws from, made from an explainer's ``random_state``.

    - an integer ``>= 0`` (not a bool): ``numpy.random.default_rng(random_state)``, so the same
      integer gives the same draws every time;
    - None: ``numpy.random.default_rng()``, seeded from the operating system (not reproducible);
    - a ``numpy.random.Generator`` or ``numpy.random.RandomState``: one integer in ``[0, 2^63)``
      is drawn from it and seeds a new ``Generator``. The result depends only on the given
      generator's state, so it is reproducible, and the given generator moves on by one draw:
      two explanations with one generator object differ, as scikit-learn estimators do with a
      ``RandomState``, while a copy (``clone``) repeats the original's draws.

    Parameters
    ----------
    random_state : int, None, numpy.random.Generator or numpy.random.RandomState
        The explainer's ``random_state``.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ExplainerError
        ``random_state`` is a negative integer or of another type (the message names the type).

    Examples
    --------
    >>> import numpy as np
    >>> int(check_random_state(3).integers(100)) == int(np.random.default_rng(3).integers(100))
    True
    >>> a, b = np.random.RandomState(7), np.random.RandomState(7)
    >>> int(check_random_state(a).integers(10**6)) == int(check_random_state(b).integers(10**6))   # same state
    True
    >>> try:
    ...     check_random_state(1.5)
    ... except ExplainerError as e:
    ...     print(e)
    random_state: expected None, an integer >= 0, a numpy Generator or a numpy RandomState, got float 1.5
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, (bool, np.bool_)) \
            and random_state >= 0:
        return np.random.default_rng(int(random_state))
    if isinstance(random_state, np.random.Generator):
        return np.random.default_rng(int(random_state.integers(0, _SEED_BOUND, dtype=np.int64)))
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(0, _SEED_BOUND, dtype=np.int64)))
    raise ExplainerError(f"random_state: expected None, an integer >= 0, a numpy Generator or a numpy RandomState, "
                         f"got {type(random_state).__name__} {random_state!r}")


__all__ = ["check_bool", "check_choice", "check_int", "check_positive", "check_random_state", "check_unit"]
