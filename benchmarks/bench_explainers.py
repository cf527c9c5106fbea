"""Benchmark of the black-box explainers ("Speed"): queries to accuracy, side by side.

Every figure below is measured in one run, single-threaded (numpy/BLAS and torch limited to one
thread), on CPU. Every explainer runs at its documented defaults and at the best of a few
settings (listed per section; a baseline is never weakened: its best is picked by the same
criterion that is being measured). "Queries" are distinct coalitions evaluated
(``Explanation.n_queries``, never above the budget).

Games
    *standard*: the planted games of the ``standard`` suite, one task per structure (the ``-lo``
    tasks; ``-hi`` differ only in label noise, not in their games): ``tab-img-16``, ``img-txt-32``,
    ``tab-img-txt-48``, ``tab-img-txt-64``, the first test instances of each (6 per task; 2 with
    ``--quick``); their planted terms have one to three players (mostly one or two).
    *smoke-mix3*: the smoke task with three modalities (12 players) whose synergy and redundancy
    terms both span three players, one per modality.
    *models*: the certified ``fusion_mlp`` models of ``tab-img-16-lo`` and ``smoke-mix3`` (trained
    once through ``mxbench.bench.runner.train_models`` and cached, default
    ``.mxbench-cache/models``), same number of test instances. A model game's exact truth is
    computed by enumerating its ``2^n`` coalitions (``Truth.from_game``); planted roles (relevant
    players, distractors) come from the task, as everywhere in mxbench.

Budget grid: 8 to 4096 (to 2048 with ``--quick``), each game's grid capped at ``2^(n-1)``, half of
all its coalitions (near ``2^n`` enumeration is the better method, and LEMON's sampler, which
draws until ``budget`` distinct masks are found, slows down by orders of magnitude there). Each
explainer also runs once at its default budget. Seeds differ per game, not per budget.

1. **Modality level.** For LEMON, MMSHAP, PermutationShapley and KernelSHAP (defaults, and
   antithetic/paired switched off), over a budget grid, the largest error
   ``max_m |share_m - exact share_m|`` with shares ``|c_m| / Σ|c|`` and exact shares from the
   game's exact modality Shapley values. Per instance, the queries needed = the queries at the
   smallest grid budget from which *every* share stays within 0.05 at every larger grid budget
   (never reached: reported as such, no number is invented). Median and mean over instances,
   per group; the ratios MMSHAP/LEMON (goal >= 35x: the LEMON paper reports 35-67x fewer
   queries than multimodal baselines), PermutationShapley/LEMON and KernelSHAP/LEMON use each
   baseline's best setting. Also printed: each one's error at its default budget (MM-SHAP's
   published setting: ``max_evals = 500``), and the error its *estimand* would have with exact
   per-player Shapley values (MM-SHAP sums ``|φ_i|`` per modality, the others sum ``φ_i``), which
   bounds what any budget can reach.
2. **Feature level.** Mean AUROC of ``|attribution|`` separating relevant players from
   distractors (``mxbench.validation.recovery.auroc``) at each budget, for LEMON,
   PermutationShapley, KernelSHAP and LIME (defaults and a few settings each); the queries at
   which the mean AUROC reaches 0.95 (and stays there on the grid). Where the game's own exact
   Shapley values reach a mean AUROC below 0.97 (a model game can give distractors a little
   credit), the target is lowered to that ceiling minus 0.02, and the table says so. Goal:
   LEMON needs no more than PermutationShapley and KernelSHAP.
3. **Pair interactions.** SIIProbe (``pairs="all"``, ``"cross"`` and ``"candidates"`` with several
   ``top_k``) against shapiq 1.4's SII approximators (``PermutationSamplingSII``, ``SVARMIQ``,
   ``KernelSHAPIQ``; ``index="SII"``, ``max_order=2``; with and without the pairing trick) on
   planted games (``tab-img-16``, ``img-txt-32`` and ``smoke-mix3``; SVARM-IQ, a pure-Python
   loop, only up to 16 players and 2000 evaluations), 3 games each (2 with ``--quick``), at
   shapiq budgets 100 to 4000 (to 1000 with ``--quick``): mean absolute error against the exact
   SII over all pairs (pairs an explainer does not score count as 0) and precision of the
   planted pairs among the top ``P`` pairs by ``|value|`` (``recovery.pair_precision``). Goal: SIIProbe reaches the
   precision of shapiq's best with at most a fifth of its budget; the shortfall is printed.
4. **Seconds per explanation.** Our KernelSHAP against ``shap.KernelExplainer`` on the same game
   and budget (``nsamples`` = our budget; shap gets a background of one all-zeros row, explains
   an all-ones row, and calls ``f(X) = game(X > 0.5)``, so both explain the same game), shap
   both with ``l1_reg=False`` (the same estimator as ours) and at its default
   ``l1_reg="num_features(10)"``; the ratio uses the faster shap (goal <= 1). Both values are
   compared with the exact Shapley values, and with each other at full budget (both exact).

Run from the repository root::

    .venv/bin/python benchmarks/bench_explainers.py            # full run, about 4-5 minutes on 2 cores
    .venv/bin/python benchmarks/bench_explainers.py --quick    # about 1.5 minutes (models cached)
    .venv/bin/python benchmarks/bench_explainers.py --sections 1,2   # some sections only
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import mxbench  # noqa: E402
from mxbench.explainers import (LEMON, LIME, MMSHAP, Explanation, KernelSHAP,  # noqa: E402
                                PermutationShapley, SIIProbe)
from mxbench.errors import ExplainerError  # noqa: E402
from mxbench.generators.suites import suite_specs  # noqa: E402
from mxbench.validation import recovery  # noqa: E402
from mxbench.validation.truth import Truth  # noqa: E402

SHARE_TOL = 0.05
GOAL_MMSHAP_RATIO = 35.0
AUROC_TARGET = 0.95
CEILING_MARGIN = 0.02
GOAL_SII_FRACTION = 5.0
GOAL_SHAP_RATIO = 1.0
MMSHAP_PUBLISHED = 500

STANDARD_TASKS = ("tab-img-16-lo", "img-txt-32-lo", "tab-img-txt-48-lo", "tab-img-txt-64-lo")
SMOKE3 = "smoke-mix3"
MODELS = (("tab-img-16-lo", "fusion_mlp"), (SMOKE3, "fusion_mlp"))
SII_TASKS = ("tab-img-16-lo", "img-txt-32-lo", SMOKE3)
SVARMIQ_MAX_PLAYERS = 16
SVARMIQ_MAX_BUDGET = 2000  # SVARM-IQ loops in Python: about 1 s per 1000 evaluations at 16 players

GRID = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096)
CURVE = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
SHAPIQ_GRID = (100, 150, 200, 300, 400, 1000, 2000, 4000)
PROBE_GRID = (20, 40, 60, 80, 100, 150, 200, 300, 400, 600, 800, 1000, 2000, 4000)

QUICK = {"per_task": 2, "grid_max": 2048, "sii_instances": 2, "shapiq_max": 1000,
         "sii_tasks": ("tab-img-16-lo", SMOKE3),
         "shap_repeats": 2, "shap_tasks": ("tab-img-16-lo", "tab-img-txt-64-lo")}
FULL = {"per_task": 6, "grid_max": 4096, "sii_instances": 3, "shapiq_max": 4000, "sii_tasks": SII_TASKS,
        "shap_repeats": 3, "shap_tasks": ("tab-img-16-lo", "img-txt-32-lo", "tab-img-txt-64-lo")}


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One game to explain, with its exact truth."""

    group: str
    task: str
    instance: int
    seed: int
    game: Any
    truth: Truth  # planted truth: roles, pairs, exact SII of the planted game
    modality_exact: np.ndarray  # exact modality Shapley values of THIS game
    shapley_exact: np.ndarray | None  # exact player Shapley values of THIS game

    @property
    def n(self) -> int:
        return int(self.game.n_players)


def spec_named(name: str):
    return next(s for s in suite_specs("standard") + suite_specs("smoke") if s.name == name)


def planted_cases(names: tuple[str, ...], per_task: int, group: str, seed0: int = 0) -> list[Case]:
    out = []
    for name in names:
        task = mxbench.generate(spec_named(name), instances=200)
        test = [int(i) for i in task.split_indices("test")[:per_task]]
        for i, truth in zip(test, Truth.from_task_many(task, test)):
            out.append(Case(group, name, i, seed0 + len(out), task.game(i), truth, truth.modality_shapley,
                            truth.shapley))
    return out


def model_cases(per_task: int, cache_dir: str, seed0: int) -> tuple[list[Case], list[str]]:
    import torch

    from mxbench.models import load
    from mxbench.bench.runner import train_models

    torch.set_num_threads(1)
    out, notes = [], []
    for name, arch in MODELS:
        task = mxbench.generate(spec_named(name))
        start = time.perf_counter()
        folder = train_models([task], [arch], cache_dir, n_jobs=1, progress=False)[(name, arch)]
        model = load(folder, task)
        c = model.certificate
        notes.append(f"{arch} on {name}: certified={c.passed} (R² random {c.r2_random:.3f}, share error "
                     f"{c.share_error:.3f}); trained or loaded in {time.perf_counter() - start:.1f} s from {folder}")
        test = [int(i) for i in task.split_indices("test")[:per_task]]
        for i, planted in zip(test, Truth.from_task_many(task, test)):
            game = model.game(task, i)
            exact = Truth.from_game(game, task, i)
            out.append(Case(f"model {arch} {name}", name, i, seed0 + len(out), game, planted, exact.modality_shapley,
                            exact.shapley))
    return out, notes


# --------------------------------------------------------------------------- printing


def table(title: str, header: list[str], rows: list[list[Any]], note: str = "") -> None:
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    line = "-" * (sum(widths) + 3 * (len(widths) - 1))
    print(f"\n{title}\n{line}")
    for r, row in enumerate(cells):
        print(" | ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths))))
        if r == 0:
            print(line)
    print(line)
    if note:
        print(note)


def fq(q: float) -> str:
    return "never" if not np.isfinite(q) else f"{q:.0f}"


def ratio_text(num: float, den: float) -> str:
    if not np.isfinite(den):
        return "n/a (LEMON never reached)"
    if not np.isfinite(num):
        return "inf (baseline never reached the target on the grid)"
    return f"{num / den:.1f}x"


# --------------------------------------------------------------------------- sweep (sections 1 and 2)


@dataclass
class Config:
    label: str
    family: str
    make: Callable[[int | None, int], Any]
    default: bool


def sweep_configs() -> list[Config]:
    return [
        Config("LEMON", "LEMON", lambda b, s: LEMON(budget=b, random_state=s), True),
        Config("MMSHAP", "MMSHAP", lambda b, s: MMSHAP(budget=b, random_state=s), True),
        Config("MMSHAP antithetic=False", "MMSHAP", lambda b, s: MMSHAP(budget=b, antithetic=False, random_state=s),
               False),
        Config("PermutationShapley", "PermutationShapley", lambda b, s: PermutationShapley(budget=b, random_state=s),
               True),
        Config("PermutationShapley antithetic=False", "PermutationShapley",
               lambda b, s: PermutationShapley(budget=b, antithetic=False, random_state=s), False),
        Config("KernelSHAP", "KernelSHAP", lambda b, s: KernelSHAP(budget=b, random_state=s), True),
        Config("KernelSHAP paired=False", "KernelSHAP", lambda b, s: KernelSHAP(budget=b, paired=False, random_state=s),
               False),
        Config("LIME", "LIME", lambda b, s: LIME(budget=b, random_state=s), True),
        Config("LIME kernel_width=1", "LIME", lambda b, s: LIME(budget=b, kernel_width=1.0, random_state=s), False),
        Config("LIME ridge_alpha=0.01", "LIME", lambda b, s: LIME(budget=b, ridge_alpha=0.01, random_state=s), False),
    ]


MODALITY_FAMILIES = ("LEMON", "MMSHAP", "PermutationShapley", "KernelSHAP")
FEATURE_FAMILIES = ("LEMON", "PermutationShapley", "KernelSHAP", "LIME")


@dataclass
class Sweep:
    """Per config: arrays (cases, budgets) of share error, AUROC and queries; and at the default budget."""

    grid: tuple[int, ...]
    share: dict[str, np.ndarray]
    own: dict[str, np.ndarray]  # share error against the explainer's own estimand (exact φ aggregated its way)
    auroc: dict[str, np.ndarray]
    queries: dict[str, np.ndarray]
    default_share: dict[str, np.ndarray]
    default_auroc: dict[str, np.ndarray]
    default_queries: dict[str, np.ndarray]
    seconds: dict[str, float]


def share_error(contributions: np.ndarray, exact: np.ndarray) -> float:
    return float(np.abs(recovery.shares(contributions) - recovery.shares(exact)).max())


def estimand(family: str, case: Case) -> np.ndarray | None:
    """The modality contributions an explainer converges to with exact per-player Shapley values."""
    if family == "LEMON":
        return case.modality_exact
    if case.shapley_exact is None:
        return None
    phi = np.abs(case.shapley_exact) if family == "MMSHAP" else case.shapley_exact
    return np.bincount(case.truth.modality_of, weights=phi, minlength=len(case.modality_exact))


def run_sweep(cases: list[Case], configs: list[Config], grid: tuple[int, ...]) -> Sweep:
    shape = (len(cases), len(grid))
    out = Sweep(grid, {}, {}, {}, {}, {}, {}, {}, {})
    for cfg in configs:
        share, own, auc, q = (np.full(shape, np.nan) for _ in range(4))
        d_share, d_auc, d_q = (np.full(len(cases), np.nan) for _ in range(3))
        start = time.perf_counter()
        for c, case in enumerate(cases):
            target = estimand(cfg.family, case)
            for b, budget in enumerate(list(grid) + [None]):
                explainer = cfg.make(budget, case.seed)
                if budget is not None and not explainer.min_budget(case.n) <= budget <= 2 ** (case.n - 1):
                    continue
                e = explainer.explain(case.game)
                s_err = share_error(e.modality, case.modality_exact)
                a = recovery.auroc(e, case.truth)[0]["value"]
                if budget is None:
                    d_share[c], d_auc[c], d_q[c] = s_err, a, e.n_queries
                else:
                    share[c, b], auc[c, b], q[c, b] = s_err, a, e.n_queries
                    own[c, b] = share_error(e.modality, target) if target is not None else np.nan
        out.share[cfg.label], out.own[cfg.label], out.auroc[cfg.label], out.queries[cfg.label] = share, own, auc, q
        out.default_share[cfg.label], out.default_auroc[cfg.label] = d_share, d_auc
        out.default_queries[cfg.label] = d_q
        out.seconds[cfg.label] = time.perf_counter() - start
    return out


def trim(values: np.ndarray) -> np.ndarray:
    """``values`` without its trailing NaNs (grid budgets above the game's cap, not run)."""
    keep = np.flatnonzero(~np.isnan(values))
    return values[: keep[-1] + 1] if keep.size else values[:0]


def first_stay(ok: np.ndarray) -> int | None:
    """The first index from which ``ok`` holds to the end (None: never)."""
    bad = np.flatnonzero(~ok)
    k = 0 if bad.size == 0 else int(bad[-1]) + 1
    return k if k < ok.size else None


def queries_needed(err: np.ndarray, queries: np.ndarray, tol: float) -> np.ndarray:
    """Per case: the queries at the first budget from which ``err <= tol`` at every larger budget (inf: never)."""
    out = np.full(err.shape[0], np.inf)
    for c in range(err.shape[0]):
        k = first_stay(np.nan_to_num(trim(err[c]), nan=np.inf) <= tol)
        if k is not None:
            out[c] = queries[c, k]
    return out


def summary(q: np.ndarray) -> tuple[float, float, int]:
    """Median (inf when half or more never reached), mean (inf unless all reached), count reached."""
    reached = int(np.isfinite(q).sum())
    return float(np.median(q)), float(q.mean()) if reached == q.size else np.inf, reached


def pick_best(labels: list[str], key: Callable[[str], tuple]) -> str:
    return min(labels, key=key)


# --------------------------------------------------------------------------- section 1


def section_modality(sw: Sweep, cases: list[Case], configs: list[Config]) -> None:
    print("\n" + "=" * 100 + f"\n1. MODALITY LEVEL: queries until every modality share is within {SHARE_TOL} of the "
          "exact modality Shapley shares\n" + "=" * 100)
    groups = list(dict.fromkeys(c.group for c in cases))
    for group in groups:
        idx = np.array([k for k, c in enumerate(cases) if c.group == group])
        title = (f"1. {group}: {len(idx)} games, n = {sorted({cases[k].n for k in idx})}, "
                 f"M = {sorted({len(cases[k].modality_exact) for k in idx})} modalities; "
                 f"grid {sw.grid[0]}..{min(sw.grid[-1], 2 ** (max(cases[k].n for k in idx) - 1))}")
        rows, med = [], {}
        for cfg in configs:
            if cfg.family not in MODALITY_FAMILIES:
                continue
            q = queries_needed(sw.share[cfg.label][idx], sw.queries[cfg.label][idx], SHARE_TOL)
            m, mean, reached = summary(q)
            med[cfg.label] = (m, mean, reached)
            own_q = queries_needed(sw.own[cfg.label][idx], sw.queries[cfg.label][idx], SHARE_TOL)
            floor = [share_error(estimand(cfg.family, cases[k]), cases[k].modality_exact)
                     if estimand(cfg.family, cases[k]) is not None else np.nan for k in idx]
            d_err, d_q = sw.default_share[cfg.label][idx], sw.default_queries[cfg.label][idx]
            rows.append([cfg.label + (" (defaults)" if cfg.default else ""), f"{reached}/{len(idx)}", fq(m), fq(mean),
                         f"{np.median(d_q):.0f}", f"{np.mean(d_err):.3f} / {np.max(d_err):.3f}",
                         "n/a" if np.isnan(floor).all() else f"{np.nanmean(floor):.3f} / {np.nanmax(floor):.3f}",
                         fq(summary(own_q)[0])])
        table(title, ["explainer", "reached", "median q", "mean q", "default budget",
                      "err @default (mean/max)", "estimand err (mean/max)", "median q to own estimand"], rows,
              "q = distinct queries at the first grid budget from which every share stays within "
              f"{SHARE_TOL}; 'never' = not within the grid's largest budget.\n"
              "estimand err = the share error with exact per-player Shapley values (the best any budget can do);\n"
              "own estimand = the same criterion against what the explainer estimates (MMSHAP: Σ|φ_i|; "
              "KernelSHAP/Permutation: Σφ_i).")
        lemon = med["LEMON"][0]
        lines = []
        for fam in ("MMSHAP", "PermutationShapley", "KernelSHAP"):
            labels = [c.label for c in configs if c.family == fam]
            best = pick_best(labels, lambda lab: (med[lab][0], med[lab][1], -med[lab][2]))
            line = (f"  {fam}/LEMON (best setting: {best}; median queries {fq(med[best][0])} / {fq(lemon)}): "
                    f"{ratio_text(med[best][0], lemon)}")
            if fam == "MMSHAP":
                ok = np.isfinite(lemon) and (not np.isfinite(med[best][0]) or med[best][0] / lemon >= GOAL_MMSHAP_RATIO)
                line += f"  -> goal >= {GOAL_MMSHAP_RATIO:g}x: {'met' if ok else 'MISSED'}"
                if not np.isfinite(med[best][0]):
                    line += " (vacuously: MMSHAP's estimand is not the modality Shapley value)"
            lines.append(line)
        if np.isfinite(lemon):
            lines.append(f"  cost of MM-SHAP's published setting / LEMON's queries to the target: {MMSHAP_PUBLISHED} / "
                         f"{lemon:.0f} = {MMSHAP_PUBLISHED / lemon:.1f}x")
        e_pub = sw.default_share["MMSHAP"][idx]
        lines.append(f"  MMSHAP at its published {MMSHAP_PUBLISHED} evaluations (its default budget): share error mean "
                     f"{np.mean(e_pub):.3f}, max {np.max(e_pub):.3f}; within {SHARE_TOL} on "
                     f"{int((e_pub <= SHARE_TOL).sum())}/{len(idx)} games")
        print("\n".join(lines))


# --------------------------------------------------------------------------- section 2


def section_feature(sw: Sweep, cases: list[Case], configs: list[Config]) -> None:
    print("\n" + "=" * 100 + f"\n2. FEATURE LEVEL: mean AUROC (relevant vs distractor players) against queries; "
          f"target {AUROC_TARGET}\n" + "=" * 100)
    groups = list(dict.fromkeys(c.group for c in cases))
    cols = [k for k, b in enumerate(sw.grid) if b in CURVE]
    for group in groups:
        idx = np.array([k for k, c in enumerate(cases) if c.group == group])
        exact = []
        for k in idx:
            t, phi = cases[k].truth, np.abs(cases[k].shapley_exact)
            exact.append(recovery.auc_score(phi[t.relevant()], phi[t.distractors()]))
        ceiling = float(np.nanmean(exact))
        target = min(AUROC_TARGET, round(ceiling - CEILING_MARGIN, 3))
        rows, need = [], {}
        for cfg in configs:
            if cfg.family not in FEATURE_FAMILIES:
                continue
            auc = sw.auroc[cfg.label][idx]
            mean = np.array([np.nan if np.isnan(auc[:, k]).any() else np.nanmean(auc[:, k])
                             for k in range(auc.shape[1])])
            k0 = first_stay(np.nan_to_num(trim(mean), nan=-1.0) >= target)
            q = np.inf if k0 is None else float(np.mean(sw.queries[cfg.label][idx, k0]))
            need[cfg.label] = (q, -np.nansum(mean))
            rows.append([cfg.label + (" (defaults)" if cfg.default else "")]
                        + ["-" if np.isnan(mean[k]) else f"{mean[k]:.3f}" for k in cols]
                        + [f"{np.nanmean(sw.default_auroc[cfg.label][idx]):.3f} "
                           f"@{np.median(sw.default_queries[cfg.label][idx]):.0f}", fq(q)])
        lowered = "" if target == AUROC_TARGET else f" (< {AUROC_TARGET}: target lowered to {target})"
        table(f"2. {group}: {len(idx)} games; the game's exact Shapley values reach mean AUROC {ceiling:.3f}{lowered}",
              ["explainer"] + [str(sw.grid[k]) for k in cols] + ["@default budget", f"q to {target}"], rows,
              "Columns: budget; '-' = not run on some game of the group (below the explainer's minimum budget, "
              "or above 2^(n-1)). "
              f"q to {target} = mean distinct queries at the first budget\n"
              f"of the full grid {sw.grid} from which the mean AUROC stays >= {target}.")
        lemon = need["LEMON"][0]
        out = []
        for fam in ("PermutationShapley", "KernelSHAP", "LIME"):
            labels = [c.label for c in configs if c.family == fam]
            best = pick_best(labels, lambda lab: need[lab])
            ok = np.isfinite(lemon) and lemon <= need[best][0]
            tail = f"  -> goal LEMON <= {fam}: {'met' if ok else 'MISSED'}" if fam != "LIME" else ""
            out.append(f"  LEMON {fq(lemon)} vs {fam} (best: {best}) {fq(need[best][0])} queries to mean AUROC "
                       f"{target}{tail}")
        print("\n".join(out))


# --------------------------------------------------------------------------- section 3


class ShapiqGame:
    """shapiq's view of a game: a callable on boolean coalitions (one 1-D coalition allowed), rows counted."""

    def __init__(self, game: Any) -> None:
        self.game = game
        self.rows = 0

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        c = np.atleast_2d(np.asarray(coalitions, dtype=bool))
        self.rows += c.shape[0]
        return np.asarray(self.game(c), dtype=np.float64)


def shapiq_explanation(iv: Any, case: Case) -> Explanation:
    n = case.n
    first = np.asarray(iv.get_n_order_values(1), dtype=np.float64).reshape(n)
    m = np.asarray(iv.get_n_order_values(2), dtype=np.float64)
    i, j = np.triu_indices(n, 1)
    return Explanation(first, np.zeros(len(case.truth.modality_names)), case.truth.modality_names,
                       case.truth.modality_of, {(a, b): m[a, b] for a, b in zip(i.tolist(), j.tolist())},
                       explainer="shapiq")


def sii_scores(e: Explanation, case: Case) -> tuple[float, float]:
    i, j = np.triu_indices(case.n, 1)
    mae = float(np.abs(e.interaction_matrix(fill=0.0)[i, j] - case.truth.sii[i, j]).mean())
    return mae, recovery.pair_precision(e, case.truth)[0]["value"]


def probe_min_budget(kw: dict, case: Case) -> int:
    """SIIProbe's smallest budget on this game (``pairs="cross"``: 4 per cross-modal pair)."""
    if kw["pairs"] == "cross":
        m = case.truth.modality_of
        i, j = np.triu_indices(case.n, 1)
        return int(4 * (m[i] != m[j]).sum())
    return SIIProbe(**kw).min_budget(case.n)


def section_sii(settings: dict) -> None:
    import shapiq

    print("\n" + "=" * 100 + "\n3. PAIR INTERACTIONS: SIIProbe against shapiq's SII approximators (equal budgets)\n"
          + "=" * 100)
    shapiq_grid = tuple(b for b in SHAPIQ_GRID if b <= settings["shapiq_max"])
    probe_grid = tuple(b for b in PROBE_GRID if b <= settings["shapiq_max"])
    approximators = [("PermutationSamplingSII", shapiq.approximator.PermutationSamplingSII, {}),
                     ("SVARMIQ", shapiq.approximator.SVARMIQ, {}),
                     ("SVARMIQ pairing", shapiq.approximator.SVARMIQ, {"pairing_trick": True}),
                     ("KernelSHAPIQ", shapiq.approximator.KernelSHAPIQ, {}),
                     ("KernelSHAPIQ pairing", shapiq.approximator.KernelSHAPIQ, {"pairing_trick": True})]
    probes = [("SIIProbe pairs=all (defaults)", {"pairs": "all"}), ("SIIProbe pairs=cross", {"pairs": "cross"})]
    probes += [(f"SIIProbe candidates top_k={k}", {"pairs": "candidates", "top_k": k}) for k in (6, 8, 12, 16)]
    for name in settings["sii_tasks"]:
        cases = planted_cases((name,), settings["sii_instances"], name, seed0=100)
        n = cases[0].n
        n_pairs = int(cases[0].truth.pair_arrays()[0].size)
        res: dict[str, dict[int, tuple[float, float, float]]] = {}
        start = time.perf_counter()
        for label, cls, kw in approximators:
            if label.startswith("SVARMIQ") and n > SVARMIQ_MAX_PLAYERS:
                continue
            res[label] = {}
            for b in shapiq_grid:
                if label.startswith("SVARMIQ") and b > SVARMIQ_MAX_BUDGET:
                    continue
                maes, precs, rows = [], [], []
                for case in cases:
                    g = ShapiqGame(case.game)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        iv = cls(n=n, max_order=2, index="SII", random_state=case.seed, **kw).approximate(b, g)
                    mae, prec = sii_scores(shapiq_explanation(iv, case), case)
                    maes.append(mae), precs.append(prec), rows.append(g.rows)
                res[label][b] = (float(np.mean(maes)), float(np.nanmean(precs)), float(np.mean(rows)))
        t_shapiq = time.perf_counter() - start
        start = time.perf_counter()
        mins = {}
        for label, kw in probes:
            res[label] = {}
            mins[label] = mn = probe_min_budget(kw, cases[0])
            for b in sorted({mn} | {b for b in probe_grid if b > mn}):
                if b > settings["shapiq_max"]:
                    continue
                maes, precs, qs = [], [], []
                for case in cases:
                    e = SIIProbe(budget=b, random_state=case.seed, **kw).explain(case.game)
                    mae, prec = sii_scores(e, case)
                    maes.append(mae), precs.append(prec), qs.append(e.n_queries)
                res[label][b] = (float(np.mean(maes)), float(np.nanmean(precs)), float(np.mean(qs)))
        t_probe = time.perf_counter() - start

        def cell(r: dict, b: int) -> str:
            return f"{r[b][1]:.2f} {r[b][0]:.4f}" if b in r else "-"

        title = (f"3. {name}: {len(cases)} planted games, n = {n}, {n_pairs} planted pairs; cells = 'precision MAE' "
                 "(means over games)")
        note = (f"MAE over all {n * (n - 1) // 2} pairs (pairs an explainer does not score count as 0); "
                f"precision of the planted pairs among the top P by |value|.")
        shapiq_grid_run = sorted({b for lab, _, _ in approximators if lab in res for b in res[lab]})
        table(title + f" -- shapiq ({t_shapiq:.1f} s in all)", ["explainer"] + [str(b) for b in shapiq_grid_run],
              [[lab] + [cell(res[lab], b) for b in shapiq_grid_run] for lab, _, _ in approximators if lab in res],
              note + " shapiq spends its budget in full.")
        shown = [b for b in probe_grid if b > min(mins.values())]
        table(title + f" -- SIIProbe ({t_probe:.1f} s in all)",
              ["explainer", "min budget", "@min"] + [str(b) for b in shown],
              [[lab, mins[lab], cell(res[lab], mins[lab])] + [cell(res[lab], b) if b > mins[lab] else "-"
                                                                 for b in shown] for lab, _ in probes],
              "min budget = the smallest budget SIIProbe accepts here (first pass 2n + 2 plus one draw of every pair).")
        shapiq_labels = [lab for lab, _, _ in approximators if lab in res]
        probe_labels = [lab for lab, _ in probes]

        def probe_best_upto(limit: float) -> tuple[float, str, int]:
            best = (-1.0, "-", 0)
            for lab in probe_labels:
                for b, (_, p, _) in res[lab].items():
                    if b <= limit and p > best[0]:
                        best = (p, lab, b)
            return best

        def probe_budget_for(prec: float) -> tuple[float, str]:
            best = (np.inf, "-")
            for lab in probe_labels:
                bs = sorted(res[lab])
                ok = np.array([res[lab][b][1] >= prec - 1e-12 for b in bs])
                k = first_stay(ok) if ok.size else None
                if k is not None and bs[k] < best[0]:
                    best = (bs[k], lab)
            return best

        rows = []
        for b in shapiq_grid:
            lab = max((s for s in shapiq_labels if b in res[s]), key=lambda s: (res[s][b][1], -res[s][b][0]))
            p_sq = res[lab][b][1]
            p_pr, lab_pr, b_pr = probe_best_upto(b / GOAL_SII_FRACTION)
            need, lab_need = probe_budget_for(p_sq)
            ratio = b / need if np.isfinite(need) else 0.0
            rows.append([b, lab, f"{p_sq:.2f}", f"{res[lab][b][0]:.4f}",
                         f"cannot run (min {min(mins.values())})" if p_pr < 0
                         else f"{p_pr:.2f} ({lab_pr.replace('SIIProbe ', '')} @{b_pr})",
                         "-" if p_pr < 0 else f"{p_sq - p_pr:+.2f}",
                         "never" if not np.isfinite(need) else f"{need:.0f} ({lab_need.replace('SIIProbe ', '')})",
                         "-" if not np.isfinite(need) else f"{ratio:.1f}x",
                         "met" if ratio >= GOAL_SII_FRACTION else "MISSED"])
        table(f"3. {name}: SIIProbe against shapiq's best at each budget B (goal: same precision with <= B/"
              f"{GOAL_SII_FRACTION:g})",
              ["B", "shapiq best", "prec", "MAE", "SIIProbe best prec with <= B/5", "shortfall",
               "SIIProbe budget to match", "B / that", "goal"], rows,
              "shortfall = shapiq's precision minus SIIProbe's best precision with at most B/5 queries; "
              "'SIIProbe budget to match' = smallest grid budget from which\n"
              "some SIIProbe setting's mean precision stays >= shapiq's (never: not on the grid).")
        top = max(p for s in shapiq_labels for _, p, _ in res[s].values())
        b_top = min(b for s in shapiq_labels for b, (_, p, _) in res[s].items() if p >= top - 1e-12)
        need, lab_need = probe_budget_for(top)
        print(f"  headline: shapiq's best precision {top:.2f} first at budget {b_top}; SIIProbe reaches it at "
              f"{fq(need)} ({lab_need}) -> {('%.1fx fewer' % (b_top / need)) if np.isfinite(need) else 'never'}; "
              f"goal >= {GOAL_SII_FRACTION:g}x (<= {b_top / GOAL_SII_FRACTION:.0f} queries): "
              f"{'met' if np.isfinite(need) and b_top / need >= GOAL_SII_FRACTION else 'MISSED'}; SIIProbe's smallest "
              f"accepted budget here is {min(mins.values())} ({min(mins, key=mins.get)})")


# --------------------------------------------------------------------------- section 4


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def shap_values(game: Any, n: int, nsamples: int, l1_reg: Any, seed: int = 0) -> np.ndarray:
    """shap's KernelExplainer on the game (it samples from numpy's global generator: seeded here)."""
    import shap

    np.random.seed(seed)
    f = lambda X: np.asarray(game(np.asarray(X) > 0.5), dtype=np.float64)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        explainer = shap.KernelExplainer(f, np.zeros((1, n)))
        return np.asarray(explainer.shap_values(np.ones((1, n)), nsamples=nsamples, l1_reg=l1_reg,
                                                silent=True)).reshape(n)


def section_shap(settings: dict, models: list[Case]) -> None:
    import logging

    import shap

    logging.getLogger("shap").setLevel(logging.ERROR)
    print("\n" + "=" * 100 + f"\n4. SECONDS PER EXPLANATION: our KernelSHAP against shap {shap.__version__} "
          "KernelExplainer (same game, nsamples = budget)\n" + "=" * 100)
    reps = settings["shap_repeats"]
    cases = planted_cases(settings["shap_tasks"], 1, "planted", seed0=200)
    cases += [c for c in models if c.task == "tab-img-16-lo"][:1]
    rows, ratios = [], []
    for case in cases:
        n = case.n
        for budget in (512, 2 * n + 2048):
            t_ours, e = best_time(lambda: KernelSHAP(budget=budget, random_state=case.seed).explain(case.game), reps)
            t_plain, sv = best_time(lambda: shap_values(case.game, n, budget, False, case.seed), reps)
            t_default, _ = best_time(lambda: shap_values(case.game, n, budget, "num_features(10)", case.seed), reps)
            ratio = t_ours / min(t_plain, t_default)
            ratios.append(ratio)
            ex = case.shapley_exact
            scale = float(np.abs(ex).max())
            rows.append([f"{case.group} {case.task} #{case.instance}", n, budget, f"{t_ours * 1e3:.1f}",
                         f"{t_plain * 1e3:.1f}", f"{t_default * 1e3:.1f}", f"{ratio:.2f}",
                         f"{np.abs(e.attributions - ex).max() / scale:.3f}", f"{np.abs(sv - ex).max() / scale:.3f}",
                         f"{np.abs(e.attributions - sv).max() / scale:.3f}"])
    table(f"4. KernelSHAP vs shap.KernelExplainer: best of {reps} wall times (ms) per explanation",
          ["game", "n", "budget", "ours ms", "shap l1=False ms", "shap default ms", "ours/shap", "ours err",
           "shap err", "|ours-shap|"], rows,
          "ours/shap uses the faster shap setting; err = max |φ - exact φ| / max |exact φ| (shap: l1_reg=False); "
          "|ours-shap| = max difference / max |exact φ|.")
    # full budget: both must be the exact Shapley values
    full = planted_cases((SMOKE3,), 1, "planted", seed0=300)[0]
    n = full.n
    e = KernelSHAP(budget=2**n).explain(full.game)
    sv = shap_values(full.game, n, 2**n, False)
    d_ours, d_shap = np.abs(e.attributions - full.shapley_exact).max(), np.abs(sv - full.shapley_exact).max()
    print(f"  worst ours/shap {max(ratios):.2f}, geometric mean {np.exp(np.mean(np.log(ratios))):.2f} -> goal <= "
          f"{GOAL_SHAP_RATIO:g}: {'met' if max(ratios) <= GOAL_SHAP_RATIO else 'MISSED'}")
    print(f"  full budget (2^{n} = {2**n} coalitions, {SMOKE3} #{full.instance}): max |ours - exact| {d_ours:.1e}, "
          f"max |shap - exact| {d_shap:.1e}, max |ours - shap| {np.abs(e.attributions - sv).max():.1e}")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer instances, smaller grids (about 1.5 minutes)")
    parser.add_argument("--sections", default="1,2,3,4", help="comma-separated sections to run (default all)")
    parser.add_argument("--cache-dir", default=".mxbench-cache/models", help="where the trained models are cached")
    args = parser.parse_args()
    sections = {int(s) for s in args.sections.split(",") if s.strip()}
    settings = QUICK if args.quick else FULL
    threadpool_limits(1)
    import torch

    torch.set_num_threads(1)
    t_all = time.perf_counter()
    print(f"mxbench bench_explainers ({'quick' if args.quick else 'full'}): {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, torch "
          f"{torch.__version__}; 1 thread")
    grid = tuple(b for b in GRID if b <= settings["grid_max"])
    models: list[Case] = []
    if sections & {1, 2, 4}:
        start = time.perf_counter()
        models, notes = model_cases(settings["per_task"], args.cache_dir, seed0=1000)
        print("models:\n  " + "\n  ".join(notes)
              + f"\n  model cases with exact truth in {time.perf_counter() - start:.1f} s")
    if sections & {1, 2}:
        start = time.perf_counter()
        cases = planted_cases(STANDARD_TASKS, settings["per_task"], "standard (planted)")
        cases += planted_cases((SMOKE3,), settings["per_task"], f"{SMOKE3} (planted, 3-way terms)", seed0=len(cases))
        cases += models
        configs = sweep_configs()
        sw = run_sweep(cases, configs, grid)
        print(f"sweep: {len(configs)} explainer settings x {len(cases)} games x {len(grid) + 1} budgets in "
              f"{time.perf_counter() - start:.1f} s ("
              + ", ".join(f"{k} {v:.0f} s" for k, v in sw.seconds.items()) + ")")
        if 1 in sections:
            section_modality(sw, cases, configs)
        if 2 in sections:
            section_feature(sw, cases, configs)
    if 3 in sections:
        start = time.perf_counter()
        section_sii(settings)
        print(f"  (section 3: {time.perf_counter() - start:.1f} s)")
    if 4 in sections:
        start = time.perf_counter()
        section_shap(settings, models)
        print(f"  (section 4: {time.perf_counter() - start:.1f} s)")
    print(f"\ntotal {time.perf_counter() - t_all:.1f} s")


if __name__ == "__main__":
    main()
