"""Benchmark: generating a standard task straight to Parquet, against pyarrow writing the same tables.

For each instance count, a fresh child process runs ``mxbench.write_dataset`` on the
standard suite's 64-player task (render + decode + exact oracle + six Parquet tables,
streamed block by block) and records its wall time and its peak resident memory. The
same child then reads the tables it wrote back into memory and times pyarrow writing them
again with the same options and row-group sizes: the pure write, the floor any Parquet
writer pays. The ratio of the two is the cost of generating the data and its truth.

Goals: at most 2x the pure write; memory flat as instances grow.

Sharded mode (``--shards K``): 10^6 instances of a smoke-sized task (``smoke-img-txt``, 14
players, a 12 x 12 image and 5 tokens) written in ``K`` shards, first in one process (the
shards one after the other), then on a local Dask cluster of 1 and of 2 single-threaded
worker processes (``--workers``), or on a running cluster (``--scheduler ADDRESS``). Each run
is a fresh child process; the cluster is started and its workers import mxbench before the
clock starts. It reports the
throughput, the speed-up of 2 workers over 1, the peak resident memory of the client and of
each worker, and checks that every run wrote byte-identical files.

Run::

    python benchmarks/bench_generate.py            # 50,000 and 200,000 instances
    python benchmarks/bench_generate.py --quick    # 10,000 and 40,000
    python benchmarks/bench_generate.py --shards 16                      # 10^6 instances: here, 1 and 2 workers
    python benchmarks/bench_generate.py --shards 16 --scheduler tcp://host:8786
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

TASK = "tab-img-txt-64-lo"
SHARD_TASK = "smoke-img-txt"


def child(n: int, folder: str) -> dict:
    import pyarrow.parquet as pq

    import mxbench
    from mxbench.data.schema import TABLES
    from mxbench.data.writer import PARQUET_OPTIONS
    from mxbench.generators.suites import suite_specs
    from mxbench.task import BLOCK

    spec = next(s for s in suite_specs("standard") if s.name == TASK)
    out = os.path.join(folder, "gen")
    start = time.perf_counter()
    mxbench.write_dataset(spec, out, instances=n)
    generate = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB, Linux reports KiB
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))

    tables = {t: pq.read_table(os.path.join(out, f"{t}.parquet")) for t in TABLES}
    pure_dir = os.path.join(folder, "pure")
    os.mkdir(pure_dir)
    start = time.perf_counter()
    for name, table in tables.items():
        per_instance = max(1, table.num_rows // n) if name != "players" else table.num_rows
        pq.write_table(table, os.path.join(pure_dir, f"{name}.parquet"), row_group_size=BLOCK * per_instance,
                       **PARQUET_OPTIONS)
    pure = time.perf_counter() - start
    return {"n": n, "generate_s": generate, "pure_write_s": pure, "peak_mib": peak, "disk_mib": size / 2**20,
            "players": spec.n_players}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB, Linux reports KiB


def _cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def shard_child(n: int, shards: int, scheduler: str | None, folder: str) -> dict:
    """One sharded generation in this process, or on ``scheduler`` (a cluster started before the clock)."""
    import hashlib

    import mxbench
    from mxbench.cluster import dask_client
    from mxbench.generators.suites import suite_specs

    spec = next(s for s in suite_specs("smoke") if s.name == SHARD_TASK)
    out = os.path.join(folder, "gen")
    workers: list[float] = []
    worker_cpu = 0.0
    started = time.perf_counter()
    load = os.getloadavg()[0]
    if scheduler is None:
        cpu = _cpu_s(resource.getrusage(resource.RUSAGE_SELF))
        start = time.perf_counter()
        mxbench.write_dataset(spec, out, instances=n, shards=shards)
        seconds = time.perf_counter() - start
    else:
        with dask_client(scheduler) as client:
            client.wait_for_workers(1)
            n_workers = len(client.nthreads())
            client.run(importlib.import_module, "mxbench.data.writer")  # the workers' imports, before the clock
            before = client.run(resource.getrusage, resource.RUSAGE_SELF)
            cpu = _cpu_s(resource.getrusage(resource.RUSAGE_SELF))
            start = time.perf_counter()
            mxbench.write_dataset(spec, out, instances=n, shards=shards, scheduler=client.scheduler.address)
            seconds = time.perf_counter() - start
            usage = client.run(resource.getrusage, resource.RUSAGE_SELF)
            workers = sorted(u.ru_maxrss / 1024 for u in usage.values())
            worker_cpu = sum(_cpu_s(u) - _cpu_s(before[w]) for w, u in usage.items() if w in before)
    cpu = _cpu_s(resource.getrusage(resource.RUSAGE_SELF)) - cpu
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    digest = hashlib.sha256(json.dumps({k: v["sha256"] for k, v in manifest["files"].items()},
                                       sort_keys=True).encode()).hexdigest()
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    return {"n": n, "shards": shards, "scheduler": scheduler, "seconds": seconds, "client_peak_mib": _peak_mib(),
            "client_cpu_s": cpu, "worker_cpu_s": worker_cpu, "load_before": load, "load_after": os.getloadavg()[0],
            "worker_peak_mib": workers, "files_sha256": digest, "disk_mib": size / 2**20,
            "workers": 0 if scheduler is None else n_workers, "setup_s": start - started}


def shards_main(args: argparse.Namespace) -> None:
    runs: list[str | None] = [None]
    runs += [args.scheduler] if args.scheduler else [f"local:{w}" for w in args.workers.split(",")]
    print(f"mxbench bench_generate --shards {args.shards}: task {SHARD_TASK}, {args.instances:,} instances, "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    rows = []
    for scheduler in runs:
        folder = tempfile.mkdtemp(prefix="mxbench-bench-")
        try:
            doc = json.dumps({"n": args.instances, "shards": args.shards, "scheduler": scheduler, "folder": folder})
            result = subprocess.run([sys.executable, __file__, "--shard-child", doc], check=True, capture_output=True,
                                    text=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{'where':>14} {'workers':>7} {'wall s':>7} {'inst/s':>8} {'client CPU s':>12} {'worker CPU s':>12} "
          f"{'client MiB':>10} {'worker peak MiB':>15} {'disk MiB':>8} {'load':>9}")
    for r in rows:
        peaks = ", ".join(f"{m:.0f}" for m in r["worker_peak_mib"]) or "-"
        print(f"{r['scheduler'] or 'this process':>14} {r['workers']:>7} {r['seconds']:>7.1f} "
              f"{r['n'] / r['seconds']:>8,.0f} {r['client_cpu_s']:>12.1f} {r['worker_cpu_s']:>12.1f} "
              f"{r['client_peak_mib']:>10.0f} {peaks:>15} {r['disk_mib']:>8.0f} "
              f"{r['load_before']:>4.1f}-{r['load_after']:<4.1f}")
    print("load: the 1-minute load average before and after the run (above the CPU count, the wall times are "
          "shared with other work)")
    same = len({r["files_sha256"] for r in rows}) == 1
    print(f"files byte-identical across the runs: {'yes' if same else 'NO'}")
    by_workers = {r["workers"]: r for r in rows if r["scheduler"] and r["scheduler"].startswith("local:")}
    if 1 in by_workers and 2 in by_workers:
        print(f"throughput 2 workers / 1 worker: {by_workers[1]['seconds'] / by_workers[2]['seconds']:.2f}x")
    if not same:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 and 40,000 instances")
    parser.add_argument("--shards", type=int, help="the sharded mode: write the task in this many shards")
    parser.add_argument("--scheduler", help="with --shards: a Dask scheduler's address (default: local:1 and local:2)")
    parser.add_argument("--workers", default="1,2", help="with --shards: the local cluster sizes (default 1,2)")
    parser.add_argument("--instances", type=int, default=1_000_000, help="with --shards: instances (default 10^6)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--shard-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
        return
    if args.shard_child:
        doc = json.loads(args.shard_child)
        print(json.dumps(shard_child(doc["n"], doc["shards"], doc["scheduler"], doc["folder"])))
        return
    if args.shards:
        shards_main(args)
        return

    sizes = (10_000, 40_000) if args.quick else (50_000, 200_000)
    print(f"mxbench bench_generate: task {TASK}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    rows = []
    for n in sizes:
        folder = tempfile.mkdtemp(prefix="mxbench-bench-")
        try:
            result = subprocess.run([sys.executable, __file__, "--child", str(n), "--folder", folder],
                                    check=True, capture_output=True, text=True)
            rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{'instances':>10} {'players':>7} {'generate+write s':>17} {'pure write s':>13} {'ratio':>6} "
          f"{'peak MiB':>9} {'disk MiB':>9}")
    for r in rows:
        print(f"{r['n']:>10,} {r['players']:>7} {r['generate_s']:>17.2f} {r['pure_write_s']:>13.2f} "
              f"{r['generate_s'] / r['pure_write_s']:>6.2f} {r['peak_mib']:>9.0f} {r['disk_mib']:>9.0f}")
    worst = max(r["generate_s"] / r["pure_write_s"] for r in rows)
    growth = rows[-1]["peak_mib"] / rows[0]["peak_mib"]
    print(f"generate / pure write (worst): {worst:.2f}x  -> goal <= 2x: {'met' if worst <= 2 else 'MISSED'}")
    print(f"peak memory {rows[-1]['n']:,} / {rows[0]['n']:,} instances: {growth:.2f}x for "
          f"{rows[-1]['n'] / rows[0]['n']:.0f}x the data -> goal flat (<= 1.25x): {'met' if growth <= 1.25 else 'MISSED'}")


if __name__ == "__main__":
    main()
