"""Read, verify and summarise Parquet datasets: manifest, hashes, schema, and the truth recomputed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mxbench.data.schema import CARD, FORMAT, MANIFEST, SCHEMA_VERSION, SUITE_FORMAT, SUITE_MANIFEST, TABLES, schema_of
from mxbench.data.writer import sha256_file
from mxbench.errors import DatasetError, MxbenchError
from mxbench.oracles.moebius import MoebiusGame
from mxbench.spec import TaskSpec
from mxbench.task import SPLITS, Task, TaskPlan


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise DatasetError(f"{str(path.parent)!r} is not an mxbench {what}: {path.name} is missing")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path.name}: unreadable or not JSON ({e})") from None
    if not isinstance(doc, dict):
        raise DatasetError(f"{path.name}: expected a JSON object")
    return doc


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and check a dataset's ``manifest.json`` (format and schema version).

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
        lacks a required key.

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
    for key in ("spec", "terms", "codebooks", "files", "instances"):
        if key not in manifest:
            raise DatasetError(f"manifest.json: the key {key!r} is missing")
    return manifest


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
        A table or the card is not listed, a listed file is missing, or its SHA-256 differs.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset({"name": "t", "instances": 4, "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 2}]}, os.path.join(tempfile.mkdtemp(), "t"))
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
    for name in [f"{t}.parquet" for t in TABLES] + [CARD]:
        if name not in files:
            raise DatasetError(f"manifest.json: files lacks {name!r}")
    for name, info in files.items():
        f = path / name
        if not f.is_file():
            raise DatasetError(f"{name}: missing from {str(path)!r}")
        digest = sha256_file(f)
        if digest != info.get("sha256"):
            raise DatasetError(f"{name}: SHA-256 {digest[:12]}... does not match the manifest's "
                               f"{str(info.get('sha256'))[:12]}... (the file is corrupt or was altered)")


def _plan(manifest: dict[str, Any]) -> TaskPlan:
    try:
        spec = TaskSpec.from_dict(manifest["spec"])
        return TaskPlan.from_stored(spec, manifest["terms"], manifest["codebooks"], manifest.get("shares"))
    except MxbenchError as e:
        raise DatasetError(f"manifest.json: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise DatasetError(f"manifest.json: malformed terms or codebooks ({e!r})") from None


def _read_table(path: Path, table: str, spec: TaskSpec) -> pq.ParquetFile:
    try:
        pf = pq.ParquetFile(path / f"{table}.parquet")
    except (OSError, pa.ArrowException) as e:
        raise DatasetError(f"{table}.parquet: not a readable Parquet file ({e})") from None
    expected = schema_of(table, spec)
    got = pf.schema_arrow
    if got.names != expected.names or any(not g.type.equals(e.type) for g, e in zip(got, expected)):
        raise DatasetError(f"{table}.parquet: schema {got.names} / {[str(f.type) for f in got]} does not match "
                           f"the expected {expected.names} / {[str(f.type) for f in expected]}")
    return pf


def _instances(pf: pq.ParquetFile, spec: TaskSpec, row_group: int | None = None):
    try:
        table = pf.read() if row_group is None else pf.read_row_group(row_group)
    except (OSError, pa.ArrowException) as e:
        raise DatasetError(f"instances.parquet: cannot be read ({e})") from None
    inputs = {}
    for m in spec.modalities:
        col = table.column(m.name).combine_chunks()
        values = col.flatten().to_numpy(zero_copy_only=False)
        inputs[m.name] = values.reshape((table.num_rows,) + m.shape)
    split_names = table.column("split").to_numpy(zero_copy_only=False).astype(str)
    bad = ~np.isin(split_names, SPLITS)
    if bad.any():
        raise DatasetError(f"instances.parquet: split {split_names[bad][0]!r} is not one of {SPLITS}")
    split = np.zeros(len(split_names), dtype=np.int8)
    for code, name in enumerate(SPLITS):
        split[split_names == name] = code
    ids = table.column("instance_id").to_numpy()
    return ids, inputs, table.column("target").to_numpy(), split, table.column("f").to_numpy()


def load_dataset(path: str | Path) -> Task:
    """Load a dataset folder as a :class:`~mxbench.task.Task` after checking version and hashes.

    Parameters
    ----------
    path : str or Path
        A dataset folder (not a suite folder).

    Returns
    -------
    Task
        The task with its instances; ``task.latents``, ``task.f`` and the oracle are
        recomputed from the stored inputs.

    Raises
    ------
    DatasetError
        The folder is a suite, or its manifest, hashes, schema or instance ids are wrong.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> load_dataset(out / "smoke-tab-txt").n_players
    12
    """
    path = Path(path)
    if (path / SUITE_MANIFEST).is_file():
        raise DatasetError(f"{str(path)!r} is a suite folder; load one of its tasks, or use mxbench.data.load_suite")
    manifest = read_manifest(path)
    check_hashes(path, manifest)
    plan = _plan(manifest)
    ids, inputs, target, split, _ = _instances(_read_table(path, "instances", plan.spec), plan.spec)
    if len(ids) != manifest["instances"] or not np.array_equal(ids, np.arange(len(ids))):
        raise DatasetError(f"instances.parquet: expected instance ids 0..{manifest['instances'] - 1}")
    return Task(plan, inputs, target, split)


def load_suite(path: str | Path) -> dict[str, Task]:
    """Load every task of a suite folder, keyed by task name.

    Parameters
    ----------
    path : str or Path
        A suite folder (holding ``suite.json``).

    Returns
    -------
    dict of str to Task
        In the suite's order.

    Raises
    ------
    DatasetError
        ``suite.json`` is missing or wrong, or a task fails to load.

    Examples
    --------
    >>> import mxbench, tempfile, os
    >>> out = mxbench.write_dataset("smoke", os.path.join(tempfile.mkdtemp(), "s"), instances=8)
    >>> sorted(load_suite(out))
    ['smoke-img-txt', 'smoke-mix3', 'smoke-tab-txt']
    """
    path = Path(path)
    doc = _suite_doc(path)
    return {t["name"]: load_dataset(path / t["name"]) for t in doc["tasks"]}


def _suite_doc(path: Path) -> dict[str, Any]:
    doc = _read_json(path / SUITE_MANIFEST, "suite")
    if doc.get("format") != SUITE_FORMAT or doc.get("schema_version") != SCHEMA_VERSION:
        raise DatasetError(f"suite.json: format {doc.get('format')!r} / schema_version {doc.get('schema_version')!r}, "
                           f"expected {SUITE_FORMAT!r} / {SCHEMA_VERSION}")
    if not isinstance(doc.get("tasks"), list):
        raise DatasetError("suite.json: 'tasks' must be a list")
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
    if not path.is_dir():
        raise DatasetError(f"{str(path)!r} is not a folder")
    if (path / SUITE_MANIFEST).is_file():
        return [path / t["name"] for t in _suite_doc(path)["tasks"]]
    if (path / MANIFEST).is_file():
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


def verify(path: str | Path) -> VerifyReport:
    """Verify a dataset folder without trusting it: hashes, schema, rows, and the truth recomputed.

    Checks, in order: the manifest and its schema version; each file's SHA-256; each
    table's schema and row count; the players table; then, row group by row group, that
    every term table in ``terms.parquet`` equals the planted function on the decoded
    instances, that the stored ``f`` does too, and that the Shapley, Banzhaf, pair SII and
    modality values recomputed from ``terms.parquet`` alone equal the stored ones.

    Returns
    -------
    VerifyReport
        ``report.ok`` is True when everything holds; ``str(report)`` lists the checks.

    Parameters
    ----------
    path : str or Path
        A dataset folder. A broken dataset gives failed checks, not an exception.

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
    files = {}
    for table in TABLES:
        try:
            files[table] = _read_table(path, table, spec)
        except DatasetError as e:
            report.add(f"{table} schema", False, str(e))
    if len(files) < len(TABLES):
        return report
    report.add("schemas", True, ", ".join(TABLES))
    n, n_inst = plan.n_players, manifest["instances"]
    expected_rows = {"instances": n_inst, "players": n, "terms": n_inst * len(plan.terms), "attributions": n_inst * n,
                     "pairs": n_inst * len(plan.pairs()), "modalities": n_inst * len(spec.modalities)}
    bad_rows = {t: (files[t].metadata.num_rows, r) for t, r in expected_rows.items() if files[t].metadata.num_rows != r}
    if not report.add("row counts", not bad_rows, ", ".join(f"{t}: {g} rows, expected {e}" for t, (g, e) in bad_rows.items())):
        return report
    players = files["players"].read().to_pandas()
    want = plan.players()
    report.add("players", players.astype(str).equals(want.astype(str)), "" if players.astype(str).equals(
        want.astype(str)) else "players.parquet differs from the players of the spec and terms")
    try:
        _verify_truth(report, files, plan)
    except (pa.ArrowException, OSError, ValueError, MxbenchError) as e:
        report.add("truth", False, f"cannot be recomputed: {e}")
    return report


def _verify_truth(report: VerifyReport, files: dict[str, pq.ParquetFile], plan: TaskPlan) -> None:
    spec = plan.spec
    n = plan.n_players
    pairs = plan.pairs()
    groups = files["instances"].num_row_groups
    if any(files[t].num_row_groups != groups for t in ("terms", "attributions", "modalities")) or (
            len(pairs) and files["pairs"].num_row_groups != groups):
        report.add("row groups", False, "the tables' row groups are not aligned by instance block")
        return
    worst = {"term tables": 0.0, "f": 0.0, "shapley": 0.0, "banzhaf": 0.0, "sii": 0.0, "modality shapley": 0.0,
             "influence": 0.0}
    ok = dict.fromkeys(worst, True)
    for g in range(groups):
        ids, inputs, _, _, f_stored = _instances(files["instances"], spec, g)
        m = len(ids)
        terms = files["terms"].read_row_group(g)
        blocks, tables = [], []
        term_ids = _column(terms, "term_id")
        players_col = terms.column("players").combine_chunks()
        table_col = terms.column("table").combine_chunks()
        for t in range(len(plan.terms)):
            rows = np.flatnonzero(term_ids == t)
            if len(rows) != m:
                raise ValueError(f"terms.parquet: term {t} has {len(rows)} rows in block {g}, expected {m}")
            players = np.asarray(players_col[int(rows[0])].as_py(), dtype=np.int64)
            tab = table_col.take(pa.array(rows)).flatten().to_numpy().reshape(m, -1)
            blocks.append(players)
            tables.append(tab)
        latents = plan.decode(inputs)
        for t, term in enumerate(plan.terms):
            good, err = _close(tables[t], term.table(latents[:, list(term.ids)]))
            good = good and np.array_equal(blocks[t], np.array(term.ids))
            ok["term tables"] &= good
            worst["term tables"] = max(worst["term tables"], err)
        good, err = _close(f_stored, plan.f_star(latents))
        ok["f"] &= good
        worst["f"] = max(worst["f"], err)
        # the truth from terms.parquet alone
        oracle = MoebiusGame(n, np.full(m, spec.intercept), blocks, tables, modality_of=plan.modality_of,
                             modality_names=spec.modality_names)
        attr = files["attributions"].read_row_group(g)
        for name, got, want in (("shapley", _column(attr, "shapley"), oracle.shapley().ravel()),
                                ("banzhaf", _column(attr, "banzhaf"), oracle.banzhaf().ravel())):
            good, err = _close(got, want)
            ok[name] &= good and np.array_equal(_column(attr, "player_id"), np.tile(np.arange(n), m))
            worst[name] = max(worst[name], err)
        if len(pairs):
            pt = files["pairs"].read_row_group(g)
            pair_ids = np.stack([_column(pt, "i")[:len(pairs)], _column(pt, "j")[:len(pairs)]], axis=1).astype(np.int64)
            good, err = _close(_column(pt, "sii"), oracle.pair_values(pair_ids, "SII").ravel())
            good = good and np.array_equal(pair_ids, pairs[["i", "j"]].to_numpy())
            ok["sii"] &= good
            worst["sii"] = max(worst["sii"], err)
        mt = files["modalities"].read_row_group(g)
        for name, col, want in (("modality shapley", "shapley", oracle.modality_shapley().ravel()),
                                ("influence", "influence", oracle.modality_influence().ravel())):
            good, err = _close(_column(mt, col), want)
            ok[name] &= good
            worst[name] = max(worst[name], err)
    for name in worst:
        if name == "sii" and not len(pairs):
            continue
        what = {"term tables": "terms.parquet tables = f* on the decoded instances",
                "f": "instances.f = f* on the decoded instances"}.get(name, f"stored {name} = recomputed from terms.parquet")
        report.add(name, ok[name], f"{what} (max abs error {worst[name]:.2e})")


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
    mods = _read_table(path, "modalities", plan.spec).read().to_pandas()
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
