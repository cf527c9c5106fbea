"""The report a reader trusts: intervals and n in every table, provenance, the HTML page in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mxbench
from mxbench._version import __version__
from mxbench.bench.html import render_html
from mxbench.bench.report import (
    explained_view,
    format_estimate,
    format_number,
    leaderboard,
    summarise,
    write_report,
)
from mxbench.bench.runner import write_results
from mxbench.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
browser = pytest.mark.skipif(CHROMIUM is None, reason="no chromium or chromium-browser binary on PATH: report.html "
                                                      "is not loaded in a browser (CI installs the Debian package)")
ADAPTER = "shap:KernelExplainer"
COMMAND = "mxbench validate smoke --models planted,exact --explainers kernelshap,lime --seeds 0,1 --instances 2"
NUMBER = r"-?\d[\d.]*(?:e[+-]\d+)?"
ESTIMATE = re.compile(rf"^{NUMBER}(?: \[{NUMBER}, {NUMBER}\])?(?: \(n=\d+\))?$")


@pytest.fixture(scope="module")
def task():
    return mxbench.generate("smoke", instances=64)[0]


@pytest.fixture(scope="module")
def results(task):
    frame = mxbench.validate(task, models=["planted", "exact"], explainers=["kernelshap", "lime"], seeds=[0, 1],
                             instances=2, n_jobs=1, progress=False)
    # rows under an adapter's name, as the shap adapter writes them (here the LIME rows of the planted game, with
    # AUROC 0.6, 0.7, 0.8, 0.9 over the four (instance, seed) units): the name must display as it is
    extra = frame[(frame["model"] == "planted") & (frame["explainer"] == "lime")].copy()
    extra["explainer"] = ADAPTER
    auroc = extra["metric"] == "auroc"
    units = extra.loc[auroc].sort_values(["instance", "seed"])
    extra.loc[units.index, "value"] = [0.6, 0.7, 0.8, 0.9]
    return pd.concat([frame, extra], ignore_index=True)


@pytest.fixture(scope="module")
def report(results, task, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return write_report(results, out, task=task, tasks={task.spec.name: task}, command=COMMAND)


class _Dom(HTMLParser):
    """The tables (header keys, cells with their attributes), the error box and the headings of a page."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.errors: tuple[dict, str] | None = None
        self.headings: list[tuple[str, str]] = []
        self.images: list[str] = []
        self._table: dict | None = None
        self._cell: dict | None = None
        self._text: list[str] | None = None
        self._tag = ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = {"attrs": a, "keys": [], "rows": []}
            self.tables[a.get("id", f"table-{len(self.tables)}")] = self._table
        elif tag == "tr" and self._table is not None:
            self._table["rows"].append([])
        elif tag in ("th", "td") and self._table is not None:
            self._cell = {"attrs": a}
            self._text = []
        elif tag == "pre" and a.get("id") == "errors":
            self.errors = (a, "")
            self._text, self._tag = [], "pre"
        elif tag in ("h1", "h2", "h3"):
            self._text, self._tag = [], tag
        elif tag == "img":
            self.images.append(a.get("src", ""))

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None and self._table is not None:
            text = "".join(self._text or [])
            if tag == "th" and len(self._table["rows"]) == 1:
                self._table["keys"].append(self._cell["attrs"].get("data-key"))
            else:
                self._table["rows"][-1].append((text, self._cell["attrs"]))
            self._cell, self._text = None, None
        elif tag == "table":
            if self._table is not None:
                self._table["rows"] = [r for r in self._table["rows"] if r]
            self._table = None
        elif tag == "pre" and self._tag == "pre" and self.errors is not None:
            self.errors = (self.errors[0], "".join(self._text or []))
            self._text, self._tag = None, ""
        elif tag in ("h1", "h2", "h3") and self._tag == tag:
            self.headings.append((tag, "".join(self._text or [])))
            self._text, self._tag = None, ""


def _chromium(tmp: Path, url: str, *flags: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on ``url`` (its own profile; console messages logged on stderr)."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
               f"--user-data-dir={tmp / 'chromium-profile'}", "--enable-logging=stderr", "--v=0", *flags, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _load(tmp: Path, page: Path, fragment: str = "") -> tuple[_Dom, list[str]]:
    """The DOM of ``page`` after its scripts ran, and the console messages it logged."""
    done = _chromium(tmp, page.resolve().as_uri() + fragment, "--dump-dom")
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return _Dom(done.stdout), console


def _column(table: dict, key: str) -> list[tuple[str, dict]]:
    k = table["keys"].index(key)
    return [row[k] for row in table["rows"]]


def test_summarise_is_a_percentile_bootstrap_over_units():
    rows = pd.DataFrame({"task": "t", "seed": 0, "explainer": "e", "instance": [0, 0, 1, 2, 3, 4],
                         "value": [0.1, 0.3, 0.5, 0.9, np.nan, 1.0]})
    s = summarise(rows, ["explainer"])
    # instance 0 has two values (one unit: their mean, 0.2); the NaN is left out: 4 units
    v = np.array([0.2, 0.5, 0.9, 1.0])
    draws = np.random.default_rng([0, 4]).integers(0, 4, size=(1000, 4))
    lo, hi = np.quantile(v[draws].mean(axis=1), [0.025, 0.975])
    assert s[["explainer", "n"]].values.tolist() == [["e", 4]]
    assert s["mean"][0] == pytest.approx(v.mean()) and (s["lo"][0], s["hi"][0]) == pytest.approx((lo, hi))
    assert 0.2 <= lo < v.mean() < hi <= 1.0
    # a group's interval depends on its own units only, and the same rows give the same numbers
    other = pd.DataFrame({"task": "t", "seed": 0, "explainer": "f", "instance": [0, 1, 2], "value": [5.0, 6.0, 9.0]})
    both = summarise(pd.concat([rows, other]), ["explainer"])
    pd.testing.assert_frame_equal(both.iloc[:1].reset_index(drop=True), s)
    assert both["n"].tolist() == [4, 3] and both["mean"][1] == pytest.approx(20 / 3)
    assert format_estimate(s["mean"][0], s["lo"][0], s["hi"][0]) == (
        f"{format_number(v.mean())} [{format_number(lo)}, {format_number(hi)}]")


def test_markdown_has_provenance_and_every_mean_has_its_interval_and_n(report, results, task):
    text = report.read_text()
    assert text.startswith("# mxbench report\n\n## Provenance\n")
    assert f"| mxbench version | {__version__} |" in text and f"| command | {COMMAND} |" in text
    assert f"| rows | {len(results)} |" in text and "| seeds | 2 (0, 1) |" in text
    assert "| instances | 2 (task, instance) pairs |" in text
    assert f"| {task.spec.name} | 12 | {task.spec.spec_hash()} | 2 | 2 | {len(results)} |" in text
    assert not re.search(r"20\d\d-\d\d-\d\d", text)  # no date: the report is deterministic
    # every table but the provenance has an integer n, and every mean its interval
    tables = [block for block in re.split(r"\n\n", text) if block.startswith("| ")]
    assert len(tables) >= 6
    checked = 0
    for block in tables:
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()]
        head, body = rows[0], rows[2:]
        if head[:2] in (["item", "value"], ["task", "players"]):
            continue
        assert "n" in head, head
        k = head.index("n")
        for row in body:
            assert row[k].isdigit() and int(row[k]) >= 1
            means = [c for c, name in zip(row[k + 1:], head[k + 1:]) if name not in ("model truth",)]
            assert all(c == "–" or ESTIMATE.match(c) for c in means), row
            checked += 1
    assert checked >= 15  # leaderboard, per task, decomposition, smoothness, attribution gap
    # the leaderboard pooled and per task; the adapter's row with its n and bootstrap interval
    assert "## Leaderboard per task" in text and f"### {task.spec.name} (12 players)" in text
    v = np.array([0.6, 0.7, 0.8, 0.9])
    lo, hi = np.quantile(v[np.random.default_rng([0, 4]).integers(0, 4, size=(1000, 4))].mean(axis=1), [0.025, 0.975])
    assert f"| planted | {ADAPTER} | 4 | 0.75 [{format_number(lo)}, {format_number(hi)}] |" in text


def test_plots_heatmap_and_every_pair_of_every_instance(report, results, task):
    from mxbench.validation.truth import Truth

    text = report.read_text()
    folder = report.parent
    assert "![model × explainer heatmap](leaderboard_heatmap.png)" in text
    assert not (folder / "modality_share_error.png").exists() and not (folder / "deletion.png").exists()
    shown = sorted(int(i) for i in results.loc[results["task"] == task.spec.name, "instance"].unique())
    planted = sum(len(Truth.from_task(task, i).pair_arrays()[0]) for i in shown)
    assert (f"every pair of every explained instance (2 instances: {shown[0]}, {shown[1]}; {2 * 66} points, "
            f"{planted} of them planted pairs;") in text
    for png in ("leaderboard_heatmap.png", "interactions.png", "deletion_curves.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (folder / png).stat().st_size > 5000


def test_report_html_is_self_contained_and_has_the_markdown_sections(report):
    page = (report.parent / "report.html").read_text()
    text = report.read_text()
    assert "http://" not in page and "https://" not in page and "<link" not in page and "@import" not in page
    dom = _Dom(page)
    # every plot of the markdown, embedded: the same bytes as the PNG files
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(dom.images) == len(pngs) >= 3
    for src, name in zip(dom.images, pngs):
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]) == (report.parent / name).read_bytes()
    headings = [(f"h{len(m.group(1))}", m.group(2)) for m in re.finditer(r"^(#{1,3}) (.+)$", text, re.M)]
    assert dom.headings == headings
    assert dom.errors is not None and dom.errors[1] == "" and "hidden" in dom.errors[0]


def test_report_is_byte_identical_when_written_twice(results, task, tmp_path):
    a = write_report(results, tmp_path / "a", task=task, tasks={task.spec.name: task}, command=COMMAND).parent
    b = write_report(results, tmp_path / "b", task=task, tasks={task.spec.name: task}, command=COMMAND).parent
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and {"report.md", "report.html"} <= set(names)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_the_cli_report_records_its_command(results, tmp_path):
    path = write_results(results, tmp_path / "results.parquet")
    assert main(["report", str(path), "--out", str(tmp_path / "rep"), "-q"]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert f"| command | mxbench report {path} --out {tmp_path / 'rep'} -q |" in text
    assert "A spec hash reads – where the task was not given" in text


@browser
def test_leaderboard_in_chromium_equals_the_results(report, results, tmp_path):
    dom, console = _load(tmp_path, report.parent / "report.html")
    assert console == [] and dom.errors is not None and dom.errors[1] == ""
    board = dom.tables["leaderboard"]
    assert board["keys"][:4] == ["model", "explainer", "n", "auroc"]
    view = explained_view(results)
    view = view[(view["budget"] == -1) & (view["metric"] == "auroc")]
    means = view.groupby(["model", "explainer"])["value"].mean()
    counts = view.groupby(["model", "explainer"])[["instance", "seed"]].apply(lambda g: len(g.drop_duplicates()))
    shown = [(m[0], e[0]) for m, e in zip(_column(board, "model"), _column(board, "explainer"))]
    assert shown == [("planted", "kernelshap"), ("planted", "lime"), ("planted", ADAPTER), ("exact", "kernelshap"),
                     ("exact", "lime")]
    assert set(shown) == set(means.index)
    for (model, explainer), (n, _), (text, attrs) in zip(shown, _column(board, "n"), _column(board, "auroc")):
        assert int(n) == counts[(model, explainer)] == 4
        assert float(attrs["data-value"]) == pytest.approx(means[(model, explainer)], abs=1e-12)
        assert ESTIMATE.match(text) and text.startswith(format_number(means[(model, explainer)]) + " [")
    # the same leaderboard as the report module's, cell for cell
    expected = leaderboard(results, intervals=True)
    for key in ("shapley_error", "seconds", "n_queries"):
        values = [float(a["data-value"]) for _, a in _column(board, key)]
        assert values == pytest.approx(expected[key].tolist(), abs=1e-12)
    assert "leaderboard-smoke-tab-txt" in dom.tables


@browser
@pytest.mark.parametrize("fragment, key, direction", [
    ("#sort=auroc", "auroc", "desc"),                       # higher is better: best first
    ("#sort=shapley_error", "shapley_error", "asc"),        # lower is better: best first
    ("#sort=explainer&dir=desc", "explainer", "desc"),      # text, reversed by a second click
])
def test_sorting_in_chromium(report, tmp_path, fragment, key, direction):
    plain, _ = _load(tmp_path, report.parent / "report.html")
    dom, console = _load(tmp_path, report.parent / "report.html", fragment)
    assert console == [] and dom.errors is not None and dom.errors[1] == ""
    before, after = plain.tables["leaderboard"], dom.tables["leaderboard"]
    assert after["attrs"]["data-sorted-by"] == key and after["attrs"]["data-sorted-dir"] == direction
    rows = before["rows"]
    k = before["keys"].index(key)

    def sort_key(i):
        text, attrs = rows[i][k]
        if key == "explainer":
            return (False, text)
        value = attrs.get("data-value")
        return (value in (None, ""), float(value) if value else 0.0)

    order = sorted(range(len(rows)), key=lambda i: (sort_key(i)[0], sort_key(i)[1], i))
    if direction == "desc":  # reversed, ties in their first order, empty cells last
        order = sorted(range(len(rows)), key=lambda i: (sort_key(i)[0], _neg(sort_key(i)[1]), i))
    expected = [(rows[i][0][0], rows[i][1][0]) for i in order]
    assert [(r[0][0], r[1][0]) for r in after["rows"]] == expected
    assert [(r[0][0], r[1][0]) for r in after["rows"]] != [(r[0][0], r[1][0]) for r in rows] or key == "explainer"
    # the rows moved whole: the same cells as before
    assert sorted(tuple(c[0] for c in r) for r in after["rows"]) == sorted(tuple(c[0] for c in r) for r in rows)


def _neg(x):
    """A key that sorts ``x`` in reverse: numbers negated, strings by their reversed code points."""
    return -x if isinstance(x, float) else tuple(-ord(c) for c in x) + (1,)


@browser
def test_the_error_box_shows_script_errors(tmp_path):
    # the check above would pass vacuously if errors never reached the box: a page with two errors
    page = render_html(["# Broken", "", "## Part", "", "Text."]).replace(
        "</body>", "<script>console.error('logged on purpose'); no_such_function();</script></body>")
    path = tmp_path / "broken.html"
    path.write_text(page)
    dom, console = _load(tmp_path, path)
    assert dom.errors is not None and "hidden" not in dom.errors[0]
    assert "console.error: logged on purpose" in dom.errors[1] and "no_such_function" in dom.errors[1]
    assert any("logged on purpose" in line for line in console)


@browser
def test_screenshot(report, tmp_path):
    shot = tmp_path / "report.png"
    _chromium(tmp_path, (report.parent / "report.html").resolve().as_uri() + "#sort=auroc", f"--screenshot={shot}",
              "--window-size=1400,2000", "--hide-scrollbars")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    print(f"screenshot: {shot}")
