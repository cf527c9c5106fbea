"""LIME (Ribeiro, Singh & Guestrin 2016) over all players: the flat multimodal baseline."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mxbench.explainers.base import BudgetedGame, Explainer
from mxbench.explainers.params import check_positive
from mxbench.explainers.surrogate import cosine_distance_to_full, lime_kernel, lime_masks, weighted_ridge


class LIME(Explainer):
    """LIME on the game's players, all modalities pooled (the "flat" baseline).

    Standard LIME as coded in the ``lime`` package, on binary masks:

    - **sampling** (``LimeTextExplainer``'s sampler): the first sample is the full coalition;
      each other removes ``k`` players uniformly at random, ``k`` uniform on ``1..n``;
    - **kernel**: ``π = sqrt(exp(-d² / kernel_width²))`` with ``d`` the cosine distance of the
      mask to the full coalition, ``1 - sqrt(|S|/n)`` (``lime``'s image and text distance;
      its text explainer's ``100 × cosine`` with width 25 is the same kernel);
    - **surrogate**: weighted ridge with an intercept, ``Ridge(alpha=ridge_alpha)`` fitted with
      ``sample_weight=π`` (``lime``'s default regressor, ``alpha=1``) on every player (``lime``
      keeps ``num_features=10`` by default; here all players are kept, so attributions exist
      for every player).

    Attributions are the ridge coefficients; modality contributions are their sums per
    modality. ``budget`` is ``lime``'s ``num_samples``: that many masks are drawn, repeated masks
    are evaluated once, so ``n_queries <= budget``. Defaults are ``lime``'s: ``num_samples=5000``
    (its text and tabular default; images use 1000), ``kernel_width=0.25``, ``alpha=1``.

    Parameters
    ----------
    budget : int, optional
        The number of sampled masks (default 5000).
    random_state : int, optional
        Seed of the sampler.
    kernel_width : float
        Width of the exponential kernel on the cosine distance (> 0).
    ridge_alpha : float
        The ridge penalty (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> game = lambda c: 1.0 + c @ np.array([2.0, -1.0, 0.0, 0.5])
    >>> e = LIME(budget=200, ridge_alpha=0.0).explain(game, n_players=4, modality_of=[0, 0, 1, 1])
    >>> (e.attributions.round(6) + 0.0).tolist(), e.modality.round(6).tolist(), e.n_queries <= 200
    ([2.0, -1.0, 0.0, 0.5], [1.0, 0.5], True)
    """

    name = "lime"
    #: Not a Shapley estimate: the coefficients of a ridge surrogate under the LIME kernel.
    target_index = "LIME"
    #: What :func:`mxbench.testing.check_explainer` checks by default besides budget and determinism.
    claims = ('linearity',)

    def __init__(self, budget: int | None = None, random_state: int | None = 0, kernel_width: float = 0.25,
                 ridge_alpha: float = 1.0) -> None:
        self.budget = budget
        self.random_state = random_state
        self.kernel_width = kernel_width
        self.ridge_alpha = ridge_alpha

    def default_budget(self, n_players: int) -> int:
        return 5000

    def min_budget(self, n_players: int) -> int:
        return 2

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        width = check_positive("kernel_width", self.kernel_width)
        ridge = check_positive("ridge_alpha", self.ridge_alpha, allow_zero=True)
        n = game.n_players
        masks = lime_masks(n, int(game.budget), rng)
        y = game(masks)
        w = lime_kernel(cosine_distance_to_full(masks), width)
        intercept, coef = weighted_ridge(masks.astype(np.float64), y, w, float(ridge))
        pred = intercept + masks @ coef
        wn = w / w.sum()
        ss_tot = float(wn @ (y - wn @ y) ** 2)
        score = 1.0 - float(wn @ (y - pred) ** 2) / ss_tot if ss_tot > 0 else 1.0
        return {"attributions": coef,
                "extras": {"intercept": float(intercept), "score": score, "n_samples": int(len(masks))}}
