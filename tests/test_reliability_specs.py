"""Hostile specs, model configs and arguments: each is refused before any work, on one line, with status 2.

One test per finding (impossible shares, unbounded sizes, duplicate JSON keys, argparse's usage
block, the exception type of unreadable spec files), then a catalogue of malformed specs and bad
arguments, each refused cleanly: a ``SpecError`` / status 2, one line on stderr, nothing on disk.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mxbench
from mxbench.cli import main
from mxbench.errors import SpecError
from mxbench.spec import MAX_PAIRS, MAX_SPEC_BYTES, MAX_TERMS, TaskSpec

VALID = {"name": "t", "seed": 0, "instances": 20,
         "modalities": [{"name": "tab", "kind": "tabular", "features": 6},
                        {"name": "txt", "kind": "text", "length": 4, "vocab": 16}],
         "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                   {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:2"], "weight": 2.0}]}

#: Shares the calibration cannot reach: before the fix this wrote a dataset of NaN and exited 0.
DIVERGING = {"name": "f", "seed": 56, "instances": 50,
             "modalities": [{"name": "tab", "kind": "tabular", "features": 6},
                            {"name": "img", "kind": "image", "size": 8, "patch": 4},
                            {"name": "txt", "kind": "text", "length": 6, "vocab": 16}],
             "random_terms": {"unique": 1, "synergy": 2, "redundancy": 1, "placement": "any"},
             "shares": {"tab": 0.005, "img": 0.195, "txt": 0.8}}


def spec(**changes) -> dict:
    d = copy.deepcopy(VALID)
    d.update(changes)
    return d


def _refused(tmp_path: Path, capsys, spec_path: Path | str) -> str:
    """Run ``generate --spec`` and return its one error line; check status 2 and that nothing was written."""
    before = sorted(os.listdir(tmp_path))
    out = tmp_path / "out"
    assert main(["generate", "--spec", str(spec_path), "--out", str(out), "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mxbench: error: "), captured.err
    assert captured.out == ""
    assert not out.exists() and sorted(os.listdir(tmp_path)) == before  # no output, no temporaries
    return lines[0]


def _write(tmp_path: Path, content: str | bytes | dict, name: str = "spec.json") -> Path:
    path = tmp_path / name
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- finding 1: impossible shares


def test_share_for_a_modality_no_term_reads_is_refused_by_name(tmp_path, capsys):
    d = spec(terms=[VALID["terms"][0]], shares={"tab": 0.5, "txt": 0.5})
    line = _refused(tmp_path, capsys, _write(tmp_path, d))
    assert line == "mxbench: error: shares.txt: is 0.5 but no term reads modality 'txt'"


def test_shares_the_calibration_cannot_reach_are_refused_not_written_as_nan(tmp_path, capsys, recwarn):
    line = _refused(tmp_path, capsys, _write(tmp_path, DIVERGING))
    assert line == ("mxbench: error: shares.tab: is 0.005 but no scaling of the term weights reaches it "
                    "(the calibration diverged; last achieved tab 0.489, img 0.100, txt 0.411)")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]  # no warnings on the way
    with pytest.raises(SpecError) as info:
        mxbench.generate(DIVERGING)
    assert info.value.field == "shares.tab"


def test_random_terms_that_leave_a_shared_modality_unread(tmp_path, capsys):
    d = spec(terms=[], random_terms={"unique": 1, "placement": "within"}, shares={"tab": 0.5, "txt": 0.5})
    line = _refused(tmp_path, capsys, _write(tmp_path, d))
    assert line.startswith("mxbench: error: shares.") and "but no term reads modality" in line


# --------------------------------------------------------------------------- finding 2: unbounded memory


def test_too_many_pairs_are_refused_before_parsing(tmp_path, capsys):
    d = spec(pairs=[["tab:2", "tab:3"]] * (MAX_PAIRS + 1))
    line = _refused(tmp_path, capsys, _write(tmp_path, d))
    assert line == f"mxbench: error: pairs: at most {MAX_PAIRS} pairs (MAX_PAIRS), got {MAX_PAIRS + 1}"
    TaskSpec.from_dict(spec(pairs=[["tab:2", "tab:3"]] * MAX_PAIRS))  # the cap itself is fine


def test_too_many_terms_and_random_counts_are_refused(tmp_path, capsys):
    with pytest.raises(SpecError, match=rf"^terms: at most {MAX_TERMS} terms \(MAX_TERMS\), got {MAX_TERMS + 1}$"):
        TaskSpec.from_dict(spec(terms=[VALID["terms"][0]] * (MAX_TERMS + 1)))
    with pytest.raises(SpecError, match=rf"^random_terms\.synergy: must be at most {MAX_TERMS}, got 10000000000"):
        TaskSpec.from_dict(spec(random_terms={"synergy": 10**10}))


def test_spec_file_larger_than_the_cap_is_refused_without_reading_it_all(tmp_path, capsys):
    big = _write(tmp_path, json.dumps(VALID) + " " * MAX_SPEC_BYTES)
    line = _refused(tmp_path, capsys, big)
    assert line == (f"mxbench: error: spec: {str(big)!r} is larger than {MAX_SPEC_BYTES} bytes (1 MiB, "
                    "MAX_SPEC_BYTES); a spec within mxbench's size caps is far smaller")
    if os.path.exists("/dev/zero"):
        assert "'/dev/zero' is larger than 1048576 bytes" in _refused(tmp_path, capsys, "/dev/zero")


def test_model_config_sizes_are_capped_before_allocating():
    from mxbench.models import ModelError, build, resolve_config
    from mxbench.models.common import MAX_PARAMETERS

    with pytest.raises(ModelError) as info:
        resolve_config("transformer", {"dim": 10**9})
    assert str(info.value) == "config.dim: expected 1 to 1024 (OPTION_MAX, from memory), got 1000000000"
    with pytest.raises(ModelError, match=r"^config: fusion_mlp with .*hidden=4096, layers=32 has about "
                                         r"536,870,912 weights .* more than 50,000,000 \(MAX_PARAMETERS"):
        resolve_config("fusion_mlp", {"hidden": 4096, "layers": 32})
    assert MAX_PARAMETERS == 50_000_000
    for config, field in [({"layers": True}, "layers"), ({"heads": "4"}, "heads"), ({"mlp_ratio": 0}, "mlp_ratio"),
                          ({"dim": 2.5}, "dim")]:
        with pytest.raises(ModelError, match=rf"^config\.{field}: "):
            resolve_config("transformer", config)
    with pytest.raises(ModelError, match=r"^config\.temperature: expected a finite number, got nan"):
        resolve_config("fl_i2moe", {"temperature": float("nan")})
    with pytest.raises(ModelError, match=r"^config\.dim: "):
        build("transformer", TaskSpec.from_dict(VALID).modalities, {"dim": 10**9})
    # the defaults and the sizes the test-suite uses stay accepted
    assert resolve_config("transformer", {"head_hidden": 0})["head_hidden"] == 0
    assert resolve_config("fl_i2moe", {"dim": 8, "heads": 2, "layers": 1})["dim"] == 8


# --------------------------------------------------------------------------- finding 3: duplicate keys


@pytest.mark.parametrize("text, line", [
    ('{"name": "t", "modalities": [{"name": "tab", "kind": "tabular", "features": 4}], '
     '"terms": [{"kind": "unique", "players": ["tab:0"]}, {"kind": "unique", "players": ["tab:1"]}], '
     '"terms": [{"kind": "unique", "players": ["tab:2"]}]}', "terms: duplicate key 'terms'"),
    ('{"name": "t", "modalities": [{"name": "tab", "kind": "tabular", "features": 4, "features": 5}], '
     '"terms": [{"kind": "unique", "players": ["tab:0"]}]}', "modalities[0].features: duplicate key 'features'"),
    ('{"name": "t", "modalities": [{"name": "tab", "kind": "tabular", "features": 4}], '
     '"terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1, "weight": -1}]}',
     "terms[0].weight: duplicate key 'weight'"),
])
def test_duplicate_keys_are_refused_with_their_path(tmp_path, capsys, text, line):
    path = _write(tmp_path, text)
    got = _refused(tmp_path, capsys, path)
    assert got == (f"mxbench: error: {line} in {str(path)!r} (JSON would keep only the last value; "
                   "give each key once)")
    with pytest.raises(SpecError) as info:
        TaskSpec.from_json(path)
    assert info.value.field == line.split(":")[0]


# --------------------------------------------------------------------------- finding 4: one-line argument errors


@pytest.mark.parametrize("argv, line", [
    (["generate", "--suite", "smoke", "--out", "X", "--instances", "abc"],
     "generate: argument --instances: invalid int value: 'abc'"),
    (["generate", "--suite", "smoke"], "generate: the following arguments are required: --out"),
    (["generate", "--suite", "smoke", "--spec", "s.json", "--out", "X"],
     "generate: argument --spec: not allowed with argument --suite"),
    (["train", "D", "--arch", "resnet", "--out", "X"],
     "train: argument --arch: invalid choice: 'resnet' (choose from 'fusion_mlp', 'transformer', 'fl_i2moe')"),
])
def test_argument_errors_are_one_line(tmp_path, capsys, argv, line):
    argv = [str(tmp_path / a) if a in ("X", "D") else a for a in argv]
    line = line.replace("'X'", repr(str(tmp_path / "X")))
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"mxbench: error: {line}\n" and captured.out == ""
    assert not (tmp_path / "X").exists()


def test_argument_error_through_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mxbench", "train", str(tmp_path), "--arch", "resnet",
                             "--out", str(tmp_path / "m")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("mxbench: error: train: argument --arch: invalid choice: 'resnet' "
                             "(choose from 'fusion_mlp', 'transformer', 'fl_i2moe')\n")
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------------------- finding 5: unreadable spec files


def test_unreadable_spec_files_are_spec_errors_naming_the_file(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    for path, message in [(missing, f"spec: cannot read {str(missing)!r}: No such file or directory"),
                          (tmp_path, f"spec: cannot read {str(tmp_path)!r}: Is a directory")]:
        with pytest.raises(SpecError) as info:
            TaskSpec.from_json(path)
        assert str(info.value) == message and info.value.field == "spec"
    (tmp_path / "sub").mkdir()
    assert _refused(tmp_path / "sub", capsys, tmp_path) == f"mxbench: error: spec: cannot read {str(tmp_path)!r}: Is a directory"
    with pytest.raises(SpecError, match=r"^spec: cannot read .*: embedded null byte"):
        TaskSpec.from_json("a\x00b.json")


def test_a_spec_without_read_permission(tmp_path, monkeypatch):
    path = _write(tmp_path, VALID)
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(SpecError) as info:
        TaskSpec.from_json(path)
    assert str(info.value) == f"spec: cannot read {str(path)!r}: Permission denied"


# --------------------------------------------------------------------------- the catalogue


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


#: (spec file content, the field the one-line error names); each is refused with status 2.
MALFORMED_SPECS = [
    ('{"name": "t", "name": "u"}', "name"),
    (spec(terms=[VALID["terms"][0]], shares={"tab": 0.5, "txt": 0.5}), "shares.txt"),
    (DIVERGING, "shares.tab"),
    (spec(shares={"tab": 0.0, "txt": 1.0}), "shares.tab"),
    (spec(shares={"tab": 0.7, "txt": 0.7}), "shares"),
    (spec(shares={"tab": 1.0}), "shares"),
    (spec(shares={"tab": 0.5, "audio": 0.5}), "shares.audio"),
    (spec(pairs=[["tab:2", "tab:3"]] * (MAX_PAIRS + 1)), "pairs"),
    (spec(pairs=[["tab:2", "tab:2"]]), r"pairs[0]"),
    (spec(pairs=[["tab:2"]]), r"pairs[0]"),
    (spec(terms=[VALID["terms"][0]] * (MAX_TERMS + 1)), "terms"),
    (spec(random_terms={"unique": 10**12}), "random_terms.unique"),
    (json.dumps(VALID) + " " * MAX_SPEC_BYTES, "spec"),
    ("{not json", "spec"),
    (b"\xff\xfe{}", "spec"),
    ('{"name": "t", "instances": ' + "9" * 5000 + "}", "spec"),
    (_nested(100_000), "spec"),
    ("[]", "spec"),
    ("{}", "name"),
    (spec(colour="red"), "colour"),
    (spec(modalities=[]), "modalities"),
    (spec(modalities=[{"name": "tab", "kind": "audio"}]), "modalities[0].kind"),
    (spec(terms=[{"kind": "unique", "players": ["tab:99"]}]), "terms[0].players[0]"),
    (spec(terms=[{"kind": "unique", "players": ["tab:0"], "weight": float("nan")}]), "terms[0].weight"),
    (spec(instances=0), "instances"),
    (spec(instances=10**9), "instances"),
    (spec(seed=-1), "seed"),
    (spec(splits=[0.5, 0.5]), "splits"),
    (spec(target="ranking"), "target"),
    (spec(modalities=[{"name": "txt", "kind": "text", "length": 4, "vocab": 3}]), "modalities[0].vocab"),
    (spec(terms=[]), "terms"),
    (spec(noise=1e300), "noise"),
]


@pytest.mark.parametrize("content, field", MALFORMED_SPECS, ids=[f"spec{k}" for k in range(len(MALFORMED_SPECS))])
def test_malformed_spec_is_refused_cleanly(tmp_path, capsys, content, field):
    if isinstance(content, dict):
        content = json.dumps(content)  # NaN goes out as the literal NaN, which json.loads accepts
    path = _write(tmp_path, content)
    line = _refused(tmp_path, capsys, path)
    assert line.startswith(f"mxbench: error: {field}: "), line
    with pytest.raises(SpecError) as info:  # the library raises the same SpecError
        mxbench.generate(TaskSpec.from_json(path), instances=5)
    assert info.value.field == field


#: Argument lists argparse or main refuses; each gives status 2 and one line on stderr.
BAD_ARGUMENTS = [
    ["generate", "--suite", "smoke", "--out", "X", "--instances", "abc"],
    ["generate", "--suite", "smoke"],
    ["generate", "--suite", "smoke", "--spec", "s.json", "--out", "X"],
    ["train", "D", "--arch", "resnet", "--out", "X"],
    ["train", "D", "--out", "X"],
    ["train", "D", "--arch", "transformer", "--out", "X", "--epochs", "many"],
    ["generate", "--out", "X"],
    ["generate", "--suite", "smoke", "--out", "X", "--seed", "1.5"],
    ["generate", "--suite", "smoke", "--out", "X", "--instances", "0"],
    ["generate", "--suite", "smoke", "--out", "X", "--seed", "-3"],
    ["generate", "--suite", "smoke", "--out", "X", "--frob"],
    ["frobnicate"],
    [],
    ["verify"],
    ["report", "results.parquet"],
    ["validate", "smoke", "--jobs", "0"],
    ["validate", "smoke", "--instances", "x"],
    ["run", "--jobs", "two"],
]


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=[" ".join(a) or "empty" for a in BAD_ARGUMENTS])
def test_bad_arguments_are_refused_cleanly(tmp_path, capsys, argv):
    argv = [str(tmp_path / a) if a in ("X", "D") else a for a in argv]
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    assert status == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mxbench: error: "), captured.err
    assert captured.out == "" and not (tmp_path / "X").exists()


def test_catalogue_size():
    assert len(MALFORMED_SPECS) + len(BAD_ARGUMENTS) >= 30
