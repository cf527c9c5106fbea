"""Benchmark: generating a standard task straight to Parquet, against pyarrow writing the same tables.

For each instance count, a fresh child process runs ``mxbench.write_dataset`` on the
standard suite's 64-player task (render + decode + exact oracle + six Parquet tables,
streamed block by block) and records its wall time and its peak resident memory. The
same child then reads the tables it wrote back into memory and times pyarrow writing them
again with the same options and row-group sizes: the pure write, the floor any Parquet
writer pays. The ratio of the two is the cost of generating the data and its truth.

Goals: at most 2x the pure write; memory flat as instances grow.

Run::

    python benchmarks/bench_generate.py            # 50,000 and 200,000 instances
    python benchmarks/bench_generate.py --quick    # 10,000 and 40,000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

TASK = "tab-img-txt-64-lo"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 and 40,000 instances")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder)))
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
