"""The exact truth of one task instance, and the tidy rows every validator returns.

A :class:`Truth` holds what the validators score against: the planted roles and pairs of the
task, and the exact game-theoretic indices of the instance's planted game (Shapley, Banzhaf,
pairwise SII, modality Shapley, Granger modality influence, ``v(N)``, ``v(∅)``). It also
answers exact questions about the same game that the validators need: the value of any
coalition, the Shapley values of the game with some players masked for good (Granger
ablations), which players are dummies and which pairs are symmetric (axioms).

A truth is either *planted* (:meth:`Truth.from_task`: the task's planted game, read from its
oracle) or the truth of any game, a trained model's included (:meth:`Truth.from_game`: exact by
enumeration up to :data:`MAX_GAME_PLAYERS` players, above that an antithetic-permutation
estimate of the Shapley values with its standard error, marked by :attr:`Truth.estimated`).
One exact engine (:mod:`mxbench.oracles.moebius`) serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from mxbench.errors import MetricError  # noqa: F401  (re-exported: validators raise it)
from mxbench.oracles.moebius import (
    bit_matrix,
    coalition_index,
    first_order_from_moebius,
    interaction_matrix_from_moebius,
    modality_table,
    moebius_from_table,
)
from mxbench.spec.constants import SMOOTH_OPS

#: The columns of every validator's rows, in order.
COLUMNS = ("task", "instance", "model", "explainer", "metric", "value")
#: Player roles (``task.players()["role"]``).
ROLES = ("unique", "synergy", "redundancy", "distractor")
#: The most players :meth:`Truth.from_game` enumerates.
MAX_GAME_PLAYERS = 20
#: Permutations of the Shapley estimate of :meth:`Truth.from_game` above
#: :data:`MAX_GAME_PLAYERS` players (antithetic: half of them are the reverses of the others).
ESTIMATE_PERMUTATIONS = 256
#: A planted player (pair) is *material* on an instance when its exact ``|Shapley|`` (``|SII|``)
#: is at least this share of the instance's largest (:meth:`Truth.material`,
#: :meth:`Truth.material_pairs`).
MATERIAL_SHARE = 0.05
#: A six-player, two-modality spec (one unique, one cross-modal synergy and one cross-modal
#: redundancy term, one distractor) that the examples generate in milliseconds.
EXAMPLE_SPEC = {"name": "example", "instances": 8, "seed": 0, "modalities": [
    {"name": "a", "kind": "tabular", "features": 4}, {"name": "b", "kind": "tabular", "features": 2}],
    "terms": [{"kind": "unique", "players": ["a:0"]}, {"kind": "synergy", "players": ["a:1", "b:0"]},
              {"kind": "redundancy", "players": ["a:2", "b:1"]}]}


@dataclass
class Truth:
    """The exact truth of one instance of a task.

    Build one with :meth:`from_task` (one instance), :meth:`from_task_many` (many instances,
    one oracle call) or :meth:`from_game` (exact enumeration of any game, ``n <= 20``).

    Attributes
    ----------
    task : str
        The task name.
    instance : int
        The instance number (-1 when unknown).
    shapley, banzhaf : ndarray, shape (n,)
        Exact Shapley and Banzhaf values.
    sii : ndarray, shape (n, n)
        Exact pairwise Shapley interaction index, zero diagonal.
    modality_shapley : ndarray, shape (M,)
        Exact Shapley value of each modality as a player.
    modality_influence : ndarray, shape (M,)
        Granger-style influence ``v(N) - v(N without modality m)``
        (:meth:`~mxbench.oracles.MoebiusGame.modality_influence`).
    roles : ndarray of str, shape (n,)
        Each player's planted role: ``unique``, ``synergy``, ``redundancy``, ``distractor``
        (``unknown`` when built from a bare game).
    term_id : ndarray of int, shape (n,)
        The planted term reading each player, -1 for distractors.
    pairs : pandas.DataFrame
        The recorded pairs (``task.pairs()``): columns ``i``, ``j``, ``kind`` (``synergy``,
        ``redundancy`` or ``asked``), ``term_id`` and ``sii`` (their exact SII here).
    v_full, v_empty : float
        ``v(N)`` and ``v(∅)``.
    modality_of : ndarray of int, shape (n,)
        Each player's modality number.
    modality_names : tuple of str
        The modality names.
    player_names : list of str
        The player names.
    latents : ndarray or None, shape (n,)
        The instance's decoded latents (planted tasks only).
    smooth : ndarray of bool or None, shape (n,)
        Whether each player is read by a differentiable term (or by none): False for the
        players of ``step``, ``xor``, ``and`` and redundancy terms
        (:data:`~mxbench.spec.constants.SMOOTH_OPS`); None without a task.
    shapley_se : ndarray or None, shape (n,)
        The standard error of ``shapley`` when it is estimated (:meth:`from_game` above
        :data:`MAX_GAME_PLAYERS` players); None when exact. An estimated truth has exact
        ``v_full``, ``v_empty``, ``modality_shapley`` and ``modality_influence`` (the modality
        game has ``2^M`` coalitions) but no Banzhaf values or SII (NaN).

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> truth = Truth.from_task(task, 3)
    >>> truth.task, truth.instance, truth.shapley.shape, truth.sii.shape
    ('example', 3, (6,), (6, 6))
    >>> bool(abs(truth.shapley.sum() - (truth.v_full - truth.v_empty)) < 1e-9)
    True
    >>> truth.roles.tolist(), truth.pairs["kind"].tolist()
    (['unique', 'synergy', 'redundancy', 'distractor', 'synergy', 'redundancy'], ['synergy', 'redundancy'])
    """

    task: str
    instance: int
    shapley: np.ndarray
    banzhaf: np.ndarray
    sii: np.ndarray
    modality_shapley: np.ndarray
    modality_influence: np.ndarray
    roles: np.ndarray
    term_id: np.ndarray
    pairs: pd.DataFrame
    v_full: float
    v_empty: float
    modality_of: np.ndarray
    modality_names: tuple[str, ...]
    player_names: list[str]
    latents: np.ndarray | None = None
    smooth: np.ndarray | None = None
    shapley_se: np.ndarray | None = None
    _plan: Any = field(default=None, repr=False, compare=False)
    _values: np.ndarray | None = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_task(cls, task: Any, instance: int) -> "Truth":
        """The truth of one instance of a planted task, from its exact oracle.

        Parameters
        ----------
        task : Task
            The task.
        instance : int
            The instance number.

        Returns
        -------
        Truth

        Raises
        ------
        MetricError
            ``instance`` is not an instance number of the task.

        Examples
        --------
        >>> import mxbench
        >>> Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0).modality_names
        ('a', 'b')
        """
        return cls.from_task_many(task, [instance])[0]

    @classmethod
    def from_task_many(cls, task: Any, instances: Sequence[int] | np.ndarray | None = None,
                       chunk: int = 256) -> list["Truth"]:
        """The truths of many instances of a planted task, from one oracle per chunk of instances.

        Parameters
        ----------
        task : Task
            The task.
        instances : sequence of int, optional
            The instance numbers (default: all).
        chunk : int
            How many instances' oracle indices are computed at once (bounds memory).

        Returns
        -------
        list of Truth
            One per instance, in the order asked.

        Raises
        ------
        MetricError
            An instance number is out of range.

        Examples
        --------
        >>> import mxbench
        >>> [t.instance for t in Truth.from_task_many(mxbench.generate(EXAMPLE_SPEC), [4, 1])]
        [4, 1]
        """
        rows = (np.arange(task.n_instances) if instances is None
                else np.asarray(instances, dtype=np.int64).reshape(-1))
        bad = rows[(rows < 0) | (rows >= task.n_instances)]
        if len(bad):
            raise MetricError(f"instances: expected instance numbers in 0..{task.n_instances - 1}, got {int(bad[0])}")
        players = task.players()
        pairs = task.pairs()
        roles = players["role"].to_numpy().astype(str)
        term_id = players["term_id"].to_numpy().astype(np.int64)
        pi, pj = pairs["i"].to_numpy(), pairs["j"].to_numpy()
        n = task.n_players
        smooth = smooth_players(task)
        out = []
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            latents = task.latents[part]
            oracle = task.plan.oracle(latents)
            sv, bv = oracle.shapley(), oracle.banzhaf()
            sii = oracle.interaction_matrix("SII")
            msv, infl = oracle.modality_shapley(), oracle.modality_influence()
            full = oracle.values(np.ones((1, n), dtype=bool))[:, 0]
            for r, inst in enumerate(part):
                p = pairs.copy()
                p["sii"] = sii[r, pi, pj]
                out.append(cls(task=task.spec.name, instance=int(inst), shapley=sv[r], banzhaf=bv[r], sii=sii[r],
                               modality_shapley=msv[r], modality_influence=infl[r], roles=roles, term_id=term_id,
                               pairs=p, v_full=float(full[r]), v_empty=float(oracle.empty[r]),
                               modality_of=np.asarray(task.modality_of, dtype=np.int64),
                               modality_names=tuple(task.modality_names), player_names=list(task.player_names),
                               latents=latents[r].copy(), smooth=smooth, _plan=task.plan))
        return out

    @classmethod
    def from_game(cls, game: Any, task: Any = None, instance: int | None = None, *, estimate: bool = False,
                  permutations: int = ESTIMATE_PERMUTATIONS, seed: int = 0) -> "Truth":
        """The truth of any game: exact by enumerating its ``2^n`` coalitions, or estimated.

        Up to :data:`MAX_GAME_PLAYERS` players the game is queried once on every coalition (one
        batched call) and every index is exact. Above that, with ``estimate=True``, the Shapley
        values are the mean marginal contributions over ``permutations`` random orders, drawn in
        antithetic pairs (an order and its reverse), with their standard error in
        :attr:`shapley_se` (the standard deviation of the pair means over ``sqrt(pairs)``);
        ``v(N)``, ``v(∅)`` and the modality indices stay exact (``2^M`` coalitions); Banzhaf
        values and SII are not estimated (NaN). The cost is ``permutations * (n + 1) + 2^M``
        queries.

        Roles and pairs come from ``task`` (or ``game.task`` for planted and model games);
        without a task every role is ``unknown`` and there are no pairs.

        Parameters
        ----------
        game : Game
            The game.
        task : Task, optional
            The task whose roles and pairs to record (default: ``game.task`` if any).
        instance : int, optional
            The instance number (default: ``game.instance`` if any, else -1).
        estimate : bool
            Allow the estimate above :data:`MAX_GAME_PLAYERS` players (default: refuse).
        permutations : int
            Permutations of the estimate: an even number, at least 4.
        seed : int
            Seed of the estimate's permutations.

        Returns
        -------
        Truth

        Raises
        ------
        MetricError
            The game has more than :data:`MAX_GAME_PLAYERS` players and ``estimate`` is False;
            ``permutations`` is odd or below 4.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.games import FunctionGame
        >>> g = FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], n_players=3)
        >>> t = Truth.from_game(g)
        >>> t.shapley.tolist(), float(t.sii[0, 1]), t.roles.tolist(), t.estimated
        ([1.0, 1.0, 1.0], 2.0, ['unknown', 'unknown', 'unknown'], False)

        Above the enumeration limit the Shapley values are estimated (exactly here: the game is
        additive, so every order gives each player its own weight):

        >>> w = np.arange(30.0)
        >>> big = Truth.from_game(FunctionGame(lambda c: c @ w, n_players=30), estimate=True)
        >>> big.estimated, bool(np.allclose(big.shapley, w)), float(big.shapley_se.max())
        (True, True, 0.0)
        """
        n = int(game.n_players)
        if n > MAX_GAME_PLAYERS and not estimate:
            raise MetricError(f"game: Truth.from_game enumerates at most {MAX_GAME_PLAYERS} players, got {n}; "
                              "pass estimate=True for an antithetic-permutation estimate of the Shapley values")
        if not isinstance(permutations, (int, np.integer)) or permutations < 4 or permutations % 2:
            raise MetricError(f"permutations: expected an even integer of at least 4, got {permutations!r}")
        modality_of = np.asarray(getattr(game, "modality_of", np.zeros(n)), dtype=np.int64)
        names = tuple(getattr(game, "modality_names", ("all",)))[: int(modality_of.max()) + 1]
        task = task if task is not None else getattr(game, "task", None)
        instance = instance if instance is not None else getattr(game, "instance", -1)
        if task is not None:
            players, pairs = task.players(), task.pairs()
            roles = players["role"].to_numpy().astype(str)
            term_id = players["term_id"].to_numpy().astype(np.int64)
            name, smooth = task.spec.name, smooth_players(task)
        else:
            smooth = None
            roles = np.array(["unknown"] * n)
            term_id = np.full(n, -1, dtype=np.int64)
            pairs = pd.DataFrame({"i": np.zeros(0, np.int64), "j": np.zeros(0, np.int64),
                                  "kind": np.zeros(0, str), "term_id": np.zeros(0, np.int64)})
            name = ""
        se = None
        if n <= MAX_GAME_PLAYERS:
            values = np.asarray(game(bit_matrix(n)), dtype=np.float64)
            m = moebius_from_table(values)
            phi, bv = first_order_from_moebius(m, "SV"), first_order_from_moebius(m, "BV")
            sii = interaction_matrix_from_moebius(m, "SII")
            mod_values = modality_table(values, modality_of, len(names))
        else:
            values = None
            phi, se = _permutation_shapley(game, n, int(permutations), seed)
            bv, sii = np.full(n, np.nan), np.full((n, n), np.nan)
            mod_values = np.asarray(game(bit_matrix(len(names))[:, modality_of]), dtype=np.float64)
        pairs = pairs.copy()
        pairs["sii"] = sii[pairs["i"].to_numpy(), pairs["j"].to_numpy()]
        full_mask = 2 ** len(names) - 1
        return cls(task=name, instance=int(instance), shapley=phi, banzhaf=bv, sii=sii,
                   modality_shapley=first_order_from_moebius(moebius_from_table(mod_values), "SV"),
                   modality_influence=mod_values[-1] - mod_values[full_mask ^ (1 << np.arange(len(names)))],
                   roles=roles, term_id=term_id, pairs=pairs, v_full=float(mod_values[-1]),
                   v_empty=float(mod_values[0]), modality_of=modality_of, modality_names=names,
                   player_names=list(getattr(game, "player_names", [f"p{i}" for i in range(n)])),
                   smooth=smooth, shapley_se=se, _values=values)

    @property
    def table(self) -> np.ndarray | None:
        """The game's values on all ``2^n`` coalitions (bit order) when :meth:`from_game` enumerated
        them; None otherwise.

        Examples
        --------
        >>> from mxbench.games import FunctionGame
        >>> Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1], n_players=2)).table.tolist()
        [0.0, 0.0, 0.0, 2.0]
        """
        return self._values

    @property
    def estimated(self) -> bool:
        """Whether the Shapley values are an estimate (:attr:`shapley_se` is set).

        Examples
        --------
        >>> import mxbench
        >>> Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0).estimated
        False
        """
        return self.shapley_se is not None

    # ------------------------------------------------------------------ simple views
    @property
    def n_players(self) -> int:
        """The number of players.

        Examples
        --------
        >>> import mxbench
        >>> Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0).n_players
        6
        """
        return int(self.shapley.shape[0])

    @property
    def tol(self) -> float:
        """The tolerance under which an exact value counts as zero: ``1e-9 * max(1, sum |shapley|)``.

        Examples
        --------
        >>> import mxbench
        >>> Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0).tol >= 1e-9
        True
        """
        return 1e-9 * max(1.0, float(np.abs(self.shapley).sum()), abs(self.v_full), abs(self.v_empty))

    @property
    def delta(self) -> float:
        """``v(N) - v(∅)``, the total the Shapley values share.

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 1)
        >>> bool(abs(t.delta - t.shapley.sum()) < 1e-9)
        True
        """
        return self.v_full - self.v_empty

    def active(self) -> np.ndarray:
        """Players that are not dummies in this instance's game, bool ``(n,)``.

        A planted player can be a dummy on one instance (an ``and`` synergy whose other
        player is negative, a ``step`` term below its threshold): no explainer can see it
        from the game, so the recovery metrics leave such players out.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.games import FunctionGame
        >>> g = FunctionGame(lambda c: 1.0 * c[:, 0], n_players=2)
        >>> Truth.from_game(g).active().tolist()
        [True, False]
        """
        if "dummy" not in self._cache:
            dummy = np.ones(self.n_players, dtype=bool)
            tol = self.tol
            for ids, m in self._blocks():
                k = len(ids)
                bits = bit_matrix(k)
                for j in range(k):
                    dummy[ids[j]] = bool(np.all(np.abs(m[bits[:, j]]) <= tol))
            self._cache["dummy"] = dummy
        return ~self._cache["dummy"]

    def relevant(self) -> np.ndarray:
        """Planted (non-distractor) players active here: the positives of the ``@active`` recovery rows.

        The ``@active`` rows of ``auroc``, ``auroc_pooled`` and ``precision_at_k`` and the
        metric ``sign_agreement`` count these; the main rows count the :meth:`material` ones.
        For a truth built from a bare game (roles ``unknown``) every active player is relevant.

        Returns
        -------
        ndarray of bool, shape (n,)

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
        >>> bool(t.relevant()[0]), bool(t.relevant()[3])
        (True, False)
        """
        return (self.roles != "distractor") & self.active()

    def material(self) -> np.ndarray:
        """The positives of the main recovery rows: planted players that carry a material share here.

        A player is material when it is relevant (:meth:`relevant`: planted, not a dummy) and its
        exact ``|Shapley|`` is at least :data:`MATERIAL_SHARE` (5%) of the instance's largest exact
        ``|Shapley|`` (and above :attr:`tol`). A planted player with a tiny but nonzero value (a
        ``tanh`` term near 0, a product with one small factor) is active but not material: no
        estimator can tell it from a distractor at a finite budget, so the main rows of
        ``auroc``, ``auroc_pooled`` and ``precision_at_k`` leave it out (in neither class); their
        ``@active`` rows count it as a positive (:meth:`relevant`). For a truth built from a bare
        game (roles ``unknown``) every player above the share is material.

        Returns
        -------
        ndarray of bool, shape (n,)

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 6)   # a:1 x b:0 is small here
        >>> t.shapley.round(3).tolist()
        [1.795, 0.043, 0.956, 0.0, 0.043, 0.906]
        >>> t.material().tolist(), t.relevant().tolist()
        ([True, False, True, False, False, True], [True, True, True, False, True, True])

        A bare game (roles unknown; its dummies are the distractors):

        >>> from mxbench.games import FunctionGame
        >>> t = Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] + 0.01 * c[:, 1], n_players=3))
        >>> t.material().tolist(), t.relevant().tolist(), t.distractors().tolist()
        ([True, False, False], [True, True, False], [False, False, True])
        """
        if "material" not in self._cache:
            phi = np.abs(self.shapley)
            big = phi.max() if phi.size else 0.0
            self._cache["material"] = self.relevant() & (phi >= MATERIAL_SHARE * big) & (phi > self.tol)
        return self._cache["material"]

    def distractors(self) -> np.ndarray:
        """The negatives of the recovery metrics: distractor players (bare game: dummies).

        Returns
        -------
        ndarray of bool, shape (n,)

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
        >>> t.distractors().tolist()
        [False, False, False, True, False, False]
        """
        if np.all(self.roles == "unknown"):
            return ~self.active()
        return self.roles == "distractor"

    def planted_pairs(self, kinds: Sequence[str] = ("synergy", "redundancy")) -> pd.DataFrame:
        """The planted pairs of the given kinds (a view of :attr:`pairs`).

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
        >>> t.planted_pairs(["redundancy"])[["i", "j"]].values.tolist()
        [[2, 5]]
        """
        return self.pairs[self.pairs["kind"].isin(list(kinds))]

    def pair_arrays(self, kinds: Sequence[str] = ("synergy", "redundancy")) -> tuple[np.ndarray, ...]:
        """The planted pairs of the given kinds as arrays ``(i, j, kind, sii)`` (cached; fast).

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
        >>> i, j, kind, sii = t.pair_arrays()
        >>> i.tolist(), j.tolist(), kind.tolist()
        ([1, 2], [4, 5], ['synergy', 'redundancy'])
        """
        key = ("pairs", tuple(kinds))
        if key not in self._cache:
            p = self.pairs
            keep = p["kind"].isin(list(kinds)).to_numpy()
            self._cache[key] = (p["i"].to_numpy()[keep].astype(np.int64), p["j"].to_numpy()[keep].astype(np.int64),
                                p["kind"].to_numpy()[keep].astype(str), p["sii"].to_numpy()[keep].astype(np.float64))
        return self._cache[key]

    def material_pairs(self, kinds: Sequence[str] = ("synergy", "redundancy")) -> np.ndarray:
        """Which planted pairs of the given kinds are material here: a mask over :meth:`pair_arrays`.

        A pair is material when its exact ``|SII|`` is at least :data:`MATERIAL_SHARE` (5%) of the
        largest exact ``|SII|`` among the planted pairs of these kinds on this instance (and
        above :attr:`tol`): the targets of the main ``pair_precision`` row. Every material pair
        is active (``|SII| > tol``, the targets of ``pair_precision@active``). A bare-game truth
        has no planted pairs: the mask is empty.

        Parameters
        ----------
        kinds : sequence of str
            Pair kinds (``synergy``, ``redundancy``).

        Returns
        -------
        ndarray of bool, shape (P,)
            Aligned with ``pair_arrays(kinds)``.

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 6)
        >>> t.pair_arrays()[3].round(3).tolist()          # SII of the synergy and the redundancy pair
        [0.086, -1.812]
        >>> t.material_pairs().tolist(), t.material_pairs(["synergy"]).tolist()
        ([False, True], [True])
        """
        sii = np.abs(self.pair_arrays(kinds)[3])
        big = sii.max() if sii.size else 0.0
        return (sii >= MATERIAL_SHARE * big) & (sii > self.tol)

    def units(self) -> list[np.ndarray]:
        """The units of the pooled recovery metrics: each redundancy term's copies pooled, others alone.

        A redundant latent may split its credit any way among its copies, so pooled metrics
        score the copies' total.

        Returns
        -------
        list of int arrays
            Player ids of each unit; singletons for every non-redundant player.

        Examples
        --------
        >>> import mxbench
        >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
        >>> [u.tolist() for u in t.units()]
        [[0], [1], [2, 5], [3], [4]]
        """
        if "units" in self._cache:
            return self._cache["units"]
        out, seen = [], set()
        for p in range(self.n_players):
            if p in seen:
                continue
            if self.roles[p] == "redundancy":
                group = np.flatnonzero((self.term_id == self.term_id[p]) & (self.roles == "redundancy"))
            else:
                group = np.array([p])
            seen.update(group.tolist())
            out.append(group)
        self._cache["units"] = out
        return out

    # ------------------------------------------------------------------ exact game queries
    def _oracle(self):
        if "oracle" not in self._cache:
            self._cache["oracle"] = self._plan.oracle(self.latents[None, :])
        return self._cache["oracle"]

    def _blocks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(player ids, Möbius coefficients over the block's subsets) of each block."""
        if "blocks" not in self._cache:
            if self._values is not None:
                m = moebius_from_table(self._values)
                m[0] = 0.0
                self._cache["blocks"] = [(np.arange(self.n_players), m)]
            else:
                o = self._oracle()
                self._cache["blocks"] = [(b, c[0].copy()) for b, c in zip(o.blocks, o.coefs)]
                for _, c in self._cache["blocks"]:
                    c[0] = 0.0
        return self._cache["blocks"]

    def values(self, coalitions: np.ndarray) -> np.ndarray:
        """The exact game value of each coalition, shape ``(B,)``.

        Parameters
        ----------
        coalitions : array_like of bool
            Shape ``(B, n)``.

        Returns
        -------
        ndarray of float64

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.games import FunctionGame
        >>> t = Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1], n_players=2))
        >>> t.values(np.array([[True, True], [True, False]])).tolist()
        [2.0, 0.0]
        """
        c = np.asarray(coalitions, dtype=bool).reshape(-1, self.n_players)
        if self._values is not None:
            return self._values[coalition_index(c)]
        return self._oracle().values(c)[0]

    def restricted_shapley(self, keep: np.ndarray) -> np.ndarray:
        """Exact Shapley values of the game with the players outside ``keep`` masked for good.

        The restricted game is ``v'(S) = v(S ∩ keep)``: what an explainer sees when some
        players are set to their baseline before it runs (a Granger ablation). Masked players
        get 0.

        Parameters
        ----------
        keep : array_like of bool, shape (n,)
            The players left in.

        Returns
        -------
        ndarray of float64, shape (n,)

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.games import FunctionGame
        >>> t = Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], n_players=3))
        >>> t.restricted_shapley(np.array([True, False, True])).tolist()
        [0.0, 0.0, 1.0]
        """
        keep = np.asarray(keep, dtype=bool).reshape(self.n_players)
        if self._values is not None:
            keep_bits = int(coalition_index(keep[None, :])[0])
            return first_order_from_moebius(moebius_from_table(self._values[np.arange(len(self._values)) & keep_bits]))
        return self._oracle().restricted(keep).shapley()[0]

    def symmetric_pairs(self) -> np.ndarray:
        """The pairs of players that are symmetric in the game, shape ``(K, 2)``, ``i < j``.

        ``i`` and ``j`` are symmetric when ``v(S ∪ i) = v(S ∪ j)`` for every ``S`` holding
        neither: read exactly from the Möbius coefficients (within a term: the term's table
        is unchanged by swapping them; across terms, or with a distractor: both are additive
        with equal singleton coefficients, so all dummies are mutually symmetric).

        Returns
        -------
        ndarray of int, shape (K, 2)

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.games import FunctionGame
        >>> t = Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], n_players=4))
        >>> t.symmetric_pairs().tolist()
        [[0, 1]]
        """
        if "symmetric" in self._cache:
            return self._cache["symmetric"]
        n, tol = self.n_players, self.tol
        additive = np.ones(n, dtype=bool)
        single = np.zeros(n)
        block_of = np.full(n, -1, dtype=np.int64)
        out = []
        for t, (ids, m) in enumerate(self._blocks()):
            k = len(ids)
            bits = bit_matrix(k)
            size = bits.sum(axis=1)
            for j in range(k):
                additive[ids[j]] = bool(np.all(np.abs(m[bits[:, j] & (size >= 2)]) <= tol))
                single[ids[j]] = m[1 << j]
                block_of[ids[j]] = t
            idx = np.arange(2**k)
            for a in range(k):
                for b in range(a + 1, k):
                    free = idx[~bits[:, a] & ~bits[:, b]]
                    if np.all(np.abs(m[free | (1 << a)] - m[free | (1 << b)]) <= tol):
                        out.append((min(ids[a], ids[b]), max(ids[a], ids[b])))
        i, j = np.triu_indices(n, 1)
        cross = ((block_of[i] != block_of[j]) | (block_of[i] < 0)) & additive[i] & additive[j] & (
            np.abs(single[i] - single[j]) <= tol)
        out += list(zip(i[cross].tolist(), j[cross].tolist()))
        pairs = np.array(sorted(set(out)), dtype=np.int64).reshape(-1, 2)
        self._cache["symmetric"] = pairs
        return pairs


def smooth_players(task: Any) -> np.ndarray:
    """Whether each player of ``task`` is read by a differentiable term or by none (:attr:`Truth.smooth`).

    Parameters
    ----------
    task : Task
        The task.

    Returns
    -------
    ndarray of bool, shape (n,)

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate(EXAMPLE_SPEC)  # unique identity, synergy product, redundancy, distractor
    >>> smooth_players(task).tolist()
    [True, True, False, True, True, False]
    """
    smooth = np.ones(task.n_players, dtype=bool)
    for term in task.terms:
        if term.op not in SMOOTH_OPS:
            smooth[list(term.ids)] = False
    return smooth


# ---------------------------------------------------------------------- rows
def model_label(model: Any = None, game: Any = None) -> str:
    """The ``model`` column of a row: ``"planted"``, a given name, or a trained model's architecture.

    Parameters
    ----------
    model : str, TrainedModel or None
        A label, a model (its ``arch`` is used), or None.
    game : Game, optional
        Consulted when ``model`` is None: a model game's model gives its architecture.

    Returns
    -------
    str

    Examples
    --------
    >>> model_label(), model_label("fusion_mlp")
    ('planted', 'fusion_mlp')
    """
    if isinstance(model, str):
        return model
    if model is not None:
        return str(getattr(model, "arch", type(model).__name__))
    inner = getattr(game, "model", None)
    if inner is not None and hasattr(inner, "arch"):
        return str(inner.arch)
    return "planted"


def make_rows(truth: Truth, explanation: Any, values: Mapping[str, float], model: Any = None,
              game: Any = None) -> list[dict[str, Any]]:
    """Tidy rows ``(task, instance, model, explainer, metric, value)``, one per ``values`` entry.

    Parameters
    ----------
    truth : Truth
        Gives the task name and the instance.
    explanation : Explanation or None
        Gives the explainer name (``"exact"`` rows of a truth-only metric use ``None``: "").
    values : dict of str to float
        Metric name -> value.
    model, game : optional
        See :func:`model_label`.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> import mxbench
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 1)
    >>> make_rows(t, None, {"auroc": 1.0})
    [{'task': 'example', 'instance': 1, 'model': 'planted', 'explainer': '', 'metric': 'auroc', 'value': 1.0}]
    """
    name = "" if explanation is None else str(getattr(explanation, "explainer", ""))
    label = model_label(model, game)
    return [{"task": truth.task, "instance": int(truth.instance), "model": label, "explainer": name,
             "metric": k, "value": float(v)} for k, v in values.items()]


def parse_metric(name: str) -> tuple[str, str, bool]:
    """Split a row's metric name ``base[@qualifier][:exact]`` into its parts.

    ``:exact`` marks the oracle's exact value of the same quantity (the reference the
    explainer's row is compared with).

    Parameters
    ----------
    name : str
        A metric name from a row.

    Returns
    -------
    (base, qualifier, exact) : (str, str, bool)

    Examples
    --------
    >>> parse_metric("comprehensiveness@10%:exact")
    ('comprehensiveness', '10%', True)
    >>> parse_metric("auroc")
    ('auroc', '', False)
    """
    exact = name.endswith(":exact")
    core = name[: -len(":exact")] if exact else name
    base, _, qualifier = core.partition("@")
    return base, qualifier, exact


def _permutation_shapley(game: Any, n: int, permutations: int, seed: int,
                         max_rows: int = 2**16) -> tuple[np.ndarray, np.ndarray]:
    """Antithetic-permutation Shapley estimate and its standard error (:meth:`Truth.from_game`)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n + 1)[:, None]
    per_call = max(1, max_rows // (2 * (n + 1)))
    means = []
    for start in range(0, permutations // 2, per_call):
        ranks = np.stack([np.argsort(rng.permutation(n)) for _ in range(min(per_call, permutations // 2 - start))])
        both = np.concatenate([ranks, n - 1 - ranks])  # each order, then its reverse
        masks = (both[:, None, :] < steps[None, :, :]).reshape(-1, n)
        v = np.asarray(game(masks), dtype=np.float64).reshape(len(both), n + 1)
        gains = np.take_along_axis(v, both + 1, axis=1) - np.take_along_axis(v, both, axis=1)
        means.append(0.5 * (gains[: len(ranks)] + gains[len(ranks):]))
    pair_means = np.concatenate(means)
    return pair_means.mean(axis=0), pair_means.std(axis=0, ddof=1) / np.sqrt(len(pair_means))
