"""The report: leaderboard tables with intervals, the five questions of the benchmark, PNG plots, HTML.

:func:`write_report` reads a results frame (:func:`mxbench.bench.runner.validate`) and
writes ``report.md`` and ``report.html`` (the same sections, one self-contained file,
:mod:`mxbench.bench.html`) with:

- provenance: the mxbench version, the command line when known, the rows, instances and seeds,
  and each task's players and spec hash;
- the leaderboard (mean of the headline metrics per model and explainer), certified models and
  the planted games first, uncertified models in their own table, flagged; then one leaderboard
  per task;
- the decomposition of the model games' errors into the explainer's and the model's;
- the five questions: (1) LEMON's query reduction at equal recovery — on the tasks the models
  are built for at budgets 8 to 1024, and per task on larger tasks (the ``paper`` suite) at
  budgets in multiples of the number of players ``n``, (2) pair masking against random pairs,
  (3) FL-I2MoE routing and expert maps against the planted kinds, (4) attention against causal
  explanations, (5) the multimodal attribution gap;
- plots: recovery against queries per explainer (and, at paper scale, material AUROC against
  queries / n on the largest task), a model × explainer heatmap of the headline metrics, the
  exact against the estimated pair interactions over every pair of every explained instance,
  deletion curves.

Every mean of every table comes with its 95% percentile-bootstrap interval and the number of
units behind it, all from one helper (:func:`summarise`): a unit is one (task, instance, seed),
its values averaged first; the bootstrap draws :data:`RESAMPLES` resamples of the units with a
fixed seed, so the same rows give the same report, byte for byte. Numbers have one format
(:func:`format_number`, :func:`format_estimate`).

The recovery headline is the *material* reading (``auroc``, ``precision_at_k``,
``pair_precision``: positives are the planted players or pairs with at least 5% of the
instance's largest exact value); the ``@active`` columns keep every planted player or pair
active on the instance (:mod:`mxbench.validation.recovery`).

Every figure in the text is computed from the rows; a question the rows cannot answer says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from mxbench.bench.html import render_html, slug
from mxbench.bench.runner import (
    MAX_MODEL_PLAYERS,
    MODEL_ESTIMATE,
    MODEL_TRUTH,
    PLANTED,
    PLANTED_TRUTH,
    RESULT_COLUMNS,
    RunnerError,
    beyond_models,
    read_results,
)
from mxbench.validation.truth import MATERIAL_SHARE

#: The headline metrics of the leaderboard, with the way each is better.
HEADLINE = (("auroc", "higher"), ("auroc@active", "higher"), ("precision_at_k", "higher"),
            ("precision_at_k@active", "higher"), ("spearman", "higher"), ("shapley_error", "lower"),
            ("modality_share_error", "lower"),
            ("pair_precision", "higher"), ("pair_precision@active", "higher"), ("deletion", "lower"),
            ("insertion", "higher"), ("n_queries", "lower"), ("seconds", "lower"))
#: The metrics of the leaderboard heatmap (the first is the headline).
HEATMAP = ("auroc", "modality_share_error", "deletion")
#: The report's one sentence on the two readings of the recovery metrics.
DEFINITIONS = (f"`auroc` and `precision_at_k` score the *material* planted players (exact |Shapley| at least "
               f"{MATERIAL_SHARE:.0%} of the instance's largest) against the distractors and `pair_precision` targets "
               f"the material planted pairs (exact |SII| at least {MATERIAL_SHARE:.0%} of the largest planted one), "
               f"while their `@active` columns count every planted player or pair *active* on the instance (not a "
               f"dummy).")
ATTENTION = ("attention_rollout", "attention_grad", "expert_maps")
CAUSAL = ("integrated_gradients", "kernelshap", "lemon", "lime", "permutation", "mmshap", "occlusion", "exact")
SHARE_GOAL = 0.05
AUROC_GOAL = 0.95
#: Bootstrap resamples behind every interval of the report.
RESAMPLES = 1000
#: The bootstrap's seed (fixed: the same rows give the same intervals).
BOOTSTRAP_SEED = 0
#: The columns that name one unit of the bootstrap: one explained instance of a task under one seed.
UNITS = ("task", "instance", "seed")
#: Suffixes of the columns beside a mean ``c`` in a table: ``c [lo]``, ``c [hi]`` (its interval) and ``c [n]``.
LO, HI, N = " [lo]", " [hi]", " [n]"
#: The report's sentence on the intervals.
INTERVALS = (f"Each mean reads `mean [lo, hi]`: [lo, hi] is its 95% percentile-bootstrap interval ({RESAMPLES} "
             f"resamples of the units, with replacement, at a fixed seed), and `n` is the number of units behind "
             f"it, one unit being one instance of a task under one seed (its values averaged first). A cell whose "
             f"n differs from its row's `n` says `(n=k)`; a mean of one unit has no interval. Numbers have three "
             f"significant digits (integers from 100 on).")


def format_number(x: Any, digits: int = 3) -> str:
    """The report's one number format: ``digits`` significant digits, integers as integers.

    Floats of magnitude 100 or more are rounded to an integer; below 0.0001, scientific
    notation; trailing zeros are dropped. None, NaN and infinities read ``–``.

    Examples
    --------
    >>> [format_number(v) for v in (0.91234, 0.88, 2.0, 3998.4, 12.345, 0.000645, 2.9e-17, float("nan"), 7, -0.5)]
    ['0.912', '0.88', '2', '3998', '12.3', '0.000645', '2.9e-17', '–', '7', '-0.5']
    """
    if x is None or isinstance(x, str):
        return "–" if x is None else x
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not np.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) < 1e-4:
        mantissa, exponent = f"{x:.{max(digits - 1, 0)}e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")


def format_estimate(mean: Any, lo: Any = None, hi: Any = None, digits: int = 3) -> str:
    """A mean and its interval as ``mean [lo, hi]`` (:func:`format_number`); the mean alone without an interval.

    Examples
    --------
    >>> format_estimate(0.9123, 0.8789, 0.9412)
    '0.912 [0.879, 0.941]'
    >>> format_estimate(0.5, float("nan"), float("nan"))
    '0.5'
    """
    text = format_number(mean, digits)
    if lo is None or hi is None or not (np.isfinite(float(lo)) and np.isfinite(float(hi))):
        return text
    return f"{text} [{format_number(lo, digits)}, {format_number(hi, digits)}]"


def summarise(results: pd.DataFrame, by: Sequence[str], *, value: str = "value", units: Sequence[str] = UNITS,
              resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Mean, 95% percentile-bootstrap interval and count of ``value`` per group of ``by``.

    The one helper behind every mean of the report. Non-finite values are left out. Within
    each group the values are first averaged per unit (the columns ``units`` not in ``by``:
    one unit is one instance of a task under one seed); the mean is the mean over units and
    ``n`` their number. The interval resamples the units with replacement ``resamples`` times
    (all groups at once per group size, vectorised) and takes the 2.5% and 97.5% quantiles of
    the resampled means. The draws depend only on ``seed`` and the group's size, so a group's
    interval does not depend on the other groups, and the same rows give the same intervals.
    One unit gives no interval (NaN).

    Parameters
    ----------
    results : DataFrame
        Result rows (:data:`~mxbench.bench.runner.RESULT_COLUMNS`) or any frame with ``by``,
        ``value`` and the unit columns.
    by : list of str
        The grouping columns.
    value : str
        The column averaged.
    units : list of str
        The columns naming one unit (those missing from the frame are ignored).
    resamples : int
        Bootstrap resamples.
    seed : int
        The bootstrap's seed.

    Returns
    -------
    DataFrame
        Columns ``by`` and ``mean, lo, hi, n``, one row per group, sorted by ``by``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": [0, 1, 2, 3, 0], "seed": 0, "explainer": ["e"] * 4 + ["f"],
    ...                      "value": [1.0, 2.0, 3.0, 4.0, 0.5]})
    >>> s = summarise(rows, ["explainer"])
    >>> s[["explainer", "mean", "n"]].values.tolist()
    [['e', 2.5, 4], ['f', 0.5, 1]]
    >>> bool(1.0 <= s["lo"][0] < 2.5 < s["hi"][0] <= 4.0), bool(s["lo"].isna()[1])
    (True, True)
    """
    by = list(by)
    columns = by + ["mean", "lo", "hi", "n"]
    v = pd.to_numeric(results[value], errors="coerce").to_numpy(dtype=float)
    r = results.assign(**{value: v})[np.isfinite(v)]
    if r.empty:
        return pd.DataFrame(columns=columns)
    keys = by + [u for u in units if u in r.columns and u not in by]
    per_unit = r.groupby(keys, sort=True, dropna=False)[value].mean().reset_index()
    grouped = per_unit.groupby(by, sort=True, dropna=False)
    codes = grouped.ngroup().to_numpy()
    values = per_unit[value].to_numpy(dtype=float)[np.argsort(codes, kind="stable")]
    sizes = np.bincount(codes, minlength=grouped.ngroups)
    stats = np.full((grouped.ngroups, 3), np.nan)
    draws: dict[int, np.ndarray] = {}
    for g, chunk in enumerate(np.split(values, np.cumsum(sizes)[:-1])):
        stats[g, 0] = chunk.mean()
        n = len(chunk)
        if n >= 2:
            if n not in draws:
                draws[n] = np.random.default_rng([seed, n]).integers(0, n, size=(resamples, n))
            stats[g, 1:] = np.quantile(chunk[draws[n]].mean(axis=1), [0.025, 0.975])
    out = grouped.size().reset_index(name="n")
    out["mean"], out["lo"], out["hi"] = stats[:, 0], stats[:, 1], stats[:, 2]
    out["n"] = out["n"].astype(int)
    return out[columns].reset_index(drop=True)


def widen(summary: pd.DataFrame, index: Sequence[str], column: str, order: Sequence[Any] | None = None) -> pd.DataFrame:
    """A :func:`summarise` frame one row per ``index``, its means in one column per value of ``column``.

    Each value ``c`` of ``column`` gives the columns ``c`` (the mean), ``c [lo]``, ``c [hi]`` and
    ``c [n]``; ``n``, after the index, is the largest count of the row. ``order`` fixes the
    columns (values absent from the summary give empty columns); default: the values present,
    sorted.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": [0, 1, 0], "seed": 0, "explainer": "e",
    ...                      "metric": ["a", "a", "b"], "value": [1.0, 3.0, 5.0]})
    >>> w = widen(summarise(rows, ["explainer", "metric"]), ["explainer"], "metric")
    >>> w[["explainer", "n", "a", "a [n]", "b", "b [n]"]].values.tolist()
    [['e', 2, 2.0, 2, 5.0, 1]]
    """
    index = list(index)
    names = [str(c) for c in (order if order is not None else sorted(set(summary[column]), key=str))]
    if summary.empty:
        return pd.DataFrame(columns=index + ["n"] + [f"{c}{s}" for c in names for s in ("", LO, HI, N)])
    frame = summary[index].drop_duplicates().sort_values(index, kind="stable").reset_index(drop=True)
    for c in names:
        part = summary[summary[column].astype(str) == c][index + ["mean", "lo", "hi", "n"]]
        part = part.rename(columns={"mean": c, "lo": f"{c}{LO}", "hi": f"{c}{HI}", "n": f"{c}{N}"})
        frame = frame.merge(part, on=index, how="left")
        frame[f"{c}{N}"] = frame[f"{c}{N}"].fillna(0).astype(int)
    _count(frame)
    return frame


def _count(frame: pd.DataFrame) -> pd.DataFrame:
    """Set ``frame["n"]`` (inserted before the first mean when missing) to the largest count of each row."""
    counts = [c for c in frame.columns if c.endswith(N)]
    n = frame[counts].max(axis=1).astype(int) if counts else pd.Series(0, index=frame.index, dtype=int)
    if "n" in frame.columns:
        frame["n"] = n
    else:
        first = min((list(frame.columns).index(c[:-len(N)]) for c in counts), default=len(frame.columns))
        frame.insert(first, "n", n)
    return frame


def _stats(frame: pd.DataFrame) -> list[str]:
    """The mean columns of a table (those with an interval beside them)."""
    return [c for c in frame.columns if f"{c}{LO}" in frame.columns]


def means_only(frame: pd.DataFrame) -> pd.DataFrame:
    """A table without its intervals and counts: the means and the other columns.

    Examples
    --------
    >>> import pandas as pd
    >>> means_only(pd.DataFrame({"e": ["x"], "n": [2], "a": [1.0], "a [lo]": [0.5], "a [hi]": [1.5],
    ...                          "a [n]": [2]})).columns.tolist()
    ['e', 'a']
    """
    stats = _stats(frame)
    drop = [f"{c}{s}" for c in stats for s in (LO, HI, N)] + (["n"] if stats else [])
    return frame.drop(columns=[c for c in drop if c in frame.columns])


def _rename(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """Rename mean columns together with their interval and count columns."""
    return frame.rename(columns={f"{a}{s}": f"{b}{s}" for a, b in names.items() for s in ("", LO, HI, N)})


def _arrange(frame: pd.DataFrame, first: Sequence[str], means: Sequence[str], last: Sequence[str] = ()) -> pd.DataFrame:
    """Columns ``first``, ``n``, each of ``means`` with its interval and count, then ``last`` (those present)."""
    cols = list(first) + ["n"] + [f"{c}{s}" for c in means for s in ("", LO, HI, N)] + list(last)
    return frame[[c for c in cols if c in frame.columns]]


@dataclass(frozen=True)
class Table:
    """One table of the report, rendered to markdown (:meth:`markdown`) and to HTML (:mod:`mxbench.bench.html`).

    Attributes
    ----------
    columns : tuple of str
        The header.
    rows : tuple of tuple of (str, object)
        Each cell's text and its sort key (a float, an int, a str, or None for an empty cell).
    kinds : tuple of str
        ``"num"`` or ``"text"`` per column.
    better : tuple of str
        ``"higher"``, ``"lower"`` or ``""`` per column.
    id : str
        The HTML table's id (``""``: none).

    Examples
    --------
    >>> print(Table(("a", "b"), ((("x", "x"), ("0.5", 0.5)),), ("text", "num"), ("", "higher")).markdown())
    | a | b |
    |---|---|
    | x | 0.5 |
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[tuple[str, Any], ...], ...]
    kinds: tuple[str, ...]
    better: tuple[str, ...]
    id: str = ""

    def markdown(self) -> str:
        """The table as a GitHub markdown table."""
        def cell(text: str) -> str:
            return str(text).replace("|", "\\|")

        head = "| " + " | ".join(cell(c) for c in self.columns) + " |"
        rule = "|" + "|".join("---" for _ in self.columns) + "|"
        body = ["| " + " | ".join(cell(text) for text, _ in row) + " |" for row in self.rows]
        return "\n".join([head, rule] + body)


def table_of(frame: pd.DataFrame, id: str = "", digits: int = 3, better: Mapping[str, str] | None = None) -> Table:
    """A frame as a :class:`Table`: each mean with its interval, integers as integers, one number format.

    A column ``c`` with ``c [lo]`` and ``c [hi]`` beside it (:func:`widen`) is a mean, shown as
    ``mean [lo, hi]`` (:func:`format_estimate`), with `` (n=k)`` when its count ``c [n]``
    differs from the row's ``n``; the interval and count columns are not shown. ``better``
    gives the way each column is better (default: the headline metrics').

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"explainer": ["e"], "n": [4], "auroc": [0.9123], "auroc [lo]": [0.85],
    ...                       "auroc [hi]": [0.97], "auroc [n]": [3]})
    >>> t = table_of(frame)
    >>> t.columns, t.rows[0][2], t.better
    (('explainer', 'n', 'auroc'), ('0.912 [0.85, 0.97] (n=3)', 0.9123), ('', '', 'higher'))
    """
    better = dict(HEADLINE) if better is None else dict(better)
    stats = _stats(frame)
    hidden = {f"{c}{s}" for c in stats for s in (LO, HI, N)}
    shown = [c for c in frame.columns if c not in hidden]
    kinds = tuple("num" if c in stats or (pd.api.types.is_numeric_dtype(frame[c])
                                          and not pd.api.types.is_bool_dtype(frame[c])) else "text" for c in shown)
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for c, kind in zip(shown, kinds):
            v = record[c]
            if c in stats:
                text = format_estimate(v, record[f"{c}{LO}"], record[f"{c}{HI}"], digits)
                k = record.get(f"{c}{N}")
                if "n" in record and k is not None and np.isfinite(float(v)) and int(k) != int(record["n"]):
                    text += f" (n={int(k)})"
                cells.append((text, float(v) if np.isfinite(float(v)) else None))
            elif kind == "num":
                finite = v is not None and np.isfinite(float(v))
                key = (int(v) if isinstance(v, (int, np.integer)) else float(v)) if finite else None
                cells.append((format_number(v, digits), key))
            else:
                text = format_number(v, digits) if not isinstance(v, str) else v
                cells.append((text, text))
        rows.append(tuple(cells))
    return Table(tuple(str(c) for c in shown), tuple(rows), kinds, tuple(better.get(c, "") for c in shown), id)


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pandas frame as a GitHub markdown table (:func:`table_of`; no tabulate dependency).

    Examples
    --------
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"a": ["x"], "b": [0.5]})))
    | a | b |
    |---|---|
    | x | 0.5 |
    """
    return table_of(frame, digits=digits).markdown()


_KEY = ["task", "instance", "model", "explainer", "budget", "seed", "metric"]


def with_truth(results: pd.DataFrame) -> pd.DataFrame:
    """``results`` with a ``truth`` column: results written before it was added are all ``"planted"``.

    Examples
    --------
    >>> import pandas as pd
    >>> with_truth(pd.DataFrame({"model": ["planted"]}))["truth"].tolist()
    ['planted']
    """
    if "truth" in results.columns:
        return results
    return results.assign(truth=PLANTED_TRUTH)


def explained_view(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, instance, model, explainer, budget, seed, metric): each explainer against the
    game it explains.

    A row scored against the model's own truth (``truth`` ``"model"`` or ``"model-estimate"``) is
    kept and its twin against the planted truth dropped; rows with no model twin (the planted
    game, metrics not scored against an estimated model truth, the model's own error rows, old
    results) are kept as they are. The leaderboard and the questions read this view; the
    decomposition table (:func:`decomposition`) reads both truths.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": 0, "model": "m", "explainer": "e", "budget": -1, "seed": 0,
    ...                      "metric": "auroc", "truth": ["planted", "model"], "value": [0.5, 1.0]})
    >>> explained_view(rows)["value"].tolist()
    [1.0]
    """
    results = with_truth(results)
    mine = results["truth"].isin([MODEL_TRUTH, MODEL_ESTIMATE])
    if not mine.any():
        return results
    twins = pd.MultiIndex.from_frame(results.loc[mine, _KEY])
    shadowed = (~mine) & pd.MultiIndex.from_frame(results[_KEY]).isin(twins)
    return results[~shadowed]


def decomposition(results: pd.DataFrame, intervals: bool = False) -> pd.DataFrame:
    """Per model game and explainer: mean ``shapley_error`` against the model truth and against the
    planted truth, and the model's own error against the planted truth (``model_shapley_error``).

    At default budgets (``budget == -1``). The explainer's error against the planted truth mixes
    its own estimation error with the model's departure from the planted game; the two other
    columns separate them. Where the model truth is an estimate (``"model-estimate"``, beyond
    :data:`~mxbench.validation.truth.MAX_GAME_PLAYERS` players) ``model truth`` says
    ``estimated``, else ``exact``. With ``intervals``, each mean has its interval and count
    beside it and ``n`` follows the explainer (:func:`summarise`, :func:`widen`).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": 0, "model": "m", "certified": True, "explainer": ["e", "e", "-"],
    ...                      "budget": -1, "seed": 0, "metric": ["shapley_error", "shapley_error",
    ...                      "model_shapley_error"], "truth": ["model", "planted", "planted"], "value": [0.1, 0.3, 0.2]})
    >>> decomposition(rows).values.tolist()
    [['m', 'e', 0.1, 0.3, 0.2, 'exact']]
    >>> decomposition(rows, intervals=True)[["model", "explainer", "n", "vs model truth [n]"]].values.tolist()
    [['m', 'e', 1, 1]]
    """
    means = ["vs model truth", "vs planted truth", "model vs planted"]
    cols = ["model", "explainer"] + means + ["model truth"]
    r = with_truth(results)
    r = r[(r["model"] != PLANTED) & (r["budget"] == -1)]
    estimated = set(r.loc[r["truth"] == MODEL_ESTIMATE, "model"])
    e = r[r["metric"] == "shapley_error"]
    if e.empty:
        return pd.DataFrame(columns=cols if not intervals else cols[:2] + ["n"] + cols[2:])
    e = e.assign(truth=e["truth"].map({MODEL_TRUTH: means[0], MODEL_ESTIMATE: means[0], PLANTED_TRUTH: means[1]}))
    t = widen(summarise(e, ["model", "explainer", "truth"]), ["model", "explainer"], "truth", means[:2])
    own = summarise(r[r["metric"] == "model_shapley_error"], ["model"]).set_index("model")
    own = own.rename(columns={"mean": means[2], "lo": f"{means[2]}{LO}", "hi": f"{means[2]}{HI}",
                              "n": f"{means[2]}{N}"})
    t = t.merge(own, left_on="model", right_index=True, how="left")
    t[f"{means[2]}{N}"] = t[f"{means[2]}{N}"].fillna(0).astype(int)
    t["model truth"] = np.where(t["model"].isin(estimated), "estimated", "exact")
    t = _arrange(_count(t), ["model", "explainer"], means, ["model truth"])
    t = t.sort_values(["model", "explainer"], kind="stable").reset_index(drop=True)
    return t if intervals else means_only(t)


def smoothness_table(results: pd.DataFrame, intervals: bool = False) -> pd.DataFrame:
    """Per model game and explainer: mean ``shapley_error`` over the players of differentiable terms
    and over the players of the others (``step``, ``xor``, ``and``, redundancy), against the
    truth of the game explained, at default budgets.

    On the ``exact`` model (no model error) the gap between the two columns is the explainer's
    own failure on terms a gradient does not see. With ``intervals``, as :func:`decomposition`.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": 0, "model": "exact", "certified": True, "explainer": "ig",
    ...                      "budget": -1, "seed": 0, "metric": ["shapley_error@smooth", "shapley_error@nonsmooth"],
    ...                      "truth": "model", "value": [0.01, 1.0]})
    >>> smoothness_table(rows).values.tolist()
    [['exact', 'ig', 0.01, 1.0]]
    """
    means = ["differentiable terms", "other terms"]
    cols = ["model", "explainer"] + means
    r = explained_view(results)
    r = r[(r["model"] != PLANTED) & (r["budget"] == -1)
          & r["metric"].isin(["shapley_error@smooth", "shapley_error@nonsmooth"])]
    if r.empty:
        return pd.DataFrame(columns=cols if not intervals else cols[:2] + ["n"] + means)
    t = widen(summarise(r, ["model", "explainer", "metric"]), ["model", "explainer"], "metric",
              ["shapley_error@smooth", "shapley_error@nonsmooth"])
    t = _rename(t, {"shapley_error@smooth": means[0], "shapley_error@nonsmooth": means[1]})
    t = _arrange(t, ["model", "explainer"], means).sort_values(["model", "explainer"], kind="stable")
    t = t.reset_index(drop=True)
    return t if intervals else means_only(t)


def _base(metric: pd.Series) -> pd.Series:
    return metric.str.split("@").str[0].str.split(":").str[0]


#: The order of the models in the tables: the planted game, then the architectures.
MODEL_ORDER = (PLANTED, "exact", "fusion_mlp", "transformer", "fl_i2moe")


def leaderboard(results: pd.DataFrame, certified: bool = True, intervals: bool = False) -> pd.DataFrame:
    """Mean headline metrics per (model, explainer), at each explainer's default budget.

    With ``intervals`` each mean has its 95% interval and count beside it (``auroc [lo]``,
    ``auroc [hi]``, ``auroc [n]``) and ``n`` follows the explainer (:func:`summarise`,
    :func:`widen`). Rows: the planted game first, then the models in :data:`MODEL_ORDER`, then
    the others; explainers in name order.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": [0, 1], "model": "planted", "certified": True,
    ...                      "explainer": "lemon", "budget": -1, "seed": 0, "metric": "auroc", "value": [1.0, 0.5]})
    >>> leaderboard(rows)[["model", "explainer", "auroc"]].values.tolist()
    [['planted', 'lemon', 0.75]]
    >>> board = leaderboard(rows, intervals=True)
    >>> board["n"].tolist(), board[["auroc", "auroc [lo]", "auroc [hi]"]].values.tolist()
    ([2], [[0.75, 0.5, 1.0]])
    """
    results = explained_view(results)  # model rows: against the model truth
    r = results[(results["certified"].astype(bool) == certified) & (results["budget"] == -1)]
    r = r[r["metric"].isin([m for m, _ in HEADLINE])]
    if r.empty:
        return pd.DataFrame(columns=["model", "explainer"])
    present = set(r["metric"])
    metrics = [m for m, _ in HEADLINE if m in present]
    table = widen(summarise(r, ["model", "explainer", "metric"]), ["model", "explainer"], "metric", metrics)
    order = {m: k for k, m in enumerate(MODEL_ORDER)}
    table["_o"] = table["model"].map(lambda m: order.get(m, 99))
    table = table.sort_values(["_o", "model", "explainer"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return table if intervals else means_only(table)


def queries_to_goal(results: pd.DataFrame, metric: str, goal: float, higher: bool,
                    intervals: bool = False) -> pd.DataFrame:
    """Per (model, explainer): the fewest mean queries at which the mean ``metric`` meets ``goal``.

    Uses the rows at explicit budgets (``budget >= 0``); the queries are the mean ``n_queries``
    actually spent at that budget; ``best`` is the best mean over the budgets. With
    ``intervals``, ``queries`` and ``best`` have their intervals and counts beside them
    (:func:`summarise`) and ``n`` follows the explainer.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = []
    >>> for b, q, v in [(10, 10, 0.2), (20, 20, 0.04)]:
    ...     rows += [dict(task="t", instance=0, model="planted", certified=True, explainer="lemon", budget=b,
    ...                   seed=0, metric=m, value=x) for m, x in (("modality_share_error", v), ("n_queries", q))]
    >>> queries_to_goal(pd.DataFrame(rows), "modality_share_error", 0.05, higher=False)["queries"].tolist()
    [20.0]
    """
    first, means, last = ["model", "explainer"], ["queries", "best"], ["largest budget"]
    r = results[(results["budget"] >= 0) & results["certified"].astype(bool)]
    keys = ["model", "explainer", "budget"]
    m = summarise(r[r["metric"] == metric], keys)
    q = summarise(r[r["metric"] == "n_queries"], keys)
    both = m.merge(q, on=keys, suffixes=("", "_q")).dropna(subset=["mean", "mean_q"])
    rows = []
    for (model, explainer), g in both.groupby(["model", "explainer"], sort=True):
        g = g.sort_values(["mean_q", "budget"], kind="stable")
        ok = g[g["mean"] >= goal] if higher else g[g["mean"] <= goal]
        best = g.loc[g["mean"].idxmax() if higher else g["mean"].idxmin()]
        row = {"model": model, "explainer": explainer, "queries": np.nan, f"queries{LO}": np.nan,
               f"queries{HI}": np.nan, f"queries{N}": 0}
        if len(ok):
            hit = ok.iloc[0]
            row.update({"queries": float(hit["mean_q"]), f"queries{LO}": float(hit["lo_q"]),
                        f"queries{HI}": float(hit["hi_q"]), f"queries{N}": int(hit["n_q"])})
        row.update({"best": float(best["mean"]), f"best{LO}": float(best["lo"]), f"best{HI}": float(best["hi"]),
                    f"best{N}": int(best["n"]), "largest budget": int(g["budget"].max())})
        rows.append(row)
    cols = first + ["n"] + [f"{c}{s}" for c in means for s in ("", LO, HI, N)] + last
    if not rows:
        table = pd.DataFrame(columns=cols)
    else:
        table = _arrange(_count(pd.DataFrame(rows)), first, means, last)
    return table if intervals else means_only(table)


_MARKERS = "osD^vP*Xph<>"
_LINES = ("-", "--", "-.", ":")


def _style(k: int) -> dict[str, Any]:
    """Colour, marker and line style of the ``k``-th series: neighbours differ in all three."""
    return {"color": f"C{k % 10}", "marker": _MARKERS[k % len(_MARKERS)], "linestyle": _LINES[k % len(_LINES)]}


def _offset(k: int, count: int, step: float = 1.045) -> float:
    """A factor that shifts the ``k``-th of ``count`` series sideways on a log axis, so equal points stay visible."""
    return float(step ** (k - (count - 1) / 2))


def _yerr(g: pd.DataFrame, mean: str = "mean", lo: str = "lo", hi: str = "hi") -> np.ndarray:
    """Error-bar lengths below and above each mean (zero where there is no interval)."""
    m = g[mean].to_numpy(dtype=float)
    low = np.nan_to_num(m - g[lo].to_numpy(dtype=float), nan=0.0).clip(min=0)
    high = np.nan_to_num(g[hi].to_numpy(dtype=float) - m, nan=0.0).clip(min=0)
    return np.vstack([low, high])


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_recovery(results: pd.DataFrame, metric: str, path: Path, goal: float, title: str) -> bool:
    """Mean ``metric`` against mean queries, one panel per model, with 95% intervals; explainers apart by style."""
    r = results[(results["budget"] >= 0) & results["certified"].astype(bool)]
    keys = ["model", "explainer", "budget"]
    m = summarise(r[r["metric"] == metric], keys)
    q = summarise(r[r["metric"] == "n_queries"], keys)
    both = m.merge(q, on=keys, suffixes=("", "_q")).dropna(subset=["mean", "mean_q"])
    if both.empty:
        return False
    plt = _pyplot()
    models = sorted(both["model"].unique(), key=lambda s: (s != PLANTED, s))
    names = sorted(both["explainer"].unique())
    fig, axes = plt.subplots(1, len(models), figsize=(4.4 * len(models), 3.8), squeeze=False, sharey=True)
    handles: dict[str, Any] = {}
    for ax, model in zip(axes[0], models):
        for k, name in enumerate(names):
            g = both[(both["model"] == model) & (both["explainer"] == name)].sort_values("mean_q")
            if g.empty:
                continue
            h = ax.errorbar(g["mean_q"] * _offset(k, len(names)), g["mean"], yerr=_yerr(g), capsize=2,
                            markersize=5, markerfacecolor="none", linewidth=1.3, elinewidth=0.8, label=name,
                            **_style(k))
            handles.setdefault(name, h)
        ax.axhline(goal, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_title(model)
        ax.set_xlabel("queries per instance")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    fig.suptitle(title)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(handles), 6), fontsize=8,
               bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_heatmap(board: pd.DataFrame, path: Path, title: str) -> bool:
    """A model × explainer heatmap per metric of :data:`HEATMAP` (annotated means and intervals; bright is better)."""
    from matplotlib.colors import Normalize

    shown = [m for m in HEATMAP if m in board.columns and board[m].notna().any()]
    if board.empty or not shown:
        return False
    plt = _pyplot()
    models = list(dict.fromkeys(board["model"]))
    names = sorted(board["explainer"].unique())
    better = dict(HEADLINE)
    width = max(5.0, 1.05 * len(names) + 2.2)
    fig, axes = plt.subplots(len(shown), 1, figsize=(width, (0.55 * len(models) + 1.3) * len(shown)), squeeze=False)
    for ax, metric in zip(axes[:, 0], shown):
        grid = board.pivot_table(index="model", columns="explainer", values=metric, aggfunc="first", dropna=False)
        grid = grid.reindex(index=models, columns=names)
        lo = board.pivot_table(index="model", columns="explainer", values=f"{metric}{LO}", aggfunc="first",
                               dropna=False).reindex(index=models, columns=names)
        hi = board.pivot_table(index="model", columns="explainer", values=f"{metric}{HI}", aggfunc="first",
                               dropna=False).reindex(index=models, columns=names)
        values = grid.to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        vmin, vmax = float(finite.min()), float(finite.max())
        if vmax - vmin < 1e-12:
            vmin, vmax = vmin - 0.5, vmax + 0.5
        cmap = plt.get_cmap("viridis" if better.get(metric) != "lower" else "viridis_r").with_extremes(bad="#dddddd")
        norm = Normalize(vmin, vmax)
        im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
        for i in range(len(models)):
            for j in range(len(names)):
                v = values[i, j]
                if not np.isfinite(v):
                    ax.text(j, i, "–", ha="center", va="center", fontsize=8, color="#555555")
                    continue
                rgb = cmap(norm(v))[:3]
                ink = "black" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 0.5 else "white"
                ax.text(j, i - 0.12, format_number(v), ha="center", va="center", fontsize=8.5, color=ink,
                        fontweight="bold")
                low, high = lo.to_numpy(dtype=float)[i, j], hi.to_numpy(dtype=float)[i, j]
                if np.isfinite(low) and np.isfinite(high):
                    ax.text(j, i + 0.22, f"[{format_number(low)}, {format_number(high)}]", ha="center",
                            va="center", fontsize=6, color=ink)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(models)))
        ax.set_yticklabels(models, fontsize=8)
        ax.set_title(f"{metric} ({better.get(metric, '')} is better; bright is better)", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.035, pad=0.02)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _estimate(d: Mapping[str, Any], c: str) -> str:
    """``mean [lo, hi]`` of the mean column ``c`` of a :func:`widen` row."""
    return format_estimate(d.get(c, np.nan), d.get(f"{c}{LO}", np.nan), d.get(f"{c}{HI}", np.nan))


def _question_pairs(results: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    r = results[results["certified"].astype(bool) & (_base(results["metric"]) == "pair_masking")]
    if r.empty:
        return "No pair-masking rows (run SIIProbe or RedundancyGap with the `pair_masking` metric).", r
    t = widen(summarise(r, ["model", "explainer", "metric"]), ["model", "explainer"], "metric")
    text = []
    for d in t.to_dict("records"):
        ranked, random = d.get("pair_masking@ranked", np.nan), d.get("pair_masking@random", np.nan)
        verdict = "more" if ranked > random else "not more"
        text.append(f"- {d['model']} / {d['explainer']}: masking the top-ranked pairs drops the output by "
                    f"{_estimate(d, 'pair_masking@ranked')} against {_estimate(d, 'pair_masking@random')} for "
                    f"random pairs ({verdict} than random, on the means); share of ranked pairs that are planted: "
                    f"{_estimate(d, 'pair_masking@planted')} (n = {int(d['n'])}).")
    return "\n".join(text), t


def task_players(results: pd.DataFrame, players: Mapping[str, int] | None = None) -> dict[str, int]:
    """The number of players of each task in ``results``: from ``players``, else from the named suites.

    A task the mapping does not give is looked up by name among the specs of the named suites
    (:data:`mxbench.generators.suites.SUITES`); a task found in neither is left out.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": ["paper-1k", "mine", "smoke-mix3"]})
    >>> task_players(rows, {"mine": 30})
    {'mine': 30, 'paper-1k': 1000, 'smoke-mix3': 12}
    """
    from mxbench.generators.suites import SUITES, suite_specs

    out = {name: int(n) for name, n in (players or {}).items() if name in set(results["task"])}
    missing = set(results["task"]) - set(out)
    for suite in SUITES if missing else ():
        for spec in suite_specs(suite):
            if spec.name in missing:
                out[spec.name] = spec.n_players
    return dict(sorted(out.items()))


def queries_per_n(results: pd.DataFrame, metric: str, goal: float, higher: bool,
                  players: Mapping[str, int], intervals: bool = False) -> pd.DataFrame:
    """:func:`queries_to_goal` per task, with the queries also in multiples of the task's players ``n``.

    Budgets that follow ``n`` (``n/4`` to ``4n`` on the tasks beyond the models) differ from task
    to task, so the curves are read one task at a time. When ``metric`` has an ``@active`` row
    too, its best mean is listed beside (``best@active``).

    Parameters
    ----------
    results : DataFrame
        Result rows.
    metric : str
        The metric read (``auroc``, ``modality_share_error``).
    goal : float
        The goal.
    higher : bool
        Whether higher is better.
    players : dict of str to int
        The players of each task (:func:`task_players`); other tasks are left out.
    intervals : bool
        Give each mean's interval and count beside it, and ``n`` after the explainer.

    Returns
    -------
    DataFrame
        Columns ``task, players, model, explainer, queries, queries / n, best, [best@active],
        largest budget / n``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = []
    >>> for b, a in [(500, 0.9), (1000, 0.97)]:
    ...     rows += [dict(task="big", instance=0, model="planted", certified=True, explainer="lemon", budget=b,
    ...                   seed=0, metric=m, value=x) for m, x in (("auroc", a), ("auroc@active", a - 0.1),
    ...                                                          ("n_queries", b))]
    >>> queries_per_n(pd.DataFrame(rows), "auroc", 0.95, True, {"big": 500}).values.tolist()
    [['big', 500, 'planted', 'lemon', 1000.0, 2.0, 0.97, 0.87, 2.0]]
    """
    first, means = ["task", "players", "model", "explainer"], ["queries", "queries / n", "best", "best@active"]
    frames = []
    for task, g in results[results["task"].isin(list(players))].groupby("task", sort=True):
        n = players[task]
        t = queries_to_goal(g, metric, goal, higher, intervals=True)
        if t.empty:
            continue
        t.insert(0, "task", task)
        t.insert(1, "players", n)
        for s in ("", LO, HI):
            t[f"queries / n{s}"] = t[f"queries{s}"] / n
        t[f"queries / n{N}"] = t[f"queries{N}"]
        active = queries_to_goal(g, f"{metric}@active", goal, higher, intervals=True)
        if not active.empty:
            keep = ["model", "explainer"] + [f"best{s}" for s in ("", LO, HI, N)]
            t = t.merge(_rename(active[keep], {"best": "best@active"}), on=["model", "explainer"], how="left")
            t[f"best@active{N}"] = t[f"best@active{N}"].fillna(0).astype(int)
        t["largest budget / n"] = t.pop("largest budget") / n
        frames.append(_arrange(_count(t), first, means, ["largest budget / n"]))
    if not frames:
        table = pd.DataFrame(columns=first + ["n"] + [f"{c}{s}" for c in means[:3] for s in ("", LO, HI, N)]
                             + ["largest budget / n"])
    else:
        table = pd.concat(frames, ignore_index=True)
        table = _arrange(table, first, means, ["largest budget / n"])
    return table if intervals else means_only(table)


def _lemon_lines(table: pd.DataFrame, by: list[str], label: Any, count: Any) -> list[str]:
    """Sentences comparing the queries each other explainer needs to reach the goal with LEMON's.

    One group per value of the columns ``by``; ``label(row)`` names the group, ``count(row, q)``
    writes ``q`` queries.
    """
    lines = []
    for _, g in table.groupby(by):
        who = label(g.iloc[0])
        lemon = g.loc[g["explainer"] == "lemon", "queries"]
        others = [(o, g.loc[g["explainer"] == o, "queries"]) for o in ("mmshap", "permutation", "kernelshap")]
        others = [(o, float(q.iloc[0])) for o, q in others if not q.empty]
        if lemon.empty or not np.isfinite(lemon.iloc[0]):
            reached = [f"{o} reached it with {count(g.iloc[0], q)}" for o, q in others if np.isfinite(q)]
            lines.append(f"- {who}: LEMON did not reach the goal within its largest budget"
                         + (f"; {', '.join(reached)}." if reached else "."))
            continue
        lq = float(lemon.iloc[0])
        for other, q in others:
            if np.isfinite(q):
                lines.append(f"- {who}: {other} needs {q / lq:.1f}× the queries of LEMON "
                             f"({count(g.iloc[0], q)} against {count(g.iloc[0], lq)}).")
            else:
                lines.append(f"- {who}: {other} did not reach the goal within its largest budget; LEMON "
                             f"needed {count(g.iloc[0], lq)}.")
    return lines


def _question_queries(results: pd.DataFrame, out: Path) -> list[Any]:
    """Question 1 on the tasks the models are built for: budgets 8 to 1024, rows pooled over tasks."""
    lines: list[Any] = []
    share = queries_to_goal(results, "modality_share_error", SHARE_GOAL, higher=False, intervals=True)
    auroc = queries_to_goal(results, "auroc", AUROC_GOAL, higher=True, intervals=True)
    for name, table in (("modality shares (total variation <= 0.05)", share),
                        ("feature attributions (material AUROC >= 0.95)", auroc)):
        if table.empty:
            continue
        lines += [f"Queries to reach the goal for {name} (the goal is read on the means):", "", table_of(table), ""]
        lines += _lemon_lines(table, ["model"], lambda row: row["model"],
                              lambda row, q: f"{format_number(q)} queries")
        lines.append("")
    offsets = ("Points of different explainers are shifted slightly sideways (a few percent on the log axis) so "
               "that equal values stay visible; bars are 95% intervals.")
    if _plot_recovery(results, "modality_share_error", out / "recovery_modality.png", SHARE_GOAL,
                      "modality-share error against queries"):
        lines += ["![modality-share error against queries](recovery_modality.png)", ""]
    if _plot_recovery(results, "auroc", out / "recovery_auroc.png", AUROC_GOAL, "AUROC (material) against queries"):
        lines += ["![AUROC against queries](recovery_auroc.png)", ""]
    if (out / "recovery_modality.png").exists() or (out / "recovery_auroc.png").exists():
        lines += [offsets, ""]
    return lines


def _question_queries_per_n(results: pd.DataFrame, players: Mapping[str, int], out: Path) -> list[Any]:
    """Question 1 on the tasks beyond the models: per task, budgets in multiples of ``n``, and a plot."""
    r = results[results["budget"] >= 0]
    if r.empty:
        return []
    lines: list[Any] = [
        f"### Tasks of more than {MAX_MODEL_PLAYERS} players (budgets n/4 to 4n, n = the task's players)", "",
        "Read one task at a time (the budgets follow each task's n); `best@active` is the best mean "
        "`auroc@active` (the two readings are defined under the leaderboard).", ""]
    for name, metric, goal, higher in (("feature attributions (material AUROC >= 0.95)", "auroc", AUROC_GOAL, True),
                                       ("modality shares (total variation <= 0.05)", "modality_share_error",
                                        SHARE_GOAL, False)):
        table = queries_per_n(r, metric, goal, higher, players, intervals=True)
        if table.empty:
            continue
        lines += [f"Queries to reach the goal for {name}, per task:", "", table_of(table), ""]
        lines += _lemon_lines(table, ["task", "model"], lambda row: f"{row['task']} ({row['players']} players)",
                              lambda row, q: f"{format_number(q)} queries = {q / row['players']:.2g}n")
        lines.append("")
    shown = [t for t in sorted(players, key=lambda t: -players[t]) if t in set(r["task"])]
    if not shown:
        return lines
    name, n = shown[0], players[shown[0]]
    points = recovery_per_n(r[r["task"] == name], n, intervals=True)
    if _plot_per_n(points, out / "recovery_paper.png", f"{name} ({n} players): AUROC against queries"):
        lines += [f"Material AUROC (solid) and AUROC@active (dashed) against queries per player on {name}, the "
                  f"largest of these tasks, and the mean values plotted (points of different explainers are "
                  f"shifted slightly sideways; bars are 95% intervals):", "",
                  f"![AUROC against queries / n, {name}](recovery_paper.png)", "", table_of(points), ""]
    return lines


def recovery_per_n(results: pd.DataFrame, n: int, intervals: bool = False) -> pd.DataFrame:
    """One task's recovery against queries: mean queries, queries / n and AUROC per explainer and budget.

    The points of the paper-scale plot of question 1. Rows at explicit budgets of certified
    models (here the planted games); ``auroc@active`` and ``modality_share_error`` where present.

    Parameters
    ----------
    results : DataFrame
        The rows of one task.
    n : int
        Its number of players.
    intervals : bool
        Give each mean's interval and count beside it, and ``n`` after the budget.

    Returns
    -------
    DataFrame
        Columns ``explainer, budget, queries, queries / n, auroc`` and, where present,
        ``auroc@active``, ``modality_share_error``; sorted by explainer and queries.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [dict(task="big", instance=i, model="planted", certified=True, explainer="lemon", budget=500,
    ...              seed=0, metric=m, value=x) for i in (0, 1) for m, x in (("auroc", 0.75 + 0.25 * i),
    ...                                                                    ("n_queries", 500))]
    >>> recovery_per_n(pd.DataFrame(rows), 1000).values.tolist()
    [['lemon', 500, 500.0, 0.5, 0.875]]
    """
    r = results[(results["budget"] >= 0) & results["certified"].astype(bool)]
    wanted = ["auroc", "auroc@active", "modality_share_error", "n_queries"]
    present = set(r["metric"])
    if "auroc" not in present or "n_queries" not in present:
        return pd.DataFrame(columns=["explainer", "budget", "queries", "queries / n", "auroc"])
    s = summarise(r[r["metric"].isin(wanted)], ["explainer", "budget", "metric"])
    t = _rename(widen(s, ["explainer", "budget"], "metric", [m for m in wanted if m in present]),
                {"n_queries": "queries"})
    for x in ("", LO, HI):
        t[f"queries / n{x}"] = t[f"queries{x}"] / n
    t[f"queries / n{N}"] = t[f"queries{N}"]
    t = t.dropna(subset=["auroc", "queries"]).sort_values(["explainer", "queries"], kind="stable")
    means = ["queries", "queries / n"] + [m for m in wanted[:3] if m in present]
    t = _arrange(t, ["explainer", "budget"], means).reset_index(drop=True)
    return t if intervals else means_only(t)


def _plot_per_n(points: pd.DataFrame, path: Path, title: str) -> bool:
    """Material AUROC (solid) and AUROC@active (dashed) against queries / n, per explainer (:func:`recovery_per_n`)."""
    if points.empty:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    names = sorted(points["explainer"].unique())
    for k, name in enumerate(names):
        g = points[points["explainer"] == name]
        style = _style(k)
        x = g["queries / n"] * _offset(k, len(names), 1.03)
        ax.errorbar(x, g["auroc"], yerr=_yerr(g, "auroc", f"auroc{LO}", f"auroc{HI}"), color=style["color"],
                    marker=style["marker"], linestyle="-", markersize=5, capsize=2, elinewidth=0.8, label=name)
        if "auroc@active" in g.columns:
            ax.plot(x, g["auroc@active"], marker=style["marker"], markerfacecolor="none", linestyle="--",
                    color=style["color"], alpha=0.75)
    ax.axhline(AUROC_GOAL, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("queries per instance / n")
    ax.set_ylabel("AUROC (solid: material, dashed: @active)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _hash_of(obj: Any) -> str | None:
    """The spec hash of a task, a spec, or the hash itself."""
    if isinstance(obj, str):
        return obj
    spec = getattr(obj, "spec", obj)
    method = getattr(spec, "spec_hash", None)
    return str(method()) if callable(method) else None


def _players_of(obj: Any) -> int | None:
    n = getattr(obj, "n_players", None)
    if n is None:
        n = getattr(getattr(obj, "spec", None), "n_players", None)
    return int(n) if n is not None else None


def _provenance(full: pd.DataFrame, hashes: Mapping[str, str], sizes: Mapping[str, int],
                command: str | None) -> list[Any]:
    """The provenance section: the version, the command, the rows, instances and seeds, and each task."""
    from mxbench._version import __version__

    explained = full[full["instance"] >= 0]
    seeds = sorted(int(s) for s in full["seed"].unique())
    items = pd.DataFrame({"item": ["mxbench version", "command", "rows", "tasks", "instances", "seeds",
                                   "bootstrap"],
                          "value": [__version__, command or "not recorded (written from Python)", str(len(full)),
                                    str(full["task"].nunique()),
                                    f"{len(explained[['task', 'instance']].drop_duplicates())} (task, instance) pairs",
                                    f"{len(seeds)} ({', '.join(str(s) for s in seeds)})",
                                    f"{RESAMPLES} resamples of (task, instance, seed) units, seed {BOOTSTRAP_SEED}"]})
    per_task = []
    for name, g in full.groupby("task", sort=True):
        e = g[g["instance"] >= 0]
        per_task.append({"task": name, "players": sizes.get(name, np.nan), "spec hash": hashes.get(name, "–"),
                         "instances": int(e["instance"].nunique()), "seeds": int(g["seed"].nunique()),
                         "rows": len(g)})
    tasks = pd.DataFrame(per_task)
    if tasks["players"].notna().all():
        tasks["players"] = tasks["players"].astype(int)
    lines: list[Any] = ["## Provenance", "", table_of(items, id="provenance"), "", table_of(tasks, id="tasks"), ""]
    if (tasks["spec hash"] == "–").any():
        lines += ["A spec hash reads – where the task was not given to the report (the main job, `mxbench run`, "
                  "gives every task).", ""]
    lines += [INTERVALS, ""]
    return lines


def write_report(results: pd.DataFrame | str | Path, out: str | Path, task: Any = None,
                 players: Mapping[str, int] | None = None, *, tasks: Mapping[str, Any] | None = None,
                 command: str | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and their PNG plots into ``out``; return the markdown report's path.

    ``report.html`` (:func:`mxbench.bench.html.render_html`) has the same sections in one
    self-contained file (inline style and script, the plots as data URIs) with sortable tables.
    The same results and arguments give byte-identical files: the report holds no date, and
    its intervals are drawn at a fixed seed (:func:`summarise`).

    Parameters
    ----------
    results : DataFrame or path
        A results frame, or a ``results.parquet`` written by :func:`~mxbench.bench.runner.write_results`.
    out : str or Path
        The report folder (created; files in it are replaced).
    task : Task, optional
        A planted task to draw the example figures from (:func:`example_figures`), over the
        instances of it the results explain.
    players : dict of str to int, optional
        The number of players of each task (default: from ``tasks``, else looked up in the
        named suites, :func:`task_players`): question 1 reads the tasks of more than
        :data:`~mxbench.bench.runner.MAX_MODEL_PLAYERS` players one at a time, in
        multiples of ``n``.
    tasks : dict of str to Task, optional
        The tasks by name (or their specs, or spec hashes): the provenance lists each task's
        spec hash (``task.spec.spec_hash()``) and players.
    command : str, optional
        The command line that produced the results, for the provenance.

    Raises
    ------
    RunnerError
        The results have another schema or no rows.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> rows = pd.DataFrame({"task": "t", "instance": [0, 1], "model": "planted", "certified": True,
    ...                      "explainer": "lemon", "budget": -1, "seed": 0, "metric": "auroc", "value": [1.0, 0.5]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_report(rows, d, command="mxbench report results.parquet --out report")
    ...     text = p.read_text()
    ...     "| planted | lemon | 2 | 0.75 [0.5, 1] |" in text, "| command | mxbench report" in text
    ...     sorted(f.name for f in p.parent.iterdir())
    (True, True)
    ['leaderboard_heatmap.png', 'report.html', 'report.md']
    """
    if not isinstance(results, pd.DataFrame):
        results = read_results(results)
    missing = [c for c in RESULT_COLUMNS if c not in results.columns and c != "truth"]
    if missing:
        raise RunnerError(f"results: missing columns {missing}; not an mxbench results frame")
    if results.empty:
        raise RunnerError("results: no rows to report")
    full = with_truth(results)  # results without a truth column: every row against the planted truth
    results = explained_view(full)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hashes = {name: h for name, obj in (tasks or {}).items() if (h := _hash_of(obj))}
    given = {name: n for name, obj in (tasks or {}).items() if (n := _players_of(obj)) is not None}
    if task is not None:
        hashes.setdefault(task.spec.name, task.spec.spec_hash())
        given.setdefault(task.spec.name, int(task.n_players))
    sizes = task_players(results, {**given, **(players or {})})
    lines: list[Any] = ["# mxbench report", ""] + _provenance(full, hashes, sizes, command)
    names = sorted(results["task"].unique())
    models = results.groupby("model")["certified"].first()
    per_task = results[results["instance"] >= 0].groupby("task")["instance"].nunique().max()
    lines += [f"Tasks: {', '.join(names)}. Instances per task: {per_task}. "
              f"Explainers: {', '.join(sorted(set(results['explainer']) - {'-'}))}.", ""]
    uncertified = [m for m, c in models.items() if not c]
    lines += ["Models: " + ", ".join(f"{m} ({'certified' if c else '**UNCERTIFIED**'})" for m, c in models.items())
              + ". Rows on uncertified models are reported separately and never mixed into the tables above them.",
              ""]

    lines += ["## Leaderboard (default budgets; planted games and certified models)", "", DEFINITIONS, "",
              "Pooled over the tasks (a unit is one instance of one task under one seed); each task alone under "
              "*Leaderboard per task*. Click a column header of the HTML report to sort.", ""]
    board = leaderboard(results, certified=True, intervals=True)
    lines += [table_of(board, id="leaderboard") if not board.empty else "No rows at default budgets.", ""]
    if _plot_heatmap(board, out / "leaderboard_heatmap.png", "leaderboard means: planted games and certified models"):
        lines += ["Model × explainer means of the headline metric (material AUROC) and of the modality-share and "
                  "deletion errors, each with its 95% interval (grey: no rows):", "",
                  "![model × explainer heatmap](leaderboard_heatmap.png)", ""]
    if uncertified:
        lines += ["### Uncertified models (flagged: the model did not learn the planted game)", "",
                  table_of(leaderboard(results, certified=False, intervals=True), id="leaderboard-uncertified"), ""]
    lines += ["## Leaderboard per task", "",
              "The leaderboard of each task alone (default budgets; planted games and certified models).", ""]
    for name in names:
        b = leaderboard(results[results["task"] == name], certified=True, intervals=True)
        n = f" ({sizes[name]} players)" if name in sizes else ""
        lines += [f"### {name}{n}", "",
                  table_of(b, id=f"leaderboard-{slug(name)}") if not b.empty else "No rows at default budgets.", ""]

    lines += ["## Decomposition (model games: explainer error against the model and the planted truth)", "",
              "Mean `shapley_error` of each explainer against the exact truth of the model it explains "
              "(`vs model truth`) and against the planted truth (`vs planted truth`), and the model's own "
              "error against the planted truth (`model vs planted`: ||phi_model - phi_planted|| / "
              "||phi_planted||), at default budgets. Beyond 20 players the model truth is an estimate "
              "(antithetic permutations; `model truth`: estimated).", ""]
    lower = {"vs model truth": "lower", "vs planted truth": "lower", "model vs planted": "lower",
             "differentiable terms": "lower", "other terms": "lower"}
    dec = decomposition(full, intervals=True)
    lines += [table_of(dec, id="decomposition", better=lower) if not dec.empty
              else "No model-game rows in these results.", ""]
    smooth = smoothness_table(full, intervals=True)
    if not smooth.empty:
        lines += ["### Terms that are not differentiable", "",
                  "Mean `shapley_error` over the players of differentiable terms (identity, tanh, product; and "
                  "distractors) and over the players of the others (step, xor, and, redundancy's max), against "
                  "the truth of the game explained, at default budgets. On the `exact` model (the planted "
                  "function in torch, no model error) gradients are zero on step, xor and and, and select one "
                  "copy of a redundancy term: a large error in the second column there is the method's own.", "",
                  table_of(smooth, id="smoothness", better=lower), ""]

    # 1. query reduction
    lines += ["## 1. LEMON's query reduction at equal recovery", ""]
    large = results["task"].map(lambda t: beyond_models(sizes.get(t, 0))).to_numpy(dtype=bool)
    answer = _question_queries(results[~large], out) + _question_queries_per_n(results[large], sizes, out)
    lines += answer or ["No rows at explicit budgets: run with several budgets to answer this question.", ""]

    # 2. pair masking
    lines += ["## 2. Pair masking: ranked pairs against random pairs", ""]
    text, _ = _question_pairs(results)
    lines += [text, ""]

    # 3. FL-I2MoE specialisation
    lines += ["## 3. FL-I2MoE routing and expert maps against the planted kinds", ""]
    r = results[(results["model"] == "fl_i2moe") & (results["explainer"] == "specialisation")]
    if r.empty:
        lines += ["No FL-I2MoE specialisation rows in these results.", ""]
    else:
        routing = r[_base(r["metric"]) == "routing"]
        routing = routing.assign(expert=routing["metric"].str.split("@").str[1])
        t = widen(summarise(routing, ["task", "expert"]), ["task"], "expert")
        lines += ["Mean routing weight of each expert (test instances; one row per task, so n = 1):", "",
                  table_of(t, id="routing"), ""]
        kinds = r[_base(r["metric"]).isin(["matching_share", "matching_top"])]
        t = widen(summarise(kinds, ["task", "metric"]), ["task"], "metric")
        lines += ["Per planted term kind: the mean share of a term carried by the expert of its kind "
                  "(`matching_share`; the experts' shares add up to about 1 on a certified model) and the "
                  "fraction of terms whose largest share that expert carries (`matching_top`):", "",
                  table_of(t, id="matching"), ""]
        if not board.empty and "expert_maps" in set(board["explainer"]):
            em = board[(board["model"] == "fl_i2moe") & (board["explainer"] == "expert_maps")]
            if not em.empty and "auroc" in em.columns:
                lines += [f"Expert maps (routing-weighted attention × gradient) separate relevant players from "
                          f"distractors at AUROC {_estimate(em.iloc[0].to_dict(), 'auroc')}.", ""]

    # 4. attention against causal
    lines += ["## 4. Attention against causal explanations", ""]
    b = board[board["model"].isin(["transformer", "fl_i2moe"])] if not board.empty else board
    if b.empty or "auroc" not in b.columns:
        lines += ["No attention-capable certified models in these results.", ""]
    else:
        for model, g in b.dropna(subset=["auroc"]).groupby("model"):
            att = g[g["explainer"].isin(ATTENTION)]
            cau = g[g["explainer"].isin(CAUSAL)]
            if att.empty or cau.empty:
                continue
            best_att = att.loc[att["auroc"].idxmax()].to_dict()
            best_cau = cau.loc[cau["auroc"].idxmax()].to_dict()
            lines.append(f"- {model}: best attention-based AUROC {_estimate(best_att, 'auroc')} "
                         f"({best_att['explainer']}) against best causal {_estimate(best_cau, 'auroc')} "
                         f"({best_cau['explainer']}).")
        lines.append("")

    # 5. attribution gap
    lines += ["## 5. The multimodal attribution gap", ""]
    g = results[results["certified"].astype(bool) & (_base(results["metric"]) == "attribution_gap")]
    if g.empty:
        lines += ["No attribution-gap rows in these results.", ""]
    else:
        t = widen(summarise(g, ["model", "explainer", "metric"]), ["model", "explainer"], "metric")
        lines += ["Relative error of the attributions of cross-modal synergy players against the exact Shapley "
                  "values, for explanations computed one modality at a time (`unimodal-*`) and jointly:", "",
                  table_of(t, id="attribution-gap", better={"attribution_gap": "lower"}), ""]
        for row in t.to_dict("records"):
            if row["explainer"].startswith("unimodal-") and "attribution_gap" in row:
                joint = t[(t["model"] == row["model"]) & (t["explainer"] == row["explainer"][len("unimodal-"):])]
                if len(joint):
                    lines.append(f"- {row['model']}: {row['explainer']} errs {_estimate(row, 'attribution_gap')} on "
                                 f"cross-modal synergy players against "
                                 f"{_estimate(joint.iloc[0].to_dict(), 'attribution_gap')} for the joint "
                                 f"{row['explainer'][len('unimodal-'):]}.")
        lines.append("")

    if task is not None:
        shown = full[(full["task"] == task.spec.name) & (full["instance"] >= 0)]["instance"].unique()
        lines += ["## Example task", ""] + example_figures(task, out,
                                                            instances=sorted(int(i) for i in shown) or None)
    lines += ["## Metric directions", "",
              "Higher is better for AUROC, precision, correlations, insertion, comprehensiveness; lower is better "
              "for errors, deletion, sufficiency, axiom violations, queries and seconds.", ""]
    path = out / "report.md"
    _replace(path, "\n".join(b.markdown() if isinstance(b, Table) else b for b in lines))
    _replace(out / "report.html", render_html(lines, out, title="mxbench report"))
    return path


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def example_figures(task: Any, out: str | Path, instance: int | None = None, budget: int = 1024,
                    random_state: int = 0, instances: Sequence[int] | None = None) -> list[str]:
    """Figures of a planted task: exact against estimated pair interactions, and deletion curves.

    Draws ``interactions.png``: the exact SII matrix of ``instance`` next to SIIProbe's
    estimate at ``budget`` queries, and a scatter of SIIProbe's estimate against the exact SII
    of every pair of every one of ``instances``, with the identity line (over the planted
    players only on a task beyond the models' scale; left out, with a sentence saying so, when
    SIIProbe cannot run within ``budget``); and ``deletion_curves.png`` (deletion curves of
    several explainers and of the exact Shapley ranking on ``instance``). Returns the markdown
    lines that show them.

    Parameters
    ----------
    task : Task
        A planted task.
    out : str or Path
        The folder of the figures.
    instance : int, optional
        The instance of the matrices and the deletion curves (default: the first of
        ``instances``, else the first test instance).
    budget : int
        SIIProbe's queries.
    random_state : int
        The explainers' seed.
    instances : list of int, optional
        The instances of the scatter (default: the first four test instances).

    Examples
    --------
    >>> import mxbench, tempfile
    >>> task = mxbench.generate("smoke", instances=16)[0]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     lines = example_figures(task, d, budget=512, instances=[0, 1])
    ...     sorted(p.name for p in Path(d).glob("*.png"))
    ['deletion_curves.png', 'interactions.png']
    >>> lines[0].split(":")[0]
    'Pair interactions of smoke-tab-txt, exact (SII) against SIIProbe at 512 queries'
    """
    from mxbench.explainers import KernelSHAP, LEMON, LIME
    from mxbench.validation.faithfulness import curves
    from mxbench.validation.truth import Truth

    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    test = [int(i) for i in task.split_indices("test")]
    if instances is None or not len(instances):
        instances = test[:4] if test else [0]
    instances = [int(i) for i in instances]
    if instance is None:
        instance = instances[0]
    truth = Truth.from_task(task, instance)
    lines = _interaction_figure(task, instance, instances, truth, out, budget, random_state)
    explainers = (LEMON(random_state=random_state), KernelSHAP(random_state=random_state),
                  LIME(random_state=random_state))
    # small multiples: one panel per explainer over the exact ranking's curve, so equal curves hide nothing
    fig, axes = plt.subplots(1, len(explainers), figsize=(4.0 * len(explainers), 3.6), sharey=True, squeeze=False)
    for k, (ax, explainer) in enumerate(zip(axes[0], explainers)):
        e = explainer.explain(task.game(instance))
        c = curves(e, truth, task.game(instance))
        ax.plot(c["fraction"], c["deletion_exact"], color="black", alpha=0.3, linewidth=5,
                label="exact Shapley ranking")
        style = _style(k)
        ax.plot(c["fraction"], c["deletion"], marker=style["marker"], color=style["color"], markersize=4,
                linewidth=1.4, label=e.explainer)
        ax.set_title(f"{e.explainer} ({e.n_queries} queries)", fontsize=10)
        ax.set_xlabel("fraction of players removed")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("normalised output")
    fig.suptitle(f"deletion curves, {task.spec.name} instance {instance}, most important first (lower is better)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "deletion_curves.png", dpi=110)
    plt.close(fig)
    return lines + [f"Deletion curves on instance {instance}, one panel per explainer over the curve of the exact "
                    f"Shapley ranking (the wide grey line):", "", "![deletion curves](deletion_curves.png)", ""]


def _interaction_figure(task: Any, instance: int, instances: Sequence[int], truth: Any, out: Path, budget: int,
                        random_state: int) -> list[str]:
    """Draw ``interactions.png`` (exact SII against SIIProbe's estimate); the markdown lines for it."""
    from mxbench.explainers import SIIProbe
    from mxbench.explainers.base import min_budget_of
    from mxbench.validation.truth import Truth

    need = min_budget_of(SIIProbe(), task.n_players, np.asarray(task.modality_of))
    if need > budget:
        return [f"No pair-interaction figure: SIIProbe needs at least {need} queries on {task.spec.name}'s "
                f"{task.n_players} players, more than the figure's {budget}.", ""]
    plt = _pyplot()
    # beyond the models' scale the pairs are read over the planted players only (hundreds of rows otherwise)
    shown = (np.flatnonzero(truth.roles != "distractor") if beyond_models(task.n_players)
             else np.arange(task.n_players))
    names = [task.player_names[k] for k in shown]
    iu, ju = np.triu_indices(len(shown), 1)
    a, b = shown[iu], shown[ju]
    exact_all, est_all, planted_all = [], [], []
    matrices = None
    for i in instances:
        t = truth if i == instance else Truth.from_task(task, i)
        probe = SIIProbe(budget=budget, random_state=random_state).explain(task.game(i))
        est = probe.interaction_matrix(fill=np.nan)
        if i == instance:
            matrices = (t.sii[np.ix_(shown, shown)], np.nan_to_num(est[np.ix_(shown, shown)]), probe.n_queries)
        pi, pj, _, _ = t.pair_arrays()
        planted = {(min(p, q), max(p, q)) for p, q in zip(pi.tolist(), pj.tolist())}
        exact_all.append(t.sii[a, b])
        est_all.append(est[a, b])
        planted_all.append(np.array([(p, q) in planted for p, q in zip(a.tolist(), b.tolist())], dtype=bool))
    if matrices is None:  # the matrices' instance is not among the scatter's
        t = truth
        probe = SIIProbe(budget=budget, random_state=random_state).explain(task.game(instance))
        matrices = (t.sii[np.ix_(shown, shown)], probe.interaction_matrix(fill=0.0)[np.ix_(shown, shown)],
                    probe.n_queries)
    x, y, planted = np.concatenate(exact_all), np.concatenate(est_all), np.concatenate(planted_all)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, planted = x[ok], y[ok], planted[ok]
    exact, est, queries = matrices
    fig, axes = plt.subplots(1, 3, figsize=(16.0, 5.0), gridspec_kw={"width_ratios": [1, 1, 1.05]})
    lim = float(max(np.abs(exact).max(), np.abs(est).max(), 1e-12))
    for ax, m, title in ((axes[0], exact, f"exact SII, instance {instance}"),
                         (axes[1], est, f"SIIProbe ({queries} queries), instance {instance}")):
        im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=7)
        ax.set_yticklabels(names, fontsize=7)
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=list(axes[:2]), shrink=0.8, label="pair interaction")
    ax = axes[2]
    ax.scatter(x[~planted], y[~planted], s=12, color="#777777", alpha=0.5, marker="o", label="other pairs",
               rasterized=len(x) > 5000)
    ax.scatter(x[planted], y[planted], s=36, facecolors="none", edgecolors="#cc3311", marker="D",
               linewidths=1.2, label="planted pairs")
    span = float(max(np.abs(x).max(initial=0), np.abs(y).max(initial=0), 1e-12)) * 1.08
    ax.plot([-span, span], [-span, span], color="black", linestyle="--", linewidth=1, label="identity")
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    rmse = float(np.sqrt(np.mean((y - x) ** 2))) if len(x) else np.nan
    ax.set_xlabel("exact SII")
    ax.set_ylabel("SIIProbe estimate")
    ax.set_title(f"every pair of {len(instances)} instances ({len(x)} points)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.text(0.98, 0.02, f"RMSE {format_number(rmse)}", transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    which = "" if len(shown) == task.n_players else f" among the {len(shown)} planted players"
    fig.suptitle(f"{task.spec.name}: pair interactions{which}")
    fig.savefig(out / "interactions.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return [f"Pair interactions of {task.spec.name}, exact (SII) against SIIProbe at {budget} queries: the "
            f"matrices of instance {instance}, and every pair{which} of every explained instance "
            f"({len(instances)} instances: {', '.join(str(i) for i in instances)}; {len(x)} points, "
            f"{int(planted.sum())} of them planted pairs; RMSE {format_number(rmse)}) against the identity line.",
            "", "![exact against estimated pair interactions](interactions.png)", ""]
