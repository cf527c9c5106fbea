"""Read, verify and summarise Parquet datasets: manifest, hashes, schema, and the truth recomputed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mxbench.data.card import n_shards
from mxbench.data.schema import (FORMAT, MANIFEST, SCHEMA_VERSION, SHARDED_TABLES, SUITE_FORMAT, SUITE_MANIFEST, TABLES,
                                 dataset_files, schema_of, table_files)
from mxbench.data.writer import sha256_file
from mxbench.errors import DatasetError, MxbenchError
from mxbench.oracles.moebius import MoebiusGame
from mxbench.spec import _NAME as NAME  # the one rule for task names
from mxbench.spec import TaskSpec
from mxbench.spec.fields import loads_unique
from mxbench.task import BLOCK, SPLITS, Task, TaskPlan


def _os_message(e: OSError, fallback: Path | str) -> str:
    """``"NAME: cannot be read (reason)"`` for an OSError, naming the file it concerns."""
    name = e.filename if e.filename is not None else fallback
    return f"{str(name)!r}: cannot be read ({e.strerror or type(e).__name__})"


def _is_file(path: Path) -> bool:
    """``path.is_file()``, but an unreadable folder is a DatasetError naming the path, not a PermissionError."""
    try:
        return path.is_file()
    except OSError as e:
        raise DatasetError(_os_message(e, path)) from None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not _is_file(path):
        raise DatasetError(f"{str(path.parent)!r} is not an mxbench {what}: {path.name} is missing")
    try:
        doc = loads_unique(path.read_text(encoding="utf-8"),
                           lambda field, message: DatasetError(f"{path.name}: {field}: {message}"), path.name)
    except DatasetError:
        raise
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise DatasetError(f"{path.name}: unreadable or not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise DatasetError(f"{path.name}: expected a JSON object")
    return doc


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a dataset's ``manifest.json`` (format and schema version, files, shards).

    A sharded dataset's manifest has ``shards``, the instance range ``{"start", "stop"}`` of
    each of its at least two shards: contiguous, non-empty, from 0 to ``instances``; its
    ``files`` are then ``players.parquet``, the card and one file per shard of each
    per-instance table (:func:`~mxbench.data.schema.dataset_files`).

    Parameters
    ----------
    path : str or Path
        A dataset folder.

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    DatasetError
        ``manifest.json`` is missing or unreadable, of another format or schema version, or
        lacks a required key, lists a file it should not, or has malformed ``shards``.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> read_manifest(out / "smoke-mix3")["players"]
    12
    """
    path = Path(path)
    manifest = _read_json(path / MANIFEST, "dataset")
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"manifest.json: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DatasetError(f"manifest.json: schema_version is {version!r}; this mxbench reads version {SCHEMA_VERSION}")
    types = {"name": str, "spec": dict, "terms": list, "codebooks": dict, "files": dict, "instances": int,
             "seed": int, "intercept": (int, float), "spec_hash": str}
    for key, kind in types.items():
        if key not in manifest:
            raise DatasetError(f"manifest.json: the key {key!r} is missing")
        if not isinstance(manifest[key], kind) or isinstance(manifest[key], bool):
            raise DatasetError(f"manifest.json: {key} has the wrong type ({type(manifest[key]).__name__})")
    if manifest["instances"] < 1:
        raise DatasetError(f"manifest.json: instances must be positive, got {manifest['instances']}")
    if "shards" in manifest:
        _check_shards_entry(manifest["shards"], manifest["instances"])
    expected = set(dataset_files(n_shards(manifest)))
    for name, info in manifest["files"].items():
        if name not in expected:
            raise DatasetError(f"manifest.json: files lists an unexpected file {name!r}")
        if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
            raise DatasetError(f"manifest.json: files[{name!r}] must be an object with a 'sha256' string")
    return manifest


def _check_shards_entry(shards: Any, n_instances: int) -> None:
    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not (isinstance(shards, list) and len(shards) >= 2 and all(
            isinstance(x, dict) and set(x) == {"start", "stop"} and integer(x["start"]) and integer(x["stop"])
            for x in shards)):
        raise DatasetError(f"manifest.json: shards must be a list of at least 2 objects with integer 'start' and "
                           f"'stop', got {str(shards)[:60]}")
    at = 0
    for k, x in enumerate(shards):
        if x["start"] != at or x["stop"] <= x["start"]:
            raise DatasetError(f"manifest.json: shards[{k}] is [{x['start']}, {x['stop']}), expected a non-empty "
                               f"range from {at}: the shards must cover instances 0..{n_instances - 1} in order")
        at = x["stop"]
    if at != n_instances:
        raise DatasetError(f"manifest.json: the shards end at instance {at}, the dataset has {n_instances} instances")


def _ranges(manifest: dict[str, Any]) -> list[tuple[int, int]]:
    """The instance range of each shard (one range unsharded)."""
    if n_shards(manifest) == 1:
        return [(0, manifest["instances"])]
    return [(x["start"], x["stop"]) for x in manifest["shards"]]


def check_hashes(path: str | Path, manifest: dict[str, Any]) -> None:
    """Raise DatasetError unless every listed file exists with its recorded SHA-256.

    Parameters
    ----------
    path : str or Path
        A dataset folder.
    manifest : dict
        Its manifest (from :func:`read_manifest`).

    Raises
    ------
    DatasetError
        A table's file (each shard of a sharded one) or the card is not listed, a listed file
        is missing, or its SHA-256 differs; the message names the file.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset({"name": "t", "instances": 4, "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 2}],
    ...     "terms": [{"kind": "unique", "players": ["a:0"]}]}, os.path.join(tempfile.mkdtemp(), "t"))
    >>> manifest = read_manifest(out)
    >>> check_hashes(out, manifest)
    >>> _ = open(os.path.join(out, "README.md"), "a").write("edited")
    >>> try:
    ...     check_hashes(out, manifest)
    ... except mxbench.DatasetError as e:
    ...     print(str(e).split(":")[0])
    README.md
    """
    path = Path(path)
    files = manifest["files"]
    for name in dataset_files(n_shards(manifest)):
        if name not in files:
            raise DatasetError(f"manifest.json: files lacks {name!r}")
    for name, info in files.items():
        f = path / name
        if not _is_file(f):
            raise DatasetError(f"{name}: missing from {str(path)!r}")
        try:
            digest = sha256_file(f)
        except OSError as e:
            raise DatasetError(f"{name}: cannot be read ({e.strerror})") from None
        if digest != info.get("sha256"):
            raise DatasetError(f"{name}: SHA-256 {digest[:12]}... does not match the manifest's "
                               f"{str(info.get('sha256'))[:12]}... (the file is corrupt or was altered)")


def _plan(manifest: dict[str, Any]) -> TaskPlan:
    try:
        spec = TaskSpec.from_dict(manifest["spec"])
        return TaskPlan.from_stored(spec, manifest["terms"], manifest["codebooks"], manifest.get("shares"))
    except MxbenchError as e:
        raise DatasetError(f"manifest.json: {e}") from None
    except (KeyError, TypeError, ValueError, ArithmeticError, RecursionError, IndexError) as e:
        raise DatasetError(f"manifest.json: malformed terms or codebooks ({e!r})") from None


class _Table:
    """One table of a dataset, read as one: its file, or its shards' files in shard order.

    Row groups are numbered across the files; ``rows`` holds each file's row count.
    """

    def __init__(self, table: str, parts: list[tuple[str, pq.ParquetFile]]) -> None:
        self.table = table
        self.names = [name for name, _ in parts]
        self.files = [pf for _, pf in parts]
        self.rows = [pf.metadata.num_rows for pf in self.files]
        self.num_rows = sum(self.rows)
        self._groups = [(i, g) for i, pf in enumerate(self.files) for g in range(pf.num_row_groups)]
        self.num_row_groups = len(self._groups)

    @property
    def label(self) -> str:
        """The file's name, or the glob of the shards' names."""
        return self.names[0] if len(self.names) == 1 else f"{self.table}-*.parquet"

    def name_of(self, group: int) -> str:
        return self.names[self._groups[group][0]]

    def read(self) -> pa.Table:
        if len(self.files) == 1:
            return self.files[0].read()
        return pa.concat_tables([pf.read() for pf in self.files])

    def read_row_group(self, group: int) -> pa.Table:
        i, g = self._groups[group]
        return self.files[i].read_row_group(g)

    def head(self, rows: int) -> pa.RecordBatch:
        """The first ``rows`` rows (fewer if the table has fewer), as one record batch."""
        batches, got = [], 0
        for pf in self.files:
            for batch in pf.iter_batches(batch_size=rows - got):
                batches.append(batch)
                got += batch.num_rows
                if got >= rows:
                    break
            if got >= rows:
                break
        if len(batches) == 1:
            return batches[0]
        if not batches:
            raise StopIteration("no rows")
        joined = pa.Table.from_batches(batches).combine_chunks().to_batches()[0]
        return joined.slice(0, rows)


def _read_table(path: Path, table: str, spec: TaskSpec, manifest: dict[str, Any] | None = None) -> _Table:
    """A table's file, or its shards' (per ``manifest``), checked against the expected schema."""
    expected = schema_of(table, spec)
    parts = []
    for name in table_files(table, n_shards(manifest or {})):
        try:
            pf = pq.ParquetFile(path / name)
        except (OSError, pa.ArrowException) as e:
            raise DatasetError(f"{name}: not a readable Parquet file ({e})") from None
        got = pf.schema_arrow
        if got.names != expected.names or any(not g.type.equals(e.type) for g, e in zip(got, expected)):
            raise DatasetError(f"{name}: schema {got.names} / {[str(f.type) for f in got]} does not match "
                               f"the expected {expected.names} / {[str(f.type) for f in expected]}")
        parts.append((name, pf))
    return _Table(table, parts)


def _instances(pf: _Table, spec: TaskSpec, row_group: int | None = None):
    where = pf.label if row_group is None else pf.name_of(row_group)
    try:
        table = pf.read() if row_group is None else pf.read_row_group(row_group)
    except (OSError, pa.ArrowException) as e:
        raise DatasetError(f"{where}: cannot be read ({e})") from None
    inputs = {}
    for m in spec.modalities:
        col = table.column(m.name).combine_chunks()
        values = col.flatten().to_numpy(zero_copy_only=False)
        inputs[m.name] = values.reshape((table.num_rows,) + m.shape)
    split_names = table.column("split").to_numpy(zero_copy_only=False).astype(str)
    bad = ~np.isin(split_names, SPLITS)
    if bad.any():
        raise DatasetError(f"{where}: split {split_names[bad][0]!r} is not one of {SPLITS}")
    split = np.zeros(len(split_names), dtype=np.int8)
    for code, name in enumerate(SPLITS):
        split[split_names == name] = code
    ids = table.column("instance_id").to_numpy()
    return ids, inputs, table.column("target").to_numpy(), split, table.column("f").to_numpy()


def load_dataset(path: str | Path, *, regenerate: bool = True) -> Task:
    """Load a dataset folder as a :class:`~mxbench.task.Task` after checking it.

    ``load`` does not trust ``manifest.json``; before returning it checks, cheaply:

    - the manifest's format and schema version, and every file's SHA-256;
    - that ``name``, ``seed``, ``intercept``, ``spec_hash``, ``instances``, ``players`` and
      ``splits`` agree with the manifest's spec;
    - with ``regenerate`` (the default): that the terms, weights, codebooks and shares the
      spec and seed give are those the manifest holds, and that the first block of
      instances (up to 4096 rows: inputs, ``target``, ``split``, ``f``) equals the block the
      spec and seed generate. This catches an edited noise, seed, split, intercept, term or
      codebook even when the edit was re-signed (``spec_hash`` and the hashes recomputed);
    - that ``players.parquet`` is the players table of the spec and terms;
    - on the first 256 instances: that each term's table in ``terms.parquet`` (kind, op,
      players and values) equals the manifest's term on the decoded inputs, and that the
      stored ``f`` equals ``intercept + sum of the terms``.

    It does not recompute the stored Shapley, Banzhaf, SII and modality values, nor look at
    instances past the first block: :func:`verify` does that, row group by row group. A
    sharded dataset is read shard by shard into one task; each shard of ``instances`` must
    hold exactly the instances of its range in the manifest's ``shards``.

    Parameters
    ----------
    path : str or Path
        A dataset folder (not a suite folder).
    regenerate : bool
        Regenerate the plan and the first block from the spec and seed and compare (about a
        tenth of a second on a 244-player task). ``False`` skips that comparison, for a
        dataset made by another mxbench version whose generator differs.

    Returns
    -------
    Task
        The task with its instances; ``task.latents``, ``task.f`` and the oracle are
        recomputed from the stored inputs.

    Raises
    ------
    DatasetError
        The folder is a suite or cannot be read, or its manifest, hashes, schema, instance
        ids, or any of the checks above fail; the message names the file and the field.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> load_dataset(out / "smoke-tab-txt").n_players
    12
    """
    path = Path(path)
    try:
        return _load_dataset(path, regenerate)
    except OSError as e:  # an unreadable folder or file: name it, never a bare PermissionError
        raise DatasetError(_os_message(e, path)) from None


def _load_dataset(path: Path, regenerate: bool) -> Task:
    if _is_file(path / SUITE_MANIFEST):
        raise DatasetError(f"{str(path)!r} is a suite folder; load one of its tasks, or use mxbench.data.load_suite")
    manifest = read_manifest(path)
    check_hashes(path, manifest)
    plan = _plan(manifest)
    _check_fields(manifest, plan)
    if regenerate:
        fresh = _check_fresh_plan(manifest, plan)
    table = _read_table(path, "instances", plan.spec, manifest)
    for name, rows, (start, stop) in zip(table.names, table.rows, _ranges(manifest)):
        if rows != stop - start:
            raise DatasetError(f"{name}: {rows} rows, the manifest's shards give it instances {start}..{stop - 1} "
                               f"({stop - start} rows)")
    ids, inputs, target, split, f_stored = _instances(table, plan.spec)
    if len(ids) != manifest["instances"] or not np.array_equal(ids, np.arange(len(ids))):
        raise DatasetError(f"{table.label}: expected instance ids 0..{manifest['instances'] - 1}")
    if regenerate:
        first_block = min(BLOCK, manifest["instances"])
        _check_first_block(manifest, fresh, inputs, target, split, f_stored,
                           table.names[0] if table.rows[0] >= first_block else table.label)
    _check_players(path, plan)
    _check_sample(path, manifest, plan, inputs, f_stored, table.label)
    return Task(plan, inputs, target, split)


LOAD_SAMPLE = 256  # instances whose term tables and f load checks against the manifest's terms


def _check_fields(manifest: dict[str, Any], plan: TaskPlan) -> None:
    """The manifest fields that change the truth must agree with its spec."""
    spec = plan.spec
    wants = (("name", spec.name), ("seed", spec.seed), ("intercept", spec.intercept),
             ("spec_hash", spec.spec_hash()), ("instances", spec.instances), ("players", plan.n_players),
             ("splits", list(SPLITS)))
    for key, want in wants:
        got = manifest.get(key)
        if got != want or type(got) is bool:
            raise DatasetError(f"manifest.json: {key} is {got!r} but the manifest's spec gives {want!r} "
                               "(the manifest was altered)")


def _normal(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _check_fresh_plan(manifest: dict[str, Any], plan: TaskPlan) -> TaskPlan:
    """The plan drawn anew from the spec and seed must be the manifest's: terms, weights, codebooks, shares."""
    try:
        fresh = TaskPlan.from_spec(plan.spec)
    except MxbenchError as e:
        raise DatasetError(f"manifest.json: the spec no longer generates ({e})") from None
    version = _version_note(manifest)
    drawn = _normal([t.to_dict() for t in fresh.terms])
    if len(drawn) != len(manifest["terms"]):
        raise DatasetError(f"manifest.json: terms lists {len(manifest['terms'])} terms; the spec and seed give "
                           f"{len(drawn)}{version}")
    for k, (want, got) in enumerate(zip(drawn, manifest["terms"])):
        if want != got:
            keys = sorted(key for key in set(want) | set(got) if want.get(key) != got.get(key)) \
                if isinstance(got, dict) else ["the whole term"]
            raise DatasetError(f"manifest.json: terms[{k}] differs in {', '.join(keys)} from the term the spec and "
                               f"seed give ({want}){version}")
    codebooks = _normal({r.spec.name: r.codebook() for r in fresh.renderers})
    for name, want in codebooks.items():
        if manifest["codebooks"].get(name) != want:
            got = manifest["codebooks"].get(name)
            keys = sorted(k for k in want if not isinstance(got, dict) or got.get(k) != want[k])
            raise DatasetError(f"manifest.json: codebooks[{name!r}] ({', '.join(keys)}) differ from the codebook "
                               f"the spec and seed give{version}")
    if _normal(fresh.shares) != manifest.get("shares"):
        raise DatasetError(f"manifest.json: shares differ from those the spec and seed give{version}")
    return fresh


def _version_note(manifest: dict[str, Any]) -> str:
    from mxbench._version import __version__

    made_by = manifest.get("mxbench_version")
    if made_by == __version__:
        return ""
    return (f" (the manifest says mxbench {made_by!r} made it, this is {__version__}; if its generator differed, "
            "load it with regenerate=False)")


def _check_first_block(manifest: dict[str, Any], fresh: TaskPlan, inputs: dict[str, np.ndarray], target: np.ndarray,
                       split: np.ndarray, f_stored: np.ndarray, file: str = "instances.parquet") -> None:
    """The first block of instances (in the first shard) must be the one the spec and seed generate."""
    block = next(fresh.blocks(manifest["instances"]))
    m = len(block)
    spec = fresh.spec
    version = _version_note(manifest)
    where = f"instances 0..{m - 1}"
    for name in spec.modality_names:
        if not np.array_equal(inputs[name][:m], block.inputs[name]):
            raise DatasetError(f"{file}: the inputs of modality {name!r} ({where}) differ from those the "
                               f"spec and seed generate (the file was altered, or spec.seed){version}")
    if not np.array_equal(split[:m], block.split):
        raise DatasetError(f"{file}: split ({where}) differs from the splits spec.splits "
                           f"{list(spec.splits)} and the seed give (the file or the spec's splits were altered){version}")
    good, err = _close(f_stored[:m], block.f)
    if not good:
        raise DatasetError(f"{file}: f ({where}) differs from f* of the spec's terms (max abs error "
                           f"{err:.3g}; the file, spec.intercept or the terms were altered){version}")
    if not np.array_equal(target[:m], block.target):
        raise DatasetError(f"{file}: target ({where}) differs from the targets spec.noise "
                           f"{spec.noise!r} and the seed give (the file or the spec's noise was altered){version}")


def _check_players(path: Path, plan: TaskPlan) -> None:
    try:
        players = _read_table(path, "players", plan.spec).read().to_pandas()
    except (OSError, pa.ArrowException) as e:
        raise DatasetError(f"players.parquet: cannot be read ({e})") from None
    if not players.astype(str).equals(plan.players().astype(str)):
        raise DatasetError("players.parquet: differs from the players the manifest's spec and terms give "
                           "(roles, names or term ids were altered)")


def _check_sample(path: Path, manifest: dict[str, Any], plan: TaskPlan, inputs: dict[str, np.ndarray],
                  f_stored: np.ndarray, instances_file: str = "instances.parquet") -> None:
    """On the first instances: terms.parquet = the manifest's terms on the decoded inputs, f = f*."""
    terms = plan.terms
    k = min(LOAD_SAMPLE, manifest["instances"])
    latents = plan.decode({name: v[:k] for name, v in inputs.items()})
    if terms:
        pf = _read_table(path, "terms", plan.spec, manifest)
        try:
            t = pf.head(k * len(terms))
        except (OSError, pa.ArrowException, StopIteration) as e:
            raise DatasetError(f"{pf.label}: cannot be read ({e!r})") from None
        if t.num_rows != k * len(terms):
            raise DatasetError(f"{pf.label}: expected {len(terms)} rows per instance")
        kinds = _column(t, "kind").astype(str).reshape(k, -1)
        ops = _column(t, "op").astype(str).reshape(k, -1)
        players_col = t.column("players")
        table_col = t.column("table")
        for j, x in enumerate(terms):
            if not (kinds[:, j] == x.kind).all() or not (ops[:, j] == x.op).all():
                raise DatasetError(f"manifest.json: terms[{j}] is {x.kind}/{x.op} but terms.parquet holds "
                                   f"{kinds[0, j]}/{ops[0, j]} (the manifest's kind or op was altered)")
        offsets = np.asarray(players_col.offsets)
        flat_players = np.asarray(players_col.values)
        want_players = np.tile(np.concatenate([np.asarray(x.ids) for x in terms]), k)
        want_offsets = np.concatenate([[0], np.cumsum(np.tile([x.order for x in terms], k))])
        if not (np.array_equal(offsets - offsets[0], want_offsets)
                and np.array_equal(flat_players[offsets[0]:offsets[-1]], want_players)):
            raise DatasetError("manifest.json: the terms' players differ from those in terms.parquet "
                               "(the manifest's terms were altered)")
        toff = np.asarray(table_col.offsets)
        values = np.asarray(table_col.values)[toff[0]:toff[-1]]
        sizes = [2 ** x.order for x in terms]
        if len(values) != k * sum(sizes):
            raise DatasetError(f"{pf.label}: the term tables have the wrong sizes")
        tables = np.split(values.reshape(k, sum(sizes)), np.cumsum(sizes)[:-1], axis=1)
        for j, (x, stored) in enumerate(zip(terms, tables)):
            good, err = _close(stored, x.table(latents[:, list(x.ids)]))
            if not good:
                raise DatasetError(f"manifest.json: terms[{j}] ({x.kind}, weight {x.weight!r}) does not give the "
                                   f"tables in terms.parquet on instances 0..{k - 1} (max abs error {err:.3g}): "
                                   "the term's weight or the codebooks were altered")
    want = plan.f_star(latents)
    good, err = _close(f_stored[:k], want)
    if not good:
        diff = f_stored[:k] - want
        if np.ptp(diff) <= 1e-9 * max(1.0, float(np.max(np.abs(want)))):
            raise DatasetError(f"manifest.json: intercept {plan.spec.intercept!r} disagrees with {instances_file}'s "
                               f"f, which is off by a constant {float(diff[0]):.6g} (the intercept was altered)")
        raise DatasetError(f"{instances_file}: f differs from f* of the manifest's intercept and terms on instances "
                           f"0..{k - 1} (max abs error {err:.3g}): the manifest or the file was altered")


def load_suite(path: str | Path, *, regenerate: bool = True) -> dict[str, Task]:
    """Load every task of a suite folder, keyed by task name.

    Each task's ``manifest.json`` must have the SHA-256 recorded in ``suite.json``; each task
    is then loaded with :func:`load_dataset`.

    Parameters
    ----------
    path : str or Path
        A suite folder (holding ``suite.json``).
    regenerate : bool
        Passed to :func:`load_dataset`.

    Returns
    -------
    dict of str to Task
        In the suite's order.

    Raises
    ------
    DatasetError
        ``suite.json`` is missing or wrong, a task's manifest is not the one it records, or a
        task fails to load.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> sorted(load_suite(out))
    ['smoke-img-txt', 'smoke-mix3', 'smoke-tab-txt']
    """
    path = Path(path)
    try:
        doc = _suite_doc(path)
        for t in doc["tasks"]:
            manifest = path / t["name"] / MANIFEST
            if _is_file(manifest) and sha256_file(manifest) != t["manifest_sha256"]:
                raise DatasetError(f"{t['name']}/manifest.json: SHA-256 differs from the one suite.json records "
                                   "(the manifest was altered)")
    except OSError as e:
        raise DatasetError(_os_message(e, path)) from None
    return {t["name"]: load_dataset(path / t["name"], regenerate=regenerate) for t in doc["tasks"]}


def _suite_doc(path: Path) -> dict[str, Any]:
    doc = _read_json(path / SUITE_MANIFEST, "suite")
    if doc.get("format") != SUITE_FORMAT or doc.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(f"suite.json: format {doc.get('format')!r} / schema_version {doc.get('schema_version')!r}, "
                           f"expected {SUITE_FORMAT!r} / {SCHEMA_VERSION}")
    tasks = doc.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise DatasetError("suite.json: 'tasks' must be a non-empty list")
    for k, t in enumerate(tasks):
        if (not isinstance(t, dict) or not isinstance(t.get("name"), str) or not NAME.fullmatch(t["name"])
                or not isinstance(t.get("manifest_sha256"), str)):
            raise DatasetError(f"suite.json: tasks[{k}] must be an object with a task 'name' and a 'manifest_sha256'")
    return doc


def dataset_folders(path: str | Path) -> list[Path]:
    """The dataset folders at ``path``: itself, or each task of a suite folder.

    Parameters
    ----------
    path : str or Path
        A dataset folder or a suite folder.

    Returns
    -------
    list of Path
        ``[path]`` for a dataset; the task folders in the suite's order for a suite.

    Raises
    ------
    DatasetError
        ``path`` is not a folder, or holds neither ``manifest.json`` nor ``suite.json``.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> [p.name for p in dataset_folders(out)]
    ['smoke-tab-txt', 'smoke-img-txt', 'smoke-mix3']
    """
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except OSError as e:
        raise DatasetError(_os_message(e, path)) from None
    if not is_dir:
        raise DatasetError(f"{str(path)!r} is not a folder")
    if _is_file(path / SUITE_MANIFEST):
        return [path / t["name"] for t in _suite_doc(path)["tasks"]]
    if _is_file(path / MANIFEST):
        return [path]
    raise DatasetError(f"{str(path)!r} holds neither manifest.json nor suite.json")


# --------------------------------------------------------------------------- verify


@dataclass
class Check:
    """One verification check: its name, whether it held, and what was found.

    Attributes
    ----------
    name : str
        What was checked, e.g. ``"sha256"``.
    ok : bool
        Whether it held.
    detail : str
        What was found (counts, errors), or empty.

    Examples
    --------
    >>> Check("sha256", True, "7 files")
    Check(name='sha256', ok=True, detail='7 files')
    """

    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyReport:
    """The result of :func:`verify`: every check run on one dataset folder.

    Attributes
    ----------
    path : str
        The dataset folder.
    checks : list of Check
        The checks, in the order they ran.

    Examples
    --------
    >>> report = VerifyReport("ds")
    >>> report.add("manifest", True, "schema version 1")
    True
    >>> report.add("sha256", False, "README.md differs")
    False
    >>> print(report)
    ds: FAILED
      [ok] manifest: schema version 1
      [FAIL] sha256: README.md differs
    """

    path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check held.

        Returns
        -------
        bool
            True also when no check has run.

        Examples
        --------
        >>> report = VerifyReport("ds")
        >>> report.ok
        True
        >>> _ = report.add("sha256", False)
        >>> report.ok
        False
        """
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        """Record one check and return whether it held.

        Parameters
        ----------
        name : str
            What was checked.
        ok : bool
            Whether it held (any truthy value).
        detail : str
            What was found.

        Returns
        -------
        bool
            ``bool(ok)``, so a caller can stop at a failed check.

        Examples
        --------
        >>> report = VerifyReport("ds")
        >>> report.add("schemas", 1, "6 tables"), report.checks
        (True, [Check(name='schemas', ok=True, detail='6 tables')])
        """
        self.checks.append(Check(name, bool(ok), detail))
        return bool(ok)

    def __str__(self) -> str:
        lines = [f"{self.path}: {'OK' if self.ok else 'FAILED'}"]
        lines += [f"  [{'ok' if c.ok else 'FAIL'}] {c.name}{': ' + c.detail if c.detail else ''}" for c in self.checks]
        return "\n".join(lines)


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def _close(a: np.ndarray, b: np.ndarray) -> tuple[bool, float]:
    if a.shape != b.shape:
        return False, float("inf")
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = max(1.0, float(np.max(np.abs(b))) if b.size else 1.0)
    return err <= 1e-9 * scale, err


def verify(path: str | Path, *, regenerate: bool = True) -> VerifyReport:
    """Verify a dataset folder without trusting it: hashes, schema, rows, and the truth recomputed.

    Checks, in order: the manifest and its schema version; each file's SHA-256; each
    table's schema and row count; the players table; then, row group by row group, that
    every term table in ``terms.parquet`` equals the planted function on the decoded
    instances, that the stored ``f`` does too, and that the Shapley, Banzhaf, pair SII and
    modality values recomputed from ``terms.parquet`` alone equal the stored ones. A sharded
    dataset is checked over every shard, in order, as one table: each shard file's hash and
    schema, its rows against its instance range in the manifest's ``shards``, and the rows of
    all the shards adding up; a failed check names the file.

    Returns
    -------
    VerifyReport
        ``report.ok`` is True when everything holds; ``str(report)`` lists the checks.

    With ``regenerate`` (the default) the terms, codebooks and every instance are also drawn
    anew from the spec and seed and compared. The manifest's ``mxbench_version`` never turns
    that off: a dataset that says another mxbench version made it fails the
    ``mxbench version`` check (the regeneration still runs and reports on its own); pass
    ``regenerate=False`` to accept such a dataset on the checks that do not regenerate.

    Parameters
    ----------
    path : str or Path
        A dataset folder. A broken dataset gives failed checks, not an exception.
    regenerate : bool
        Regenerate from the spec and seed and compare (default True); ``False`` skips that,
        and the version check with it, and says so in the report.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> verify(out / "smoke-tab-txt").ok
    True
    """
    path = Path(path)
    report = VerifyReport(str(path))
    try:
        return _verify(path, report, regenerate)
    except OSError as e:
        report.add("readable", False, _os_message(e, path))
        return report


def _verify(path: Path, report: VerifyReport, regenerate: bool) -> VerifyReport:
    try:
        manifest = read_manifest(path)
    except DatasetError as e:
        report.add("manifest", False, str(e))
        return report
    report.add("manifest", True, f"schema version {manifest['schema_version']}")
    try:
        check_hashes(path, manifest)
        report.add("sha256", True, f"{len(manifest['files'])} files")
    except DatasetError as e:
        report.add("sha256", False, str(e))
    try:
        plan = _plan(manifest)
    except DatasetError as e:
        report.add("spec", False, str(e))
        return report
    spec = plan.spec
    wrong = [key for key, want in (("name", spec.name), ("seed", spec.seed), ("intercept", spec.intercept),
                                   ("spec_hash", spec.spec_hash())) if manifest[key] != want]
    report.add("manifest fields", not wrong, f"{', '.join(wrong)} disagree with the spec" if wrong else
               "name, seed, intercept and spec_hash agree with the spec")
    fresh = _fresh_plan(report, manifest, spec, regenerate)
    files = {}
    for table in TABLES:
        try:
            files[table] = _read_table(path, table, spec, manifest)
        except DatasetError as e:
            report.add(f"{table} schema", False, str(e))
    if len(files) < len(TABLES):
        return report
    report.add("schemas", True, ", ".join(TABLES))
    n, n_inst = plan.n_players, manifest["instances"]
    expected_rows = {"instances": n_inst, "players": n, "terms": n_inst * len(plan.terms), "attributions": n_inst * n,
                     "pairs": n_inst * len(plan.pairs()), "modalities": n_inst * len(spec.modalities)}
    bad_rows = {t: (files[t].num_rows, r) for t, r in expected_rows.items() if files[t].num_rows != r}
    problems = [f"{t}: {g} rows, expected {e}" for t, (g, e) in bad_rows.items()]
    ranges = _ranges(manifest)
    if len(ranges) > 1:  # each shard holds the rows of its instances
        for t in SHARDED_TABLES:
            per_instance = expected_rows[t] // n_inst
            problems += [f"{name}: {got} rows, expected {(stop - start) * per_instance} (instances {start}..{stop - 1})"
                         for name, got, (start, stop) in zip(files[t].names, files[t].rows, ranges)
                         if got != (stop - start) * per_instance]
    detail = ", ".join(problems) if problems else (
        f"{n_inst} instances in {len(ranges)} shards; every shard's rows add up" if len(ranges) > 1 else "")
    if not report.add("row counts", not problems, detail):
        return report
    try:
        players = files["players"].read().to_pandas()
        same = players.astype(str).equals(plan.players().astype(str))
        report.add("players", same, "" if same else "players.parquet differs from the players of the spec and terms")
        _verify_blocks(report, files, plan, fresh, n_inst)
    except (pa.ArrowException, OSError, ValueError, MxbenchError) as e:
        report.add("tables", False, f"cannot be read or recomputed: {e}")
    return report


def _fresh_plan(report: VerifyReport, manifest: dict[str, Any], spec: TaskSpec, regenerate: bool) -> TaskPlan | None:
    """The plan drawn anew from the spec and seed (None when ``regenerate`` is False or it differs).

    A version mismatch is a failed check, never a reason to skip the regeneration: the
    version is a field of the file being verified.
    """
    from mxbench._version import __version__

    if not regenerate:
        report.add("regenerated", True, "skipped: regenerate=False (the terms, codebooks and instances were not "
                   "drawn anew from the spec and seed)")
        return None
    made_by = manifest.get("mxbench_version")
    if made_by != __version__:
        report.add("mxbench version", False, f"the manifest says mxbench {made_by!r} made it, this is {__version__}; "
                   "the regeneration below still runs; verify with regenerate=False (mxbench verify "
                   "--no-regenerate) to accept a dataset of another version")
    try:
        fresh = TaskPlan.from_spec(spec)
    except MxbenchError as e:
        report.add("terms and codebooks", False, f"the spec no longer generates: {e}")
        return None
    codebooks = json.loads(json.dumps({r.spec.name: r.codebook() for r in fresh.renderers}))
    same = [t.to_dict() for t in fresh.terms] == manifest["terms"] and codebooks == manifest["codebooks"]
    report.add("terms and codebooks", same, "the same as drawn from the spec and seed" if same else
               "manifest terms or codebooks differ from those the spec and seed give")
    return fresh if same else None


def _verify_blocks(report: VerifyReport, files: dict[str, _Table], plan: TaskPlan, fresh: TaskPlan | None,
                   n_instances: int) -> None:
    """Row group by row group (a block, or the part of a block in one shard): id and name columns,
    regenerated instances, term tables, f and the truth."""
    spec = plan.spec
    n, terms = plan.n_players, plan.terms
    pairs = plan.pairs()
    pair_ids = pairs[["i", "j"]].to_numpy()
    groups = files["instances"].num_row_groups
    if any(files[t].num_row_groups != groups for t in ("terms", "attributions", "modalities")) or (
            len(pairs) and files["pairs"].num_row_groups != groups):
        report.add("row groups", False, "the tables' row groups are not aligned by instance block")
        return
    names = ("columns", "regenerated", "term tables", "f", "shapley", "banzhaf", "sii", "modality shapley", "influence")
    worst = dict.fromkeys(names, 0.0)
    ok = dict.fromkeys(names, True)
    problems: list[str] = []
    regenerated = fresh.blocks(n_instances) if fresh is not None else None
    current: list[Any] = [None]  # the regenerated block that holds the row group being checked
    start = 0

    def drawn(first: int, m: int) -> Any:
        """The regenerated instances first..first+m-1 (fewer if they run past a block: then they differ)."""
        block = current[0]
        while block is None or first >= block.start + len(block):
            block = current[0] = next(regenerated, None)
            if block is None:
                return None
        lo = first - block.start
        return block.target[lo:lo + m], block.split[lo:lo + m], {k: v[lo:lo + m] for k, v in block.inputs.items()}

    def expect(what: str, got: np.ndarray, want: np.ndarray) -> None:
        if not (np.shape(got) == np.shape(want) and np.array_equal(got, want)):
            ok["columns"] = False
            problems.append(what)

    def close(name: str, got: np.ndarray, want: np.ndarray) -> None:
        good, err = _close(got, want)
        ok[name] &= good
        worst[name] = max(worst[name], err)

    for g in range(groups):
        ids, inputs, target, split, f_stored = _instances(files["instances"], spec, g)
        m = len(ids)
        expect("instances.instance_id", ids, np.arange(start, start + m))
        if spec.target == "classification":
            expect("instances.target (labels 0/1)", np.isin(target, (0, 1)), np.ones(m, dtype=bool))
        if regenerated is not None:
            want = drawn(start, m)
            same = want is not None and (np.array_equal(want[0], target) and np.array_equal(want[1], split)
                                         and all(np.array_equal(want[2][k], inputs[k]) for k in inputs))
            ok["regenerated"] &= same
        latents = plan.decode(inputs)
        close("f", f_stored, plan.f_star(latents))

        t = files["terms"].read_row_group(g)
        n_terms = len(terms)
        expect("terms.instance_id", _column(t, "instance_id"), np.repeat(ids, n_terms))
        expect("terms.term_id", _column(t, "term_id"), np.tile(np.arange(n_terms), m))
        expect("terms.kind", _column(t, "kind").astype(str), np.tile([x.kind for x in terms], m))
        expect("terms.op", _column(t, "op").astype(str), np.tile([x.op for x in terms], m))
        players_col = t.column("players").combine_chunks()
        expect("terms.players", players_col.flatten().to_numpy(), np.tile(np.concatenate([x.ids for x in terms]), m))
        expect("terms.players", np.diff(players_col.offsets.to_numpy()), np.tile([x.order for x in terms], m))
        table_col = t.column("table").combine_chunks()
        expect("terms.table sizes", np.diff(table_col.offsets.to_numpy()), np.tile([2 ** x.order for x in terms], m))
        flat = table_col.flatten().to_numpy()
        sizes = [2 ** x.order for x in terms]
        if len(flat) != m * sum(sizes):
            raise ValueError(f"terms.parquet: block {g} holds {len(flat)} table values, the terms need {m * sum(sizes)}")
        tables = np.split(flat.reshape(m, sum(sizes)), np.cumsum(sizes)[:-1], axis=1)
        for x, stored in zip(terms, tables):
            close("term tables", stored, x.table(latents[:, list(x.ids)]))

        # the truth from terms.parquet alone
        oracle = MoebiusGame(n, np.full(m, spec.intercept), [np.array(x.ids) for x in terms], tables,
                             modality_of=plan.modality_of, modality_names=spec.modality_names)
        a = files["attributions"].read_row_group(g)
        expect("attributions.instance_id", _column(a, "instance_id"), np.repeat(ids, n))
        expect("attributions.player_id", _column(a, "player_id"), np.tile(np.arange(n), m))
        close("shapley", _column(a, "shapley"), oracle.shapley().ravel())
        close("banzhaf", _column(a, "banzhaf"), oracle.banzhaf().ravel())
        if len(pairs):
            p = files["pairs"].read_row_group(g)
            expect("pairs.instance_id", _column(p, "instance_id"), np.repeat(ids, len(pairs)))
            expect("pairs.i", _column(p, "i"), np.tile(pair_ids[:, 0], m))
            expect("pairs.j", _column(p, "j"), np.tile(pair_ids[:, 1], m))
            expect("pairs.kind", _column(p, "kind").astype(str), np.tile(pairs["kind"].to_numpy().astype(str), m))
            close("sii", _column(p, "sii"), oracle.pair_values(pair_ids, "SII").ravel())
        mt = files["modalities"].read_row_group(g)
        expect("modalities.instance_id", _column(mt, "instance_id"), np.repeat(ids, len(spec.modalities)))
        expect("modalities.modality", _column(mt, "modality").astype(str), np.tile(spec.modality_names, m))
        close("modality shapley", _column(mt, "shapley"), oracle.modality_shapley().ravel())
        close("influence", _column(mt, "influence"), oracle.modality_influence().ravel())
        start += m
    if start != n_instances:
        ok["columns"] = False
        problems.append(f"{start} instances, the manifest says {n_instances}")
    report.add("columns", ok["columns"], "ids, names and kinds as the spec gives" if ok["columns"] else
               "wrong " + ", ".join(dict.fromkeys(problems)))
    if fresh is not None:
        report.add("regenerated", ok["regenerated"], "inputs, targets and splits equal those drawn anew from the "
                   "spec and seed" if ok["regenerated"] else "inputs, targets or splits differ from those the spec "
                   "and seed give")
    for name in names[2:]:
        if name == "sii" and not len(pairs):
            continue
        what = {"term tables": "terms.parquet tables = f* on the decoded instances",
                "f": "instances.f = f* on the decoded instances"}.get(name, f"stored {name} = recomputed from terms.parquet")
        report.add(name, ok[name], f"{what} (max abs error {worst[name]:.2e})")


def verify_all(path: str | Path, *, regenerate: bool = True) -> list[VerifyReport]:
    """Verify a dataset folder, or a suite folder and every dataset in it.

    For a suite, the first report checks ``suite.json``: its format and that each task's
    ``manifest.json`` has the recorded SHA-256.

    Parameters
    ----------
    path : str or Path
        A dataset or suite folder.
    regenerate : bool
        Passed to :func:`verify`.

    Returns
    -------
    list of VerifyReport

    Raises
    ------
    DatasetError
        ``path`` is neither a dataset nor a suite folder, or ``suite.json`` is malformed.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> [r.ok for r in verify_all(out)]
    [True, True, True, True]
    """
    path = Path(path)
    folders = dataset_folders(path)
    reports = []
    if _is_file(path / SUITE_MANIFEST):
        suite = VerifyReport(str(path / SUITE_MANIFEST))
        for entry in _suite_doc(path)["tasks"]:
            manifest = path / entry["name"] / MANIFEST
            try:
                digest = sha256_file(manifest)
            except OSError as e:
                suite.add(entry["name"], False, f"manifest.json cannot be read ({e.strerror})")
                continue
            suite.add(entry["name"], digest == entry["manifest_sha256"], "manifest.json SHA-256 "
                      + ("matches suite.json" if digest == entry["manifest_sha256"] else "differs from suite.json"))
        reports.append(suite)
    return reports + [verify(folder, regenerate=regenerate) for folder in folders]


def summary(path: str | Path) -> dict[str, Any]:
    """A short description of one dataset folder: sizes, terms, roles and modality shares.

    Parameters
    ----------
    path : str or Path
        A dataset folder.

    Returns
    -------
    dict
        ``name``, ``instances``, ``players``, ``modalities`` (players per modality),
        ``terms`` (one line per term), ``roles`` (players per role), ``shares`` (each
        modality's share of mean ``|modality Shapley|``), ``target``, ``noise`` and ``seed``.

    Raises
    ------
    DatasetError
        The manifest or the ``modalities`` table cannot be read.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> summary(out / "smoke-tab-txt")["players"]
    12
    """
    path = Path(path)
    manifest = read_manifest(path)
    plan = _plan(manifest)
    players = plan.players()
    mods = _read_table(path, "modalities", plan.spec, manifest).read().to_pandas()
    mean_abs = mods.assign(a=mods["shapley"].abs()).groupby("modality", sort=False)["a"].mean()
    shares = (mean_abs / mean_abs.sum()).reindex(list(plan.spec.modality_names)).fillna(0.0)
    return {
        "name": manifest["name"], "instances": manifest["instances"], "players": plan.n_players,
        "modalities": {m.name: m.n_players for m in plan.spec.modalities},
        "terms": [f"{t.kind}({t.op}: {', '.join(t.players)}, w={t.weight:g})" for t in plan.terms],
        "roles": players["role"].value_counts().to_dict(),
        "shares": {k: float(v) for k, v in shares.items()},
        "target": plan.spec.target, "noise": plan.spec.noise, "seed": plan.spec.seed,
    }
