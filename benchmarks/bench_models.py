"""Benchmark: training time and certificate of each architecture, and the model-game overhead.

For every architecture and every smoke task (and one standard task unless ``--quick``):
train under masking with the default settings, then print the training seconds, epochs,
and the certificate (R² under random coalitions, the largest modality-share error,
certified or not). Then, for each architecture on one task, time ``model.game(task, i)`` on
a batch of random coalitions against a raw batched forward pass of the same masked inputs
already in tensors; the ratio is the game's overhead (masking, conversion, counting).

Goals: every architecture certified on every smoke task; smoke training on one core under
30 s per model for fusion_mlp and transformer and under 60 s per task for fl_i2moe (its ``M + 2``
experts each run ``1 + M`` passes, the knock-outs on a sub-batch: ``TRAIN_GOAL_SECONDS``); game
overhead under 10%.

Run::

    python benchmarks/bench_models.py            # smoke + one standard task
    python benchmarks/bench_models.py --quick    # smoke only
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import mxbench
from mxbench.generators.suites import suite_specs
from mxbench.models import train
from mxbench.models.common import ARCHITECTURES, to_tensors

#: The smoke training goal of each architecture, in seconds on one core (default: 30).
TRAIN_GOAL_SECONDS = {"fusion_mlp": 30.0, "transformer": 30.0, "fl_i2moe": 60.0}


def overhead(model, task, batch: int = 4096, repeats: int = 21) -> tuple[float, float]:
    """Median seconds of the game and of the raw forward pass on the same inputs.

    The two are timed alternately, ``repeats`` times each, so a slow spell of the machine
    hits both alike; the fusion MLP's forward pass takes only about 20 ms, where a few
    milliseconds of noise would otherwise decide the verdict.
    """
    rng = np.random.default_rng(0)
    coal = rng.random((batch, task.n_players)) < 0.5
    game = model.game(task, 0, batch_size=batch)
    raw = {k: np.broadcast_to(v[0], (batch,) + v.shape[1:]) for k, v in task.inputs.items()}
    x = to_tensors(task.plan.mask(raw, coal), model.device)
    game_s, raw_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        game(coal)
        game_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        with torch.no_grad():
            model.module(x)
        raw_s.append(time.perf_counter() - start)
    return float(np.median(game_s)), float(np.median(raw_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke suite only")
    parser.add_argument("--archs", default=",".join(ARCHITECTURES), help="comma-separated architectures")
    args = parser.parse_args()
    # one thread per model: these models are too small for intra-op parallelism to pay (two
    # threads ran them slower), and the runner trains one model per core in parallel
    torch.set_num_threads(1)
    tasks = mxbench.generate("smoke")
    if not args.quick:
        spec = next(s for s in suite_specs("standard") if s.name == "tab-img-16-lo")
        tasks.append(mxbench.generate(spec))
    archs = args.archs.split(",")
    print(f"mxbench bench_models: {os.cpu_count()} CPUs, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'arch':<12} {'task':<18} {'players':>7} {'seconds':>8} {'epochs':>6} {'R2 random':>9} "
          f"{'share err':>9} {'certified':>9}")
    results, models = [], {}
    for arch in archs:
        for task in tasks:
            model = train(task, arch, random_state=0)
            c = model.certificate
            results.append((arch, task.spec.name, model.seconds, c.passed))
            models.setdefault(arch, (model, task))
            print(f"{arch:<12} {task.spec.name:<18} {task.n_players:>7} {model.seconds:>8.1f} {len(model.history):>6} "
                  f"{c.r2_random:>9.4f} {c.share_error:>9.4f} {'yes' if c.passed else 'NO':>9}", flush=True)
    print()
    print(f"{'arch':<12} {'game s':>9} {'raw forward s':>13} {'overhead':>9}")
    worst = 0.0
    for arch, (model, task) in models.items():
        g, r = overhead(model, task)
        worst = max(worst, g / r - 1)
        print(f"{arch:<12} {g:>9.4f} {r:>13.4f} {100 * (g / r - 1):>8.1f}%")
    smoke = [r for r in results if r[1].startswith("smoke")]
    print()
    print(f"certified on every smoke task: {all(r[3] for r in smoke)} "
          f"({sum(r[3] for r in smoke)}/{len(smoke)}); all tasks: {sum(r[3] for r in results)}/{len(results)}")
    for arch in archs:
        goal = TRAIN_GOAL_SECONDS.get(arch, 30.0)
        slowest = max(r[2] for r in smoke if r[0] == arch)
        print(f"smoke training, {arch}, slowest task: {slowest:.1f} s -> goal < {goal:.0f} s on one core: "
              f"{'met' if slowest < goal else 'MISSED'}")
    print(f"game overhead, worst: {100 * worst:.1f}% -> goal < 10%: {'met' if worst < 0.10 else 'MISSED'}")


if __name__ == "__main__":
    main()
