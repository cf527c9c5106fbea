"""Write tasks and suites to Parquet: streamed block by block, atomically, byte-for-byte reproducible."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mxbench.data.card import dataset_card
from mxbench.data.schema import (BIT_ORDER, CARD, FORMAT, MANIFEST, SCHEMA_VERSION, SUITE_FORMAT, SUITE_MANIFEST,
                                 TABLES, schema_of)
from mxbench.errors import DatasetError
from mxbench.spec import TaskSpec, canonical_json
from mxbench.task import SPLITS, Block, TaskPlan

PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True}


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "x")
    >>> _ = open(f, "wb").write(b"abc")
    >>> sha256_file(f)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def atomic_dir(out: str | Path, overwrite: bool = False,
               markers: tuple[str, ...] = ("manifest.json", "suite.json")) -> Iterator[Path]:
    """Yield a temporary folder beside ``out`` that becomes ``out`` only if the block succeeds.

    On any error the temporary folder is removed and ``out`` is left as it was.

    Parameters
    ----------
    out : str or Path
        The folder to create (its parent folders are created as needed).
    overwrite : bool
        Replace ``out`` if it exists (otherwise that is an error); only a folder that is
        empty or holds one of ``markers`` is replaced.
    markers : tuple of str
        The files that mark a folder as mxbench's output.

    Yields
    ------
    Path
        The temporary folder to write into.

    Raises
    ------
    DatasetError
        ``out`` exists and ``overwrite`` is False, or its parent folder cannot be written.

    Examples
    --------
    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "ds")
    >>> with atomic_dir(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(os.listdir(out))
    ['a.txt']
    """
    out = Path(out)
    try:
        exists = out.exists() or out.is_symlink()
        here = Path.cwd().resolve()
        target = out.resolve()
    except OSError as e:
        raise DatasetError(f"out: unusable path {str(out)!r}: {e.strerror}") from None
    if exists:
        if not overwrite:
            raise DatasetError(f"out: {str(out)!r} already exists (choose another folder or overwrite it)")
        if target == here or target in here.parents:
            raise DatasetError(f"out: {str(out)!r} is or contains the current folder; it cannot be overwritten")
        if not out.is_dir() or (any(out.iterdir()) and not any((out / m).is_file() for m in markers)):
            raise DatasetError(f"out: {str(out)!r} exists and holds none of {', '.join(markers)}: it is not "
                               "mxbench's output; refusing to overwrite it")
    parent = target.parent
    created = parent  # the highest folder this call creates, removed again on failure
    while not created.parent.exists():
        created = created.parent
    made_parent = not parent.exists()
    tmp = old = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".mxbench-tmp-", dir=parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a dataset is for sharing
        yield tmp
        if exists:
            old = Path(tempfile.mkdtemp(prefix=".mxbench-old-", dir=parent))
            os.rename(target, old / "previous")
        os.rename(tmp, target)
        tmp = None
    except BaseException as e:
        if old is not None and (old / "previous").exists() and not target.exists():
            os.rename(old / "previous", target)  # put the previous dataset back
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if made_parent:
            shutil.rmtree(created, ignore_errors=True)
        if isinstance(e, OSError) and not isinstance(e, DatasetError):
            raise DatasetError(f"out: cannot write {str(out)!r}: {e.strerror or e}") from None
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _fixed_list(values: np.ndarray, pa_type: pa.DataType) -> pa.Array:
    flat = np.ascontiguousarray(values).reshape(len(values), -1)
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), flat.shape[1])


def _strings(values: Any, indices: np.ndarray) -> pa.Array:
    """The string column ``values[indices]``, built in Arrow from a dictionary."""
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(list(values))).cast(pa.string())


class _TableWriters:
    """One streaming ParquetWriter per table, a row group per block.

    Parquet encoding and compression run on one background thread (pyarrow releases the
    GIL) while the next block is generated; at most one block waits to be written, and
    blocks are written in order, so the files are the same as with a serial writer.
    """

    def __init__(self, folder: Path, plan: TaskPlan) -> None:
        self.folder = folder
        self.plan = plan
        self.writers = {t: pq.ParquetWriter(folder / f"{t}.parquet", schema_of(t, plan.spec), **PARQUET_OPTIONS)
                        for t in TABLES if t != "players"}
        self.rows = {t: 0 for t in TABLES}
        pairs = plan.pairs()
        self.pair_ids = pairs[["i", "j"]].to_numpy()
        self.pair_kinds = pairs["kind"].to_numpy().astype(str)
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: list[Future] = []

    def write_players(self) -> None:
        frame = self.plan.players()
        schema = schema_of("players", self.plan.spec)
        # from plain Arrow arrays: Table.from_pandas would store the pandas version in the file
        table = pa.Table.from_arrays([pa.array(frame[f.name].to_numpy()).cast(f.type) for f in schema], schema=schema)
        pq.write_table(table, self.folder / "players.parquet", **PARQUET_OPTIONS)
        self.rows["players"] = len(frame)

    def write_block(self, block: Block) -> None:
        plan = self.plan
        spec = plan.spec
        m, n = len(block), plan.n_players
        self._wait()
        ids = np.arange(block.start, block.start + m, dtype=np.int64)
        self._write("instances", [pa.array(ids), _strings(SPLITS, block.split), pa.array(block.target),
                                  pa.array(block.f)]
                    + [_fixed_list(block.inputs[mod.name], None) for mod in spec.modalities])

        terms = plan.terms
        tables = [t.table(block.latents[:, list(t.ids)]) for t in terms]
        n_terms = len(terms)
        if n_terms:
            sizes = np.array([tab.shape[1] for tab in tables])
            flat = np.concatenate(tables, axis=1).ravel()
            offsets = np.concatenate([[0], np.cumsum(np.tile(sizes, m))]).astype(np.int32)
            player_lists = [np.array(t.ids, dtype=np.int32) for t in terms]
            p_sizes = np.tile([len(p) for p in player_lists], m)
            p_offsets = np.concatenate([[0], np.cumsum(p_sizes)]).astype(np.int32)
            p_values = np.tile(np.concatenate(player_lists), m)
            self._write("terms", [
                pa.array(np.repeat(ids, n_terms)), pa.array(np.tile(np.arange(n_terms, dtype=np.int32), m)),
                _strings([t.kind for t in terms], np.tile(np.arange(n_terms), m)),
                _strings([t.op for t in terms], np.tile(np.arange(n_terms), m)),
                pa.ListArray.from_arrays(pa.array(p_offsets), pa.array(p_values, type=pa.int32())),
                pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float64()))])

        oracle = plan.oracle(block.latents)
        self._write("attributions", [pa.array(np.repeat(ids, n)), pa.array(np.tile(np.arange(n, dtype=np.int32), m)),
                                     pa.array(oracle.shapley().ravel()), pa.array(oracle.banzhaf().ravel())])
        n_pairs = len(self.pair_ids)
        if n_pairs:
            sii = oracle.pair_values(self.pair_ids, "SII")
            self._write("pairs", [pa.array(np.repeat(ids, n_pairs)),
                                  pa.array(np.tile(self.pair_ids[:, 0].astype(np.int32), m)),
                                  pa.array(np.tile(self.pair_ids[:, 1].astype(np.int32), m)),
                                  _strings(self.pair_kinds, np.tile(np.arange(n_pairs), m)), pa.array(sii.ravel())])
        n_mod = len(spec.modalities)
        self._write("modalities", [pa.array(np.repeat(ids, n_mod)), _strings(spec.modality_names, np.tile(np.arange(n_mod), m)),
                                   pa.array(oracle.modality_shapley().ravel()),
                                   pa.array(oracle.modality_influence().ravel())])

    def _write(self, table: str, columns: list[pa.Array]) -> None:
        schema = schema_of(table, self.plan.spec)
        batch = pa.Table.from_arrays([c.cast(f.type) for c, f in zip(columns, schema)], schema=schema)
        self._pending.append(self._pool.submit(self.writers[table].write_table, batch))
        self.rows[table] += batch.num_rows

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            for w in self.writers.values():
                w.close()


def manifest_of(plan: TaskPlan, n_instances: int) -> dict[str, Any]:
    """The manifest of a dataset, without the file hashes.

    Parameters
    ----------
    plan : TaskPlan
        The task's plan.
    n_instances : int
        The number of instances written.

    Returns
    -------
    dict
        The format and schema version, the spec and its hash, the resolved terms, the
        codebooks, the shares and the bit order; :func:`write` adds ``files``.

    Examples
    --------
    >>> from mxbench.generators.suites import suite_specs
    >>> m = manifest_of(TaskPlan.from_spec(suite_specs("smoke")[0]), 10)
    >>> m["schema_version"], m["instances"], len(m["terms"])
    (1, 10, 4)
    """
    from mxbench._version import __version__

    spec = plan.spec
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "mxbench_version": __version__,
        "pyarrow_version": pa.__version__,
        "name": spec.name,
        "seed": spec.seed,
        "instances": n_instances,
        "players": plan.n_players,
        "spec": spec.to_dict(),
        "spec_hash": spec.spec_hash(),
        "terms": [t.to_dict() for t in plan.terms],
        "intercept": spec.intercept,
        "codebooks": {r.spec.name: r.codebook() for r in plan.renderers},
        "shares": plan.shares,
        "splits": list(SPLITS),
        "bit_order": BIT_ORDER,
    }


def _write_task(plan: TaskPlan, n_instances: int, folder: Path, progress: Any = None) -> dict[str, Any]:
    writers = _TableWriters(folder, plan)
    try:
        writers.write_players()
        for block in plan.blocks(n_instances):
            writers.write_block(block)
            if progress is not None:
                progress.update(len(block))
    finally:
        writers.close()
    manifest = manifest_of(plan, n_instances)
    (folder / CARD).write_text(dataset_card(manifest), encoding="utf-8")
    files = {}
    for name in [f"{t}.parquet" for t in TABLES] + [CARD]:
        files[name] = {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size,
                       "rows": writers.rows.get(name.removesuffix(".parquet"))}
    manifest["files"] = files
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def write(spec: TaskSpec | Mapping[str, Any] | str, out: str | Path, *, instances: int | None = None,
          seed: int | None = None, overwrite: bool = False, progress: bool = False) -> Path:
    """Generate a task, or every task of a named suite, straight to a Parquet dataset folder.

    Instances stream through in blocks, so memory stays flat however many there are. The
    folder appears only when everything is written (temp folder, then rename); on any
    error nothing is left behind. The same spec, seed and mxbench version give
    byte-identical files.

    Parameters
    ----------
    spec : TaskSpec, dict or str
        A spec, a spec dict, or a suite name (then ``out`` holds one dataset per task and a
        ``suite.json``).
    out : str or Path
        The folder to create.
    instances, seed : int, optional
        Overrides of the spec's instance count and seed.
    overwrite : bool
        Replace ``out`` if it exists (otherwise that is an error).
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    Path
        ``out``.

    Examples
    --------
    >>> import tempfile, os
    >>> out = write("smoke", os.path.join(tempfile.mkdtemp(), "smoke"), instances=16)
    >>> sorted(os.listdir(out))
    ['smoke-img-txt', 'smoke-mix3', 'smoke-tab-txt', 'suite.json']
    """
    from tqdm.auto import tqdm

    if isinstance(spec, str):
        from mxbench.generators.suites import suite_specs

        specs, suite = suite_specs(spec), spec
    else:
        specs, suite = [spec if isinstance(spec, TaskSpec) else TaskSpec.from_dict(spec)], None
    if instances is not None or seed is not None:
        specs = [s.with_overrides(seed=seed, instances=instances) for s in specs]
    plans = [TaskPlan.from_spec(s) for s in specs]
    total = sum(s.instances for s in specs)
    with atomic_dir(out, overwrite) as tmp, tqdm(total=total, unit="inst", disable=not progress,
                                                 desc=suite or specs[0].name) as bar:
        if suite is None:
            _write_task(plans[0], specs[0].instances, tmp, bar)
        else:
            tasks = []
            for plan in plans:
                folder = tmp / plan.spec.name
                folder.mkdir()
                _write_task(plan, plan.spec.instances, folder, bar)
                tasks.append({"name": plan.spec.name, "manifest_sha256": sha256_file(folder / MANIFEST)})
            doc = {"format": SUITE_FORMAT, "schema_version": SCHEMA_VERSION, "suite": suite, "tasks": tasks}
            (tmp / SUITE_MANIFEST).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Path(out)


__all__ = ["write", "sha256_file", "atomic_dir", "manifest_of", "canonical_json"]
