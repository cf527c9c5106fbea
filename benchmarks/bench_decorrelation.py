"""Benchmark: FL-I2MoE's decorrelation regularisers and the authors' perturbation: specialisation, faithfulness.

Two studies of the options of :class:`~mxbench.models.fl_i2moe.FLI2MoE` (``docs/reconstructions.md``
§4, §9):

**A. Specialisation, the authors' way.** On the ``specialisation`` suite (all signal unique to one
modality, purely synergistic across two, purely redundant across two) FL-I2MoE is trained with
every ``perturbation`` (``baseline``, ``noise``) x ``regularizer`` (``none``, ``rep-cos``,
``rep-barlow``, ``rep-cka``) and ``--seeds`` seeds, with :func:`mxbench.models.train`'s defaults
(so training stops once the masked validation R² reaches 0.97). On held-out unmasked instances
(:func:`~mxbench.bench.specialisation.routing_summary`): the matching expert's **win rate** (the
share of instances where it has the largest routing weight: Decor's "top-1 rate"), its **mean
routing weight** and its **margin** over the runner-up, and how many (task, seed) models it wins
on mean weight. Also the certificate's R² under random coalitions and the experts' latent
similarity after training (``rep-cos``, mean squared cosine between experts' latents, and linear
CKA), which says whether a regulariser decorrelated anything.

**B. Does role specialisation make explanations more faithful?** (the question of Decor, arXiv
2606.29613). On smoke tasks (``--tasks``) FL-I2MoE is trained with each regulariser (one
perturbation, ``--q6-perturbation``) and ``--q6-seeds`` seeds; ``expert_maps``, ``sii-probe``
(2,048 queries), ``integrated_gradients`` and ``kernelshap`` explain ``--instances`` held-out
instances and are scored by the runner's scorer against the model's exact truth and the planted
truth (the ``truth`` column): material ``auroc``, ``pair_precision`` (the pair explainer) and
``deletion`` (against the model, lower is better). Role specialisation on these tasks is the
matching expert's share of each planted term's pure interaction
(:func:`~mxbench.bench.specialisation.expert_term_share`, ``share_top``, mean over terms).

Intervals are 95% percentile bootstrap intervals (2,000 resamples): over seeds for study A
(per-seed values, pooled over tasks by averaging), and two-level for study B (seeds within each
task, then instances within each seed); differences against ``none`` are paired by seed and
instance (the same seed gives the same initial weights and batches). The verdict of B:
**confirmed** when a regulariser raises specialisation (interval of the difference above 0) and
the mean material AUROC of the four explainers against the model truth (interval above 0);
**refuted** when a regulariser raises specialisation but that AUROC's difference stays below
+0.01 (upper end of the interval); **inconclusive** otherwise (no regulariser moves
specialisation measurably, or the intervals straddle). The Spearman correlation between
specialisation and that AUROC across all models of B is printed as well.

Budget (2 CPU cores, 2 processes): an FL-I2MoE training takes 6-45 s on a specialisation task
and 15-25 s on the smoke tasks on a free core. The full study (A: 5 seeds, 160 models; B: 2
tasks x 3 seeds, 24 models) took 2,915 s on 2 cores of which other work held one most of the
time (``docs/notes-2026-12-06.md``); on 2 free cores that is about 25-30 minutes, ``--quick``
(A: 3 seeds; B: one task) about half. Trained models are kept in ``--cache`` and reused.

Run::

    python benchmarks/bench_decorrelation.py                 # the full study
    python benchmarks/bench_decorrelation.py --quick         # 3 seeds, one smoke task
    python benchmarks/bench_decorrelation.py --seeds 8 --tasks smoke-tab-txt --part B
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

PERTURBATIONS = ("baseline", "noise")
REGULARIZERS = ("none", "rep-cos", "rep-barlow", "rep-cka")
EXPLAINERS = ("expert_maps", ("sii-probe", {"budget": 2048}), "integrated_gradients", "kernelshap")
METRICS = ("auroc", "pair_precision", "deletion")
_TASKS: dict = {}


# ---------------------------------------------------------------------- workers
def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _task(name: str):
    """A task of the specialisation or smoke suite by name (generated once per process)."""
    import mxbench
    from mxbench.generators.suites import suite_specs

    if name not in _TASKS:
        suite = "specialisation" if name.startswith("spec-") else "smoke"
        spec = next(s for s in suite_specs(suite) if s.name == name)
        _TASKS[name] = mxbench.generate(spec)
    return _TASKS[name]


def _model(task, perturbation: str, regularizer: str, seed: int, cache: Path):
    """Train (or reload from ``cache``) FL-I2MoE with the options; return (model, folder, seconds trained)."""
    from mxbench.models import load, train

    folder = cache / f"{task.spec.name}-{perturbation}-{regularizer}-s{seed}"
    if (folder / "config.json").is_file():
        model = load(folder, task)
        return model, folder, model.seconds
    model = train(task, "fl_i2moe", config={"perturbation": perturbation, "regularizer": regularizer},
                  random_state=seed)
    model.save(folder, overwrite=True)
    return model, folder, model.seconds


def _latent_similarity(model, task, n: int = 512) -> dict[str, float]:
    """rep-cos and linear CKA between the experts' latents on held-out unmasked instances."""
    import torch

    from mxbench.models.common import to_tensors
    from mxbench.models.fl_i2moe import rep_cka, rep_cos

    rows = task.split_indices("test")[:n]
    x = to_tensors({k: v[rows] for k, v in task.inputs.items()}, model.device)
    with torch.no_grad():
        model.module(x)
        z = model.module.latents
        return {"latent_cos2": float(rep_cos(z)), "latent_cka": float(rep_cka(z))}


def routing_job(task_name: str, perturbation: str, regularizer: str, seed: int, cache: str) -> dict:
    """Study A: one model's matching-expert routing figures."""
    from mxbench.bench.specialisation import routing_summary

    start = time.perf_counter()
    task = _task(task_name)
    model, _, trained = _model(task, perturbation, regularizer, seed, Path(cache))
    r = routing_summary(model, task)
    m = r[r["matching"]].iloc[0]
    return {"task": task_name, "perturbation": perturbation, "regularizer": regularizer, "seed": seed,
            "expert": m["expert"], "win_rate": float(m["top1_rate"]), "mean_weight": float(m["mean_weight"]),
            "margin": float(m["margin"]), "won": bool(m["wins"]), "r2": float(model.certificate.r2_random),
            "epochs": len(model.history), "train_s": float(trained), **_latent_similarity(model, task),
            "job_s": time.perf_counter() - start}


def q6_job(task_name: str, perturbation: str, regularizer: str, seed: int, cache: str,
           instances: int) -> tuple[pd.DataFrame, dict]:
    """Study B: the four explainers on one model, scored against both truths; and the model's figures."""
    from mxbench.bench import runner
    from mxbench.bench.specialisation import expert_term_share

    start = time.perf_counter()
    task = _task(task_name)
    model, folder, trained = _model(task, perturbation, regularizer, seed, Path(cache))
    rows = [int(i) for i in task.split_indices("test")[:instances]]
    mtruths = runner.model_truths(task, "fl_i2moe", str(folder), rows)
    specs = runner.explainer_specs(EXPLAINERS)
    frame = runner._run_unit(task, "fl_i2moe", str(folder), specs, [None], [0], rows, list(METRICS), (mtruths,))
    frame = frame[frame["metric"].isin(METRICS)].assign(regularizer=regularizer, perturbation=perturbation,
                                                        train_seed=seed)
    share = expert_term_share(model, task, instances=64)
    spec = float(share.loc[share["matching"], "share_top"].mean())
    info = {"task": task_name, "perturbation": perturbation, "regularizer": regularizer, "seed": seed,
            "r2": float(model.certificate.r2_random), "certified": bool(model.certified),
            "epochs": len(model.history), "train_s": float(trained), "specialisation": spec,
            **_latent_similarity(model, task), "job_s": time.perf_counter() - start}
    return frame, info


# ---------------------------------------------------------------------- statistics
def boot_seeds(values: np.ndarray, rng: np.random.Generator, b: int = 2000) -> tuple[float, float, float]:
    """Mean and 95% percentile bootstrap interval of per-seed values ``(seeds,)`` or ``(tasks, seeds)``
    (tasks averaged, seeds resampled within each task)."""
    v = np.atleast_2d(np.asarray(values, dtype=float))
    idx = rng.integers(0, v.shape[1], (b, v.shape[0], v.shape[1]))
    reps = np.nanmean(np.take_along_axis(v[None].repeat(b, 0), idx, axis=2), axis=(1, 2))
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return float(np.nanmean(v)), float(lo), float(hi)


def boot_two_level(cube: np.ndarray, rng: np.random.Generator, b: int = 2000) -> tuple[float, float, float]:
    """Mean and 95% interval of ``(tasks, seeds, instances)`` values: seeds resampled within each task,
    then instances within each resampled seed (NaN cells ignored)."""
    t, s, i = cube.shape
    si = rng.integers(0, s, (b, t, s))
    ii = rng.integers(0, i, (b, t, s, i))
    picked = cube[np.arange(t)[None, :, None, None], si[..., None], ii]
    reps = np.nanmean(picked, axis=(1, 2, 3))
    lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    return float(np.nanmean(cube)), float(lo), float(hi)


def fmt(m: float, lo: float, hi: float, digits: int = 3) -> str:
    if not np.isfinite(m):
        return "–"
    return f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def cube_of(frame: pd.DataFrame, tasks: list[str], seeds: list[int], rows: dict[str, list[int]]) -> np.ndarray:
    """A ``(tasks, seeds, instances)`` array of ``frame``'s values (NaN where missing)."""
    n = max(len(r) for r in rows.values())
    cube = np.full((len(tasks), len(seeds), n), np.nan)
    pos = {(t, s, i): (a, b, c) for a, t in enumerate(tasks) for b, s in enumerate(seeds)
           for c, i in enumerate(rows[t])}
    for t, s, i, v in frame[["task", "train_seed", "instance", "value"]].itertuples(index=False):
        cube[pos[(t, s, i)]] = v
    return cube


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------- reports
def report_a(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    seeds = sorted(frame["seed"].unique())
    tasks = list(dict.fromkeys(frame["task"]))
    out = []
    for (p, r), g in frame.groupby(["perturbation", "regularizer"], sort=False):
        piv = {k: g.pivot(index="task", columns="seed", values=k).loc[tasks, seeds].to_numpy()
               for k in ("win_rate", "mean_weight", "margin", "r2", "latent_cos2", "latent_cka", "epochs")}
        out.append({"perturbation": p, "regularizer": r, "n": f"{len(tasks)}x{len(seeds)}",
                    "win rate": fmt(*boot_seeds(piv["win_rate"], rng), 2),
                    "mean weight": fmt(*boot_seeds(piv["mean_weight"], rng), 2),
                    "margin": fmt(*boot_seeds(piv["margin"], rng), 2),
                    "won": f"{int(g['won'].sum())}/{len(g)}",
                    "R² random": f"{np.mean(piv['r2']):.3f}", "epochs": f"{np.mean(piv['epochs']):.1f}",
                    "latent cos²": f"{np.mean(piv['latent_cos2']):.2f}", "latent CKA": f"{np.mean(piv['latent_cka']):.2f}"})
    print(f"\nA1. Matching expert on the specialisation suite, pooled over its {len(tasks)} tasks "
          f"(mean over tasks; 95% bootstrap interval over {len(seeds)} seeds); won = models where its mean "
          f"weight is the largest")
    print(markdown(out, ["perturbation", "regularizer", "n", "win rate", "mean weight", "margin", "won", "R² random",
                         "epochs", "latent cos²", "latent CKA"]))
    out = []
    for (p, r), g in frame.groupby(["perturbation", "regularizer"], sort=False):
        row = {"perturbation": p, "regularizer": r}
        for t in tasks:
            gt = g[g["task"] == t].sort_values("seed")
            row[f"{t} ({gt['expert'].iloc[0]})"] = fmt(*boot_seeds(gt["win_rate"].to_numpy(), rng), 2)
        out.append(row)
    print(f"\nA2. Matching expert's win rate per task (95% bootstrap interval over {len(seeds)} seeds)")
    print(markdown(out, list(out[0])))


def report_b(frame: pd.DataFrame, info: pd.DataFrame, rng: np.random.Generator) -> None:
    tasks = list(dict.fromkeys(info["task"]))
    seeds = sorted(info["seed"].unique())
    rows = {t: sorted(frame.loc[frame["task"] == t, "instance"].unique().tolist()) for t in tasks}
    regs = list(dict.fromkeys(info["regularizer"]))
    names = list(dict.fromkeys(frame["explainer"]))
    n = f"{len(tasks)} task(s) x {len(seeds)} seeds x {max(len(r) for r in rows.values())} instances"
    out = []
    for reg in regs:
        g = info[info["regularizer"] == reg]
        piv = {k: g.pivot(index="task", columns="seed", values=k).loc[tasks, seeds].to_numpy()
               for k in ("r2", "specialisation", "latent_cos2", "latent_cka")}
        out.append({"regularizer": reg, "n models": len(g), "certified": f"{int(g['certified'].sum())}/{len(g)}",
                    "R² random": fmt(*boot_seeds(piv["r2"], rng)),
                    "specialisation": fmt(*boot_seeds(piv["specialisation"], rng), 2),
                    "latent cos²": fmt(*boot_seeds(piv["latent_cos2"], rng), 2),
                    "latent CKA": fmt(*boot_seeds(piv["latent_cka"], rng), 2)})
    print(f"\nB1. The models of question 6 ({', '.join(tasks)}; perturbation "
          f"{info['perturbation'].iloc[0]}): task R² (certificate, random coalitions), role specialisation "
          f"(matching expert's share of each term's pure interaction), latent similarity; 95% interval over seeds")
    print(markdown(out, list(out[0])))
    cubes: dict = {}
    for (reg, ex, truth, metric), g in frame.groupby(["regularizer", "explainer", "truth", "metric"]):
        cubes[(reg, ex, truth, metric)] = cube_of(g, tasks, seeds, rows)
    for metric, label in (("auroc", "material AUROC"), ("pair_precision", "pair precision (material pairs)"),
                          ("deletion", "deletion (model game; lower is better)")):
        out = []
        for ex in names:
            for truth in ("model", "planted"):
                if not any((reg, ex, truth, metric) in cubes for reg in regs):
                    continue
                row = {"explainer": ex, "truth": truth}
                for reg in regs:
                    c = cubes.get((reg, ex, truth, metric))
                    row[reg] = "–" if c is None else fmt(*boot_two_level(c, rng))
                out.append(row)
        if out:
            print(f"\nB2. {label} per regulariser ({n}; 95% two-level bootstrap interval)")
            print(markdown(out, ["explainer", "truth", *regs]))
    # the primary endpoint: mean over the explainers of material AUROC against the model truth
    primary = {reg: np.nanmean(np.stack([cubes[(reg, ex, "model", "auroc")] for ex in names
                                         if (reg, ex, "model", "auroc") in cubes]), axis=0) for reg in regs}
    planted = {reg: np.nanmean(np.stack([cubes[(reg, ex, "planted", "auroc")] for ex in names
                                         if (reg, ex, "planted", "auroc") in cubes]), axis=0) for reg in regs}
    spec = {reg: info[info["regularizer"] == reg].pivot(index="task", columns="seed", values="specialisation")
            .loc[tasks, seeds].to_numpy() for reg in regs}
    out, verdicts = [], []
    for reg in regs:
        if reg == "none":
            continue
        ds = boot_seeds(spec[reg] - spec["none"], rng)
        dp = boot_two_level(primary[reg] - primary["none"], rng)
        dq = boot_two_level(planted[reg] - planted["none"], rng)
        out.append({"regularizer": reg, "Δ specialisation": fmt(*ds, 2), "Δ AUROC (model truth)": fmt(*dp),
                    "Δ AUROC (planted truth)": fmt(*dq)})
        if ds[1] > 0 and dp[1] > 0:
            verdicts.append("confirmed")
        elif ds[1] > 0 and dp[2] < 0.01:
            verdicts.append("refuted")
        else:
            verdicts.append("inconclusive")
    print("\nB3. Against no regulariser (paired by seed and instance; 95% interval): specialisation and the mean "
          "material AUROC of the four explainers")
    print(markdown(out, list(out[0])))
    keys = [(t, s) for t in tasks for s in seeds]
    x = np.array([spec[reg][tasks.index(t), seeds.index(s)] for reg in regs for t, s in keys])
    y = np.array([np.nanmean(primary[reg][tasks.index(t), seeds.index(s)]) for reg in regs for t, s in keys])
    reps = []
    with warnings.catch_warnings():  # a resample of tied values has no rank correlation: NaN, left out
        warnings.simplefilter("ignore")
        rho = pd.Series(x).corr(pd.Series(y), method="spearman")
        for _ in range(2000):
            k = rng.integers(0, len(x), len(x))
            reps.append(pd.Series(x[k]).corr(pd.Series(y[k]), method="spearman"))
        lo, hi = np.nanpercentile(reps, [2.5, 97.5])
    print(f"\nAcross the {len(x)} models: Spearman(specialisation, mean material AUROC vs model truth) = "
          f"{rho:.2f} [{lo:.2f}, {hi:.2f}]")
    verdict = ("confirmed" if "confirmed" in verdicts else "refuted" if "refuted" in verdicts else "inconclusive")
    print(f"Verdict (question 6, at this size): {verdict} "
          f"({', '.join(f'{r}: {v}' for r, v in zip([r for r in regs if r != 'none'], verdicts))})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="seeds per configuration in study A (default 5; "
                        "--quick 3)")
    parser.add_argument("--q6-seeds", type=int, default=3, help="seeds per regulariser in study B (default 3)")
    parser.add_argument("--tasks", default=None, help="comma-separated smoke tasks of study B (default "
                        "smoke-tab-txt,smoke-img-txt; --quick smoke-tab-txt)")
    parser.add_argument("--quick", action="store_true", help="3 seeds in A, one smoke task in B")
    parser.add_argument("--part", choices=["A", "B", "AB"], default="AB", help="which study to run (default both)")
    parser.add_argument("--q6-perturbation", choices=PERTURBATIONS, default="baseline",
                        help="the perturbation of the models of study B (default baseline)")
    parser.add_argument("--instances", type=int, default=16, help="held-out instances explained per model in B")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2, one torch thread each)")
    parser.add_argument("--cache", default=".mxbench-cache/decorrelation", help="folder of the trained models")
    parser.add_argument("--csv", default=None, help="write the raw frames to PREFIX_routing.csv, PREFIX_q6.csv, "
                        "PREFIX_q6_models.csv")
    args = parser.parse_args()
    seeds = args.seeds or (3 if args.quick else 5)
    tasks = (args.tasks or ("smoke-tab-txt" if args.quick else "smoke-tab-txt,smoke-img-txt")).split(",")
    from mxbench.generators.suites import suite_specs

    smoke = [s.name for s in suite_specs("smoke")]
    if not set(tasks) <= set(smoke):
        parser.error(f"--tasks: unknown smoke task(s) {sorted(set(tasks) - set(smoke))} (choose from {', '.join(smoke)})")
    if seeds < 1 or args.q6_seeds < 1 or args.instances < 1 or args.jobs < 1:
        parser.error("--seeds, --q6-seeds, --instances and --jobs must be at least 1")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    spec_tasks = [s.name for s in suite_specs("specialisation")]
    jobs = []
    if "A" in args.part:
        # the synergy task trains longest: first, so the two processes finish together
        order = sorted(spec_tasks, key=lambda t: t != "spec-synergy")
        jobs += [("A", routing_job, (t, p, r, s, str(cache))) for s in range(seeds) for t in order
                 for p in PERTURBATIONS for r in REGULARIZERS]
    if "B" in args.part:
        jobs += [("B", q6_job, (t, args.q6_perturbation, r, s, str(cache), args.instances))
                 for t in tasks for s in range(args.q6_seeds) for r in REGULARIZERS]
    import torch

    print(f"mxbench bench_decorrelation: {os.cpu_count()} CPUs, {args.jobs} processes x 1 torch thread, "
          f"torch {torch.__version__}; A: {seeds} seeds x {len(spec_tasks)} tasks x {len(PERTURBATIONS)} perturbations "
          f"x {len(REGULARIZERS)} regularisers; B: {','.join(tasks)} x {args.q6_seeds} seeds x {len(REGULARIZERS)} "
          f"regularisers ({args.q6_perturbation}); {len(jobs)} jobs", flush=True)
    start = time.perf_counter()
    routing, frames, infos = [], [], []
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_init_worker) as pool:
        futures = {pool.submit(fn, *a): (part, a) for part, fn, a in jobs}
        for k, fut in enumerate(as_completed(futures), 1):
            part, a = futures[fut]
            result = fut.result()
            if part == "A":
                routing.append(result)
                line = f"win {result['win_rate']:.2f} R² {result['r2']:.3f} train {result['train_s']:.0f} s"
            else:
                frames.append(result[0])
                infos.append(result[1])
                line = (f"spec {result[1]['specialisation']:.2f} R² {result[1]['r2']:.3f} "
                        f"train {result[1]['train_s']:.0f} s")
            print(f"  [{k}/{len(jobs)} {time.perf_counter() - start:6.0f} s] {part} {a[0]} {a[1]} {a[2]} s{a[3]}: {line}",
                  flush=True)
    rng = np.random.default_rng(0)
    print(f"\ndone in {time.perf_counter() - start:.0f} s")
    if routing:
        frame = pd.DataFrame(routing)
        frame["perturbation"] = pd.Categorical(frame["perturbation"], PERTURBATIONS)
        frame["regularizer"] = pd.Categorical(frame["regularizer"], REGULARIZERS)
        frame = frame.sort_values(["perturbation", "regularizer", "task", "seed"])
        frame[["perturbation", "regularizer"]] = frame[["perturbation", "regularizer"]].astype(str)
        if args.csv:
            frame.to_csv(f"{args.csv}_routing.csv", index=False)
        report_a(frame, rng)
    if infos:
        info = pd.DataFrame(infos)
        info["order"] = info["regularizer"].map(REGULARIZERS.index)
        info = info.sort_values(["order", "task", "seed"], kind="stable").drop(columns="order")
        frame = pd.concat(frames, ignore_index=True)
        if args.csv:
            frame.to_csv(f"{args.csv}_q6.csv", index=False)
            info.to_csv(f"{args.csv}_q6_models.csv", index=False)
        frame["order"] = frame["regularizer"].map(REGULARIZERS.index)
        report_b(frame.sort_values("order", kind="stable").drop(columns="order"), info, rng)


if __name__ == "__main__":
    main()
