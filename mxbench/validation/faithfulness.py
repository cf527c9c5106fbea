"""Faithfulness on the game: deletion and insertion curves, comprehensiveness, sufficiency, pair masking.

Each metric masks players of the explained game in the order the explanation gives and
reads the game's values, all coalitions of a metric in **one** batched game call. The same
protocol run with the exact Shapley values (or exact SII) as the ranking gives the
``:exact`` rows: the oracle's ranking on the same game, the reference the explainer's rows
are read against. (On a model game that reference is the planted truth's ranking.)

Conventions, shared by all metrics here:

- *importance* of a player = ``φ_i * sign(v(N) - v(∅))`` (``sign(0) = +1``): the players
  pushing the output from the baseline towards the prediction come first. Ranking is by
  decreasing importance, ties by player number.
- values are normalised as ``(v(N) - v(S)) / (v(N) - v(∅))``: 0 = no change, 1 = the whole
  change from the prediction to the baseline. When ``|v(N) - v(∅)|`` is below
  :data:`MIN_CHANGE` times the exact attribution mass ``sum |φ*|`` the instance's prediction
  barely differs from the baseline's and every normalised value is NaN.
- ``k`` players at a fraction ``K`` of ``n``: ``max(1, ceil(K n))``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from mxbench.validation.recovery import pair_scores, snap
from mxbench.validation.truth import MetricError, Truth, make_rows

#: The fractions of players of comprehensiveness and sufficiency.
FRACTIONS = (0.05, 0.10, 0.20, 0.50)
#: Smallest ``|v(N) - v(∅)|``, relative to ``sum |φ*|``, for which normalised values are reported.
MIN_CHANGE = 0.05


def _phi(explanation: Any, truth: Truth) -> np.ndarray:
    phi = np.asarray(explanation.attributions, dtype=np.float64)
    if phi.shape != (truth.n_players,):
        raise MetricError(f"explanation: {phi.shape[0]} attributions, but the truth has {truth.n_players} players")
    return phi


def _need_game(game: Any, metric: str) -> None:
    if game is None or not callable(game):
        raise MetricError(f"game: {metric} needs the explained game, got {game!r}")


def _query(game: Any, coalitions: np.ndarray) -> np.ndarray:
    """One batched call of the game on ``coalitions`` (bool, ``(B, n)``)."""
    return np.asarray(game(np.ascontiguousarray(coalitions, dtype=bool)), dtype=np.float64)


def ranking(attributions: np.ndarray, delta: float) -> np.ndarray:
    """Players by decreasing importance ``φ * sign(delta)`` (``sign(0) = +1``), ties by number.

    The attributions are :func:`~mxbench.validation.recovery.snap`-ped first, so floating
    noise does not break ties.

    Parameters
    ----------
    attributions : array_like, shape (n,)
        The attributions.
    delta : float
        ``v(N) - v(∅)`` of the game.

    Returns
    -------
    ndarray of int, shape (n,)

    Examples
    --------
    >>> ranking([0.5, 2.0, -1.0], 3.0).tolist(), ranking([0.5, 2.0, -1.0], -3.0).tolist()
    ([1, 0, 2], [2, 0, 1])
    """
    sign = -1.0 if delta < 0 else 1.0
    return np.argsort(-sign * snap(attributions), kind="stable")


def deletion_coalitions(order: np.ndarray) -> np.ndarray:
    """The ``n + 1`` coalitions of a deletion curve: row ``k`` lacks the first ``k`` players of ``order``.

    Examples
    --------
    >>> deletion_coalitions(np.array([1, 0])).astype(int).tolist()
    [[1, 1], [1, 0], [0, 0]]
    """
    n = len(order)
    steps = np.arange(n + 1)[:, None] > np.arange(n)[None, :]  # row k: the first k positions
    out = np.ones((n + 1, n), dtype=bool)
    out[:, np.asarray(order)] = ~steps
    return out


def insertion_coalitions(order: np.ndarray) -> np.ndarray:
    """The ``n + 1`` coalitions of an insertion curve: row ``k`` holds the first ``k`` players of ``order``.

    Examples
    --------
    >>> insertion_coalitions(np.array([1, 0])).astype(int).tolist()
    [[0, 0], [0, 1], [1, 1]]
    """
    return ~deletion_coalitions(order)


def top_k(fraction: float, n: int) -> int:
    """``max(1, ceil(fraction * n))``, at most ``n``.

    Examples
    --------
    >>> top_k(0.05, 12), top_k(0.5, 12), top_k(0.2, 12)
    (1, 6, 3)
    """
    return int(min(n, max(1, math.ceil(fraction * n - 1e-12))))


def normalise(values: np.ndarray, v_full: float, v_empty: float, scale: float) -> np.ndarray:
    """``(v - v(∅)) / (v(N) - v(∅))``; NaN when ``|v(N) - v(∅)| < MIN_CHANGE * scale``.

    Examples
    --------
    >>> normalise(np.array([4.0, 2.0, 0.0]), 4.0, 0.0, 4.0).tolist()
    [1.0, 0.5, 0.0]
    >>> bool(np.isnan(normalise(np.array([1.0]), 1.0, 1.0, 4.0)[0]))
    True
    """
    delta = v_full - v_empty
    values = np.asarray(values, dtype=np.float64)
    if abs(delta) < MIN_CHANGE * scale or delta == 0:
        return np.full(values.shape, np.nan)
    return (values - v_empty) / delta


def area(curve: np.ndarray) -> float:
    """The trapezoidal area under a curve sampled at ``k / n``, ``k = 0..n``.

    Examples
    --------
    >>> area(np.array([1.0, 0.0, 0.0]))
    0.25
    """
    curve = np.asarray(curve, dtype=np.float64)
    n = len(curve) - 1
    return float(((curve[1:] + curve[:-1]) / 2).sum() / n)


def _scale(truth: Truth) -> float:
    return max(float(np.abs(truth.shapley).sum()), truth.tol)


def curves(explanation: Any, truth: Truth, game: Any) -> pd.DataFrame:
    """Deletion and insertion curves of the explanation and of the exact Shapley ranking, one game call.

    Parameters
    ----------
    explanation : Explanation
        The explanation of ``game``.
    truth : Truth
        The exact truth (its Shapley values give the exact ranking).
    game : Game
        The explained game.

    Returns
    -------
    pandas.DataFrame
        One row per step ``k = 0..n``: ``k``, ``fraction`` (``k / n``), ``deletion``,
        ``insertion``, ``deletion_exact``, ``insertion_exact`` — normalised values (see the
        module docstring).

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> frame = curves(Exact().explain(task.game(0)), Truth.from_task(task, 0), task.game(0))
    >>> frame[["deletion", "insertion"]].iloc[[0, -1]].round(6).values.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _need_game(game, "curves")
    n = truth.n_players
    phi = _phi(explanation, truth)
    # the first call reads v(N) and v(∅) along with the curves: orders need delta's sign, so
    # both signs' orders are asked for at once
    orders = [ranking(phi, 1.0), ranking(phi, -1.0), ranking(truth.shapley, 1.0), ranking(truth.shapley, -1.0)]
    batch = np.concatenate([f(o) for o in orders for f in (deletion_coalitions, insertion_coalitions)])
    values = _query(game, batch).reshape(len(orders), 2, n + 1)
    v_full, v_empty = values[0, 0, 0], values[0, 0, -1]
    pick = 0 if v_full - v_empty >= 0 else 1
    scale = _scale(truth)
    norm = [normalise(values[pick + off, kind], v_full, v_empty, scale) for off in (0, 2) for kind in (0, 1)]
    return pd.DataFrame({"k": np.arange(n + 1), "fraction": np.arange(n + 1) / n, "deletion": norm[0],
                         "insertion": norm[1], "deletion_exact": norm[2], "insertion_exact": norm[3]})


def deletion(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None, **_: Any) -> list[dict]:
    """Normalised area under the deletion curve (players removed by decreasing importance).

    Rows ``deletion`` and ``deletion:exact`` (the exact Shapley ranking): lower is better;
    1 = removing players changes nothing until the end, about 0 = the first players carry
    the whole change; can leave ``[0, 1]`` when players push in opposite directions. NaN
    when the prediction barely differs from the baseline.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = deletion(Exact().explain(task.game(0)), Truth.from_task(task, 0), game=task.game(0))
    >>> [r["metric"] for r in rows], rows[0]["value"] == rows[1]["value"]
    (['deletion', 'deletion:exact'], True)
    """
    frame = curves(explanation, truth, game)
    return make_rows(truth, explanation, {"deletion": area(frame["deletion"]),
                                          "deletion:exact": area(frame["deletion_exact"])}, model, game)


def insertion(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None, **_: Any) -> list[dict]:
    """Normalised area under the insertion curve (players added by decreasing importance).

    Rows ``insertion`` and ``insertion:exact``: higher is better; 1 = the first players
    carry the whole change. NaN when the prediction barely differs from the baseline.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = insertion(Exact().explain(task.game(1)), Truth.from_task(task, 1), game=task.game(1))
    >>> [r["metric"] for r in rows]
    ['insertion', 'insertion:exact']
    """
    frame = curves(explanation, truth, game)
    return make_rows(truth, explanation, {"insertion": area(frame["insertion"]),
                                          "insertion:exact": area(frame["insertion_exact"])}, model, game)


def _label(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _keep_remove(explanation: Any, truth: Truth, game: Any, fractions: Sequence[float]) -> dict[str, np.ndarray]:
    """Normalised comprehensiveness and sufficiency at each fraction, explainer and exact, one call."""
    _need_game(game, "comprehensiveness/sufficiency")
    fractions = tuple(float(f) for f in fractions)
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise MetricError(f"fractions: expected fractions in (0, 1], got {list(fractions)}")
    n = truth.n_players
    phi = _phi(explanation, truth)
    rows = [np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
    for att in (phi, truth.shapley):
        for sign in (1.0, -1.0):
            order = ranking(att, sign)
            for f in fractions:
                top = np.zeros(n, dtype=bool)
                top[order[:top_k(f, n)]] = True
                rows += [~top, top]
    values = _query(game, np.array(rows))
    v_full, v_empty = values[0], values[1]
    body = values[2:].reshape(2, 2, len(fractions), 2)  # (explainer/exact, sign, fraction, remove/keep)
    pick = 0 if v_full - v_empty >= 0 else 1
    scale = _scale(truth)
    out = {}
    for who, name in ((0, ""), (1, ":exact")):
        remove, keep = body[who, pick, :, 0], body[who, pick, :, 1]
        out["comp" + name] = 1.0 - normalise(remove, v_full, v_empty, scale)
        out["suff" + name] = 1.0 - normalise(keep, v_full, v_empty, scale)
    return out


def comprehensiveness(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None,
                      fractions: Sequence[float] = FRACTIONS, **_: Any) -> list[dict]:
    """Comprehensiveness: the normalised change when the top-K% players are removed.

    ``(v(N) - v(N without top_k)) / (v(N) - v(∅))`` at each fraction (rows
    ``comprehensiveness@5%`` ...) and their mean, the AOPC (row ``comprehensiveness``);
    ``:exact`` rows rank by the exact Shapley values. Higher is better; about ``[0, 1]``.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = comprehensiveness(Exact().explain(task.game(0)), Truth.from_task(task, 0), game=task.game(0))
    >>> [r["metric"] for r in rows][3:5]
    ['comprehensiveness@50%', 'comprehensiveness']
    """
    res = _keep_remove(explanation, truth, game, fractions)
    values = {}
    for name in ("", ":exact"):
        for f, v in zip(fractions, res["comp" + name]):
            values[f"comprehensiveness@{_label(f)}{name}"] = v
        values[f"comprehensiveness{name}"] = float(np.mean(res["comp" + name]))
    return make_rows(truth, explanation, values, model, game)


def sufficiency(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None,
                fractions: Sequence[float] = FRACTIONS, **_: Any) -> list[dict]:
    """Sufficiency: the normalised change when only the top-K% players are kept.

    ``(v(N) - v(top_k)) / (v(N) - v(∅))`` at each fraction (rows ``sufficiency@5%`` ...)
    and their mean (row ``sufficiency``); ``:exact`` rows rank by the exact Shapley values.
    Lower is better; about ``[0, 1]``.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = sufficiency(Exact().explain(task.game(0)), Truth.from_task(task, 0), game=task.game(0),
    ...                    fractions=[0.5, 1.0])
    >>> [(r["metric"], round(r["value"], 6)) for r in rows][1:3]
    [('sufficiency@100%', 0.0), ('sufficiency', -1.240339)]
    """
    res = _keep_remove(explanation, truth, game, fractions)
    values = {}
    for name in ("", ":exact"):
        for f, v in zip(fractions, res["suff" + name]):
            values[f"sufficiency@{_label(f)}{name}"] = v
        values[f"sufficiency{name}"] = float(np.mean(res["suff" + name]))
    return make_rows(truth, explanation, values, model, game)


def _random_pairs(n: int, b: int, repeats: int, random_state: Any) -> np.ndarray:
    """``repeats`` draws of ``b`` distinct pairs out of all ``n (n - 1) / 2``, shape ``(repeats, b, 2)``."""
    i, j = np.triu_indices(n, 1)
    rng = np.random.default_rng(random_state)
    picks = np.array([rng.choice(len(i), size=b, replace=False) for _ in range(repeats)]).reshape(repeats, b)
    return np.stack([i[picks], j[picks]], axis=-1)


def _without(pairs: np.ndarray, n: int) -> np.ndarray:
    row = np.ones(n, dtype=bool)
    row[np.asarray(pairs, dtype=np.int64).reshape(-1)] = False
    return row


def pair_masking(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None, n_pairs: int | None = None,
                 repeats: int = 10, random_state: Any = 0, **_: Any) -> list[dict]:
    """Mask both players of the top-B ranked pairs and compare the change with B random pairs.

    The FL-I2MoE pair-level masking check (docs/reconstructions.md §8). Pairs are ranked by
    ``|SII|`` (signed interactions) or by the score itself (a redundancy score, see
    :func:`~mxbench.validation.recovery.interaction_reading`); ``B`` = ``n_pairs`` or the
    number of planted pairs. The *drop* of a set ``U`` of masked players is
    ``|v(N) - v(N without U)| / |v(N) - v(∅)|`` (an absolute change: pairs ranked by
    ``|SII|`` carry no direction). Ranking scores are snapped (ties by pair order). Random
    pairs: ``repeats`` draws of ``B`` distinct pairs
    out of all pairs (seeded by ``random_state``; the same draws for the ``:exact`` rows).

    Rows: ``pair_masking`` = ranked drop minus the mean random drop (higher is better;
    0 = no better than random); ``pair_masking@ranked`` and ``pair_masking@random`` (the
    two drops); ``pair_masking@planted`` = the share of the ranked pairs that are planted
    (higher is better, ``[0, 1]``). ``:exact`` rows rank all pairs by exact ``|SII|``.
    No rows without interactions.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = pair_masking(Exact().explain(task.game(0)), Truth.from_task(task, 0), game=task.game(0))
    >>> {r["metric"]: r["value"] for r in rows}["pair_masking@planted"]
    1.0
    """
    _need_game(game, "pair_masking")
    _phi(explanation, truth)
    if not explanation.interactions:
        return []
    n = truth.n_players
    pi, pj, _, _ = truth.pair_arrays()
    b = int(n_pairs) if n_pairs is not None else max(1, len(pi))
    if not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise MetricError(f"repeats: expected a positive integer, got {repeats!r}")
    if not 1 <= b <= n * (n - 1) // 2:
        raise MetricError(f"n_pairs: expected 1..{n * (n - 1) // 2}, got {n_pairs!r}")
    pairs, scores = pair_scores(explanation)
    ranked = pairs[np.argsort(-snap(scores), kind="stable")[:b]]
    i, j = np.triu_indices(n, 1)
    exact = np.stack([i, j], axis=1)[np.argsort(-snap(np.abs(truth.sii[i, j])), kind="stable")[:b]]
    rand = _random_pairs(n, b, repeats, random_state)
    batch = np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool), _without(ranked, n), _without(exact, n)]
                     + [_without(r, n) for r in rand])
    values = _query(game, batch)
    v_full, v_empty = values[0], values[1]
    drops = np.abs(1.0 - normalise(values[2:], v_full, v_empty, _scale(truth)))
    key = pi * n + pj
    random_drop = float(drops[2:].mean())
    out = {"pair_masking": drops[0] - random_drop, "pair_masking@ranked": drops[0],
           "pair_masking@random": random_drop,
           "pair_masking@planted": float(np.isin(ranked[:, 0] * n + ranked[:, 1], key).sum() / b),
           "pair_masking:exact": drops[1] - random_drop, "pair_masking@ranked:exact": drops[1],
           "pair_masking@planted:exact": float(np.isin(exact[:, 0] * n + exact[:, 1], key).sum() / b)}
    return make_rows(truth, explanation, out, model, game)


__all__ = ["FRACTIONS", "MIN_CHANGE", "area", "comprehensiveness", "curves", "deletion", "deletion_coalitions",
           "insertion", "insertion_coalitions", "normalise", "pair_masking", "ranking",
           "sufficiency", "top_k"]
