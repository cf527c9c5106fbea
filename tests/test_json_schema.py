"""The JSON Schema of task specs: valid draft 2020-12, built from the spec package, accepts every spec
mxbench ships and rejects the malformed-spec catalogues of the other tests where JSON Schema can.

The catalogues are imported, not copied: ``MALFORMED_SPECS`` of ``test_reliability_specs.py``,
the parametrised bad specs of ``test_spec.py`` and ``test_cli.py``. Each case is in one class:

- rejected by the schema, at the field the ``SpecError`` names (or at its parent object, for a
  missing or unknown key): every case not listed below;
- :data:`CROSS_FIELD`: rules across fields or items that only ``SpecError`` catches (the schema
  accepts the document);
- :data:`INTEGRAL_FLOAT`: ``10.0`` where an integer is asked, an integer to JSON Schema;
- :data:`FILE_LEVEL`: refused when the spec file is read (not JSON, duplicate keys, too large);
- :data:`NOT_JSON`: NaN or infinite numbers, which JSON does not have (the schema's verdict on
  them is the validator's business, not asserted).

Every case, whatever its class, still raises ``SpecError`` naming its field.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator

import mxbench
from mxbench.errors import SpecError
from mxbench.generators.suites import SUITES, suite_specs
from mxbench.spec import (KINDS, MAX_MAGNITUDE, MAX_MODALITIES, MAX_PAIRS, MAX_SEED, MAX_TERM_PLAYERS, MAX_TERMS,
                          PLACEMENTS, RESERVED_NAMES, SYNERGY_OPS, TARGETS, UNIQUE_FNS, ModalitySpec, RandomTerms,
                          TaskSpec, spec_schema)
from mxbench.spec import json_schema
from mxbench.spec.terms import _parse_term
from mxbench.testing import spec_dicts

TESTS = Path(__file__).resolve().parent
SCHEMA = spec_schema()
VALIDATOR = Draft202012Validator(SCHEMA)


def _load(name: str):
    """Import a sibling test module by path (the suite runs with ``--import-mode=importlib``)."""
    spec = importlib.util.spec_from_file_location(f"_mxbench_catalogue_{name}", TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RELIABILITY = _load("test_reliability_specs")
SPEC_TESTS = _load("test_spec")
CLI_TESTS = _load("test_cli")


def _cases(function) -> list:
    """The argument values of a test function's ``parametrize`` mark."""
    marks = [m for m in function.pytestmark if m.name == "parametrize"]
    return list(marks[0].args[1])


def _with_term(k: int, **changes) -> dict:
    terms = copy.deepcopy(SPEC_TESTS.MIX["terms"])
    terms[k].update(changes)
    return SPEC_TESTS.mix(terms=terms)


#: How each parametrised test of test_spec.py builds its spec from a case (as the test does).
_SPEC_BUILDERS = {
    "test_wrong_types_and_values": lambda c: SPEC_TESTS.mix(**c[0]),
    "test_bad_modality_fields": lambda c: {"name": "m", "modalities": [c[0]]},
    "test_unknown_fields": lambda c: c[0],
    "test_wrong_number_of_players": lambda c: SPEC_TESTS.mix(terms=[{"kind": c[0], "players": c[1]}]),
    "test_player_that_does_not_exist": lambda c: _with_term(1, players=["img:3", c[0]]),
    "test_weight_of_the_wrong_type": lambda c: _with_term(1, weight=c),
    "test_non_finite_weight": lambda c: _with_term(1, weight=c),
    "test_zero_weight": lambda c: _with_term(2, weight=c),
}


def _catalogue() -> dict[str, Any]:
    """Every malformed case of the other tests: id -> a dict spec, or the text of a spec file."""
    out: dict[str, Any] = {}
    for k, (content, _) in enumerate(RELIABILITY.MALFORMED_SPECS):
        out[f"reliability-{k}"] = content
    for name, build in _SPEC_BUILDERS.items():
        for k, case in enumerate(_cases(getattr(SPEC_TESTS, name))):
            out[f"{name[5:]}-{k}"] = build(case)
    for k, case in enumerate(_cases(CLI_TESTS.test_bad_spec_exits_2_in_one_line_and_writes_nothing)):
        out[f"cli-{k}"] = case[0]
    return out


CATALOGUE = _catalogue()

#: Cases only SpecError catches: id -> the field it names.
CROSS_FIELD = {
    "reliability-1": "shares.txt",  # a share for a modality no term reads
    "reliability-2": "shares.tab",  # shares the calibration cannot reach (at generation)
    "reliability-3": "shares.tab",  # a zero share for a modality a term reads
    "reliability-4": "shares",  # shares summing to 1.4
    "reliability-5": "shares",  # a modality without a share
    "reliability-6": "shares.audio",  # a share for a modality the spec does not have
    "reliability-22": "terms[0].players[0]",  # a player beyond the modality's count
    "wrong_types_and_values-22": "pairs[0]",  # a pair naming a modality the spec does not have
    "wrong_types_and_values-24": "splits",  # splits summing to 1.1
    "wrong_types_and_values-32": "random_terms.weight",  # low > high
    "player_that_does_not_exist-0": "terms[1].players[1]",  # beyond the modality's count
    "player_that_does_not_exist-1": "terms[1].players[1]",
    "player_that_does_not_exist-2": "terms[1].players[1]",  # a modality the spec does not have
    "cli-1": "terms[0].players[0]",  # beyond the modality's count
    "cli-3": "modalities[0].patch",  # an image size not divisible by the patch
}
#: ``10.0`` where an integer is asked.
INTEGRAL_FLOAT = {"wrong_types_and_values-1": "instances", "bad_modality_fields-3": "modalities[0].channels"}
#: Refused when the file is read: id -> field.
FILE_LEVEL = {
    "reliability-0": "name",  # a duplicate key
    "reliability-12": "spec",  # larger than MAX_SPEC_BYTES
    "reliability-13": "spec",  # not JSON
    "reliability-14": "spec",  # not UTF-8
    "reliability-15": "spec",  # an integer of 5000 digits
    "reliability-16": "spec",  # nested 100,000 deep
}
#: NaN and infinities.
NOT_JSON = {"reliability-23": "terms[0].weight", "non_finite_weight-0": "terms[1].weight",
            "non_finite_weight-1": "terms[1].weight", "non_finite_weight-2": "terms[1].weight",
            "wrong_types_and_values-34": "random_terms.weight"}


def _spec_error(d: Any) -> SpecError:
    """The SpecError a spec dict raises, parsing or generating (5 instances)."""
    with pytest.raises(SpecError) as info:
        mxbench.generate(TaskSpec.from_dict(d), instances=5)
    return info.value


def _location(error) -> str:
    """A jsonschema error's place in the document, written like a SpecError field (``terms[0].kind``)."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _leaves(errors):
    for e in errors:
        yield e
        yield from _leaves(e.context or ())


def _parent(field: str) -> tuple[str | None, str | None]:
    """``("modalities[0]", "name")`` for ``"modalities[0].name"``, ``("", "terms")`` for ``"terms"``;
    (None, None) for a field that ends with an index."""
    m = re.fullmatch(r"(.*)\.([^.\[\]]+)", field)
    if m:
        return m.group(1), m.group(2)
    return ("", field) if "[" not in field else (None, None)


def _rejected_at(d: Any, field: str) -> list[str]:
    """The schema's errors on ``d`` at ``field``: the field itself or an item of it, the document for
    ``spec``, or the parent object naming the field's key (a missing or unknown key, the missing term)."""
    parent, key = _parent(field)
    hits = []
    for e in _leaves(VALIDATOR.iter_errors(d)):
        loc = _location(e)
        names_key = key is not None and loc == parent and (
            (e.validator in ("required", "additionalProperties") and repr(key) in e.message)
            or (e.validator == "anyOf" and key == "terms"))  # the rule "a task needs at least one term"
        if loc == field or loc.startswith(field + "[") or (field == "spec" and loc == "") or names_key:
            hits.append(f"{loc or '$'}: {e.message[:100]}")
    return hits


def test_catalogue_is_complete_and_classified():
    assert len(CATALOGUE) >= 90
    listed = [*CROSS_FIELD, *INTEGRAL_FLOAT, *FILE_LEVEL, *NOT_JSON]
    assert len(listed) == len(set(listed)) and set(listed) <= set(CATALOGUE)
    rejected = [k for k in CATALOGUE if k not in listed]
    assert len(rejected) >= 60  # most of the catalogue is the schema's to reject


@pytest.mark.parametrize("case", [k for k in CATALOGUE if k not in {**CROSS_FIELD, **INTEGRAL_FLOAT, **FILE_LEVEL,
                                                                      **NOT_JSON}])
def test_schema_rejects_the_catalogue_at_the_field(case):
    content = CATALOGUE[case]
    d = json.loads(content) if isinstance(content, str) else json.loads(json.dumps(content))
    field = _spec_error(d).field
    assert _rejected_at(d, field), f"the schema does not reject {case} at {field!r}: " \
                                   f"{[_location(e) + ': ' + e.message[:80] for e in VALIDATOR.iter_errors(d)]}"


@pytest.mark.parametrize("case", list(CROSS_FIELD))
def test_cross_field_cases_only_spec_error_catches(case):
    d = json.loads(json.dumps(CATALOGUE[case]))
    assert list(VALIDATOR.iter_errors(d)) == []
    assert _spec_error(d).field == CROSS_FIELD[case]


@pytest.mark.parametrize("case", list(INTEGRAL_FLOAT))
def test_integral_floats_only_spec_error_catches(case):
    d = json.loads(json.dumps(CATALOGUE[case]))
    assert _spec_error(d).field == INTEGRAL_FLOAT[case]
    assert _rejected_at(d, INTEGRAL_FLOAT[case]) == []  # 10.0 is an integer to JSON Schema


@pytest.mark.parametrize("case", list(FILE_LEVEL))
def test_file_level_cases_raise_when_read(case, tmp_path):
    content = CATALOGUE[case]
    path = tmp_path / "spec.json"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(SpecError) as info:
        TaskSpec.from_json(path)
    assert info.value.field == FILE_LEVEL[case]


def _numbers(d: Any):
    if isinstance(d, dict):
        d = list(d.values())
    if isinstance(d, list):
        for x in d:
            yield from _numbers(x)
    elif isinstance(d, float):
        yield d


@pytest.mark.parametrize("case", list(NOT_JSON))
def test_non_finite_numbers_raise(case):
    d = CATALOGUE[case]
    assert not all(math.isfinite(x) for x in _numbers(d))
    assert _spec_error(d).field == NOT_JSON[case]


# --------------------------------------------------------------------------- what the schema accepts


@pytest.mark.parametrize("suite", list(SUITES))
def test_every_suite_spec_is_accepted(suite):
    raw = SUITES[suite][1]()
    canonical = [s.to_dict() for s in suite_specs(suite)]
    assert len(raw) == len(canonical) >= 3
    for d in raw + canonical:
        assert [e.message for e in VALIDATOR.iter_errors(json.loads(json.dumps(d)))] == [], d["name"]


def _readme_specs() -> list[dict]:
    """The README's specs: the JSON blocks and the dict literals passed to ``mxbench.generate``."""
    text = (TESTS.parent / "README.md").read_text(encoding="utf-8")
    out = [json.loads(code) for code in re.findall(r"^```json\n(.*?)^```", text, re.S | re.M)]
    for code in re.findall(r"^```python\n(.*?)^```", text, re.S | re.M):
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "generate" and node.args \
                    and isinstance(node.args[0], ast.Dict):
                out.append(ast.literal_eval(node.args[0]))
    return out


def test_readme_specs_are_accepted():
    specs = _readme_specs()
    assert {"drawn", "mix"} <= {d["name"] for d in specs}
    for d in specs:
        assert [e.message for e in VALIDATOR.iter_errors(d)] == [], d["name"]
        TaskSpec.from_dict(d)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_dicts(max_players=10, max_modalities=3))
def test_random_valid_specs_are_accepted(d):
    assert [e.message for e in VALIDATOR.iter_errors(d)] == []
    assert [e.message for e in VALIDATOR.iter_errors(TaskSpec.from_dict(d).to_dict())] == []


def test_the_schema_refuses_what_never_generates_with_cross_placement():
    d = {"name": "drawn", "modalities": [{"name": "a", "kind": "tabular", "features": 4},
                                         {"name": "b", "kind": "tabular", "features": 4}],
         "random_terms": {"synergy3": 1, "placement": "cross"}}
    assert _rejected_at(d, "modalities")
    with pytest.raises(SpecError, match=r"^random_terms: cannot place a 3-player synergy term with placement "
                                        r"'cross': it needs 3 modalities \(one player in each\), the spec has 2$"):
        mxbench.generate(d, instances=5)
    one = {**d, "modalities": d["modalities"][:1], "random_terms": {"synergy": 1, "placement": "cross"}}
    assert _rejected_at(one, "modalities") and _spec_error(one).field == "random_terms.placement"
    three = {**d, "modalities": d["modalities"] + [{"name": "c", "kind": "tabular", "features": 1}]}
    assert list(VALIDATOR.iter_errors(three)) == []
    assert len(mxbench.generate(three, instances=5).terms) == 1


@pytest.mark.parametrize("name, ok", [("tab", True), ("a-b_9", True), ("x" * 100, True), ("x" * 101, False),
                                      ("tab\n", False), ("a b", False), ("", False), ("target", False),
                                      ("f", False), ("tåb", False)])
def test_modality_names(name, ok):
    d = {"name": "t", "modalities": [{"name": name, "kind": "tabular", "features": 1}],
         "random_terms": {"unique": 1}}
    assert (list(VALIDATOR.iter_errors(d)) == []) is ok
    if ok:
        TaskSpec.from_dict(d)
    else:
        with pytest.raises(SpecError, match=r"^modalities\[0\]\.name: "):
            TaskSpec.from_dict(d)


@pytest.mark.parametrize("player, ok", [("a:0", True), ("a:10", True), ("a:01", False), ("a:0\n", False),
                                        ("a:b:0", False), ("a:٣", False), ("a0", False)])
def test_player_names(player, ok):
    d = {"name": "t", "modalities": [{"name": "a", "kind": "tabular", "features": 11}],
         "terms": [{"kind": "unique", "players": [player]}]}
    assert (list(VALIDATOR.iter_errors(d)) == []) is ok
    if not ok:
        with pytest.raises(SpecError, match=r"^terms\[0\]\.players\[0\]: "):
            TaskSpec.from_dict(d)


@pytest.mark.parametrize("weight, ok", [(1e-9, True), (-1e-9, True), (5e-10, False), (-5e-10, False), (0, False),
                                        (MAX_MAGNITUDE, True), (-MAX_MAGNITUDE, True), (1.5e6, False)])
def test_term_weight_bounds(weight, ok):
    d = {"name": "t", "modalities": [{"name": "a", "kind": "tabular", "features": 1}],
         "terms": [{"kind": "unique", "players": ["a:0"], "weight": weight}]}
    assert (list(VALIDATOR.iter_errors(d)) == []) is ok
    if ok:
        assert TaskSpec.from_dict(d).terms[0].weight == weight
    else:
        with pytest.raises(SpecError, match=r"^terms\[0\]\.weight: "):
            TaskSpec.from_dict(d)


# --------------------------------------------------------------------------- built from the spec package


def test_schema_is_valid_draft_2020_12_and_deterministic():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == json_schema.DIALECT == "https://json-schema.org/draft/2020-12/schema"
    assert json.dumps(spec_schema(), sort_keys=True) == json.dumps(SCHEMA, sort_keys=True)
    for rule in json_schema.CROSS_FIELD_RULES:
        assert rule in SCHEMA["description"]


def test_enumerations_and_caps_come_from_the_constants():
    defs, props = SCHEMA["$defs"], SCHEMA["properties"]
    assert defs["modality"]["properties"]["kind"]["enum"] == list(KINDS)
    assert [d["if"]["properties"]["kind"]["const"] for d in defs["modality"]["allOf"]] == list(KINDS)
    assert defs["term"]["properties"]["kind"]["enum"] == list(MAX_TERM_PLAYERS)
    for kind, (lo, hi) in MAX_TERM_PLAYERS.items():
        players = defs[f"{kind}_term"]["properties"]["players"]
        assert (players["minItems"], players["maxItems"]) == (lo, hi)
    assert defs["unique_term"]["properties"]["fn"]["enum"] == list(UNIQUE_FNS)
    assert defs["synergy_term"]["properties"]["op"]["enum"] == list(SYNERGY_OPS)
    assert defs["random_terms"]["properties"]["placement"]["enum"] == list(PLACEMENTS)
    assert props["target"]["enum"] == list(TARGETS)
    assert defs["modality_name"]["not"]["enum"] == list(RESERVED_NAMES)
    assert props["seed"]["maximum"] == MAX_SEED and props["modalities"]["maxItems"] == MAX_MODALITIES
    assert props["terms"]["maxItems"] == MAX_TERMS and props["pairs"]["maxItems"] == MAX_PAIRS


def _allowed(parse, d: dict) -> list[str]:
    """The fields a parser allows, from its refusal of an unknown one."""
    with pytest.raises(SpecError, match=r"unknown field \(allowed: ") as info:
        parse({**d, "zz_unknown": 1})
    return str(info.value).split("(allowed: ")[1].rstrip(")").split(", ")


def test_fields_are_the_parsers():
    defs = SCHEMA["$defs"]
    spec = {"name": "t", "modalities": [{"name": "a", "kind": "tabular", "features": 1}], "random_terms": {"unique": 1}}
    assert sorted(SCHEMA["properties"]) == sorted(_allowed(TaskSpec.from_dict, spec))
    for kind, minimal in json_schema._MINIMAL_MODALITY.items():
        assert sorted(defs[f"{kind}_modality"]["properties"]) == sorted(
            _allowed(lambda d: ModalitySpec.from_dict(d, "m"), minimal))
    for kind, minimal in json_schema._MINIMAL_TERM.items():
        assert sorted(defs[f"{kind}_term"]["properties"]) == sorted(_allowed(lambda d: _parse_term(d, "t"), minimal))
    assert sorted(defs["random_terms"]["properties"]) == sorted(
        _allowed(lambda d: RandomTerms.from_dict(d, "r"), {}))


def test_required_fields_and_defaults_are_the_parsers():
    defs, props = SCHEMA["$defs"], SCHEMA["properties"]
    assert SCHEMA["required"] == ["name", "modalities"]
    assert defs["image_modality"]["required"] == ["name", "kind", "size", "patch"]
    assert defs["text_modality"]["required"] == ["name", "kind", "length", "vocab"]
    assert defs["synergy_term"]["required"] == ["kind", "players"] and "required" not in defs["random_terms"]
    spec = TaskSpec.from_dict({"name": "t", "modalities": [{"name": "a", "kind": "text", "length": 2, "vocab": 8},
                                                           {"name": "b", "kind": "image", "size": 4, "patch": 2}],
                               "terms": [{"kind": "redundancy", "players": ["a:0", "b:0"]}]})
    assert [props[k]["default"] for k in ("seed", "instances", "target", "noise", "intercept", "splits")] == \
        [spec.seed, spec.instances, spec.target, spec.noise, spec.intercept, list(spec.splits)]
    assert defs["text_modality"]["properties"]["neutral"]["default"] == spec.modalities[0].neutral
    assert defs["image_modality"]["properties"]["noise"]["default"] == spec.modalities[1].noise
    assert defs["image_modality"]["properties"]["channels"]["default"] == spec.modalities[1].channels
    assert defs["redundancy_term"]["properties"]["spread"]["default"] == spec.terms[0].spread
    assert defs["redundancy_term"]["properties"]["weight"]["default"] == spec.terms[0].weight
    assert defs["random_terms"]["properties"]["weight"]["default"] == list(RandomTerms().weight)


@pytest.mark.parametrize("path, inside, outside", [
    (("text_modality", "neutral"), 0.9, 0.9000001), (("redundancy_term", "spread"), 1.0, 1.0000001),
])
def test_literal_bounds_match_the_parsers(path, inside, outside):
    """Bounds that are literals of a parser, not constants: the schema's equal the parser's."""
    prop = SCHEMA["$defs"][path[0]]["properties"][path[1]]
    assert prop["maximum"] == inside
    if path[0] == "text_modality":
        ModalitySpec.from_dict({"name": "x", "kind": "text", "length": 1, "vocab": 8, "neutral": inside})
        with pytest.raises(SpecError, match="neutral"):
            ModalitySpec.from_dict({"name": "x", "kind": "text", "length": 1, "vocab": 8, "neutral": outside})
    else:
        _parse_term({"kind": "redundancy", "players": ["a:0", "a:1"], "spread": inside}, "t")
        with pytest.raises(SpecError, match="spread"):
            _parse_term({"kind": "redundancy", "players": ["a:0", "a:1"], "spread": outside}, "t")


def test_a_field_the_schema_does_not_describe_is_an_error(monkeypatch):
    real = ModalitySpec.to_dict
    monkeypatch.setattr(ModalitySpec, "to_dict", lambda self: {**real(self), "colour": "red"})
    with pytest.raises(RuntimeError, match=r"the JSON schema of a tabular modality describes \['features', 'kind', "
                                           r"'name'\] but the parser reads \['colour', 'features', 'kind', 'name'\]"):
        spec_schema()
