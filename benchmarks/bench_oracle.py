"""Benchmark of the exact sparse Möbius oracle (DESIGN.md §2) against enumeration and shapiq.

What is measured, all in one run, on this machine's CPU (no GPU is used):

1. **64 players x 10,000 instances.** The standard-suite task ``tab-img-txt-64-lo`` (tabular 16 +
   image 24x24 in 4x4 patches = 36 + text 12 tokens; 14 planted terms of 1-3 players) with
   ``instances=10000``. Timed separately: generating the task (``mxbench.generate``), building
   the oracle (``task.oracle()``: every term's table over the subsets of its players + the Möbius
   transform), ``shapley()`` for every instance and player, and ``pair_values(planted_pairs,
   "SII")`` for every pair inside a planted term. The project's goal: oracle (build + Shapley +
   planted-pair SII) under 1 s for 10,000 x 64. Efficiency (sum of Shapley = f - v(empty)) is
   checked as well.

2. **14 players: oracle vs brute force vs shapiq.** The smoke task ``smoke-img-txt`` (14 players)
   with a few instances. Per instance, Shapley + the full 14 x 14 SII matrix by
   (a) the oracle, built on that one instance (``task.plan.oracle(task.latents[i:i+1])``) so the
   time is a fair one-instance cost, and also amortised when built for all instances at once;
   (b) brute-force enumeration of all 2^14 coalitions through the planted game
   (``enumerate_game(task.game(i))`` + ``shapley_values`` + ``sii_matrix``);
   (c) shapiq's ``ExactComputer(task.game(i), n_players=14)`` computing ``"SV"`` and ``"SII"`` of
   order 2 (it evaluates the same 2^14 coalitions). The ratios enumeration/oracle and
   shapiq/oracle are printed against the goal (oracle >= 1,000x faster than enumeration), and
   the max absolute differences between the three show that they agree.

3. **256 players.** Tabular 64 + image 32x32 in 4x4 patches (64) + text 128 tokens, with random
   terms (20 unique, 20 synergies, 10 redundancies, 5 three-way synergies), 10,000 instances
   (2,000 with ``--quick``): oracle build + Shapley + planted-pair SII, and efficiency to 1e-9.

Short timings are the best of a few repeats (``time.perf_counter``); long ones (generation,
shapiq) are timed once or twice. Everything runs single-process; the oracle paths use only
elementwise numpy operations in a fixed order (no BLAS), so their results are identical across
machines and runs.

Run from the repository root::

    .venv/bin/python benchmarks/bench_oracle.py           # full run, about a minute
    .venv/bin/python benchmarks/bench_oracle.py --quick   # smaller run, a few seconds
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import mxbench  # noqa: E402
from mxbench.generators.suites import suite_specs  # noqa: E402
from mxbench.oracles.bruteforce import enumerate_game, shapley_values, sii_matrix  # noqa: E402

GOAL_64_S = 1.0
GOAL_RATIO = 1000.0
EFFICIENCY_TOL = 1e-9

SPEC_256 = {
    "name": "tab-img-txt-256", "seed": 7, "instances": 10000, "noise": 0.05,
    "modalities": [
        {"name": "tab", "kind": "tabular", "features": 64},
        {"name": "img", "kind": "image", "channels": 1, "size": 32, "patch": 4},
        {"name": "txt", "kind": "text", "length": 128, "vocab": 64},
    ],
    "random_terms": {"unique": 20, "synergy": 20, "redundancy": 10, "synergy3": 5},
}


# --------------------------------------------------------------------------- helpers


def best_of(fn: Callable[[], Any], repeats: int, setup: Callable[[], None] | None = None) -> tuple[float, Any]:
    """The best wall time of ``repeats`` calls of ``fn`` (``setup`` runs untimed before each) and its result."""
    best, out = float("inf"), None
    for _ in range(max(1, repeats)):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def fmt_time(s: float) -> str:
    if s >= 1.0:
        return f"{s:8.3f} s "
    if s >= 1e-3:
        return f"{s * 1e3:8.3f} ms"
    return f"{s * 1e6:8.1f} us"


class Table:
    """Rows of (measurement, time, note), printed aligned."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, str, str]] = []

    def add(self, what: str, seconds: float | None = None, note: str = "", value: str | None = None) -> None:
        self.rows.append((what, value if value is not None else (fmt_time(seconds) if seconds is not None else ""), note))

    def print(self) -> None:
        w0 = max(len(r[0]) for r in self.rows)
        w1 = max(max(len(r[1]) for r in self.rows), 11)
        line = "-" * (w0 + w1 + 6 + max(len(r[2]) for r in self.rows))
        print(f"\n{self.title}\n{line}")
        print(f"{'measurement':<{w0}} | {'time':>{w1}} | note")
        print(line)
        for what, t, note in self.rows:
            print(f"{what:<{w0}} | {t:>{w1}} | {note}")
        print(line)


def verdict(ok: bool) -> str:
    return "goal met" if ok else "goal missed"


def planted_pairs(task) -> np.ndarray:
    return task.pairs()[["i", "j"]].to_numpy()


# --------------------------------------------------------------------------- 1. 64 x 10,000


def bench_64(quick: bool) -> None:
    n_inst = 10000
    spec = next(s for s in suite_specs("standard") if s.name == "tab-img-txt-64-lo").with_overrides(instances=n_inst)
    reps = 3 if quick else 7
    t_gen, task = best_of(lambda: mxbench.generate(spec), 1 if quick else 2)
    pairs = planted_pairs(task)

    def drop_cache() -> None:
        task.__dict__.pop("_oracle", None)

    t_build, oracle = best_of(task.oracle, reps, setup=drop_cache)
    t_sv, sv = best_of(oracle.shapley, reps)
    t_sii, sii = best_of(lambda: oracle.pair_values(pairs, "SII"), reps)

    def chain():
        drop_cache()
        o = task.oracle()
        return o.shapley(), o.pair_values(pairs, "SII")

    t_chain, _ = best_of(chain, reps)
    total = t_build + t_sv + t_sii
    eff = float(np.abs(sv.sum(axis=1) - (task.f - oracle.empty)).max())

    tab = Table(f"1. Exact Shapley + planted-pair SII: {task.spec.name}, "
                f"{task.n_instances:,} instances x {task.n_players} players, {len(task.terms)} terms, "
                f"{len(pairs)} planted pairs")
    tab.add("generate the task (mxbench.generate)", t_gen, "not part of the oracle goal")
    tab.add("oracle build (term tables + Möbius)", t_build, f"best of {reps}")
    tab.add("shapley() all instances x players", t_sv, f"best of {reps}; output {sv.shape}")
    tab.add("pair_values(planted pairs, 'SII')", t_sii, f"best of {reps}; output {sii.shape}")
    tab.add("oracle total (sum of the three)", total,
            f"goal < {GOAL_64_S:g} s: {verdict(total < GOAL_64_S)} ({GOAL_64_S / total:,.0f}x under)")
    tab.add("oracle total (one timed chain)", t_chain, f"best of {reps}: {verdict(t_chain < GOAL_64_S)}")
    tab.add("per instance (chain / N)", t_chain / task.n_instances, "amortised")
    tab.add("efficiency max|sum SV - (f - v(empty))|", value=f"{eff:.1e}",
            note=f"tolerance {EFFICIENCY_TOL:g}: {'holds' if eff <= EFFICIENCY_TOL else 'FAILS'}")
    tab.print()


# --------------------------------------------------------------------------- 2. 14 players


def bench_14(quick: bool) -> None:
    from shapiq import ExactComputer

    n_inst = 2 if quick else 3
    n_shapiq = 1 if quick else n_inst
    spec = next(s for s in suite_specs("smoke") if s.name == "smoke-img-txt").with_overrides(instances=n_inst)
    task = mxbench.generate(spec)
    n = task.n_players
    plan, lat = task.plan, task.latents
    reps_oracle, reps_enum = (50, 2) if quick else (300, 3)

    def oracle_one(i: int):
        o = plan.oracle(lat[i:i + 1])
        return o.shapley()[0], o.interaction_matrix("SII")[0]

    def enum_one(i: int):
        values = enumerate_game(task.game(i))
        return shapley_values(values), sii_matrix(values)

    def shapiq_one(i: int):
        ec = ExactComputer(task.game(i), n_players=n)
        sv, sii = ec("SV"), ec("SII", order=2)
        return sv.get_n_order_values(1), sii.get_n_order_values(2)

    t_or, t_en, t_sq = [], [], []
    d_en_sv = d_en_sii = d_sq_sv = d_sq_sii = 0.0
    for i in range(n_inst):
        t, (o_sv, o_sii) = best_of(lambda: oracle_one(i), reps_oracle)
        t_or.append(t)
        t, (e_sv, e_sii) = best_of(lambda: enum_one(i), reps_enum)
        t_en.append(t)
        d_en_sv = max(d_en_sv, float(np.abs(o_sv - e_sv).max()))
        d_en_sii = max(d_en_sii, float(np.abs(o_sii - e_sii).max()))
        if i < n_shapiq:
            t, (q_sv, q_sii) = best_of(lambda: shapiq_one(i), 1)
            t_sq.append(t)
            d_sq_sv = max(d_sq_sv, float(np.abs(o_sv - q_sv).max()))
            d_sq_sii = max(d_sq_sii, float(np.abs(o_sii - q_sii).max()))

    def oracle_all(latents: np.ndarray):
        o = plan.oracle(latents)
        return o.shapley(), o.interaction_matrix("SII")

    t_all, _ = best_of(lambda: oracle_all(lat), reps_oracle)
    big = 10000
    big_task = mxbench.generate(spec.with_overrides(instances=big))
    t_big, _ = best_of(lambda: oracle_all(big_task.latents), 3 if quick else 5)

    oracle_1 = float(np.median(t_or))
    enum = float(np.median(t_en))
    shq = float(np.median(t_sq))
    amort = t_all / n_inst
    amort_big = t_big / big

    tab = Table(f"2. Shapley + full SII matrix, {spec.name}: {n} players (2^{n} = {2**n:,} coalitions), "
                f"{n_inst} instances, median over instances of per-instance time")
    tab.add("(a) oracle, built on 1 instance", oracle_1, f"best of {reps_oracle} per instance: "
            + ", ".join(fmt_time(t).strip() for t in t_or))
    tab.add(f"(a) oracle, built on all {n_inst} at once, / {n_inst}", amort, f"best of {reps_oracle}, amortised")
    tab.add(f"(a) oracle, built on {big:,} instances, / {big:,}", amort_big, "same spec, amortised")
    tab.add("(b) enumeration + shapley_values + sii_matrix", enum, f"best of {reps_enum} per instance: "
            + ", ".join(fmt_time(t).strip() for t in t_en))
    tab.add("(c) shapiq ExactComputer SV + SII(order 2)", shq, f"once per instance, {len(t_sq)} instance(s): "
            + ", ".join(fmt_time(t).strip() for t in t_sq))
    r1 = enum / oracle_1
    tab.add("enumeration / oracle (1-instance build: the fair one)", value=f"{r1:,.0f}x",
            note=f"goal >= {GOAL_RATIO:,.0f}x: {verdict(r1 >= GOAL_RATIO)}")
    r2 = enum / amort
    tab.add(f"enumeration / oracle (amortised over {n_inst})", value=f"{r2:,.0f}x",
            note=f"goal >= {GOAL_RATIO:,.0f}x: {verdict(r2 >= GOAL_RATIO)}")
    r3 = enum / amort_big
    tab.add(f"enumeration / oracle (amortised over {big:,})", value=f"{r3:,.0f}x",
            note=f"goal >= {GOAL_RATIO:,.0f}x: {verdict(r3 >= GOAL_RATIO)}")
    tab.add("shapiq / oracle (1-instance build)", value=f"{shq / oracle_1:,.0f}x")
    tab.add(f"shapiq / oracle (amortised over {n_inst})", value=f"{shq / amort:,.0f}x")
    tab.add("shapiq / enumeration", value=f"{shq / enum:,.1f}x")
    tab.add("max |oracle - enumeration|  SV / SII", value=f"{d_en_sv:.1e}", note=f"SII {d_en_sii:.1e}")
    tab.add("max |oracle - shapiq|       SV / SII", value=f"{d_sq_sv:.1e}", note=f"SII {d_sq_sii:.1e}")
    agree = max(d_en_sv, d_en_sii, d_sq_sv, d_sq_sii)
    tab.add("the three agree (max abs diff <= 1e-9)", value="yes" if agree <= 1e-9 else "NO",
            note=f"largest difference {agree:.1e}")
    tab.print()


# --------------------------------------------------------------------------- 3. 256 players


def bench_256(quick: bool) -> None:
    n_inst = 2000 if quick else 10000
    reps = 3 if quick else 5
    t_gen, task = best_of(lambda: mxbench.generate(SPEC_256, instances=n_inst), 1)
    pairs = planted_pairs(task)

    def chain():
        o = task.plan.oracle(task.latents)
        return o, o.shapley(), o.pair_values(pairs, "SII")

    t_build, oracle = best_of(lambda: task.plan.oracle(task.latents), reps)
    t_sv, sv = best_of(oracle.shapley, reps)
    t_sii, sii = best_of(lambda: oracle.pair_values(pairs, "SII"), reps)
    t_chain, (o2, sv2, _) = best_of(chain, reps)
    eff = float(np.abs(sv.sum(axis=1) - (task.f - oracle.empty)).max())
    kinds = {}
    for t in task.terms:
        key = f"{t.kind}{len(t.ids)}"
        kinds[key] = kinds.get(key, 0) + 1

    tab = Table(f"3. {task.spec.name}: {task.n_instances:,} instances x {task.n_players} players, "
                f"{len(task.terms)} terms ({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), "
                f"{len(pairs)} planted pairs")
    tab.add("generate the task", t_gen, "once")
    tab.add("oracle build", t_build, f"best of {reps}")
    tab.add("shapley()", t_sv, f"best of {reps}; output {sv.shape}")
    tab.add("pair_values(planted pairs, 'SII')", t_sii, f"best of {reps}; output {sii.shape}")
    tab.add("oracle total (one timed chain)", t_chain, f"best of {reps}")
    tab.add("per instance (chain / N)", t_chain / task.n_instances, "amortised")
    tab.add("efficiency max|sum SV - (f - v(empty))|", value=f"{eff:.1e}",
            note=f"tolerance {EFFICIENCY_TOL:g}: {'holds' if eff <= EFFICIENCY_TOL else 'FAILS'}")
    tab.print()


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer instances and repeats (a few seconds)")
    args = ap.parse_args(argv)

    from importlib.metadata import version

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"mxbench oracle benchmark{' (--quick)' if args.quick else ''}")
    print(f"machine: {platform.machine()} {platform.processor() or ''}".rstrip()
          + f"; CPUs: os.cpu_count()={os.cpu_count()}, usable={affinity}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, shapiq {version('shapiq')}")
    t0 = time.perf_counter()
    bench_64(args.quick)
    bench_14(args.quick)
    bench_256(args.quick)
    print(f"\ntotal benchmark wall time: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
