"""LEMON (Qin et al., arXiv 2602.02786): a modality-aware surrogate with sparse group lasso.

The paper's method section is not public; :class:`LEMON` says what is reconstructed.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from mxbench.explainers.base import (BudgetedGame, Explainer, coalition_keys, full_and_empty, modality_coalitions,
                                     modality_sums)
from mxbench.oracles.moebius import coalition_index, indices_from_values
from mxbench.explainers.params import check_bool, check_choice, check_int, check_positive, check_unit
from mxbench.explainers.surrogate import (
    balanced_sets,
    cosine_distance_to_full,
    ends_masks,
    fill_budget,
    group_norms,
    lime_kernel,
    modality_masks,
    sgl_lambda_max,
    sgl_lambda_null,
    sparse_group_lasso,
    weighted_ridge,
)


#: The budget used when ``budget`` is None (chosen from the measurements on the ``standard`` suite).
DEFAULT_BUDGET = 1024
#: The pilot fit of the ``lam="auto"`` rule runs at this fraction of ``λ_max``.
PILOT_RATIO = 0.01
#: The sampling designs: ``"ends"`` (the default) and ``"lime"`` (the paper's wording).
VARIANTS = ("ends", "lime")
#: ``lam="auto"`` of the ``"ends"`` design: this fraction of each end fit's ``λ_max``.
ENDS_LAM_RATIO = 0.01
#: The rules for ``λ`` besides a number: the design's default, a fraction of ``λ_max``, the noise-calibrated rule.
LAM_RULES = ("auto", "ratio", "null")
#: Each design's defaults for the parameters left None: the l1 share ``alpha``, ``refit`` and
#: FISTA's ``tol`` (measured on the ``paper`` and ``standard`` suites; ``docs/notes-2026-12-06.md``).
#: ``"ends"``: the budget is spent in this many rounds by default (1: one batch, no screening).
SCREEN_ROUNDS = 4
#: ``"ends"``: a set whose change is at most this fraction of the largest change seen is a null set.
SCREEN_TOL = 1e-9
#: ``"ends"``: after a round, sets are sized to hold about this many unscreened active players.
ACTIVE_PER_SET = 1.0
#: ``"ends"``: an end fit with at least this many rows per player left by the screen is least squares.
OLS_ROWS_PER_PLAYER = 4
VARIANT_DEFAULTS = {"ends": {"alpha": 0.95, "refit": False, "tol": 1e-7},
                    "lime": {"alpha": 0.25, "refit": True, "tol": 1e-10}}


def default_set_size(n_players: int) -> int:
    """Players per inserted or removed set of the ``"ends"`` design: ``round(√n / 2)``, at least 1.

    Measured on the ``paper`` suite (244-1000 players): sets of about ``√n / 2`` players put
    about one planted player in each at the suite's densities (5-33% planted players); smaller
    sets leave most rows empty of signal, larger ones add interactions inside a set.

    Parameters
    ----------
    n_players : int

    Returns
    -------
    int

    Examples
    --------
    >>> [default_set_size(n) for n in (4, 64, 244, 1000)]
    [1, 4, 8, 16]
    """
    return max(1, int(round(np.sqrt(n_players) / 2)))


def _unpenalised(end: str, coef: np.ndarray) -> dict[str, Any]:
    """An end fit without penalty (least squares, or no player left): the fields of a penalised one."""
    return {"end": end, "coef": coef, "sgl_coef": coef.copy(), "intercept": 0.0, "lam": 0.0, "lam_max": 0.0,
            "n_iter": 0, "converged": True}


class LEMON(Explainer):
    """LEMON: one modality-aware linear surrogate with sparse group lasso, giving feature
    attributions and modality contributions together.

    **Reconstruction.** The LEMON paper (Qin et al., arXiv 2602.02786) publishes only its
    abstract: a model-agnostic, LIME-style surrogate with *group-structured sparsity* (sparse
    group lasso, one group per modality) that yields modality-level and feature-level
    explanations jointly, with few forward passes and stable re-runs. Its sampling, kernel,
    penalty weights, solver, choice of ``λ`` and modality aggregate are unpublished; what follows
    is our reconstruction (``docs/reconstructions.md`` §2 and ``docs/design.md`` §7), not the paper's equations.

    Both designs share the surrogate and its outputs. **Surrogate**: the SGL form of Simon et
    al. (2013), ``min (1/2) Σ π̄_i (y_i - β0 - z_iᵀβ)² + λ[(1-α) Σ_m √d_m ‖β_{G_m}‖₂ + α‖β‖₁]``
    with ``π̄ = π/Σπ``, solved by FISTA (:func:`~mxbench.explainers.surrogate.sparse_group_lasso`),
    then, with ``refit`` (as in the relaxed lasso), the selected support refitted by least
    squares where it has fewer players than rows. **Modality contributions**: the **exact** Shapley values
    of the modality game ``u(A) = v(players of the modalities in A present)``, read off the ``2^M``
    whole-modality coalitions, which every explanation evaluates first when ``2^M`` is at most
    half the budget (else they fall back to ``Σ_{j∈G_m} β_j``; ``extras["modality_exact"]``).

    **``variant="ends"`` (default: the stronger at budgets of about ``n`` and below).** The rest
    of the budget goes to sets ``R`` of ``set_size`` players (default ``round(√n / 2)``,
    :func:`default_set_size`), alternately *inserted* into the empty coalition (the query is
    ``R``) and *removed* from the full one (``N ∖ R``), drawn so that every player is in as many
    sets as any other (:func:`~mxbench.explainers.surrogate.balanced_sets`), in ``rounds``
    rounds of equal shares of the budget. **Screening**: after each round, a set whose gain
    (or drop) is at most ``screen_tol`` times the largest change seen certifies its players
    as without effect at that end, and later rounds draw that end's sets from the other players
    only, sized (unless ``set_size`` is given) to hold about ``ACTIVE_PER_SET`` of them; the
    end's fit then has only the players never certified (group testing on the game's exact
    dummies: a game without exact dummies, such as a trained model's, screens nothing unless
    ``screen_tol`` is raised above its distractors' size, and a set whose effects cancel exactly
    screens its players out). Games too small to hold ``budget`` distinct sets of one size
    get one batch of sets of sizes ``1 .. 2·set_size - 1`` instead
    (:func:`~mxbench.explainers.surrogate.ends_masks`). Two surrogates, one per end, are fitted
    without intercept and with unit weights: gains ``v(R) - v(∅) ≈ Σ_{j∈R} γ_j`` and drops
    ``v(N) - v(N ∖ R) ≈ Σ_{j∈R} δ_j``; the attributions are ``(γ + δ) / 2``. Near an end, a set
    of a few players rarely holds two players of one interaction, so each row is close to a
    *linear* measurement of a sparse vector (compressed sensing: fewer rows than players
    suffice); ``γ_j = v({j}) - v(∅)`` sees redundant players, ``δ_j = v(N) - v(N ∖ j)`` sees
    synergistic ones, and ``(γ_j + δ_j) / 2`` is the Shapley value of any game without
    interactions of order three or more. ``lam="auto"`` is ``0.01 λ_max`` of each end fit
    (``ENDS_LAM_RATIO``) and ``alpha`` defaults to 0.95: the modality groups of a
    few hundred players each are kept, but the l1 part selects.
    **``variant="lime"`` (the paper's wording: "extends LIME").** Random masks in which each
    modality keeps its players at its own keep rate, drawn uniformly per sample and modality
    (or, with probability ``whole_rate``, wholly on or off); the ``lime`` kernel
    ``π = sqrt(exp(-d²/w²))``, ``d = 1 - sqrt(|S|/n)``, ``w = kernel_width``; one fit with an
    intercept; ``alpha`` 0.25; refitted; ``lam="auto"`` is the noise-calibrated rule ``"null"``: a pilot fit
    at ``0.01 λ_max`` gives residuals ``r``; ``λ`` is the largest ``λ_max`` of ``n_flips``
    sign-flipped copies of ``r`` (:func:`~mxbench.explainers.surrogate.sgl_lambda_null`), capped
    at ``λ_max``: the penalty at which residual-sized noise selects nothing, so a modality
    without signal gets an exactly zero group (``lam="null"`` applies it to either design).

    ``extras`` holds the ``variant``, ``intercept``, ``lam``, ``lam_max`` (one per end fit for
    ``"ends"``), ``sgl_coef``, ``end_coef`` (``"ends"``: ``{"insertion": γ, "removal": δ}``),
    ``set_size``, ``rounds``, ``first_set_size`` and ``screened`` (``"ends"`` with screening: the
    players certified without effect, per end), ``exact_table`` (``"ends"``: the design holds all ``2^n`` coalitions of a small
    game, so the attributions are its exact Shapley values and there is no fit), the ``group_norms`` ``‖β_{G_m}‖``, ``group_zero``, ``surrogate_modality``
    (``Σ_{j∈G_m} β_j``), ``modality_exact``, ``modality_values`` (``u`` on the ``2^M`` coalitions,
    bit ``m`` = modality ``m``, when exact), ``n_samples`` (masks in the fit, repeats included),
    ``n_iter`` and ``converged``.

    Parameters
    ----------
    budget : int, optional
        The most distinct coalitions evaluated (at least 8; default ``DEFAULT_BUDGET``).
    random_state : int, optional
        Seed of the sampler and of the sign flips.
    variant : {"ends", "lime"}
        The sampling design and weighting (above).
    set_size : int, optional
        ``"ends"``: the players per inserted or removed set (>= 1; default ``round(√n / 2)``).
    kernel_width : float
        ``"lime"``: width of the LIME kernel on the cosine distance (> 0; ``lime``'s 0.25).
    alpha : float, optional
        The l1 share of the penalty, in ``[0, 1]`` (1: lasso, 0: group lasso); None: the
        design's default (``VARIANT_DEFAULTS``: 0.95 for ``"ends"``, 0.25 for ``"lime"``).
    lam : {"auto", "ratio", "null"} or float
        The penalty ``λ >= 0``, or a rule: ``"ratio"`` (``0.01 λ_max``), ``"null"`` (noise-calibrated),
        ``"auto"`` (the design's own: ``"ratio"`` for ``"ends"``, ``"null"`` for ``"lime"``).
    n_flips : int
        Sign flips of the ``"null"`` rule (>= 1).
    refit : bool, optional
        Refit the selected support by least squares; None: the design's default (``"ends"``:
        False, the shrunk coefficients rank better at budgets below ``n``; ``"lime"``: True).
    whole_rate : float
        ``"lime"``: per sample and modality, the probability that the modality is wholly on or
        off, in ``[0, 1]``.
    max_iter : int
        FISTA iterations at most (>= 1).
    tol : float, optional
        FISTA's relative step tolerance (> 0); None: the design's default (``"ends"``: 1e-7,
        ample for a ranking; ``"lime"``: 1e-10).
    rounds : int
        ``"ends"``: rounds of the design (>= 1; default ``SCREEN_ROUNDS`` = 4; 1: one batch,
        no screening).
    screen_tol : float
        ``"ends"``: a set whose change is at most this fraction of the largest change seen
        certifies its players as without effect at its end (>= 0; default ``SCREEN_TOL`` = 1e-9:
        exact dummies only; 0 screens on exact zeros only).

    Notes
    -----
    Measured on the planted games of the ``paper`` suite (244-1000 players; 8 instances and 3
    seeds; ``benchmarks/bench_scale.py``; material AUROC as :mod:`mxbench.validation` counts it),
    ``"ends"`` at ``n/2``, ``n`` and ``2n`` queries: 0.98 / 1.00 / 1.00 (``paper-img-txt``),
    0.94 / 1.00 / 1.00 (``paper-tab-img-txt``), 1.00 / 1.00 / 1.00 (``paper-1k``; 0.97 at
    ``n/4``), 0.77 / 0.98 / 1.00 (``paper-dense``, 46 terms over 86 of 260 players: at ``n/2``
    fewer queries than two per active player); ``"lime"`` on the same games: 0.77 / 0.72 / 0.92,
    0.73 / 0.68 / 0.87, 0.90 / 0.83 / 0.97, 0.69 / 0.66 / 0.85, and needs 4-8n queries for 0.95.
    ``"ends"`` takes 0.13-0.29 of KernelSHAP's seconds at the same budget (2n-8n, the game's own
    time excluded). The modality shares are exact (error below 1e-12) at every budget from
    ``2 · 2^M``.

    Examples
    --------
    >>> import numpy as np
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]    # player 3 (modality 1) is a dummy
    >>> e = LEMON(budget=64).explain(game, n_players=4, modality_of=[0, 0, 0, 1])
    >>> e.modality.tolist(), e.extras["group_zero"], e.n_queries <= 64
    ([3.0, 0.0], [False, True], True)
    >>> bool(np.all(np.abs(e.attributions[:3]) > 0)), float(e.attributions[3])
    (True, 0.0)
    >>> LEMON(budget=64, variant="lime").explain(game, n_players=4, modality_of=[0, 0, 0, 1]).extras["variant"]
    'lime'
    """

    name = "lemon"
    #: Not a Shapley estimate: sparse-group-lasso surrogate coefficients (``"ends"``: the mean of the
    #: insertion and removal effects, the Shapley value only on games without interactions of order >= 3).
    target_index = "LEMON"

    def __init__(self, budget: int | None = None, random_state: int | None = 0, variant: str = "ends",
                 set_size: int | None = None, kernel_width: float = 0.25, alpha: float | None = None,
                 lam: float | str = "auto", n_flips: int = 100, refit: bool | None = None,
                 whole_rate: float = 0.0, max_iter: int = 5000, tol: float | None = None,
                 rounds: int = SCREEN_ROUNDS, screen_tol: float = SCREEN_TOL) -> None:
        self.budget = budget
        self.random_state = random_state
        self.variant = variant
        self.set_size = set_size
        self.kernel_width = kernel_width
        self.alpha = alpha
        self.lam = lam
        self.n_flips = n_flips
        self.refit = refit
        self.whole_rate = whole_rate
        self.max_iter = max_iter
        self.tol = tol
        self.rounds = rounds
        self.screen_tol = screen_tol

    def default_budget(self, n_players: int) -> int:
        return DEFAULT_BUDGET

    def min_budget(self, n_players: int) -> int:
        return 8

    def _default(self, name: str) -> Any:
        return VARIANT_DEFAULTS[self.variant][name]

    def _check(self) -> dict[str, Any]:
        p = {"variant": check_choice("variant", self.variant, VARIANTS, expected=f"one of {VARIANTS}"),
             "set_size": check_int("set_size", self.set_size, 1, allow_none=True, expected="an integer >= 1"),
             "kernel_width": check_positive("kernel_width", self.kernel_width),
             "alpha": self._default("alpha") if self.alpha is None else check_unit("alpha", self.alpha),
             "whole_rate": check_unit("whole_rate", self.whole_rate),
             "n_flips": check_int("n_flips", self.n_flips, 1),
             "max_iter": check_int("max_iter", self.max_iter, 1),
             "rounds": check_int("rounds", self.rounds, 1),
             "screen_tol": check_positive("screen_tol", self.screen_tol, allow_zero=True),
             "tol": self._default("tol") if self.tol is None else check_positive("tol", self.tol)}
        lam = self.lam
        if isinstance(lam, str) and lam in LAM_RULES:
            p["lam"] = None
            p["lam_rule"] = ("ratio" if self.variant == "ends" else "null") if lam == "auto" else lam
        else:
            p["lam"] = check_positive("lam", lam, allow_zero=True,
                                      expected=f"one of {LAM_RULES} or a finite number >= 0")
        refit = check_bool("refit", self.refit, allow_none=True)
        p["refit"] = self._default("refit") if refit is None else refit
        return p

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        p = self._check()
        n, budget = game.n_players, int(game.budget)
        n_mod = len(game.modality_names)
        modality_of = game.modality_of
        exact = 2**n_mod <= budget // 2
        fixed = modality_coalitions(modality_of, n_mod) if exact else full_and_empty(n)
        screen: dict[str, Any] = {}
        keep = None
        r = p["set_size"] if p["set_size"] is not None else default_set_size(n)
        if p["variant"] == "ends" and math.comb(n, min(r, max(1, (n - 1) // 2))) >= budget:
            masks, y, keep, screen = self._screened_ends(game, fixed, budget, p, rng)
        else:  # the LIME design, or a game too small to hold enough distinct sets of one size
            if p["variant"] == "ends":
                draw = lambda k: ends_masks(n, k, r, rng, True)[0]  # noqa: E731
            else:
                r = None
                draw = lambda k: modality_masks(modality_of, n_mod, k, rng, p["whole_rate"])  # noqa: E731
            masks = fill_budget(draw, fixed, budget, max_draws=4 * budget)
            y = game(masks)
        if p["variant"] == "ends" and n <= 20 and len(np.unique(coalition_index(masks))) == 2**n:
            # the design holds every coalition (a game of a few players): the exact Shapley values
            table = np.empty(2**n)
            table[coalition_index(masks)] = y
            coef, _ = indices_from_values(table)
            intercept = float(y[0])
            summary = {"set_size": r, "exact_table": True}
        elif p["variant"] == "ends":
            n_fixed = len(fixed)  # the fixed rows run from the empty coalition (first) to the full one (last)
            fits = self._fit_ends(masks[n_fixed:], y[n_fixed:], float(y[0]), float(y[n_fixed - 1]),
                                  modality_of, p, rng, keep)
            coef = np.mean([q["coef"] for q in fits], axis=0)
            intercept = float(y[0])  # v(∅): the surrogate's value with every player absent
            summary = {"lam": [q["lam"] for q in fits], "lam_max": [q["lam_max"] for q in fits],
                       "sgl_coef": np.mean([q["sgl_coef"] for q in fits], axis=0),
                       "end_coef": {q["end"]: q["coef"] for q in fits}, "set_size": r, "exact_table": False,
                       **screen,
                       "n_iter": max(q["n_iter"] for q in fits), "converged": all(q["converged"] for q in fits)}
        else:
            w = lime_kernel(cosine_distance_to_full(masks), p["kernel_width"])
            fit = self._fit(masks.astype(np.float64), y, w, modality_of, p, rng, fit_intercept=True)
            coef, intercept = fit["coef"], fit["intercept"]
            summary = {k: fit[k] for k in ("lam", "lam_max", "sgl_coef", "n_iter", "converged")}
        norms = group_norms(coef, modality_of, n_mod)
        surrogate_modality = modality_sums(coef, modality_of, n_mod)
        extras: dict[str, Any] = {
            "variant": p["variant"], "intercept": float(intercept), **summary,
            "group_norms": norms.tolist(), "group_zero": [bool(v == 0) for v in norms],
            "surrogate_modality": surrogate_modality.tolist(), "modality_exact": exact,
            "n_samples": int(len(masks))}
        if exact:
            values = y[:2**n_mod]
            modality, _ = indices_from_values(values)
            extras["modality_values"] = values.tolist()
        else:
            modality = surrogate_modality
        return {"attributions": coef, "modality": modality, "extras": extras}

    def _fit(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, modality_of: np.ndarray, p: Mapping[str, Any],
             rng: np.random.Generator, fit_intercept: bool) -> dict[str, Any]:
        """One penalised fit: ``λ`` by the rule, sparse group lasso, then the refit on its support."""
        alpha = p["alpha"]
        solve = dict(max_iter=p["max_iter"], tol=p["tol"], fit_intercept=fit_intercept)
        lam_max = sgl_lambda_max(X, y, w, modality_of, alpha, fit_intercept)
        if p["lam"] is not None:
            lam = p["lam"]
        elif p["lam_rule"] == "ratio":
            lam = ENDS_LAM_RATIO * lam_max
        else:
            pilot = sparse_group_lasso(X, y, w, modality_of, PILOT_RATIO * lam_max, alpha, **solve)
            residuals = y - pilot.intercept - X @ pilot.coef
            lam = min(lam_max, sgl_lambda_null(X, residuals, w, modality_of, alpha, p["n_flips"], rng,
                                               fit_intercept))
        fit = sparse_group_lasso(X, y, w, modality_of, lam, alpha, **solve)
        coef, intercept = fit.coef, fit.intercept
        support = coef != 0
        if p["refit"] and support.any() and support.sum() < len(y):
            if fit_intercept:
                intercept, refitted = weighted_ridge(X[:, support], y, w, 0.0)
            else:
                sw = np.sqrt(w)
                refitted = np.linalg.lstsq(X[:, support] * sw[:, None], y * sw, rcond=None)[0]
            coef = np.zeros(X.shape[1])
            coef[support] = refitted
        return {"coef": coef, "intercept": float(intercept), "lam": float(lam), "lam_max": float(lam_max),
                "sgl_coef": fit.coef, "n_iter": fit.n_iter, "converged": fit.converged}

    def _screened_ends(self, game: BudgetedGame, fixed: np.ndarray, budget: int, p: Mapping[str, Any],
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], dict[str, Any]]:
        """The ``"ends"`` sample, drawn in ``rounds`` rounds of equal shares of the budget.

        Each round draws, alternately, sets to insert into ∅ from the insertion pool and sets
        to remove from N from the removal pool (:func:`balanced_sets`), and evaluates them. A
        set whose change (gain or drop) is at most ``screen_tol`` times the largest change seen
        is *null*: its players leave that end's pool (a player without effect when inserted,
        such as one of a synergy, stays in the removal pool, and the other way round). Then,
        unless ``set_size`` is given, each end's set size is chosen so that a set of its new pool
        holds about ``ACTIVE_PER_SET`` active players: the share of null sets in the round,
        ``(1 - ρ)^r``, gives the density ``ρ`` of the pool drawn from, and the players screened
        out raise it in the new pool (a round without a null set, as on a game without exact
        dummies, keeps the size). Rounds alternate the end of their first set. A pool that
        cannot hold twice a round's sets, and rows a round still cannot draw from its pools
        (repeats), are drawn from all players, in sets of the first round's size. Returns the
        masks (``fixed`` first), their values, the players kept per end (insertion, removal) and
        the summary for ``extras``.
        """
        n = game.n_players
        top = max(1, (n - 1) // 2)
        size = [min(p["set_size"] if p["set_size"] is not None else default_set_size(n), top)] * 2
        pools = [np.arange(n), np.arange(n)]
        masks, y = fixed, game(fixed)
        v_empty, v_full = float(y[0]), float(y[len(fixed) - 1])
        first_size = size[0]

        def drawer(pool_of: list[np.ndarray], first: int):
            live = [len(q) > 0 for q in pool_of]
            if not any(live):
                pool_of, live = [np.arange(n)] * 2, [True, True]
            # sets drawn from every player are of the first round's size
            sizes = [first_size if len(q) == n else size[e] for e, q in enumerate(pool_of)]

            def draw(k: int) -> np.ndarray:
                ends = (np.arange(k) + first) % 2 if all(live) else np.full(k, 0 if live[0] else 1)
                out = np.empty((k, n), dtype=bool)
                for e in (0, 1):
                    rows = ends == e
                    if rows.any():
                        sets = balanced_sets(n, pool_of[e], int(rows.sum()), sizes[e], rng)
                        out[rows] = ~sets if e else sets
                return out
            return draw

        rounds = p["rounds"]
        for k in range(rounds):
            target = len(fixed) + (budget - len(fixed)) * (k + 1) // rounds
            before = len(masks)
            # a pool too small to hold twice the round's sets of its size gives way to every player
            quota = (target - before) / 2
            roomy = [q if len(q) == 0 or math.comb(len(q), size[e]) >= 2 * quota else np.arange(n)
                     for e, q in enumerate(pools)]
            masks = fill_budget(drawer(roomy, k % 2), masks, target, max_draws=4 * budget)
            if len(np.unique(coalition_keys(masks))) < target:
                masks = fill_budget(drawer([np.arange(n)] * 2, k % 2), masks, target, max_draws=4 * budget)
            y = np.concatenate([y, game(masks[before:])])
            if rounds == 1:
                break
            removal = 2 * masks.sum(axis=1) > n
            change = np.where(removal, v_full - y, y - v_empty)
            scale = max(float(np.abs(change).max()), abs(v_full - v_empty))
            null = np.abs(change) <= p["screen_tol"] * scale
            null[:len(fixed)] = False
            new = np.zeros(len(masks), dtype=bool)
            new[before:] = True
            for e in (0, 1):
                rows = (removal == bool(e))
                sets = ~masks if e else masks
                kept = ~sets[rows & null].any(axis=0)
                pools[e] = np.flatnonzero(kept)
                fresh = rows & new
                zero = float(null[fresh].mean()) if fresh.any() else 0.0
                drawn = first_size if len(roomy[e]) == n else size[e]  # the size the round's sets had
                if p["set_size"] is None and zero > 0.0:  # the density of active players in the new pool
                    rho = 1.0 - zero ** (1.0 / drawn) if zero < 1.0 else 1.0 / (2 * drawn)
                    rho = min(1.0, rho * max(1, len(roomy[e])) / max(1, len(pools[e])))
                    size[e] = int(max(1, min(round(ACTIVE_PER_SET / rho), max(1, len(pools[e]) // 2), top)))
        keep = [np.isin(np.arange(n), q) for q in pools]
        return masks, y, keep, {"first_set_size": first_size, "rounds": rounds,
                          "screened": {"insertion": int(n - len(pools[0])), "removal": int(n - len(pools[1]))}}

    def _fit_ends(self, masks: np.ndarray, y: np.ndarray, v_empty: float, v_full: float, modality_of: np.ndarray,
                  p: Mapping[str, Any], rng: np.random.Generator,
                  keep: list[np.ndarray] | None = None) -> list[dict[str, Any]]:
        """The two end fits on the sampled sets (the whole-modality coalitions only anchor them):
        gains ``v(R) - v(∅)`` on the inserted sets, drops ``v(N) - v(N∖R)`` on the removed ones (a
        row of more than ``n/2`` players removes its complement)."""
        twice = 2 * masks.sum(axis=1)
        n = masks.shape[1]
        fits = []
        # a set of exactly n/2 players (two-player games) is both an insertion and a removal
        for end, rows in (("insertion", twice <= n), ("removal", twice >= n)):
            X = (~masks[rows] if end == "removal" else masks[rows]).astype(np.float64)
            t = (v_full - y[rows]) if end == "removal" else (y[rows] - v_empty)
            cols = np.ones(n, dtype=bool) if keep is None else keep[end == "removal"]
            if (keep is not None and X.any() and 0 < cols.sum() < n
                    and OLS_ROWS_PER_PLAYER * cols.sum() <= len(np.unique(coalition_keys(X > 0)))):
                # screening left far fewer players than rows: least squares, no shrinkage
                coef = np.linalg.lstsq(X[:, cols], t, rcond=None)[0]
                coef[np.abs(coef) <= p["screen_tol"] * float(np.abs(t).max())] = 0.0  # exact dummies: 0, not 1e-16
                full = np.zeros(n)
                full[cols] = coef
                fits.append(_unpenalised(end, full))
            elif X.any() and cols.any():
                fit = self._fit(X[:, cols], t, np.ones(len(t)), modality_of[cols], p, rng, fit_intercept=False)
                for key in ("coef", "sgl_coef"):
                    full = np.zeros(n)
                    full[cols] = fit[key]
                    fit[key] = full
                fits.append({"end": end, **fit})
            elif X.any():  # every player was screened out at this end: it contributes nothing
                fits.append(_unpenalised(end, np.zeros(n)))
        return fits
