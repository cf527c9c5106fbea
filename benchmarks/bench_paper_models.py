"""Benchmark: the trained models at the paper scale (hundreds of players), side by side.

Generates one task of the ``paper`` suite (default ``paper-tab-img-txt``, 292 players: 32 columns,
196 image patches, 64 text tokens), trains each architecture on it with :func:`mxbench.models.train`
as a user would (its large-task defaults: fresh instances every epoch, the architecture's
``large_task_epochs`` and ``large_task_config``), certifies it, and prints for each: epochs run,
seconds to generate, train and certify (wall and CPU: on a machine shared with other work the CPU
seconds divided by the threads are the better guide), the validation R² reached, the certificate's
R² (unmasked, random coalitions), modality-share error, verdict, the per-planted-term Möbius
errors and the per-instance Shapley errors (estimated by permutation sampling at this scale,
with their standard errors).

Goal: each architecture trained and certified within 15 minutes on 2 CPU cores. Measured (one torch
thread, ``paper-tab-img-txt``): the fusion MLP certifies with its large-task default of 1200 epochs
(R² 0.962 under random coalitions, about 40-50 minutes; 0.906 after 200 epochs, 0.946 after 600);
the transformer reaches R² 0.495 after 12 epochs (441 s) and is not certified on a CPU.

Run::

    python benchmarks/bench_paper_models.py                       # both architectures, 2 threads
    python benchmarks/bench_paper_models.py --arch fusion_mlp --epochs 20 --instances 4000
    python benchmarks/bench_paper_models.py --task paper-img-txt --json out.json
    python benchmarks/bench_paper_models.py --device cuda         # only if CUDA is available
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import mxbench
from mxbench.generators.suites import suite_specs
from mxbench.models import train


def run_one(task, arch: str, epochs: int | None, device: str, seed: int, progress: bool = False) -> dict:
    """Train and certify one architecture; the figures as a dict."""
    wall, cpu = time.perf_counter(), time.process_time()
    model = train(task, arch, epochs=epochs, random_state=seed, device=device, certify=False, progress=progress)
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    model.to("cpu")
    wall, cpu = time.perf_counter(), time.process_time()
    cert = model.certify(task)
    cert_wall, cert_cpu = time.perf_counter() - wall, time.process_time() - cpu
    terms = np.array(cert.term_errors)
    return {"arch": arch, "epochs": len(model.history), "epoch_limit": model.settings["epochs"],
            "fresh": bool(model.settings.get("fresh", False)), "config": model.config,
            "train_s": train_wall, "train_cpu_s": train_cpu, "certify_s": cert_wall, "certify_cpu_s": cert_cpu,
            "val_r2": max(h["val_r2"] for h in model.history),
            "r2_unmasked": cert.r2_unmasked, "r2_random": cert.r2_random, "share_error": cert.share_error,
            "passed": cert.passed, "term_error_median": float(np.median(terms)), "term_error_max": float(terms.max()),
            "terms_below_0.2": int((terms < 0.2).sum()), "terms": len(terms),
            "shapley_method": cert.shapley_method, "shapley_permutations": cert.shapley_permutations,
            "shapley_instances": len(cert.shapley_errors or []), "shapley_error": cert.shapley_error,
            "shapley_se_max": max(cert.shapley_standard_errors) if cert.shapley_standard_errors else None,
            "instance_share_error": cert.instance_share_error,
            "val_r2_by_epoch": [round(h["val_r2"], 4) for h in model.history]}


def show(results: list[dict]) -> None:
    """Print the figures side by side, one column per architecture."""
    def q(d, k):
        return "-" if d is None else f"{d[k]:.3f}"

    rows = [("epochs (limit)", lambda r: f"{r['epochs']} ({r['epoch_limit']})"),
            ("fresh instances", lambda r: "yes" if r["fresh"] else "no"),
            ("train s (cpu s)", lambda r: f"{r['train_s']:.0f} ({r['train_cpu_s']:.0f})"),
            ("certify s (cpu s)", lambda r: f"{r['certify_s']:.0f} ({r['certify_cpu_s']:.0f})"),
            ("best val R² (masked)", lambda r: f"{r['val_r2']:.4f}"),
            ("R² unmasked", lambda r: f"{r['r2_unmasked']:.4f}"),
            ("R² random coalitions (>= 0.95)", lambda r: f"{r['r2_random']:.4f}"),
            ("share error (<= 0.05)", lambda r: f"{r['share_error']:.4f}"),
            ("certified", lambda r: "yes" if r["passed"] else "NO"),
            ("term Möbius error median / max", lambda r: f"{r['term_error_median']:.3f} / {r['term_error_max']:.3f}"),
            ("terms with error < 0.2", lambda r: f"{r['terms_below_0.2']} of {r['terms']}"),
            ("Shapley error median", lambda r: q(r["shapley_error"], "median")),
            ("Shapley error p90", lambda r: q(r["shapley_error"], "p90")),
            ("Shapley error max", lambda r: q(r["shapley_error"], "max")),
            ("  method, instances", lambda r: f"{r['shapley_method']} x{r['shapley_permutations']}, "
                                              f"{r['shapley_instances']}"),
            ("  largest standard error", lambda r: "-" if r["shapley_se_max"] is None else f"{r['shapley_se_max']:.3f}"),
            ("share error per instance median / max",
             lambda r: f"{q(r['instance_share_error'], 'median')} / {q(r['instance_share_error'], 'max')}")]
    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  " + "  ".join(f"{r['arch']:>22}" for r in results))
    for name, fn in rows:
        print(f"{name:{width}}  " + "  ".join(f"{fn(r):>22}" for r in results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [s.name for s in suite_specs("paper")]
    parser.add_argument("--task", default="paper-tab-img-txt", choices=names, help="a task of the paper suite")
    parser.add_argument("--instances", type=int, default=None, help="instances to generate (default: the spec's)")
    parser.add_argument("--arch", action="append", choices=["fusion_mlp", "transformer"],
                        help="architecture (repeatable; default: both)")
    parser.add_argument("--epochs", type=int, default=None, help="epoch limit (default: train's large-task default)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="train on CUDA if it is available (falls back to the CPU otherwise)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--progress", action="store_true", help="show each epoch's validation R² on stderr")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available: running on the CPU")
        device = "cpu"
    spec = next(s for s in suite_specs("paper") if s.name == args.task)
    start = time.perf_counter()
    task = mxbench.generate(spec, instances=args.instances)
    gen_s = time.perf_counter() - start
    print(f"task {task.spec.name}: {task.n_players} players, {task.n_instances} instances, "
          f"{len(task.plan.terms)} planted terms; generated in {gen_s:.1f} s; {args.threads} torch threads, {device}")
    results = []
    for arch in args.arch or ["fusion_mlp", "transformer"]:
        results.append(run_one(task, arch, args.epochs, device, args.seed, args.progress))
        print(f"{arch}: {results[-1]['epochs']} epochs, {results[-1]['train_s']:.0f} s training, "
              f"val R² {results[-1]['val_r2']:.4f}", flush=True)
    show(results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"task": task.spec.name, "players": task.n_players, "instances": task.n_instances,
                       "threads": args.threads, "device": device, "generate_s": gen_s, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
