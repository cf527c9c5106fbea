"""The Parquet schema of a published dataset: tables, columns, their meaning and the manifest format."""

from __future__ import annotations

import json

import pyarrow as pa

from mxbench.spec import TaskSpec

SCHEMA_VERSION = 1
FORMAT = "mxbench-dataset"
SUITE_FORMAT = "mxbench-suite"
MANIFEST = "manifest.json"
SUITE_MANIFEST = "suite.json"
CARD = "README.md"
TABLES = ("instances", "players", "terms", "attributions", "pairs", "modalities")
#: The tables with rows per instance: split into shards in a sharded dataset (``players`` stays one file).
SHARDED_TABLES = ("instances", "terms", "attributions", "pairs", "modalities")
BIT_ORDER = ("entry b of a term's table is the term's value with players[j] present iff bit j of b is set "
             "(players[0] is the least significant bit); absent players decode to 0")

#: What every column means, written into the dataset card. ``{modality}`` columns are per modality.
COLUMNS: dict[str, dict[str, str]] = {
    "instances": {
        "instance_id": "int64, 0..N-1",
        "split": "string: train, val or test",
        "target": "float64 regression target y = f + noise, or int64 0/1 label drawn from sigmoid(f + noise)",
        "f": "float64, the planted function f* on the unmasked instance (noise-free)",
        "{modality}": "fixed-size list, one per modality: tabular float32 columns; image float32 pixels "
                      "flattened C x H x W; text int32 token ids (0 = [MASK]); shapes in the schema metadata",
    },
    "players": {
        "player_id": "int32, 0..n-1 in modality order",
        "name": "string 'modality:index'",
        "modality": "string, the modality name",
        "index": "int32, the column, the patch (row-major) or the token slot within the modality",
        "role": "string: unique, synergy, redundancy or distractor",
        "term_id": "int32, the term that reads the player, -1 for distractors",
    },
    "terms": {
        "instance_id": "int64",
        "term_id": "int32, the term's number in manifest['terms']",
        "kind": "string: unique, synergy or redundancy",
        "op": "string: identity / tanh / step, product / xor / and, or max-magnitude",
        "players": "list<int32>, the player ids the term reads",
        "table": "list<float64> of 2^k values, the term on every subset of its players: " + BIT_ORDER,
    },
    "attributions": {
        "instance_id": "int64",
        "player_id": "int32",
        "shapley": "float64, exact Shapley value of the player in the instance's planted game",
        "banzhaf": "float64, exact Banzhaf value",
    },
    "pairs": {
        "instance_id": "int64",
        "i": "int32, player id (i < j)",
        "j": "int32, player id",
        "kind": "string: synergy or redundancy (inside a planted term) or asked (from the spec's pairs)",
        "sii": "float64, exact pairwise Shapley interaction index",
    },
    "modalities": {
        "instance_id": "int64",
        "modality": "string, the modality name",
        "shapley": "float64, exact Shapley value of the modality as one player (all its players together)",
        "influence": "float64, Granger-style influence v(all) - v(all but this modality)",
    },
}


def _list(value_type: pa.DataType, size: int) -> pa.DataType:
    return pa.list_(value_type, size)


def instances_schema(spec: TaskSpec) -> pa.Schema:
    """The schema of ``instances.parquet`` for a spec (modality columns and shapes vary).

    Parameters
    ----------
    spec : TaskSpec
        The task's spec.

    Returns
    -------
    pyarrow.Schema
        ``instance_id``, ``split``, ``target`` (float64, or int64 for classification), ``f``
        and one fixed-size list column per modality; the metadata keys ``mxbench.shapes``
        and ``mxbench.kinds`` hold each modality's shape and kind as JSON.

    Examples
    --------
    >>> from mxbench.generators.suites import suite_specs
    >>> instances_schema(suite_specs("smoke")[0]).names
    ['instance_id', 'split', 'target', 'f', 'tab', 'txt']
    """
    target = pa.float64() if spec.target == "regression" else pa.int64()
    fields = [pa.field("instance_id", pa.int64(), nullable=False), pa.field("split", pa.string(), nullable=False),
              pa.field("target", target, nullable=False), pa.field("f", pa.float64(), nullable=False)]
    for m in spec.modalities:
        size = 1
        for s in m.shape:
            size *= s
        value = pa.int32() if m.kind == "text" else pa.float32()
        fields.append(pa.field(m.name, _list(value, size), nullable=False))
    meta = {"mxbench.shapes": json.dumps({m.name: list(m.shape) for m in spec.modalities}),
            "mxbench.kinds": json.dumps({m.name: m.kind for m in spec.modalities})}
    return pa.schema(fields, metadata=meta)


SCHEMAS: dict[str, pa.Schema] = {
    "players": pa.schema([("player_id", pa.int32()), ("name", pa.string()), ("modality", pa.string()),
                          ("index", pa.int32()), ("role", pa.string()), ("term_id", pa.int32())]),
    "terms": pa.schema([("instance_id", pa.int64()), ("term_id", pa.int32()), ("kind", pa.string()),
                        ("op", pa.string()), ("players", pa.list_(pa.int32())), ("table", pa.list_(pa.float64()))]),
    "attributions": pa.schema([("instance_id", pa.int64()), ("player_id", pa.int32()), ("shapley", pa.float64()),
                               ("banzhaf", pa.float64())]),
    "pairs": pa.schema([("instance_id", pa.int64()), ("i", pa.int32()), ("j", pa.int32()), ("kind", pa.string()),
                        ("sii", pa.float64())]),
    "modalities": pa.schema([("instance_id", pa.int64()), ("modality", pa.string()), ("shapley", pa.float64()),
                             ("influence", pa.float64())]),
}


def schema_of(table: str, spec: TaskSpec) -> pa.Schema:
    """The expected schema of one table of a dataset of ``spec``.

    Parameters
    ----------
    table : str
        One of ``TABLES``.
    spec : TaskSpec
        The task's spec (only the ``instances`` schema depends on it).

    Returns
    -------
    pyarrow.Schema

    Examples
    --------
    >>> from mxbench.generators.suites import suite_specs
    >>> schema_of("pairs", suite_specs("smoke")[0]).names
    ['instance_id', 'i', 'j', 'kind', 'sii']
    """
    return instances_schema(spec) if table == "instances" else SCHEMAS[table]


def shard_name(table: str, shard: int, n_shards: int) -> str:
    """The file name of one shard of a table, in the Hugging Face layout ``<table>-00000-of-00004.parquet``.

    Parameters
    ----------
    table : str
        One of ``SHARDED_TABLES``.
    shard : int
        The shard's number, ``0..n_shards-1``.
    n_shards : int
        The number of shards.

    Returns
    -------
    str

    Examples
    --------
    >>> shard_name("instances", 2, 4)
    'instances-00002-of-00004.parquet'
    """
    return f"{table}-{shard:05d}-of-{n_shards:05d}.parquet"


def table_files(table: str, n_shards: int = 1) -> list[str]:
    """The files that hold a table: ``<table>.parquet`` unsharded, else one per shard in shard order.

    Parameters
    ----------
    table : str
        One of ``TABLES``.
    n_shards : int
        The dataset's number of shards (1: unsharded). ``players`` is one file whatever it is.

    Returns
    -------
    list of str

    Examples
    --------
    >>> table_files("terms")
    ['terms.parquet']
    >>> table_files("terms", 2)
    ['terms-00000-of-00002.parquet', 'terms-00001-of-00002.parquet']
    >>> table_files("players", 2)
    ['players.parquet']
    """
    if n_shards == 1 or table not in SHARDED_TABLES:
        return [f"{table}.parquet"]
    return [shard_name(table, k, n_shards) for k in range(n_shards)]


def dataset_files(n_shards: int = 1) -> list[str]:
    """Every file a dataset's manifest lists (all but ``manifest.json`` itself), tables in ``TABLES`` order.

    Parameters
    ----------
    n_shards : int
        The dataset's number of shards (1: unsharded).

    Returns
    -------
    list of str

    Examples
    --------
    >>> dataset_files()
    ['instances.parquet', 'players.parquet', 'terms.parquet', 'attributions.parquet', 'pairs.parquet', \
'modalities.parquet', 'README.md']
    >>> len(dataset_files(3))
    17
    """
    return [name for t in TABLES for name in table_files(t, n_shards)] + [CARD]
