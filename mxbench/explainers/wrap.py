"""Your explainer as an mxbench explainer: a plain function or any object with ``explain(game)``, and import paths.

:func:`as_explainer` (and the class behind it, :class:`FunctionExplainer`) turns

- a function ``f(game) -> attributions`` (or ``-> (attributions, pairs)``, a dict, an
  :class:`~mxbench.explainers.base.Explanation`, shap's ``Explanation`` or shapiq's
  ``InteractionValues``), or
- a duck-typed object whose ``explain(game)`` returns one of those,

into an :class:`~mxbench.explainers.base.Explainer`: it sees the game through the
:class:`~mxbench.explainers.base.BudgetedGame` (memoised, counted, capped at the budget), so
:func:`~mxbench.testing.check_explainer`, the validators and the runner's grid take it like any
other. A function that takes a ``budget`` keyword gets the explainer's budget (and the explainer
then has a ``budget`` parameter the grid sets); one that takes ``rng`` gets the explanation's
numpy ``Generator``, one that takes ``random_state`` an integer seed drawn from it (and the
explainer then has a ``random_state`` parameter). Other keyword arguments of the function are
fixed with ``kwargs``.

The runner's worker processes build explainers from *import paths*, ``package.module:Name``
(:func:`import_path`, :func:`path_of`): a class, function or object defined at module level in
an importable module. One defined in ``__main__`` (a script, a notebook) or inside a function has
no such path, and :func:`path_of` says so.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any, Mapping

import numpy as np

from mxbench.errors import ExplainerError
from mxbench.explainers.base import BudgetedGame, Explainer, Explanation

__all__ = ["FunctionExplainer", "as_explainer", "import_path", "path_of", "split_explainers", "parse_inline",
           "OPTIONS"]

#: The parameters of :class:`FunctionExplainer` besides ``fn``; :func:`as_explainer` passes any
#: other keyword to the function (``kwargs``).
OPTIONS = ("kwargs", "budget", "random_state", "name", "index", "efficient", "claims")


def _has_explain(obj: Any) -> bool:
    return callable(getattr(obj, "explain", None)) and not isinstance(obj, type)


def _target(fn: Any) -> Any:
    """What is called: ``fn.explain`` for an object with one, else ``fn``."""
    return fn.explain if _has_explain(fn) else fn


def _signature(fn: Any) -> tuple[set[str], bool]:
    """The keyword names ``fn`` (or its ``explain``) accepts, and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(_target(fn)).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return set(), True
    names = {p for p, v in params.items() if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)}
    return names, any(v.kind == v.VAR_KEYWORD for v in params.values())


def _label(fn: Any) -> str:
    if _has_explain(fn):
        own = getattr(fn, "name", None)
        return own if isinstance(own, str) and own else type(fn).__name__
    return str(getattr(fn, "__name__", type(fn).__name__))


class FunctionExplainer(Explainer):
    """An explainer made of a plain function of the game, or of an object with ``explain(game)``.

    The function (or ``explain``) is called as ``fn(game, **kwargs)`` with the
    :class:`~mxbench.explainers.base.BudgetedGame` (call it on a boolean coalition matrix
    ``(B, n)`` for ``B`` values; ``game.n_players``, ``game.modality_of``,
    ``game.modality_names``), plus ``budget=`` when it takes a ``budget`` keyword, ``rng=`` (a
    numpy ``Generator``) when it takes ``rng``, else ``random_state=`` (an integer seed) when it
    takes ``random_state``. It returns one of

    - an array of one attribution per player;
    - a tuple ``(attributions, pairs)``, pairs a dict ``{(i, j): value}`` or a symmetric
      ``(n, n)`` matrix (NaN: pair not given; the diagonal is ignored);
    - a dict with ``attributions`` and optionally ``interactions``, ``modality`` and ``extras``;
    - an :class:`~mxbench.explainers.base.Explanation` (its ``index`` is kept when ``index`` is
      None, and its ``modality``), shap's ``Explanation`` of one row or shapiq's ``InteractionValues``.

    ``modality`` is the function's own when it gives one value per modality, else the sums of the
    attributions per modality.

    ``n_queries`` counts the distinct coalitions the function evaluated, and ``v(∅)``, ``v(N)``
    are recorded when it evaluated them, as for every explainer.

    Parameters
    ----------
    fn : callable or object with ``explain``
        The function, or the object whose ``explain(game)`` is called. Defined at module level in
        an importable module, it can run in the runner's worker processes.
    kwargs : dict, optional
        Further keyword arguments of ``fn``.
    budget : int, optional
        The most distinct coalitions ``fn`` may evaluate, also passed as ``budget=``. A parameter
        (listed by :meth:`get_params`, set by the grid) only when ``fn`` takes ``budget``.
    random_state : int, None, numpy Generator or RandomState
        Seeds the ``rng`` (or the ``random_state`` seed) ``fn`` gets. A parameter only when ``fn``
        takes ``rng`` or ``random_state``.
    name : str, optional
        The explainer's name in results (default: the function's ``__name__``, or the object's
        ``name`` attribute, else its class name).
    index : str, optional
        The index the values estimate (``"SV"``, ``"SII"``, ... see
        :attr:`~mxbench.explainers.base.Explainer.target_index`).
    efficient : bool
        Whether the attributions sum to ``v(N) - v(∅)`` (lets ``check_explainer`` check efficiency).
    claims : list of str or dict, optional
        What else ``check_explainer`` checks by default (as an explainer's ``claims`` attribute).

    Examples
    --------
    >>> import numpy as np
    >>> def marginal(game):                       # v({i}) - v(∅) for every player
    ...     n = game.n_players
    ...     values = game(np.vstack([np.zeros((1, n), bool), np.eye(n, dtype=bool)]))
    ...     return values[1:] - values[0]
    >>> e = FunctionExplainer(marginal).explain(lambda c: 2.0 * c[:, 0] + c[:, 0] * c[:, 1], n_players=2)
    >>> e.attributions.tolist(), e.n_queries, e.explainer, e.v_empty
    ([2.0, 0.0], 3, 'marginal', 0.0)
    >>> sorted(FunctionExplainer(marginal).get_params())    # no budget or random_state: marginal takes neither
    ['claims', 'efficient', 'fn', 'index', 'kwargs', 'name']
    """

    def __init__(self, fn: Any, kwargs: Mapping[str, Any] | None = None, budget: int | None = None,
                 random_state: Any = 0, name: str | None = None, index: str | None = None, efficient: bool = False,
                 claims: Any = None) -> None:
        self.fn = fn
        self.kwargs = kwargs
        self.budget = budget
        self.random_state = random_state
        self.name = name
        self.index = index
        self.efficient = efficient
        self.claims = claims

    @property
    def name(self) -> str:  # type: ignore[override]
        """The name in results: ``name`` when given, else the function's (or object's) own."""
        return self._name if self._name is not None else _label(self.fn)

    @name.setter
    def name(self, value: str | None) -> None:
        self._name = value

    @property
    def target_index(self) -> str | None:  # type: ignore[override]
        """``index``."""
        return self.index

    def _takes(self) -> tuple[bool, str | None]:
        """Whether ``fn`` takes ``budget``, and which of ``rng`` / ``random_state`` it takes (None: neither)."""
        names, _ = _signature(self.fn)
        seed = "rng" if "rng" in names else "random_state" if "random_state" in names else None
        return "budget" in names, seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The parameters: ``fn``, ``kwargs``, ``budget`` and ``random_state`` when ``fn`` takes them, and the options.

        Examples
        --------
        >>> def f(game, budget=None, rng=None):
        ...     return np.zeros(game.n_players)
        >>> sorted(FunctionExplainer(f, budget=8).get_params())
        ['budget', 'claims', 'efficient', 'fn', 'index', 'kwargs', 'name', 'random_state']
        """
        budget, seed = self._takes()
        out: dict[str, Any] = {"fn": self.fn, "kwargs": self.kwargs}
        if budget:
            out["budget"] = self.budget
        if seed is not None:
            out["random_state"] = self.random_state
        out.update(name=self._name, index=self.index, efficient=self.efficient, claims=self.claims)
        return out

    def min_budget(self, n_players: int, modality_of: np.ndarray | None = None) -> int:
        """``fn.min_budget(n_players)`` when ``fn`` has one, else 1."""
        own = getattr(self.fn, "min_budget", None)
        return int(own(n_players)) if callable(own) else 1

    def _check_params(self, game: Any) -> None:
        if not callable(self.fn) and not _has_explain(self.fn):
            raise ExplainerError(f"fn: expected a function of the game or an object with explain(game), got "
                                 f"{type(self.fn).__name__}")
        budget, seed = self._takes()
        if self.budget is not None and not budget:
            raise ExplainerError(f"budget: {self.name} takes no budget keyword (give it one, "
                                 f"def {self.name}(game, budget=None): ..., to run it at a budget)")
        if self.kwargs is not None and not isinstance(self.kwargs, Mapping):
            raise ExplainerError(f"kwargs: expected a dict of keyword arguments of {self.name}, got {self.kwargs!r}")
        names, var = _signature(self.fn)
        for key in self.kwargs or {}:
            if key in ("game", "budget", "rng", "random_state"):
                raise ExplainerError(f"kwargs: {key!r} is passed by the explainer itself; set it as a parameter")
            if key not in names and not var:
                raise ExplainerError(f"kwargs: {self.name} takes no keyword {key!r}"
                                     + (f" (it takes {', '.join(sorted(names - {'game'}))})" if names - {"game"}
                                        else ""))

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        budget, seed = self._takes()
        kw = dict(self.kwargs or {})
        if budget:
            kw["budget"] = game.budget
        if seed == "rng":
            kw["rng"] = rng
        elif seed == "random_state":
            kw["random_state"] = int(rng.integers(2**31 - 1))
        out = _target(self.fn)(game, **kw)
        return self._coerce(out, game)

    def _coerce(self, out: Any, game: BudgetedGame) -> dict[str, Any]:
        """The function's return value as ``_explain``'s dict, checked (one finite value per player, good pairs)."""
        index, extras, modality = None, {}, None
        root = type(out).__module__.split(".")[0]
        if root in ("shap", "shapiq") and not isinstance(out, (np.ndarray, tuple, list, Mapping)):
            out = (Explanation.from_shap(out) if root == "shap" and hasattr(out, "base_values")
                   else Explanation.from_shapiq(out))
        if isinstance(out, Explanation):
            attributions, pairs, index, extras = out.attributions, out.interactions, out.index, dict(out.extras)
            modality = out.modality
        elif isinstance(out, Mapping):
            if "attributions" not in out:
                raise ExplainerError(f"{self.name}: returned a dict without 'attributions' (keys {sorted(out)})")
            attributions, pairs, extras = out["attributions"], out.get("interactions"), dict(out.get("extras") or {})
            modality = out.get("modality")
        elif isinstance(out, tuple) and len(out) == 2 and np.ndim(out[0]) == 1:
            attributions, pairs = out
        else:
            attributions, pairs = out, None
        try:
            e = Explanation.from_values(attributions, pairs, modality_of=game.modality_of,
                                        modality_names=game.modality_names)
        except (ExplainerError, TypeError, ValueError) as err:
            raise ExplainerError(f"{self.name}: returned {type(out).__name__} that is not an explanation of "
                                 f"{game.n_players} players ({err})") from None
        if e.n_players != game.n_players:
            raise ExplainerError(f"{self.name}: returned {e.n_players} attributions for {game.n_players} players")
        if self.index is None and index is not None:
            extras["interaction_index"] = index
        result = {"attributions": e.attributions, "interactions": e.interactions, "extras": extras}
        if modality is not None and np.shape(modality) == (len(game.modality_names),):  # its own, e.g. exact ones
            result["modality"] = np.asarray(modality, dtype=np.float64)
        return result


def as_explainer(obj: Any, /, **params: Any) -> Any:
    """An mxbench explainer from a function, an object with ``explain(game)``, a class or an explainer.

    Parameters
    ----------
    obj : callable, object, class or Explainer
        - a function ``f(game, ...)`` or a callable object: a :class:`FunctionExplainer`; the
          keywords of :data:`OPTIONS` are its parameters, every other keyword is an argument of
          ``f`` (``kwargs``);
        - an object with ``explain(game)`` that is not an mxbench explainer: a
          :class:`FunctionExplainer` calling its ``explain``;
        - an mxbench explainer (black-box or white-box): a copy with ``params`` set, or itself
          without ``params``;
        - a class: built with ``params`` (an mxbench explainer class), or built and wrapped (a
          class with ``explain``).
    **params
        Parameters, as above.

    Returns
    -------
    Explainer or WhiteBoxExplainer

    Raises
    ------
    ExplainerError
        ``obj`` is none of the above, or a parameter it does not take.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Exact
    >>> def exact_with_pairs(game):
    ...     e = Exact().explain(game)
    ...     return e.attributions, e.interactions
    >>> e = as_explainer(exact_with_pairs, index="SII").explain(lambda c: 2.0 * c[:, 0] * c[:, 1], n_players=2)
    >>> e.attributions.tolist(), e.interactions, e.index
    ([1.0, 1.0], {(0, 1): 2.0}, 'SII')
    >>> class Halves:                                  # duck-typed: any object with explain(game)
    ...     def explain(self, game):
    ...         return {"attributions": np.full(game.n_players, 0.5)}
    >>> as_explainer(Halves()).explain(lambda c: c.sum(axis=1) * 1.0, n_players=2).attributions.tolist()
    [0.5, 0.5]
    >>> as_explainer(Exact(), budget=16)
    Exact(budget=16, random_state=0)
    """
    from mxbench.explainers.base import clone, init_params

    if isinstance(obj, type):
        if not callable(getattr(obj, "explain", None)):
            raise ExplainerError(f"{obj.__name__} is not an explainer (it has no explain method)")
        names = init_params(obj)
        takes_any = any(v.kind == v.VAR_KEYWORD for v in inspect.signature(obj.__init__).parameters.values())
        unknown = [k for k in params if k not in names and not takes_any]
        if unknown:
            raise ExplainerError(f"{unknown[0]}: {obj.__name__} takes no parameter {unknown[0]!r}"
                                 + (f" (it takes {', '.join(names)})" if names else " (it takes none)"))
        try:
            built = obj(**params)
        except Exception as e:  # noqa: BLE001 - any failure of the user's constructor is bad input
            raise ExplainerError(f"{obj.__name__}(**params) fails ({type(e).__name__}: {e})") from None
        return built if _is_mxbench_explainer(built) else FunctionExplainer(built)
    if _is_mxbench_explainer(obj):
        return clone(obj, **params) if params else obj
    if not callable(obj) and not _has_explain(obj):
        raise ExplainerError(f"{type(obj).__name__} is not an explainer: expected a function of the game, an object "
                             f"with explain(game), or an mxbench explainer, got {obj!r:.60}")
    options = {k: v for k, v in params.items() if k in OPTIONS}
    rest = {k: v for k, v in params.items() if k not in OPTIONS}
    if rest:
        options["kwargs"] = {**dict(options.get("kwargs") or {}), **rest}
    out = FunctionExplainer(obj, **options)
    budget, seed = out._takes()
    if options.get("budget") is not None and not budget:
        raise ExplainerError(f"budget: {out.name} takes no budget keyword (def {out.name}(game, budget=None): ...)")
    if "random_state" in options and seed is None:
        raise ExplainerError(f"random_state: {out.name} takes neither rng nor random_state")
    out._check_params(None)
    return out


def _is_mxbench_explainer(obj: Any) -> bool:
    """An instance of :class:`Explainer` or of the white-box base (checked without importing torch)."""
    if isinstance(obj, Explainer):
        return True
    import sys

    whitebox = sys.modules.get("mxbench.explainers.whitebox.base")
    return whitebox is not None and isinstance(obj, whitebox.WhiteBoxExplainer)


def import_path(path: str) -> Any:
    """The object at ``package.module:Name`` (``Name`` may be dotted: ``Outer.Inner``).

    Raises
    ------
    ExplainerError
        Not of the form ``module:Name``, the module does not import (the message gives the
        error), or it has no such name.

    Examples
    --------
    >>> import_path("mxbench.explainers.exact:Exact").__name__
    'Exact'
    >>> try:
    ...     import_path("mxbench.nowhere:Exact")
    ... except ExplainerError as e:
    ...     print(e)
    cannot import module 'mxbench.nowhere' (ModuleNotFoundError: No module named 'mxbench.nowhere')
    """
    module, sep, attr = str(path).partition(":")
    if not sep or not module.strip() or not attr.strip() or ":" in attr:
        raise ExplainerError(f"expected an import path package.module:Name, got {path!r}")
    try:
        obj = importlib.import_module(module.strip())
    except Exception as e:  # noqa: BLE001 - any failure to import the user's module is bad input
        raise ExplainerError(f"cannot import module {module.strip()!r} ({type(e).__name__}: {e})") from None
    for part in attr.strip().split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ExplainerError(f"module {module.strip()!r} has no attribute {attr.strip()!r}") from None
    return obj


def path_of(obj: Any) -> str:
    """The import path ``module:qualname`` of a class or function, checked to import back to ``obj``.

    Raises
    ------
    ExplainerError
        ``obj`` is defined in ``__main__`` or inside a function, is a lambda, or its path does not
        import back to it: a worker process could not build it.

    Examples
    --------
    >>> from mxbench.explainers import KernelSHAP
    >>> path_of(KernelSHAP)
    'mxbench.explainers.kernelshap:KernelSHAP'
    >>> try:
    ...     path_of(lambda game: game.n_players)
    ... except ExplainerError as e:
    ...     print(str(e)[:60])
    <lambda> is defined inside a function or is a lambda: worker
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    what = qualname or type(obj).__name__
    if module is None or qualname is None:
        raise ExplainerError(f"{what} has no import path (expected a class or function defined at module level)")
    if module == "__main__":
        raise ExplainerError(f"{qualname} is defined in __main__ (a script or notebook): worker processes cannot "
                             f"import it; define it in a module on the Python path and import it from there")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ExplainerError(f"{qualname} is defined inside a function or is a lambda: worker processes cannot "
                             f"import it; define it at module level in an importable module")
    path = f"{module}:{qualname}"
    try:
        found = import_path(path)
    except ExplainerError as e:
        found = e
    if found is not obj:
        why = f" ({found})" if isinstance(found, ExplainerError) else ""
        raise ExplainerError(f"{qualname} is defined in the module {module!r} (or a namespace of that name), but "
                             f"{path} does not import back to it{why}: worker processes cannot build it; define it "
                             f"at module level in an importable module")
    return path


def parse_inline(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``name{"param": value, ...}`` into the name and its parameters (a JSON object).

    Raises
    ------
    ExplainerError
        The text after the name is not a JSON object, or the name is empty.

    Examples
    --------
    >>> parse_inline('kernelshap{"budget": 64}')
    ('kernelshap', {'budget': 64})
    >>> parse_inline("shap:KernelExplainer")
    ('shap:KernelExplainer', {})
    """
    text = str(text).strip()
    name, brace, rest = text.partition("{")
    name = name.strip()
    if not name:
        raise ExplainerError(f"expected an explainer name before its parameters, got {text!r}")
    if not brace:
        return name, {}
    try:
        params = json.loads(brace + rest)
    except json.JSONDecodeError as e:
        raise ExplainerError(f"parameters {brace + rest} are not a JSON object ({e})") from None
    if not isinstance(params, dict):  # pragma: no cover - text starting with "{" parses to a dict or fails
        raise ExplainerError(f"{name}: parameters {brace + rest} are not a JSON object")
    return name, params


def split_explainers(text: str) -> list[str]:
    """Split a comma-separated list of explainers, keeping the commas inside JSON parameters.

    Each item is a name (registry name, adapter name or import path), optionally followed by its
    parameters as a JSON object: ``kernelshap{"budget": 64, "paired": false}``.

    Raises
    ------
    ExplainerError
        Unbalanced braces, brackets or quotes.

    Examples
    --------
    >>> split_explainers('lemon, mypkg.mod:Mine{"budget": 64, "pairs": [[0, 1], [1, 2]]},shap:KernelExplainer')
    ['lemon', 'mypkg.mod:Mine{"budget": 64, "pairs": [[0, 1], [1, 2]]}', 'shap:KernelExplainer']
    """
    items, depth, quoted, escaped, start = [], 0, False, False, 0
    for k, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth < 0:
                raise ExplainerError(f"explainers: unbalanced {ch!r} at character {k + 1} of {text!r}")
        elif ch == "," and depth == 0:
            items.append(text[start:k])
            start = k + 1
    if depth or quoted:
        raise ExplainerError(f"explainers: unbalanced braces, brackets or quotes in {text!r}")
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]
