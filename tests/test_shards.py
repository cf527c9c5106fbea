"""Sharded datasets: the layout, the same data as unsharded, verify and load over every shard,
tampered or missing shards, Hugging Face `datasets`, a Dask cluster's byte-identical output, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mxbench
from mxbench.cli import main
from mxbench.cluster import SCHEDULER_ENV, SchedulerError, dask_client
from mxbench.data import summary, verify, verify_all
from mxbench.data import writer as writer_mod
from mxbench.data.card import SHAPLEY_RECIPE
from mxbench.data.schema import CARD, MANIFEST, SHARDED_TABLES, TABLES, shard_name
from mxbench.data.writer import sha256_file, shard_ranges
from mxbench.errors import DatasetError, SpecError
from mxbench.generators.suites import suite_specs
from mxbench.spec import TaskSpec
from mxbench.task import BLOCK, TaskPlan

TAB = suite_specs("smoke")[0]  # smoke-tab-txt: 12 players, regression
N = 2 * BLOCK + 500  # three blocks, the last one short
K = 3
# image, text and table, a pair asked for, a redundancy: every table has rows
MIX = {"name": "mix", "seed": 3, "instances": 40, "noise": 0.05,
       "modalities": [{"name": "tab", "kind": "tabular", "features": 4},
                      {"name": "img", "kind": "image", "channels": 1, "size": 8, "patch": 4},
                      {"name": "txt", "kind": "text", "length": 5, "vocab": 32}],
       "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                 {"kind": "synergy", "op": "product", "players": ["img:1", "txt:2"], "weight": 2.0},
                 {"kind": "redundancy", "players": ["tab:1", "img:3"], "weight": 1.5}],
       "pairs": [["tab:2", "txt:0"]]}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return mxbench.write_dataset(TAB, tmp_path_factory.mktemp("plain") / "tab", instances=N)


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    return mxbench.write_dataset(TAB, tmp_path_factory.mktemp("sharded") / "tab", instances=N, shards=K)


@pytest.fixture(scope="module")
def mix3(tmp_path_factory):
    """More shards than blocks: 40 instances in 3 shards, cut inside the one block."""
    return mxbench.write_dataset(MIX, tmp_path_factory.mktemp("mix") / "mix", shards=3)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def _shards_of(folder: Path, table: str) -> list[Path]:
    return sorted(folder.glob(f"{table}-*-of-*.parquet"))


def _resign(folder: Path, name: str) -> None:
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"][name]["sha256"] = sha256_file(folder / name)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_shard_ranges_follow_the_blocks():
    assert shard_ranges(N, 3) == [(0, 4096), (4096, 8192), (8192, N)]
    assert shard_ranges(3 * BLOCK, 2) == [(0, 4096), (4096, 12288)]
    assert shard_ranges(N, 1) == [(0, N)]
    assert shard_ranges(40, 3) == [(0, 13), (13, 26), (26, 40)]  # more shards than blocks: cut inside the block
    assert shard_ranges(5, 5) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    # a range generated on its own holds the same instances as the whole
    plan = TaskPlan.from_spec(TAB.with_overrides(instances=N))
    whole = list(plan.blocks())
    part = list(plan.blocks(8200, start=4000))
    assert [(b.start, len(b)) for b in part] == [(4000, 96), (4096, 4096), (8192, 8)]
    assert np.array_equal(part[0].inputs["tab"], whole[0].inputs["tab"][4000:])
    assert np.array_equal(part[2].f, whole[2].f[:8]) and np.array_equal(part[1].target, whole[1].target)


def test_the_sharded_layout_and_manifest(sharded):
    names = set(os.listdir(sharded))
    want = {shard_name(t, k, K) for t in SHARDED_TABLES for k in range(K)} | {"players.parquet", CARD, MANIFEST}
    assert names == want and "instances-00002-of-00003.parquet" in names and len(names) == 5 * K + 3
    manifest = json.loads((sharded / MANIFEST).read_text())
    assert manifest["shards"] == [{"start": 0, "stop": 4096}, {"start": 4096, "stop": 8192},
                                  {"start": 8192, "stop": N}]
    assert set(manifest["files"]) == names - {MANIFEST}
    for name, info in manifest["files"].items():
        assert info["sha256"] == sha256_file(sharded / name) and info["bytes"] == (sharded / name).stat().st_size
    rows = {name: info["rows"] for name, info in manifest["files"].items()}
    assert [rows[shard_name("instances", k, K)] for k in range(K)] == [4096, 4096, 500]
    assert [rows[shard_name("attributions", k, K)] for k in range(K)] == [4096 * 12, 4096 * 12, 500 * 12]
    assert rows["players.parquet"] == 12 and rows[CARD] is None
    # a row group per block in every shard
    assert [pq.ParquetFile(p).num_row_groups for p in _shards_of(sharded, "terms")] == [1, 1, 1]


def test_sharded_data_equal_unsharded(plain, sharded):
    assert (plain / "players.parquet").read_bytes() == (sharded / "players.parquet").read_bytes()
    for table in SHARDED_TABLES:
        whole = pq.read_table(plain / f"{table}.parquet")
        parts = pa.concat_tables([pq.read_table(p) for p in _shards_of(sharded, table)])
        assert parts.num_rows == whole.num_rows > 0
        assert parts.equals(whole), table
    a, b = mxbench.load(plain), mxbench.load(sharded)
    assert a.n_instances == b.n_instances == N
    for name in a.inputs:
        assert np.array_equal(a.inputs[name], b.inputs[name])
    assert np.array_equal(a.target, b.target) and np.array_equal(a.split, b.split) and np.array_equal(a.f, b.f)
    assert np.array_equal(a.oracle().shapley(), b.oracle().shapley())
    stored = pd.concat([pd.read_parquet(p) for p in _shards_of(sharded, "attributions")], ignore_index=True)
    assert np.array_equal(stored["shapley"].to_numpy().reshape(N, 12), b.oracle().shapley())
    assert summary(plain)["shares"] == summary(sharded)["shares"]
    whole, parts = (json.loads((f / MANIFEST).read_text()) for f in (plain, sharded))
    assert "shards" not in whole and len(parts["shards"]) == K
    assert {k: v for k, v in whole.items() if k != "files"} == {k: v for k, v in parts.items()
                                                                if k not in ("files", "shards")}


def test_verify_and_load_cover_every_shard(sharded):
    report = verify(sharded)
    assert report.ok, str(report)
    checks = {c.name: c.detail for c in report.checks}
    assert checks["sha256"] == f"{5 * K + 2} files"
    assert checks["row counts"] == f"{N} instances in 3 shards; every shard's rows add up"
    assert "regenerated" in checks and "0.00e+00" in checks["shapley"]
    assert mxbench.load(sharded).n_instances == N


def test_more_shards_than_blocks(mix3):
    assert [pq.ParquetFile(p).metadata.num_rows for p in _shards_of(mix3, "instances")] == [13, 13, 14]
    report = verify(mix3)
    assert report.ok, str(report)
    task, fresh = mxbench.load(mix3), mxbench.generate(MIX)
    for name in fresh.inputs:
        assert np.array_equal(task.inputs[name], fresh.inputs[name])
    assert np.array_equal(task.target, fresh.target) and np.array_equal(task.f, fresh.f)
    assert np.array_equal(task.oracle().shapley(), fresh.oracle().shapley())


def test_a_tampered_shard_fails_naming_the_file(tmp_path, sharded):
    bad = _copy(sharded, tmp_path / "bad")
    path = bad / "attributions-00001-of-00003.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    report = verify(bad)
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert not report.ok and failed["sha256"].startswith("attributions-00001-of-00003.parquet: SHA-256")
    with pytest.raises(DatasetError, match=r"attributions-00001-of-00003\.parquet: SHA-256"):
        mxbench.load(bad)


def test_a_missing_shard_fails_naming_the_file(tmp_path, sharded):
    gone = _copy(sharded, tmp_path / "gone")
    (gone / "terms-00002-of-00003.parquet").unlink()
    report = verify(gone)
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert list(failed) == ["sha256", "terms schema"]
    assert failed["sha256"].startswith("terms-00002-of-00003.parquet: missing")
    assert failed["terms schema"].startswith("terms-00002-of-00003.parquet: not a readable Parquet file")
    with pytest.raises(DatasetError, match=r"terms-00002-of-00003\.parquet: missing"):
        mxbench.load(gone)
    # and a manifest that no longer lists it
    manifest = json.loads((gone / MANIFEST).read_text())
    del manifest["files"]["terms-00002-of-00003.parquet"]
    (gone / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"files lacks 'terms-00002-of-00003\.parquet'"):
        mxbench.load(gone)


def test_resigned_tampering_in_the_last_shard_is_caught_by_verify(tmp_path, sharded):
    bad = _copy(sharded, tmp_path / "bad")
    path = bad / "attributions-00002-of-00003.parquet"
    table = pq.read_table(path)
    values = table.column("shapley").to_numpy().copy()
    values[7] += 0.5
    pq.write_table(table.set_column(2, "shapley", pa.array(values)), path)
    _resign(bad, path.name)
    assert mxbench.load(bad).n_instances == N  # load checks the first block only
    failed = {c.name: c.detail for c in verify(bad).checks if not c.ok}
    assert list(failed) == ["shapley"] and "5.00e-01" in failed["shapley"]


def test_shard_ranges_in_the_manifest_are_checked(tmp_path, sharded):
    moved = _copy(sharded, tmp_path / "moved")
    manifest = json.loads((moved / MANIFEST).read_text())
    manifest["shards"][0]["stop"] = manifest["shards"][1]["start"] = 4000
    (moved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"instances-00000-of-00003\.parquet: 4096 rows, the manifest's shards "
                                           r"give it instances 0\.\.3999 \(4000 rows\)"):
        mxbench.load(moved)
    failed = {c.name: c.detail for c in verify(moved).checks if not c.ok}
    assert list(failed) == ["row counts"]
    assert "instances-00000-of-00003.parquet: 4096 rows, expected 4000 (instances 0..3999)" in failed["row counts"]
    assert "pairs-00001-of-00003.parquet: 12288 rows, expected 12576 (instances 4000..8191)" in failed["row counts"]

    manifest["shards"][1]["start"] = 4001  # a gap
    (moved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"manifest\.json: shards\[1\] is \[4001, 8192\), expected a non-empty "
                                           r"range from 4000"):
        mxbench.load(moved)
    manifest["shards"] = [{"start": 0, "stop": N}]
    (moved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match=r"manifest\.json: shards must be a list of at least 2 objects"):
        mxbench.load(moved)
    assert [c.name for c in verify(moved).checks] == ["manifest"]


def test_datasets_reads_every_shard(sharded, mix3, tmp_path):
    datasets = pytest.importorskip("datasets")
    yaml = pytest.importorskip("yaml")
    text = (sharded / CARD).read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("\n---\n", 1)[0][4:])
    assert [c["data_files"][0]["path"] for c in meta["configs"]] == [
        "instances-*.parquet", "players.parquet", "terms-*.parquet", "attributions-*.parquet", "pairs-*.parquet",
        "modalities-*.parquet"]
    task = mxbench.load(sharded)
    inst = datasets.load_dataset(str(sharded), "instances", cache_dir=str(tmp_path / "hf"))["train"]
    table = inst.with_format("arrow")[:]
    assert table.num_rows == N and table.column_names == ["instance_id", "split", "target", "f", "tab", "txt"]
    assert np.array_equal(table.column("instance_id").to_numpy(), np.arange(N))
    tab = table.column("tab").combine_chunks().flatten().to_numpy().reshape(N, -1)
    assert np.array_equal(tab, task.inputs["tab"]) and np.array_equal(table.column("f").to_numpy(), task.f)
    attr = datasets.load_dataset(str(mix3), "attributions", cache_dir=str(tmp_path / "hf"))["train"].to_pandas()
    players = len(pd.read_parquet(mix3 / "players.parquet"))
    assert len(attr) == 40 * players and attr["instance_id"].is_monotonic_increasing
    assert np.array_equal(attr["shapley"].to_numpy().reshape(40, players), mxbench.load(mix3).oracle().shapley())


def test_the_cards_pandas_recipe_reads_the_shards(mix3, monkeypatch):
    text = (mix3 / CARD).read_text(encoding="utf-8")
    assert "The dataset is written in 3 shards" in text and "### `instances-*.parquet`" in text
    code = [b.split("```", 1)[0] for b in text.split("```python\n")[1:] if SHAPLEY_RECIPE in b][0]
    monkeypatch.chdir(mix3)
    scope: dict = {}
    exec(compile(code, "card", "exec"), scope)
    truth = mxbench.generate(MIX).oracle().shapley()
    assert scope["shapley"].shape == truth.shape == (40, 4 + 4 + 5)
    assert np.max(np.abs(scope["shapley"].to_numpy() - truth)) <= 1e-9


def test_a_dask_cluster_writes_the_same_bytes(tmp_path, plain, sharded, mix3, monkeypatch, capsys):
    with dask_client("local:2") as client:
        address = client.scheduler.address
        assert sum(client.nthreads().values()) == 2
        out = mxbench.write_dataset(TAB, tmp_path / "dask", instances=N, shards=K, scheduler=address)
        assert _hashes(out) == _hashes(sharded)
        one = mxbench.write_dataset(TAB, tmp_path / "one", instances=N, scheduler=client)  # shards=1, the client
        assert _hashes(one) == _hashes(plain)
        monkeypatch.setenv(SCHEDULER_ENV, address)  # the default scheduler
        env = mxbench.write_dataset(MIX, tmp_path / "env", shards=3)
        assert _hashes(env) == _hashes(mix3)
        monkeypatch.delenv(SCHEDULER_ENV)
        assert main(["-q", "generate", "--spec", str(_spec_file(tmp_path)), "--out", str(tmp_path / "cli"),
                     "--shards", "3", "--scheduler", address]) == 0
        assert _hashes(tmp_path / "cli") == _hashes(mix3)
        # a worker with other versions would write other bytes: refused, and nothing is left
        with monkeypatch.context() as m:
            m.setattr(writer_mod, "_versions", lambda: {"mxbench": "0.0", "pyarrow": "0", "numpy": "0"})
            parent = tmp_path / "refused"
            with pytest.raises(SchedulerError, match=r"a worker runs .* this process .*'mxbench': '0\.0'"):
                mxbench.write_dataset(MIX, parent / "mix", shards=3, scheduler=address)
            assert not parent.exists()
        # a shard that fails on a worker (here: the worker's spec hashes otherwise): its error, nothing left
        with monkeypatch.context() as m:
            m.setattr(TaskSpec, "spec_hash", lambda self: "0" * 64)
            parent = tmp_path / "failed"
            with pytest.raises(SpecError, match=r"spec: hashes to [0-9a-f]{12} on this worker, the client's is "
                                                r"000000000000"):
                mxbench.write_dataset(MIX, parent / "mix", shards=3, scheduler=address)
            assert not parent.exists()
    capsys.readouterr()


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "mix.json"
    path.write_text(json.dumps(MIX))
    return path


def test_a_failure_in_a_later_shard_leaves_nothing(tmp_path, monkeypatch):
    original = writer_mod._TableWriters.write_block

    def failing(self, block):
        if block.start >= BLOCK:
            raise RuntimeError("disk full")
        return original(self, block)

    monkeypatch.setattr(writer_mod._TableWriters, "write_block", failing)
    parent = tmp_path / "p"
    parent.mkdir()
    with pytest.raises(RuntimeError, match="disk full"):
        mxbench.write_dataset(TAB, parent / "tab", instances=N, shards=K)
    assert os.listdir(parent) == []


@pytest.mark.parametrize("shards, shown", [(0, "got 0"), (N + 1, f"got {N + 1}"), (2.5, "got 2.5"), ("2", "got '2'"),
                                           (True, "got True"), (None, "got None")])
def test_bad_shards_are_refused_before_writing(tmp_path, shards, shown):
    with pytest.raises(SpecError) as info:
        mxbench.write_dataset(TAB, tmp_path / "x" / "tab", instances=N, shards=shards)
    assert info.value.field == "shards"
    assert str(info.value) == f"shards: expected an integer from 1 to {N} (the number of instances), {shown}"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("value, message", [
    ("0", "mxbench: error: shards: expected an integer from 1 to 40 (the number of instances), got 0"),
    ("41", "mxbench: error: shards: expected an integer from 1 to 40 (the number of instances), got 41"),
    ("two", "mxbench: error: generate: argument --shards: invalid int value: 'two'"),
    ("1.5", "mxbench: error: generate: argument --shards: invalid int value: '1.5'"),
])
def test_cli_bad_shards_exit_2_in_one_line(tmp_path, capsys, value, message):
    spec = _spec_file(tmp_path)
    try:
        status = main(["generate", "--spec", str(spec), "--out", str(tmp_path / "out" / "mix"), "--shards", value])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and err == message + "\n"
    assert sorted(os.listdir(tmp_path)) == ["mix.json"]


def test_cli_bad_scheduler_exits_2_and_writes_nothing(tmp_path, capsys):
    status = main(["generate", "--spec", str(_spec_file(tmp_path)), "--out", str(tmp_path / "out"), "--shards", "2",
                   "--scheduler", "local:0"])
    assert status == 2
    assert capsys.readouterr().err == ("mxbench: error: scheduler: expected 'local:N' with N a positive integer, "
                                       "got 'local:0'\n")
    assert sorted(os.listdir(tmp_path)) == ["mix.json"]


def test_a_suite_in_shards_and_overwriting_a_sharded_dataset(tmp_path):
    out = mxbench.write_dataset("smoke", tmp_path / "suite", instances=10, shards=2)
    for task in ("smoke-tab-txt", "smoke-img-txt", "smoke-mix3"):
        assert len(_shards_of(out / task, "instances")) == 2
    assert [r.ok for r in verify_all(out)] == [True] * 4
    with pytest.raises(SpecError, match=r"shards: expected an integer from 1 to 10 \(the number of instances of task "
                                        r"'smoke-tab-txt'\), got 11"):
        mxbench.write_dataset("smoke", tmp_path / "big", instances=10, shards=11)
    assert not (tmp_path / "big").exists()
    # a sharded dataset is mxbench's output: it may be overwritten, here by the unsharded one
    folder = mxbench.write_dataset(MIX, tmp_path / "mix", shards=4)
    mxbench.write_dataset(MIX, folder, overwrite=True)
    assert set(os.listdir(folder)) == {f"{t}.parquet" for t in TABLES} | {CARD, MANIFEST} and verify(folder).ok
