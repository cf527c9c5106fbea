"""The dataset card: a README.md describing every table and column and how to rebuild the games.

The card opens with YAML front matter in the Hugging Face dataset-card conventions (``configs``,
``dataset_info``, ``license``, ``tags``, ...), so ``datasets.load_dataset(folder, table)`` reads
every table of a dataset folder. The front matter is written by a small emitter here (no YAML
library is needed), in a fixed order, so the same manifest always gives the same bytes.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa

from mxbench.data.schema import BIT_ORDER, COLUMNS, SHARDED_TABLES, TABLES, schema_of

#: The license written into the card's front matter (the license of mxbench, which generates the data).
LICENSE = "mit"
#: The first line of the card's pandas recipe for exact Shapley values (tests find the code block by it).
SHAPLEY_RECIPE = "# exact Shapley values of every player in every instance, from terms.parquet alone"

_HF_DTYPES = {pa.int32(): "int32", pa.int64(): "int64", pa.float32(): "float32", pa.float64(): "float64",
              pa.string(): "string"}
_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
          (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))
# YAML 1.1 reads these plain words as booleans or null: such a name is written quoted
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


def has_rows(manifest: dict[str, Any], table: str) -> bool:
    """Whether a table of the dataset holds any rows.

    Every table has at least one row per instance except ``pairs``, which is empty when every
    planted term has one player and the spec asks for no pairs.

    Parameters
    ----------
    manifest : dict
        The dataset's manifest (:func:`~mxbench.data.writer.manifest_of`).
    table : str
        One of ``TABLES``.

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        ``table`` is not one of ``TABLES``.

    Examples
    --------
    >>> has_rows({"terms": [{"kind": "unique"}], "spec": {}}, "pairs")
    False
    >>> has_rows({"terms": [{"kind": "synergy"}], "spec": {}}, "pairs")
    True
    """
    if table not in TABLES:
        raise ValueError(f"table: {table!r} is not one of {TABLES}")
    if table != "pairs":
        return True
    return any(t["kind"] != "unique" for t in manifest["terms"]) or bool(manifest["spec"].get("pairs"))


def n_shards(manifest: dict[str, Any]) -> int:
    """The number of shards of a dataset: the length of the manifest's ``shards``, 1 when it has none.

    Parameters
    ----------
    manifest : dict
        The dataset's manifest.

    Returns
    -------
    int

    Examples
    --------
    >>> n_shards({}), n_shards({"shards": [{"start": 0, "stop": 4}, {"start": 4, "stop": 9}]})
    (1, 2)
    """
    shards = manifest.get("shards")
    return len(shards) if isinstance(shards, list) and shards else 1


def table_pattern(manifest: dict[str, Any], table: str) -> str:
    """The file, or the glob of the shard files, that holds a table: what ``data_files`` names.

    Parameters
    ----------
    manifest : dict
        The dataset's manifest.
    table : str
        One of ``TABLES``.

    Returns
    -------
    str
        ``<table>.parquet``, or ``<table>-*.parquet`` for a per-instance table of a sharded
        dataset.

    Examples
    --------
    >>> table_pattern({}, "instances")
    'instances.parquet'
    >>> sharded = {"shards": [{"start": 0, "stop": 4}, {"start": 4, "stop": 9}]}
    >>> table_pattern(sharded, "instances"), table_pattern(sharded, "players")
    ('instances-*.parquet', 'players.parquet')
    """
    if n_shards(manifest) > 1 and table in SHARDED_TABLES:
        return f"{table}-*.parquet"
    return f"{table}.parquet"


def hf_features(schema: pa.Schema) -> list[dict[str, Any]]:
    """The Hugging Face ``features`` (YAML form) of an Arrow schema of one of the tables.

    Scalars are ``dtype: <type>``; lists are ``sequence: <type>``, with ``length`` for the
    fixed-size lists of the ``instances`` table (the flattened modality inputs). ``sequence``
    rather than the newer ``list``, which older ``datasets`` versions read without its
    length; newer ones read ``sequence`` as ``List``.

    Parameters
    ----------
    schema : pyarrow.Schema
        A table's schema (:func:`~mxbench.data.schema.schema_of`).

    Returns
    -------
    list of dict
        One ``{"name": ..., "dtype": ...}`` or ``{"name": ..., "sequence": ..., "length": ...}``
        per column.

    Raises
    ------
    ValueError
        A column has a type with no Hugging Face equivalent here.

    Examples
    --------
    >>> import pyarrow as pa
    >>> hf_features(pa.schema([("x", pa.int64()), ("img", pa.list_(pa.float32(), 16))]))
    [{'name': 'x', 'dtype': 'int64'}, {'name': 'img', 'sequence': 'float32', 'length': 16}]
    """
    out = []
    for f in schema:
        t = f.type
        if t in _HF_DTYPES:
            out.append({"name": f.name, "dtype": _HF_DTYPES[t]})
        elif (pa.types.is_list(t) or pa.types.is_fixed_size_list(t)) and t.value_type in _HF_DTYPES:
            entry = {"name": f.name, "sequence": _HF_DTYPES[t.value_type]}
            if pa.types.is_fixed_size_list(t):
                entry["length"] = t.list_size
            out.append(entry)
        else:
            raise ValueError(f"schema: column {f.name!r} has type {t}, which has no Hugging Face feature here")
    return out


def card_metadata(manifest: dict[str, Any]) -> dict[str, Any]:
    """The YAML front matter of the dataset card, as a dict, in the Hugging Face conventions.

    ``configs`` holds one configuration per table that has rows, named after the table,
    each with one split ``train`` holding the table's Parquet file, or the glob
    ``<table>-*.parquet`` of its shards (:func:`table_pattern`; ``instances`` is the
    default); an instance's own train/val/test assignment is the ``split`` column.
    ``dataset_info`` gives each configuration's ``features`` (:func:`hf_features`). Then
    ``pretty_name``, ``license``, ``tags``, ``size_categories`` and, for a task whose
    modalities are all tabular, ``task_categories``.

    Parameters
    ----------
    manifest : dict
        The dataset's manifest (:func:`~mxbench.data.writer.manifest_of`).

    Returns
    -------
    dict
        The front matter; keys in the order they are written.

    Examples
    --------
    >>> from mxbench.data.writer import manifest_of
    >>> from mxbench.task import TaskPlan
    >>> from mxbench.generators.suites import suite_specs
    >>> meta = card_metadata(manifest_of(TaskPlan.from_spec(suite_specs("smoke")[1]), 10))
    >>> [c["config_name"] for c in meta["configs"]]
    ['instances', 'players', 'terms', 'attributions', 'pairs', 'modalities']
    >>> meta["dataset_info"][0]["features"][4]
    {'name': 'img', 'sequence': 'float32', 'length': 144}
    >>> meta["tags"]
    ['synthetic', 'explainability', 'shapley', 'mxbench', 'multimodal', 'image', 'text']
    """
    from mxbench.spec import TaskSpec

    spec = TaskSpec.from_dict(manifest["spec"])
    tables = [t for t in TABLES if has_rows(manifest, t)]
    configs = []
    for t in tables:
        config: dict[str, Any] = {"config_name": t,
                                  "data_files": [{"split": "train", "path": table_pattern(manifest, t)}]}
        if t == "instances":
            config["default"] = True
        configs.append(config)
    kinds = list(dict.fromkeys(m.kind for m in spec.modalities))
    tags = ["synthetic", "explainability", "shapley", "mxbench"]
    tags += (["multimodal"] if len(spec.modalities) > 1 else []) + kinds
    n = manifest["instances"]
    meta: dict[str, Any] = {
        "pretty_name": f"mxbench {manifest['name']}",
        "license": LICENSE,
        "tags": tags,
        "size_categories": [next((label for limit, label in _SIZES if n < limit), "100M<n<1B")],
    }
    if kinds == ["tabular"]:
        meta["task_categories"] = [f"tabular-{spec.target}"]
    meta["configs"] = configs
    meta["dataset_info"] = [{"config_name": t, "features": hf_features(schema_of(t, spec))} for t in tables]
    return meta


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
            return value
        return json.dumps(value)  # a JSON string is a YAML double-quoted scalar
    raise TypeError(f"front matter: cannot write {type(value).__name__} {value!r}")


def _yaml(obj: Any, indent: int = 0) -> list[str]:
    """Block-style YAML lines of nested dicts, lists and scalars (no empty collections)."""
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                lines.append(f"{pad}{_scalar(key)}:")
                lines += _yaml(value, indent + (2 if isinstance(value, dict) else 0))
            else:
                lines.append(f"{pad}{_scalar(key)}: {_scalar(value)}")
    else:
        for item in obj:
            if isinstance(item, (dict, list)):
                inner = _yaml(item, indent + 2)
                lines.append(f"{pad}- {inner[0][indent + 2:]}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def front_matter(manifest: dict[str, Any]) -> str:
    """The card's YAML front matter, between ``---`` lines (see :func:`card_metadata`).

    Parameters
    ----------
    manifest : dict
        The dataset's manifest.

    Returns
    -------
    str
        ``"---\\n" + YAML + "---\\n"``.

    Examples
    --------
    >>> from mxbench.data.writer import manifest_of
    >>> from mxbench.task import TaskPlan
    >>> from mxbench.generators.suites import suite_specs
    >>> front_matter(manifest_of(TaskPlan.from_spec(suite_specs("smoke")[0]), 10)).splitlines()[:5]
    ['---', 'pretty_name: "mxbench smoke-tab-txt"', 'license: mit', 'tags:', '- synthetic']
    """
    return "---\n" + "\n".join(_yaml(card_metadata(manifest))) + "\n---\n"


def dataset_card(manifest: dict[str, Any]) -> str:
    """Render the dataset card of a dataset from its manifest.

    Parameters
    ----------
    manifest : dict
        The dataset's manifest, as from :func:`~mxbench.data.writer.manifest_of` (the file
        hashes are not needed).

    Returns
    -------
    str
        The front matter (:func:`front_matter`), then Markdown: the modalities, the planted
        terms, every table's columns, how to load the tables with Hugging Face ``datasets``,
        how to rebuild an instance's game and its exact Shapley values without mxbench.

    Examples
    --------
    >>> from mxbench.data.writer import manifest_of
    >>> from mxbench.task import TaskPlan
    >>> from mxbench.generators.suites import suite_specs
    >>> card = dataset_card(manifest_of(TaskPlan.from_spec(suite_specs("smoke")[0]), 10))
    >>> card.startswith("---\\n"), card.split("\\n---\\n\\n")[1].splitlines()[0]
    (True, '# smoke-tab-txt: an mxbench planted multimodal task')
    """
    spec = manifest["spec"]
    lines = [
        f"# {manifest['name']}: an mxbench planted multimodal task",
        "",
        f"{manifest['instances']} instances, {manifest['players']} players, {len(manifest['terms'])} planted terms, "
        f"target: {spec['target']} (noise {spec['noise']}), seed {manifest['seed']}, "
        f"generated by mxbench {manifest['mxbench_version']} (schema version {manifest['schema_version']}).",
        "",
        "Every instance's label function is a known sum of planted terms over a few players (columns, image "
        "patches, token slots), so exact Shapley values, interactions and modality contributions are stored "
        "next to the data. The files are plain Parquet: read them with pyarrow, pandas, polars, DuckDB or "
        "Hugging Face `datasets`; mxbench is not needed.",
        "",
        "## Modalities",
        "",
        "| name | kind | shape | players |",
        "|---|---|---|---|",
    ]
    shapes = {}
    for m in spec["modalities"]:
        if m["kind"] == "tabular":
            shape, players = f"{m['features']}", m["features"]
            shapes[m["name"]] = (m["features"],)
        elif m["kind"] == "image":
            shape = f"{m['channels']}x{m['size']}x{m['size']}"
            players = f"{(m['size'] // m['patch']) ** 2} patches of {m['patch']}x{m['patch']} (row-major)"
            shapes[m["name"]] = (m["channels"], m["size"], m["size"])
        else:
            shape, players = f"{m['length']} tokens, vocab {m['vocab']}", f"{m['length']} token slots"
            shapes[m["name"]] = (m["length"],)
        lines.append(f"| {m['name']} | {m['kind']} | {shape} | {players} |")
    lines += ["", "## Planted terms", "", "| term_id | kind | op | players | weight |", "|---|---|---|---|---|"]
    for k, t in enumerate(manifest["terms"]):
        op = t.get("fn") or t.get("op") or "max-magnitude"
        lines.append(f"| {k} | {t['kind']} | {op} | {', '.join(t['players'])} | {t['weight']:g} |")
    if manifest.get("shares"):
        req, got = manifest["shares"]["requested"], manifest["shares"]["achieved"]
        lines += ["", "Requested / achieved dataset-level modality shares (mean |modality Shapley|): "
                  + ", ".join(f"{k} {req[k]:.3f} / {got[k]:.3f}" for k in req) + "."]
    lines += ["", "## Tables", ""]
    lines += _shards_section(manifest)
    for table, cols in COLUMNS.items():
        lines += [f"### `{table_pattern(manifest, table)}`", "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{c}` | {d} |" for c, d in cols.items()]
        lines.append("")
    lines += _hf_section(manifest, shapes)
    lines += [
        "## Rebuilding an instance's game without mxbench",
        "",
        f"The planted game is `v(S) = intercept + sum over terms of table[b]`, where {BIT_ORDER}. "
        f"The intercept is {manifest['intercept']!r} (`manifest.json`, key `intercept`).",
        "",
        "```python",
        "import json, pandas as pd" if n_shards(manifest) == 1 else "import glob, json, pandas as pd",
        *_read_lines(manifest, "terms"),
        "intercept = json.load(open('manifest.json'))['intercept']",
        "rows = terms[terms.instance_id == 0]",
        "def v(S):  # S: a set of player ids",
        "    total = intercept",
        "    for players, table in zip(rows.players, rows.table):",
        "        b = sum(1 << j for j, p in enumerate(players) if p in S)",
        "        total += table[b]",
        "    return total",
        "```",
        "",
        "Masking rule: an absent player is a column set to 0, a patch set to zeros, or a token set to "
        "`[MASK]` (id 0); it decodes to latent value 0. Decoders are in `manifest.json` under `codebooks`: "
        "a patch's latent is `<patch, template> / <template, template>` (patch pixels flattened C x P x P); a "
        "token's latent is `values[token_id]`; a column's latent is its value.",
        "",
    ]
    lines += _shapley_section(manifest)
    lines += [
        "`manifest.json` also holds the full spec, the seed, the package and schema versions and a SHA-256 "
        "of every file (this card included); `mxbench verify DIR` checks them and recomputes the truth from "
        "`terms.parquet`.",
        "",
    ]
    return front_matter(manifest) + "\n" + "\n".join(lines)


def _hf_section(manifest: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> list[str]:
    empty = [t for t in TABLES if not has_rows(manifest, t)]
    lines = [
        "## Loading with Hugging Face `datasets`",
        "",
        "Each table with rows is a configuration of the same name (`instances` is the default) with one split, "
        "`train`, that holds all of its rows: an instance's train/val/test assignment is the `split` column of "
        "`instances`. The modality columns are fixed-length lists, flattened in C order; reshape them to the "
        "shapes below. `with_format('numpy')` returns float64 columns as float32 (and integers as int64): read "
        "`target`, `f` and the exact values with `to_pandas()` or `with_format('arrow')` to keep every bit.",
    ]
    if empty:
        lines += ["", "No configuration for " + ", ".join(f"`{table_pattern(manifest, t)}`" for t in empty)
                  + ": it holds no rows for this task (no planted pair and none asked)."]
    lines += [
        "",
        "```python",
        "from datasets import load_dataset",
        f"folder = {manifest['name']!r}  # the path of this folder, or the dataset's id on the Hub",
        "cols = load_dataset(folder, 'instances')['train'].with_format('numpy')[:]  # a dict of arrays",
    ]
    lines += [f"{name} = cols[{name!r}].reshape(-1, {', '.join(map(str, shape))})" for name, shape in shapes.items()]
    lines += ["attributions = load_dataset(folder, 'attributions')['train'].to_pandas()", "```", ""]
    return lines


def _read_lines(manifest: dict[str, Any], table: str) -> list[str]:
    """The recipes' line that reads a table into pandas: one file, or its shards in order."""
    if n_shards(manifest) == 1:
        return [f"{table} = pd.read_parquet({table + '.parquet'!r})"]
    return [f"{table} = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob({table + '-*.parquet'!r}))], "
            "ignore_index=True)"]


def _shards_section(manifest: dict[str, Any]) -> list[str]:
    k = n_shards(manifest)
    if k == 1:
        return []
    shards = manifest["shards"]
    sizes = sorted({s["stop"] - s["start"] for s in shards})
    return [
        f"The dataset is written in {k} shards, in the Hugging Face layout: each per-instance table "
        f"(`{'`, `'.join(SHARDED_TABLES)}`) is one file per shard, `<table>-00000-of-{k:05d}.parquet` to "
        f"`<table>-{k - 1:05d}-of-{k:05d}.parquet`, and `players.parquet` is one file. Shard k holds the rows of "
        "a contiguous run of instances, in order (`manifest.json`, key `shards`, gives each shard's `start` and "
        f"`stop`; from {sizes[0]} to {sizes[-1]} instances each); read the shards in file-name order to get the "
        "rows of a table in instance order. The values are those of the same task written in one file per table.",
        "",
    ]


def _shapley_section(manifest: dict[str, Any]) -> list[str]:
    return [
        "## Exact Shapley values at any number of players, with pandas",
        "",
        "No enumeration of the 2^n coalitions is needed. Each term's table over the subsets of its k players "
        "(`terms.parquet`) gives, by inclusion-exclusion, the term's Möbius coefficients "
        "`m(T) = sum over S subset of T of (-1)^(|T|-|S|) table[S]`; the game's Möbius transform is the sum "
        "of the terms' coefficients (terms share no players), and each coefficient is shared equally among its "
        "players: `phi_i = sum over T containing i of m(T) / |T|`. The cost is about 4^k per term and "
        "instance, whatever the number of players. The result equals the `shapley` column of "
        "`attributions.parquet`.",
        "",
        "```python",
        SHAPLEY_RECIPE,
        "import pandas as pd" if n_shards(manifest) == 1 else "import glob, pandas as pd",
        *_read_lines(manifest, "terms"),
        "n_players = len(pd.read_parquet('players.parquet'))",
        "phi = {}  # player id -> Shapley value of that player in every instance (a Series over instance_id)",
        "for term_id, rows in terms.groupby('term_id'):",
        "    players = [int(p) for p in rows.players.iloc[0]]  # a term reads the same players in every instance",
        "    k = len(players)",
        "    table = pd.DataFrame(rows.table.tolist(), index=rows.instance_id)  # column b: the term on subset b",
        "    for T in range(1, 2 ** k):",
        "        size = bin(T).count('1')",
        "        m = sum((-1) ** (size - bin(S).count('1')) * table[S] for S in range(2 ** k) if S & T == S)",
        "        for j, p in enumerate(players):",
        "            if T >> j & 1:",
        "                phi[p] = phi.get(p, 0.0) + m / size",
        "shapley = pd.DataFrame(phi).reindex(columns=range(n_players), fill_value=0.0).sort_index()",
        "# shapley.loc[i, p]: the exact Shapley value of player p in instance i",
        "```",
        "",
    ]
