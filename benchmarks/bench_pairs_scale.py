"""Pair interactions at the scale of the ``paper`` suite: SIIProbe, SparseMoebius and RedundancyGap against shapiq.

Every figure is measured in one run, single-threaded, on CPU, on the planted games of the
``paper`` suite (244-1000 players: 196 or 784 image patches, 32-192 tokens, 24-32 columns; 16-46
planted terms of order <= 3, mostly cross-modal, among many distractors). "Queries" are distinct
coalitions (``Explanation.n_queries``, never above the budget); budgets are multiples of the
number of players ``n``; "s/expl" is the wall time of one ``explain`` (game queries included).

Truth, from the exact oracle (:class:`mxbench.validation.truth.Truth`): a *material* planted pair
is a pair of players inside one planted term whose exact ``|SII|`` on the instance is at least 5%
of the largest exact ``|SII|`` among the planted pairs of that instance.

- **precision**: of the top ``P`` pairs by ``|SII estimate|`` against the ``P`` material planted
  pairs (``mxbench.validation.recovery.pair_precision``; a pair an explainer does not report
  ranks last). SIIProbe, SparseMoebius (its recovered coefficients' SII; it stops when it has
  verified its recovery, so its ``queries`` may be below the budget) and the shapiq approximators
  (``index="SII"``, ``max_order=2``).
- **auroc**: RedundancyGap's score ranking the material redundancy pairs (positives) above the
  material synergy pairs (negatives); a pair it does not report scores 0.

Both probes run at their defaults (``pairs="auto"``: below ``4 · C(n, 2)`` queries they screen
players with the endpoint pass, pairs with a regression on complementary masks, and draw the
kept pairs; see :mod:`mxbench.explainers.interactions`) on every task, ``--instances`` instances
and ``--seeds`` seeds per budget. Goal at ``8n``: precision >= 0.9 and auroc >= 0.9.

shapiq (``SPEX`` arXiv 2502.13870, ``ProxySPEX`` arXiv 2505.17495 — it needs ``lightgbm``,
``KernelSHAPIQ``, ``SVARMIQ``) runs through :class:`mxbench.explainers.adapters.ShapiqApproximator`
at budgets ``--shapiq-budgets`` (default 4n, 8n, 16n), but only on the smallest paper task run
and on ``--shapiq-instances`` instances (seed 0): at 244 players its approximators take seconds
to many minutes per explanation. Each approximator runs in its own process: a first call (the
first budget, first instance; SPEX compiles its BCH decoders there, tens of seconds, minutes at
2n where it also lowers its degree) that is reported but not counted, then every call, each
stopped after ``--shapiq-timeout`` seconds (the first call after twice that; an approximator whose
first call does not finish is given up, one whose later call does not is restarted for the calls
left): such calls read "timed out"; a refusal or an error is recorded
with its message. Goal: SIIProbe (and SparseMoebius) reach shapiq's best mean precision with at
most a fifth of the budget at which shapiq first reaches it; both are run at that fifth (rows
marked ``B*/5``), or the row says that the fifth is below the method's smallest budget.

Run from the repository root::

    .venv/bin/python benchmarks/bench_pairs_scale.py              # about 6 minutes on 2 cores
    .venv/bin/python benchmarks/bench_pairs_scale.py --quick      # about a minute
    .venv/bin/python benchmarks/bench_pairs_scale.py --tasks paper-dense --instances 4 --no-shapiq

:func:`pairs_scale_table` computes the table (a pandas DataFrame) for another script.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from importlib import metadata  # noqa: E402
from typing import Any, Sequence  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mxbench  # noqa: E402
from mxbench.explainers import RedundancyGap, SIIProbe, SparseMoebius  # noqa: E402
from mxbench.explainers.adapters import ShapiqApproximator  # noqa: E402
from mxbench.generators.suites import suite_specs  # noqa: E402
from mxbench.validation import recovery  # noqa: E402
from mxbench.validation.truth import Truth  # noqa: E402

#: Budgets, as multiples of the number of players.
BUDGETS = (1, 2, 4, 8, 16)
#: The shapiq approximators compared.
SHAPIQ = ("SPEX", "ProxySPEX", "KernelSHAPIQ", "SVARMIQ")
GOAL_BUDGET = 8
GOAL_PRECISION = 0.9
GOAL_AUROC = 0.9
GOAL_FRACTION = 5
#: The methods whose pairs are SII values (compared with shapiq).
SII_METHODS = ("SIIProbe", "SparseMoebius")
COLUMNS = ["task", "n", "method", "budget", "xn", "runs", "queries", "precision", "precision_min", "auroc",
           "s_per_expl", "note"]


def material_precision(e: Any, truth: Truth) -> float:
    """Precision of the top ``P`` pairs by ``|SII|`` against the ``P`` material planted pairs.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> material_precision(Exact().explain(task.game(0)), Truth.from_task(task, 0))
    1.0
    """
    rows = recovery.pair_precision(e, truth)
    return next((r["value"] for r in rows if r["metric"] == "pair_precision"), 0.0)


def redundancy_auroc(e: Any, truth: Truth) -> float:
    """AUROC of the explanation's pair scores: material redundancy pairs above material synergy pairs.

    A pair the explanation does not score counts as 0; NaN without both kinds.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import RedundancyGap
    >>> from mxbench.validation.truth import EXAMPLE_SPEC
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> redundancy_auroc(RedundancyGap(budget=400).explain(task.game(6)), Truth.from_task(task, 6))
    nan
    >>> redundancy_auroc(RedundancyGap(budget=400).explain(task.game(1)), Truth.from_task(task, 1))
    1.0
    """
    i, j, kind, _ = truth.pair_arrays()
    material = truth.material_pairs()
    scores = np.array([(e.interactions or {}).get((int(a), int(b)), 0.0) for a, b in zip(i, j)])
    return recovery.auc_score(scores[material & (kind == "redundancy")], scores[material & (kind == "synergy")])


def _row(task: Any, method: str, budget: int, values: list[dict], note: str = "") -> dict:
    """One table row from the runs' dicts (``queries``, ``seconds``, ``precision`` and/or ``auroc``)."""
    def mean(key: str) -> float:
        got = [v[key] for v in values if key in v and np.isfinite(v[key])]
        return float(np.mean(got)) if got else float("nan")
    prec = [v["precision"] for v in values if "precision" in v]
    return {"task": task.spec.name, "n": task.n_players, "method": method, "budget": budget,
            "xn": budget / task.n_players, "runs": len(values), "queries": mean("queries"),
            "precision": mean("precision"), "precision_min": float(min(prec)) if prec else float("nan"),
            "auroc": mean("auroc"), "s_per_expl": mean("seconds"), "note": note}


def _probe_runs(task: Any, truths: list[Truth], budget: int, seeds: int, probes: Sequence[tuple[str, type, dict]]
                ) -> list[dict]:
    rows = []
    for label, cls, params in probes:
        explainer = cls(budget=budget, **params)
        try:
            need = explainer.min_budget(task.n_players)
        except Exception as err:  # noqa: BLE001 - recorded, never hidden
            rows.append(_row(task, label, budget, [], f"error: {err}"))
            continue
        if budget < need:
            rows.append(_row(task, label, budget, [], f"refused: below its smallest budget {need}"))
            continue
        values = []
        for truth in truths:
            for seed in range(seeds):
                e = cls(budget=budget, random_state=seed, **params).explain(task.game(truth.instance))
                v = {"queries": e.n_queries, "seconds": e.seconds}
                if cls is RedundancyGap:
                    v["auroc"] = redundancy_auroc(e, truth)
                else:
                    v["precision"] = material_precision(e, truth)
                values.append(v)
        rows.append(_row(task, label, budget, values))
    return rows


def _shapiq_call(task: Any, truth: Truth, approximator: str, budget: int) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = ShapiqApproximator(approximator=approximator, index="SII", max_order=2, budget=budget,
                               random_state=0).explain(task.game(truth.instance))
    return {"queries": e.n_queries, "seconds": e.seconds, "precision": material_precision(e, truth)}


def _error_text(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:120]}"


def _shapiq_worker(name: str, instances: int, approximator: str, jobs: Sequence[tuple[int, int]], send: Any) -> None:
    """In a child process: one first call (the first job), then every job ``(budget, instance)`` in order.

    Sends ``("first", seconds, error)``, then ``(result or None, error)`` per job.
    """
    task = mxbench.generate(next(s for s in suite_specs("paper") if s.name == name), instances=instances)
    truths = Truth.from_task_many(task, range(instances))
    start = time.perf_counter()
    try:
        _shapiq_call(task, truths[jobs[0][1]], approximator, jobs[0][0])
        send.send(("first", time.perf_counter() - start, ""))
    except Exception as err:  # noqa: BLE001 - sent back and recorded
        send.send(("first", time.perf_counter() - start, _error_text(err)))
    for budget, instance in jobs:
        try:
            send.send((_shapiq_call(task, truths[instance], approximator, budget), ""))
        except Exception as err:  # noqa: BLE001
            send.send((None, _error_text(err)))


def _shapiq_runs(task: Any, instances: int, budgets: Sequence[int], approximators: Sequence[str],
                 timeout: float) -> list[dict]:
    """Each approximator in its own (spawned) process: a first call, then every call, each time-boxed.

    The first call (first budget, first instance) gets ``2 * timeout`` (shapiq's sparse
    approximators compile their decoders there) and is not counted; when it does not finish, the
    approximator is given up ("timed out on its first call"). A later call past ``timeout`` is
    recorded as timed out and the process restarted (with a new first call) for the calls left.
    """
    ctx = multiprocessing.get_context("spawn")
    rows = []
    for approximator in approximators:
        jobs = [(b, i) for b in budgets for i in range(instances)]
        results: dict[tuple[int, int], tuple[dict | None, str]] = {}
        first_note = ""
        while jobs:
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_shapiq_worker, args=(task.spec.name, instances, approximator, jobs, send),
                               daemon=True)
            proc.start()
            send.close()

            def get(box: float) -> tuple | None:
                try:
                    return recv.recv() if recv.poll(box) else None
                except EOFError:
                    return None
            first = get(2 * timeout)
            if first is None:
                results.update({j: (None, f"timed out (> {2 * timeout:.0f} s) on its first call") for j in jobs})
                jobs = []
            else:
                first_note = first_note or (f"first call {first[1]:.0f} s (not counted)" if not first[2] else "")
                while jobs:
                    msg = get(timeout)
                    job, jobs = jobs[0], jobs[1:]
                    if msg is None:
                        results[job] = (None, f"timed out (> {timeout:.0f} s)")
                        break
                    results[job] = msg
            if proc.is_alive():
                proc.kill()
            proc.join()
            recv.close()
        for b in budgets:
            got = [results[(b, i)] for i in range(instances)]
            notes = [e for _, e in got if e]
            counts = {e: notes.count(e) for e in notes}
            note = "; ".join(f"{e}" + (f" ({c} of {instances})" if c < instances else "") for e, c in counts.items())
            if b == budgets[0] and first_note:
                note = "; ".join(x for x in (first_note, note) if x)
            rows.append(_row(task, f"shapiq:{approximator}", b, [r for r, _ in got if r is not None], note))
    return rows


def pairs_scale_table(tasks: Sequence[str] | None = None, instances: int = 8, seeds: int = 3,
                      budgets: Sequence[int] = BUDGETS, shapiq: Sequence[str] = SHAPIQ,
                      shapiq_tasks: Sequence[str] | None = None, shapiq_instances: int = 2,
                      shapiq_budgets: Sequence[int] = (4, 8, 16), shapiq_timeout: float = 30.0,
                      ablation: bool = False, progress: bool = False) -> pd.DataFrame:
    """The table: one row per task, method and budget (budgets as multiples of ``n``).

    Parameters
    ----------
    tasks : sequence of str, optional
        ``paper`` task names (default: all four).
    instances, seeds : int
        Instances (the first ones) and seeds of the probes per budget.
    budgets : sequence of int
        The probes' budgets, multiples of ``n``.
    shapiq : sequence of str
        shapiq approximators (class names); empty: none.
    shapiq_tasks : sequence of str, optional
        The tasks shapiq runs on (default: the smallest of ``tasks``).
    shapiq_instances : int
        Instances per shapiq budget (seed 0).
    shapiq_budgets : sequence of int
        shapiq's budgets, multiples of ``n``.
    shapiq_timeout : float
        Seconds before a shapiq call is stopped.
    ablation : bool
        Also run ``SIIProbe(screen="effect")`` and the old candidate first pass
        (``pairs="candidates"``, ``top_k=6`` and ``top_k=32``).
    progress : bool
        Print a line per task and method group as it finishes.

    Returns
    -------
    pandas.DataFrame
        Columns ``task``, ``n``, ``method``, ``budget``, ``xn`` (budget / n), ``runs``,
        ``queries`` (mean), ``precision`` (mean, SII methods), ``precision_min``, ``auroc``
        (mean, RedundancyGap), ``s_per_expl`` (mean seconds per explanation) and ``note``
        (refusals, timeouts, errors, ``B*/5`` for the probe run at a fifth of shapiq's budget).

    Examples
    --------
    >>> t = pairs_scale_table(["paper-img-txt"], instances=1, seeds=1, budgets=(4,), shapiq=())
    >>> t[["method", "xn", "precision"]].values.tolist()
    [['SIIProbe', 4.0, 1.0], ['SparseMoebius', 4.0, 1.0], ['RedundancyGap', 4.0, nan]]
    >>> float(t["auroc"].iloc[2])
    1.0
    """
    specs = {s.name: s for s in suite_specs("paper")}
    names = list(tasks) if tasks else list(specs)
    unknown = [t for t in names if t not in specs]
    if unknown:
        raise ValueError(f"tasks: unknown paper tasks {unknown} (choose from {', '.join(specs)})")
    probes = [("SIIProbe", SIIProbe, {}), ("SparseMoebius", SparseMoebius, {}), ("RedundancyGap", RedundancyGap, {})]
    if ablation:
        probes += [("SIIProbe screen=effect", SIIProbe, {"screen": "effect"}),
                   ("SIIProbe candidates top_k=6", SIIProbe, {"pairs": "candidates"}),
                   ("SIIProbe candidates top_k=32", SIIProbe, {"pairs": "candidates", "top_k": 32})]
    n_of = {t: specs[t].n_players for t in names}
    on_shapiq = list(shapiq_tasks) if shapiq_tasks is not None else [min(names, key=lambda t: n_of[t])]
    rows: list[dict] = []
    for name in names:
        count = max(instances, shapiq_instances if name in on_shapiq else 0)
        task = mxbench.generate(specs[name], instances=count)
        n = task.n_players
        truths = Truth.from_task_many(task, range(count))
        start = time.perf_counter()
        for b in budgets:
            rows += _probe_runs(task, truths[:instances], b * n, seeds, probes)
        if progress:
            print(f"  {name}: probes {time.perf_counter() - start:.0f} s", flush=True)
        if name not in on_shapiq or not shapiq:
            continue
        start = time.perf_counter()
        found = _shapiq_runs(task, shapiq_instances, [b * n for b in shapiq_budgets], shapiq, shapiq_timeout)
        rows += found
        if progress:
            print(f"  {name}: shapiq {time.perf_counter() - start:.0f} s", flush=True)
        best = _shapiq_best(pd.DataFrame(found, columns=COLUMNS))
        if best is not None:
            fifth = int(best["budget"]) // GOAL_FRACTION
            extra = _probe_runs(task, truths[:shapiq_instances], fifth, seeds,
                                [q for q in probes[:2]])
            for r in extra:
                r["note"] = (r["note"] + "; " if r["note"] else "") + "B*/5"
            rows += extra
    return pd.DataFrame(rows, columns=COLUMNS)


def _shapiq_best(frame: pd.DataFrame) -> pd.Series | None:
    """shapiq's best mean precision (over approximators and budgets), at the smallest budget reaching it."""
    ok = frame[frame["method"].str.startswith("shapiq:") & frame["precision"].notna()]
    if ok.empty:
        return None
    top = ok["precision"].max()
    return ok[ok["precision"] >= top - 1e-12].sort_values("budget").iloc[0]


def goals(table: pd.DataFrame) -> list[str]:
    """The goal lines: precision and auroc at ``8n`` per task, and the shapiq comparison.

    Examples
    --------
    >>> t = pd.DataFrame([{"task": "t", "n": 10, "method": "SIIProbe", "budget": 80, "xn": 8.0, "precision": 0.95,
    ...                    "auroc": np.nan, "note": ""},
    ...                   {"task": "t", "n": 10, "method": "RedundancyGap", "budget": 80, "xn": 8.0,
    ...                    "precision": np.nan, "auroc": 1.0, "note": ""}], columns=COLUMNS)
    >>> goals(t)
    ['t: at 8n precision 0.950 (goal >= 0.9: met), auroc 1.000 (goal >= 0.9: met)']
    """
    lines = []
    for name, part in table.groupby("task", sort=False):
        at = part[(part["xn"] == GOAL_BUDGET) & (part["note"] == "")]
        prec = at.loc[at["method"] == "SIIProbe", "precision"]
        auc = at.loc[at["method"] == "RedundancyGap", "auroc"]
        if len(prec) and len(auc):
            p, a = float(prec.iloc[0]), float(auc.iloc[0])
            lines.append(f"{name}: at {GOAL_BUDGET}n precision {p:.3f} (goal >= {GOAL_PRECISION}: "
                         f"{'met' if p >= GOAL_PRECISION else 'MISSED'}), auroc {a:.3f} (goal >= {GOAL_AUROC}: "
                         f"{'met' if a >= GOAL_AUROC else 'MISSED'})")
        best = _shapiq_best(part)
        if best is None:
            continue
        for method in SII_METHODS:
            fifth = part[(part["method"] == method) & part["note"].str.contains("B\\*/5", regex=True)]
            ours = fifth.iloc[0] if len(fifth) else None
            got = ("not run" if ours is None else
                   ours["note"].split(";")[0] if not np.isfinite(ours["precision"]) else
                   f"{ours['precision']:.3f}")
            met = ours is not None and np.isfinite(ours["precision"]) and ours["precision"] >= best["precision"] - 1e-12
            lines.append(f"{name}: shapiq's best mean precision {best['precision']:.3f} ({best['method']}) first at "
                         f"budget {int(best['budget'])} = {best['xn']:g}n; {method} at a fifth of it "
                         f"({int(best['budget']) // GOAL_FRACTION}): {got} -> goal {'met' if met else 'MISSED'}")
            probe = part[(part["method"] == method) & (part["note"] == "")]
            reach = probe[probe["precision"] >= best["precision"] - 1e-12].sort_values("budget")
            if len(reach):
                lines.append(f"{name}: {method} first reaches it on its grid at {int(reach['budget'].iloc[0])} = "
                             f"{reach['xn'].iloc[0]:g}n (shapiq's budget / its budget = "
                             f"{best['budget'] / reach['budget'].iloc[0]:.2f})")
    return lines


def show(table: pd.DataFrame) -> None:
    """Print the table, one block per task, then the goal lines."""
    fmt = {"queries": "{:.0f}", "precision": "{:.3f}", "precision_min": "{:.2f}", "auroc": "{:.3f}",
           "s_per_expl": "{:.3f}", "xn": "{:g}"}
    for name, part in table.groupby("task", sort=False):
        shown = part.drop(columns=["task"]).copy()
        for col, f in fmt.items():
            shown[col] = [("-" if not np.isfinite(v) else f.format(v)) for v in shown[col]]
        print(f"\n{name} ({int(part['n'].iloc[0])} players)")
        print(shown.drop(columns=["n"]).to_string(index=False))
    print()
    for line in goals(table):
        print(line)


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Parse the options, compute and print the table; return it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", help="paper tasks (default: all four)")
    ap.add_argument("--instances", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS), help="multiples of n")
    ap.add_argument("--shapiq", nargs="*", help=f"shapiq approximators (default: {' '.join(SHAPIQ)}; --quick: SPEX)")
    ap.add_argument("--no-shapiq", action="store_true")
    ap.add_argument("--shapiq-tasks", nargs="+", help="default: the smallest task run")
    ap.add_argument("--shapiq-instances", type=int, default=2)
    ap.add_argument("--shapiq-budgets", type=int, nargs="+", default=[4, 8, 16], help="multiples of n")
    ap.add_argument("--shapiq-timeout", type=float, default=30.0,
                    help="seconds per shapiq call (twice that for the first call)")
    ap.add_argument("--ablation", action="store_true", help="also the screen's alternatives")
    ap.add_argument("--quick", action="store_true",
                    help="2 tasks, 2 instances, 1 seed, budgets 4n 8n; SPEX only, 30 s per call")
    args = ap.parse_args(argv)
    approximators = args.shapiq if args.shapiq is not None else ["SPEX"] if args.quick else list(SHAPIQ)
    kw: dict[str, Any] = dict(tasks=args.tasks, instances=args.instances, seeds=args.seeds, budgets=args.budgets,
                              shapiq=[] if args.no_shapiq else approximators, shapiq_tasks=args.shapiq_tasks,
                              shapiq_instances=args.shapiq_instances, shapiq_budgets=args.shapiq_budgets,
                              shapiq_timeout=args.shapiq_timeout, ablation=args.ablation, progress=True)
    if args.quick:
        kw.update(tasks=args.tasks or ["paper-img-txt", "paper-dense"], instances=2, seeds=1, budgets=[4, 8],
                  shapiq_instances=1, shapiq_budgets=[4, 8])
    try:
        version = metadata.version("shapiq")
    except metadata.PackageNotFoundError:
        version = "not installed"
    print(f"pairs at paper scale: numpy {np.__version__}, shapiq {version}, mxbench {mxbench.__version__}; "
          f"single-threaded")
    start = time.perf_counter()
    table = pairs_scale_table(**kw)
    show(table)
    print(f"\n{time.perf_counter() - start:.0f} s in all")
    return table


if __name__ == "__main__":
    main()
