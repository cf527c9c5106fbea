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
them, :meth:`Explainer.set_params` changes them, :func:`sklearn.base.clone` and :func:`clone`
copy an explainer, and :class:`Explanation.params` records them. Each explainer class declares
the index it estimates (:attr:`Explainer.target_index`); an :class:`Explanation` records it with
``v(∅)`` and ``v(N)`` and converts to and from shap's and shapiq's explanations (imported only
then; :class:`MissingDependencyError` without them). The round trips keep every attribution and
pair value bit for bit.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from mxbench.errors import BudgetError, ExplainerError, GameError
from mxbench.explainers.params import check_random_state
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
    index : str or None
        The index the values estimate (the explainer's :attr:`Explainer.target_index`): shapiq's
        name where one exists (``"SV"``, ``"SII"``, ``"BV"``, ``"k-SII"``, ...), else the method's
        own label (``"LIME"``, ``"LOO"``, ...); None when unknown. Left None, it is read from
        ``extras["interaction_index"]`` when that is given.
    v_empty, v_full : float or None
        The game's values ``v(∅)`` and ``v(N)`` when the explainer evaluated those coalitions, else
        None (they are never queried only to fill these fields).
    order : int
        1 for attributions only, 2 with pair interactions (a property).

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
    >>> e.order, e.index
    (2, None)
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
    index: str | None = None
    v_empty: float | None = None
    v_full: float | None = None

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
        if self.index is None:
            self.index = self.extras.get("interaction_index")
        if self.index is not None and not isinstance(self.index, str):
            raise ExplainerError(f"index: expected a string such as 'SV' or 'SII', or None, got {self.index!r}")
        for name in ("v_empty", "v_full"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, float(value))

    @property
    def n_players(self) -> int:
        """The number of players."""
        return int(self.attributions.shape[0])

    @property
    def order(self) -> int:
        """The highest order explained: 1 for attributions only, 2 with pair interactions.

        Examples
        --------
        >>> import numpy as np
        >>> Explanation(np.zeros(2), np.zeros(1), ("all",), np.zeros(2, int)).order
        1
        """
        return 1 if self.interactions is None else 2

    @classmethod
    def from_values(cls, attributions: Any, interactions: Any = None, *, modality_of: Sequence[int] | None = None,
                    modality_names: Sequence[str] | None = None, player_names: Sequence[str] | None = None,
                    index: str | None = None, v_empty: float | None = None, v_full: float | None = None,
                    n_queries: int = 0, explainer: str = "", extras: Mapping[str, Any] | None = None) -> "Explanation":
        """An explanation of plain values: attributions, optionally pair interactions.

        Parameters
        ----------
        attributions : array_like, shape (n,)
            One value per player.
        interactions : dict or array_like of shape (n, n), optional
            Pair values ``{(i, j): value}``, or a symmetric matrix whose off-diagonal entries are
            the pairs (NaN entries: pairs not given; the diagonal is ignored).
        modality_of : sequence of int, optional
            Each player's modality number (default: one modality).
        modality_names : sequence of str, optional
            Default ``("all",)`` for one modality, else ``m0, m1, ...``.
        player_names : sequence of str, optional
            Default ``p0, p1, ...``.
        index : str, optional
            The index the values estimate (:attr:`index`).
        v_empty, v_full : float, optional
            ``v(∅)`` and ``v(N)`` when known.
        n_queries : int
            The coalitions evaluated to get the values.
        explainer : str
            The name that labels the explanation.
        extras : dict, optional
            Anything else to keep.

        Returns
        -------
        Explanation
            ``modality`` holds the sums of the attributions per modality.

        Raises
        ------
        ExplainerError
            Attributions that are not one finite row, a bad interaction matrix or pair, or a
            ``modality_of`` of the wrong length.

        Examples
        --------
        >>> import numpy as np
        >>> e = Explanation.from_values([1.0, 2.0, 0.5], {(1, 0): 0.25}, modality_of=[0, 0, 1], index="SII")
        >>> e.modality.tolist(), e.modality_names, e.interactions, e.order
        ([3.0, 0.5], ('m0', 'm1'), {(0, 1): 0.25}, 2)
        >>> m = np.array([[0.0, 0.25, np.nan], [0.25, 0.0, np.nan], [np.nan, np.nan, 0.0]])
        >>> Explanation.from_values([1.0, 2.0, 0.5], m).interactions
        {(0, 1): 0.25}
        """
        a = np.asarray(attributions, dtype=np.float64)
        if a.ndim != 1 or a.size == 0:
            raise ExplainerError(f"attributions: expected one value per player, shape (n,), got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ExplainerError(f"attributions: expected finite values, got {a[~np.isfinite(a)][0]} at player "
                                 f"{int(np.flatnonzero(~np.isfinite(a))[0])}")
        n = a.shape[0]
        pairs = None
        if isinstance(interactions, Mapping):
            keys = check_pairs(list(interactions), n)
            pairs = {k: float(v) for k, v in zip(keys, interactions.values())}
        elif interactions is not None:
            m = np.asarray(interactions, dtype=np.float64)
            if m.shape != (n, n):
                raise ExplainerError(f"interactions: expected a dict {{(i, j): value}} or an ({n}, {n}) matrix, "
                                     f"got shape {m.shape}")
            if not np.array_equal(m, m.T, equal_nan=True):
                raise ExplainerError("interactions: the matrix is not symmetric (entry (i, j) must equal (j, i))")
            i, j = np.triu_indices(n, 1)
            given = np.isfinite(m[i, j])
            pairs = {(int(x), int(y)): float(m[x, y]) for x, y in zip(i[given], j[given])}
        try:  # the game's defaults and checks of the player and modality names
            g = FunctionGame(lambda c: np.zeros(c.shape[0]), n, modality_of=modality_of,
                             modality_names=modality_names, player_names=player_names)
        except GameError as e:
            raise ExplainerError(str(e)) from None
        if g.modality_of.min() < 0:
            raise ExplainerError(f"modality_of: expected modality numbers >= 0, got {int(g.modality_of.min())}")
        if len(g.player_names) != n:
            raise ExplainerError(f"player_names: expected {n} names, got {len(g.player_names)}")
        n_mod = len(g.modality_names)
        return cls(attributions=a, modality=modality_sums(a, g.modality_of, n_mod), modality_names=g.modality_names,
                   modality_of=g.modality_of, interactions=pairs, n_queries=int(n_queries), explainer=explainer,
                   player_names=list(g.player_names), extras=dict(extras or {}), index=index, v_empty=v_empty,
                   v_full=v_full)

    def to_shap(self, data: Any = None) -> Any:
        """This explanation's attributions as a ``shap.Explanation`` of one row.

        Pair interactions are left out: shap has no index-neutral place for them (its ``(n, n)``
        interaction values are Shapley-Taylor pairs from ``ExactExplainer`` and SII pairs from
        ``TreeExplainer``); :meth:`to_shapiq` keeps them.

        Parameters
        ----------
        data : array_like of shape (n,), optional
            The explained instance's feature values (shap's ``data``); default
            ``extras["data"]`` when present (as :meth:`from_shap` keeps it).

        Returns
        -------
        shap.Explanation
            ``values`` the attributions, ``base_values`` ``v(∅)`` (None when not known),
            ``feature_names`` the player names, ``data``.

        Raises
        ------
        MissingDependencyError
            shap is not installed.
        ExplainerError
            ``data`` has not one value per player.

        Examples
        --------
        >>> from mxbench.explainers import Exact
        >>> e = Exact().explain(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2] + 1.0, n_players=3)
        >>> s = e.to_shap()
        >>> s.values.tolist(), s.base_values, s.feature_names
        ([1.0, 1.0, 1.0], 1.0, ['p0', 'p1', 'p2'])
        """
        shap = require_package("shap", "Explanation.to_shap")
        n = self.n_players
        if data is None:
            data = self.extras.get("data")
        if data is not None:
            data = np.asarray(data)
            if data.shape != (n,):
                raise ExplainerError(f"data: expected one value per player, shape ({n},), got shape {data.shape}")
        return shap.Explanation(self.attributions.copy(), base_values=self.v_empty, data=data,
                                feature_names=list(self.player_names))

    @classmethod
    def from_shap(cls, explanation: Any, *, modality_of: Sequence[int] | None = None,
                  modality_names: Sequence[str] | None = None, index: str = "SV",
                  v_full: float | None = None, explainer: str = "shap") -> "Explanation":
        """An explanation from one row of a ``shap.Explanation``.

        Parameters
        ----------
        explanation : shap.Explanation
            One row (``exp[i]`` of a batch), ``values`` of shape ``(n,)``. shap's ``(n, n)``
            interaction values are refused: their index depends on the shap explainer that made
            them (shapiq's ``InteractionValues`` carry theirs, see :meth:`from_shapiq`).
        modality_of, modality_names : optional
            The players' modalities (default: one modality).
        index : str, default "SV"
            The index the values estimate.
        v_full : float, optional
            ``v(N)``, which a shap explanation does not hold.
        explainer : str
            The name that labels the explanation.

        Returns
        -------
        Explanation
            ``v_empty`` = ``base_values``, the player names = ``feature_names`` (default
            ``p0, p1, ...``), shap's ``data`` in ``extras["data"]``.

        Raises
        ------
        MissingDependencyError
            shap is not installed.
        ExplainerError
            Not a ``shap.Explanation`` with one value per player, or ``base_values`` is not one number.

        Examples
        --------
        >>> import numpy as np, shap
        >>> s = shap.Explanation(np.array([0.5, -1.0]), base_values=2.0, feature_names=["age", "bmi"])
        >>> e = Explanation.from_shap(s, v_full=1.5)
        >>> e.attributions.tolist(), e.v_empty, e.v_full, e.player_names, e.index
        ([0.5, -1.0], 2.0, 1.5, ['age', 'bmi'], 'SV')
        """
        shap = require_package("shap", "Explanation.from_shap")
        if not isinstance(explanation, shap.Explanation):
            raise ExplainerError(f"explanation: expected a shap.Explanation, got {type(explanation).__name__}")
        values = np.asarray(explanation.values, dtype=np.float64)
        if values.ndim != 1:
            raise ExplainerError(f"values: expected one value per player, shape (n,), got shape {values.shape} "
                                 f"(take one row of a batch first, exp[i]; shap's interaction values are not read)")
        base = explanation.base_values
        if base is not None:
            base = np.asarray(base, dtype=np.float64).reshape(-1)
            if base.shape != (1,):
                raise ExplainerError(f"base_values: expected one number, got shape {base.shape}")
            base = float(base[0])
        names = explanation.feature_names
        return cls.from_values(values, modality_of=modality_of, modality_names=modality_names,
                               player_names=None if names is None else [str(x) for x in names], index=index,
                               v_empty=base, v_full=v_full, explainer=explainer,
                               extras={} if explanation.data is None else {"data": np.array(explanation.data)})

    def to_shapiq(self) -> Any:
        """This explanation as ``shapiq.InteractionValues``.

        shapiq names an index of order 1 by its order-1 meaning: an ``"SII"`` explanation without
        pairs becomes ``"SV"`` (the same values). An index shapiq does not define (``"LIME"``,
        ``"LOO"``, ...) is kept, with shapiq's warning.

        Returns
        -------
        shapiq.InteractionValues
            ``index``, ``max_order`` = :attr:`order`, ``min_order`` 1, ``n_players``, the
            attributions as the order-1 values and the pairs given as the order-2 values,
            ``baseline_value`` = ``v(∅)`` (NaN when not known), ``estimation_budget`` = the queries.

        Raises
        ------
        MissingDependencyError
            shapiq is not installed.
        ExplainerError
            The explanation records no index.

        Examples
        --------
        >>> from mxbench.explainers import Exact
        >>> e = Exact().explain(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2] + 1.0, n_players=3)
        >>> iv = e.to_shapiq()
        >>> iv.index, iv.max_order, iv.baseline_value, iv[(0,)], iv[(0, 1)]
        ('SII', 2, 1.0, 1.0, 2.0)
        """
        shapiq = require_package("shapiq", "Explanation.to_shapiq")
        if self.index is None:
            raise ExplainerError("index: shapiq's InteractionValues needs the index the values estimate, and the "
                                 "explanation records none (set its index, e.g. to 'SV')")
        values = {(i,): float(v) for i, v in enumerate(self.attributions)}
        values.update(sorted((self.interactions or {}).items()))
        return shapiq.InteractionValues(values, index=self.index, max_order=self.order, min_order=1,
                                        n_players=self.n_players,
                                        baseline_value=np.nan if self.v_empty is None else self.v_empty,
                                        estimation_budget=int(self.n_queries) or None)

    @classmethod
    def from_shapiq(cls, values: Any, *, modality_of: Sequence[int] | None = None,
                    modality_names: Sequence[str] | None = None, player_names: Sequence[str] | None = None,
                    v_full: float | None = None, explainer: str = "shapiq") -> "Explanation":
        """An explanation from ``shapiq.InteractionValues`` of order at most 2.

        Parameters
        ----------
        values : shapiq.InteractionValues
            Interaction values with ``max_order`` 1 or 2 (take the first orders of a higher one
            with ``values.get_n_order(min_order=0, max_order=2)``).
        modality_of, modality_names, player_names : optional
            The players' modalities and names (defaults as :meth:`from_values`).
        v_full : float, optional
            ``v(N)``, which ``InteractionValues`` does not hold.
        explainer : str
            The name that labels the explanation.

        Returns
        -------
        Explanation
            Attributions = the order-1 values (0 for a player shapiq leaves out), ``interactions``
            = the order-2 values present (None when ``max_order`` is 1), ``index`` = shapiq's
            index, ``v_empty`` = ``baseline_value`` (None when NaN), ``n_queries`` =
            ``estimation_budget``. An order-0 value is not kept.

        Raises
        ------
        MissingDependencyError
            shapiq is not installed.
        ExplainerError
            ``values`` is not ``InteractionValues``, or holds orders above 2.

        Examples
        --------
        >>> import numpy as np, shapiq
        >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2] + 1.0
        >>> iv = shapiq.ExactComputer(lambda c: game(np.asarray(c, dtype=float)), n_players=3)("SII", order=2)
        >>> e = Explanation.from_shapiq(iv)
        >>> e.attributions.round(12).tolist(), round(e.interactions[(0, 1)], 12), e.index, e.v_empty
        ([1.0, 1.0, 1.0], 2.0, 'SII', 1.0)
        """
        shapiq = require_package("shapiq", "Explanation.from_shapiq")
        if not isinstance(values, shapiq.InteractionValues):
            raise ExplainerError(f"values: expected shapiq.InteractionValues, got {type(values).__name__}")
        if values.max_order > 2:
            raise ExplainerError(f"max_order: an Explanation holds orders 1 and 2, got InteractionValues of "
                                 f"max_order {values.max_order} (take values.get_n_order(min_order=0, max_order=2))")
        attributions = np.zeros(values.n_players)
        pairs = {}
        for key, v in values.interactions.items():
            if len(key) == 1:
                attributions[key[0]] = v
            elif len(key) == 2:
                pairs[key] = v
        baseline = float(values.baseline_value)
        return cls.from_values(attributions, pairs if values.max_order >= 2 else None, modality_of=modality_of,
                               modality_names=modality_names, player_names=player_names, index=values.index,
                               v_empty=None if np.isnan(baseline) else baseline, v_full=v_full,
                               n_queries=int(values.estimation_budget or 0), explainer=explainer)

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


#: The setup.cfg extra that installs the optional packages (shap, shapiq, captum).
EXTRA = "adapters"


class MissingDependencyError(ExplainerError, ImportError):
    """An optional package (shap, shapiq or captum) that an adapter or a conversion needs is not installed.

    Examples
    --------
    >>> issubclass(MissingDependencyError, ImportError)
    True
    """


def require_package(package: str, user: str) -> Any:
    """Import ``package``, or raise :class:`MissingDependencyError` naming it, its ``user`` and the extra.

    Parameters
    ----------
    package : str
        The module to import (``"shap"``, ``"captum.attr"``, ...).
    user : str
        What needs it, as the message says it (``"the ShapExplainer adapter"``, ``"Explanation.to_shap"``).

    Returns
    -------
    module

    Examples
    --------
    >>> require_package("json", "this example").__name__
    'json'
    >>> try:
    ...     require_package("no_such_package", "Explanation.to_shap")
    ... except MissingDependencyError as e:
    ...     print(str(e)[:67])
    no_such_package: Explanation.to_shap needs the package 'no_such_pac
    """
    try:
        return importlib.import_module(package)
    except ImportError:
        root = package.split(".")[0]
        raise MissingDependencyError(
            f"{root}: {user} needs the package {root!r}, which is not installed; "
            f"install it with pip install \"mxbench[{EXTRA}]\" (or pip install {root})") from None


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

    def known(self, coalitions: np.ndarray) -> np.ndarray:
        """The values of coalitions already evaluated, NaN for the others; no query is made.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.games import FunctionGame
        >>> g = BudgetedGame(FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=2), budget=None)
        >>> _ = g(np.array([[1, 1]], dtype=bool))
        >>> g.known(full_and_empty(2)).tolist(), g.n_queries
        ([nan, 2.0], 1)
        """
        keys = coalition_keys(np.asarray(coalitions, dtype=bool)).tolist()
        return np.array([self._memory.get(k, np.nan) for k in keys], dtype=np.float64)


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

    The parameters (:meth:`Explainer.get_params` with ``deep=False``) are deep-copied, so the copy
    shares no state with ``explainer`` (a numpy ``Generator`` as ``random_state`` is copied with its
    state); the overrides are passed as given. :func:`sklearn.base.clone` gives the same copy
    without overrides. ``budget`` and ``random_state`` are left out when the
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
    params = copy.deepcopy(explainer.get_params(deep=False))
    unknown = sorted(set(overrides) - set(params) - {"budget", "random_state"})
    if unknown:
        raise ExplainerError(f"{unknown[0]}: {type(explainer).__name__} takes no parameter {unknown[0]!r} "
                             f"(it takes {', '.join(sorted(params))})")
    params.update((k, v) for k, v in overrides.items() if k in params)
    return type(explainer)(**params)


class Explainer:
    """Base class of the black-box explainers: ``explain(game) -> Explanation``.

    Subclasses store their constructor arguments under the same names (so :meth:`get_params`
    finds them), set :attr:`name` and :attr:`target_index`, and implement :meth:`_explain` (and
    optionally :meth:`min_budget`). :meth:`explain` validates the game, checks the budget, makes
    the random generator from ``random_state``
    (:func:`~mxbench.explainers.params.check_random_state`: an integer seeds it, a numpy
    ``Generator`` or ``RandomState`` gives one seed drawn from it), times the call and fills in
    the :class:`Explanation`, with ``v(∅)`` and ``v(N)`` when the method evaluated them.

    The scikit-learn conventions hold: :meth:`get_params`, :meth:`set_params` and
    :func:`sklearn.base.clone` work on every explainer.

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
    >>> e.v_full, e.v_empty          # v(N) was evaluated, v(∅) was not
    (8.0, None)
    """

    #: The explainer's name in results and reports.
    name: str = "explainer"
    #: The index the explainer estimates (or computes), recorded as :attr:`Explanation.index`:
    #: shapiq's name where one exists (``"SV"``; ``"SII"`` for Shapley values with SII pairs;
    #: ``"BV"``, ``"k-SII"``, ...), else the method's own label for a quantity that is no such
    #: index (``"LIME"``, ``"LEMON"``, ``"LOO"``, ``"RG"``, ``"Unimodal"``). None: not declared.
    target_index: str | None = None
    #: Whether the attributions sum to ``v(N) - v(∅)`` (used by ``check_explainer``).
    efficient: bool = False
    budget: int | None = None
    random_state: int | None = 0

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters and their values (scikit-learn's ``get_params``).

        Parameters
        ----------
        deep : bool, default True
            Also list the parameters of parameters that are explainers themselves, as
            ``<parameter>__<name>`` (e.g. ``base__budget`` of a ``Unimodal`` built on an explainer).

        Returns
        -------
        dict

        Examples
        --------
        >>> from mxbench.explainers import KernelSHAP, Unimodal
        >>> KernelSHAP(budget=64, random_state=1).get_params()["budget"]
        64
        >>> sorted(Unimodal(KernelSHAP(budget=8)).get_params())[:3]
        ['base', 'base__budget', 'base__paired']
        """
        out = {p: getattr(self, p) for p in init_params(type(self))}
        if deep:
            for name, value in list(out.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    out.update((f"{name}__{k}", v) for k, v in value.get_params(deep=True).items())
        return out

    def set_params(self, **params: Any) -> Any:
        """Set constructor parameters (scikit-learn's ``set_params``); ``<parameter>__<name>`` sets a
        parameter of a parameter that is an explainer.

        Parameters
        ----------
        **params
            New values, by parameter name.

        Returns
        -------
        self

        Raises
        ------
        ExplainerError
            A name that is not a parameter (the message names it and lists the parameters), or
            a ``<parameter>__<name>`` whose parameter is not an explainer.

        Examples
        --------
        >>> from mxbench.explainers import KernelSHAP
        >>> KernelSHAP().set_params(budget=64, random_state=3)
        KernelSHAP(budget=64, paired=True, random_state=3)
        >>> KernelSHAP().set_params(budjet=64)
        Traceback (most recent call last):
        ...
        mxbench.errors.ExplainerError: budjet: KernelSHAP takes no parameter 'budjet' (it takes budget, paired, random_state)
        """
        valid = self.get_params(deep=False)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, split, inner = key.partition("__")
            if name not in valid:
                raise ExplainerError(f"{key}: {type(self).__name__} takes no parameter {name!r} "
                                     f"(it takes {', '.join(sorted(valid))})")
            if split:
                nested.setdefault(name, {})[inner] = value
            else:
                setattr(self, name, value)
        for name, inner_params in nested.items():
            part = getattr(self, name)
            if not hasattr(part, "set_params") or isinstance(part, type):
                raise ExplainerError(f"{name}__{next(iter(inner_params))}: the parameter {name!r} of "
                                     f"{type(self).__name__} is {part!r}, which has no parameters to set")
            try:
                part.set_params(**inner_params)
            except ExplainerError as e:  # name the parameter as it was given
                raise ExplainerError(f"{name}__{e}") from None
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
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
            The game is not a game, the budget is too small for the method, or ``random_state`` is
            not one of the types :func:`~mxbench.explainers.params.check_random_state` takes.
        GameError
            The game returns values of the wrong shape or non-finite values.
        """
        g = as_game(game, n_players, modality_of, modality_names)
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
        rng = check_random_state(self.random_state)
        start = time.perf_counter()
        out = self._explain(bg, rng)
        seconds = time.perf_counter() - start
        return self._finish(out, g, bg, seconds)

    def _finish(self, out: Mapping[str, Any], g: Game, bg: BudgetedGame, seconds: float) -> Explanation:
        n_mod = len(g.modality_names)
        empty, full = (None if np.isnan(v) else float(v) for v in bg.known(full_and_empty(g.n_players)))
        attributions = np.asarray(out["attributions"], dtype=np.float64)
        modality = out.get("modality")
        if modality is None:
            modality = modality_sums(attributions, g.modality_of, n_mod)
        return Explanation(attributions=attributions, modality=np.asarray(modality, dtype=np.float64),
                           modality_names=tuple(g.modality_names[:n_mod]), modality_of=g.modality_of,
                           interactions=out.get("interactions"), n_queries=int(bg.n_queries), seconds=seconds,
                           explainer=self.name, params=self.get_params(deep=False), player_names=list(g.player_names),
                           extras=dict(out.get("extras", {})), index=self.target_index, v_empty=empty, v_full=full)

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

