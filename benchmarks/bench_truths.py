"""Benchmark: the cost of a model's own truth, and how the explainers' error splits between two truths.

1. **Cost of the model truth.** For each architecture (and the ``exact`` model) on each smoke
   task, and on one 16-player task unless ``--quick``: the seconds per instance of
   :func:`mxbench.bench.runner.model_truths` (every one of the ``2^n`` coalitions through the
   model, then the Möbius transform), on one core, next to the seconds of the same number of
   rows through the planted game, so the ratio says what the model costs.
2. **The decomposition.** From the smoke main job's results (run first unless ``--results`` is
   given): per model and explainer at default budgets, the mean ``shapley_error`` against the
   model's truth and against the planted truth, and the model's own error against the planted
   truth; and how much of the planted-truth error the model's own error accounts for.

Goal: the smoke main job (which now computes every model truth once) stays under 90 s on
2 cores; the seconds it reports are printed when it runs here.

Run::

    python benchmarks/bench_truths.py                         # trains into out/bench-truths
    python benchmarks/bench_truths.py --quick --out out/run   # reuse a main job's folder
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import mxbench
from mxbench.bench.main import run
from mxbench.bench.report import decomposition, markdown_table
from mxbench.bench.runner import EXACT, model_truths, read_results, train_models
from mxbench.models import ARCHITECTURES

#: A 16-player task (two modalities, one term of each kind) for the cost table.
TASK16 = {"name": "truths-16", "seed": 5, "instances": 2000, "target": "regression", "noise": 0.05,
          "modalities": [{"name": "tab", "kind": "tabular", "features": 8},
                         {"name": "txt", "kind": "text", "length": 8, "vocab": 64}],
          "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                    {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:2"], "weight": 2.0},
                    {"kind": "redundancy", "players": ["tab:2", "txt:3"], "weight": 1.5}]}


def truth_cost(task, arch: str, folder: str | None, instances: int) -> float:
    """Seconds per instance of the model truth (median of ``instances`` single-instance runs)."""
    times = []
    for i in range(instances):
        start = time.perf_counter()
        model_truths(task, arch, folder, [i])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def planted_cost(task, instances: int) -> float:
    """Seconds per instance of ``2^n`` rows through the planted game."""
    from mxbench.oracles.moebius import bit_matrix

    masks = bit_matrix(task.n_players)
    times = []
    for i in range(instances):
        game = task.game(i)
        start = time.perf_counter()
        game(masks)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/bench-truths", help="the main job's folder (models, results)")
    parser.add_argument("--results", default=None, help="a results.parquet to read instead of running the job")
    parser.add_argument("--instances", type=int, default=3, help="instances timed per (task, model)")
    parser.add_argument("--quick", action="store_true", help="smoke tasks only in the cost table")
    args = parser.parse_args()
    out = Path(args.out)
    torch.set_num_threads(1)

    results_path = Path(args.results) if args.results else out / "results.parquet"
    if not results_path.exists():
        start = time.perf_counter()
        run("smoke", out, progress=False)
        print(f"smoke main job: {time.perf_counter() - start:.1f} s (goal: under 90 s on 2 cores)\n")

    tasks = [mxbench.load(p) for p in sorted((out / "data").iterdir()) if (p / "manifest.json").exists()]
    if not args.quick:
        tasks.append(mxbench.generate(TASK16))
    folders = train_models(tasks, list(ARCHITECTURES), out / "models", progress=False)
    rows = []
    for task in tasks:
        base = planted_cost(task, args.instances)
        for arch in (*ARCHITECTURES, EXACT):
            folder = None if arch == EXACT else str(folders[task.spec.name, arch])
            cost = truth_cost(task, arch, folder, args.instances)
            rows.append({"task": task.spec.name, "players": task.n_players, "model": arch,
                         "seconds/instance": cost, "x planted game": cost / base})
    print("## Cost of the model truth (2^n coalitions, one core)\n")
    print(markdown_table(pd.DataFrame(rows)))

    results = read_results(results_path)
    table = decomposition(results)
    print("\n## Decomposition on the smoke suite (mean shapley_error, default budgets)\n")
    print(markdown_table(table))
    share = (table["model vs planted"] / table["vs planted truth"]).replace([np.inf, -np.inf], np.nan)
    print(f"\nmodel's own error / explainer's planted-truth error: median {np.nanmedian(share):.2f} "
          f"over {int(share.notna().sum())} (model, explainer) pairs")


if __name__ == "__main__":
    main()
