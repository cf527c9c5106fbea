"""Writes remove only what they created, refuse to overwrite what is not mxbench's, and clean up after killed writers."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import mxbench
from mxbench.cli import main
from mxbench.data import verify
from mxbench.data import writer as writer_mod
from mxbench.data.writer import atomic_dir, check_replaceable, clean_stale_temporaries, sha256_file

SPEC = {"name": "mix", "seed": 0, "instances": 40, "target": "regression", "noise": 0.05,
        "modalities": [{"name": "tab", "kind": "tabular", "features": 4},
                       {"name": "txt", "kind": "text", "length": 6, "vocab": 32}],
        "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                  {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:2"], "weight": 2.0}]}


def _tree(root: Path) -> dict[str, str]:
    """Every entry under ``root``: relative path -> SHA-256 of a file, or '/' for a folder."""
    return {str(p.relative_to(root)): "/" if p.is_dir() else sha256_file(p) for p in sorted(root.rglob("*"))}


def _no_private_folders(root: Path) -> bool:
    return not [p for p in root.rglob(".mxbench-*")]


def _fail_after_first_block(monkeypatch, action):
    original = writer_mod._TableWriters.write_block

    def failing(self, block):
        original(self, block)
        action()

    monkeypatch.setattr(writer_mod._TableWriters, "write_block", failing)


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


# ---------------------------------------------------------------- 1. it removes only what it created
@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_keeps_what_another_program_wrote_into_a_created_parent(tmp_path, monkeypatch, exc):
    notes = tmp_path / "new" / "notes.txt"

    def other_program_then_fail():
        notes.write_text("mine")
        raise exc

    _fail_after_first_block(monkeypatch, other_program_then_fail)
    with pytest.raises(type(exc)):
        mxbench.write_dataset(SPEC, tmp_path / "new" / "deeper" / "ds")
    assert notes.read_text() == "mine"
    assert os.listdir(tmp_path / "new") == ["notes.txt"]  # 'deeper' was ours and empty: removed


def test_sigterm_cleans_up_and_keeps_what_others_wrote(tmp_path):
    out, ready = tmp_path / "new" / "ds", tmp_path / "ready"
    script = textwrap.dedent(f"""
        import json, pathlib, sys, time
        import mxbench
        from mxbench.data import writer
        original = writer._TableWriters.write_block
        def slow(self, block):
            original(self, block)
            pathlib.Path({str(ready)!r}).write_text("x")
            time.sleep(120)
        writer._TableWriters.write_block = slow
        mxbench.write_dataset(json.loads({json.dumps(json.dumps(SPEC))}), {str(out)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert [p.name.startswith(".mxbench-tmp-") for p in out.parent.iterdir()] == [True]
        (out.parent / "notes.txt").write_text("mine")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.listdir(out.parent) == ["notes.txt"]


def test_failed_final_rename_keeps_the_users_files(tmp_path, monkeypatch):
    out = tmp_path / "new" / "ds"
    original = writer_mod._rename_noreplace

    def failing(src, dst):
        if Path(dst) == out:
            (out.parent / "user.txt").write_text("mine")
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        return original(src, dst)

    monkeypatch.setattr(writer_mod, "_rename_noreplace", failing)
    with pytest.raises(mxbench.DatasetError, match=f"cannot write {str(out)!r}"):
        mxbench.write_dataset(SPEC, out)
    assert os.listdir(out.parent) == ["user.txt"]


def test_failed_final_rename_of_an_overwrite_puts_the_previous_dataset_back(tmp_path, monkeypatch):
    out = mxbench.write_dataset(SPEC, tmp_path / "ds")
    (tmp_path / "user.txt").write_text("mine")
    before = _tree(tmp_path)
    original = writer_mod._rename_noreplace

    def failing(src, dst):
        if Path(dst) == out and ".mxbench-tmp-" in str(src):
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
        return original(src, dst)

    monkeypatch.setattr(writer_mod, "_rename_noreplace", failing)
    with pytest.raises(mxbench.DatasetError, match="cannot write"):
        mxbench.write_dataset(SPEC, out, seed=1, overwrite=True)
    assert _tree(tmp_path) == before


def _race(tmp_path, monkeypatch, out, overwrite):
    """Two threads write ``out`` (seeds 1 and 2), both held at the commit until both are there.

    The commit is the final rename, preceded, in an overwrite, by setting the old output aside;
    one thread at a time runs it.
    """
    barrier, lock = threading.Barrier(2), threading.Lock()
    rename, set_aside = writer_mod._rename_noreplace, writer_mod._set_aside

    def gated_set_aside(*args):
        barrier.wait(timeout=60)
        lock.acquire()  # released after this thread's final rename, or here if it is refused
        try:
            return set_aside(*args)
        except BaseException:
            lock.release()
            raise

    def gated_rename(src, dst):
        if Path(dst) != out or ".mxbench-tmp-" not in str(src):
            return rename(src, dst)
        if not overwrite:
            barrier.wait(timeout=60)
            lock.acquire()
        try:
            return rename(src, dst)
        finally:
            lock.release()

    monkeypatch.setattr(writer_mod, "_rename_noreplace", gated_rename)
    monkeypatch.setattr(writer_mod, "_set_aside", gated_set_aside)
    results: dict[int, object] = {}

    def run(seed):
        try:
            results[seed] = mxbench.write_dataset(SPEC, out, seed=seed, overwrite=overwrite)
        except BaseException as e:  # noqa: BLE001 - recorded for the assertions
            results[seed] = e

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


@pytest.mark.parametrize("atomic_rename", [True, False], ids=["renameat2", "check-then-rename"])
def test_concurrent_writers_one_wins_the_other_is_refused(tmp_path, monkeypatch, atomic_rename):
    if not atomic_rename:
        monkeypatch.setattr(writer_mod, "_renameat2_noreplace", lambda src, dst: -1)
    out = tmp_path / "new" / "ds"
    results = _race(tmp_path, monkeypatch, out, overwrite=False)
    won = [s for s, r in results.items() if isinstance(r, Path)]
    lost = [r for r in results.values() if isinstance(r, mxbench.DatasetError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert str(out) in str(lost[0]) and "appeared while this run was writing it" in str(lost[0])
    reference = mxbench.write_dataset(SPEC, tmp_path / "reference", seed=won[0])
    assert _tree(out) == _tree(reference)  # the winner's dataset, whole and untouched
    assert os.listdir(out.parent) == ["ds"]


def test_concurrent_overwriters_one_wins_the_other_is_refused(tmp_path, monkeypatch):
    out = mxbench.write_dataset(SPEC, tmp_path / "ds")
    results = _race(tmp_path, monkeypatch, out, overwrite=True)
    won = [s for s, r in results.items() if isinstance(r, Path)]
    lost = [r for r in results.values() if isinstance(r, mxbench.DatasetError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert str(out) in str(lost[0]) and "changed while this run was writing it" in str(lost[0])
    reference = mxbench.write_dataset(SPEC, tmp_path / "reference", seed=won[0])
    assert _tree(out) == _tree(reference)
    assert sorted(os.listdir(tmp_path)) == ["ds", "reference"]


def test_concurrent_cli_processes_one_dataset_one_refusal(tmp_path, spec_file):
    out = tmp_path / "new" / "ds"
    cmd = [sys.executable, "-m", "mxbench", "generate", "--spec", str(spec_file), "--out", str(out), "--quiet"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outputs
    refusal = [err for p, (_, err) in zip(procs, outputs) if p.returncode == 2][0]
    assert str(out) in refusal and len(refusal.strip().splitlines()) == 1
    assert verify(out).ok
    assert os.listdir(out.parent) == ["ds"]


# ---------------------------------------------------------------- 2. --overwrite checks content, not a file name
def _web_project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "src" / "index.js").write_text("console.log(1)")
    (root / "manifest.json").write_text(json.dumps({"name": "my app", "start_url": "/"}))
    return root


def test_overwrite_refuses_a_foreign_manifest_json(tmp_path, spec_file, capsys):
    web = _web_project(tmp_path / "web")
    before = _tree(web)
    assert main(["generate", "--spec", str(spec_file), "--out", str(web), "--quiet", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(web) in err and "not mxbench's output" in err
    assert _tree(web) == before and _no_private_folders(tmp_path)


def test_overwrite_refuses_a_foreign_suite_json(tmp_path):
    folder = tmp_path / "suite"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "data.csv").write_text("1,2\n")
    (folder / "suite.json").write_text(json.dumps({"tests": ["a"]}))
    before = _tree(folder)
    with pytest.raises(mxbench.DatasetError, match="suite.json is not mxbench's"):
        mxbench.write_dataset(SPEC, folder, overwrite=True)
    assert _tree(folder) == before


def test_overwrite_refuses_a_foreign_config_json(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"compilerOptions": {}}))
    (folder / "app.ts").write_text("export {}")
    before = _tree(folder)
    ran = []
    with pytest.raises(mxbench.DatasetError, match=r"config\.json is not mxbench's.*refusing"):
        with atomic_dir(folder, overwrite=True, markers=("config.json",)):
            ran.append(True)
    assert not ran and _tree(folder) == before


def _model_folder(folder: Path, weights: bytes) -> Path:
    folder.mkdir()
    (folder / "weights.pt").write_bytes(weights)
    doc = {"format": "mxbench-model", "schema_version": 1, "mxbench_version": mxbench.__version__,
           "arch": "fusion_mlp", "config": {}, "weights_sha256": sha256_file(folder / "weights.pt")}
    (folder / "config.json").write_text(json.dumps(doc))
    return folder


def test_overwrite_of_a_model_folder_checks_the_weights(tmp_path):
    folder = _model_folder(tmp_path / "model", b"weights")
    assert check_replaceable(folder, ("config.json",)) == "mxbench model"
    (folder / "weights.pt").write_bytes(b"other weights")
    before = _tree(folder)
    with pytest.raises(mxbench.DatasetError, match="'weights.pt' does not match its SHA-256 in config.json"):
        with atomic_dir(folder, overwrite=True, markers=("config.json",)):
            pass
    assert _tree(folder) == before
    (folder / "weights.pt").write_bytes(b"weights")
    with atomic_dir(folder, overwrite=True, markers=("config.json",)) as tmp:
        (tmp / "config.json").write_text("{}")
    assert os.listdir(folder) == ["config.json"] and os.listdir(tmp_path) == ["model"]


@pytest.mark.parametrize("forgery", ["extra file", "altered file", "copied manifest", "subfolder"])
def test_overwrite_refuses_a_dataset_that_is_not_exactly_mxbenchs(tmp_path, forgery):
    folder = mxbench.write_dataset(SPEC, tmp_path / "ds")
    if forgery == "extra file":
        (folder / "notes.txt").write_text("mine")
    elif forgery == "altered file":
        (folder / "README.md").write_text("my own readme")
    elif forgery == "copied manifest":
        for p in folder.iterdir():
            if p.name != "manifest.json":
                p.unlink()
        (folder / "index.html").write_text("<html>")
    else:
        (folder / "src").mkdir()
    before = _tree(folder)
    with pytest.raises(mxbench.DatasetError, match=f"{str(folder)!r} exists and .*it is not mxbench's output"):
        mxbench.write_dataset(SPEC, folder, seed=1, overwrite=True)
    assert _tree(folder) == before and _no_private_folders(tmp_path)


def test_overwrite_replaces_a_genuine_dataset_and_suite(tmp_path, spec_file, capsys):
    out = tmp_path / "ds"
    assert main(["generate", "--spec", str(spec_file), "--out", str(out), "--quiet"]) == 0
    assert main(["generate", "--spec", str(spec_file), "--out", str(out), "--quiet", "--overwrite",
                 "--seed", "3"]) == 0
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3 and verify(out).ok
    suite = mxbench.write_dataset("smoke", tmp_path / "suite", instances=8)
    assert check_replaceable(suite) == "mxbench suite"
    mxbench.write_dataset("smoke", suite, instances=9, overwrite=True)
    assert json.loads((suite / "smoke-mix3" / "manifest.json").read_text())["instances"] == 9
    assert sorted(os.listdir(tmp_path)) == ["ds", "spec.json", "suite"]


def test_a_file_added_during_an_overwrite_stops_it(tmp_path, monkeypatch):
    out = mxbench.write_dataset(SPEC, tmp_path / "ds")
    _fail_after_first_block(monkeypatch, lambda: (out / "notes.txt").write_text("mine"))
    with pytest.raises(mxbench.DatasetError, match="changed while this run was writing it.*'notes.txt'"):
        mxbench.write_dataset(SPEC, out, seed=1, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine" and json.loads((out / "manifest.json").read_text())["seed"] == 0
    assert os.listdir(tmp_path) == ["ds"]


# ---------------------------------------------------------------- 3. stale temporaries
def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    host, dead = writer_mod._host_tag(), _dead_pid()
    stale = tmp_path / f".mxbench-tmp-{dead}-{host}-0a1b"
    live = tmp_path / f".mxbench-tmp-{os.getpid()}-{host}-0a1b"
    elsewhere = tmp_path / f".mxbench-tmp-{dead}-{'0' * 8 if host != '0' * 8 else '1' * 8}-0a1b"
    other = tmp_path / ".mxbench-tmp-notes"
    for folder in (stale, live, elsewhere, other):
        folder.mkdir()
        (folder / "instances.parquet").write_bytes(b"partial")
    mxbench.write_dataset(SPEC, tmp_path / "ds")  # a write into the parent cleans it first
    assert sorted(os.listdir(tmp_path)) == sorted(["ds", live.name, elsewhere.name, other.name])
    assert clean_stale_temporaries(tmp_path) == []


def test_stale_set_aside_output_is_restored_when_its_replacement_never_came(tmp_path):
    host = writer_mod._host_tag()
    out = mxbench.write_dataset(SPEC, tmp_path / "ds")
    before = _tree(out)
    old = tmp_path / f".mxbench-old-{_dead_pid()}-{host}-0a1b"
    old.mkdir()
    out.rename(old / "ds")
    assert clean_stale_temporaries(tmp_path) == [old]
    assert os.listdir(tmp_path) == ["ds"] and _tree(out) == before


def test_model_save_overwrites_only_a_model_folder(tmp_path):
    from mxbench.models import load, train

    task = mxbench.generate("smoke", instances=300)[0]
    model = train(task, "fusion_mlp", epochs=1, certify=False)
    web = _web_project(tmp_path / "web")
    (web / "config.json").write_text(json.dumps({"compilerOptions": {}}))
    before = _tree(web)
    with pytest.raises(mxbench.MxbenchError, match=f"{str(web)!r} exists and .*config.json is not mxbench's"):
        model.save(web, overwrite=True)
    assert _tree(web) == before
    out = model.save(tmp_path / "m")
    model.save(out, overwrite=True)
    assert load(out, task).arch == "fusion_mlp" and sorted(os.listdir(out)) == ["config.json", "weights.pt"]
    assert sorted(os.listdir(tmp_path)) == ["m", "web"]
