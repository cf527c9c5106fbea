"""Occlusion (leave-one-out): each player's attribution is what the full input loses without it."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mxbench.explainers.base import BudgetedGame, Explainer


class Occlusion(Explainer):
    """Leave-one-out attributions ``a_i = v(N) - v(N \\ {i})``.

    The full coalition and the ``n`` coalitions missing one player go to the game in one call
    (``n + 1`` queries). Deterministic. Symmetric players get equal values and a dummy player 0,
    but the attributions are not efficient: a redundant pair (either copy suffices) gets nothing,
    a synergistic pair is counted twice. The modality contribution is the sum of the modality's
    players' attributions.

    Parameters
    ----------
    budget : int, optional
        At least ``n + 1`` when given; the method always uses exactly ``n + 1``.
    random_state : int, optional
        Unused (the method is deterministic); kept for the common interface.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers.occlusion import Occlusion
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + np.maximum(c[:, 2], c[:, 3])
    >>> e = Occlusion().explain(game, n_players=4)
    >>> e.attributions.tolist(), e.n_queries      # synergy counted twice, redundancy missed
    ([2.0, 2.0, 0.0, 0.0], 5)
    """

    name = "occlusion"
    #: Leave one out, ``v(N) - v(N without i)``: no Shapley estimate.
    target_index = "LOO"
    #: What :func:`mxbench.testing.check_explainer` checks by default besides budget and determinism.
    claims = ('symmetry', 'dummy', 'linearity')
    efficient = False

    def __init__(self, budget: int | None = None, random_state: int | None = 0) -> None:
        self.budget = budget
        self.random_state = random_state

    def min_budget(self, n_players: int) -> int:
        """The full coalition and the ``n`` leave-one-out coalitions.

        Examples
        --------
        >>> from mxbench.explainers.occlusion import Occlusion
        >>> Occlusion().min_budget(6)
        7
        """
        return n_players + 1

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        n = game.n_players
        coalitions = np.concatenate([np.ones((1, n), dtype=bool), ~np.eye(n, dtype=bool)])
        values = game(coalitions)
        return {"attributions": values[0] - values[1:], "extras": {"full": float(values[0])}}
