"""``check_explainer``: a conformance suite for black-box explainers, run on small planted games.

Like scikit-learn's ``check_estimator``, :func:`check_explainer` runs an explainer on a fixed,
deterministic set of small planted games (:data:`CHECK_SPECS`, smallest first) and checks
what the explainer *claims*, each check by name:

=================== ============================================================ ===============
claim               what is checked, on every game where it applies               threshold
=================== ============================================================ ===============
``efficiency``      ``|Σ φ - (v(N) - v(∅))| <= t · scale``                        ``t`` (1e-6)
``symmetry``        ``|φ_i - φ_j| <= t · scale`` for players symmetric in the game ``t`` (1e-6)
``dummy``           ``|φ_i| <= t · scale`` for dummy players                      ``t`` (1e-6)
``linearity``       ``|φ(v + w) - φ(v) - φ(w)| <= t · scale`` (w: the next        ``t`` (1e-6)
                    instance of the same task)
``sii_symmetry``    ``|I_ik - I_jk| <= t · scale`` for symmetric ``i, j``          ``t`` (1e-6)
``interaction_sign`` the planted synergy / redundancy read right from the signs   ``t`` (1.0)
                    (accuracy of :func:`~mxbench.validation.recovery.pair_kind_accuracy`
                    ``>= t``)
``budget``          no :class:`~mxbench.explainers.base.BudgetExceeded`; the game   none
                    sees at most ``budget`` distinct coalitions and exactly
                    ``n_queries`` of them (at the configured budget and at
                    ``min_budget(n)``)
``determinism``     two fresh copies with the same ``random_state`` give the same ``t`` (0.0)
                    explanation (``max |difference| <= t · scale``)
``recovery``        mean over the games of a recovery metric ``>= t``            ``t`` (0.9)
                    (``recovery`` = AUROC of ``|φ|``, material planted vs
                    distractor players; ``recovery@<metric>`` for another one)
=================== ============================================================ ===============

``scale`` is the game's size, ``Σ_i |φ*_i|`` of its exact Shapley values ``φ*`` (1 when they are
all zero), so thresholds are relative and lie in ``[0, 1]``. The axioms are measured by
:mod:`mxbench.validation.axioms` and recovery by :mod:`mxbench.validation.recovery`: one piece
of code per idea. A check that has nothing to look at on a game (no symmetric pair, no dummy) is
*not applicable* there. With ``claims="all"`` a claim that does not apply to the explainer at all
is reported *not applicable* with its ``reason``, not failed: the pair claims when it gives no pair
interactions, ``budget`` and ``determinism`` when it has no such parameter;
:func:`parametrize_with_checks` skips those cases with the reason. ``check_explainer`` also takes a
plain function of the game or an object with ``explain(game)``
(:func:`~mxbench.explainers.as_explainer`). Every run also checks that ``explain`` returns a well-formed
:class:`~mxbench.explainers.base.Explanation` with finite values (check ``explains``).

A failed check reports its **smallest counterexample**: the first failing game in size order
(fewest players), described by its spec, planted terms and latents, with the numbers.

The suite lives in modules by concept, and every name is importable from here:
:mod:`~mxbench.testing.checks.claims` (claims and thresholds), :mod:`~mxbench.testing.checks.games`
(the planted games), :mod:`~mxbench.testing.checks.running` (running an explainer on a game),
:mod:`~mxbench.testing.checks.axioms`, :mod:`~mxbench.testing.checks.conduct` and
:mod:`~mxbench.testing.checks.recovery` (the checks by family), :mod:`~mxbench.testing.checks.report`
(verdicts and counterexamples), :mod:`~mxbench.testing.checks.suite` (the entry points) and
:mod:`~mxbench.testing.checks.text` (how messages write numbers).
"""

from __future__ import annotations

from mxbench.testing.checks.claims import (CLAIMS, DEFAULT_RECOVERY_METRIC, DEFAULT_THRESHOLDS,  # noqa: F401
                                           RECOVERY_METRICS, ClaimError, default_claims, resolve_claims)
from mxbench.explainers.base import clone
from mxbench.testing.checks.games import CHECK_SPECS, PlantedCase, check_games, check_tasks
from mxbench.testing.checks.report import CheckReport, CheckResult
from mxbench.testing.checks.running import _Recorder  # noqa: F401 - the recording game, used by tests
from mxbench.testing.checks.suite import check_explainer, parametrize_with_checks

__all__ = ["CLAIMS", "DEFAULT_THRESHOLDS", "RECOVERY_METRICS", "CHECK_SPECS", "ClaimError", "PlantedCase",
           "CheckResult", "CheckReport", "check_tasks", "check_games", "default_claims", "resolve_claims",
           "check_explainer", "parametrize_with_checks", "clone"]
