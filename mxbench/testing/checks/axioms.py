"""The axiom checks: efficiency, symmetry, dummy, SII symmetry and linearity, relative to the game's scale."""

from __future__ import annotations

from typing import Callable

import numpy as np

from mxbench.explainers.base import Explanation, clone
from mxbench.testing.checks.running import _NA, _Case, _main_or_na, _no_pairs, _Outcome, _rel, _scale
from mxbench.testing.checks.text import _error_text, _fmt, _fmt_array


def _axiom(case: _Case, t: float, name: str, detail: Callable[[Explanation], str]) -> _Outcome:
    from mxbench.validation import axioms

    e = _main_or_na(case)
    if e is None:
        return _NA
    rows = getattr(axioms, name)(e, case.truth)
    if not rows or not np.isfinite(rows[0]["value"]):
        return _NA
    value = _rel(rows[0]["value"], case.scale)
    if value <= t:
        return _Outcome("pass", value)
    return _Outcome("fail", value, detail(e) + f"\n  violation = {_fmt(rows[0]['value'])} = {_fmt(value)} x scale "
                    f"{_fmt(case.scale)} > threshold {t:g} x scale")


def _check_efficiency(case: _Case, t: float) -> _Outcome:
    tr = case.truth
    return _axiom(case, t, "efficiency", lambda e: (
        f"  sum(attributions) = {_fmt(e.attributions.sum())}, but v(N) - v(∅) = {_fmt(tr.v_full)} - "
        f"{_fmt(tr.v_empty)} = {_fmt(tr.delta)}\n  attributions  = {_fmt_array(e.attributions)}\n"
        f"  exact Shapley = {_fmt_array(tr.shapley)}"))


def _check_symmetry(case: _Case, t: float) -> _Outcome:
    tr = case.truth

    def detail(e: Explanation) -> str:
        pairs = tr.symmetric_pairs()
        k = int(np.argmax(np.abs(e.attributions[pairs[:, 0]] - e.attributions[pairs[:, 1]])))
        i, j = pairs[k]
        names = tr.player_names
        return (f"  players {names[i]} and {names[j]} are symmetric in the game (exact Shapley "
                f"{_fmt(tr.shapley[i])}, {_fmt(tr.shapley[j])}), but got {names[i]}: {_fmt(e.attributions[i])}, "
                f"{names[j]}: {_fmt(e.attributions[j])}\n  attributions  = {_fmt_array(e.attributions)}")
    return _axiom(case, t, "symmetry", detail)


def _check_dummy(case: _Case, t: float) -> _Outcome:
    tr = case.truth

    def detail(e: Explanation) -> str:
        dummies = np.flatnonzero(~tr.active())
        k = int(dummies[np.argmax(np.abs(e.attributions[dummies]))])
        return (f"  player {tr.player_names[k]} is a dummy (it changes no coalition's value), but got "
                f"{_fmt(e.attributions[k])}\n  attributions  = {_fmt_array(e.attributions)}")
    return _axiom(case, t, "dummy", detail)


def _check_sii_symmetry(case: _Case, t: float, lenient: bool = False) -> _Outcome:
    e = _main_or_na(case)
    if e is None:
        return _NA
    if not e.interactions:
        return _no_pairs(e, lenient)
    tr = case.truth

    def detail(e: Explanation) -> str:
        m = e.interaction_matrix(fill=np.nan)
        worst, text = -1.0, ""
        for i, j in tr.symmetric_pairs():
            for k in range(tr.n_players):
                if k in (i, j) or not (np.isfinite(m[i, k]) and np.isfinite(m[j, k])):
                    continue
                d = abs(m[i, k] - m[j, k])
                if d > worst:
                    n = tr.player_names
                    worst, text = d, (f"  players {n[i]} and {n[j]} are symmetric, but I({n[i]}, {n[k]}) = "
                                      f"{_fmt(m[i, k])} and I({n[j]}, {n[k]}) = {_fmt(m[j, k])}")
        return text
    return _axiom(case, t, "sii_symmetry", detail)


def _check_linearity(case: _Case, t: float) -> _Outcome:
    from mxbench.validation import axioms

    e = _main_or_na(case)
    if e is None:
        return _NA
    g2 = case.game2
    explainer = clone(case.explainer)
    try:
        rows = axioms.linearity(e, case.truth, game=case.game, explainer=explainer, game2=g2)
    except Exception as err:  # noqa: BLE001
        return _Outcome("fail", float("nan"), f"  explaining w or v + w raised {_error_text(err)}")
    scale = case.scale + _scale(g2.truth)
    value = _rel(rows[0]["value"], scale)
    if value <= t:
        return _Outcome("pass", value)
    phi2 = clone(case.explainer).explain(g2).attributions  # for the message only
    return _Outcome("fail", value, (
        f"  w = the game of instance {g2.instance} of the same task; max_i |φ_i(v + w) - φ_i(v) - φ_i(w)| = "
        f"{_fmt(rows[0]['value'])} = {_fmt(value)} x scale {_fmt(scale)} > threshold {t:g} x scale\n"
        f"  φ(v) = {_fmt_array(e.attributions)}\n  φ(w) = {_fmt_array(phi2)}\n"
        f"  exact φ*(v) + φ*(w) = {_fmt_array(case.truth.shapley + g2.truth.shapley)}"))
