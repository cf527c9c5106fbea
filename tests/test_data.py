"""Parquet datasets: round trip, determinism, atomic writes, tamper detection, readable without mxbench."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mxbench
from mxbench.data import load_suite, read_manifest, summary, verify
from mxbench.data import writer as writer_mod
from mxbench.data.writer import sha256_file
from mxbench.generators.suites import suite_specs

MIX = {"name": "mix", "seed": 0, "instances": 300, "target": "regression", "noise": 0.05,
       "modalities": [{"name": "tab", "kind": "tabular", "features": 6},
                      {"name": "img", "kind": "image", "channels": 1, "size": 16, "patch": 4},
                      {"name": "txt", "kind": "text", "length": 8, "vocab": 64}],
       "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                 {"kind": "synergy", "op": "product", "players": ["img:3", "txt:2"], "weight": 2.0},
                 {"kind": "redundancy", "players": ["tab:1", "img:5"], "weight": 1.5}],
       "pairs": [["tab:2", "txt:0"]]}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "mix"
    mxbench.write_dataset(MIX, out)
    return out


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_round_trip_equals_generated(written):
    task = mxbench.generate(MIX)
    loaded = mxbench.load(written)
    assert loaded.n_instances == 300 and loaded.n_players == task.n_players == 6 + 16 + 8
    for name in task.inputs:
        assert loaded.inputs[name].dtype == task.inputs[name].dtype
        assert np.array_equal(loaded.inputs[name], task.inputs[name])
    assert np.array_equal(loaded.target, task.target)
    assert np.array_equal(loaded.split, task.split)
    assert np.array_equal(loaded.latents, task.latents)
    assert loaded.terms == task.terms
    assert np.array_equal(loaded.oracle().shapley(), task.oracle().shapley())
    coal = np.random.default_rng(0).random((20, task.n_players)) < 0.5
    assert np.array_equal(loaded.game(7)(coal), task.game(7)(coal))


def test_stored_truth_matches_the_oracle(written):
    task = mxbench.generate(MIX)
    oracle = task.oracle()
    attr = pd.read_parquet(written / "attributions.parquet")
    assert len(attr) == 300 * task.n_players
    assert np.array_equal(attr["shapley"].to_numpy().reshape(300, -1), oracle.shapley())
    assert np.array_equal(attr["banzhaf"].to_numpy().reshape(300, -1), oracle.banzhaf())
    pairs = pd.read_parquet(written / "pairs.parquet")
    first = pairs[pairs.instance_id == 0]
    # the planted synergy pair, the planted redundancy pair, then the asked pair
    assert first[["i", "j", "kind"]].values.tolist() == [[9, 24, "synergy"], [1, 11, "redundancy"], [2, 22, "asked"]]
    sii = oracle.pair_values(first[["i", "j"]].to_numpy(), "SII")
    assert np.array_equal(pairs["sii"].to_numpy().reshape(300, 3), sii)
    assert np.all(pairs[pairs.kind == "asked"]["sii"] == 0.0)
    mods = pd.read_parquet(written / "modalities.parquet")
    assert np.array_equal(mods["shapley"].to_numpy().reshape(300, 3), oracle.modality_shapley())
    assert np.array_equal(mods["influence"].to_numpy().reshape(300, 3), oracle.modality_influence())
    players = pd.read_parquet(written / "players.parquet")
    assert players.role.value_counts().to_dict() == {"distractor": 25, "synergy": 2, "redundancy": 2, "unique": 1}


def test_readable_without_mxbench_following_the_card(written):
    """Rebuild the game of an instance from terms.parquet and the manifest alone, as the card says."""
    task = mxbench.generate(MIX)
    terms = pq.read_table(written / "terms.parquet").to_pandas()
    intercept = json.loads((written / "manifest.json").read_text())["intercept"]
    rows = terms[terms.instance_id == 5]
    rng = np.random.default_rng(1)
    coal = rng.random((30, task.n_players)) < 0.5
    expected = task.game(5)(coal)
    for c, want in zip(coal, expected):
        present = set(np.flatnonzero(c))
        total = intercept
        for players, table in zip(rows.players, rows.table):
            total += table[sum(1 << j for j, p in enumerate(players) if p in present)]
        assert total == pytest.approx(want, abs=1e-12)
    schema = pq.read_schema(written / "instances.parquet")
    assert json.loads(schema.metadata[b"mxbench.shapes"]) == {"tab": [6], "img": [1, 16, 16], "txt": [8]}
    card = (written / "README.md").read_text()
    for table in ("instances", "players", "terms", "attributions", "pairs", "modalities"):
        assert f"`{table}.parquet`" in card


def test_byte_identical_across_processes(tmp_path, written):
    spec_file = tmp_path / "mix.json"
    spec_file.write_text(json.dumps(MIX))
    out = tmp_path / "again"
    code = ("import json, mxbench; mxbench.write_dataset(json.load(open(%r)), %r)" % (str(spec_file), str(out)))
    subprocess.run([sys.executable, "-c", code], check=True)
    assert _hashes(out) == _hashes(written)
    manifest = read_manifest(out)
    assert manifest["files"]["attributions.parquet"]["sha256"] == sha256_file(written / "attributions.parquet")


def test_another_seed_gives_other_files(tmp_path, written):
    out = mxbench.write_dataset(MIX, tmp_path / "seed1", seed=1)
    assert sha256_file(out / "instances.parquet") != sha256_file(written / "instances.parquet")
    assert read_manifest(out)["seed"] == 1


def test_verify_passes_and_lists_checks(written):
    report = verify(written)
    assert report.ok, str(report)
    names = [c.name for c in report.checks]
    assert names[:7] == ["manifest", "sha256", "manifest fields", "terms and codebooks", "schemas", "row counts",
                         "players"]
    assert {"columns", "regenerated", "term tables", "f", "shapley", "banzhaf", "sii", "modality shapley",
            "influence"} <= set(names)


def test_flipped_byte_is_caught(tmp_path, written):
    bad = _copy(written, tmp_path / "bad")
    data = bytearray((bad / "attributions.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "attributions.parquet").write_bytes(bytes(data))
    with pytest.raises(mxbench.DatasetError, match=r"attributions\.parquet: SHA-256"):
        mxbench.load(bad)
    report = verify(bad)
    assert not report.ok
    assert [c.name for c in report.checks if not c.ok][0] == "sha256"


def _rewrite(folder: Path, table: str, fn) -> None:
    """Rewrite a table through ``fn`` keeping its row groups, and fix the manifest's hash."""
    path = folder / f"{table}.parquet"
    pf = pq.ParquetFile(path)
    groups = [fn(pf.read_row_group(g)) for g in range(pf.num_row_groups)]
    with pq.ParquetWriter(path, groups[0].schema) as w:
        for g in groups:
            w.write_table(g)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][path.name]["sha256"] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_consistent_tampering_is_caught_by_recomputing_the_truth(tmp_path, written):
    """An altered Shapley value with a re-signed manifest still fails: the truth is recomputed."""
    bad = _copy(written, tmp_path / "bad")

    def bump(t: pa.Table) -> pa.Table:
        values = t.column("shapley").to_numpy().copy()
        values[3] += 0.25
        return t.set_column(2, "shapley", pa.array(values))

    _rewrite(bad, "attributions", bump)
    assert mxbench.load(bad).n_instances == 300  # hashes agree now, so loading succeeds
    report = verify(bad)
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert list(failed) == ["shapley"]
    assert "2.50e-01" in failed["shapley"]


def test_altered_term_table_is_caught(tmp_path, written):
    bad = _copy(written, tmp_path / "bad")

    def bump(t: pa.Table) -> pa.Table:
        tables = t.column("table").to_pylist()
        tables[0][1] += 1.0
        return t.set_column(5, "table", pa.array(tables, type=pa.list_(pa.float64())))

    _rewrite(bad, "terms", bump)
    failed = [c.name for c in verify(bad).checks if not c.ok]
    assert "term tables" in failed and "shapley" in failed


def test_truncated_file(tmp_path, written):
    bad = _copy(written, tmp_path / "bad")
    path = bad / "instances.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(mxbench.DatasetError, match=r"instances\.parquet: SHA-256"):
        mxbench.load(bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["files"]["instances.parquet"]["sha256"] = sha256_file(path)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mxbench.DatasetError, match=r"instances\.parquet: not a readable Parquet file"):
        mxbench.load(bad)
    assert not verify(bad).ok


def test_other_schema_version_missing_file_and_bad_manifest(tmp_path, written):
    bad = _copy(written, tmp_path / "v2")
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["schema_version"] = 2
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mxbench.DatasetError, match=r"schema_version is 2; this mxbench reads version 1"):
        mxbench.load(bad)
    assert [c.name for c in verify(bad).checks] == ["manifest"] and not verify(bad).ok

    gone = _copy(written, tmp_path / "gone")
    (gone / "pairs.parquet").unlink()
    with pytest.raises(mxbench.DatasetError, match=r"pairs\.parquet: missing"):
        mxbench.load(gone)

    junk = _copy(written, tmp_path / "junk")
    (junk / "manifest.json").write_text("{not json")
    with pytest.raises(mxbench.DatasetError, match=r"manifest\.json: unreadable or not JSON"):
        mxbench.load(junk)

    with pytest.raises(mxbench.DatasetError, match=r"manifest\.json is missing"):
        mxbench.load(tmp_path)


def test_wrong_column_type_is_a_schema_error(tmp_path, written):
    bad = _copy(written, tmp_path / "bad")
    _rewrite(bad, "modalities", lambda t: t.set_column(2, "shapley", t.column("shapley").cast(pa.float32())))
    report = verify(bad)
    assert [c.name for c in report.checks if not c.ok] == ["modalities schema"]


def test_atomic_write_leaves_nothing_on_error(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = writer_mod._TableWriters.write_block

    def failing(self, block):
        calls["n"] += 1
        original(self, block)
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_mod._TableWriters, "write_block", failing)
    out = tmp_path / "deep" / "er" / "mix"
    with pytest.raises(RuntimeError, match="disk full"):
        mxbench.write_dataset(MIX, out)
    assert calls["n"] == 1
    assert os.listdir(tmp_path) == []


def test_existing_folder_is_an_error_unless_overwrite(tmp_path):
    out = tmp_path / "mix"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(mxbench.DatasetError, match="already exists"):
        mxbench.write_dataset(MIX, out, instances=10)
    with pytest.raises(mxbench.DatasetError, match="it is not mxbench's output; refusing"):
        mxbench.write_dataset(MIX, out, instances=10, overwrite=True)
    assert os.listdir(out) == ["keep.txt"]
    other = mxbench.write_dataset(MIX, tmp_path / "other", instances=10)
    mxbench.write_dataset(MIX, other, instances=12, overwrite=True)
    assert mxbench.load(other).n_instances == 12
    assert sorted(os.listdir(tmp_path)) == ["mix", "other"]
    assert oct(os.stat(other).st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_failed_overwrite_keeps_the_previous_dataset(tmp_path, monkeypatch):
    out = mxbench.write_dataset(MIX, tmp_path / "mix", instances=10)
    before = _hashes(out)

    def failing(self, block):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_mod._TableWriters, "write_block", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        mxbench.write_dataset(MIX, out, instances=12, overwrite=True)
    assert _hashes(out) == before
    assert sorted(os.listdir(tmp_path)) == ["mix"]


def test_overwriting_the_current_folder_is_refused(tmp_path, monkeypatch):
    out = mxbench.write_dataset(MIX, tmp_path / "mix", instances=10)
    monkeypatch.chdir(out)
    with pytest.raises(mxbench.DatasetError, match="contains the current folder"):
        mxbench.write_dataset(MIX, ".", instances=10, overwrite=True)
    assert mxbench.load(out).n_instances == 10


def test_bad_spec_writes_nothing(tmp_path):
    bad = dict(MIX, terms=[{"kind": "synergy", "op": "nand", "players": ["tab:0", "tab:1"]}])
    with pytest.raises(mxbench.SpecError, match=r"terms\[0\]\.op"):
        mxbench.write_dataset(bad, tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []


def test_multi_block_streaming_matches_in_memory(tmp_path):
    spec = {"name": "long", "instances": 9000, "modalities": [{"name": "t", "kind": "tabular", "features": 3}],
            "terms": [{"kind": "synergy", "players": ["t:0", "t:1"]}]}
    out = mxbench.write_dataset(spec, tmp_path / "long")
    assert pq.ParquetFile(out / "instances.parquet").num_row_groups == 3
    loaded, task = mxbench.load(out), mxbench.generate(spec)
    assert np.array_equal(loaded.inputs["t"], task.inputs["t"])
    assert np.array_equal(pd.read_parquet(out / "attributions.parquet")["shapley"].to_numpy(),
                          task.oracle().shapley().ravel())
    assert verify(out).ok


def test_suite_folder(tmp_path):
    out = mxbench.write_dataset("smoke", tmp_path / "smoke", instances=12)
    tasks = load_suite(out)
    assert sorted(tasks) == sorted(s.name for s in suite_specs("smoke"))
    assert all(t.n_instances == 12 for t in tasks.values())
    with pytest.raises(mxbench.DatasetError, match="is a suite folder"):
        mxbench.load(out)
    doc = json.loads((out / "suite.json").read_text())
    assert [t["manifest_sha256"] for t in doc["tasks"]] == [
        sha256_file(out / t["name"] / "manifest.json") for t in doc["tasks"]]
    s = summary(out / "smoke-mix3")
    assert s["players"] == 12 and s["roles"]["distractor"] == 4
    assert sum(s["shares"].values()) == pytest.approx(1.0)


def test_classification_target_is_integer(tmp_path):
    out = mxbench.write_dataset("smoke", tmp_path / "s", instances=64)
    frame = pd.read_parquet(out / "smoke-img-txt" / "instances.parquet")
    assert frame["target"].dtype == np.int64 and set(frame["target"]) <= {0, 1}
    assert set(frame["split"]) <= {"train", "val", "test"}


def _swap_strings(column: str, a: str, b: str):
    def fn(t: pa.Table) -> pa.Table:
        values = t.column(column).to_numpy(zero_copy_only=False).astype(object)
        swapped = np.where(values == a, b, np.where(values == b, a, values))
        return t.set_column(t.schema.get_field_index(column), column, pa.array(swapped.tolist(), pa.string()))
    return fn


@pytest.mark.parametrize("table, fn, failed", [
    ("pairs", _swap_strings("kind", "synergy", "redundancy"), "columns"),
    ("terms", _swap_strings("kind", "unique", "synergy"), "columns"),
    ("terms", _swap_strings("op", "identity", "product"), "columns"),
    ("modalities", _swap_strings("modality", "tab", "img"), "columns"),
    ("attributions", lambda t: t.set_column(0, "instance_id", pa.array(t.column(0).to_numpy() + 1)), "columns"),
    ("instances", _swap_strings("split", "train", "test"), "regenerated"),
    ("instances", lambda t: t.set_column(2, "target", pa.array(t.column(2).to_numpy() + 1.0)), "regenerated"),
])
def test_relabelled_columns_are_caught(tmp_path, written, table, fn, failed):
    bad = _copy(written, tmp_path / "bad")
    _rewrite(bad, table, fn)
    report = verify(bad)
    assert [c.name for c in report.checks if not c.ok] == [failed], str(report)


def test_manifest_fields_are_checked_against_the_spec(tmp_path, written):
    bad = _copy(written, tmp_path / "bad")
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["intercept"] = 3.0
    manifest["terms"][0]["weight"] = 9.0
    (bad / "manifest.json").write_text(json.dumps(manifest))
    failed = [c.name for c in verify(bad).checks if not c.ok]
    assert failed[:2] == ["manifest fields", "terms and codebooks"]


@pytest.mark.parametrize("edit, match", [
    (lambda m: m.update(files=5), "files has the wrong type"),
    (lambda m: m.update(files={"README.md": "abc"}), r"files\['README.md'\] must be an object"),
    (lambda m: m["files"].update({"../evil": {"sha256": "x"}}), "unexpected file '../evil'"),
    (lambda m: m.update(instances=None), "instances has the wrong type"),
    (lambda m: m.pop("name"), "the key 'name' is missing"),
    (lambda m: m["spec"].update(noise=10 ** 400), r"manifest\.json: noise"),
    (lambda m: m["terms"].__setitem__(0, {"kind": "unique"}), r"manifest\.json: terms\[0\]\.players"),
])
def test_malformed_manifests_give_dataset_errors(tmp_path, written, edit, match):
    bad = _copy(written, tmp_path / "bad")
    manifest = json.loads((bad / "manifest.json").read_text())
    edit(manifest)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mxbench.DatasetError, match=match):
        mxbench.load(bad)
    assert not verify(bad).ok


def test_byte_identical_with_other_cpu_features(tmp_path):
    """numpy picks SIMD kernels by CPU; files must not depend on them (tanh terms, sigmoid labels)."""
    here = mxbench.write_dataset("smoke", tmp_path / "here", instances=64)
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES="X86_V3 X86_V4 AVX512_ICL AVX512_SPR")
    code = "import mxbench; mxbench.write_dataset('smoke', %r, instances=64)" % str(tmp_path / "there")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if result.returncode and "NPY_DISABLE_CPU_FEATURES" in result.stderr:
        pytest.skip("this CPU cannot disable those numpy features")
    assert result.returncode == 0, result.stderr
    for task in ("smoke-tab-txt", "smoke-img-txt", "smoke-mix3"):
        assert _hashes(tmp_path / "there" / task) == _hashes(here / task)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["terms"][1].update(players=["img:3", "tab:0"]), r"player 'tab:0' is already read by terms\[0\]"),
    (lambda m: m["codebooks"]["txt"]["values"].__setitem__(2, 0.5), "neutral tokens at 0"),
    (lambda m: m["codebooks"]["img"].update(template=[0.0] * 16), "template must be finite and non-zero"),
])
def test_inconsistent_stored_terms_or_codebooks(tmp_path, written, edit, match):
    bad = _copy(written, tmp_path / "bad")
    manifest = json.loads((bad / "manifest.json").read_text())
    edit(manifest)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(mxbench.DatasetError, match=match):
        mxbench.load(bad)
