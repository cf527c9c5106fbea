"""Explainers of an author's own, outside mxbench's registry: the examples of the documentation and tests.

Each is what an explainer author writes — a function of the game, a duck-typed class with
``explain(game)``, an :class:`~mxbench.explainers.base.Explainer` subclass — defined at module
level in an importable module, so the runner's worker processes import it by its path::

    mxbench validate smoke --models planted --explainers mxbench.testing.examples:exact_shapley
    mxbench validate smoke --models planted \\
        --explainers 'mxbench.testing.examples:PermutationSampler{"budget": 64}'

A game is called on a boolean matrix of coalitions ``(B, n)`` (row ``b`` keeps the players
where it is True) and returns ``B`` values; ``game.n_players``, ``game.modality_of`` and
``game.modality_names`` describe it.
"""

from __future__ import annotations

from math import factorial
from typing import Any, Mapping

import numpy as np

from mxbench.explainers.base import BudgetedGame, Explainer

__all__ = ["exact_shapley", "exact_shapley_pairs", "sampled_shapley", "PermutationSampler", "LeaveOneOut"]


def _all_coalitions(n: int) -> np.ndarray:
    """Every coalition of ``n`` players: row ``k`` keeps player ``i`` when bit ``i`` of ``k`` is set."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


def exact_shapley(game: Any) -> np.ndarray:
    """Exact Shapley values from all ``2^n`` coalitions: a plain function of the game.

    ``φ_i = Σ_{S ⊆ N∖{i}} |S|! (n - |S| - 1)! / n! · (v(S ∪ {i}) - v(S))``.

    Examples
    --------
    >>> from mxbench.explainers import as_explainer
    >>> e = as_explainer(exact_shapley, index="SV").explain(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2],
    ...                                                     n_players=3)
    >>> e.attributions.round(12).tolist(), e.n_queries, e.explainer
    ([1.0, 1.0, 1.0], 8, 'exact_shapley')
    """
    n = game.n_players
    values = np.asarray(game(_all_coalitions(n)), dtype=np.float64)
    rows = np.arange(2**n)
    size = _all_coalitions(n).sum(axis=1)
    weight = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.zeros(n)
    for i in range(n):
        without = rows[(rows >> i) & 1 == 0]
        phi[i] = np.sum(weight[size[without]] * (values[without | (1 << i)] - values[without]))
    return phi


def exact_shapley_pairs(game: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley values and the Shapley interaction index (SII) of every pair: ``(attributions, pairs)``.

    ``SII_ij = Σ_{S ⊆ N∖{i,j}} |S|! (n - |S| - 2)! / (n - 1)! · Δ_ij(S)`` with
    ``Δ_ij(S) = v(S ∪ {i,j}) - v(S ∪ {i}) - v(S ∪ {j}) + v(S)``; the pairs as a symmetric matrix.

    Examples
    --------
    >>> phi, sii = exact_shapley_pairs(_Game(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], 3))
    >>> phi.round(12).tolist(), float(sii[0, 1]), float(sii[0, 2])
    ([1.0, 1.0, 1.0], 2.0, 0.0)
    """
    n = game.n_players
    values = np.asarray(game(_all_coalitions(n)), dtype=np.float64)
    rows = np.arange(2**n)
    size = _all_coalitions(n).sum(axis=1)
    weight = np.array([factorial(s) * factorial(n - s - 2) / factorial(n - 1) for s in range(max(n - 1, 1))])
    sii = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i + 1, n):
            rest = rows[((rows >> i) & 1 == 0) & ((rows >> j) & 1 == 0)]
            both, only_i, only_j = rest | (1 << i) | (1 << j), rest | (1 << i), rest | (1 << j)
            delta = values[both] - values[only_i] - values[only_j] + values[rest]
            sii[i, j] = sii[j, i] = np.sum(weight[size[rest]] * delta)
    return exact_shapley(game), sii


def sampled_shapley(game: Any, budget: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Permutation-sampling Shapley values within ``budget`` distinct coalitions (default 32 permutations).

    Taking ``budget`` and ``rng`` makes the wrapped function an explainer with ``budget`` and
    ``random_state`` parameters: the grid runs it at each budget and seed. Each permutation costs
    at most ``n - 1`` new coalitions besides the empty and the full one.

    Examples
    --------
    >>> from mxbench.explainers import as_explainer
    >>> explainer = as_explainer(sampled_shapley, budget=20, random_state=0, efficient=True)
    >>> e = explainer.explain(lambda c: c @ np.array([1.0, 2.0, 3.0]), n_players=3)
    >>> e.attributions.round(12).tolist(), e.n_queries <= 20
    ([1.0, 2.0, 3.0], True)
    """
    n = game.n_players
    rng = np.random.default_rng(0) if rng is None else rng
    rounds = 32 if budget is None else max(1, (int(budget) - 2) // max(n - 1, 1))
    phi = np.zeros(n)
    for _ in range(rounds):
        order = rng.permutation(n)
        prefixes = np.zeros((n + 1, n), dtype=bool)
        for k, player in enumerate(order):
            prefixes[k + 1:, player] = True
        values = game(prefixes)
        phi[order] += np.diff(values)
    return phi / rounds


class PermutationSampler(Explainer):
    """Permutation-sampling Shapley values: an :class:`~mxbench.explainers.base.Explainer` subclass of a user.

    Not in mxbench's registry: the grid takes it by import path
    (``mxbench.testing.examples:PermutationSampler``) or as an instance.

    Parameters
    ----------
    budget : int, optional
        Distinct coalitions (default ``2 + 16 (n - 1)``: 16 permutations).
    random_state : int, None, numpy Generator or RandomState
        Seeds the permutations.

    Examples
    --------
    >>> e = PermutationSampler(budget=20).explain(lambda c: c @ np.array([1.0, 2.0, 3.0]), n_players=3)
    >>> e.attributions.round(12).tolist(), e.explainer, e.index
    ([1.0, 2.0, 3.0], 'permutation-sampler', 'SV')
    """

    name = "permutation-sampler"
    target_index = "SV"
    efficient = True

    def __init__(self, budget: int | None = None, random_state: Any = 0) -> None:
        self.budget = budget
        self.random_state = random_state

    def default_budget(self, n_players: int) -> int:
        return 2 + 16 * max(n_players - 1, 1)

    def min_budget(self, n_players: int) -> int:
        return n_players + 1

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        return {"attributions": sampled_shapley(game, game.budget, rng)}


class LeaveOneOut:
    """Leave-one-out values ``v(N) - v(N ∖ {i})``: a duck-typed explainer (any object with ``explain(game)``).

    Not an mxbench class: :func:`~mxbench.explainers.as_explainer` wraps it, and ``check_explainer``
    and the grid take it as it is.

    Examples
    --------
    >>> LeaveOneOut().explain(_Game(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], 3))["attributions"].tolist()
    [2.0, 2.0, 1.0]
    """

    name = "leave-one-out"

    def explain(self, game: Any) -> dict[str, Any]:
        n = game.n_players
        rows = np.vstack([np.ones((1, n), dtype=bool), ~np.eye(n, dtype=bool)])
        values = game(rows)
        return {"attributions": values[0] - values[1:]}


class _Game:
    """A bare game for the examples: a function of coalitions and its number of players."""

    def __init__(self, fn: Any, n_players: int) -> None:
        self.fn, self.n_players = fn, n_players

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(np.asarray(coalitions, dtype=bool)), dtype=np.float64)
