"""Explainers at the scale of real multimodal inputs: the ``paper`` suite (244-1000 players).

Per paper task, side by side in one run:

- material AUROC (planted players whose exact |Shapley| is at least 5% of the instance's largest,
  against distractors) and modality-share error against the budget, as multiples of ``n``, for
  LEMON (both designs), LIME, KernelSHAP, PermutationShapley and MMSHAP, with seconds per
  explanation (the game's own time excluded);
- the queries each needs to reach material AUROC 0.95 and share error 0.05 (the smallest budget
  of the grid that does, on average over the instances);
- SparseMoebius's recovery of the whole planted Möbius support: the queries it spends at its
  default budget of ``8n`` (it stops once its recovery is verified) and the share of instances recovered exactly
  (every coefficient, hence every index, to float precision); goal: at most ``4n`` queries;
- planted-game evaluation throughput (coalitions per second through the rendered inputs).

With ``--pairs``, the pair-probe table of ``benchmarks/bench_pairs_scale.py`` follows (pair
precision and the redundancy-against-synergy ranking against budget; shapiq's approximators with
``--shapiq``: slow, see that script).

Usage::

    python benchmarks/bench_scale.py [--tasks paper-img-txt,...] [--instances 8] [--seeds 0,1,2] [--pairs]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: a threaded BLAS on a shared machine distorts the seconds

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import mxbench  # noqa: E402
from mxbench.explainers import LEMON, LIME, MMSHAP, KernelSHAP, PermutationShapley, SparseMoebius  # noqa: E402
from mxbench.explainers.base import min_budget_of  # noqa: E402
from mxbench.generators.suites import suite_specs  # noqa: E402
from mxbench.validation import Truth  # noqa: E402
from mxbench.validation.recovery import auroc  # noqa: E402

FRACTIONS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
AUROC_GOAL, SHARE_GOAL = 0.95, 0.05
EXPLAINERS = {
    "lemon": lambda b, s: LEMON(budget=b, random_state=s),
    "lemon-lime": lambda b, s: LEMON(budget=b, random_state=s, variant="lime"),
    "lime": lambda b, s: LIME(budget=b, random_state=s),
    "kernelshap": lambda b, s: KernelSHAP(budget=b, random_state=s),
    "permutation": lambda b, s: PermutationShapley(budget=b, random_state=s),
    "mmshap": lambda b, s: MMSHAP(budget=b, random_state=s),
    "sparse-moebius": lambda b, s: SparseMoebius(budget=b, random_state=s),
}


class _Timed:
    """A game wrapper that adds up the seconds spent inside the game."""

    def __init__(self, game):
        self.game, self.seconds = game, 0.0
        self.n_players, self.modality_of, self.modality_names = game.n_players, game.modality_of, game.modality_names

    def __call__(self, coalitions):
        t = time.perf_counter()
        out = self.game(coalitions)
        self.seconds += time.perf_counter() - t
        return out


def run_task(spec, instances: int, seeds: list[int]) -> list[dict]:
    task = mxbench.generate(spec, instances=instances)
    truths = [Truth.from_task(task, i) for i in range(instances)]
    n = spec.n_players
    rows = []
    for name, make in EXPLAINERS.items():
        for frac in FRACTIONS:
            budget = int(frac * n)
            if budget < min_budget_of(make(None, 0), n, task.modality_of):
                continue
            aur, err, sec = [], [], []
            for seed in seeds:
                for i in range(instances):
                    game = _Timed(task.game(i))
                    e = make(budget, seed).explain(game)
                    aur.append(auroc(e, truths[i])[0]["value"])  # the material row
                    true = np.abs(truths[i].modality_shapley) / np.abs(truths[i].modality_shapley).sum()
                    err.append(float(np.abs(e.modality_shares() - true).max()))
                    sec.append(e.seconds - game.seconds)
            rows.append({"task": spec.name, "n": n, "explainer": name, "budget": budget, "x_n": frac,
                         "auroc": float(np.mean(aur)), "share_error": float(np.mean(err)),
                         "seconds": float(np.mean(sec))})
    return rows


def support_recovery(task, instance: int, seed: int) -> dict:
    """SparseMoebius at its default budget on one planted game: queries, seconds, and whether every Möbius
    coefficient it reports equals the oracle's (and none is missing)."""
    oracle = task.oracle()
    want = {}
    for block, coef in zip(oracle.blocks, oracle.coefs):
        for mask in range(1, 2 ** len(block)):
            if abs(coef[instance, mask]) > 1e-12:
                want[tuple(sorted(int(block[j]) for j in range(len(block)) if mask >> j & 1))] = coef[instance, mask]
    e = SparseMoebius(budget=None, random_state=seed).explain(task.game(instance))
    got = e.extras["terms"]
    same = set(got) == set(want) and all(abs(got[t] - want[t]) <= 1e-9 * max(1.0, abs(want[t])) for t in want)
    return {"queries": e.n_queries, "seconds": e.seconds, "exact": bool(same and e.extras["exact"])}


def throughput(spec, batch: int = 4096) -> float:
    """Coalitions per second of one planted game through its rendered inputs."""
    task = mxbench.generate(spec, instances=4)
    game = task.game(0)
    coalitions = np.random.default_rng(0).random((batch, spec.n_players)) < 0.5
    game(coalitions[:64])
    t = time.perf_counter()
    game(coalitions)
    return batch / (time.perf_counter() - t)


def first_budget(rows: list[dict], task: str, explainer: str, key: str, goal: float, higher: bool):
    for r in sorted((r for r in rows if r["task"] == task and r["explainer"] == explainer), key=lambda r: r["budget"]):
        if (r[key] >= goal) if higher else (r[key] <= goal):
            return r["budget"]
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=None, help="comma-separated paper task names (default: all)")
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--pairs", action="store_true", help="also the pair-probe table (bench_pairs_scale.py)")
    parser.add_argument("--shapiq", action="store_true", help="with --pairs: shapiq's approximators too (slow)")
    args = parser.parse_args(argv)
    specs = suite_specs("paper")
    if args.tasks:
        wanted = args.tasks.split(",")
        unknown = sorted(set(wanted) - {s.name for s in specs})
        if unknown:
            parser.error(f"--tasks: unknown paper tasks {unknown} (choose from {[s.name for s in specs]})")
        specs = [s for s in specs if s.name in wanted]
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for spec in specs:
        rows += run_task(spec, args.instances, seeds)
        print(f"\n## {spec.name} ({spec.n_players} players, {args.instances} instances x {len(seeds)} seeds)")
        print(f"{'explainer':<12} {'budget':>7} {'x n':>5} {'AUROC':>6} {'share err':>9} {'s/expl':>7}")
        for r in (r for r in rows if r["task"] == spec.name):
            print(f"{r['explainer']:<12} {r['budget']:>7} {r['x_n']:>5} {r['auroc']:>6.3f} {r['share_error']:>9.4f} "
                  f"{r['seconds']:>7.3f}")
        print("\nqueries to the goals (None: not within 8n); seconds relative to KernelSHAP at the same budget")
        for name in EXPLAINERS:
            a = first_budget(rows, spec.name, name, "auroc", AUROC_GOAL, True)
            s = first_budget(rows, spec.name, name, "share_error", SHARE_GOAL, False)
            print(f"  {name:<12} AUROC>={AUROC_GOAL}: {a}   share error<={SHARE_GOAL}: {s}")
        for r in (r for r in rows if r["task"] == spec.name and r["explainer"] == "lemon"):
            k = [q for q in rows if q["task"] == spec.name and q["explainer"] == "kernelshap" and q["budget"] == r["budget"]]
            if k:
                print(f"  lemon/kernelshap seconds at {r['budget']}: {r['seconds'] / k[0]['seconds']:.2f}")
        task = mxbench.generate(spec, instances=args.instances)
        support = [support_recovery(task, i, seed) for seed in seeds for i in range(args.instances)]
        q = np.array([r["queries"] for r in support]) / spec.n_players
        print(f"  sparse-moebius support recovery (default budget 8n): exact on {sum(r['exact'] for r in support)} of "
              f"{len(support)}; queries {q.mean():.2f}n on average, {q.max():.2f}n at most (goal <= 4n); "
              f"{np.mean([r['seconds'] for r in support]):.3f} s per explanation")
    big = max(suite_specs("paper"), key=lambda s: s.n_players)
    print(f"\nplanted-game throughput, {big.name} ({big.n_players} players): {throughput(big):,.0f} coalitions/s")
    if args.pairs:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_pairs_scale import SHAPIQ, goals, pairs_scale_table, show

        table = pairs_scale_table([s.name for s in specs], instances=args.instances, seeds=len(seeds),
                                  shapiq=SHAPIQ if args.shapiq else ())
        show(table)
        print("\n".join(goals(table)))


if __name__ == "__main__":
    main()
