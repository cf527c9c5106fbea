"""The named suites of task specs: ``smoke`` (seconds), ``standard`` (the benchmark),
``specialisation`` (the FL-I2MoE routing check) and ``paper`` (the scale of real multimodal inputs)."""

from __future__ import annotations

from typing import Any

from mxbench.errors import SpecError
from mxbench.spec import TaskSpec


def _tab(name: str, n: int) -> dict[str, Any]:
    return {"name": name, "kind": "tabular", "features": n}


def _img(name: str, size: int, patch: int, channels: int = 1) -> dict[str, Any]:
    return {"name": name, "kind": "image", "channels": channels, "size": size, "patch": patch}


def _txt(name: str, length: int, vocab: int) -> dict[str, Any]:
    return {"name": name, "kind": "text", "length": length, "vocab": vocab}


def _smoke() -> list[dict[str, Any]]:
    return [
        {"name": "smoke-tab-txt", "seed": 11, "instances": 4096, "noise": 0.05,
         "modalities": [_tab("tab", 6), _txt("txt", 6, 32)],
         "terms": [{"kind": "unique", "players": ["tab:0"], "fn": "tanh", "weight": 1.5},
                   {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:0"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["tab:2", "txt:1"], "weight": 1.2},
                   {"kind": "synergy", "op": "xor", "players": ["txt:2", "txt:3"], "weight": 0.8}]},
        {"name": "smoke-img-txt", "seed": 12, "instances": 4096, "noise": 0.1, "target": "classification",
         "modalities": [_img("img", 12, 4), _txt("txt", 5, 32)],
         "terms": [{"kind": "unique", "players": ["img:4"], "weight": 2.0},
                   {"kind": "synergy", "op": "and", "players": ["img:0", "txt:1"], "weight": 2.5},
                   {"kind": "redundancy", "players": ["img:2", "txt:3"], "weight": -1.5}]},
        {"name": "smoke-mix3", "seed": 13, "instances": 4096, "noise": 0.05,
         "modalities": [_tab("tab", 4), _img("img", 8, 4), _txt("txt", 4, 24)],
         "terms": [{"kind": "synergy", "op": "product", "players": ["tab:0", "img:1", "txt:2"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["tab:1", "img:2", "txt:3"], "weight": 1.0},
                   {"kind": "unique", "players": ["tab:2"], "fn": "step", "weight": 1.0},
                   {"kind": "unique", "players": ["img:0"], "weight": 1.0}],
         "shares": {"tab": 0.4, "img": 0.35, "txt": 0.25}},
    ]


def _standard() -> list[dict[str, Any]]:
    structures = [
        {"name": "tab-img-16", "seed": 101,
         "modalities": [_tab("tab", 7), _img("img", 12, 4)],
         "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                   {"kind": "unique", "players": ["img:4"], "fn": "tanh", "weight": 1.5},
                   {"kind": "synergy", "op": "product", "players": ["tab:1", "img:0"], "weight": 1.5},
                   {"kind": "synergy", "op": "xor", "players": ["tab:2", "tab:3"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["tab:4", "img:8"], "weight": 1.2}]},
        {"name": "img-txt-32", "seed": 102, "target": "classification",
         "modalities": [_img("img", 16, 4, channels=3), _txt("txt", 16, 64)],
         "terms": [{"kind": "unique", "players": ["txt:0"], "fn": "step", "weight": 1.5},
                   {"kind": "unique", "players": ["img:5"], "weight": 1.0},
                   {"kind": "synergy", "op": "and", "players": ["img:0", "txt:3"], "weight": 2.0},
                   {"kind": "synergy", "op": "product", "players": ["img:1", "img:2"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["img:10", "txt:7"], "weight": 1.2},
                   {"kind": "redundancy", "players": ["txt:9", "txt:12"], "weight": -1.0},
                   {"kind": "synergy", "op": "product", "players": ["img:3", "txt:5", "txt:6"], "weight": 0.8}]},
        {"name": "tab-img-txt-48", "seed": 103,
         "modalities": [_tab("tab", 16), _img("img", 16, 4), _txt("txt", 16, 64)],
         "terms": [{"kind": "redundancy", "players": ["tab:0", "img:0", "txt:0"], "weight": 1.0},
                   {"kind": "synergy", "op": "xor", "players": ["tab:1", "tab:2"], "weight": 1.0}],
         "random_terms": {"unique": 3, "synergy": 3, "redundancy": 2, "synergy3": 1, "placement": "any"}},
        {"name": "tab-img-txt-64", "seed": 104,
         "modalities": [_tab("tab", 16), _img("img", 24, 4), _txt("txt", 12, 48)],
         "terms": [{"kind": "synergy", "op": "product", "players": ["img:0", "img:1"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["txt:0", "txt:1"], "weight": 1.0}],
         "random_terms": {"unique": 4, "synergy": 4, "redundancy": 3, "synergy3": 1, "placement": "cross"},
         "shares": {"tab": 0.3, "img": 0.4, "txt": 0.3}},
    ]
    out = []
    for s in structures:
        for level, noise in (("lo", 0.05), ("hi", 0.5)):
            out.append({**s, "name": f"{s['name']}-{level}", "instances": 2000, "noise": noise})
    return out


def _specialisation() -> list[dict[str, Any]]:
    """Modality-level tasks for the FL-I2MoE routing check: all signal unique to one
    modality, purely synergistic across two, or purely redundant across two."""
    mods = [_tab("tab", 4), _txt("txt", 4, 32)]
    return [
        {"name": "spec-unique-tab", "seed": 21, "instances": 4096, "noise": 0.05, "modalities": mods,
         "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.5},
                   {"kind": "unique", "players": ["tab:1"], "fn": "tanh", "weight": 1.5},
                   {"kind": "synergy", "op": "product", "players": ["tab:2", "tab:3"], "weight": 1.0}]},
        {"name": "spec-synergy", "seed": 22, "instances": 4096, "noise": 0.05, "modalities": mods,
         "terms": [{"kind": "synergy", "op": "product", "players": ["tab:0", "txt:0"], "weight": 1.5},
                   {"kind": "synergy", "op": "xor", "players": ["tab:1", "txt:1"], "weight": 1.0}]},
        {"name": "spec-redundancy", "seed": 23, "instances": 4096, "noise": 0.05, "modalities": mods,
         "terms": [{"kind": "redundancy", "players": ["tab:0", "txt:0"], "weight": 1.5},
                   {"kind": "redundancy", "players": ["tab:1", "txt:1"], "weight": -1.0}]},
        # the mirror of spec-unique-tab: tells "routes to the signal's unique expert" from a uni:tab bias
        {"name": "spec-unique-txt", "seed": 24, "instances": 4096, "noise": 0.05, "modalities": mods,
         "terms": [{"kind": "unique", "players": ["txt:0"], "weight": 1.5},
                   {"kind": "unique", "players": ["txt:1"], "fn": "tanh", "weight": 1.5},
                   {"kind": "synergy", "op": "product", "players": ["txt:2", "txt:3"], "weight": 1.0}]},
    ]


def _paper() -> list[dict[str, Any]]:
    """Tasks at the scale of real multimodal inputs: a ViT's 196 patches (14 x 14), tens to hundreds
    of text tokens, a few dozen tabular columns; 16-46 planted terms of every kind and order <= 3,
    mostly cross-modal, among many distractors. 10,000 instances each."""
    cross = {"placement": "cross"}
    return [
        # (a) image + text: 196 patches + 48 tokens = 244 players, 16 terms over 33 players
        {"name": "paper-img-txt", "seed": 201, "instances": 10_000, "noise": 0.05,
         "modalities": [_img("img", 56, 4), _txt("txt", 48, 512)],
         "terms": [{"kind": "redundancy", "players": ["img:90", "txt:10", "txt:30"], "weight": 1.0},
                   {"kind": "synergy", "op": "product", "players": ["img:20", "img:21", "txt:3"], "weight": 1.0},
                   {"kind": "synergy", "op": "xor", "players": ["img:150", "txt:40", "txt:41"], "weight": 0.8}],
         "random_terms": {"unique": 4, "synergy": 6, "redundancy": 3, **cross}},
        # (b) image + text + tabular: 196 + 64 + 32 = 292 players, 23 terms over 48 players
        {"name": "paper-tab-img-txt", "seed": 202, "instances": 10_000, "noise": 0.05,
         "modalities": [_tab("tab", 32), _img("img", 56, 4), _txt("txt", 64, 512)],
         "terms": [{"kind": "synergy", "op": "product", "players": ["tab:0", "img:100", "txt:5"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["tab:1", "img:101", "txt:6"], "weight": 1.0}],
         "random_terms": {"unique": 5, "synergy": 8, "redundancy": 6, "synergy3": 2, **cross},
         "shares": {"tab": 0.3, "img": 0.4, "txt": 0.3}},
        # (c) about a thousand players: 24 columns + 784 patches (28 x 28 of 2 x 2 pixels) + 192 tokens
        {"name": "paper-1k", "seed": 203, "instances": 10_000, "noise": 0.05,
         "modalities": [_tab("tab", 24), _img("img", 56, 2), _txt("txt", 192, 1024)],
         "random_terms": {"unique": 6, "synergy": 10, "redundancy": 6, "synergy3": 4, **cross}},
        # (d) dense: 46 terms over 100 of the 260 players
        {"name": "paper-dense", "seed": 204, "instances": 10_000, "noise": 0.05,
         "modalities": [_tab("tab", 32), _img("img", 56, 4), _txt("txt", 32, 512)],
         "terms": [{"kind": "synergy", "op": "xor", "players": ["img:0", "img:1"], "weight": 1.0},
                   {"kind": "redundancy", "players": ["txt:0", "txt:1"], "weight": 1.0}],
         "random_terms": {"unique": 12, "synergy": 16, "redundancy": 10, "synergy3": 6, **cross}},
    ]


SUITES = {
    "smoke": ("a few small tasks, seconds to generate (12-14 players)", _smoke),
    "standard": ("the benchmark: every term kind, within- and cross-modal pairs, 2-3 modalities, "
                 "16-64 players, two noise levels", _standard),
    "specialisation": ("modality-level tasks: signal unique to one modality, purely synergistic or purely "
                       "redundant across two (the FL-I2MoE routing check)", _specialisation),
    "paper": ("the scale of real multimodal inputs: 196 patches, 32-192 tokens, 16-32 columns, 244-1000 "
              "players, 16-46 planted terms of every kind among many distractors", _paper),
}


def suite_specs(name: str) -> list[TaskSpec]:
    """The validated specs of a named suite.

    Parameters
    ----------
    name : str
        The suite name (a key of :data:`SUITES`: ``"smoke"``, ``"standard"``, ``"specialisation"``
        or ``"paper"``).

    Returns
    -------
    list of TaskSpec
        The suite's task specs, in order.

    Raises
    ------
    SpecError
        No suite has that name.

    Examples
    --------
    >>> [s.n_players for s in suite_specs("smoke")]
    [12, 14, 12]
    """
    if name not in SUITES:
        raise SpecError("suite", f"unknown suite {name!r} (choose from {', '.join(SUITES)})")
    return [TaskSpec.from_dict(d) for d in SUITES[name][1]()]


def list_suites() -> list[dict[str, Any]]:
    """One summary per suite: name, description, tasks, instances, players and modalities.

    Returns
    -------
    list of dict
        One dict per suite with the keys ``name``, ``tasks`` (count), ``instances`` (total),
        ``players`` and ``modalities`` (``"min-max"`` ranges) and ``description``.

    Examples
    --------
    >>> [s["name"] for s in list_suites()]
    ['smoke', 'standard', 'specialisation', 'paper']
    >>> list_suites()[0]["players"]
    '12-14'
    """
    rows = []
    for name, (description, _) in SUITES.items():
        specs = suite_specs(name)
        players = [s.n_players for s in specs]
        mods = [len(s.modalities) for s in specs]
        rows.append({"name": name, "tasks": len(specs), "instances": sum(s.instances for s in specs),
                     "players": f"{min(players)}-{max(players)}", "modalities": f"{min(mods)}-{max(mods)}",
                     "description": description})
    return rows
