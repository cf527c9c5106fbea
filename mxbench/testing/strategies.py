"""Hypothesis strategies for property-based tests: task specs, tasks, planted games and coalition batches.

Every strategy draws sizes first, from small integers, and lists its simplest choices first,
so a failing example shrinks to few modalities, few players and few simple terms (a unique
term, then a product synergy...), seed 0 and instance 0: a small, readable counterexample.
Planted games print as ``PlantedCase('hypothesis', instance=0, players=2, terms=1)`` and
:meth:`~mxbench.testing.checks.PlantedCase.describe` writes out their terms and latents.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from mxbench.spec import MAX_MODALITIES, SYNERGY_OPS, TARGETS, UNIQUE_FNS, TaskSpec

__all__ = ["spec_dicts", "specs", "tasks", "planted_games", "coalitions"]

#: The most players one drawn modality gets (every kind: 1-4).
_MAX_PER_MODALITY = 4
#: Image layouts ``(size, patch)`` giving 1 or 4 patches, simplest first (hypothesis shrinks towards it).
_IMAGE_LAYOUTS = ((4, 4), (8, 4), (6, 3))
#: Term shapes ``(kind, number of players)``, simplest first.
_TERM_SHAPES = (("unique", 1), ("synergy", 2), ("redundancy", 2), ("synergy", 3), ("redundancy", 3),
                ("redundancy", 4))


def _check_args(max_players: int, max_modalities: int, min_terms: int, max_terms: int, instances: int,
                max_order: int = 4) -> None:
    def is_int(x: Any) -> bool:
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    for name, value in (("max_players", max_players), ("max_modalities", max_modalities),
                        ("min_terms", min_terms), ("max_terms", max_terms), ("instances", instances),
                        ("max_order", max_order)):
        if not is_int(value):
            raise ValueError(f"{name}: expected an integer, got {value!r}")
    if max_players < 1:
        raise ValueError(f"max_players: must be at least 1, got {max_players}")
    if not 1 <= max_modalities <= min(MAX_MODALITIES, max_players):
        raise ValueError(f"max_modalities: must lie in 1..{min(MAX_MODALITIES, max_players)}, got {max_modalities}")
    if not 0 <= min_terms <= max_terms:
        raise ValueError(f"min_terms, max_terms: need 0 <= min_terms <= max_terms, got {min_terms}, {max_terms}")
    most = min(max_players, _MAX_PER_MODALITY * max_modalities)
    if min_terms > most:
        raise ValueError(f"min_terms: {min_terms} terms need {min_terms} players, but at most {most} can be drawn")
    if instances < 1:
        raise ValueError(f"instances: must be at least 1, got {instances}")
    if not 1 <= max_order <= 4:
        raise ValueError(f"max_order: must lie in 1..4 (a term reads 1-4 players), got {max_order}")


@st.composite
def _modality(draw: st.DrawFn, position: int, lo: int, hi: int) -> dict[str, Any]:
    """One modality dict with ``lo..hi`` players (``1 <= lo <= hi``)."""
    layouts = [(s, p) for s, p in _IMAGE_LAYOUTS if lo <= (s // p) ** 2 <= hi]
    kinds = ["tabular", "text"] + (["image"] if layouts else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "tabular":
        return {"name": f"tab{position}", "kind": "tabular", "features": draw(st.integers(lo, min(hi, 4)))}
    if kind == "text":
        return {"name": f"txt{position}", "kind": "text", "length": draw(st.integers(lo, min(hi, 4))),
                "vocab": draw(st.integers(8, 40)), "neutral": draw(st.sampled_from((0.1, 0.0, 0.5)))}
    size, patch = draw(st.sampled_from(layouts))
    return {"name": f"img{position}", "kind": "image", "channels": draw(st.integers(1, 2)), "size": size,
            "patch": patch, "noise": draw(st.sampled_from((0.05, 0.0, 0.2)))}


def _player_names(modality: dict[str, Any]) -> list[str]:
    if modality["kind"] == "tabular":
        n = modality["features"]
    elif modality["kind"] == "text":
        n = modality["length"]
    else:
        n = (modality["size"] // modality["patch"]) ** 2
    return [f"{modality['name']}:{i}" for i in range(n)]


@st.composite
def _term(draw: st.DrawFn, players: list[str]) -> dict[str, Any]:
    """One explicit term dict reading exactly ``players`` (1-4 of them)."""
    k = len(players)
    kinds = [kind for kind, size in _TERM_SHAPES if size == k]
    kind = draw(st.sampled_from(kinds))
    weight = draw(st.integers(1, 16)) / 4.0 * draw(st.sampled_from((1.0, -1.0)))
    term: dict[str, Any] = {"kind": kind, "players": players, "weight": weight}
    if kind == "unique":
        term["fn"] = draw(st.sampled_from(UNIQUE_FNS))
    elif kind == "synergy":
        term["op"] = draw(st.sampled_from(SYNERGY_OPS))
    else:
        term["spread"] = draw(st.sampled_from((0.05, 0.0, 0.2)))
    return term


@st.composite
def spec_dicts(draw: st.DrawFn, max_players: int = 12, max_modalities: int = 3, min_terms: int = 1,
               max_terms: int = 4, instances: int = 8, max_order: int = 4) -> dict[str, Any]:
    """Random valid task-spec dicts (see :func:`specs`, which parses them).

    Parameters
    ----------
    max_players, max_modalities, min_terms, max_terms, instances, max_order : int
        As for :func:`specs`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of dict
        Dicts that :meth:`mxbench.TaskSpec.from_dict` accepts.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from mxbench import TaskSpec
    >>> from mxbench.testing import spec_dicts
    >>> @settings(max_examples=10, deadline=None)
    ... @given(spec_dicts(max_players=5))
    ... def check(d):
    ...     spec = TaskSpec.from_dict(d)
    ...     assert spec.n_players <= 5 and spec.instances == 8
    ...     assert [t["players"] for t in d["terms"]] == [list(t.players) for t in spec.terms]
    >>> check()
    """
    _check_args(max_players, max_modalities, min_terms, max_terms, instances, max_order)
    # sizes first: the number of modalities, then each modality's player count
    n_mod = draw(st.integers(max(1, -(-min_terms // _MAX_PER_MODALITY)), max_modalities))
    modalities = []
    used = 0
    for k in range(n_mod):
        after = n_mod - k - 1
        lo = max(1, min_terms - used - _MAX_PER_MODALITY * after)
        hi = min(_MAX_PER_MODALITY, max_players - used - after)
        m = draw(_modality(k, lo, hi))
        modalities.append(m)
        used += len(_player_names(m))
    names = [p for m in modalities for p in _player_names(m)]
    n = len(names)

    # then the terms: how many, how many players each, which players (a permutation, so disjoint)
    n_terms = draw(st.integers(min_terms, min(max_terms, n)))
    sizes = []
    free = n
    for t in range(n_terms):
        biggest = min(max_order, free - (n_terms - t - 1))  # leave one player for each term still to draw
        sizes.append(draw(st.integers(1, biggest)))
        free -= sizes[-1]
    order = draw(st.permutations(range(n)))
    terms = []
    start = 0
    for size in sizes:
        terms.append(draw(_term([names[i] for i in order[start:start + size]])))
        start += size

    return {
        "name": "hypothesis",
        "seed": draw(st.integers(0, 2**16)),
        "instances": instances,
        "target": draw(st.sampled_from(TARGETS)),
        "noise": draw(st.sampled_from((0.0, 0.1, 0.5))),
        "intercept": draw(st.integers(-4, 4)) / 2.0,
        "modalities": modalities,
        "terms": terms,
    }


def specs(max_players: int = 12, max_modalities: int = 3, min_terms: int = 1, max_terms: int = 4,
          instances: int = 8, max_order: int = 4) -> st.SearchStrategy[TaskSpec]:
    """Random valid :class:`~mxbench.TaskSpec` objects for property-based tests.

    Each spec has 1..``max_modalities`` modalities of random kinds (tabular with 1-4
    columns; images of 1-2 channels cut into 1 or 4 patches; text of 1-4 slots over a
    vocabulary of 8-40 ids), at most ``max_players`` players in all, and
    ``min_terms``..``max_terms`` explicit terms of every kind (unique with ``fn``
    identity / tanh / step; synergy over 2 or 3 players with ``op`` product / xor / and;
    redundancy over 2-4 players) on disjoint players, with finite non-zero weights, a
    random target (regression or classification), noise, intercept and seed. Sizes are
    drawn first and from small integers, so failing examples shrink to small specs.

    Parameters
    ----------
    max_players : int
        The most players a spec may have (at least 1).
    max_modalities : int
        The most modalities (1..min(8, max_players)).
    min_terms, max_terms : int
        The range of the number of explicit terms; every term reads at least one player,
        so a spec has at least ``min_terms`` players.
    instances : int
        The spec's instance count (kept small so that generating the task is cheap).
    max_order : int
        The most players one term reads (1-4): its Möbius order. 2 keeps every game of
        order <= 2 (unique terms and pairs).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of TaskSpec

    Raises
    ------
    ValueError
        The arguments admit no spec (e.g. ``min_terms > max_players``).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> import numpy as np
    >>> import mxbench
    >>> from mxbench.testing import specs
    >>> @settings(max_examples=10, deadline=None)
    ... @given(specs(max_players=6, max_terms=2))
    ... def check(spec):
    ...     assert 1 <= spec.n_players <= 6 and 1 <= len(spec.terms) <= 2
    ...     task = mxbench.generate(spec)
    ...     sv = task.oracle().shapley()
    ...     v = task.oracle().values(np.array([[True] * spec.n_players, [False] * spec.n_players]))
    ...     assert np.allclose(sv.sum(axis=1), v[:, 0] - v[:, 1])
    >>> check()
    """
    _check_args(max_players, max_modalities, min_terms, max_terms, instances, max_order)
    return spec_dicts(max_players, max_modalities, min_terms, max_terms, instances, max_order).map(TaskSpec.from_dict)


def tasks(max_players: int = 8, max_modalities: int = 3, min_terms: int = 1, max_terms: int = 4,
          instances: int = 4, max_order: int = 4) -> st.SearchStrategy[Any]:
    """Random generated :class:`~mxbench.task.Task` objects (:func:`specs`, then :func:`mxbench.generate`).

    Parameters
    ----------
    max_players, max_modalities, min_terms, max_terms, max_order : int
        As for :func:`specs`.
    instances : int
        Instances per task (small: each example generates its task).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Task

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> import numpy as np
    >>> from mxbench.testing import tasks
    >>> @settings(max_examples=5, deadline=None)
    ... @given(tasks(max_players=5, instances=3))
    ... def check(task):
    ...     assert task.n_instances == 3 and task.oracle().shapley().shape == (3, task.n_players)
    >>> check()
    """
    from mxbench.task import generate

    return specs(max_players, max_modalities, min_terms, max_terms, instances, max_order).map(generate)


def planted_games(max_players: int = 6, max_order: int = 2, max_modalities: int = 2, min_terms: int = 1,
                  max_terms: int = 3, instances: int = 2) -> st.SearchStrategy[Any]:
    """Random planted games with exact truth: the game of one instance of a random task.

    Each example is a :class:`~mxbench.testing.checks.PlantedCase`: a
    :class:`~mxbench.task.PlantedGame` (coalitions ``bool (B, n)`` -> values ``(B,)``) with
    its exact :attr:`~mxbench.testing.checks.PlantedCase.truth` (Shapley values, SII,
    ``v(N) - v(∅)``, dummies, symmetric pairs) and a readable
    :meth:`~mxbench.testing.checks.PlantedCase.describe`. A failing game shrinks to a few
    players and terms.

    Parameters
    ----------
    max_players : int
        The most players (at least 1).
    max_order : int
        The most players one planted term reads (1-4), i.e. the game's Möbius order.
    max_modalities, min_terms, max_terms : int
        As for :func:`specs`.
    instances : int
        Instances of each drawn task; the game is one of them.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of PlantedCase

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> import numpy as np
    >>> from mxbench.explainers import PermutationShapley
    >>> from mxbench.testing import planted_games
    >>> @settings(max_examples=10, deadline=None)
    ... @given(planted_games(max_players=5, max_order=2))
    ... def check(game):     # permutation sampling is exact on games of order <= 2 (antithetic)
    ...     e = PermutationShapley(budget=4 * game.n_players).explain(game)
    ...     assert np.allclose(e.attributions, game.truth.shapley), game.describe()
    >>> check()
    """
    from mxbench.testing.checks import PlantedCase

    _check_args(max_players, max_modalities, min_terms, max_terms, instances, max_order)

    @st.composite
    def draw_game(draw: st.DrawFn) -> Any:
        task = draw(tasks(max_players, max_modalities, min_terms, max_terms, instances, max_order))
        return PlantedCase(task, draw(st.integers(0, instances - 1)))

    return draw_game()


def coalitions(n: int, min_batch: int = 1, max_batch: int = 16) -> st.SearchStrategy[np.ndarray]:
    """Random coalition batches: boolean arrays of shape ``(B, n)``, ``min_batch <= B <= max_batch``.

    A failing batch shrinks to few rows with few players present.

    Parameters
    ----------
    n : int
        The number of players (at least 1).
    min_batch, max_batch : int
        The range of the batch size ``B``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of ndarray of bool

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from mxbench import FunctionGame
    >>> from mxbench.testing import coalitions
    >>> game = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=4)
    >>> @settings(max_examples=20, deadline=None)
    ... @given(coalitions(4))
    ... def check(c):
    ...     assert c.dtype == bool and c.shape[1] == 4 and 1 <= c.shape[0] <= 16
    ...     assert (game(c) == c.sum(axis=1)).all()
    >>> check()
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    if not 0 <= min_batch <= max_batch:
        raise ValueError(f"min_batch, max_batch: need 0 <= min_batch <= max_batch, got {min_batch}, {max_batch}")
    row = st.lists(st.booleans(), min_size=int(n), max_size=int(n))  # each entry shrinks to False (absent)
    return st.lists(row, min_size=min_batch, max_size=max_batch).map(
        lambda rows: np.array(rows, dtype=bool).reshape(len(rows), int(n)))
