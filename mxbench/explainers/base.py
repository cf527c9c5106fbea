"""The explainer contract: the :class:`Explanation` type, the :class:`Explainer` base and the budget.

Every black-box explainer is called as ``explainer.explain(game)`` where ``game`` is any
callable of the game interface — a :class:`~mxbench.task.PlantedGame`, a model game, a
:class:`~mxbench.games.Game` of the user's, or a plain Python function of a coalition batch
(then ``n_players`` is passed too). The explainer sees the game only through a
:class:`BudgetedGame`, which

- sends every coalition batch to the game in one call (chunked by the game's ``batch_size``),
- evaluates each distinct coalition once per explanation (a repeated coalition — paired
  sampling, permutation prefixes shared by pairs, the empty and full coalitions — is answered
  from memory, so shared evaluations are reused by every explainer for free),
- counts the distinct coalitions evaluated (:attr:`Explanation.n_queries`) and refuses to go
  past the budget, so ``n_queries <= budget`` always holds.

Constructors only store parameters (scikit-learn style); :meth:`Explainer.get_params` returns
them and :class:`Explanation.params` records them.
"""

from __future__ import annotations

import copy
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from mxbench.errors import BudgetError, ExplainerError, GameError
from mxbench.games import FunctionGame, Game


@dataclass
class Explanation:
    """What an explainer returns for one game.

    Attributes
    ----------
    attributions : ndarray of float64, shape (n,)
        One attribution per player.
    modality : ndarray of float64, shape (M,)
        One contribution per modality (``modality_names`` order).
    modality_names : tuple of str
        The modality names.
    modality_of : ndarray of int64, shape (n,)
        Each player's modality number.
    interactions : dict or None
        Pair interactions ``{(i, j): value}`` with ``i < j`` (None when the explainer gives none).
    n_queries : int
        Distinct coalitions evaluated (white-box explainers: instances run through the model).
    seconds : float
        Wall time of :meth:`Explainer.explain`.
    explainer : str
        The explainer's name.
    params : dict
        The parameters used (:meth:`Explainer.get_params`).
    player_names : list of str
        The player names.
    extras : dict
        Explainer-specific outputs (e.g. per-expert maps, the surrogate's intercept).

    Examples
    --------
    >>> import numpy as np
    >>> e = Explanation(np.array([1.0, -2.0, 0.5]), np.array([-1.0, 0.5]), ("a", "b"), np.array([0, 0, 1]),
    ...                 {(0, 1): 0.25}, n_queries=8, seconds=0.0, explainer="demo")
    >>> e.modality_shares().round(3).tolist()
    [0.667, 0.333]
    >>> e.to_frame()[["kind", "name", "value"]].values.tolist()[:2]
    [['player', 'p0', 1.0], ['player', 'p1', -2.0]]
    >>> e.interaction_matrix()[:2, :2].tolist()
    [[nan, 0.25], [0.25, nan]]
    """

    attributions: np.ndarray
    modality: np.ndarray
    modality_names: tuple[str, ...]
    modality_of: np.ndarray
    interactions: dict[tuple[int, int], float] | None = None
    n_queries: int = 0
    seconds: float = 0.0
    explainer: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    player_names: list[str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.attributions = np.asarray(self.attributions, dtype=np.float64)
        self.modality = np.asarray(self.modality, dtype=np.float64)
        self.modality_of = np.asarray(self.modality_of, dtype=np.int64)
        self.modality_names = tuple(self.modality_names)
        n = self.attributions.shape[0]
        if self.attributions.shape != (n,) or self.modality_of.shape != (n,):
            raise ExplainerError(f"attributions: expected shape (n,) matching modality_of, got "
                                 f"{self.attributions.shape} and {self.modality_of.shape}")
        if self.modality.shape != (len(self.modality_names),):
            raise ExplainerError(f"modality: expected {len(self.modality_names)} values, got shape {self.modality.shape}")
        if self.player_names is None:
            self.player_names = [f"p{i}" for i in range(n)]
        if self.interactions is not None:
            self.interactions = {(min(int(i), int(j)), max(int(i), int(j))): float(v)
                                 for (i, j), v in self.interactions.items()}

    @property
    def n_players(self) -> int:
        """The number of players."""
        return int(self.attributions.shape[0])

    def modality_shares(self) -> np.ndarray:
        """``|modality| / sum |modality|`` (all zero when every contribution is zero).

        Examples
        --------
        >>> import numpy as np
        >>> Explanation(np.zeros(2), np.array([3.0, -1.0]), ("a", "b"), np.array([0, 1])).modality_shares().tolist()
        [0.75, 0.25]
        """
        a = np.abs(self.modality)
        total = a.sum()
        return a / total if total > 0 else np.zeros_like(a)

    def interaction_matrix(self, fill: float = np.nan) -> np.ndarray:
        """The interactions as a symmetric ``(n, n)`` matrix; pairs not explained hold ``fill``.

        Examples
        --------
        >>> import numpy as np
        >>> e = Explanation(np.zeros(3), np.zeros(1), ("all",), np.zeros(3, int), {(2, 0): 1.5})
        >>> e.interaction_matrix(fill=0.0).tolist()
        [[0.0, 0.0, 1.5], [0.0, 0.0, 0.0], [1.5, 0.0, 0.0]]
        """
        n = self.n_players
        out = np.full((n, n), fill, dtype=np.float64)
        for (i, j), v in (self.interactions or {}).items():
            out[i, j] = out[j, i] = v
        return out

    def to_frame(self) -> pd.DataFrame:
        """A tidy frame: one row per player, per modality and per pair.

        Columns ``explainer``, ``kind`` (``player``, ``modality`` or ``pair``), ``name``, ``i``,
        ``j`` (player ids; -1 where not a player or pair), ``modality`` and ``value``.

        Examples
        --------
        >>> import numpy as np
        >>> e = Explanation(np.array([1.0, 2.0]), np.array([1.0, 2.0]), ("a", "b"), np.array([0, 1]),
        ...                 {(0, 1): 0.5}, explainer="demo")
        >>> e.to_frame()["kind"].tolist()
        ['player', 'player', 'modality', 'modality', 'pair']
        """
        names = self.player_names or []
        rows = [(self.explainer, "player", names[i], i, -1, self.modality_names[self.modality_of[i]],
                 float(self.attributions[i])) for i in range(self.n_players)]
        rows += [(self.explainer, "modality", m, -1, -1, m, float(self.modality[k]))
                 for k, m in enumerate(self.modality_names)]
        for (i, j), v in sorted((self.interactions or {}).items()):
            mi, mj = self.modality_names[self.modality_of[i]], self.modality_names[self.modality_of[j]]
            rows.append((self.explainer, "pair", f"{names[i]}|{names[j]}", i, j,
                         mi if mi == mj else f"{mi}|{mj}", float(v)))
        return pd.DataFrame(rows, columns=["explainer", "kind", "name", "i", "j", "modality", "value"])


class BudgetExceeded(ExplainerError):
    """An explainer asked for more distinct coalitions than its budget (a bug in the explainer)."""


class BudgetedGame:
    """The view of a game an explainer gets: memoised, counted and capped at ``budget``.

    Parameters
    ----------
    game : Game
        The game.
    budget : int or None
        The most distinct coalitions that may be evaluated (None: no cap).

    Attributes
    ----------
    n_queries : int
        Distinct coalitions evaluated so far.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.games import FunctionGame
    >>> g = BudgetedGame(FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=3), budget=3)
    >>> g(np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=bool)).tolist()
    [1.0, 1.0, 2.0]
    >>> g.n_queries, g.remaining
    (2, 1)
    >>> g(np.array([[0, 1, 1]], dtype=bool)).tolist(), g.n_queries   # remembered: no new query
    ([2.0], 2)
    """

    def __init__(self, game: Game, budget: int | None) -> None:
        self.game = game
        self.budget = budget
        self.n_players = game.n_players
        self.modality_of = game.modality_of
        self.modality_names = game.modality_names
        self.n_queries = 0
        self._memory: dict[Any, float] = {}

    @property
    def remaining(self) -> int | None:
        """Distinct coalitions still allowed (None: no cap)."""
        return None if self.budget is None else self.budget - self.n_queries

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        c = self.game.check_coalitions(coalitions)
        keys = coalition_keys(c).tolist()
        new: dict[Any, int] = {}
        for r, k in enumerate(keys):
            if k not in self._memory and k not in new:
                new[k] = r
        if self.budget is not None and self.n_queries + len(new) > self.budget:
            raise BudgetExceeded(f"budget: the explainer asked for {self.n_queries + len(new)} distinct coalitions, "
                                 f"more than its budget of {self.budget}")
        if new:
            rows = np.fromiter(new.values(), dtype=np.int64, count=len(new))
            values = self.game(c[rows])
            for k, v in zip(new, values.tolist()):
                self._memory[k] = v
            self.n_queries += len(new)
        return np.fromiter((self._memory[k] for k in keys), dtype=np.float64, count=len(keys))


def coalition_keys(coalitions: np.ndarray) -> np.ndarray:
    """One sortable, hashable key per coalition row: its bits as a uint64 up to 64 players, else
    its packed bytes. Equal rows get equal keys (for ``np.unique`` and for memoising).

    Examples
    --------
    >>> import numpy as np
    >>> coalition_keys(np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], dtype=bool)).tolist()
    [5, 0, 5]
    """
    c = np.asarray(coalitions, dtype=bool)
    if c.shape[1] <= 64:
        return c.astype(np.uint64) @ (np.uint64(1) << np.arange(c.shape[1], dtype=np.uint64))
    packed = np.ascontiguousarray(np.packbits(c, axis=1))
    return packed.view(np.dtype((np.void, packed.shape[1]))).ravel()


def as_game(game: Any, n_players: int | None = None, modality_of: Sequence[int] | None = None,
            modality_names: Sequence[str] | None = None) -> Game:
    """Return ``game`` as a :class:`~mxbench.games.Game` (wrapping a plain function).

    Parameters
    ----------
    game : Game or callable
        A game, or a function ``bool[B, n] -> float[B]``.
    n_players : int, optional
        Required for a plain function; checked against a game's own.
    modality_of, modality_names : optional
        For a plain function: the player -> modality map and the modality names.

    Returns
    -------
    Game

    Raises
    ------
    ExplainerError
        ``game`` is not callable, or ``n_players`` is missing or disagrees with the game's.

    Examples
    --------
    >>> g = as_game(lambda c: c.sum(axis=1) * 1.0, n_players=4, modality_of=[0, 0, 1, 1])
    >>> g.n_players, g.modality_names
    (4, ('m0', 'm1'))
    """
    if isinstance(game, Game):
        if n_players is not None and n_players != game.n_players:
            raise ExplainerError(f"n_players: {n_players} given, but the game has {game.n_players} players")
        return game
    if hasattr(game, "n_players") and callable(game):
        n = int(game.n_players)
        if n_players is not None and n_players != n:
            raise ExplainerError(f"n_players: {n_players} given, but the game has {n} players")
        return FunctionGame(game, n, modality_of=modality_of if modality_of is not None else getattr(game, "modality_of", None),
                            modality_names=modality_names if modality_names is not None
                            else getattr(game, "modality_names", None))
    if not callable(game):
        raise ExplainerError(f"game: expected a game or a callable of coalitions, got {type(game).__name__}")
    if n_players is None:
        raise ExplainerError("n_players: required when the game is a plain function")
    try:
        return FunctionGame(game, n_players, modality_of=modality_of, modality_names=modality_names)
    except GameError as e:
        raise ExplainerError(str(e)) from None


def modality_sums(values: np.ndarray, modality_of: np.ndarray, n_modalities: int) -> np.ndarray:
    """Sum per-player values within each modality.

    Examples
    --------
    >>> import numpy as np
    >>> modality_sums(np.array([1.0, 2.0, 4.0]), np.array([0, 1, 0]), 2).tolist()
    [5.0, 2.0]
    """
    return np.bincount(modality_of, weights=values, minlength=n_modalities).astype(np.float64)


def check_pairs(pairs: Any, n_players: int) -> list[tuple[int, int]]:
    """Validate explicit pairs: a list of ``(i, j)`` with ``0 <= i != j < n_players``, sorted ``i < j``.

    Raises
    ------
    ExplainerError
        A pair is malformed or names a player that does not exist.

    Examples
    --------
    >>> check_pairs([(2, 0), (1, 2)], 3)
    [(0, 2), (1, 2)]
    """
    out = []
    try:
        items = list(pairs)
    except TypeError:
        raise ExplainerError(f"pairs: expected a list of (i, j) pairs, got {pairs!r}") from None
    for p in items:
        try:
            i, j = (int(x) for x in p)
        except (TypeError, ValueError):
            raise ExplainerError(f"pairs: expected a pair of player ids, got {p!r}") from None
        for x in (i, j):
            if not 0 <= x < n_players:
                raise ExplainerError(f"pairs: player {x} in pair {tuple(p)!r} does not exist (players 0..{n_players - 1})")
        if i == j:
            raise ExplainerError(f"pairs: pair {tuple(p)!r} names the same player twice")
        out.append((min(i, j), max(i, j)))
    return out


def min_budget_of(explainer: Any, n_players: int, modality_of: np.ndarray | None = None) -> int:
    """``explainer.min_budget(n_players)``, with ``modality_of`` for the methods that take it.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import KernelSHAP, Unimodal
    >>> min_budget_of(KernelSHAP(), 4, np.array([0, 0, 1, 1]))
    8
    >>> min_budget_of(Unimodal("kernelshap"), 4, np.array([0, 0, 1, 1]))   # 4 for each modality
    8
    """
    method = explainer.min_budget
    try:
        takes = "modality_of" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        takes = False
    return int(method(n_players, modality_of=modality_of) if takes and modality_of is not None
               else method(n_players))


def init_params(cls: type) -> tuple[str, ...]:
    """The names of the parameters of ``cls``'s constructor (``self``, ``*args`` and ``**kwargs`` left out).

    Parameters
    ----------
    cls : type
        An explainer class (or any class).

    Returns
    -------
    tuple of str
        The names, in the constructor's order.

    Examples
    --------
    >>> from mxbench.explainers import KernelSHAP
    >>> init_params(KernelSHAP)
    ('budget', 'paired', 'random_state')
    """
    sig = inspect.signature(cls.__init__)
    return tuple(p for p, v in sig.parameters.items() if p != "self"
                 and v.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD))


def clone(explainer: Any, **overrides: Any) -> Any:
    """A fresh explainer of the same class from its parameters (scikit-learn ``clone``), with ``overrides``.

    The parameters (:meth:`Explainer.get_params`) are deep-copied, so the copy shares no state
    with ``explainer`` (a numpy ``Generator`` as ``random_state`` is copied with its state); the
    overrides are passed as given. ``budget`` and ``random_state`` are left out when the
    constructor does not take them, so ``clone(e, budget=64, random_state=1)`` sets whichever of
    the two ``e`` has; any other override it does not take is an error (a misspelt name).

    Parameters
    ----------
    explainer : Explainer or WhiteBoxExplainer
        Any object with ``get_params()`` whose constructor takes those parameters back.
    **overrides
        New values of constructor parameters.

    Returns
    -------
    Explainer
        A new object of ``type(explainer)``.

    Examples
    --------
    >>> from mxbench.explainers import Exact, KernelSHAP
    >>> clone(KernelSHAP(budget=64), budget=16)
    KernelSHAP(budget=16, paired=True, random_state=0)
    >>> clone(Exact(), random_state=5)
    Exact(budget=None, random_state=5)
    >>> clone(KernelSHAP(), budjet=16)
    Traceback (most recent call last):
    ...
    mxbench.errors.ExplainerError: budjet: KernelSHAP takes no parameter 'budjet' (it takes budget, paired, random_state)
    """
    params = copy.deepcopy(explainer.get_params())
    unknown = sorted(set(overrides) - set(params) - {"budget", "random_state"})
    if unknown:
        raise ExplainerError(f"{unknown[0]}: {type(explainer).__name__} takes no parameter {unknown[0]!r} "
                             f"(it takes {', '.join(sorted(params))})")
    params.update((k, v) for k, v in overrides.items() if k in params)
    return type(explainer)(**params)


class Explainer:
    """Base class of the black-box explainers: ``explain(game) -> Explanation``.

    Subclasses store their constructor arguments under the same names (so :meth:`get_params`
    finds them), set :attr:`name`, and implement :meth:`_explain` (and optionally
    :meth:`min_budget`). :meth:`explain` validates the game, checks the budget, seeds the
    random generator from ``random_state``, times the call and fills in the
    :class:`Explanation`.

    Examples
    --------
    >>> import numpy as np
    >>> class Mean(Explainer):
    ...     name = "mean"
    ...     def __init__(self, budget=None, random_state=0):
    ...         self.budget, self.random_state = budget, random_state
    ...     def _explain(self, game, rng):
    ...         full = game(np.ones((1, game.n_players), dtype=bool))[0]
    ...         return {"attributions": np.full(game.n_players, full / game.n_players)}
    >>> e = Mean().explain(lambda c: c.sum(axis=1) * 2.0, n_players=4)
    >>> e.attributions.tolist(), e.n_queries, e.explainer
    ([2.0, 2.0, 2.0, 2.0], 1, 'mean')
    """

    #: The explainer's name in results and reports.
    name: str = "explainer"
    #: Whether the attributions sum to ``v(N) - v(∅)`` (used by ``check_explainer``).
    efficient: bool = False
    budget: int | None = None
    random_state: int | None = 0

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters and their values.

        Examples
        --------
        >>> from mxbench.explainers import KernelSHAP
        >>> KernelSHAP(budget=64, random_state=1).get_params()["budget"]
        64
        """
        return {p: getattr(self, p) for p in init_params(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def min_budget(self, n_players: int, modality_of: np.ndarray | None = None) -> int:
        """The smallest budget the method can work with on ``n_players`` players.

        Subclasses whose minimum depends on the modalities take ``modality_of`` (each player's
        modality number) too; :func:`min_budget_of` passes it to those that accept it.
        """
        return 1

    def default_budget(self, n_players: int) -> int | None:
        """The budget used when ``budget`` is None (None: the method decides, uncapped)."""
        return None

    def _check_params(self, game: Game) -> None:
        """Validate the parameters against the game before any query (raise ExplainerError)."""

    def explain(self, game: Any, *, n_players: int | None = None, modality_of: Sequence[int] | None = None,
                modality_names: Sequence[str] | None = None) -> Explanation:
        """Explain one game.

        Parameters
        ----------
        game : Game or callable
            A game (planted, model, user-defined) or a plain function ``bool[B, n] -> float[B]``.
        n_players : int, optional
            Required when ``game`` is a plain function.
        modality_of, modality_names : optional
            The player -> modality map for a plain function (default: one modality).

        Returns
        -------
        Explanation

        Raises
        ------
        ExplainerError
            The game is not a game, or the budget is too small for the method.
        GameError
            The game returns values of the wrong shape or non-finite values.
        """
        g = as_game(game, n_players, modality_of, modality_names)
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.Generator)
                or (isinstance(rs, (int, np.integer)) and not isinstance(rs, bool) and rs >= 0)):
            raise ExplainerError(f"random_state: expected a non-negative integer, None or a numpy Generator, got {rs!r}")
        self._check_params(g)
        budget = self.budget if self.budget is not None else self.default_budget(g.n_players)
        if budget is not None:
            if not isinstance(budget, (int, np.integer)) or isinstance(budget, bool):
                raise ExplainerError(f"budget: expected an integer, got {budget!r}")
            need = min_budget_of(self, g.n_players, g.modality_of)
            if budget < need:
                raise BudgetError(f"budget: {type(self).__name__} needs at least {need} coalitions on "
                                  f"{g.n_players} players, got {budget}")
        bg = BudgetedGame(g, None if budget is None else int(budget))
        rng = np.random.default_rng(self.random_state)
        start = time.perf_counter()
        out = self._explain(bg, rng)
        seconds = time.perf_counter() - start
        return self._finish(out, g, bg.n_queries, seconds)

    def _finish(self, out: Mapping[str, Any], g: Game, n_queries: int, seconds: float) -> Explanation:
        n_mod = len(g.modality_names)
        attributions = np.asarray(out["attributions"], dtype=np.float64)
        modality = out.get("modality")
        if modality is None:
            modality = modality_sums(attributions, g.modality_of, n_mod)
        return Explanation(attributions=attributions, modality=np.asarray(modality, dtype=np.float64),
                           modality_names=tuple(g.modality_names[:n_mod]), modality_of=g.modality_of,
                           interactions=out.get("interactions"), n_queries=int(n_queries), seconds=seconds,
                           explainer=self.name, params=self.get_params(), player_names=list(g.player_names),
                           extras=dict(out.get("extras", {})))

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:  # pragma: no cover
        """Return a dict with ``attributions`` and optionally ``modality``, ``interactions``, ``extras``."""
        raise NotImplementedError


def full_and_empty(n_players: int) -> np.ndarray:
    """The empty and the full coalition, shape ``(2, n_players)``.

    Examples
    --------
    >>> full_and_empty(3).astype(int).tolist()
    [[0, 0, 0], [1, 1, 1]]
    """
    out = np.zeros((2, n_players), dtype=bool)
    out[1] = True
    return out


def modality_coalitions(modality_of: np.ndarray, n_modalities: int) -> np.ndarray:
    """All ``2^M`` whole-modality coalitions, row ``a`` keeping the modalities in the bits of ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> modality_coalitions(np.array([0, 0, 1]), 2).astype(int).tolist()
    [[0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 1, 1]]
    """
    bits = (np.arange(2**n_modalities)[:, None] >> np.arange(n_modalities)[None, :]) & 1
    return bits[:, modality_of].astype(bool)

