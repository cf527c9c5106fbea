"""LEMON (Qin et al., arXiv 2602.02786): a modality-aware LIME surrogate with sparse group lasso.

The paper's method section is not public; this is the reconstruction of
``research/lemon_desiderata.md`` §1.2 (see :class:`LEMON` for what is reconstructed).
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Mapping

import numpy as np

from mxbench.errors import ExplainerError
from mxbench.explainers.base import BudgetedGame, Explainer, full_and_empty, modality_coalitions, modality_sums
from mxbench.explainers.exact import indices_from_values
from mxbench.explainers.lime import check_positive
from mxbench.explainers.surrogate import (
    cosine_distance_to_full,
    fill_budget,
    group_norms,
    lime_kernel,
    modality_masks,
    sgl_lambda_max,
    sgl_lambda_null,
    sparse_group_lasso,
)


def _check_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise ExplainerError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ExplainerError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


MODE, FACTOR, NFLIP = 'null', 1.0, 20


class LEMON(Explainer):
    """LEMON: one modality-aware linear surrogate with sparse group lasso, giving feature
    attributions and modality contributions together.

    **Reconstruction.** The LEMON paper (Qin et al. 2026) publishes only its abstract: a
    model-agnostic, LIME-style surrogate with *group-structured sparsity* (sparse group lasso)
    that yields modality-level and feature-level explanations jointly, with few forward passes
    and stable re-runs. Its sampling, kernel, penalty weights, solver, choice of ``λ`` and
    modality aggregate are unpublished; everything below them is our reconstruction
    (``research/lemon_desiderata.md`` §1.2), not the paper's equations:

    1. **Modality-aware sampling** (reconstructed). Every explanation evaluates all ``2^M``
       whole-modality coalitions (``M`` modalities: each modality wholly present or wholly
       absent), then fills the budget with random masks in which each modality, per sample, is
       wholly on or off (probability ``whole_rate``, fair coin) or keeps its players
       independently at a keep rate drawn uniformly on ``(0, 1)``. Sampling continues until
       ``budget`` distinct coalitions are drawn (repeated draws stay in the fit at no query
       cost).
    2. **Kernel** (the ``lime`` kernel, as the paper extends LIME): ``π = sqrt(exp(-d²/w²))``,
       ``d = 1 - sqrt(|S|/n)`` the cosine distance to the full coalition, ``w = kernel_width``.
    3. **Surrogate** (SGL form of Simon et al. 2013, one group per modality, reconstructed):
       ``min (1/2) Σ π̄_i (y_i - β0 - z_iᵀβ)² + λ[(1-α) Σ_m √d_m ‖β_{G_m}‖₂ + α‖β‖₁]`` with
       ``π̄ = π/Σπ`` and an unpenalised intercept, solved by FISTA
       (:func:`~mxbench.explainers.surrogate.sparse_group_lasso`). ``λ = lam_ratio · λ_max``
       unless ``lam`` is given, ``λ_max`` being the smallest ``λ`` that zeroes every coefficient
       on these samples (so the default is scale-free). A modality whose players carry no
       signal gets an exactly zero group.
    4. **Outputs.** Attributions are ``β``. The modality contributions are the **exact** Shapley
       values of the modality game ``u(A) = v(players of the modalities in A present)``, read
       off the ``2^M`` whole-modality coalitions (an exact sum over ``2^M`` terms): this is
       what makes the modality level cheap — ``2^M`` queries (4 for two modalities, 8 for
       three) buy it exactly, whatever ``n``. The paper's modality aggregate is unknown; when
       ``2^M`` exceeds half the budget, the whole-modality coalitions are skipped and the
       contributions fall back to ``Σ_{j∈G_m} β_j`` (``extras["modality_exact"]`` says which).

    ``extras`` holds the ``intercept``, ``lam``, ``lam_max``, the ``group_norms`` ``‖β_{G_m}‖``,
    ``group_zero`` (which groups are exactly zero), ``surrogate_modality`` (``Σ_{j∈G_m} β_j``),
    ``modality_exact``, ``modality_values`` (``u`` on the ``2^M`` coalitions, bit ``m`` =
    modality ``m``, when exact), ``n_samples``, ``n_iter`` and ``converged``.

    Parameters
    ----------
    budget : int, optional
        The most distinct coalitions evaluated (default ``max(256, 8 n)``, see below; at least 8).
    random_state : int, optional
        Seed of the sampler.
    kernel_width : float
        Width of the LIME kernel on the cosine distance (> 0; ``lime``'s 0.25).
    alpha : float
        The l1 share of the penalty, in ``[0, 1]`` (1: lasso, 0: group lasso).
    lam : float, optional
        The penalty ``λ >= 0``; None: ``lam_ratio · λ_max``.
    lam_ratio : float
        ``λ / λ_max`` when ``lam`` is None, in ``[0, 1]``.
    whole_rate : float
        Per sample and modality, the probability that the modality is wholly on or off, in ``[0, 1]``.
    max_iter : int
        FISTA iterations at most.
    tol : float
        FISTA's relative step tolerance (> 0).

    Notes
    -----
    The default budget and ``lam_ratio`` come from the measurements on the ``standard`` suite's
    planted games reported in the project's design notes.

    Examples
    --------
    >>> import numpy as np
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]    # player 3 (modality 1) is a dummy
    >>> e = LEMON(budget=64).explain(game, n_players=4, modality_of=[0, 0, 0, 1])
    >>> e.modality.tolist(), e.extras["group_zero"], e.n_queries <= 64
    ([3.0, 0.0], [False, True], True)
    >>> bool(np.all(np.abs(e.attributions[:3]) > 0)), float(e.attributions[3])
    (True, 0.0)
    """

    name = "lemon"

    def __init__(self, budget: int | None = None, random_state: int | None = 0, kernel_width: float = 0.25,
                 alpha: float = 0.5, lam: float | None = None, lam_ratio: float = 0.05, whole_rate: float = 0.3,
                 max_iter: int = 5000, tol: float = 1e-10) -> None:
        self.budget = budget
        self.random_state = random_state
        self.kernel_width = kernel_width
        self.alpha = alpha
        self.lam = lam
        self.lam_ratio = lam_ratio
        self.whole_rate = whole_rate
        self.max_iter = max_iter
        self.tol = tol

    def default_budget(self, n_players: int) -> int:
        return max(256, 8 * n_players)

    def min_budget(self, n_players: int) -> int:
        return 8

    def _check(self) -> dict[str, Any]:
        p = {"kernel_width": check_positive("kernel_width", self.kernel_width),
             "alpha": _check_unit("alpha", self.alpha),
             "lam_ratio": _check_unit("lam_ratio", self.lam_ratio),
             "whole_rate": _check_unit("whole_rate", self.whole_rate),
             "max_iter": _check_int("max_iter", self.max_iter, 1),
             "tol": check_positive("tol", self.tol),
             "lam": None}
        if self.lam is not None:
            lam = self.lam
            if isinstance(lam, bool) or not isinstance(lam, Real) or not np.isfinite(lam) or lam < 0:
                raise ExplainerError(f"lam: expected a finite number >= 0 or None, got {lam!r}")
            p["lam"] = float(lam)
        return p

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        p = self._check()
        n, budget = game.n_players, int(game.budget)
        n_mod = len(game.modality_names)
        modality_of = game.modality_of
        exact = 2**n_mod <= budget // 2
        fixed = modality_coalitions(modality_of, n_mod) if exact else full_and_empty(n)
        masks = fill_budget(lambda k: modality_masks(modality_of, n_mod, k, rng, p["whole_rate"]),
                            fixed, budget, max_draws=20 * budget)
        y = game(masks)
        w = lime_kernel(cosine_distance_to_full(masks), p["kernel_width"])
        X = masks.astype(np.float64)
        lam_max = sgl_lambda_max(X, y, w, modality_of, p["alpha"])
        if p["lam"] is not None:
            lam = p["lam"]
        elif MODE == "ratio":
            lam = p["lam_ratio"] * lam_max
        else:
            pilot = sparse_group_lasso(X, y, w, modality_of, p["lam_ratio"] * lam_max, p["alpha"], max_iter=p["max_iter"], tol=p["tol"])
            r = y - pilot.intercept - X @ pilot.coef
            lam = min(lam_max, FACTOR * sgl_lambda_null(X, r, w, modality_of, p["alpha"], NFLIP, rng))
        fit = sparse_group_lasso(X, y, w, modality_of, lam, p["alpha"], max_iter=p["max_iter"], tol=p["tol"])
        coef = fit.coef
        norms = group_norms(coef, modality_of, n_mod)
        surrogate_modality = modality_sums(coef, modality_of, n_mod)
        extras: dict[str, Any] = {
            "intercept": fit.intercept, "lam": float(lam), "lam_max": lam_max,
            "group_norms": norms.tolist(), "group_zero": [bool(v == 0) for v in norms],
            "surrogate_modality": surrogate_modality.tolist(), "modality_exact": exact,
            "n_samples": int(len(masks)), "n_iter": fit.n_iter, "converged": fit.converged}
        if exact:
            values = y[:2**n_mod]
            modality, _ = indices_from_values(values)
            extras["modality_values"] = values.tolist()
        else:
            modality = surrogate_modality
        return {"attributions": coef, "modality": modality, "extras": extras}
