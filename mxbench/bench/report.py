"""The report: leaderboard tables, the five questions of the benchmark, and PNG plots.

:func:`write_report` reads a results frame (:func:`mxbench.bench.runner.validate`) and
writes ``report.md`` with:

- the leaderboard (mean of the headline metrics per model and explainer), certified models and
  the planted games first, uncertified models in their own table, flagged;
- the five questions: (1) LEMON's query reduction at equal recovery — on the tasks the models
  are built for at budgets 8 to 1024, and per task on larger tasks (the ``paper`` suite) at
  budgets in multiples of the number of players ``n``, (2) pair masking against random pairs,
  (3) FL-I2MoE routing and expert maps against the planted kinds, (4) attention against causal
  explanations, (5) the multimodal attribution gap;
- plots: recovery against queries per explainer (and, at paper scale, material AUROC against
  queries / n on the largest task), modality shares against the truth, deletion curves' areas,
  the exact against the estimated pair interactions.

The recovery headline is the *material* reading (``auroc``, ``precision_at_k``,
``pair_precision``: positives are the planted players or pairs with at least 5% of the
instance's largest exact value); the ``@active`` columns keep every planted player or pair
active on the instance (:mod:`mxbench.validation.recovery`).

Every figure in the text is computed from the rows; a question the rows cannot answer says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

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


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, (int, np.integer)) or (abs(x) >= 100 and float(x).is_integer()):
        return str(int(x))
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.{digits}f}"


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pandas frame as a GitHub markdown table (no tabulate dependency).

    Examples
    --------
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"a": ["x"], "b": [0.5]})))
    | a | b |
    |---|---|
    | x | 0.500 |
    """
    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_fmt(v, digits) if not isinstance(v, str) else v for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule] + body)


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


def decomposition(results: pd.DataFrame) -> pd.DataFrame:
    """Per model game and explainer: mean ``shapley_error`` against the model truth and against the
    planted truth, and the model's own error against the planted truth (``model_shapley_error``).

    At default budgets (``budget == -1``). The explainer's error against the planted truth mixes
    its own estimation error with the model's departure from the planted game; the two other
    columns separate them. Where the model truth is an estimate (``"model-estimate"``, beyond
    :data:`~mxbench.validation.truth.MAX_GAME_PLAYERS` players) ``model truth`` says
    ``estimated``, else ``exact``.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": 0, "model": "m", "certified": True, "explainer": ["e", "e", "-"],
    ...                      "budget": -1, "seed": 0, "metric": ["shapley_error", "shapley_error",
    ...                      "model_shapley_error"], "truth": ["model", "planted", "planted"], "value": [0.1, 0.3, 0.2]})
    >>> decomposition(rows).values.tolist()
    [['m', 'e', 0.1, 0.3, 0.2, 'exact']]
    """
    cols = ["model", "explainer", "vs model truth", "vs planted truth", "model vs planted", "model truth"]
    r = with_truth(results)
    r = r[(r["model"] != PLANTED) & (r["budget"] == -1)]
    own = r[r["metric"] == "model_shapley_error"].groupby("model")["value"].mean()
    estimated = r[r["truth"] == MODEL_ESTIMATE].groupby("model").size()
    e = r[r["metric"] == "shapley_error"].replace({"truth": {MODEL_ESTIMATE: MODEL_TRUTH}})
    if e.empty:
        return pd.DataFrame(columns=cols)
    t = e.pivot_table(index=["model", "explainer"], columns="truth", values="value", aggfunc="mean")
    t = t.reindex(columns=[MODEL_TRUTH, PLANTED_TRUTH])
    t.columns = ["_vs_model", "_vs_planted"]  # "model" is also an index name
    t = t.reset_index()
    t["own"] = t["model"].map(own)
    t["kind"] = np.where(t["model"].isin(estimated.index), "estimated", "exact")
    t.columns = cols
    return t.sort_values(["model", "explainer"]).reset_index(drop=True)


def smoothness_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per model game and explainer: mean ``shapley_error`` over the players of differentiable terms
    and over the players of the others (``step``, ``xor``, ``and``, redundancy), against the
    truth of the game explained, at default budgets.

    On the ``exact`` model (no model error) the gap between the two columns is the explainer's
    own failure on terms a gradient does not see.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": 0, "model": "exact", "certified": True, "explainer": "ig",
    ...                      "budget": -1, "seed": 0, "metric": ["shapley_error@smooth", "shapley_error@nonsmooth"],
    ...                      "truth": "model", "value": [0.01, 1.0]})
    >>> smoothness_table(rows).values.tolist()
    [['exact', 'ig', 0.01, 1.0]]
    """
    cols = ["model", "explainer", "differentiable terms", "other terms"]
    r = explained_view(results)
    r = r[(r["model"] != PLANTED) & (r["budget"] == -1)
          & r["metric"].isin(["shapley_error@smooth", "shapley_error@nonsmooth"])]
    if r.empty:
        return pd.DataFrame(columns=cols)
    t = r.pivot_table(index=["model", "explainer"], columns="metric", values="value", aggfunc="mean")
    t = t.reindex(columns=["shapley_error@smooth", "shapley_error@nonsmooth"])
    t.columns = ["_smooth", "_other"]
    t = t.reset_index()
    t.columns = cols
    return t.sort_values(["model", "explainer"]).reset_index(drop=True)


def _base(metric: pd.Series) -> pd.Series:
    return metric.str.split("@").str[0].str.split(":").str[0]


def leaderboard(results: pd.DataFrame, certified: bool = True) -> pd.DataFrame:
    """Mean headline metrics per (model, explainer), at each explainer's default budget.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"task": "t", "instance": [0, 1], "model": "planted", "certified": True,
    ...                      "explainer": "lemon", "budget": -1, "seed": 0, "metric": "auroc", "value": [1.0, 0.5]})
    >>> leaderboard(rows)[["model", "explainer", "auroc"]].values.tolist()
    [['planted', 'lemon', 0.75]]
    """
    results = explained_view(results)  # model rows: against the model truth
    r = results[(results["certified"].astype(bool) == certified) & (results["budget"] == -1)]
    r = r[r["metric"].isin([m for m, _ in HEADLINE])]
    if r.empty:
        return pd.DataFrame(columns=["model", "explainer"])
    table = r.pivot_table(index=["model", "explainer"], columns="metric", values="value", aggfunc="mean")
    cols = [m for m, _ in HEADLINE if m in table.columns]
    table = table[cols].reset_index()
    order = {m: k for k, m in enumerate([PLANTED, "fusion_mlp", "transformer", "fl_i2moe"])}
    table["_o"] = table["model"].map(lambda m: order.get(m, 99))
    return table.sort_values(["_o", "model", "explainer"]).drop(columns="_o").reset_index(drop=True)


def queries_to_goal(results: pd.DataFrame, metric: str, goal: float, higher: bool) -> pd.DataFrame:
    """Per (model, explainer): the fewest mean queries at which the mean ``metric`` meets ``goal``.

    Uses the rows at explicit budgets (``budget >= 0``); the queries are the mean ``n_queries``
    actually spent at that budget.

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
    r = results[(results["budget"] >= 0) & results["certified"].astype(bool)]
    m = r[r["metric"] == metric].groupby(["model", "explainer", "budget"])["value"].mean()
    q = r[r["metric"] == "n_queries"].groupby(["model", "explainer", "budget"])["value"].mean()
    both = pd.concat({"value": m, "queries": q}, axis=1).dropna().reset_index()
    rows = []
    for (model, explainer), g in both.groupby(["model", "explainer"]):
        g = g.sort_values("queries")
        ok = g[g["value"] >= goal] if higher else g[g["value"] <= goal]
        rows.append({"model": model, "explainer": explainer,
                     "queries": float(ok["queries"].iloc[0]) if len(ok) else np.nan,
                     "best": float(g["value"].max() if higher else g["value"].min()),
                     "largest budget": int(g["budget"].max())})
    return pd.DataFrame(rows, columns=["model", "explainer", "queries", "best", "largest budget"])


def _plot_recovery(results: pd.DataFrame, metric: str, path: Path, goal: float, title: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = results[(results["budget"] >= 0) & results["certified"].astype(bool)]
    m = r[r["metric"] == metric].groupby(["model", "explainer", "budget"])["value"].mean()
    q = r[r["metric"] == "n_queries"].groupby(["model", "explainer", "budget"])["value"].mean()
    both = pd.concat({"value": m, "queries": q}, axis=1).dropna().reset_index()
    if both.empty:
        return False
    models = sorted(both["model"].unique(), key=lambda s: (s != PLANTED, s))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.6), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models):
        for explainer, g in both[both["model"] == model].groupby("explainer"):
            g = g.sort_values("queries")
            ax.plot(g["queries"], g["value"], marker="o", label=explainer)
        ax.axhline(goal, color="grey", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_title(model)
        ax.set_xlabel("queries per instance")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    axes[0][-1].legend(fontsize=8, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _plot_bars(table: pd.DataFrame, value: str, path: Path, title: str, ylabel: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if table.empty or value not in table.columns:
        return False
    t = table.dropna(subset=[value])
    if t.empty:
        return False
    labels = [f"{a}\n{b}" for a, b in zip(t["model"], t["explainer"])]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(t)), 4.0))
    ax.bar(range(len(t)), t[value], color="#4477aa")
    ax.set_xticks(range(len(t)))
    ax.set_xticklabels(labels, rotation=70, fontsize=7, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _question_pairs(results: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    r = results[results["certified"].astype(bool) & (_base(results["metric"]) == "pair_masking")]
    if r.empty:
        return "No pair-masking rows (run SIIProbe or RedundancyGap with the `pair_masking` metric).", r
    t = r.pivot_table(index=["model", "explainer"], columns="metric", values="value", aggfunc="mean").reset_index()
    t.columns = [str(c) for c in t.columns]
    text = []
    for d in t.to_dict("records"):
        ranked, random = d.get("pair_masking@ranked", np.nan), d.get("pair_masking@random", np.nan)
        planted = d.get("pair_masking@planted", np.nan)
        verdict = "more" if ranked > random else "not more"
        text.append(f"- {d['model']} / {d['explainer']}: masking the top-ranked pairs drops the output by "
                    f"{_fmt(ranked)} against {_fmt(random)} for random pairs ({verdict} than random); "
                    f"share of ranked pairs that are planted: {_fmt(planted)}.")
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
                  players: Mapping[str, int]) -> pd.DataFrame:
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
    frames = []
    for task, g in results[results["task"].isin(list(players))].groupby("task"):
        n = players[task]
        t = queries_to_goal(g, metric, goal, higher)
        if t.empty:
            continue
        t.insert(0, "task", task)
        t.insert(1, "players", n)
        t.insert(5, "queries / n", t["queries"] / n)
        active = queries_to_goal(g, f"{metric}@active", goal, higher)
        if not active.empty:
            t = t.merge(active[["model", "explainer", "best"]].rename(columns={"best": "best@active"}),
                        on=["model", "explainer"], how="left")
        t["largest budget / n"] = t.pop("largest budget") / n
        frames.append(t)
    if not frames:
        return pd.DataFrame(columns=["task", "players", "model", "explainer", "queries", "queries / n", "best",
                                     "largest budget / n"])
    return pd.concat(frames, ignore_index=True)


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


def _question_queries(results: pd.DataFrame, out: Path) -> list[str]:
    """Question 1 on the tasks the models are built for: budgets 8 to 1024, rows pooled over tasks."""
    lines: list[str] = []
    share = queries_to_goal(results, "modality_share_error", SHARE_GOAL, higher=False)
    auroc = queries_to_goal(results, "auroc", AUROC_GOAL, higher=True)
    for name, table in (("modality shares (total variation <= 0.05)", share),
                        ("feature attributions (material AUROC >= 0.95)", auroc)):
        if table.empty:
            continue
        lines += [f"Queries to reach the goal for {name}:", "", markdown_table(table), ""]
        lines += _lemon_lines(table, ["model"], lambda row: row["model"], lambda row, q: f"{_fmt(q, 1)} queries")
        lines.append("")
    if _plot_recovery(results, "modality_share_error", out / "recovery_modality.png", SHARE_GOAL,
                      "modality-share error against queries"):
        lines += ["![modality-share error against queries](recovery_modality.png)", ""]
    if _plot_recovery(results, "auroc", out / "recovery_auroc.png", AUROC_GOAL, "AUROC (material) against queries"):
        lines += ["![AUROC against queries](recovery_auroc.png)", ""]
    return lines


def _question_queries_per_n(results: pd.DataFrame, players: Mapping[str, int], out: Path) -> list[str]:
    """Question 1 on the tasks beyond the models: per task, budgets in multiples of ``n``, and a plot."""
    r = results[results["budget"] >= 0]
    if r.empty:
        return []
    lines = [f"### Tasks of more than {MAX_MODEL_PLAYERS} players (budgets n/4 to 4n, n = the task's players)", "",
             "Read one task at a time (the budgets follow each task's n); `best@active` is the best mean "
             "`auroc@active` (the two readings are defined under the leaderboard).", ""]
    for name, metric, goal, higher in (("feature attributions (material AUROC >= 0.95)", "auroc", AUROC_GOAL, True),
                                       ("modality shares (total variation <= 0.05)", "modality_share_error",
                                        SHARE_GOAL, False)):
        table = queries_per_n(r, metric, goal, higher, players)
        if table.empty:
            continue
        lines += [f"Queries to reach the goal for {name}, per task:", "", markdown_table(table), ""]
        lines += _lemon_lines(table, ["task", "model"], lambda row: f"{row['task']} ({row['players']} players)",
                              lambda row, q: f"{_fmt(q, 1)} queries = {q / row['players']:.2g}n")
        lines.append("")
    shown = [t for t in sorted(players, key=lambda t: -players[t]) if t in set(r["task"])]
    if not shown:
        return lines
    name, n = shown[0], players[shown[0]]
    points = recovery_per_n(r[r["task"] == name], n)
    if _plot_per_n(points, out / "recovery_paper.png", f"{name} ({n} players): AUROC against queries"):
        lines += [f"Material AUROC (solid) and AUROC@active (dashed) against queries per player on {name}, the "
                  f"largest of these tasks, and the mean values plotted:", "",
                  f"![AUROC against queries / n, {name}](recovery_paper.png)", "", markdown_table(points), ""]
    return lines


def recovery_per_n(results: pd.DataFrame, n: int) -> pd.DataFrame:
    """One task's recovery against queries: mean queries, queries / n and AUROC per explainer and budget.

    The points of the paper-scale plot of question 1. Rows at explicit budgets of certified
    models (here the planted games); ``auroc@active`` and ``modality_share_error`` where present.

    Parameters
    ----------
    results : DataFrame
        The rows of one task.
    n : int
        Its number of players.

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
    means = r[r["metric"].isin(wanted)].groupby(["explainer", "budget", "metric"])["value"].mean().unstack("metric")
    if "auroc" not in means.columns or "n_queries" not in means.columns:
        return pd.DataFrame(columns=["explainer", "budget", "queries", "queries / n", "auroc"])
    means = means.reset_index().rename(columns={"n_queries": "queries"})
    means["queries / n"] = means["queries"] / n
    cols = ["explainer", "budget", "queries", "queries / n"] + [m for m in wanted[:3] if m in means.columns]
    out = means.dropna(subset=["auroc", "queries"])[cols].sort_values(["explainer", "queries"], kind="stable")
    out.columns.name = None
    return out.reset_index(drop=True)


def _plot_per_n(points: pd.DataFrame, path: Path, title: str) -> bool:
    """Material AUROC (solid) and AUROC@active (dashed) against queries / n, per explainer (:func:`recovery_per_n`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if points.empty:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for k, (explainer, g) in enumerate(points.groupby("explainer")):
        ax.plot(g["queries / n"], g["auroc"], marker="o", color=f"C{k}", label=explainer)
        if "auroc@active" in g.columns:
            ax.plot(g["queries / n"], g["auroc@active"], marker=".", linestyle="--", color=f"C{k}", alpha=0.7)
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


def write_report(results: pd.DataFrame | str | Path, out: str | Path, task: Any = None,
                 players: Mapping[str, int] | None = None) -> Path:
    """Write ``report.md`` and its PNG plots into ``out``; return the report's path.

    Parameters
    ----------
    results : DataFrame or path
        A results frame, or a ``results.parquet`` written by :func:`~mxbench.bench.runner.write_results`.
    out : str or Path
        The report folder (created; files in it are replaced).
    task : Task, optional
        A planted task to draw the example figures from (:func:`example_figures`).
    players : dict of str to int, optional
        The number of players of each task (default: looked up in the named suites,
        :func:`task_players`): question 1 reads the tasks of more than
        :data:`~mxbench.bench.runner.MAX_MODEL_PLAYERS` players one at a time, in
        multiples of ``n``.

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
    ...     p = write_report(rows, d)
    ...     "| planted | lemon | 0.750 |" in p.read_text()
    True
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
    lines = ["# mxbench report", ""]
    tasks = sorted(results["task"].unique())
    models = results.groupby("model")["certified"].first()
    lines += [f"Tasks: {', '.join(tasks)}. Instances per task: {results.groupby('task')['instance'].nunique().max()}. "
              f"Explainers: {', '.join(sorted(set(results['explainer']) - {'-'}))}.", ""]
    uncertified = [m for m, c in models.items() if not c]
    lines += ["Models: " + ", ".join(f"{m} ({'certified' if c else '**UNCERTIFIED**'})" for m, c in models.items())
              + ". Rows on uncertified models are reported separately and never mixed into the tables above them.",
              ""]

    lines += ["## Leaderboard (default budgets; planted games and certified models)", "", DEFINITIONS, ""]
    board = leaderboard(results, certified=True)
    lines += [markdown_table(board) if not board.empty else "No rows at default budgets.", ""]
    if uncertified:
        lines += ["### Uncertified models (flagged: the model did not learn the planted game)", "",
                  markdown_table(leaderboard(results, certified=False)), ""]

    lines += ["## Decomposition (model games: explainer error against the model and the planted truth)", "",
              "Mean `shapley_error` of each explainer against the exact truth of the model it explains "
              "(`vs model truth`) and against the planted truth (`vs planted truth`), and the model's own "
              "error against the planted truth (`model vs planted`: ||phi_model - phi_planted|| / "
              "||phi_planted||), at default budgets. Beyond 20 players the model truth is an estimate "
              "(antithetic permutations; `model truth`: estimated).", ""]
    dec = decomposition(full)
    lines += [markdown_table(dec) if not dec.empty else "No model-game rows in these results.", ""]
    smooth = smoothness_table(full)
    if not smooth.empty:
        lines += ["### Terms that are not differentiable", "",
                  "Mean `shapley_error` over the players of differentiable terms (identity, tanh, product; and "
                  "distractors) and over the players of the others (step, xor, and, redundancy's max), against "
                  "the truth of the game explained, at default budgets. On the `exact` model (the planted "
                  "function in torch, no model error) gradients are zero on step, xor and and, and select one "
                  "copy of a redundancy term: a large error in the second column there is the method's own.", "",
                  markdown_table(smooth), ""]

    # 1. query reduction
    lines += ["## 1. LEMON's query reduction at equal recovery", ""]
    sizes = task_players(results, players)
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
        t = routing.assign(expert=routing["metric"].str.split("@").str[1]).pivot_table(
            index="task", columns="expert", values="value", aggfunc="mean").reset_index()
        t.columns = [str(c) for c in t.columns]
        lines += ["Mean routing weight of each expert (test instances):", "", markdown_table(t), ""]
        kinds = r[_base(r["metric"]).isin(["matching_share", "matching_top"])]
        t = kinds.pivot_table(index="task", columns="metric", values="value", aggfunc="mean").reset_index()
        t.columns = [str(c) for c in t.columns]
        lines += ["Per planted term kind: the mean share of a term carried by the expert of its kind "
                  "(`matching_share`; the experts' shares add up to about 1 on a certified model) and the "
                  "fraction of terms whose largest share that expert carries (`matching_top`):", "",
                  markdown_table(t), ""]
        if not board.empty and "expert_maps" in set(board["explainer"]):
            em = board[(board["model"] == "fl_i2moe") & (board["explainer"] == "expert_maps")]
            if not em.empty and "auroc" in em.columns:
                lines += [f"Expert maps (routing-weighted attention × gradient) separate relevant players from "
                          f"distractors at AUROC {_fmt(float(em['auroc'].iloc[0]))}.", ""]

    # 4. attention against causal
    lines += ["## 4. Attention against causal explanations", ""]
    b = board[board["model"].isin(["transformer", "fl_i2moe"])] if not board.empty else board
    if b.empty or "auroc" not in b.columns:
        lines += ["No attention-capable certified models in these results.", ""]
    else:
        for model, g in b.groupby("model"):
            att = g[g["explainer"].isin(ATTENTION)]
            cau = g[g["explainer"].isin(CAUSAL)]
            if att.empty or cau.empty:
                continue
            best_att = att.loc[att["auroc"].idxmax()]
            best_cau = cau.loc[cau["auroc"].idxmax()]
            lines.append(f"- {model}: best attention-based AUROC {_fmt(best_att['auroc'])} ({best_att['explainer']}) "
                         f"against best causal {_fmt(best_cau['auroc'])} ({best_cau['explainer']}).")
        lines.append("")

    # 5. attribution gap
    lines += ["## 5. The multimodal attribution gap", ""]
    g = results[results["certified"].astype(bool) & (_base(results["metric"]) == "attribution_gap")]
    if g.empty:
        lines += ["No attribution-gap rows in these results.", ""]
    else:
        t = g.groupby(["model", "explainer", "metric"])["value"].mean().unstack("metric").reset_index()
        t.columns = [str(c) for c in t.columns]
        lines += ["Relative error of the attributions of cross-modal synergy players against the exact Shapley "
                  "values, for explanations computed one modality at a time (`unimodal-*`) and jointly:", "",
                  markdown_table(t), ""]
        for row in t.to_dict("records"):
            if row["explainer"].startswith("unimodal-"):
                joint = t[(t["model"] == row["model"]) & (t["explainer"] == row["explainer"][len("unimodal-"):])]
                if len(joint):
                    lines.append(f"- {row['model']}: {row['explainer']} errs {_fmt(row['attribution_gap'])} on "
                                 f"cross-modal synergy players against {_fmt(float(joint['attribution_gap'].iloc[0]))}"
                                 f" for the joint {row['explainer'][len('unimodal-'):]}.")
        lines.append("")

    if task is not None:
        lines += ["## Example instance", ""] + example_figures(task, out)
    # plots of the leaderboard
    if _plot_bars(board, "modality_share_error", out / "modality_share_error.png",
                  "modality-share error (total variation; lower is better)", "error"):
        lines += ["![modality-share error](modality_share_error.png)", ""]
    if _plot_bars(board, "deletion", out / "deletion.png", "deletion-curve area (lower is better)", "area"):
        lines += ["![deletion-curve areas](deletion.png)", ""]
    lines += ["## Metric directions", "",
              "Higher is better for AUROC, precision, correlations, insertion, comprehensiveness; lower is better "
              "for errors, deletion, sufficiency, axiom violations, queries and seconds.", ""]
    path = out / "report.md"
    tmp = out / "report.md.tmp"
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    return path


def example_figures(task: Any, out: str | Path, instance: int | None = None, budget: int = 1024,
                    random_state: int = 0) -> list[str]:
    """Figures of one planted instance: exact against estimated pair interactions, and deletion curves.

    Draws ``interactions.png`` (the exact SII matrix next to SIIProbe's estimate at ``budget``
    queries, over the planted players only on a task beyond the models' scale; left out, with a
    sentence saying so, when SIIProbe cannot run within ``budget``) and ``deletion_curves.png`` (deletion
    curves of several explainers and of the exact Shapley ranking). Returns the markdown lines
    that show them.

    Examples
    --------
    >>> import mxbench, tempfile
    >>> task = mxbench.generate("smoke", instances=16)[0]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     lines = example_figures(task, d, budget=512)
    ...     sorted(p.name for p in Path(d).glob("*.png"))
    ['deletion_curves.png', 'interactions.png']
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mxbench.explainers import KernelSHAP, LEMON, LIME
    from mxbench.validation.faithfulness import curves
    from mxbench.validation.truth import Truth

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if instance is None:
        test = task.split_indices("test")
        instance = int(test[0]) if len(test) else 0
    truth = Truth.from_task(task, instance)
    lines = _interaction_figure(task, instance, truth, out, budget, random_state)
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    exact_drawn = False
    for explainer in (LEMON(random_state=random_state), KernelSHAP(random_state=random_state),
                      LIME(random_state=random_state)):
        e = explainer.explain(task.game(instance))
        c = curves(e, truth, task.game(instance))
        ax.plot(c["fraction"], c["deletion"], marker=".", label=f"{e.explainer} ({e.n_queries} queries)")
        if not exact_drawn:
            ax.plot(c["fraction"], c["deletion_exact"], color="black", linestyle="--", label="exact Shapley ranking")
            exact_drawn = True
    ax.set_xlabel("fraction of players removed (most important first)")
    ax.set_ylabel("normalised output")
    ax.set_title(f"deletion curves, {task.spec.name} instance {instance} (lower is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "deletion_curves.png", dpi=110)
    plt.close(fig)
    return lines + ["![deletion curves](deletion_curves.png)", ""]


def _interaction_figure(task: Any, instance: int, truth: Any, out: Path, budget: int, random_state: int) -> list[str]:
    """Draw ``interactions.png`` (exact SII against SIIProbe's estimate); the markdown lines for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mxbench.explainers import SIIProbe
    from mxbench.explainers.base import min_budget_of

    need = min_budget_of(SIIProbe(), task.n_players, np.asarray(task.modality_of))
    if need > budget:
        return [f"No pair-interaction figure: SIIProbe needs at least {need} queries on {task.spec.name}'s "
                f"{task.n_players} players, more than the figure's {budget}.", ""]
    # beyond the models' scale the matrix is read over the planted players only (hundreds of rows otherwise)
    shown = (np.flatnonzero(truth.roles != "distractor") if beyond_models(task.n_players)
             else np.arange(task.n_players))
    names = [task.player_names[k] for k in shown]
    probe = SIIProbe(budget=budget, random_state=random_state).explain(task.game(instance))
    est = probe.interaction_matrix(fill=0.0)[np.ix_(shown, shown)]
    exact = truth.sii[np.ix_(shown, shown)]
    lim = float(max(np.abs(exact).max(), np.abs(est).max(), 1e-12))
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.8))
    for ax, m, title in ((axes[0], exact, "exact SII"), (axes[1], est, f"SIIProbe, {probe.n_queries} queries")):
        im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(names)))
        ax.set_yticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=7)
        ax.set_yticklabels(names, fontsize=7)
        ax.set_title(title)
    fig.colorbar(im, ax=axes, shrink=0.8, label="pair interaction")
    which = "" if len(shown) == task.n_players else f" among the {len(shown)} planted players"
    fig.suptitle(f"{task.spec.name}, instance {instance}: pair interactions{which}")
    fig.savefig(out / "interactions.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return ["![exact against estimated pair interactions](interactions.png)", ""]
