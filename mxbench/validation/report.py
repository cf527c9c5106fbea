"""The report: leaderboard tables, the five questions of the benchmark, and PNG plots.

:func:`write_report` reads a results frame (:func:`mxbench.validation.runner.validate`) and
writes ``report.md`` with:

- the leaderboard (mean of the headline metrics per model and explainer), certified models and
  the planted games first, uncertified models in their own table, flagged;
- the five questions: (1) LEMON's query reduction at equal recovery, (2) pair masking against
  random pairs, (3) FL-I2MoE routing and expert maps against the planted kinds, (4) attention
  against causal explanations, (5) the multimodal attribution gap;
- plots: recovery against queries per explainer, modality shares against the truth, deletion
  curves' areas, the exact against the estimated pair interactions.

Every figure in the text is computed from the rows; a question the rows cannot answer says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mxbench.validation.runner import PLANTED, RESULT_COLUMNS, RunnerError

#: The headline metrics of the leaderboard, with the way each is better.
HEADLINE = (("auroc", "higher"), ("precision_at_k", "higher"), ("spearman", "higher"),
            ("modality_share_error", "lower"), ("pair_precision", "higher"), ("deletion", "lower"),
            ("insertion", "higher"), ("n_queries", "lower"), ("seconds", "lower"))
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


def write_report(results: pd.DataFrame | str | Path, out: str | Path, task: Any = None) -> Path:
    """Write ``report.md`` and its PNG plots into ``out``; return the report's path.

    Parameters
    ----------
    results : DataFrame or path
        A results frame, or a ``results.parquet`` written by :func:`~mxbench.validation.runner.write_results`.
    out : str or Path
        The report folder (created; files in it are replaced).
    task : Task, optional
        A planted task to draw the example figures from (:func:`example_figures`).

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
    from mxbench.validation.runner import read_results

    if not isinstance(results, pd.DataFrame):
        results = read_results(results)
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise RunnerError(f"results: missing columns {missing}; not an mxbench results frame")
    if results.empty:
        raise RunnerError("results: no rows to report")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# mxbench report", ""]
    tasks = sorted(results["task"].unique())
    models = results.groupby("model")["certified"].first()
    lines += [f"Tasks: {', '.join(tasks)}. Instances per task: {results.groupby('task')['instance'].nunique().max()}. "
              f"Explainers: {', '.join(sorted(results['explainer'].unique()))}.", ""]
    uncertified = [m for m, c in models.items() if not c]
    lines += ["Models: " + ", ".join(f"{m} ({'certified' if c else '**UNCERTIFIED**'})" for m, c in models.items())
              + ". Rows on uncertified models are reported separately and never mixed into the tables above them.",
              ""]

    lines += ["## Leaderboard (default budgets; planted games and certified models)", ""]
    board = leaderboard(results, certified=True)
    lines += [markdown_table(board) if not board.empty else "No rows at default budgets.", ""]
    if uncertified:
        lines += ["### Uncertified models (flagged: the model did not learn the planted game)", "",
                  markdown_table(leaderboard(results, certified=False)), ""]

    # 1. query reduction
    lines += ["## 1. LEMON's query reduction at equal recovery", ""]
    share = queries_to_goal(results, "modality_share_error", SHARE_GOAL, higher=False)
    auroc = queries_to_goal(results, "auroc", AUROC_GOAL, higher=True)
    if share.empty and auroc.empty:
        lines += ["No rows at explicit budgets: run with several budgets to answer this question.", ""]
    for name, table, goal in (("modality shares (total variation <= 0.05)", share, SHARE_GOAL),
                              ("feature attributions (AUROC >= 0.95)", auroc, AUROC_GOAL)):
        if table.empty:
            continue
        lines += [f"Queries to reach the goal for {name}:", "", markdown_table(table), ""]
        for model, g in table.groupby("model"):
            lemon = g.loc[g["explainer"] == "lemon", "queries"]
            if lemon.empty or not np.isfinite(lemon.iloc[0]):
                lines.append(f"- {model}: LEMON did not reach the goal within its largest budget.")
                continue
            for other in ("mmshap", "permutation", "kernelshap"):
                o = g.loc[g["explainer"] == other, "queries"]
                if o.empty:
                    continue
                if np.isfinite(o.iloc[0]):
                    lines.append(f"- {model}: {other} needs {o.iloc[0] / lemon.iloc[0]:.1f}× the queries of LEMON "
                                 f"({_fmt(o.iloc[0], 1)} against {_fmt(lemon.iloc[0], 1)}).")
                else:
                    lines.append(f"- {model}: {other} did not reach the goal within its largest budget; LEMON "
                                 f"needed {_fmt(lemon.iloc[0], 1)} queries.")
        lines.append("")
    if _plot_recovery(results, "modality_share_error", out / "recovery_modality.png", SHARE_GOAL,
                      "modality-share error against queries"):
        lines += ["![modality-share error against queries](recovery_modality.png)", ""]
    if _plot_recovery(results, "auroc", out / "recovery_auroc.png", AUROC_GOAL, "AUROC against queries"):
        lines += ["![AUROC against queries](recovery_auroc.png)", ""]

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
    queries) and ``deletion_curves.png`` (deletion curves of several explainers and of the
    exact Shapley ranking). Returns the markdown lines that show them.

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

    from mxbench.explainers import KernelSHAP, LEMON, LIME, SIIProbe
    from mxbench.validation.faithfulness import curves
    from mxbench.validation.truth import Truth

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if instance is None:
        test = task.split_indices("test")
        instance = int(test[0]) if len(test) else 0
    truth = Truth.from_task(task, instance)
    names = task.player_names
    probe = SIIProbe(budget=budget, random_state=random_state).explain(task.game(instance))
    est = probe.interaction_matrix(fill=0.0)
    exact = truth.sii.copy()
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
    fig.suptitle(f"{task.spec.name}, instance {instance}: pair interactions")
    fig.savefig(out / "interactions.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

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
    return ["![exact against estimated pair interactions](interactions.png)", "",
            "![deletion curves](deletion_curves.png)", ""]
