"""Recovery of the planted structure: material and active players, ranks, signs, modality shares, pairs;
direct errors against the exact Shapley values and SII; cost.

Every metric here compares an :class:`~mxbench.explainers.base.Explanation` with the exact
:class:`~mxbench.validation.truth.Truth` and needs no game. Each returns tidy rows
``(task, instance, model, explainer, metric, value)``; a value is NaN where the metric is
undefined on that instance (e.g. no distractors), and a metric that needs pair interactions
returns no rows for an explanation without any.

Which players count:

- *material* players (the positives of the main rows of ``auroc``, ``auroc_pooled`` and
  ``precision_at_k``) = planted (non-distractor) players whose exact ``|Shapley|`` on the
  instance is at least :data:`~mxbench.validation.truth.MATERIAL_SHARE` (5%) of the instance's
  largest exact ``|Shapley|`` (:meth:`Truth.material`);
- *relevant* players (the positives of the ``@active`` rows, e.g. ``auroc@active``, and of
  ``sign_agreement``) = planted players that are **active** on the instance — not dummies of
  its game (an ``and`` synergy whose other player is negative, a ``step`` term below its
  threshold are dummies there, and no explainer can see them) (:meth:`Truth.relevant`);
- *distractors* = players in no planted term. Planted players outside the positives of a row
  are in neither class, so the exact Shapley values score 1 on both rows.

A planted player with a tiny but nonzero value is active but not material: on the ``@active``
rows it is a positive that no estimator can separate from the distractors at a finite budget,
which is why the main rows leave it out. ``pair_precision`` does the same with pairs: its main
row targets the material planted pairs (:meth:`Truth.material_pairs`), ``pair_precision@active``
every active planted pair. ``sign_agreement`` keeps the active units: the sign of a small value
is as well defined as that of a large one, and units of exact value zero are left out anyway.

Redundant copies may split their credit any way (every split of a redundant latent's value is
consistent with the game's behaviour on the data; the exact Shapley value splits it about
evenly). The per-player metrics (``auroc``, ``precision_at_k``, ``spearman``, ``kendall``)
score against the players one by one, so they reward the Shapley split; the ``_pooled``
metrics and ``sign_agreement`` score each redundancy term's copies as one *unit* (their
mean ``|φ|`` for AUROC, their signed sum for ranks and signs) and so accept any split.
Synergistic players are individual units: both need credit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mxbench.validation.truth import MetricError, Truth, make_rows

#: Indices (:attr:`Explanation.index`, compared in lower case) whose pair values are a redundancy
#: score rather than a signed interaction.
SCORE_INDICES = ("rg", "redundancy_gap", "redundancy-gap", "redundancygap")


# ---------------------------------------------------------------------- formulas
def auc_score(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of scores: ``P(pos > neg) + P(pos = neg) / 2`` (Mann-Whitney).

    Parameters
    ----------
    positive, negative : array_like
        Scores of the positives and of the negatives.

    Returns
    -------
    float
        In ``[0, 1]``; NaN when either class is empty.

    Examples
    --------
    >>> auc_score([3.0, 1.0], [2.0, 0.0])
    0.75
    >>> auc_score([1.0], [1.0])
    0.5
    """
    pos, neg = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    return float((ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def precision_at(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """The share of true labels among the ``k`` highest scores (ties broken by position).

    Parameters
    ----------
    scores : array_like
        One score per item.
    labels : array_like of bool
        True for the items that should come first.
    k : int
        How many top items to look at.

    Returns
    -------
    float
        In ``[0, 1]``; NaN when ``k < 1``.

    Examples
    --------
    >>> precision_at([0.9, 0.1, 0.5, 0.7], [True, True, False, False], 2)
    0.5
    """
    if k < 1:
        return float("nan")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return float(np.asarray(labels, dtype=bool)[order[:k]].mean())


def shares(contributions: np.ndarray) -> np.ndarray:
    """Shares ``|c| / sum |c|`` (all zero when every contribution is zero).

    Examples
    --------
    >>> shares([3.0, -1.0]).tolist()
    [0.75, 0.25]
    """
    a = np.abs(np.asarray(contributions, dtype=np.float64))
    total = a.sum()
    return a / total if total > 0 else np.zeros_like(a)


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance ``sum |p - q| / 2`` of two share vectors.

    Examples
    --------
    >>> total_variation([0.75, 0.25], [0.5, 0.5])
    0.25
    """
    return float(0.5 * np.abs(np.asarray(p, dtype=np.float64) - np.asarray(q, dtype=np.float64)).sum())


def snap(values: np.ndarray, digits: int = 9) -> np.ndarray:
    """Round to ``digits`` decimals relative to the largest magnitude, so floating noise makes no ranks.

    Exact values computed two ways differ by ~1e-16: a dummy's 0 becomes ±1e-17 and two
    equal values stop being tied. Rank correlations snap both vectors first.

    Examples
    --------
    >>> snap(np.array([2.0, 1e-17, -1e-17, 1.0 + 1e-15])).tolist()
    [2.0, 0.0, 0.0, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.abs(values).max()) if values.size else 0.0
    if scale == 0 or not np.isfinite(scale):
        return values
    return np.round(values / scale, digits) * scale + 0.0


def _rank_correlation(kind: str, a: np.ndarray, b: np.ndarray) -> float:
    a, b = snap(a), snap(b)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    if kind == "spearman":
        ra, rb = stats.rankdata(a), stats.rankdata(b)
        ra, rb = ra - ra.mean(), rb - rb.mean()
        return float((ra * rb).sum() / np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    i, j = np.triu_indices(a.size, 1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])  # tau-b: ties count in neither pair total
    return float((sa * sb).sum() / np.sqrt((sa * sa).sum() * (sb * sb).sum()))


def interaction_reading(explanation: Any) -> str:
    """How to read an explanation's pair interactions: ``"sii"`` (signed) or ``"score"`` (redundancy score).

    The explanation's index decides (:attr:`Explanation.index`, the explainer's declared
    ``target_index``), never the explainer's name: a redundancy score (:data:`SCORE_INDICES`,
    e.g. ``"RG"`` of :class:`~mxbench.explainers.RedundancyGap`) gives ``"score"``, any other
    index or none ``"sii"``.

    Parameters
    ----------
    explanation : Explanation

    Returns
    -------
    {"sii", "score"}

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> e = Explanation(np.zeros(2), np.zeros(1), ("all",), np.zeros(2, int), {(0, 1): 1.0}, index="SII")
    >>> interaction_reading(e)
    'sii'
    >>> e.index = "RG"
    >>> interaction_reading(e)
    'score'
    """
    index = getattr(explanation, "index", None)
    return "score" if index is not None and str(index).lower() in SCORE_INDICES else "sii"


def explained_pairs(explanation: Any) -> tuple[np.ndarray, np.ndarray]:
    """The explanation's pairs ``(P, 2)`` (sorted, ``i < j``) and their interaction values ``(P,)``.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> e = Explanation(np.zeros(3), np.zeros(1), ("all",), np.zeros(3, int), {(2, 0): 1.5, (0, 1): -1.0})
    >>> p, v = explained_pairs(e)
    >>> p.tolist(), v.tolist()
    ([[0, 1], [0, 2]], [-1.0, 1.5])
    """
    items = sorted((explanation.interactions or {}).items())
    pairs = np.array([k for k, _ in items], dtype=np.int64).reshape(-1, 2)
    return pairs, np.array([v for _, v in items], dtype=np.float64)


def pair_scores(explanation: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pairs and their ranking scores: ``|SII|`` for a signed reading, the score itself for a redundancy score.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> e = Explanation(np.zeros(3), np.zeros(1), ("all",), np.zeros(3, int), {(0, 1): -2.0, (1, 2): 1.0})
    >>> pair_scores(e)[1].tolist()
    [2.0, 1.0]
    """
    pairs, values = explained_pairs(explanation)
    return pairs, (np.abs(values) if interaction_reading(explanation) == "sii" else values)


def _check(explanation: Any, truth: Truth) -> np.ndarray:
    phi = np.asarray(explanation.attributions, dtype=np.float64)
    if phi.shape != (truth.n_players,):
        raise MetricError(f"explanation: {phi.shape[0]} attributions, but the truth has {truth.n_players} players")
    return phi


def _pair_key(pairs: np.ndarray, n: int) -> np.ndarray:
    return pairs[:, 0] * n + pairs[:, 1]


# ---------------------------------------------------------------------- player metrics
def auroc(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """AUROC of ``|φ|`` separating material planted players from distractors.

    Row ``auroc``: the positives are the material players (:meth:`Truth.material`); row
    ``auroc@active``: every active planted player (:meth:`Truth.relevant`). Higher is better,
    range ``[0, 1]``, 0.5 = chance; NaN without distractors or positives.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = auroc(Exact().explain(task.game(0)), Truth.from_task(task, 0))
    >>> [(r["metric"], r["value"]) for r in rows]
    [('auroc', 1.0), ('auroc@active', 1.0)]
    """
    phi = np.abs(_check(explanation, truth))
    dis = phi[truth.distractors()]
    return make_rows(truth, explanation, {"auroc": auc_score(phi[truth.material()], dis),
                                          "auroc@active": auc_score(phi[truth.relevant()], dis)}, model, game)


def auroc_pooled(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """AUROC over units: each redundancy term's copies scored by their mean ``|φ|``, any split accepted.

    A unit is a positive when one of its players is material (row ``auroc_pooled``) or active
    (row ``auroc_pooled@active``), a negative when all its players are distractors. Higher is
    better, range ``[0, 1]``, 0.5 = chance.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> phi = np.abs(t.shapley)
    >>> phi[2], phi[5] = phi[2] + phi[5], 0.0   # all the redundant credit on one copy
    >>> e = Explanation(phi, np.zeros(2), ("a", "b"), t.modality_of)
    >>> auroc_pooled(e, t)[0]["value"], auroc(e, t)[0]["value"]
    (1.0, 0.9)
    """
    phi = np.abs(_check(explanation, truth))
    dis = truth.distractors()
    units = truth.units()
    scores = np.array([phi[u].mean() for u in units])
    neg = scores[[bool(dis[u].all()) for u in units]]
    values = {}
    for name, positive in (("auroc_pooled", truth.material()), ("auroc_pooled@active", truth.relevant())):
        values[name] = auc_score(scores[[bool(positive[u].any()) for u in units]], neg)
    return make_rows(truth, explanation, values, model, game)


def precision_at_k(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Precision of the ``k`` players with the largest ``|φ|``, ``k`` = the number of positives.

    Row ``precision_at_k``: the positives are the material players, ranked among them and the
    distractors (the other planted players left out); row ``precision_at_k@active``: the
    active planted players, ranked among them and the distractors. Higher is better, range
    ``[0, 1]``; chance is ``k / (positives + distractors)``.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> precision_at_k(Exact().explain(task.game(2)), Truth.from_task(task, 2))[0]["value"]
    1.0
    """
    phi = np.abs(_check(explanation, truth))
    dis = truth.distractors()
    values = {}
    for name, positive in (("precision_at_k", truth.material()), ("precision_at_k@active", truth.relevant())):
        known = positive | dis
        values[name] = precision_at(phi[known], positive[known], int(positive.sum()))
    return make_rows(truth, explanation, values, model, game)


def spearman(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Spearman rank correlation of the attributions with the exact Shapley values (all players).

    Both vectors are :func:`snap`-ped first (floating noise below 1e-9 of the largest value
    makes no ranks).

    Redundant copies are compared with their exact (about even) Shapley split; see
    :func:`spearman_pooled` for a split-free version. Row ``spearman``: higher is better,
    range ``[-1, 1]``, 0 = chance; NaN when either vector is constant.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> e = Explanation(2 * t.shapley + 1, np.zeros(2), ("a", "b"), t.modality_of)
    >>> spearman(e, t)[0]["value"]
    1.0
    """
    phi = _check(explanation, truth)
    return make_rows(truth, explanation, {"spearman": _rank_correlation("spearman", phi, truth.shapley)}, model, game)


def spearman_pooled(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Spearman correlation over units (each redundancy term's copies summed), any split accepted.

    Row ``spearman_pooled``: higher is better, range ``[-1, 1]``, 0 = chance.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 1)
    >>> phi = t.shapley.copy()
    >>> phi[2], phi[5] = phi[2] + phi[5], 0.0
    >>> spearman_pooled(Explanation(phi, np.zeros(2), ("a", "b"), t.modality_of), t)[0]["value"]
    1.0
    """
    phi = _check(explanation, truth)
    units = truth.units()
    a = np.array([phi[u].sum() for u in units])
    b = np.array([truth.shapley[u].sum() for u in units])
    return make_rows(truth, explanation, {"spearman_pooled": _rank_correlation("spearman", a, b)}, model, game)


def kendall(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Kendall's tau-b of the attributions with the exact Shapley values (all players, :func:`snap`-ped).

    Row ``kendall``: higher is better, range ``[-1, 1]``, 0 = chance; NaN when either
    vector is constant.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> kendall(Explanation(-t.shapley, np.zeros(2), ("a", "b"), t.modality_of), t)[0]["value"]
    -1.0
    """
    phi = _check(explanation, truth)
    return make_rows(truth, explanation, {"kendall": _rank_correlation("kendall", phi, truth.shapley)}, model, game)


def sign_agreement(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Share of relevant units whose attribution has the sign of the exact Shapley value.

    Units as in :meth:`Truth.units` (redundant copies summed); a unit counts when one of its
    players is relevant (active, :meth:`Truth.relevant`, not only material: a small exact value
    has a sign as definite as a large one) and its exact value is not zero; a zero attribution
    counts as a disagreement. Row ``sign_agreement``: higher is better, range ``[0, 1]``,
    0.5 = chance.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> sign_agreement(Explanation(t.shapley, np.zeros(2), ("a", "b"), t.modality_of), t)[0]["value"]
    1.0
    """
    phi = _check(explanation, truth)
    rel, tol = truth.relevant(), truth.tol
    agree = []
    for u in truth.units():
        exact = truth.shapley[u].sum()
        if rel[u].any() and abs(exact) > tol:
            agree.append(np.sign(phi[u].sum()) == np.sign(exact))
    value = float(np.mean(agree)) if agree else float("nan")
    return make_rows(truth, explanation, {"sign_agreement": value}, model, game)


def attribution_gap(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None,
                    **_: Any) -> list[dict]:
    """Relative error of the attributions of cross-modal synergy players against exact Shapley values.

    The players of the planted synergy pairs whose two players sit in different modalities
    form ``P``; the value is ``sum_P |φ_i - φ*_i| / sum_P |φ*_i|``. Explaining one modality at a
    time (:class:`~mxbench.explainers.Unimodal`) credits each player of a cross-modal product
    with the whole term, which this measures: the multimodal attribution gap. Row
    ``attribution_gap``: lower is better, range ``[0, inf)``, 0 for the exact joint Shapley
    values; no row when the instance has no active cross-modal synergy.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> attribution_gap(Explanation(t.shapley, np.zeros(2), ("a", "b"), t.modality_of), t)[0]["value"]
    0.0
    >>> doubled = t.shapley.copy(); doubled[[1, 4]] *= 2          # the unimodal reading of a:1 x b:0
    >>> attribution_gap(Explanation(doubled, np.zeros(2), ("a", "b"), t.modality_of), t)[0]["value"]
    1.0
    """
    phi = _check(explanation, truth)
    pairs = truth.pairs
    cross = pairs[(pairs["kind"] == "synergy")
                  & (truth.modality_of[pairs["i"].to_numpy()] != truth.modality_of[pairs["j"].to_numpy()])]
    players = np.unique(cross[["i", "j"]].to_numpy().ravel())
    if len(players) == 0:
        return []
    denom = float(np.abs(truth.shapley[players]).sum())
    if denom <= truth.tol:
        return []
    value = float(np.abs(phi[players] - truth.shapley[players]).sum()) / denom
    return make_rows(truth, explanation, {"attribution_gap": value}, model, game)


def modality_share_error(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None,
                         **_: Any) -> list[dict]:
    """Total variation between the explanation's modality shares and the exact modality Shapley shares.

    Shares are ``|c_m| / sum |c|`` of ``explanation.modality`` and of the exact modality
    Shapley values. Row ``modality_share_error``: lower is better, range ``[0, 1]``; NaN
    when every exact modality value is zero.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> e = Explanation(t.shapley, t.modality_shapley, ("a", "b"), t.modality_of)
    >>> modality_share_error(e, t)[0]["value"]
    0.0
    """
    _check(explanation, truth)
    exact = shares(truth.modality_shapley)
    got = shares(explanation.modality)
    if got.shape != exact.shape:
        raise MetricError(f"explanation: {got.shape[0]} modality contributions, but the truth has {exact.shape[0]}")
    value = total_variation(got, exact) if exact.sum() > 0 else float("nan")
    return make_rows(truth, explanation, {"modality_share_error": value}, model, game)


# ---------------------------------------------------------------------- direct errors
def relative_error(estimate: np.ndarray, exact: np.ndarray, tol: float = 0.0) -> float:
    """Relative L2 error ``‖estimate − exact‖₂ / ‖exact‖₂``.

    Parameters
    ----------
    estimate, exact : array_like
        Two vectors of the same shape.
    tol : float, default 0
        ``exact`` counts as the zero vector when ``‖exact‖₂ <= tol``.

    Returns
    -------
    float
        In ``[0, inf)``; NaN when ``‖exact‖₂ <= tol`` (a relative error of the zero vector is
        undefined) or when either vector is empty.

    Examples
    --------
    >>> relative_error([2.0, 0.0], [1.0, 0.0])
    1.0
    >>> relative_error([3.0, 4.0], [0.0, 0.0])
    nan
    """
    a, b = np.asarray(estimate, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if a.shape != b.shape:
        raise MetricError(f"estimate: shape {a.shape} does not match the exact values' {b.shape}")
    norm = float(np.linalg.norm(b)) if b.size else 0.0
    if b.size == 0 or norm <= tol:
        return float("nan")
    return float(np.linalg.norm(a - b)) / norm


def shapley_error(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Relative L2 error of the attributions against the exact Shapley values: ``‖φ̂ − φ‖₂ / ‖φ‖₂``.

    Every explanation is compared with the exact **Shapley** values (:attr:`Truth.shapley`),
    whatever index it estimates: a Banzhaf-style explanation, a LIME surrogate or a gradient
    map is scored against Shapley too — the number an explainer author looks for first. Such
    explanations estimate another quantity, so a nonzero error there is not an estimation error
    alone; :func:`spearman` and :func:`auroc` are the scale-free comparisons.

    Row ``shapley_error``: lower is better, range ``[0, inf)``; 0 for the exact Shapley values,
    1 for the zero vector and for twice the exact values. NaN when ``‖φ‖₂ <= truth.tol`` (every
    exact Shapley value is zero to floating precision, e.g. a constant game: no relative error
    exists); NaN too when an attribution is NaN. When the task has terms that are not
    differentiable (:attr:`Truth.smooth`), rows ``shapley_error@smooth`` and
    ``shapley_error@nonsmooth`` give the same error over the players of differentiable terms
    (and distractors) and over the others: where gradient methods fail, measured.

    Parameters
    ----------
    explanation : Explanation
        The explanation (``n`` attributions).
    truth : Truth
        The exact truth of the explained instance.
    model, game : optional
        Only label the rows (:func:`~mxbench.validation.truth.model_label`).

    Returns
    -------
    list of dict
        One row.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Exact, Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> t = Truth.from_task(task, 0)
    >>> shapley_error(Exact().explain(task.game(0)), t)[0]["value"] <= 1e-12
    True
    >>> shapley_error(Explanation(2 * t.shapley, np.zeros(2), ("a", "b"), t.modality_of), t)[0]["value"]
    1.0
    """
    phi = _check(explanation, truth)
    values = {"shapley_error": relative_error(phi, truth.shapley, truth.tol)}
    if truth.smooth is not None and not truth.smooth.all():
        for name, keep in (("smooth", truth.smooth), ("nonsmooth", ~truth.smooth)):
            values[f"shapley_error@{name}"] = relative_error(phi[keep], truth.shapley[keep], truth.tol)
    return make_rows(truth, explanation, values, model, game)


def sii_error(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Relative L2 error of the explanation's pair interactions against the exact SII of the same pairs.

    Over the pairs ``P`` the explanation gives (``explanation.interactions``, ``{(i, j): value}``)
    the value is ``‖Î_P − I_P‖₂ / ‖I_P‖₂`` with ``I_P`` the exact pairwise Shapley interaction
    index of those pairs (:attr:`Truth.sii`, a symmetric ``(n, n)`` matrix). Pairs the
    explanation leaves out are not scored (:func:`pair_precision` judges which pairs it gives).
    Signed interactions of any index (SII, k-SII, STII, FSII, ...) are compared with SII, as
    :func:`shapley_error` compares every attribution with Shapley.

    Row ``sii_error``: lower is better, range ``[0, inf)``; 0 for the exact SII. No rows for an
    explanation without interactions, and none for a redundancy score
    (:func:`interaction_reading` ``== "score"``, e.g. RedundancyGap): a score is not an estimate
    of SII, so it has no error against it. NaN when ``‖I_P‖₂ <= truth.tol`` (every given pair
    has zero exact SII).

    Parameters
    ----------
    explanation : Explanation
        The explanation.
    truth : Truth
        The exact truth of the explained instance.
    model, game : optional
        Only label the rows (:func:`~mxbench.validation.truth.model_label`).

    Returns
    -------
    list of dict
        One row, or none (see above).

    Raises
    ------
    MetricError
        A pair is not two distinct players of the truth.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Exact, Explanation
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> t = Truth.from_task(task, 0)
    >>> sii_error(Exact().explain(task.game(0)), t)[0]["value"] <= 1e-12
    True
    >>> e = Explanation(t.shapley, np.zeros(2), ("a", "b"), t.modality_of, {(1, 4): 0.0})
    >>> sii_error(e, t)[0]["value"]                       # the zero estimate of a nonzero pair
    1.0
    >>> sii_error(Explanation(t.shapley, np.zeros(2), ("a", "b"), t.modality_of), t)
    []
    """
    _check(explanation, truth)
    if not explanation.interactions or interaction_reading(explanation) == "score":
        return []
    pairs, values = explained_pairs(explanation)
    n = truth.n_players
    bad = (pairs < 0).any(axis=1) | (pairs >= n).any(axis=1) | (pairs[:, 0] == pairs[:, 1])
    if bad.any():
        raise MetricError(f"explanation: pair {tuple(pairs[bad][0].tolist())} is not two distinct players "
                          f"of the truth's {n}")
    value = relative_error(values, truth.sii[pairs[:, 0], pairs[:, 1]], truth.tol)
    return make_rows(truth, explanation, {"sii_error": value}, model, game)


# ---------------------------------------------------------------------- pair metrics
def pair_precision(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """Precision@P of the planted pairs among the explanation's top-ranked pairs.

    Signed interactions (SII) are ranked by ``|value|`` and the candidate targets are the
    planted synergy and redundancy pairs; a redundancy score (:func:`interaction_reading`) is
    ranked by its value and the candidate targets are the planted redundancy pairs. Row
    ``pair_precision``: the targets are the material ones (:meth:`Truth.material_pairs`: exact
    ``|SII|`` at least 5% of the largest among the candidates); row ``pair_precision@active``:
    the active ones (exact ``|SII| > tol``). ``P`` = the number of targets; planted pairs the
    explanation does not score count as misses. Higher is better, range ``[0, 1]``; NaN without
    targets. No rows without interactions.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> [(r["metric"], r["value"]) for r in pair_precision(Exact().explain(task.game(0)), Truth.from_task(task, 0))]
    [('pair_precision', 1.0), ('pair_precision@active', 1.0)]
    """
    _check(explanation, truth)
    if not explanation.interactions:
        return []
    kinds = ("synergy", "redundancy") if interaction_reading(explanation) == "sii" else ("redundancy",)
    ti, tj, _, tsii = truth.pair_arrays(kinds)
    pairs, scores = pair_scores(explanation)
    order = np.argsort(-snap(scores), kind="stable")
    n = truth.n_players
    values = {}
    for name, target in (("pair_precision", truth.material_pairs(kinds)),
                         ("pair_precision@active", np.abs(tsii) > truth.tol)):
        p = int(target.sum())
        hits = np.isin(_pair_key(pairs[order[:p]], n), ti[target] * n + tj[target])
        values[name] = float(hits.sum() / p) if p else float("nan")
    return make_rows(truth, explanation, values, model, game)


def _identifiable(truth: Truth) -> np.ndarray:
    """Boolean mask over ``truth.pair_arrays()`` of the pairs whose kind the exact values reveal."""
    if "identifiable" not in truth._cache:
        i, j, kind, sii = truth.pair_arrays()
        joint = truth.shapley[i] + truth.shapley[j]
        tol = truth.tol
        ok = (np.abs(joint) > tol) & (np.abs(sii) > tol)
        ok &= (np.sign(sii) == np.sign(joint)) == (kind == "synergy")
        truth._cache["identifiable"] = ok
    return truth._cache["identifiable"]


def identifiable_pairs(truth: Truth) -> "Any":
    """The planted pairs whose kind the exact values reveal on this instance.

    A pair's *joint credit* is ``φ_i + φ_j``. A synergistic pair's SII has the sign of its
    joint credit; a redundant pair's SII has the opposite sign (DESIGN §2). A pair counts
    when the exact SII and joint credit are both nonzero and the exact reading gives the
    planted kind (redundant copies of opposite signs, inactive terms are left out).

    Returns
    -------
    pandas.DataFrame
        Rows of :attr:`Truth.pairs` (kinds ``synergy`` and ``redundancy``).

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> identifiable_pairs(Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0))["kind"].tolist()
    ['synergy', 'redundancy']
    """
    return truth.planted_pairs()[_identifiable(truth)]


def pair_kind_accuracy(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None,
                       threshold: float = 0.0, **_: Any) -> list[dict]:
    """Accuracy of the synergy / redundancy kind read from the explanation, over identifiable planted pairs.

    The reading (:func:`interaction_reading`):

    - signed interactions (SIIProbe, exact SII): *synergy* when the pair's interaction has
      the sign of its joint credit ``φ_i + φ_j`` in the same explanation, *redundancy* when
      the signs differ (a zero interaction counts as wrong; when the explanation gives both
      players exactly 0 — a pure interaction probe — the exact joint credit orients it);
    - a redundancy score (RedundancyGap): *redundancy* when the score exceeds ``threshold``,
      else *synergy*.

    Scored over :func:`identifiable_pairs` that the explanation covers. Row
    ``pair_kind_accuracy``: higher is better, range ``[0, 1]``, 0.5 = chance; NaN without
    identifiable covered pairs. No rows without interactions.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> pair_kind_accuracy(Exact().explain(task.game(0)), Truth.from_task(task, 0))[0]["value"]
    1.0
    """
    phi = _check(explanation, truth)
    if not explanation.interactions:
        return []
    pi, pj, kinds, _ = truth.pair_arrays()
    ok = _identifiable(truth)
    inter = explanation.interactions
    reading = interaction_reading(explanation)
    correct = []
    for i, j, kind in zip(pi[ok].tolist(), pj[ok].tolist(), kinds[ok].tolist()):
        if (i, j) not in inter:
            continue
        value = inter[(i, j)]
        if reading == "score":
            guess = "redundancy" if value > threshold else "synergy"
        else:
            joint = phi[i] + phi[j]
            if joint == 0:  # a pure interaction probe gives no player credit: orient by the exact joint credit
                joint = truth.shapley[i] + truth.shapley[j]
            guess = None if value == 0 or joint == 0 else (
                "synergy" if np.sign(value) == np.sign(joint) else "redundancy")
        correct.append(guess == kind)
    value = float(np.mean(correct)) if correct else float("nan")
    return make_rows(truth, explanation, {"pair_kind_accuracy": value}, model, game)


# ---------------------------------------------------------------------- cost
def n_queries(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """The distinct game queries the explanation cost.

    Row ``n_queries``: lower is better, range ``[0, inf)``.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> n_queries(Exact().explain(task.game(0)), Truth.from_task(task, 0))[0]["value"]
    64.0
    """
    return make_rows(truth, explanation, {"n_queries": float(explanation.n_queries)}, model, game)


def seconds(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """The wall time of the explanation.

    Row ``seconds``: lower is better, range ``[0, inf)``.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> seconds(Exact().explain(task.game(0)), Truth.from_task(task, 0))[0]["value"] >= 0
    True
    """
    return make_rows(truth, explanation, {"seconds": float(explanation.seconds)}, model, game)
