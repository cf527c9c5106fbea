"""The exact reference explainer: enumerate every coalition, then transform.

All ``2^n`` coalitions go to the game in one batched call; the values become Möbius
coefficients and the indices follow from superset sums, each ``O(n 2^n)``, in the exact engine
(:mod:`mxbench.oracles.moebius`):

- Shapley value ``φ_i = Σ_{S ∋ i} m(S) / |S|``,
- pairwise Shapley interaction index ``SII_ij = Σ_{S ⊇ {i,j}} m(S) / (|S| - 1)``,
- modality Shapley values: the Shapley values of the modality game ``u(A) = v(∪_{k∈A} N_k)``
  read from the same ``2^n`` values.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mxbench.errors import ExplainerError
from mxbench.explainers.base import BudgetedGame, Explainer
from mxbench.oracles.moebius import bit_matrix, indices_from_values, modality_table

MAX_PLAYERS = 20


class Exact(Explainer):
    """Exact Shapley values, pairwise SII and modality Shapley values by full enumeration.

    The reference explainer: it evaluates all ``2^n`` coalitions (``n <= 20``) in one batched
    call and computes the indices exactly (see the module docstring). Attributions are Shapley
    values, ``interactions`` hold the SII of every pair, ``modality`` the Shapley values of the
    modality game.

    Parameters
    ----------
    budget : int, optional
        Must be at least ``2^n`` when given (the method needs every coalition).
    random_state : int, optional
        Unused (the method is deterministic); kept for the common interface.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Exact
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = Exact().explain(game, n_players=3, modality_of=[0, 1, 1])
    >>> e.attributions.tolist(), e.interactions[(0, 1)], e.modality.tolist(), e.n_queries
    ([1.0, 1.0, 1.0], 2.0, [1.0, 2.0], 8)
    """

    name = "exact"
    #: Shapley values with the SII of every pair (SII's order-1 values are the Shapley values).
    target_index = "SII"
    #: What :func:`mxbench.testing.check_explainer` checks by default besides budget and determinism.
    claims = ('symmetry', 'dummy', 'linearity', 'sii_symmetry', 'interaction_sign', 'recovery')
    efficient = True

    def __init__(self, budget: int | None = None, random_state: int | None = 0) -> None:
        self.budget = budget
        self.random_state = random_state

    def min_budget(self, n_players: int) -> int:
        return 2**n_players

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        n = game.n_players
        if n > MAX_PLAYERS:
            raise ExplainerError(f"n_players: Exact enumerates at most {MAX_PLAYERS} players, got {n}")
        values = game(bit_matrix(n))
        phi, sii = indices_from_values(values)
        mod_phi, _ = indices_from_values(modality_table(values, game.modality_of, len(game.modality_names)))
        i, j = np.triu_indices(n, 1)
        return {"attributions": phi, "modality": mod_phi,
                "interactions": {(int(a), int(b)): float(sii[a, b]) for a, b in zip(i, j)},
                "extras": {"empty": float(values[0]), "full": float(values[-1])}}
