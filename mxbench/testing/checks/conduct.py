"""The checks of how an explainer runs: a well-formed explanation, the budget kept, the same answer twice."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from mxbench.explainers.base import BudgetExceeded, Explanation, clone, min_budget_of
from mxbench.testing.checks.running import _NA, _Case, _explain, _Outcome
from mxbench.testing.checks.text import _error_text, _fmt, _fmt_array


def _check_budget(case: _Case, t: Any) -> _Outcome:
    runs = [case.main]
    explainer = case.explainer
    n = case.game.n_players
    try:
        low = min_budget_of(explainer, n, case.game.modality_of)
    except Exception:  # noqa: BLE001 - no usable minimum: nothing more to try
        low = None
    if low is not None and low != case.main.budget and low <= 2 ** min(n, 62):
        runs.append(_explain(clone(explainer, budget=low), case.game))
    problems, worst = [], 0.0
    for run in runs:
        where = f"budget={run.budget}" + (" (min_budget(n))" if run is not case.main else "")
        if isinstance(run.error, BudgetExceeded):
            problems.append(f"  with {where}: explain raised {_error_text(run.error)}")
            worst = max(worst, float("inf"))
            continue
        if run.error is not None:
            if run is not case.main:
                problems.append(f"  with {where}: explain raised {_error_text(run.error)} (min_budget(n) should work)")
            continue
        seen = run.recorder.distinct
        if run.budget is not None:
            worst = max(worst, seen / max(run.budget, 1))
            if seen > run.budget:
                problems.append(f"  with {where}: the game saw {seen} distinct coalitions, more than the budget")
        if run.explanation.n_queries != seen:
            problems.append(f"  with {where}: the explanation reports n_queries = {run.explanation.n_queries}, "
                            f"but the game saw {seen} distinct coalitions")
    if problems:
        return _Outcome("fail", worst, "\n".join(problems))
    if all(r.error is not None for r in runs):
        return _NA
    return _Outcome("pass", worst)


def _same(a: Explanation, b: Explanation, scale: float) -> tuple[float, str]:
    """The largest relative difference between two explanations, and a description of it."""
    def gap(x: np.ndarray, y: np.ndarray) -> float:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            return float("inf")
        both_nan = np.isnan(x) & np.isnan(y)
        d = np.where(both_nan, 0.0, np.abs(x - y))
        return float(np.nan_to_num(d, nan=np.inf).max(initial=0.0))
    parts = {"attributions": gap(a.attributions, b.attributions), "modality": gap(a.modality, b.modality)}
    ia, ib = a.interactions or {}, b.interactions or {}
    if set(ia) != set(ib):
        parts["interactions"] = float("inf")
    elif ia:
        keys = sorted(ia)
        parts["interactions"] = gap(np.array([ia[k] for k in keys]), np.array([ib[k] for k in keys]))
    worst = max(parts, key=parts.get)
    value = parts[worst] / scale
    if a.n_queries != b.n_queries:
        return max(value, float("inf")), f"  n_queries differ: {a.n_queries} and {b.n_queries}"
    text = (f"  {worst} differ by up to {_fmt(parts[worst])}\n  run 1: {_fmt_array(a.attributions)}\n"
            f"  run 2: {_fmt_array(b.attributions)}")
    return value, text


def _check_determinism(case: _Case, t: float) -> _Outcome:
    if case.main.explanation is None:
        return _NA
    seed = case.explainer.random_state
    if seed is None:  # the configured run is random on purpose: compare two seeded copies instead
        seed = 0
        first = _explain(clone(case.explainer, random_state=0), case.game)
    else:
        first = case.main
    second = _explain(clone(case.explainer, random_state=copy.deepcopy(seed)), case.game)
    if first.error is not None or second.error is not None:
        err = first.error or second.error
        return _Outcome("fail", float("inf"), f"  a second run with the same random_state raised {_error_text(err)}")
    value, text = _same(first.explanation, second.explanation, case.scale)
    if value <= t:
        return _Outcome("pass", value)
    return _Outcome("fail", value, f"  two fresh copies with random_state={seed!r} explain the game differently:\n"
                    + text + f"\n  largest difference = {_fmt(value)} x scale > threshold {t:g} x scale")


def _check_explains(case: _Case, t: Any, budget_checked: bool = True) -> _Outcome:
    run = case.main
    if run.error is not None:
        if isinstance(run.error, BudgetExceeded) and budget_checked:
            return _Outcome("n/a", detail="explain went past its budget, which the budget check judges")
        return _Outcome("fail", float("nan"), f"  explain raised {_error_text(run.error)}")
    e = run.explanation
    tr = case.truth
    problems = []
    if not isinstance(e, Explanation):
        return _Outcome("fail", float("nan"), f"  explain returned {type(e).__name__}, not an Explanation")
    if e.attributions.shape != (tr.n_players,):
        problems.append(f"  {e.attributions.shape[0]} attributions for {tr.n_players} players")
    elif not np.all(np.isfinite(e.attributions)):
        problems.append(f"  non-finite attributions {_fmt_array(e.attributions)}")
    if not np.all(np.isfinite(e.modality)):
        problems.append(f"  non-finite modality contributions {_fmt_array(e.modality)}")
    bad = [k for k, v in (e.interactions or {}).items()
           if not (0 <= k[0] < k[1] < tr.n_players) or not math.isfinite(v)]
    if bad:
        problems.append(f"  bad interactions at pairs {bad[:3]}")
    return _Outcome("fail", float("nan"), "\n".join(problems)) if problems else _Outcome("pass", 0.0)
