"""The report as one self-contained HTML file: inline style and script, plots as data URIs, sortable tables.

:func:`render_html` turns the blocks of the report (:func:`mxbench.bench.report.write_report`)
into HTML: markdown lines (headings, paragraphs, bullet lists, images, with inline code, bold and
italics) and :class:`~mxbench.bench.report.Table` objects. Nothing is fetched: the style and
the script are inline and each ``![alt](file.png)`` becomes an ``<img>`` whose ``src`` is the
PNG as a base64 data URI. The output depends only on the blocks and the PNG bytes (no date).

The page:

- ``<pre id="errors">`` (hidden while empty) collects every script error, unhandled rejection,
  resource that fails to load and ``console.error`` call of the page, so a dumped DOM shows them;
- ``<nav id="contents">`` links the sections;
- every table is sortable: a click on a column header sorts its rows (best first on the first
  click for a metric whose direction is known, ascending for text and for lower-is-better
  columns; a second click reverses); empty cells stay last. A number cell carries its value in
  ``data-value`` (the mean, full precision); the header's ``aria-sort`` says the order;
- the URL fragment ``#sort=KEY`` sorts the table ``leaderboard`` (or ``table=ID``) by the column
  ``KEY`` on load, by clicking its header (``dir=asc`` or ``dir=desc`` for one direction), so
  the order of a page loaded in a headless browser can be checked; the table then carries
  ``data-sorted-by`` and ``data-sorted-dir``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any, Iterable

#: The page's style.
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
       margin: 0 auto; padding: 1.5em 2em 4em; max-width: 1500px; }
h1 { font-size: 1.8em; margin: 0.2em 0 0.6em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
code { background: #f2f2f4; padding: 0.05em 0.3em; border-radius: 3px; font-size: 0.92em; }
nav#contents { background: #f7f7f9; border: 1px solid #e3e3e8; border-radius: 6px; padding: 0.6em 1.2em;
               margin: 1em 0; }
nav#contents ol { margin: 0.3em 0; padding-left: 1.4em; columns: 2; }
#errors { background: #fde8e8; color: #8a1111; border: 1px solid #e99; padding: 0.6em; white-space: pre-wrap; }
#errors[hidden] { display: none; }
.scroll { overflow-x: auto; margin: 0.6em 0 1em; }
table { border-collapse: collapse; font-size: 12.5px; }
th, td { border: 1px solid #d6d6dc; padding: 0.25em 0.55em; vertical-align: top; }
thead th { background: #eef0f4; position: sticky; top: 0; cursor: pointer; user-select: none; white-space: nowrap; }
thead th:hover { background: #dfe3ea; }
thead th::after { content: " \\2195"; color: #9aa0aa; font-size: 0.85em; }
thead th[aria-sort="ascending"]::after { content: " \\25B2"; color: #1d1d1f; }
thead th[aria-sort="descending"]::after { content: " \\25BC"; color: #1d1d1f; }
tbody tr:nth-child(even) { background: #fafafc; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
"""

#: The first script of the page: collects errors into ``<pre id="errors">``.
ERRORS_SCRIPT = """
(function () {
  var box = document.getElementById('errors');
  function note(text) { box.hidden = false; box.textContent += text + '\\n'; }
  window.addEventListener('error', function (ev) {
    var t = ev.target;
    if (t && t !== window && t.tagName) { note('failed to load <' + t.tagName.toLowerCase() + '>'); return; }
    note('error: ' + ev.message + ' (line ' + ev.lineno + ')');
  }, true);
  window.addEventListener('unhandledrejection', function (ev) { note('unhandled rejection: ' + ev.reason); });
  var original = console.error;
  console.error = function () {
    note('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
"""

#: The last script of the page: sortable tables, and the sort named by the URL fragment.
SORT_SCRIPT = """
(function () {
  function key(cell, num) {
    if (!num) { return cell.textContent; }
    var v = cell.getAttribute('data-value');
    if (v === null || v === '') { return null; }
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }
  function sortTable(table, col, dir) {
    var th = table.tHead.rows[0].cells[col];
    var num = th.getAttribute('data-type') === 'num';
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, i) { if (!r.hasAttribute('data-order')) { r.setAttribute('data-order', String(i)); } });
    rows.sort(function (a, b) {
      var x = key(a.cells[col], num), y = key(b.cells[col], num), c = 0;
      if (x === null || y === null) {
        c = x === null && y === null ? 0 : (x === null ? 1 : -1);
      } else {
        c = x < y ? -1 : (x > y ? 1 : 0);
        if (dir === 'desc') { c = -c; }
      }
      return c || (Number(a.getAttribute('data-order')) - Number(b.getAttribute('data-order')));
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending');
    table.setAttribute('data-sorted-by', th.getAttribute('data-key'));
    table.setAttribute('data-sorted-dir', dir);
  }
  function onClick(ev) {
    var th = ev.currentTarget;
    var now = th.getAttribute('aria-sort');
    var first = (th.getAttribute('data-type') === 'num' && th.getAttribute('data-better') !== 'lower') ? 'desc' : 'asc';
    var dir = now === 'ascending' ? 'desc' : (now === 'descending' ? 'asc' : first);
    sortTable(th.closest('table'), th.cellIndex, dir);
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable thead th'), function (th) {
    th.addEventListener('click', onClick);
    th.setAttribute('title', 'sort by ' + th.getAttribute('data-key'));
  });
  function fromHash() {
    var params = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var i = part.indexOf('=');
      if (i > 0) { params[decodeURIComponent(part.slice(0, i))] = decodeURIComponent(part.slice(i + 1)); }
    });
    if (!params.sort) { return; }
    var table = document.getElementById(params.table || 'leaderboard');
    if (!table || !table.tHead) { return; }
    var th = Array.prototype.filter.call(table.tHead.rows[0].cells, function (h) {
      return h.getAttribute('data-key') === params.sort;
    })[0];
    if (!th) { return; }
    th.click();
    if (params.dir && table.getAttribute('data-sorted-dir') !== params.dir) { th.click(); }
  }
  window.addEventListener('hashchange', fromHash);
  fromHash();
})();
"""

_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)$")


def inline(text: str) -> str:
    """Markdown inline markup as HTML: escaped text, ``code``, **bold** and *italics* (outside code).

    Examples
    --------
    >>> inline("the `a<b` column is **bold** and *new*")
    'the <code>a&lt;b</code> column is <strong>bold</strong> and <em>new</em>'
    """
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(f"<code>{html.escape(part[1:-1], quote=False)}</code>")
            continue
        part = html.escape(part, quote=False)
        part = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", part)
        part = re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", part)
        out.append(part)
    return "".join(out)


def slug(text: str) -> str:
    """An HTML id made of ``text``: lower case letters, digits and hyphens.

    Examples
    --------
    >>> slug("1. LEMON's query reduction @ n/4")
    '1-lemon-s-query-reduction-n-4'
    """
    out = "".join(c if c.isascii() and c.isalnum() else "-" for c in text.lower())
    return "-".join(p for p in out.split("-") if p) or "section"


def _attr(value: Any) -> str:
    return html.escape(str(value), quote=True)


def table_html(table: Any) -> str:
    """One :class:`~mxbench.bench.report.Table` as a sortable HTML table.

    Numbers are right-aligned and carry their sort key in ``data-value``; the header cells carry
    the column name (``data-key``), its kind (``data-type``: ``num`` or ``text``) and which way
    is better (``data-better``).

    Examples
    --------
    >>> from mxbench.bench.report import Table
    >>> t = Table(("explainer", "auroc"), ((("shap:KernelExplainer", "shap:KernelExplainer"), ("0.9 [0.8, 1]", 0.9)),),
    ...           ("text", "num"), ("", "higher"), "leaderboard")
    >>> print(table_html(t))  # doctest: +NORMALIZE_WHITESPACE
    <div class="scroll"><table class="sortable" id="leaderboard">
    <thead><tr><th data-key="explainer" data-type="text" data-better="">explainer</th><th data-key="auroc"
    data-type="num" data-better="higher">auroc</th></tr></thead>
    <tbody>
    <tr><td>shap:KernelExplainer</td><td class="num" data-value="0.9">0.9 [0.8, 1]</td></tr>
    </tbody></table></div>
    """
    ident = f' id="{_attr(table.id)}"' if table.id else ""
    head = "".join(f'<th data-key="{_attr(c)}" data-type="{k}" data-better="{b}">{html.escape(c, quote=False)}</th>'
                   for c, k, b in zip(table.columns, table.kinds, table.better))
    rows = []
    for row in table.rows:
        cells = []
        for (text, key), kind in zip(row, table.kinds):
            if kind == "num":
                value = "" if key is None else repr(key)
                cells.append(f'<td class="num" data-value="{value}">{html.escape(text, quote=False)}</td>')
            else:
                cells.append(f"<td>{html.escape(text, quote=False)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="scroll"><table class="sortable"{ident}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody></table></div>")


def _data_uri(folder: Path | None, src: str) -> str:
    if folder is None:
        raise FileNotFoundError(f"image {src!r}: no folder to read it from")
    path = Path(folder) / src
    if path.suffix.lower() != ".png":
        raise ValueError(f"image {src!r}: only PNG plots are embedded")
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _blocks(lines: Iterable[Any]) -> list[Any]:
    """Group markdown lines into blocks (split at blank lines and around headings); tables stay as they are."""
    blocks: list[Any] = []
    run: list[str] = []
    for item in lines:
        if not isinstance(item, str):
            if run:
                blocks.append(run)
                run = []
            blocks.append(item)
            continue
        for line in item.split("\n"):
            if not line.strip():
                if run:
                    blocks.append(run)
                    run = []
            elif line.startswith("#"):
                if run:
                    blocks.append(run)
                    run = []
                blocks.append([line])
            else:
                run.append(line)
    if run:
        blocks.append(run)
    return blocks


def render_html(lines: Iterable[Any], folder: str | Path | None = None, title: str = "mxbench report") -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    lines : iterable of str or Table
        The report's blocks in order: markdown lines (``#`` headings, paragraphs, ``- `` bullet
        lists, ``![alt](file.png)`` images; blank lines between blocks) and
        :class:`~mxbench.bench.report.Table` objects.
    folder : str or Path, optional
        Where the images are read from (embedded as base64 data URIs).
    title : str
        The page's title.

    Returns
    -------
    str
        The page: the same sections as the markdown, a table of contents, sortable tables and
        an error box (the module's docstring describes the page).

    Raises
    ------
    FileNotFoundError
        An image is missing.

    Examples
    --------
    >>> page = render_html(["# Report", "", "## Results", "", "Mean `auroc` is *high*.", "", "- one", "- two"])
    >>> '<h2 id="results">Results</h2>' in page, "<li>two</li>" in page, 'href="#results"' in page
    (True, True, True)
    >>> "http://" in page or "https://" in page or "<link" in page
    False
    """
    body: list[str] = []
    contents: list[tuple[str, str]] = []
    used: dict[str, int] = {}
    for block in _blocks(lines):
        if not isinstance(block, list):
            body.append(table_html(block))
            continue
        first = block[0]
        if first.startswith("#"):
            level = min(len(first) - len(first.lstrip("#")), 6)
            text = first[level:].strip()
            ident = slug(text)
            used[ident] = used.get(ident, 0) + 1
            if used[ident] > 1:
                ident = f"{ident}-{used[ident]}"
            if level == 2:
                contents.append((ident, text))
            body.append(f'<h{level} id="{ident}">{inline(text)}</h{level}>')
        elif len(block) == 1 and _IMAGE.match(first):
            m = _IMAGE.match(first)
            assert m is not None
            alt = m.group("alt")
            body.append(f'<figure><img src="{_data_uri(Path(folder) if folder else None, m.group("src"))}" '
                        f'alt="{_attr(alt)}"><figcaption>{inline(alt)}</figcaption></figure>')
        elif all(line.startswith("- ") for line in block):
            body.append("<ul>\n" + "\n".join(f"<li>{inline(line[2:])}</li>" for line in block) + "\n</ul>")
        else:
            body.append(f"<p>{inline(' '.join(line.strip() for line in block))}</p>")
    nav = ""
    if contents:
        nav = ('<nav id="contents"><strong>Contents</strong><ol>'
               + "".join(f'<li><a href="#{ident}">{inline(text)}</a></li>' for ident, text in contents)
               + "</ol></nav>")
    # the contents go after the first heading (the page's title)
    if body and body[0].startswith("<h1"):
        body = body[:1] + ([nav] if nav else []) + body[1:]
    elif nav:
        body = [nav] + body
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title, quote=False)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            "<pre id=\"errors\" hidden></pre>\n"
            f"<script>{ERRORS_SCRIPT}</script>\n"
            + "\n".join(body)
            + f"\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n")
