"""The entry points: ``check_explainer`` and ``parametrize_with_checks``, each check run over the games."""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Sequence

from mxbench.explainers.base import Explainer
from mxbench.task import PlantedGame, Task
from mxbench.testing.checks.axioms import (_check_dummy, _check_efficiency, _check_linearity, _check_sii_symmetry,
                                           _check_symmetry)
from mxbench.testing.checks.claims import (CLAIMS, DEFAULT_RECOVERY_METRIC, DEFAULT_THRESHOLDS, ClaimError, _base,
                                           resolve_claims)
from mxbench.testing.checks.conduct import _check_budget, _check_determinism, _check_explains
from mxbench.testing.checks.games import PlantedCase, check_games
from mxbench.testing.checks.recovery import _check_interaction_sign, _check_recovery
from mxbench.testing.checks.report import CheckReport, CheckResult, _label, _verdict
from mxbench.testing.checks.running import _Case, _Outcome


#: The claims about pair interactions: not applicable to an explainer that gives none, when the
#: claim comes from ``claims="all"`` (a claim the user names is checked, and fails without pairs).
PAIR_CLAIMS = ("sii_symmetry", "interaction_sign", "recovery@pair_precision", "recovery@pair_kind_accuracy")


def _checker(claim: str, lenient: bool = False) -> Callable[[_Case, Any], _Outcome]:
    base = _base(claim)
    if base == "recovery":
        metric = claim.split("@", 1)[1] if "@" in claim else DEFAULT_RECOVERY_METRIC
        return functools.partial(_check_recovery, metric=metric, lenient=lenient)
    if claim in PAIR_CLAIMS:
        return functools.partial({"sii_symmetry": _check_sii_symmetry,
                                  "interaction_sign": _check_interaction_sign}[claim], lenient=lenient)
    return {"efficiency": _check_efficiency, "symmetry": _check_symmetry, "dummy": _check_dummy,
            "linearity": _check_linearity, "sii_symmetry": _check_sii_symmetry,
            "interaction_sign": _check_interaction_sign, "budget": _check_budget,
            "determinism": _check_determinism, "explains": _check_explains}[base]


def _as_cases(explainer: Explainer, games: Sequence[Any] | None) -> list[_Case]:
    if games is None:
        chosen = check_games()
    else:
        chosen = []
        for k, g in enumerate(games):
            if isinstance(g, PlantedCase):
                chosen.append(g)
            elif isinstance(g, PlantedGame):
                chosen.append(PlantedCase(g.task, g.instance))
            elif isinstance(g, Task):
                chosen.append(PlantedCase(g, 0))
            else:
                raise ClaimError(f"games[{k}]: expected a planted game (task.game(i)) or a Task, "
                                 f"got {type(g).__name__}")
        if not chosen:
            raise ClaimError("games: expected at least one game, got none")
        chosen.sort(key=lambda g: (g.n_players, len(g.task.terms)))
    return [_Case(explainer, g) for g in chosen]


def _checkable(explainer: Any) -> Any:
    """A function of the game or an object with ``explain(game)`` as an explainer
    (:func:`~mxbench.explainers.as_explainer`); anything else as it is (checked by :func:`resolve_claims`)."""
    from mxbench.explainers.wrap import _has_explain, _is_mxbench_explainer, as_explainer

    if isinstance(explainer, type) or _is_mxbench_explainer(explainer):
        return explainer
    if callable(explainer) or _has_explain(explainer):
        return as_explainer(explainer)
    return explainer


def _not_applicable(explainer: Any, claims: Any, resolved: dict[str, Any]) -> list[CheckResult]:
    """With ``claims="all"``: the conduct claims that do not apply to ``explainer``, as not-applicable results."""
    from mxbench.explainers.wrap import FunctionExplainer

    if not (isinstance(claims, str) and claims == "all"):
        return []
    params = explainer.get_params()
    if isinstance(explainer, FunctionExplainer):
        why = {"budget": f"{explainer.name} takes no budget keyword",
               "determinism": f"{explainer.name} takes neither rng nor random_state"}
    else:
        name = type(explainer).__name__
        why = {"budget": f"{name} has no budget parameter", "determinism": f"{name} has no random_state parameter"}
    lacks = {"budget": "budget" not in params, "determinism": "random_state" not in params}
    return [CheckResult(c, "not applicable", DEFAULT_THRESHOLDS[c], float("nan"), 0, reason=why[c])
            for c in ("budget", "determinism") if lacks[c] and c not in resolved]


def _ordered(results: list[CheckResult]) -> list[CheckResult]:
    """``explains`` first, then the claims in :data:`CLAIMS` order."""
    order = {c: k for k, c in enumerate(("explains", *CLAIMS))}
    return sorted(results, key=lambda r: order[_base(r.check)])


def _run_check(claim: str, threshold: Any, cases: list[_Case], budget_checked: bool,
               lenient: bool = False) -> CheckResult:
    """Run one check on every game and judge it (``lenient``: a pair claim without pairs does not apply)."""
    fn = _checker(claim, lenient)
    if claim == "explains":
        fn = functools.partial(fn, budget_checked=budget_checked)
    return _verdict(claim, threshold, [(c, fn(c, threshold)) for c in cases])


def check_explainer(explainer: Any, *, claims: Any = None, games: Sequence[Any] | None = None,
                    raise_on_failure: bool = True) -> CheckReport:
    """Check an explainer's claims on small planted games with exact truth.

    The explainer runs on each game of :func:`~mxbench.testing.checks.check_games` (or ``games``), smallest first;
    each claim becomes one check (see :mod:`mxbench.testing.checks` for what each checks and how
    its threshold reads); a failed check records its smallest counterexample. Deterministic: the
    games are fixed and every run of the explainer is a fresh copy
    (:func:`~mxbench.testing.checks.clone`) with its own ``random_state``.

    Parameters
    ----------
    explainer : Explainer, function or object with ``explain(game)``
        A black-box mxbench explainer instance (``explain(game) -> Explanation``): one of
        mxbench's, an adapter (:mod:`mxbench.explainers.adapters`) or your own subclass; a plain
        function of the game or a duck-typed object is wrapped by
        :func:`~mxbench.explainers.as_explainer` first.
    claims : None, "all", iterable of str, or dict
        What to check (see :func:`~mxbench.testing.checks.resolve_claims`); default: what the explainer declares
        (:func:`~mxbench.testing.checks.default_claims`). With ``"all"``, a claim that does not
        apply to the explainer is reported *not applicable* with its reason, never failed: the pair
        claims when it gives no pair interactions, ``budget`` and ``determinism`` without those
        parameters. A claim named in a list or dict is the caller's assertion and is checked as
        such (a pair claim fails without pairs; ``budget`` without a budget parameter is a
        :class:`ClaimError`).
    games : sequence of planted games or tasks, optional
        The games to run on (``task.game(i)``, :class:`~mxbench.testing.checks.PlantedCase`, or a Task: its instance 0);
        default :func:`~mxbench.testing.checks.check_games`.
    raise_on_failure : bool
        Raise one AssertionError listing every failed check (default); else return the report.

    Returns
    -------
    CheckReport

    Raises
    ------
    ClaimError
        Before anything runs: ``explainer`` is not an explainer instance, a claim is unknown or
        unsupported, or a threshold is outside ``[0, 1]``.
    AssertionError
        Some check failed (``raise_on_failure=True``); the message names each failed check,
        its smallest counterexample game (spec, terms, latents) and the numbers.

    Examples
    --------
    >>> from mxbench.explainers import Exact, KernelSHAP
    >>> report = check_explainer(Exact(), claims=["efficiency", "symmetry", "budget"])
    >>> print(report.results[2].line())
    symmetry          passed          threshold 1e-06  value 0       games 6
    >>> try:
    ...     check_explainer(KernelSHAP(budget=16), claims={"symmetry": 0.01})
    ... except AssertionError as e:
    ...     print(str(e).splitlines()[0])
    check_explainer(KernelSHAP(budget=16)): 1 of 2 checks failed: symmetry

    A plain function of the game, attributions only: the claims it cannot meet do not apply.

    >>> from mxbench.testing.examples import exact_shapley
    >>> report = check_explainer(exact_shapley, claims="all")
    >>> [(r.check, r.status) for r in report.results if r.check in ("sii_symmetry", "budget")]
    [('sii_symmetry', 'not applicable'), ('budget', 'not applicable')]
    >>> {r.check: r.reason for r in report.not_applicable}["budget"]
    'exact_shapley takes no budget keyword'
    """
    explainer = _checkable(explainer)
    resolved = resolve_claims(explainer, claims)
    cases = _as_cases(explainer, games)
    lenient = isinstance(claims, str) and claims == "all"
    results = [_run_check(c, t, cases, "budget" in resolved, lenient)
               for c, t in [("explains", None), *resolved.items()]]
    report = CheckReport(_label(explainer), _ordered(results + _not_applicable(explainer, claims, resolved)))
    if raise_on_failure and not report.passed:
        raise AssertionError(report.failure_message())
    return report


def _single_check(explainer: Explainer, *, claim: str, threshold: Any, budget_checked: bool,
                  lenient: bool = False, reason: str = "") -> CheckResult:
    """Run one check of :func:`parametrize_with_checks`; raise AssertionError when it fails, skip the
    test case (with the reason) when it does not apply."""
    import pytest

    if reason:  # known not to apply before running
        pytest.skip(f"{claim}: not applicable - {reason}")
    result = _run_check(claim, threshold, _as_cases(explainer, None), budget_checked, lenient)
    if not result.passed:
        raise AssertionError(CheckReport(_label(explainer), [result]).failure_message())
    if result.status == "not applicable":
        pytest.skip(f"{claim}: not applicable - {result.reason}")
    return result


def parametrize_with_checks(explainers: Iterable[Any], *, claims: Any = None) -> Any:
    """A pytest parametrize decorator: one test case per explainer and check (like scikit-learn's).

    Parameters
    ----------
    explainers : iterable of Explainer or (Explainer, claims) pairs
        The explainers to check; a pair gives that explainer its own claims.
    claims : optional
        The claims of every explainer given alone (see :func:`~mxbench.testing.checks.resolve_claims`).

    Returns
    -------
    pytest.mark.parametrize
        Over ``("explainer", "check")``; the test body calls ``check(explainer)``, which raises
        an AssertionError naming the check, the game and the numbers when it fails. Test ids
        are ``<explainer>-<check>``.

    Raises
    ------
    ClaimError
        At collection: an item is not an explainer, or its claims are bad.

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> mark = parametrize_with_checks([Exact()], claims=["efficiency", "dummy"])
    >>> mark.args[0], [p.id for p in mark.args[1]]
    ('explainer, check', ['Exact()-explains', 'Exact()-efficiency', 'Exact()-dummy'])

    In a test file::

        @parametrize_with_checks([MyExplainer(budget=64)], claims=["efficiency", "budget"])
        def test_my_explainer(explainer, check):
            check(explainer)
    """
    import pytest

    params = []
    for item in explainers:
        explainer, own = item if isinstance(item, tuple) else (item, claims)
        explainer = _checkable(explainer)
        resolved = resolve_claims(explainer, own)
        label = _label(explainer)
        lenient = isinstance(own, str) and own == "all"
        absent = {r.check: r for r in _not_applicable(explainer, own, resolved)}
        items = _ordered([CheckResult(c, "", t, 0.0, 0) for c, t in [("explains", None), *resolved.items()]]
                         + list(absent.values()))
        for r in items:
            check = functools.partial(_single_check, claim=r.check, threshold=r.threshold,
                                      budget_checked="budget" in resolved, lenient=lenient,
                                      reason=absent[r.check].reason if r.check in absent else "")
            params.append(pytest.param(explainer, check, id=f"{label}-{r.check}"))
    return pytest.mark.parametrize("explainer, check", params)
