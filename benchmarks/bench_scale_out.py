"""Benchmark: the validation grid on a Dask cluster against the local process pool.

On this machine, side by side in one run, the same grid (the smoke suite: three tasks, the
planted game, the ``exact`` model and one trained ``fusion_mlp``, four black-box explainers at
two budgets, a handful of metrics) through:

- the local pool (``validate(..., n_jobs=W)``, loky) with W = 1 and 2 processes;
- a Dask ``LocalCluster`` of W = 1 and 2 single-threaded worker processes
  (``validate(..., scheduler=client)``), the cluster started once per W and timed apart.

Each engine runs the grid twice, each time with a fresh model cache (so the models are trained
both times): *cold* (the first run: the workers import torch and the explainers) and *warm*.
Printed per run: wall seconds, jobs, units (one (task, model, explainer) each), units per second
and per second per worker, the Dask overhead against the local pool of the same width, the bytes
the Dask workers fetched from each other, and the peak resident memory of each worker process.
Then what crosses the wire (pickled task, a unit's arguments without the task, a unit's result,
a model truth, a model folder), and a projection of a 10^4-unit grid onto a cluster of K workers
from the measured per-worker rate.

Sharded generation of a 10^6-instance task on the cluster (``--generate N``) is a separate,
clearly marked part (:func:`generate_sharded`): it runs only when ``mxbench.write_dataset`` takes
``shards`` and ``scheduler``.

Usage::

    python benchmarks/bench_scale_out.py [--instances 4] [--workers 1,2] [--units 10000] [--k 8,32,128,512]
    python benchmarks/bench_scale_out.py --generate 1000000 --shards 16     # sharded generation too
"""

from __future__ import annotations

import argparse
import inspect
import os
import pickle
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import mxbench
from mxbench.bench import runner
from mxbench.cluster import dask_client

GRID = dict(models=["planted", "exact", "fusion_mlp"], explainers=["kernelshap", "lime", "permutation", "lemon"],
            budgets=[64, 256], metrics=["auroc", "shapley_error", "modality_share_error", "efficiency", "n_queries",
                                        "seconds"],
            train_options={"epochs": 2, "certify": False})


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (run on each Dask worker by ``client.run``).

    ``VmHWM`` where Linux has it: ``ru_maxrss`` survives ``exec``, so a spawned worker would
    report its parent's peak."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_transfer_bytes(dask_worker: Any) -> int:
    """Bytes this Dask worker has fetched from other workers (its incoming transfer log)."""
    return int(sum(entry.get("total", 0) for entry in dask_worker.transfer_incoming_log))


def _pool_peaks_mb() -> list[float]:
    """Peak resident memory (MB, VmHWM) of this process's child processes: the loky workers."""
    try:
        import psutil
    except ImportError:
        return []
    peaks = []
    for child in psutil.Process().children(recursive=True):
        try:
            if not any("popen_loky" in part for part in child.cmdline()):
                continue  # loky's resource tracker, not a worker
            with open(f"/proc/{child.pid}/status") as f:
                peaks += [int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:")]
        except (OSError, psutil.Error):
            pass
    return peaks


class _Counter:
    """Counts the jobs and units of each ``_run_jobs`` call (wrapped around the runner's)."""

    def __init__(self) -> None:
        self.jobs = self.units = 0
        self._run = runner._run_jobs

    def __call__(self, jobs, n_jobs, bar=None, client=None):
        self.jobs = len(jobs)
        self.units = sum(1 for job in jobs if job[0][0] == "unit")
        return self._run(jobs, n_jobs, bar, client=client)


def one_run(tasks: list, instances: int, *, n_jobs: int = 1, client: Any = None) -> dict[str, Any]:
    """One grid run with a fresh model cache; wall seconds, counts and the results frame."""
    counter = _Counter()
    runner._run_jobs = counter
    cache = tempfile.mkdtemp(prefix="bench-scale-out-")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            frame = runner.validate(tasks, instances=instances, cache_dir=cache, n_jobs=n_jobs, scheduler=client,
                                    progress=False, **GRID)
            seconds = time.perf_counter() - start
    finally:
        runner._run_jobs = counter._run
        shutil.rmtree(cache, ignore_errors=True)
    return {"seconds": seconds, "jobs": counter.jobs, "units": counter.units, "frame": frame}


def noop_overhead(n: int, n_jobs: int = 1, client: Any = None) -> float:
    """Milliseconds per job of ``n`` trivial jobs (half of them receiving another's result) through an engine."""
    jobs = [((i,), abs, (-i,) if i % 2 == 0 else (runner._Result((i - 1,)),), ()) for i in range(n)]
    runner._run_jobs(jobs[:10], n_jobs, client=client)  # the workers started and warm
    start = time.perf_counter()
    done = runner._run_jobs(jobs, n_jobs, client=client)
    assert done[(n - 1,)] == n - 2
    return (time.perf_counter() - start) / n * 1e3


def wire_sizes(tasks: list, instances: int) -> dict[str, float]:
    """Pickled sizes (kB) of what the jobs carry: a task, a unit's other arguments, its result, a truth, a model."""
    task = tasks[0]
    sizes = {f"task {t.spec.name}": len(pickle.dumps(t)) / 1e3 for t in tasks}
    sizes.update({f"  at its full {t.n_instances} instances": len(pickle.dumps(t)) / 1e3
                  for t in mxbench.generate("smoke")[:1]})
    specs = runner.explainer_specs(GRID["explainers"])
    units = runner._unit_jobs("bench", [task], ["exact"], specs, GRID["budgets"], (0,), instances, GRID["metrics"],
                              Path("cache"), {}, ())
    unit = next(job for job in units if job[0][0] == "unit")
    truth = next(job for job in units if job[0][0] == "truth")
    sizes["unit arguments without the task"] = len(pickle.dumps(tuple(a for a in unit[2] if a is not task))) / 1e3
    mtruth = runner.model_truths(task, "exact", None, [truth[0][-1]])
    sizes["one model truth (one instance)"] = len(pickle.dumps(mtruth)) / 1e3
    args = list(unit[2])
    args[8] = (mtruth,) * len(args[8])
    sizes["unit result (frame)"] = len(pickle.dumps(runner._run_unit(*args))) / 1e3
    with tempfile.TemporaryDirectory() as d:
        from mxbench.models import train

        train(task, "fusion_mlp", epochs=1, certify=False).save(Path(d) / "m")
        sizes["model folder (fusion_mlp)"] = sum(p.stat().st_size for p in (Path(d) / "m").iterdir()) / 1e3
    return sizes


# ------------------------------------------------------------------------------------------------
# Sharded generation of a 10^6-instance task on the cluster (separate; --generate N)
# ------------------------------------------------------------------------------------------------
def generate_sharded(instances: int, shards: int, scheduler: Any) -> None:
    """Write one smoke task of ``instances`` instances as ``shards`` shards generated on ``scheduler``.

    Runs only when :func:`mxbench.write_dataset` takes ``shards`` and ``scheduler`` (checked
    with :func:`inspect.signature`); otherwise says it is not available.
    """
    params = inspect.signature(mxbench.write_dataset).parameters
    if not {"shards", "scheduler"} <= set(params):
        print(f"\nsharded generation: not available (mxbench.write_dataset takes no "
              f"{' / '.join(p for p in ('shards', 'scheduler') if p not in params)})")
        return
    from mxbench.generators.suites import suite_specs

    spec = suite_specs("smoke")[0]
    with tempfile.TemporaryDirectory(prefix="bench-shards-") as d:
        start = time.perf_counter()
        out = mxbench.write_dataset(spec, Path(d) / "task", instances=instances, shards=shards, scheduler=scheduler)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    print(f"\nsharded generation: {instances} instances of {spec.name} in {shards} shards on {scheduler!r}: "
          f"{seconds:.1f} s ({instances / seconds:,.0f} instances/s), {size / 1e6:.1f} MB written")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=4, help="test instances per task (default 4)")
    parser.add_argument("--workers", default="1,2", help="widths to compare (default 1,2)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per engine, the fastest kept (default 3)")
    parser.add_argument("--noop", type=int, default=1000, help="trivial jobs for the per-job overhead (default 1000)")
    parser.add_argument("--units", type=int, default=10_000, help="units of the projected grid (default 10^4)")
    parser.add_argument("--k", default="8,32,128,512", help="cluster sizes of the projection")
    parser.add_argument("--generate", type=int, default=0, help="also generate a task of N instances, sharded")
    parser.add_argument("--shards", type=int, default=16, help="shards of --generate (default 16)")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.workers.split(",")]
    tasks = mxbench.generate("smoke", instances=256)
    print(f"grid: smoke ({len(tasks)} tasks of {tasks[0].n_instances} instances), models {GRID['models']}, explainers {GRID['explainers']}, budgets "
          f"{GRID['budgets']}, {args.instances} instances, {len(GRID['metrics'])} metrics; {os.cpu_count()} cores\n")
    rows, frames, noop = [], {}, {}

    def best(runs: list[dict]) -> dict:  # the fastest warm run; the median beside it
        runs = sorted(runs, key=lambda r: r["seconds"])
        return {**runs[0], "median": runs[len(runs) // 2]["seconds"]}

    for w in widths:
        for phase in ("cold", "warm"):
            runs = [one_run(tasks, args.instances, n_jobs=w) for _ in range(1 if phase == "cold" else args.repeat)]
            for k, r in enumerate(runs):
                frames[("local", w, phase, k)] = r.pop("frame")
            peak = [peak_rss_mb()] if w == 1 else _pool_peaks_mb()  # W = 1 runs in this process
            rows.append({"engine": "local pool", "W": w, "phase": phase, **best(runs), "peak": peak, "fetched": 0})
        noop[("local pool", w)] = noop_overhead(args.noop, n_jobs=w)
        start = time.perf_counter()
        with dask_client(f"local:{w}") as client:
            started = time.perf_counter() - start
            for phase in ("cold", "warm"):
                before = sum(client.run(worker_transfer_bytes).values())
                runs = [one_run(tasks, args.instances, client=client)
                        for _ in range(1 if phase == "cold" else args.repeat)]
                fetched = (sum(client.run(worker_transfer_bytes).values()) - before) / len(runs)
                for k, r in enumerate(runs):
                    frames[("dask", w, phase, k)] = r.pop("frame")
                rows.append({"engine": "dask", "W": w, "phase": phase, **best(runs), "fetched": fetched,
                             "peak": list(client.run(peak_rss_mb).values())})
            noop[("dask", w)] = noop_overhead(args.noop, client=client)
        print(f"dask LocalCluster of {w} worker(s) started in {started:.1f} s (not in the runs below)")
    print(f"\n(cold: the first run, workers starting; warm: the fastest of {args.repeat} runs, median beside it; "
          f"every run trains its models afresh)")
    print(f"{'engine':<11} {'W':>2} {'phase':<5} {'seconds':>8} {'median':>7} {'jobs':>5} {'units':>5} {'units/s':>8} "
          f"{'units/s/worker':>14} {'overhead':>9} {'fetched kB':>10}  peak MB per worker")
    local = {(r["W"], r["phase"]): r["seconds"] for r in rows if r["engine"] == "local pool"}
    for r in rows:
        rate = r["units"] / r["seconds"]
        over = "" if r["engine"] != "dask" else f"{r['seconds'] / local[(r['W'], r['phase'])] - 1:+.0%}"
        peaks = ", ".join(f"{p:.0f}" for p in r["peak"]) or "-"
        print(f"{r['engine']:<11} {r['W']:>2} {r['phase']:<5} {r['seconds']:>8.2f} {r['median']:>7.2f} "
              f"{r['jobs']:>5} {r['units']:>5} "
              f"{rate:>8.2f} {rate / r['W']:>14.2f} {over:>9} {r['fetched'] / 1e3:>10.1f}  {peaks}")
    warm = {(r["engine"], r["W"]): r for r in rows if r["phase"] == "warm"}
    if ("dask", 1) in warm and ("dask", 2) in warm:
        ratio = warm[("dask", 1)]["seconds"] / warm[("dask", 2)]["seconds"]
        print(f"\nthroughput, dask 2 workers / 1 worker (warm): {ratio:.2f}x (ideal 2x; this machine has "
              f"{os.cpu_count()} cores, shared)")
    print(f"engine overhead per job ({args.noop} trivial jobs, half receiving another's result): "
          + ", ".join(f"{e} W={w} {ms:.2f} ms" for (e, w), ms in noop.items()))
    sizes = wire_sizes(tasks, args.instances)
    scattered = sum(kb for name, kb in sizes.items() if name.startswith("task "))
    # the same results on every engine, seconds aside
    keys = ["task", "instance", "model", "truth", "explainer", "budget", "seed", "metric"]
    ref = next(iter(frames.values()))
    ref = ref[ref["metric"] != "seconds"].sort_values(keys).reset_index(drop=True)
    for name, frame in frames.items():
        f = frame[frame["metric"] != "seconds"].sort_values(keys).reset_index(drop=True)
        same = f[keys].equals(ref[keys])
        diff = float((f["value"] - ref["value"]).abs().max()) if same else float("nan")
        print(f"same rows as the first run: {'yes' if same else 'NO'}, {len(f)} rows, max |difference| {diff:.3g}"
              f"  ({name[0]}, W={name[1]}, {name[2]} {name[3] + 1})")
    print("\nwhat crosses the wire (pickled, kB):")
    for name, kb in sizes.items():
        print(f"  {name:<36} {kb:>9.1f}")
    units = rows[0]["units"]
    print(f"  the tasks, scattered once per worker: {scattered:.0f} kB x W; sent with every unit instead: "
          f"{scattered / len(tasks) * units:.0f} kB for the {units} units")
    # projection: the per-worker rate of the widest warm Dask run (training and truths included,
    # as they come with units), the cluster's start, and the scheduler's per-job cost, serial
    w = max(widths)
    top = warm[("dask", w)]
    per_unit = top["seconds"] * w / top["units"]  # worker-seconds per unit
    per_job = noop[("dask", w)] / 1e3  # seconds of scheduler and client time per job, not parallel
    jobs = args.units * top["jobs"] / top["units"]
    print(f"\nprojection of a {args.units:,}-unit grid of units like these ({jobs:,.0f} jobs with training and "
          f"truths): {per_unit:.2f} worker-seconds per unit (dask, {w} workers, warm), {per_job * 1e3:.2f} ms per job "
          f"of scheduling (serial), {started:.0f} s to start; perfect spreading assumed:")
    for k in [int(k) for k in args.k.split(",")]:
        t = started + args.units * per_unit / k + jobs * per_job
        print(f"  K = {k:>4} workers: {t / 60:8.1f} min  ({args.units / t:,.0f} units/s)")
    print("  (paper-scale units, 244-1000 players, take far longer each: scale by their worker-seconds per unit)")
    if args.generate:
        generate_sharded(args.generate, args.shards, f"local:{max(widths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
