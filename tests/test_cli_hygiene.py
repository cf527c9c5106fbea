"""The command line's conventions: --version, schema, --json, -q on every sub-command, progress bars only
on a terminal, a quiet exit on a closed pipe, and the py.typed marker."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import mxbench
from mxbench import cli
from mxbench.cli import EXIT_BROKEN_PIPE, build_parser, main

MXBENCH = [sys.executable, "-m", "mxbench"]


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """The smoke suite with 8 instances per task."""
    return mxbench.write_dataset("smoke", tmp_path_factory.mktemp("cli") / "smoke", instances=8)


# --------------------------------------------------------------------------- --version, schema


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"mxbench {mxbench.__version__}\n"
    from mxbench._version import __version__

    assert mxbench.__version__ == __version__


def test_schema_prints_the_spec_schema(capsys):
    from jsonschema import Draft202012Validator

    from mxbench.spec import spec_schema

    assert main(["schema"]) == 0
    first = capsys.readouterr()
    assert first.out == json.dumps(spec_schema(), indent=2, sort_keys=True) + "\n" and first.err == ""
    assert main(["schema", "-q"]) == 0
    assert capsys.readouterr().out == first.out  # deterministic
    doc = json.loads(first.out)
    Draft202012Validator.check_schema(doc)
    assert doc["title"] == "mxbench task spec" and doc["properties"]["instances"]["default"] == 1000


def test_schema_takes_no_arguments(capsys):
    with pytest.raises(SystemExit) as info:
        main(["schema", "--json"])
    assert info.value.code == 2
    assert capsys.readouterr().err == "mxbench: error: unrecognized arguments: --json\n"


# --------------------------------------------------------------------------- --json


def test_suites_json_has_the_text_output_information(capsys):
    from mxbench.generators.suites import list_suites

    assert main(["suites", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["suites"] and doc["suites"] == list_suites()
    assert [s["name"] for s in doc["suites"]] == ["smoke", "standard", "specialisation", "paper"]
    assert {k: doc["suites"][0][k] for k in ("tasks", "instances", "players", "modalities")} == \
        {"tasks": 3, "instances": 12288, "players": "12-14", "modalities": "2-3"}
    assert main(["suites"]) == 0
    text = capsys.readouterr().out.splitlines()
    for line, row in zip(text[2:], doc["suites"]):
        assert line.split()[:5] == [str(row[k]) for k in ("name", "tasks", "instances", "players", "modalities")]
        assert line.endswith(row["description"])


def test_inspect_json(suite, capsys):
    folder = suite / "smoke-tab-txt"
    assert main(["inspect", str(folder), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (one,) = doc["datasets"]
    assert list(one) == ["path", "name", "instances", "players", "modalities", "terms", "roles", "shares", "target",
                         "noise", "seed"]
    assert (one["path"], one["name"], one["instances"], one["players"]) == (str(folder), "smoke-tab-txt", 8, 12)
    assert sum(one["modalities"].values()) == 12 and sum(one["roles"].values()) == 12
    assert list(one["roles"]) == sorted(one["roles"])
    assert abs(sum(one["shares"].values()) - 1.0) < 1e-9
    assert main(["inspect", str(folder)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[2].split()[:3] == ["smoke-tab-txt", "8", "12"]
    assert all(f"  {t}" in text for t in one["terms"])
    assert main(["inspect", str(suite), "--json"]) == 0
    names = [d["name"] for d in json.loads(capsys.readouterr().out)["datasets"]]
    assert names == ["smoke-tab-txt", "smoke-img-txt", "smoke-mix3"]


def test_verify_json(suite, capsys):
    assert main(["verify", str(suite), "--json", "--no-regenerate"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and len(doc["reports"]) == 4
    assert doc["reports"][0]["path"] == str(suite / "suite.json")
    assert [r["path"] for r in doc["reports"][1:]] == [str(suite / n) for n in ("smoke-tab-txt", "smoke-img-txt",
                                                                                 "smoke-mix3")]
    assert all(c["ok"] for r in doc["reports"] for c in r["checks"])
    assert main(["verify", str(suite), "--no-regenerate"]) == 0
    text = capsys.readouterr().out
    for report in doc["reports"]:
        assert f"{report['path']}: OK" in text
        for c in report["checks"]:
            assert f"  [ok] {c['name']}{': ' + c['detail'] if c['detail'] else ''}" in text


def test_verify_json_on_a_tampered_dataset(tmp_path, capsys):
    out = mxbench.write_dataset("smoke", tmp_path / "s", instances=8) / "smoke-tab-txt"
    path = out / "modalities.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    assert main(["verify", str(out), "--json", "--no-regenerate"]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["ok"] is False and captured.err == ""
    failed = [c for c in doc["reports"][0]["checks"] if not c["ok"]]
    assert failed[0]["name"] == "sha256" and "modalities.parquet" in failed[0]["detail"]


def test_json_errors_are_one_line_on_stderr(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "missing"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"mxbench: error: {str(tmp_path / 'missing')!r} is not a folder\n"
    assert main(["inspect", str(tmp_path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "neither manifest.json nor suite.json" in captured.err


# --------------------------------------------------------------------------- -q, progress bars


#: The least arguments of each sub-command.
SUBCOMMANDS = {
    "generate": ["--suite", "smoke", "--out", "X"], "verify": ["X"], "suites": [], "train": ["X", "--arch",
    "transformer", "--out", "Y"], "inspect": ["X"], "schema": [], "validate": ["smoke"], "report": ["R", "--out", "X"],
    "run": [],
}


def test_every_subcommand_is_listed():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_quiet_on_every_subcommand(command):
    parser = build_parser()
    rest = SUBCOMMANDS[command]
    assert parser.parse_args([command, *rest]).quiet is False
    assert parser.parse_args([command, *rest, "-q"]).quiet is True
    assert parser.parse_args([command, "--quiet", *rest]).quiet is True
    assert parser.parse_args(["-q", command, *rest]).quiet is True


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal_and_not_quiet(monkeypatch):
    args = build_parser().parse_args(["generate", "--suite", "smoke", "--out", "X"])
    assert cli._progress(args) is False  # the test's stderr is not a terminal
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert cli._progress(args) is True
    args.quiet = True
    assert cli._progress(args) is False


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, capsys):
    assert main(["generate", "--suite", "smoke", "--instances", "8", "--out", str(tmp_path / "s")]) == 0
    assert capsys.readouterr() == (f"wrote {tmp_path / 's'}\n", "")


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal(tmp_path):
    import fcntl
    import struct
    import termios

    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws in the width
    try:
        result = subprocess.run(MXBENCH + ["generate", "--suite", "smoke", "--instances", "8", "--out",
                                           str(tmp_path / "s")], stdout=subprocess.PIPE, stderr=secondary, text=True,
                                timeout=120)
    finally:
        os.close(secondary)
    drawn = b""
    try:
        while chunk := os.read(primary, 65536):
            drawn += chunk
    except OSError:  # EIO: the terminal is closed at both ends
        pass
    finally:
        os.close(primary)
    assert result.returncode == 0 and b"smoke: 100%" in drawn and b"24/24" in drawn  # 3 tasks x 8 instances


def test_quiet_drops_warnings_not_results(monkeypatch, capsys):
    def noisy(args):
        warnings.warn("a note", UserWarning)
        print("the result")
        return 0

    monkeypatch.setattr(cli, "_cmd_suites", noisy)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert main(["suites", "-q"]) == 0
        assert seen == []
        assert main(["suites"]) == 0
        assert [str(w.message) for w in seen] == ["a note"]
    assert capsys.readouterr().out == "the result\nthe result\n"


def test_quiet_run_drops_the_notes_of_the_main_job(monkeypatch, capsys, tmp_path):
    import mxbench.bench.main

    def run(suite, out, **kwargs):
        print("mxbench: an explainer skipped")
        assert kwargs["progress"] is False
        assert kwargs["command"] == f"mxbench run -q --out {tmp_path}"  # the report's provenance
        return Path(out) / "report" / "report.md"

    monkeypatch.setattr(mxbench.bench.main, "run", run)
    assert main(["run", "-q", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"done in 0 s; report: {tmp_path / 'report' / 'report.md'}\n"
    monkeypatch.setattr(mxbench.bench.main, "run", lambda suite, out, **kw: print("mxbench: an explainer skipped")
                        or Path(out) / "report" / "report.md")
    assert main(["run", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "mxbench: an explainer skipped"


# --------------------------------------------------------------------------- a closed pipe


@contextlib.contextmanager
def _closed_pipe_stdout(monkeypatch):
    """``sys.stdout`` on a real pipe whose reading end is closed: writes fail with EPIPE, as under ``| head``.

    Entered in the test's body: pytest sets its own captured ``sys.stdout`` when the call starts.
    """
    read, write = os.pipe()
    os.close(read)
    stream = open(write, "w", encoding="utf-8")
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", stream)
        yield stream
    try:
        stream.close()
    except OSError:
        pass


@pytest.mark.parametrize("argv", [["suites"], ["schema"], ["suites", "--json"], ["verify", "SUITE", "--no-regenerate"],
                                  ["verify", "SUITE", "--json", "--no-regenerate"], ["inspect", "SUITE"],
                                  ["inspect", "SUITE", "--json"]])
def test_a_closed_pipe_exits_141_without_a_traceback(suite, argv, monkeypatch, capsys):
    with _closed_pipe_stdout(monkeypatch):
        status = main([str(suite) if a == "SUITE" else a for a in argv])
    assert status == EXIT_BROKEN_PIPE == 128 + 13  # 128 + SIGPIPE
    assert capsys.readouterr() == ("", "")


def test_a_closed_pipe_in_a_process():
    """The interpreter's exit flushes stdout too: nothing may be left to fail there."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(MXBENCH + ["suites"], stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (EXIT_BROKEN_PIPE, "")


def test_head_of_a_pipe(suite):
    result = subprocess.run(["bash", "-c", f"{' '.join(MXBENCH)} verify --no-regenerate {suite} | head -1"],
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{suite / 'suite.json'}: OK\n", "")


class _BrokenStdout:
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_broken_pipe_in_process(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _BrokenStdout())
    assert main(["suites"]) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- typing


def test_py_typed_marker():
    marker = Path(mxbench.__file__).parent / "py.typed"
    assert marker.is_file() and marker.read_bytes() == b""
