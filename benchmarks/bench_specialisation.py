"""Benchmark: does FL-I2MoE specialise? Routing on modality-level tasks, expert games on planted terms.

Trains ``fl_i2moe`` on every task of the ``specialisation`` suite (all signal unique to one
modality, purely synergistic across two, purely redundant across two) with several seeds, and
once on every smoke task, then prints:

1. the routing table: per task, the mean routing weight of each expert on held-out unmasked
   instances (mean over seeds, with the spread), the matching expert, and in how many seeds it
   has the largest mean weight (the FL-I2MoE authors' check on XOR data, ``docs/reconstructions.md``
   §9);
2. the expert x term-kind table: for every planted term, how much of its pure interaction
   (top Möbius coefficient) each expert carries, by role (the unique expert of the term's own
   modality, a unique expert of another modality, ``syn``, ``red``): ``share`` from the expert's
   weighted game ``w_e * out_e`` (the shares add up to the model's own coefficient) and ``fit``
   from its own game ``out_e``; then how often the expert of the term's kind carries the largest
   share.

The model certificate (R² under random coalitions) is printed with each model: a model that
does not fit its task says little about its experts.

Run::

    python benchmarks/bench_specialisation.py                       # 3 seeds, defaults
    python benchmarks/bench_specialisation.py --lambda-int 0.5 --temperature 2 --no-smoke
    python benchmarks/bench_specialisation.py --cache /tmp/mxbench-models   # reuse trained models
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
import torch

import mxbench
from mxbench.generators.suites import suite_specs
from mxbench.models import train
from mxbench.bench.specialisation import expert_term_share, matching_expert, routing_summary


def role(expert: str, modalities: set[str]) -> str:
    """An expert's role towards a term: ``uni:own``, ``uni:other``, ``syn`` or ``red``."""
    if expert.startswith("uni:"):
        return "uni:own" if expert[4:] in modalities else "uni:other"
    return expert


def term_rows(frame: pd.DataFrame, task) -> pd.DataFrame:
    """Add ``role`` and ``group`` (kind, cross or within modality) to an expert_term_share frame."""
    mods = {k: {p.split(":")[0] for p in t.players} for k, t in enumerate(task.terms)}
    frame = frame.copy()
    frame["role"] = [role(e, mods[k]) for e, k in zip(frame["expert"], frame["term_id"])]
    frame["group"] = frame["kind"] + np.where(frame["cross_modal"], " (cross)", np.where(
        frame["kind"] == "unique", "", " (within)"))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per specialisation task")
    parser.add_argument("--epochs", type=int, default=15, help="epoch limit per model")
    parser.add_argument("--lambda-int", type=float, default=None, help="FL-I2MoE lambda_int (default: the model's)")
    parser.add_argument("--temperature", type=float, default=None, help="routing temperature (default: the model's)")
    parser.add_argument("--no-smoke", action="store_true", help="skip the smoke (feature-level) tasks")
    parser.add_argument("--cache", default=None, help="folder to reuse trained models from")
    parser.add_argument("--csv", default=None, help="write the routing and term frames to PREFIX_*.csv")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--tasks", default=None, help="comma-separated specialisation task names (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = {}
    if args.lambda_int is not None:
        config["lambda_int"] = args.lambda_int
    if args.temperature is not None:
        config["temperature"] = args.temperature
    wanted = None if args.tasks is None else set(args.tasks.split(","))
    names = [s.name for s in suite_specs("specialisation")]
    if wanted is not None and not wanted <= set(names):
        parser.error(f"--tasks: unknown task(s) {sorted(wanted - set(names))} (choose from {', '.join(names)})")
    runs = [(t, s) for t in mxbench.generate("specialisation") for s in range(args.seeds)
            if wanted is None or t.spec.name in wanted]
    if not args.no_smoke:
        runs += [(t, 0) for t in mxbench.generate("smoke")]
    print(f"mxbench bench_specialisation: torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"config {config or 'default'}, epochs {args.epochs}")
    print(f"{'task':<18} {'seed':>4} {'seconds':>8} {'epochs':>6} {'R2 random':>9} {'certified':>9}  routing")
    routing, terms = [], []
    for task, seed in runs:
        start = time.perf_counter()
        model = train(task, "fl_i2moe", config=config, random_state=seed, epochs=args.epochs, cache_dir=args.cache)
        seconds = time.perf_counter() - start
        r = routing_summary(model, task).assign(seed=seed, r2=model.certificate.r2_random,
                                                certified=model.certified)
        routing.append(r)
        terms.append(term_rows(expert_term_share(model, task), task).assign(seed=seed))
        weights = " ".join(f"{e}={w:.2f}" for e, w in zip(r["expert"], r["mean_weight"]))
        print(f"{task.spec.name:<18} {seed:>4} {seconds:>8.1f} {len(model.history):>6} "
              f"{model.certificate.r2_random:>9.4f} {'yes' if model.certified else 'NO':>9}  {weights}", flush=True)
    routing_frame = pd.concat(routing, ignore_index=True)
    term_frame = pd.concat(terms, ignore_index=True)
    if args.csv:
        routing_frame.to_csv(f"{args.csv}_routing.csv", index=False)
        term_frame.to_csv(f"{args.csv}_terms.csv", index=False)

    print("\n1. Routing on the specialisation tasks: mean weight over seeds (min-max), held-out unmasked instances")
    spec = routing_frame[routing_frame["task"].str.startswith("spec-")]
    for name, g in spec.groupby("task", sort=False):
        match = g.loc[g["matching"], "expert"].iloc[0] if g["matching"].any() else None
        cells = []
        for e, ge in g.groupby("expert", sort=False):
            cells.append(f"{e}={ge['mean_weight'].mean():.2f} ({ge['mean_weight'].min():.2f}-"
                         f"{ge['mean_weight'].max():.2f})")
        won = int(g.loc[g["matching"], "wins"].sum())
        top1 = g.loc[g["matching"], "top1_rate"].mean()
        margin = g.loc[g["matching"], "margin"].mean()
        seeds = g["seed"].nunique()
        print(f"  {name:<16} matching {match:<8} wins {won}/{seeds} seeds, top-1 rate {top1:.2f}, "
              f"margin {margin:+.2f} | " + " ".join(cells))
    all_won = int(spec.loc[spec["matching"], "wins"].sum())
    print(f"  the matching expert has the largest mean weight in {all_won}/{int(spec['matching'].sum())} models")

    for label, frame in (("specialisation", term_frame[term_frame["task"].str.startswith("spec-")]),
                         ("smoke", term_frame[term_frame["task"].str.startswith("smoke-")])):
        if frame.empty:
            continue
        print(f"\n2. Expert x term kind on the {label} tasks: mean share_top (mean fit_top), over terms and seeds")
        roles = ["uni:own", "uni:other", "syn", "red"]
        print(f"  {'term kind':<22} {'terms':>5} " + " ".join(f"{r:>16}" for r in roles) + f" {'kind wins':>10}")
        for group, g in frame.groupby("group", sort=True):
            n_terms = len(g.groupby(["task", "term_id", "seed"]))
            cells = []
            for r in roles:
                gr = g[g["role"] == r]
                cells.append(f"{gr['share_top'].mean():>7.2f} ({gr['fit_top'].mean():>5.2f})" if len(gr) else
                             f"{'-':>16}")
            wins = sum(int(gt.loc[gt["share_top"].idxmax(), "matching"])
                       for _, gt in g.groupby(["task", "term_id", "seed"]))
            print(f"  {group:<22} {n_terms:>5} " + " ".join(f"{c:>16}" for c in cells) + f" {wins:>5}/{n_terms}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
