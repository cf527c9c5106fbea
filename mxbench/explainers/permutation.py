"""Permutation sampling of Shapley values (antithetic, as shap's PermutationExplainer) and MM-SHAP.

For a permutation ``π`` of the players, the marginal contribution of ``π_k`` is
``v({π_0..π_k}) - v({π_0..π_{k-1}})``; its average over uniformly random permutations is the
Shapley value. Each permutation needs its ``n + 1`` prefix coalitions, and its marginals
telescope to ``v(N) - v(∅)``, so the estimate is **efficient exactly** whatever the number of
permutations.

With ``antithetic=True`` every random permutation is followed by its reverse, as shap's
``PermutationExplainer`` does (its forward pass adds the players in order, its backward pass
removes them in the same order, i.e. adds them in the reversed order). The reverse permutation's
prefixes are the complements of the forward prefixes, a negatively correlated pair. One such pair
is **exact on every game of Möbius order <= 2**: a pair's coefficient ``m({i, j})`` goes to
whichever of ``i, j`` comes later, i.e. to one of them in the permutation and to the other in its
reverse, half each on average, as in the Shapley value. On planted games made only of unique and
pairwise terms the estimator is therefore exact at any budget; only 3-way terms leave an error.

Budget. The :class:`~mxbench.explainers.base.BudgetedGame` counts *distinct* coalitions and
answers repeats from memory, so ``v(∅)`` and ``v(N)`` are paid once per explanation and a
permutation (pair) costs at most ``n - 1`` (``2(n - 1)``) new coalitions. The permutations are
drawn in rounds: each round takes as many as the remaining budget pays for in the worst case
(no repeats), sends all their prefixes to the game in one call, and a next round spends what
repeated prefixes (frequent for small ``n``) left over. This stops when the budget cannot pay
for one more permutation (pair), when every coalition has been evaluated, or after
``MAX_ROUNDS`` rounds.
shap instead pays ``2n + 1`` evaluations per antithetic pair, so at the same budget this
estimator draws slightly more permutations than shap's.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mxbench.explainers.base import BudgetedGame, Explainer, full_and_empty, modality_sums
from mxbench.explainers.params import check_bool

#: The most rounds of permutations drawn for one explanation.
MAX_ROUNDS = 64


def prefix_coalitions(perms: np.ndarray) -> np.ndarray:
    """The ``n + 1`` prefix coalitions of each permutation, shape ``(P, n + 1, n)``.

    Row ``k`` of permutation ``π`` holds the players ``π_0, ..., π_{k-1}``.

    Parameters
    ----------
    perms : ndarray of int, shape (P, n)
        Permutations of ``0..n-1``.

    Returns
    -------
    ndarray of bool, shape (P, n + 1, n)

    Examples
    --------
    >>> import numpy as np
    >>> prefix_coalitions(np.array([[2, 0, 1]])).astype(int)[0].tolist()
    [[0, 0, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1]]
    """
    p, n = perms.shape
    pos = np.empty_like(perms)
    pos[np.arange(p)[:, None], perms] = np.arange(n)[None, :]
    return pos[:, None, :] < np.arange(n + 1)[None, :, None]


class PermutationShapley(Explainer):
    """Shapley values by (antithetic) permutation sampling, as shap's PermutationExplainer.

    The estimate is the mean marginal contribution of each player over the sampled permutations
    (each followed by its reverse when ``antithetic``). It is unbiased, and efficient by
    construction: each permutation's marginals telescope to ``v(N) - v(∅)``. A player who never
    changes the value (a dummy) gets exactly 0, and with antithetic pairs games of Möbius order
    <= 2 are explained exactly. See the module docstring for the budget rounds.

    Parameters
    ----------
    budget : int, optional
        Distinct coalitions to evaluate, ``v(∅)`` and ``v(N)`` included: at least ``2n`` with
        antithetic pairs (one pair), ``n + 1`` without. Default 500, shap's ``max_evals``.
    antithetic : bool
        Follow each random permutation by its reverse.
    random_state : int or None
        Seed of the permutations.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers.permutation import PermutationShapley
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = PermutationShapley(budget=8).explain(game, n_players=3)
    >>> e.attributions.round(12).tolist(), e.n_queries, e.extras["n_permutations"]   # one antithetic pair
    ([1.0, 1.0, 1.0], 6, 2)
    >>> e = PermutationShapley(budget=60, random_state=1).explain(game, n_players=6)
    >>> float(e.attributions.sum()), e.attributions[3:].tolist()       # efficient; dummies get 0
    (3.0, [0.0, 0.0, 0.0])
    """

    name = "permutation"
    #: The Shapley value (MM-SHAP too: its attributions are these; only its modality contributions differ).
    target_index = "SV"
    #: What :func:`mxbench.testing.check_explainer` checks by default besides budget and determinism.
    claims = ('dummy', 'linearity')
    efficient = True

    def __init__(self, budget: int | None = None, antithetic: bool = True, random_state: int | None = 0) -> None:
        self.budget = budget
        self.antithetic = antithetic
        self.random_state = random_state

    def default_budget(self, n_players: int) -> int:
        """shap's default ``max_evals = 500``.

        Examples
        --------
        >>> from mxbench.explainers.permutation import PermutationShapley
        >>> PermutationShapley().default_budget(12)
        500
        """
        return 500

    def min_budget(self, n_players: int) -> int:
        """``v(∅)``, ``v(N)`` and the ``n - 1`` inner prefixes of one permutation (two when antithetic).

        Examples
        --------
        >>> from mxbench.explainers.permutation import PermutationShapley
        >>> PermutationShapley().min_budget(6), PermutationShapley(antithetic=False).min_budget(6)
        (12, 7)
        """
        return 2 + (2 if self.antithetic else 1) * (n_players - 1)

    def _permutation_sums(self, game: BudgetedGame,
                          rng: np.random.Generator) -> tuple[np.ndarray, int, int, float, float]:
        """Marginal contributions summed per player over the permutations drawn; their number; the rounds; v(∅); v(N)."""
        check_bool("antithetic", self.antithetic)
        n = game.n_players
        if n == 1:
            ends = game(full_and_empty(1))
            return np.array([ends[1] - ends[0]]), 1, 1, float(ends[0]), float(ends[1])
        total = np.zeros(n)
        count, rounds, ends = 0, 0, np.zeros(2)
        per = (2 if self.antithetic else 1) * (n - 1)  # new coalitions one draw can cost at most
        for r in range(MAX_ROUNDS):
            k = (game.remaining - (2 if r == 0 else 0)) // per  # round 0 also pays for v(∅) and v(N)
            if k == 0:
                break
            perms = rng.permuted(np.broadcast_to(np.arange(n), (k, n)), axis=1)
            if self.antithetic:
                perms = np.stack([perms, perms[:, ::-1]], axis=1).reshape(2 * k, n)
            values = game(prefix_coalitions(perms).reshape(-1, n)).reshape(perms.shape[0], n + 1)
            ends = values[0, [0, n]]
            total += np.bincount(perms.ravel(), weights=np.diff(values, axis=1).ravel(), minlength=n)
            count += perms.shape[0]
            rounds += 1
            if game.n_queries == 2**n:  # every coalition known: more permutations would be free, stop
                break
        return total, count, rounds, float(ends[0]), float(ends[1])

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        total, count, rounds, empty, full = self._permutation_sums(game, rng)
        return {"attributions": total / count,
                "extras": {"empty": empty, "full": full, "n_permutations": int(count), "n_rounds": int(rounds)}}


class MMSHAP(PermutationShapley):
    """MM-SHAP modality shares (Parcalabescu & Frank, ACL 2023) on permutation Shapley values.

    The per-player values are those of :class:`PermutationShapley` (MM-SHAP runs shap's
    permutation explainer, ``max_evals=500``, over text tokens and image patches together). The
    modality contribution is MM-SHAP's **sum of absolute values**
    ``Φ_m = Σ_{i ∈ m} |φ_i|``, and the shares ``Φ_m / Σ_k Φ_k``
    (:meth:`~mxbench.explainers.base.Explanation.modality_shares`) are its T-SHAP / V-SHAP
    generalised to any number of modalities (``compute_mm_score`` in Heidelberg-NLP/MM-SHAP;
    see ``docs/reconstructions.md`` §10). The signed per-modality sums are kept in
    ``extras["signed_modality"]``. Unlike the Shapley value of the modality game, ``Φ_m`` counts
    negative and cancelling contributions as contributions, and is not efficient.

    Parameters
    ----------
    budget : int, optional
        As :class:`PermutationShapley` (default 500).
    antithetic : bool
        As :class:`PermutationShapley`.
    random_state : int or None
        Seed of the permutations.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers.permutation import MMSHAP
    >>> game = lambda c: 3.0 * c[:, 0] - 1.0 * c[:, 1] + 1.0 * c[:, 2]
    >>> e = MMSHAP(budget=8).explain(game, n_players=3, modality_of=[0, 0, 1], modality_names=["txt", "img"])
    >>> e.modality.tolist(), e.modality_shares().tolist(), e.extras["signed_modality"]
    ([4.0, 1.0], [0.8, 0.2], [2.0, 1.0])
    """

    name = "mmshap"

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        out = dict(super()._explain(game, rng))
        phi = out["attributions"]
        n_mod = len(game.modality_names)
        out["modality"] = modality_sums(np.abs(phi), game.modality_of, n_mod)
        out["extras"] = {**out["extras"], "signed_modality": modality_sums(phi, game.modality_of, n_mod).tolist()}
        return out
