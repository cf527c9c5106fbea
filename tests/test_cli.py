"""The mxbench command line: generate, verify, suites, inspect; bad input exits 2 in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mxbench.cli import main

SPEC = {"name": "cli", "seed": 3, "instances": 40,
        "modalities": [{"name": "tab", "kind": "tabular", "features": 4},
                       {"name": "txt", "kind": "text", "length": 3, "vocab": 16}],
        "terms": [{"kind": "synergy", "op": "xor", "players": ["tab:0", "txt:1"], "weight": 1.0},
                  {"kind": "unique", "players": ["tab:2"], "fn": "tanh", "weight": -2.0}]}


@pytest.fixture()
def spec_file(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return path


def test_generate_verify_inspect(tmp_path, spec_file, capsys):
    out = tmp_path / "ds"
    assert main(["generate", "--spec", str(spec_file), "--out", str(out), "--quiet", "--instances", "25"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["instances"] == 25 and manifest["seed"] == 3

    assert main(["verify", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == f"{out}: OK" and text.strip().endswith("all checks passed")
    assert "[FAIL]" not in text

    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    row = text.splitlines()[2].split()
    assert row[:3] == ["cli", "25", "7"]
    assert "unique(tanh: tab:2, w=-2)" in text


def test_generate_suite_with_seed(tmp_path, capsys):
    out = tmp_path / "smoke"
    assert main(["generate", "--suite", "smoke", "--out", str(out), "--instances", "8", "--seed", "5", "--quiet"]) == 0
    assert sorted(os.listdir(out)) == ["smoke-img-txt", "smoke-mix3", "smoke-tab-txt", "suite.json"]
    assert json.loads((out / "smoke-mix3" / "manifest.json").read_text())["seed"] == 5
    capsys.readouterr()
    assert main(["verify", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count(": OK") == 4 and "[ok] smoke-mix3: manifest.json SHA-256 matches suite.json" in text
    manifest = out / "smoke-mix3" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"seed": 5', '"seed": 5 '))
    assert main(["verify", str(out)]) == 1
    assert "[FAIL] smoke-mix3: manifest.json SHA-256 differs from suite.json" in capsys.readouterr().out


def test_suites_lists_sizes(capsys):
    assert main(["suites"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["name", "tasks", "instances", "players", "modalities"]
    smoke = lines[2].split()
    standard = lines[3].split()
    assert smoke[:5] == ["smoke", "3", "12288", "12-14", "2-3"]
    assert standard[:5] == ["standard", "8", "16000", "16-64", "2-3"]


@pytest.mark.parametrize("bad, field", [
    ({**SPEC, "terms": [{"kind": "triple", "players": ["tab:0"]}]}, "terms[0].kind"),
    ({**SPEC, "terms": [{"kind": "unique", "players": ["tab:9"]}]}, "terms[0].players[0]"),
    ({**SPEC, "instances": "many"}, "instances"),
    ({**SPEC, "modalities": [{"name": "img", "kind": "image", "size": 10, "patch": 3}]}, "modalities[0].patch"),
])
def test_bad_spec_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys, bad, field):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    out = tmp_path / "new" / "ds"
    assert main(["generate", "--spec", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"mxbench: error: {field}:")
    assert not (tmp_path / "new").exists()


def test_other_bad_input_exits_2(tmp_path, capsys, spec_file):
    assert main(["generate", "--spec", str(tmp_path / "nope.json"), "--out", str(tmp_path / "x")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{")
    assert main(["generate", "--spec", str(tmp_path / "junk.json"), "--out", str(tmp_path / "x")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["generate", "--spec", str(spec_file), "--out", str(tmp_path / "x"), "--instances", "0"]) == 2
    assert "--instances" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path)]) == 2
    assert "neither manifest.json nor suite.json" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_existing_out_exits_2(tmp_path, spec_file, capsys):
    out = tmp_path / "ds"
    out.mkdir()
    assert main(["generate", "--spec", str(spec_file), "--out", str(out), "--quiet"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["generate", "--spec", str(spec_file), "--out", str(out), "--quiet", "--overwrite"]) == 0


def test_verify_fails_with_exit_1_on_tampering(tmp_path, spec_file, capsys):
    out = tmp_path / "ds"
    main(["generate", "--spec", str(spec_file), "--out", str(out), "--quiet"])
    path = out / "modalities.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1
    text = capsys.readouterr().out
    assert "[FAIL] sha256: modalities.parquet: SHA-256" in text and "verification FAILED" in text


def test_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mxbench", "generate", "--suite", "tiny", "--out",
                             str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "mxbench: error: suite: unknown suite 'tiny' (choose from smoke, standard, specialisation, paper)"
    assert not (tmp_path / "x").exists()


def test_too_long_a_path_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / ("x" * 300)
    assert main(["verify", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mxbench: error:") and len(err.strip().splitlines()) == 1
    assert main(["generate", "--suite", "smoke", "--out", str(out / "y"), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("mxbench: error:")
    assert os.listdir(tmp_path) == []
