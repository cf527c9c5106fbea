"""Hugging Face-ready datasets: the card's front matter, loading every table with `datasets`,
the manifest covering the card, the pandas Shapley recipe, and cards written before the front matter."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import mxbench
from mxbench.data import read_manifest, verify
from mxbench.data.card import SHAPLEY_RECIPE, dataset_card
from mxbench.data.schema import CARD, MANIFEST, TABLES
from mxbench.data.writer import sha256_file
from mxbench.generators.suites import suite_specs
from mxbench.task import SPLITS

datasets = pytest.importorskip("datasets")
yaml = pytest.importorskip("yaml")

IMG_TXT = suite_specs("smoke")[1]  # classification, image (1 x 12 x 12) and text
# 100 players; a 4-copy redundancy (16-entry table), 3-player synergies and random terms of every kind
WIDE = {"name": "wide", "seed": 5, "instances": 12, "noise": 0.05,
        "modalities": [{"name": "tab", "kind": "tabular", "features": 64},
                       {"name": "txt", "kind": "text", "length": 36, "vocab": 64}],
        "terms": [{"kind": "redundancy", "players": ["tab:0", "tab:1", "txt:0", "txt:1"], "weight": 1.0},
                  {"kind": "synergy", "op": "product", "players": ["tab:2", "tab:3", "txt:5"], "weight": 1.0}],
        "random_terms": {"unique": 4, "synergy": 4, "redundancy": 2, "synergy3": 2}}
# only unique terms and no asked pairs: pairs.parquet is empty; modality names YAML would read as a bool and null
PLAIN = {"name": "plain", "seed": 1, "instances": 10,
         "modalities": [{"name": "on", "kind": "tabular", "features": 3},
                        {"name": "null", "kind": "tabular", "features": 2}],
         "terms": [{"kind": "unique", "players": ["on:0"], "weight": 1.0},
                   {"kind": "unique", "players": ["null:1"], "fn": "tanh", "weight": 2.0}]}


@pytest.fixture(scope="module")
def img_txt(tmp_path_factory):
    return mxbench.write_dataset(IMG_TXT, tmp_path_factory.mktemp("hf") / IMG_TXT.name, instances=24)


def _front_matter(folder: Path) -> dict:
    text = (folder / CARD).read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("\n---\n", 1)[0][4:])


def _code_block(folder: Path, first_line: str) -> str:
    """The fenced python block of the card that holds ``first_line``."""
    text = (folder / CARD).read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    found = [b for b in blocks if first_line in b]
    assert len(found) == 1
    return found[0]


def _load(folder: Path, config: str | None, cache: Path):
    return datasets.load_dataset(str(folder), config, cache_dir=str(cache / "hf-cache"))["train"]


def _arrays(ds) -> dict[str, np.ndarray]:
    """The columns of a loaded table as numpy arrays of their stored dtypes (lists as rows of a 2-D array).

    Not ``with_format("numpy")``, which turns float64 into float32 and int32 into int64.
    """
    table = ds.with_format("arrow")[:]
    out = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        if hasattr(col, "flatten"):
            out[name] = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), -1)
        else:
            out[name] = col.to_numpy(zero_copy_only=False)
    return out


def _listing(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())}


def test_front_matter_follows_the_hub_conventions(img_txt):
    meta = _front_matter(img_txt)
    assert list(meta) == ["pretty_name", "license", "tags", "size_categories", "configs", "dataset_info"]
    assert meta["pretty_name"] == "mxbench smoke-img-txt" and meta["license"] == "mit"
    assert meta["tags"] == ["synthetic", "explainability", "shapley", "mxbench", "multimodal", "image", "text"]
    assert meta["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in meta["configs"]] == list(TABLES)
    assert [c.get("default", False) for c in meta["configs"]] == [True] + [False] * 5
    assert [c["data_files"] for c in meta["configs"]] == [[{"split": "train", "path": f"{t}.parquet"}] for t in TABLES]
    # the YAML features parse to exactly the features of the Parquet files: dtypes, lists and fixed lengths
    infos = datasets.info.DatasetInfosDict.from_dataset_card_data(meta)
    assert list(infos) == list(TABLES)
    for table in TABLES:
        want = datasets.Features.from_arrow_schema(pq.read_schema(img_txt / f"{table}.parquet"))
        assert infos[table].features == want
    img = infos["instances"].features["img"]
    assert (img.length, img.feature.dtype) == (144, "float32")
    assert infos["instances"].features["target"].dtype == "int64"  # a classification label
    assert infos["terms"].features["table"].length == -1  # variable length: 2^k entries


def test_every_table_loads_with_datasets_and_equals_the_reader(img_txt, tmp_path):
    before = _listing(img_txt)
    task = mxbench.load(img_txt)
    n, n_players = task.n_instances, task.n_players

    default = _load(img_txt, None, tmp_path)
    inst = _load(img_txt, "instances", tmp_path)
    assert default.num_rows == inst.num_rows == n == 24
    assert default.column_names == inst.column_names == ["instance_id", "split", "target", "f", "img", "txt"]
    cols = _arrays(inst)
    assert cols["img"].dtype == np.float32 and cols["txt"].dtype == np.int32 and cols["f"].dtype == np.float64
    assert np.array_equal(cols["img"].reshape(-1, 1, 12, 12), task.inputs["img"])
    assert np.array_equal(cols["txt"].reshape(-1, 5), task.inputs["txt"])
    assert task.inputs["img"].shape == (24, 1, 12, 12)
    assert np.array_equal(cols["instance_id"], np.arange(n))
    assert np.array_equal(cols["target"], task.target) and cols["target"].dtype == np.int64
    assert list(cols["split"]) == [SPLITS[s] for s in task.split]
    assert np.array_equal(cols["f"], pd.read_parquet(img_txt / "instances.parquet")["f"].to_numpy())
    assert np.allclose(cols["f"], task.f, rtol=0, atol=1e-12)

    attr = _arrays(_load(img_txt, "attributions", tmp_path))
    assert len(attr["shapley"]) == n * n_players
    assert np.array_equal(attr["shapley"].reshape(n, n_players), task.oracle().shapley())
    assert np.array_equal(attr["banzhaf"].reshape(n, n_players), task.oracle().banzhaf())

    players = _load(img_txt, "players", tmp_path).to_pandas()
    assert players.astype(str).equals(task.plan.players().astype(str))

    terms = _load(img_txt, "terms", tmp_path)
    stored = pd.read_parquet(img_txt / "terms.parquet")
    assert terms.num_rows == len(stored) == n * len(task.terms)
    assert terms["players"][:3] == [list(p) for p in stored.players[:3]]
    assert terms["table"][:3] == [list(t) for t in stored.table[:3]]

    pairs = _load(img_txt, "pairs", tmp_path).to_pandas()
    assert pairs.equals(pd.read_parquet(img_txt / "pairs.parquet")) and len(pairs) == n * len(task.pairs())
    mods = _arrays(_load(img_txt, "modalities", tmp_path))
    assert np.array_equal(mods["shapley"].reshape(n, 2), task.oracle().modality_shapley())
    # datasets wrote nothing into the folder: it still verifies and can still be overwritten
    assert _listing(img_txt) == before and verify(img_txt).ok


def test_the_cards_datasets_snippet_runs(img_txt, tmp_path, monkeypatch):
    code = _code_block(img_txt, "from datasets import load_dataset")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(img_txt.parent)  # the snippet names the folder by the task's name
    scope: dict = {}
    exec(compile(code, "card", "exec"), scope)
    task = mxbench.load(img_txt)
    assert scope["img"].shape == (24, 1, 12, 12) and np.array_equal(scope["img"], task.inputs["img"])
    assert np.array_equal(scope["txt"], task.inputs["txt"])
    assert np.array_equal(scope["attributions"]["shapley"].to_numpy().reshape(24, -1), task.oracle().shapley())


def test_the_manifest_covers_the_card_as_written(img_txt, tmp_path):
    manifest = read_manifest(img_txt)
    card = (img_txt / CARD).read_bytes()
    assert manifest["files"][CARD]["sha256"] == sha256_file(img_txt / CARD)
    assert manifest["files"][CARD]["bytes"] == len(card)
    # the card is a function of the manifest: regenerated from the stored one, the same bytes
    assert dataset_card({k: v for k, v in manifest.items() if k != "files"}).encode("utf-8") == card
    report = verify(img_txt)
    assert report.ok and mxbench.load(img_txt).n_instances == 24

    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for p in img_txt.iterdir():
        (tampered / p.name).write_bytes(p.read_bytes())
    (tampered / CARD).write_bytes(card.replace(b"license: mit", b"license: apache-2.0", 1))
    report = verify(tampered)
    assert not report.ok
    failed = [c for c in report.checks if not c.ok]
    assert [c.name for c in failed] == ["sha256"] and failed[0].detail.startswith("README.md: SHA-256")
    with pytest.raises(mxbench.DatasetError, match="README.md: SHA-256"):
        mxbench.load(tampered)


def test_the_cards_pandas_recipe_gives_exact_shapley_values_at_100_players(tmp_path, monkeypatch):
    folder = mxbench.write_dataset(WIDE, tmp_path / "wide")
    task = mxbench.generate(WIDE)
    assert task.n_players == 100 and max(t.order for t in task.terms) == 4
    code = _code_block(folder, SHAPLEY_RECIPE)
    imported = {a.name for node in ast.walk(ast.parse(code)) if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in node.names}
    assert imported == {"pandas"}  # pandas alone; no mxbench, no enumeration of 2^100 coalitions
    monkeypatch.chdir(folder)
    scope: dict = {}
    exec(compile(code, "card", "exec"), scope)
    shapley = scope["shapley"]
    assert isinstance(shapley, pd.DataFrame) and shapley.shape == (12, 100)
    assert list(shapley.index) == list(range(12)) and list(shapley.columns) == list(range(100))
    truth = task.oracle().shapley()
    assert np.max(np.abs(shapley.to_numpy() - truth)) <= 1e-9
    assert np.count_nonzero(truth.any(axis=0)) > 20  # the planted players carry value; the rest are exactly 0
    stored = pd.read_parquet(folder / "attributions.parquet")["shapley"].to_numpy().reshape(12, 100)
    assert np.max(np.abs(shapley.to_numpy() - stored)) <= 1e-9


def test_a_card_without_front_matter_still_loads_and_verifies(tmp_path):
    """Datasets written before the front matter: the card is only hashed, never parsed."""
    folder = mxbench.write_dataset(IMG_TXT, tmp_path / "old", instances=8)
    text = (folder / CARD).read_text(encoding="utf-8")
    old = text.split("\n---\n\n", 1)[1]
    assert old.startswith("# smoke-img-txt: an mxbench planted multimodal task")
    (folder / CARD).write_text(old, encoding="utf-8")
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"][CARD] = {"sha256": sha256_file(folder / CARD), "bytes": (folder / CARD).stat().st_size,
                               "rows": None}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    assert not (folder / CARD).read_text(encoding="utf-8").startswith("---")
    task = mxbench.load(folder)
    assert task.n_instances == 8 and task.n_players == 14
    report = verify(folder)
    assert report.ok, str(report)


def test_empty_pairs_table_has_no_config_and_odd_names_are_quoted(tmp_path):
    folder = mxbench.write_dataset(PLAIN, tmp_path / "plain")
    assert pq.ParquetFile(folder / "pairs.parquet").metadata.num_rows == 0
    text = (folder / CARD).read_text(encoding="utf-8")
    assert '- name: "on"' in text and '- name: "null"' in text
    meta = _front_matter(folder)
    assert [c["config_name"] for c in meta["configs"]] == ["instances", "players", "terms", "attributions",
                                                           "modalities"]
    assert [i["config_name"] for i in meta["dataset_info"]] == [c["config_name"] for c in meta["configs"]]
    assert meta["tags"] == ["synthetic", "explainability", "shapley", "mxbench", "multimodal", "tabular"]
    assert meta["task_categories"] == ["tabular-regression"]
    assert "No configuration for `pairs.parquet`" in text
    inst = _arrays(_load(folder, "instances", tmp_path))
    assert list(inst) == ["instance_id", "split", "target", "f", "on", "null"]
    task = mxbench.load(folder)
    assert np.array_equal(inst["on"], task.inputs["on"]) and np.array_equal(inst["null"], task.inputs["null"])
    assert _load(folder, "modalities", tmp_path).num_rows == 20
    assert verify(folder).ok
    assert set(os.listdir(folder)) == {f"{t}.parquet" for t in TABLES} | {CARD, MANIFEST}
