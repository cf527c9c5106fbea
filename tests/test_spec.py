"""Task specs: parsing, canonical form, hashing, random terms, shares, and every bad input named precisely."""

from __future__ import annotations

import copy
import hashlib
import json
import re

import numpy as np
import pytest
from hypothesis import given, settings

import mxbench
from mxbench import SpecError, TaskSpec
from mxbench.spec import (MAX_CHANNELS, MAX_INPUT_VALUES, MAX_INSTANCES, MAX_MAGNITUDE, MAX_NAME_LENGTH,
                          MAX_PLAYERS, MAX_SEED, MAX_VOCAB, MIN_RANDOM_WEIGHT, MIN_WEIGHT, ModalitySpec,
                          canonical_json)
from mxbench.testing import spec_dicts, specs

MIX = {
    "name": "mix", "seed": 0, "instances": 200,
    "modalities": [{"name": "tab", "kind": "tabular", "features": 6},
                   {"name": "img", "kind": "image", "channels": 1, "size": 16, "patch": 4},
                   {"name": "txt", "kind": "text", "length": 8, "vocab": 64}],
    "terms": [{"kind": "unique", "players": ["tab:0"]},
              {"kind": "synergy", "op": "product", "players": ["img:3", "txt:2"], "weight": 2},
              {"kind": "redundancy", "players": ["tab:1", "img:5"], "weight": 1.5}],
}


def mix(**changes) -> dict:
    d = copy.deepcopy(MIX)
    d.update(changes)
    return d


# --------------------------------------------------------------------------- the example spec


def test_example_spec_parses_with_the_right_player_ids():
    spec = TaskSpec.from_dict(MIX)
    assert [m.n_players for m in spec.modalities] == [6, 16, 8]
    assert spec.n_players == 30
    assert spec.offsets == (0, 6, 22, 30)
    assert spec.modality_names == ("tab", "img", "txt")
    assert [t.ids for t in spec.terms] == [(0,), (6 + 3, 6 + 16 + 2), (1, 6 + 5)]
    assert [t.kind for t in spec.terms] == ["unique", "synergy", "redundancy"]
    assert [t.op for t in spec.terms] == ["identity", "product", "max-magnitude"]
    assert [t.weight for t in spec.terms] == [1.0, 2.0, 1.5]
    assert spec.terms[2].spread == 0.05
    assert spec.player_names[9] == "img:3" and spec.player_names[24] == "txt:2" and spec.player_names[29] == "txt:7"
    assert spec.player_id("txt:2") == 24 and spec.player_id("img:5") == 11
    assert spec.modality_of.tolist() == [0] * 6 + [1] * 16 + [2] * 8
    assert spec.modalities[1].shape == (1, 16, 16) and spec.modalities[2].shape == (8,)
    # defaults
    assert (spec.target, spec.noise, spec.intercept, spec.splits) == ("regression", 0.0, 0.0, (0.7, 0.15, 0.15))
    assert spec.modalities[1].noise == 0.05 and spec.modalities[2].neutral == 0.1


def test_players_frame_of_the_example_spec():
    task = mxbench.generate(MIX, instances=5)
    players = task.players()
    assert players.loc[[0, 1, 9, 11, 24], "role"].tolist() == ["unique", "redundancy", "synergy", "redundancy",
                                                              "synergy"]
    assert (players["role"] == "distractor").sum() == 30 - 5
    assert players.loc[24, "name"] == "txt:2" and players.loc[24, "index"] == 2 and players.loc[24, "modality"] == "txt"
    pairs = task.pairs()
    assert sorted(zip(pairs["i"], pairs["j"], pairs["kind"])) == [(1, 11, "redundancy"), (9, 24, "synergy")]


# --------------------------------------------------------------------------- canonical form and hash


def test_round_trip_through_dict_and_json(tmp_path):
    spec = TaskSpec.from_dict(mix(random_terms={"unique": 2, "synergy": 1}, pairs=[["tab:2", "txt:0"]],
                                  shares={"tab": 0.5, "img": 0.3, "txt": 0.2}, target="classification",
                                  noise=0.25, intercept=-1.0, splits=[0.6, 0.2, 0.2]))
    d = spec.to_dict()
    assert TaskSpec.from_dict(d) == spec
    assert TaskSpec.from_dict(d).to_dict() == d
    assert TaskSpec.from_dict(json.loads(json.dumps(d))) == spec
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(d))
    assert TaskSpec.from_json(path) == spec
    assert d["random_terms"] == {"unique": 2, "synergy": 1, "redundancy": 0, "synergy3": 0, "placement": "any",
                                 "weight": [0.5, 2.0]}
    assert d["terms"][0] == {"kind": "unique", "players": ["tab:0"], "weight": 1.0, "fn": "identity"}
    assert d["terms"][2] == {"kind": "redundancy", "players": ["tab:1", "img:5"], "weight": 1.5, "spread": 0.05}


@settings(max_examples=30, deadline=None)
@given(spec_dicts())
def test_round_trip_of_random_specs(d):
    spec = TaskSpec.from_dict(d)
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    assert TaskSpec.from_dict(json.loads(canonical_json(spec.to_dict()))).spec_hash() == spec.spec_hash()
    assert [list(t.players) for t in spec.terms] == [t["players"] for t in d["terms"]]


def test_spec_hash_is_stable():
    spec = TaskSpec.from_dict(MIX)
    h = spec.spec_hash()
    assert h == hashlib.sha256(canonical_json(spec.to_dict()).encode()).hexdigest()
    # pinned: the canonical form (and so every model cache and dataset key) must not drift silently
    assert h == "a9fa0e135f64f0d98bff062f6658189927262855712324ffdb2e22612b20f3d5"
    assert TaskSpec.from_dict(dict(reversed(list(copy.deepcopy(MIX).items())))).spec_hash() == h
    assert TaskSpec.from_dict(spec.to_dict()).spec_hash() == h
    assert spec.with_overrides(seed=0).spec_hash() == h
    assert spec.with_overrides(seed=1).spec_hash() != h
    assert spec.with_overrides(instances=201).spec_hash() != h
    # weight 2 and 2.0 are the same spec
    assert TaskSpec.from_dict(mix(terms=[{**MIX["terms"][1], "weight": 2.0}])).spec_hash() == \
        TaskSpec.from_dict(mix(terms=[{**MIX["terms"][1], "weight": 2}])).spec_hash()


def test_with_overrides():
    spec = TaskSpec.from_dict(MIX)
    other = spec.with_overrides(seed=7, instances=3)
    assert (other.seed, other.instances) == (7, 3)
    assert other.terms == spec.terms and other.modalities == spec.modalities
    with pytest.raises(SpecError, match="instances"):
        spec.with_overrides(instances=0)


# --------------------------------------------------------------------------- random terms

RANDOM = {"name": "r", "seed": 3,
          "modalities": [{"name": "a", "kind": "tabular", "features": 8},
                         {"name": "b", "kind": "text", "length": 8, "vocab": 16},
                         {"name": "c", "kind": "image", "size": 8, "patch": 4}],
          "terms": [{"kind": "synergy", "players": ["a:0", "b:0"]}]}


@pytest.mark.parametrize("placement", ["any", "within", "cross"])
def test_random_terms_counts_and_placement(placement):
    rt = {"unique": 3, "synergy": 2, "redundancy": 2, "synergy3": 1, "placement": placement}
    spec = TaskSpec.from_dict({**RANDOM, "random_terms": rt})
    terms = spec.planted_terms()
    assert terms[0] == spec.terms[0]
    drawn = terms[1:]
    shapes = [(t.kind, t.order) for t in drawn]
    assert sorted(shapes) == sorted([("unique", 1)] * 3 + [("synergy", 2)] * 2 + [("redundancy", 2)] * 2
                                    + [("synergy", 3)])
    ids = [i for t in terms for i in t.ids]
    assert len(ids) == len(set(ids)), "terms share a player"
    assert 0 not in ids[1:] and spec.player_id("b:0") not in ids[2:], "a drawn term reads an explicit term's player"
    mod_of = spec.modality_of
    for t in drawn:
        assert [spec.player_id(p) for p in t.players] == list(t.ids)
        assert 0.5 <= abs(t.weight) <= 2.0
        mods = {int(mod_of[i]) for i in t.ids}
        if t.order > 1 and placement == "within":
            assert len(mods) == 1, t
        if t.order > 1 and placement == "cross":
            assert len(mods) == t.order, t
    assert {t.op for t in drawn if t.kind == "redundancy"} == {"max-magnitude"}
    assert all(t.spread == 0.05 for t in drawn if t.kind == "redundancy")


def test_random_terms_are_deterministic_per_seed():
    d = {**RANDOM, "random_terms": {"unique": 3, "synergy": 3, "redundancy": 2}}
    a = TaskSpec.from_dict(d).planted_terms()
    b = TaskSpec.from_dict(copy.deepcopy(d)).planted_terms()
    assert a == b
    c = TaskSpec.from_dict({**d, "seed": 4}).planted_terms()
    assert [t.ids for t in c] != [t.ids for t in a]
    assert [t.weight for t in c] != [t.weight for t in a]
    # and the generated task follows them
    task = mxbench.generate({**d, "instances": 5})
    assert task.terms == a


def test_random_terms_weight_range():
    spec = TaskSpec.from_dict({**RANDOM, "random_terms": {"unique": 10, "weight": [3, 3.5]}})
    weights = [abs(t.weight) for t in spec.planted_terms()[1:]]
    assert len(weights) == 10 and all(3.0 <= w <= 3.5 for w in weights)
    assert {np.sign(t.weight) for t in spec.planted_terms()[1:]} == {-1.0, 1.0}


def test_random_terms_that_cannot_be_placed():
    # 'within' needs a modality with 3 free players for a 3-way synergy; every modality has 2
    d = {"name": "r", "modalities": [{"name": "a", "kind": "tabular", "features": 2},
                                     {"name": "b", "kind": "tabular", "features": 2}],
         "random_terms": {"synergy3": 1, "placement": "within"}}
    with pytest.raises(SpecError, match=r"^random_terms: cannot place a 3-player synergy term with placement 'within'"):
        TaskSpec.from_dict(d).planted_terms()
    # 'cross' cannot put 3 players in 3 different modalities when there are 2
    with pytest.raises(SpecError, match=r"^random_terms: cannot place a 3-player synergy"):
        TaskSpec.from_dict({**d, "random_terms": {"synergy3": 1, "placement": "cross"}}).planted_terms()


# --------------------------------------------------------------------------- shares


@pytest.mark.parametrize("shares", [{"tab": 0.5, "img": 0.3, "txt": 0.2}, {"tab": 0.2, "img": 0.2, "txt": 0.6}])
def test_shares_are_met(shares):
    d = mix(terms=MIX["terms"] + [{"kind": "unique", "players": ["txt:5"], "fn": "tanh", "weight": 0.7}],
            shares=shares, instances=2000)
    task = mxbench.generate(d)
    assert task.shares["requested"] == shares
    for name, want in shares.items():
        assert abs(task.shares["achieved"][name] - want) < 0.01
    # and on the generated instances themselves (another sample than the calibration one)
    phi = np.abs(task.oracle().modality_shapley()).mean(axis=0)
    np.testing.assert_allclose(phi / phi.sum(), [shares[n] for n in task.modality_names], atol=0.03)
    # only the weights changed, not the terms' players or signs
    plain = TaskSpec.from_dict(d).planted_terms()
    assert [t.ids for t in task.terms] == [t.ids for t in plain]
    assert [np.sign(t.weight) for t in task.terms] == [np.sign(t.weight) for t in plain]
    assert [t.weight for t in task.terms] != [t.weight for t in plain]


def test_smoke_suite_shares_are_met():
    task = mxbench.generate("smoke", instances=10)[2]
    requested = task.spec.shares
    assert requested == {"tab": 0.4, "img": 0.35, "txt": 0.25}
    assert all(abs(task.shares["achieved"][k] - v) < 0.01 for k, v in requested.items())


def test_no_shares_means_no_rescaling():
    task = mxbench.generate(MIX, instances=5)
    assert task.shares is None
    assert task.terms == TaskSpec.from_dict(MIX).terms


# --------------------------------------------------------------------------- bad specs


def _bad(d, field_pattern: str, message_pattern: str = "") -> SpecError:
    with pytest.raises(SpecError) as info:
        TaskSpec.from_dict(d)
    text = str(info.value)
    assert re.match(field_pattern + r": ", text), f"{text!r} does not name {field_pattern!r}"
    assert re.search(message_pattern, text), f"{text!r} does not say {message_pattern!r}"
    assert isinstance(info.value, ValueError) and isinstance(info.value, mxbench.MxbenchError)
    return info.value


def test_unknown_term_kind():
    e = _bad(mix(terms=[{"kind": "synergistic", "players": ["tab:0", "tab:1"]}]), r"terms\[0\]\.kind",
             r"unknown term kind 'synergistic'")
    assert e.field == "terms[0].kind"


def test_unknown_op():
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["op"] = "sum"
    _bad(mix(terms=terms), r"terms\[1\]\.op", r"unknown op 'sum' \(choose from product, xor, and\)")


def test_unknown_fn():
    _bad(mix(terms=[{"kind": "unique", "players": ["tab:0"], "fn": "relu"}]), r"terms\[0\]\.fn",
         r"unknown function 'relu'")


def test_field_of_another_kind_is_unknown():
    _bad(mix(terms=[{"kind": "unique", "players": ["tab:0"], "op": "product"}]), r"terms\[0\]\.op", "unknown field")
    _bad(mix(terms=[{"kind": "synergy", "players": ["tab:0", "tab:1"], "fn": "tanh"}]), r"terms\[0\]\.fn",
         "unknown field")
    _bad(mix(terms=[{"kind": "synergy", "players": ["tab:0", "tab:1"], "spread": 0.1}]), r"terms\[0\]\.spread",
         "unknown field")


def test_unknown_modality_kind():
    mods = copy.deepcopy(MIX["modalities"])
    mods[2]["kind"] = "audio"
    _bad(mix(modalities=mods), r"modalities\[2\]\.kind", r"unknown modality kind 'audio'")


@pytest.mark.parametrize("name, message", [
    ("tab:6", r"player 'tab:6' does not exist: modality 'tab' has 6 players \(0\.\.5\)"),
    ("img:16", r"player 'img:16' does not exist"),
    ("aud:0", r"player 'aud:0' names no modality \(have tab, img, txt\)"),
    ("tab0", r"expected a player name 'modality:index', got 'tab0'"),
    ("tab:x", r"expected a player name 'modality:index', got 'tab:x'"),
    ("tab:-1", r"expected a player name 'modality:index', got 'tab:-1'"),
    ("tab:", r"expected a player name"),
    (":0", r"names no modality"),
])
def test_player_that_does_not_exist(name, message):
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["players"] = ["img:3", name]
    _bad(mix(terms=terms), r"terms\[1\]\.players\[1\]", message)


def test_player_name_of_the_wrong_type():
    _bad(mix(terms=[{"kind": "unique", "players": [3]}]), r"terms\[0\]\.players\[0\]", "expected a player name")


def test_player_read_by_two_terms():
    terms = copy.deepcopy(MIX["terms"])
    terms[2]["players"] = ["img:5", "txt:2"]
    _bad(mix(terms=terms), r"terms\[2\]\.players\[1\]", r"player 'txt:2' is already read by terms\[1\]")


def test_player_named_twice_in_one_term():
    _bad(mix(terms=[{"kind": "redundancy", "players": ["tab:1", "tab:1"]}]), r"terms\[0\]\.players",
         "names a player twice")


@pytest.mark.parametrize("kind, players", [
    ("unique", ["tab:0", "tab:1"]), ("synergy", ["tab:0"]), ("synergy", ["tab:0", "tab:1", "tab:2", "tab:3"]),
    ("redundancy", ["tab:0"]), ("redundancy", ["tab:0", "tab:1", "tab:2", "tab:3", "tab:4"]), ("unique", []),
])
def test_wrong_number_of_players(kind, players):
    _bad(mix(terms=[{"kind": kind, "players": players}]), r"terms\[0\]\.players", rf"a {kind} term reads")


@pytest.mark.parametrize("weight", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weight(weight):
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["weight"] = weight
    _bad(mix(terms=terms), r"terms\[1\]\.weight", "must be finite")


@pytest.mark.parametrize("weight", [0, 0.0, -0.0])
def test_zero_weight(weight):
    terms = copy.deepcopy(MIX["terms"])
    terms[2]["weight"] = weight
    _bad(mix(terms=terms), r"terms\[2\]\.weight", "must be non-zero")


@pytest.mark.parametrize("weight", ["2", None, [2.0], True])
def test_weight_of_the_wrong_type(weight):
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["weight"] = weight
    _bad(mix(terms=terms), r"terms\[1\]\.weight", "expected an integer or a number")


def test_non_finite_numbers_elsewhere():
    _bad(mix(noise=float("nan")), "noise", "must be finite")
    _bad(mix(intercept=float("inf")), "intercept", "must be finite")
    mods = copy.deepcopy(MIX["modalities"])
    mods[1]["noise"] = float("inf")
    _bad(mix(modalities=mods), r"modalities\[1\]\.noise", "must be finite")


def test_image_size_not_divisible_by_patch():
    mods = copy.deepcopy(MIX["modalities"])
    mods[1]["patch"] = 5
    _bad(mix(modalities=mods), r"modalities\[1\]\.patch", "image size 16 is not divisible by patch 5")


def test_too_few_tokens():
    mods = copy.deepcopy(MIX["modalities"])
    mods[2]["vocab"] = 7
    _bad(mix(modalities=mods), r"modalities\[2\]\.vocab", r"needs at least 8 tokens .*got 7")
    mods[2]["vocab"] = 8
    assert TaskSpec.from_dict(mix(modalities=mods)).modalities[2].vocab == 8


def test_duplicate_modality_names():
    mods = copy.deepcopy(MIX["modalities"])
    mods[2]["name"] = "tab"
    _bad(mix(modalities=mods), r"modalities\[2\]\.name", "duplicate modality name 'tab'")


@pytest.mark.parametrize("changes, field, message", [
    ({"instances": "10"}, "instances", "expected an integer, got '10'"),
    ({"instances": 10.0}, "instances", "expected an integer, got 10.0"),
    ({"instances": 0}, "instances", "must be at least 1, got 0"),
    ({"seed": True}, "seed", "expected an integer, got True"),
    ({"seed": -1}, "seed", "must be at least 0"),
    ({"name": ["mix"]}, "name", r"expected a string, got \['mix'\]"),
    ({"name": "a b"}, "name", "must be letters, digits"),
    ({"name": None}, "name", "expected a string, got None"),
    ({"target": 1}, "target", "expected a string"),
    ({"target": "ranking"}, "target", "unknown target 'ranking'"),
    ({"noise": "0.1"}, "noise", "expected an integer or a number"),
    ({"noise": -0.1}, "noise", "must be at least 0.0"),
    ({"modalities": {"tab": 6}}, "modalities", "expected a list"),
    ({"modalities": []}, "modalities", "need at least one modality"),
    ({"modalities": [{"name": f"m{k}", "kind": "tabular", "features": 1} for k in range(9)]}, "modalities",
     "at most 8 modalities"),
    ({"modalities": ["tab"]}, r"modalities\[0\]", "expected an object, got 'tab'"),
    ({"terms": {"kind": "unique"}}, "terms", "expected a list"),
    ({"terms": ["unique"]}, r"terms\[0\]", "expected an object"),
    ({"terms": [{"kind": "unique", "players": "tab:0"}]}, r"terms\[0\]\.players", "expected a list"),
    ({"terms": [{"players": ["tab:0"]}]}, r"terms\[0\]\.kind", "is required"),
    ({"pairs": [["tab:0"]]}, r"pairs\[0\]", "expected two player names"),
    ({"pairs": [["tab:0", "tab:0"]]}, r"pairs\[0\]", "names the same player twice"),
    ({"pairs": [["tab:0", "nope:1"]]}, r"pairs\[0\]", "names no modality"),
    ({"splits": [0.5, 0.5]}, "splits", "expected \\[train, val, test\\]"),
    ({"splits": [0.5, 0.3, 0.3]}, "splits", "summing to 1"),
    ({"splits": [0.0, 0.5, 0.5]}, "splits", "train > 0"),
    ({"splits": [0.7, True, 0.3]}, "splits", "expected"),
    ({"random_terms": [1]}, "random_terms", "expected an object"),
    ({"random_terms": {"unique": "2"}}, r"random_terms\.unique", "expected an integer"),
    ({"random_terms": {"unique": -1}}, r"random_terms\.unique", "must be at least 0"),
    ({"random_terms": {"placement": "near"}}, r"random_terms\.placement", "unknown placement 'near'"),
    ({"random_terms": {"weight": [2.0]}}, r"random_terms\.weight", r"expected \[low, high\]"),
    ({"random_terms": {"weight": [2.0, 1.0]}}, r"random_terms\.weight", "0 < low <= high"),
    ({"random_terms": {"weight": [0.0, 1.0]}}, r"random_terms\.weight", "0 < low <= high"),
    ({"random_terms": {"weight": [1.0, float("inf")]}}, r"random_terms\.weight", "finite"),
    ({"shares": [0.5, 0.5]}, "shares", "expected an object"),
    ({"shares": {"tab": "0.5", "img": 0.3, "txt": 0.2}}, r"shares\.tab", "expected an integer or a number"),
    ({"shares": {"tab": 1.5, "img": -0.3, "txt": -0.2}}, r"shares\.tab", "must be at most 1.0"),
])
def test_wrong_types_and_values(changes, field, message):
    _bad(mix(**changes), field, message)


@pytest.mark.parametrize("modality, field", [
    ({"name": "t", "kind": "tabular", "features": "6"}, "features"),
    ({"name": "t", "kind": "tabular", "features": 0}, "features"),
    ({"name": "t", "kind": "tabular"}, "features"),
    ({"name": "i", "kind": "image", "size": 8, "patch": 4, "channels": 1.0}, "channels"),
    ({"name": "i", "kind": "image", "size": 8}, "patch"),
    ({"name": "x", "kind": "text", "length": 4, "vocab": 16, "neutral": 0.95}, "neutral"),
    ({"name": "x", "kind": "text", "length": False, "vocab": 16}, "length"),
    ({"name": 3, "kind": "text", "length": 4, "vocab": 16}, "name"),
    ({"name": "a:b", "kind": "text", "length": 4, "vocab": 16}, "name"),
    ({"name": "x", "kind": ["text"], "length": 4, "vocab": 16}, "kind"),
])
def test_bad_modality_fields(modality, field):
    _bad({"name": "m", "modalities": [modality]}, rf"modalities\[0\]\.{field}")


@pytest.mark.parametrize("d, field", [
    (mix(colour="red"), "colour"),
    (mix(modalities=[{**MIX["modalities"][0], "size": 4}] + MIX["modalities"][1:]), r"modalities\[0\]\.size"),
    (mix(modalities=MIX["modalities"][:1] + [{**MIX["modalities"][1], "length": 4}] + MIX["modalities"][2:]),
     r"modalities\[1\]\.length"),
    (mix(modalities=MIX["modalities"][:2] + [{**MIX["modalities"][2], "features": 4}]), r"modalities\[2\]\.features"),
    (mix(terms=[{"kind": "unique", "players": ["tab:0"], "weigth": 1.0}]), r"terms\[0\]\.weigth"),
    (mix(random_terms={"unique": 1, "synergy2": 1}), r"random_terms\.synergy2"),
])
def test_unknown_fields(d, field):
    _bad(d, field, r"unknown field \(allowed: ")


def test_random_terms_needing_more_players_than_free():
    d = {"name": "r", "modalities": [{"name": "a", "kind": "tabular", "features": 5}],
         "terms": [{"kind": "unique", "players": ["a:0"]}],
         "random_terms": {"unique": 1, "synergy": 1, "redundancy": 1}}
    _bad(d, "random_terms", "needs 5 players but only 4 of 5 are free")
    d["terms"] = []
    assert len(TaskSpec.from_dict(d).planted_terms()) == 3


def test_cross_placement_with_one_modality():
    d = {"name": "r", "modalities": [{"name": "a", "kind": "tabular", "features": 5}],
         "random_terms": {"synergy": 1, "placement": "cross"}}
    _bad(d, r"random_terms\.placement", "'cross' needs at least two modalities")


def test_shares_not_summing_to_one():
    _bad(mix(shares={"tab": 0.5, "img": 0.3, "txt": 0.3}), "shares", "must sum to 1, got 1.1")


def test_shares_naming_an_unknown_modality():
    _bad(mix(shares={"tab": 0.5, "img": 0.3, "audio": 0.2}), r"shares\.audio", "no modality named 'audio'")


def test_shares_missing_a_modality():
    _bad(mix(shares={"tab": 0.5, "img": 0.5}), "shares", r"missing \['txt'\]")


def test_share_for_a_modality_no_term_reads():
    terms = [MIX["terms"][0], MIX["terms"][2]]  # tab and img only
    _bad(mix(terms=terms, shares={"tab": 0.5, "img": 0.3, "txt": 0.2}), r"shares\.txt",
         "is 0.2 but no term reads modality 'txt'")
    # with random terms the check waits for the drawn terms, and generate() names the same field
    spec = TaskSpec.from_dict(mix(terms=terms, shares={"tab": 0.5, "img": 0.3, "txt": 0.2},
                                  random_terms={"unique": 0}))
    with pytest.raises(SpecError, match=r"^shares\.txt: is 0\.2 but no term reads modality 'txt'"):
        mxbench.generate(spec, instances=5)


def test_zero_share_for_a_modality_a_term_reads():
    _bad(mix(shares={"tab": 0.5, "img": 0.5, "txt": 0.0}), r"shares\.txt", "is 0 but a term reads modality 'txt'")


def test_spec_that_is_not_an_object():
    _bad(["mix"], "spec", "expected an object, got list")


def test_bad_json_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x", "modalities": [}')
    with pytest.raises(SpecError, match=r"^spec: '.*bad\.json' is not valid JSON: .* at line 1 column \d+"):
        TaskSpec.from_json(path)
    with pytest.raises(SpecError, match=r"^spec: cannot read '.*missing\.json'"):
        TaskSpec.from_json(tmp_path / "missing.json")
    path.write_text(json.dumps(mix(instances="many")))
    with pytest.raises(SpecError, match=r"^instances: expected an integer, got 'many'"):
        TaskSpec.from_json(path)
    path.write_text("[1, 2]")
    with pytest.raises(SpecError, match=r"^spec: expected an object"):
        TaskSpec.from_json(path)


@pytest.mark.parametrize("content, message", [
    (b'{"name": "caf\xe9", "modalities": []}', r"is not UTF-8 text"),  # latin-1, not UTF-8
    (b'{"name": "t", "seed": ' + b"7" * 5000 + b"}", r"is not valid JSON: Exceeds the limit \(4300 digits\)"),
    (b"[" * 100_000 + b"]" * 100_000, r"is not valid JSON: nested too deeply"),
])
def test_json_file_that_cannot_be_decoded(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(SpecError, match=r"^spec: '.*bad\.json' " + message) as info:
        TaskSpec.from_json(path)
    assert info.value.field == "spec"


def test_json_path_that_is_a_directory(tmp_path):
    with pytest.raises(SpecError, match=r"^spec: cannot read '.*': Is a directory") as info:
        TaskSpec.from_json(tmp_path)
    assert info.value.field == "spec"


def _with_term_weight(weight):
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["weight"] = weight
    return mix(terms=terms)


def _with_modality(k, **changes):
    mods = copy.deepcopy(MIX["modalities"])
    mods[k].update(changes)
    return mix(modalities=mods)


@pytest.mark.parametrize("d, field", [
    (mix(noise=10**400), "noise"),
    (mix(intercept=-(10**400)), "intercept"),
    (_with_term_weight(10**400), r"terms\[1\]\.weight"),
    (_with_modality(1, noise=10**400), r"modalities\[1\]\.noise"),
    (_with_modality(2, neutral=10**400), r"modalities\[2\]\.neutral"),
    (mix(terms=[{"kind": "redundancy", "players": ["tab:0", "tab:1"], "spread": 10**400}]), r"terms\[0\]\.spread"),
    (mix(shares={"tab": 10**400, "img": 0.0, "txt": 0.0}), r"shares\.tab"),
    (mix(random_terms={"unique": 1, "weight": [1, 10**400]}), r"random_terms\.weight"),
    (mix(splits=[0.7, 0.3, 10**400]), r"splits\[2\]"),
])
def test_integer_too_large_for_a_float(d, field):
    _bad(d, field, r"is too large, got -?10000000000")


@pytest.mark.parametrize("d, field, message", [
    (mix(noise=MAX_MAGNITUDE * 1.5), "noise", r"absolute value at most 1e\+06, got 1500000\.0"),
    (mix(intercept=-2e6), "intercept", r"absolute value at most 1e\+06, got -2000000\.0"),
    (_with_term_weight(-1e300), r"terms\[1\]\.weight", r"absolute value at most 1e\+06"),
    (_with_term_weight(1e-10), r"terms\[1\]\.weight", r"absolute value at least 1e-09, got 1e-10"),
    (_with_term_weight(-5e-324), r"terms\[1\]\.weight", r"absolute value at least 1e-09"),
    (_with_modality(1, noise=1e7), r"modalities\[1\]\.noise", r"absolute value at most 1e\+06"),
    (mix(random_terms={"unique": 1, "weight": [1e-7, 4e-7]}), r"random_terms\.weight",
     r"0\.001 <= low <= high <= 1e\+06 \(drawn weights are rounded to 6 decimals\), got \[1e-07, 4e-07\]"),
    (mix(random_terms={"unique": 1, "weight": [1.0, 2e6]}), r"random_terms\.weight", r"high <= 1e\+06"),
])
def test_magnitudes_out_of_range(d, field, message):
    _bad(d, field, message)


def test_magnitudes_at_the_limits_are_accepted():
    spec = TaskSpec.from_dict(mix(noise=MAX_MAGNITUDE, intercept=-MAX_MAGNITUDE))
    assert (spec.noise, spec.intercept) == (1e6, -1e6)
    assert TaskSpec.from_dict(_with_term_weight(-MIN_WEIGHT)).terms[1].weight == -1e-9
    assert TaskSpec.from_dict(_with_term_weight(MAX_MAGNITUDE)).terms[1].weight == 1e6
    spec = TaskSpec.from_dict(mix(random_terms={"unique": 5, "weight": [MIN_RANDOM_WEIGHT, MIN_RANDOM_WEIGHT]}))
    assert [abs(t.weight) for t in spec.planted_terms()[3:]] == [1e-3] * 5


@pytest.mark.parametrize("name", ["tab:\u00b2", "tab:01", "tab:00", "tab:\u0663", "tab:\uff11", "tab:+1", "tab: 1",
                                  "tab:1\n", "tab:1_0"])
def test_player_index_not_in_canonical_ascii_digits(name):
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["players"] = ["img:3", name]
    e = _bad(mix(terms=terms), r"terms\[1\]\.players\[1\]", r"expected a player name 'modality:index', got "
             + re.escape(repr(name)) + r" \(the index in ASCII digits without leading zeros\)")
    assert e.field == "terms[1].players[1]"
    _bad(mix(pairs=[["tab:2", name]]), r"pairs\[0\]", re.escape(repr(name)))


def test_player_index_with_thousands_of_digits():
    terms = copy.deepcopy(MIX["terms"])
    terms[1]["players"] = ["img:3", "tab:" + "9" * 5000]  # int() of it would raise ValueError
    _bad(mix(terms=terms), r"terms\[1\]\.players\[1\]", r"player 'tab:999.*\.\.\. does not exist: modality 'tab' has 6")
    terms[1]["players"] = ["img:3", "txt:0"]
    assert TaskSpec.from_dict(mix(terms=terms)).terms[1].players == ("img:3", "txt:0")


@pytest.mark.parametrize("splits, field", [
    ([0.7, float("nan"), 0.3], r"splits\[1\]"), ([float("inf"), 0.15, 0.15], r"splits\[0\]"),
    ([0.7, 0.3, float("-inf")], r"splits\[2\]"),
])
def test_non_finite_splits(splits, field):
    _bad(mix(splits=splits), field, r"must be finite, got (nan|inf|-inf)")


@pytest.mark.parametrize("d, field", [
    (mix(name="mix\n"), "name"),
    (_with_modality(0, name="tab\n"), r"modalities\[0\]\.name"),
    (mix(name="\nmix"), "name"),
    (mix(name=""), "name"),
])
def test_names_must_match_whole(d, field):
    _bad(d, field, r"must be letters, digits, '_' or '-'")


def test_names_at_most_100_characters():
    _bad(mix(name="n" * (MAX_NAME_LENGTH + 1)), "name", r"must be at most 100 characters, got 101: 'nnn")
    _bad(_with_modality(2, name="t" * 500), r"modalities\[2\]\.name", "must be at most 100 characters, got 500")
    assert TaskSpec.from_dict(mix(name="n" * MAX_NAME_LENGTH)).name == "n" * 100


@pytest.mark.parametrize("changes", [
    {"terms": []},
    {"terms": [], "random_terms": {"unique": 0, "synergy": 0, "redundancy": 0, "synergy3": 0}},
    {"terms": [], "random_terms": {"placement": "cross"}},
])
def test_spec_without_any_term(changes):
    e = _bad(mix(**changes), "terms", r"a task needs at least one term \(explicit or random\)")
    assert e.field == "terms"
    d = mix()
    del d["terms"]
    _bad(d, "terms", r"at least one term")
    assert len(TaskSpec.from_dict(mix(terms=[], random_terms={"synergy": 1})).planted_terms()) == 1


def _one_modality(m):
    return {"name": "big", "modalities": [m], "random_terms": {"unique": 1}}


@pytest.mark.parametrize("d, field, message", [
    (_one_modality({"name": "t", "kind": "tabular", "features": MAX_PLAYERS + 1}), r"modalities\[0\]\.features",
     "must be at most 4096, got 4097"),
    (_one_modality({"name": "t", "kind": "tabular", "features": 10**5000}), r"modalities\[0\]\.features",
     "must be at most 4096, got <a value too large to print>"),
    (_one_modality({"name": "x", "kind": "text", "length": 5000, "vocab": 8}), r"modalities\[0\]\.length",
     "must be at most 4096"),
    (_one_modality({"name": "x", "kind": "text", "length": 4, "vocab": MAX_VOCAB + 1}), r"modalities\[0\]\.vocab",
     "must be at most 1000000, got 1000001"),
    (_one_modality({"name": "i", "kind": "image", "channels": MAX_CHANNELS + 1, "size": 4, "patch": 4}),
     r"modalities\[0\]\.channels", "must be at most 16, got 17"),
    (_one_modality({"name": "i", "kind": "image", "channels": 3, "size": 74, "patch": 74}), r"modalities\[0\]\.size",
     r"channels \* size \* size must be at most 16384 values, got size 74 with 3 channel\(s\)"),
    (_one_modality({"name": "i", "kind": "image", "size": 10**400, "patch": 4}), r"modalities\[0\]\.size",
     "must be at most 16384 values"),
    ({"name": "big", "modalities": [{"name": f"t{k}", "kind": "tabular", "features": 4000} for k in range(2)],
      "random_terms": {"unique": 1}}, "modalities", "at most 4096 players in all, got 8000"),
    ({"name": "big", "modalities": [{"name": "i", "kind": "image", "channels": 16, "size": 32, "patch": 32},
                                    {"name": "t", "kind": "tabular", "features": 1}],
      "random_terms": {"unique": 1}}, "modalities",
     r"one instance's raw input holds at most 16384 values \(features \+ channels \* size \* size \+ length\), "
     r"got 16385"),
    (mix(instances=MAX_INSTANCES + 1), "instances", "must be at most 100000000, got 100000001"),
    (mix(instances=10**5000), "instances", "must be at most 100000000, got <a value too large to print>"),
    (mix(seed=MAX_SEED + 1), "seed", "must be at most 18446744073709551615"),
])
def test_size_caps(d, field, message):
    _bad(d, field, message)


def test_sizes_at_the_caps_are_accepted():
    spec = TaskSpec.from_dict({
        "name": "big", "instances": MAX_INSTANCES, "seed": MAX_SEED, "random_terms": {"unique": 1},
        "modalities": [{"name": "i", "kind": "image", "channels": 13, "size": 32, "patch": 1},  # 13312 values
                       {"name": "x", "kind": "text", "length": 2048, "vocab": MAX_VOCAB},
                       {"name": "t", "kind": "tabular", "features": 1024}]})
    assert spec.n_players == MAX_PLAYERS
    assert sum(int(np.prod(m.shape)) for m in spec.modalities) == MAX_INPUT_VALUES
    assert len(spec.spec_hash()) == 64
    with pytest.raises(SpecError, match=r"^instances: must be at most 100000000"):
        spec.with_overrides(instances=MAX_INSTANCES + 1)


def test_modality_spec_directly():
    with pytest.raises(SpecError, match=r"^modality: expected an object"):
        ModalitySpec.from_dict("tab")
    assert ModalitySpec.from_dict({"name": "i", "kind": "image", "size": 6, "patch": 3, "channels": 2}).n_players == 4


def test_generated_specs_are_valid_and_within_bounds():
    @settings(max_examples=40, deadline=None)
    @given(specs(max_players=9, max_modalities=2, min_terms=2, max_terms=3, instances=4))
    def check(spec):
        assert 2 <= spec.n_players <= 9 and 1 <= len(spec.modalities) <= 2
        assert 2 <= len(spec.terms) <= 3 and spec.instances == 4
        ids = [i for t in spec.terms for i in t.ids]
        assert len(ids) == len(set(ids))
        for t in spec.terms:
            assert np.isfinite(t.weight) and t.weight != 0
        for m in spec.modalities:
            assert 1 <= m.n_players <= 4

    check()
    for bad in ({"max_players": 0}, {"max_modalities": 0}, {"min_terms": 3, "max_terms": 2},
                {"max_players": 2, "min_terms": 3}, {"instances": 0}, {"max_players": 2.0}):
        with pytest.raises(ValueError):
            specs(**bad)
