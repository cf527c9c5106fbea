"""The recovery checks: planted players found (a recovery metric) and planted pair kinds read from the signs."""

from __future__ import annotations

import numpy as np

from mxbench.testing.checks.running import _NA, _Case, _main_or_na, _no_pairs, _Outcome
from mxbench.testing.checks.text import _fmt, _fmt_array


def _check_interaction_sign(case: _Case, t: float, lenient: bool = False) -> _Outcome:
    from mxbench.validation import recovery

    e = _main_or_na(case)
    if e is None:
        return _NA
    rows = recovery.pair_kind_accuracy(e, case.truth)
    if not rows:
        return _no_pairs(e, lenient)
    value = rows[0]["value"]
    if not np.isfinite(value):
        return _NA
    if value >= t:
        return _Outcome("pass", value)
    tr = case.truth
    lines = []
    for _, p in recovery.identifiable_pairs(tr).iterrows():
        i, j = int(p["i"]), int(p["j"])
        got = (e.interactions or {}).get((i, j))
        n = tr.player_names
        shown = "missing" if got is None else _fmt(got)
        lines.append(f"  planted {p['kind']} pair ({n[i]}, {n[j]}): exact SII = {_fmt(p['sii'])}, joint credit "
                     f"φ*_i + φ*_j = {_fmt(tr.shapley[i] + tr.shapley[j])}; explanation: interaction = {shown}, "
                     f"φ_i + φ_j = {_fmt(e.attributions[i] + e.attributions[j])}")
    return _Outcome("fail", value, f"  pair kinds read right: {_fmt(value)} < threshold {t:g}\n" + "\n".join(lines))


def _check_recovery(case: _Case, t: float, metric: str, lenient: bool = False) -> _Outcome:
    from mxbench.validation import METRICS

    e = _main_or_na(case)
    if e is None:
        return _NA
    rows = [r for r in METRICS[metric](e, case.truth) if r["metric"] == metric]
    if not rows:
        if lenient and e.interactions is None:
            return _no_pairs(e, lenient)
        return _Outcome("fail", float("nan"), f"  {metric} needs pair interactions; the explanation gives none")
    value = rows[0]["value"]
    if not np.isfinite(value):
        return _NA
    tr = case.truth
    material = [tr.player_names[i] for i in np.flatnonzero(tr.material())]
    detail = (f"  {metric} = {_fmt(value)} < threshold {t:g}; material players: {', '.join(material)}\n"
              f"  attributions  = {_fmt_array(e.attributions)}")
    return _Outcome("pass" if value >= t else "fail", value, detail)
