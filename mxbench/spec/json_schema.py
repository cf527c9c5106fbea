"""A JSON Schema (draft 2020-12) of the task spec format, built from the spec package's own constants and parsers.

:func:`spec_schema` is what ``mxbench schema`` prints. Every enumeration and cap comes from
:mod:`mxbench.spec.constants`, the name and player-name patterns from :mod:`mxbench.spec.fields`,
and the fields of each object, which of them are required and their defaults are read from the
parsers themselves (:meth:`TaskSpec.from_dict`, :meth:`ModalitySpec.from_dict`, the term parser,
:meth:`RandomTerms.from_dict`) when the schema is built: a field added to a parser and not to the
schema makes :func:`spec_schema` raise instead of printing a stale schema.

The schema checks each field on its own (types, ranges, enumerations, unknown keys, the fields of
each modality and term kind) and the few rules across fields that JSON Schema can state (a task
needs a term, explicit or random; ``"cross"`` placement needs two modalities, three for a 3-player
synergy). The rules in :data:`CROSS_FIELD_RULES` stay with :class:`~mxbench.errors.SpecError`: a
spec the schema accepts can still be refused by :meth:`TaskSpec.from_dict` or at generation, and a
spec it refuses is refused there too (for JSON documents: NaN is not JSON).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from mxbench.errors import SpecError
from mxbench.spec.constants import (KINDS, MAX_CHANNELS, MAX_INPUT_VALUES, MAX_INSTANCES, MAX_MAGNITUDE,
                                    MAX_MODALITIES, MAX_NAME_LENGTH, MAX_PAIRS, MAX_PLAYERS, MAX_SEED, MAX_TERM_PLAYERS,
                                    MAX_TERMS, MAX_VOCAB, MIN_RANDOM_WEIGHT, MIN_VALUE_TOKENS, MIN_WEIGHT, N_NEUTRAL,
                                    PLACEMENTS, RESERVED_NAMES, SYNERGY_OPS, TARGETS, UNIQUE_FNS)
from mxbench.spec.fields import _INDEX, _NAME
from mxbench.spec.modality import ModalitySpec
from mxbench.spec.random_terms import RandomTerms
from mxbench.spec.task_spec import TaskSpec
from mxbench.spec.terms import _parse_term

#: The JSON Schema dialect of :func:`spec_schema`.
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: What the schema cannot express and :class:`~mxbench.errors.SpecError` still checks (rules
#: across fields or items, and two limits of JSON Schema itself).
CROSS_FIELD_RULES = (
    "every player a term or a pair names exists (its modality is in the spec and its index below that "
    "modality's player count)",
    "no player is read by two terms",
    "modality names are distinct",
    "an image's size is divisible by its patch, and channels * size * size is at most MAX_INPUT_VALUES",
    "at most MAX_PLAYERS players and MAX_INPUT_VALUES raw values per instance over all modalities",
    "random_terms: weight low <= high; the counts need no more players than the explicit terms leave free, "
    "and the drawn terms can be placed (at generation)",
    "shares: one per modality and only for the spec's modalities, summing to 1; positive for a modality no "
    "term reads only with random_terms, 0 for none a term reads; reachable by scaling the weights (at "
    "generation)",
    "splits sum to 1",
    "JSON Schema counts a number written with a fraction (10.0) as an integer; the spec refuses it where an "
    "integer is asked",
    "NaN and Infinity are not JSON, but Python's json module reads them: the spec refuses them, a validator "
    "may not; duplicate keys in one object are refused when a spec file is read",
)

#: A required-fields-only object of each kind, the starting point of the parsers' probes.
_MINIMAL_MODALITY = {
    "tabular": {"name": "tab", "kind": "tabular", "features": 2},
    "image": {"name": "img", "kind": "image", "size": 8, "patch": 4},
    "text": {"name": "txt", "kind": "text", "length": 2, "vocab": 1 + N_NEUTRAL + MIN_VALUE_TOKENS},
}
_MINIMAL_TERM = {kind: {"kind": kind, "players": [f"tab:{j}" for j in range(lo)]}
                 for kind, (lo, _) in MAX_TERM_PLAYERS.items()}
_MINIMAL_SPEC = {"name": "t", "modalities": [_MINIMAL_MODALITY["tabular"]], "terms": [_MINIMAL_TERM["unique"]]}
#: The minimal spec with every optional field set (``to_dict`` leaves unset ones out).
_FULL_SPEC = {**_MINIMAL_SPEC, "random_terms": {}, "shares": {"tab": 1.0}, "pairs": [["tab:0", "tab:1"]]}


def _parse_modality(d: dict) -> dict:
    return ModalitySpec.from_dict(d, "modality").to_dict()


def _parse_one_term(d: dict) -> dict:
    return _parse_term(d, "term").to_dict()


def _parse_random_terms(d: dict) -> dict:
    return RandomTerms.from_dict(d, "random_terms").to_dict()


def _parse_spec(d: dict) -> dict:
    return TaskSpec.from_dict(d).to_dict()


def _whole(pattern: str) -> str:
    """``pattern`` anchored to the whole string, in ECMA-262 and Python ``re`` alike.

    ``$`` would also match before a final newline in Python's ``re.search`` (what the
    ``jsonschema`` package runs); the look-ahead matches only at the very end.
    """
    return f"^(?:{pattern})(?![\\s\\S])"


def _int(minimum: int, maximum: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "integer", "minimum": minimum}
    if maximum is not None:
        d["maximum"] = maximum
    return d


def _num(minimum: float | None = None, maximum: float | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        d["minimum"] = minimum
    if maximum is not None:
        d["maximum"] = maximum
    return d


def _probe(what: str, parse: Callable[[dict], dict], minimal: Mapping[str, Any],
           full: Mapping[str, Any] | None = None) -> tuple[list[str], list[str], dict[str, Any]]:
    """The fields, required fields and defaults of one object, read from its parser.

    ``parse`` maps a dict to the parsed object's canonical dict (``to_dict()``). The fields are the
    keys of ``parse(full)``; a field of ``minimal`` is required when leaving it out raises the
    parser's ``"is required"`` error for it; the defaults are what ``parse(minimal)`` fills in.
    """
    try:
        fields = list(parse(dict(full if full is not None else minimal)))
        filled = parse(dict(minimal))
    except SpecError as e:
        raise RuntimeError(f"the parser refuses the schema's example {what} ({e}): update "
                           "mxbench/spec/json_schema.py") from None
    required = []
    for key in minimal:
        try:
            parse({k: v for k, v in minimal.items() if k != key})
        except SpecError as e:
            if e.field.rpartition(".")[2] == key and str(e).endswith(": is required"):
                required.append(key)
    defaults = {k: v for k, v in filled.items() if k not in minimal}
    if not set(minimal) <= set(fields):
        raise RuntimeError(f"the schema's example {what} has fields the parser does not read: "
                           f"{sorted(set(minimal) - set(fields))}")
    return fields, required, defaults


def _object(what: str, properties: Mapping[str, Any],
            probe: tuple[list[str], list[str], dict[str, Any]]) -> dict[str, Any]:
    """A closed object schema over exactly the parser's fields, with its required fields and defaults.

    Raises RuntimeError when ``properties`` and the parser's fields differ (the schema would drift).
    """
    fields, required, defaults = probe
    if set(properties) != set(fields):
        raise RuntimeError(f"the JSON schema of {what} describes {sorted(properties)} but the parser reads "
                           f"{sorted(fields)}: update mxbench/spec/json_schema.py")
    props = {}
    for key in fields:
        prop = properties[key]
        if key in defaults:
            prop = {**prop, "default": defaults[key]}
        props[key] = prop
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _modality_schemas() -> dict[str, Any]:
    common = {"name": {"$ref": "#/$defs/modality_name"}, "kind": {"enum": list(KINDS)}}
    size_cap = math.isqrt(MAX_INPUT_VALUES)  # channels * size * size <= MAX_INPUT_VALUES with 1 channel
    per_kind = {
        "tabular": {"features": _int(1, MAX_PLAYERS)},
        "image": {"channels": _int(1, MAX_CHANNELS), "size": _int(1, size_cap), "patch": _int(1, size_cap),
                  "noise": _num(0.0, MAX_MAGNITUDE)},
        "text": {"length": _int(1, MAX_PLAYERS), "vocab": _int(1 + N_NEUTRAL + MIN_VALUE_TOKENS, MAX_VOCAB),
                 # the neutral-token probability's upper bound (0.9) is a literal of ModalitySpec.from_dict
                 "neutral": _num(0.0, 0.9)},
    }
    if set(per_kind) != set(KINDS):
        raise RuntimeError(f"the JSON schema describes modality kinds {sorted(per_kind)}, the spec has {list(KINDS)}")
    defs = {}
    for kind in KINDS:
        probe = _probe(f"{kind} modality", _parse_modality, _MINIMAL_MODALITY[kind])
        schema = _object(f"a {kind} modality", {**common, **per_kind[kind]}, probe)
        schema["properties"]["name"] = schema["properties"]["kind"] = True  # checked once, in "modality"
        defs[f"{kind}_modality"] = schema
    defs["modality"] = {
        "type": "object",
        "description": f"One input block; the fields depend on its kind ({', '.join(KINDS)}).",
        "required": ["name", "kind"],
        "properties": common,
        "allOf": [{"if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
                   "then": {"$ref": f"#/$defs/{kind}_modality"}} for kind in KINDS],
    }
    return defs


def _term_schemas() -> dict[str, Any]:
    kinds = list(MAX_TERM_PLAYERS)
    weight = {**_num(-MAX_MAGNITUDE, MAX_MAGNITUDE),
              "not": {"exclusiveMinimum": -MIN_WEIGHT, "exclusiveMaximum": MIN_WEIGHT}}
    own = {"unique": {"fn": {"enum": list(UNIQUE_FNS)}}, "synergy": {"op": {"enum": list(SYNERGY_OPS)}},
           # the spread's bounds (0 to 1) are literals of the term parser
           "redundancy": {"spread": _num(0.0, 1.0)}}
    if set(own) != set(kinds):
        raise RuntimeError(f"the JSON schema describes term kinds {sorted(own)}, the spec has {kinds}")
    defs = {}
    for kind in kinds:
        lo, hi = MAX_TERM_PLAYERS[kind]
        players = {"type": "array", "items": {"$ref": "#/$defs/player"}, "minItems": lo, "maxItems": hi,
                   "uniqueItems": True}
        props = {"kind": True, "players": players, "weight": weight, **own[kind]}
        probe = _probe(f"{kind} term", _parse_one_term, _MINIMAL_TERM[kind])
        defs[f"{kind}_term"] = _object(f"a {kind} term", props, probe)
    defs["term"] = {
        "type": "object",
        "description": f"One planted term; the fields depend on its kind ({', '.join(kinds)}).",
        "required": ["kind"],
        "properties": {"kind": {"enum": kinds}},
        "allOf": [{"if": {"required": ["kind"], "properties": {"kind": {"const": kind}}},
                   "then": {"$ref": f"#/$defs/{kind}_term"}} for kind in kinds],
    }
    return defs


_COUNTS = ("unique", "synergy", "redundancy", "synergy3")


def _random_terms_schema() -> dict[str, Any]:
    weight = {"type": "array", "items": _num(MIN_RANDOM_WEIGHT, MAX_MAGNITUDE), "minItems": 2, "maxItems": 2,
              "description": "[low, high] of the absolute weights drawn"}
    props = {**{k: _int(0, MAX_TERMS) for k in _COUNTS}, "placement": {"enum": list(PLACEMENTS)}, "weight": weight}
    schema = _object("random_terms", props, _probe("random_terms", _parse_random_terms, {}))
    schema["type"] = ["object", "null"]
    return schema


def _spec_properties() -> dict[str, Any]:
    pair = {"type": "array", "items": {"$ref": "#/$defs/player"}, "minItems": 2, "maxItems": 2, "uniqueItems": True}
    return {
        "name": {"$ref": "#/$defs/name"},
        "seed": _int(0, MAX_SEED),
        "instances": _int(1, MAX_INSTANCES),
        "target": {"enum": list(TARGETS)},
        "noise": _num(0.0, MAX_MAGNITUDE),
        "intercept": _num(-MAX_MAGNITUDE, MAX_MAGNITUDE),
        "modalities": {"type": "array", "items": {"$ref": "#/$defs/modality"}, "minItems": 1,
                       "maxItems": MAX_MODALITIES},
        "terms": {"type": "array", "items": {"$ref": "#/$defs/term"}, "maxItems": MAX_TERMS},
        "random_terms": {"$ref": "#/$defs/random_terms"},
        "shares": {"type": ["object", "null"], "propertyNames": {"$ref": "#/$defs/name"},
                   "additionalProperties": _num(0.0, 1.0), "minProperties": 1, "maxProperties": MAX_MODALITIES},
        "pairs": {"type": "array", "items": pair, "maxItems": MAX_PAIRS},
        "splits": {"type": "array", "minItems": 3, "maxItems": 3, "items": False,
                   "prefixItems": [{"type": "number", "exclusiveMinimum": 0}, _num(0.0), _num(0.0)]},
    }


def _at_least_one_term() -> dict[str, Any]:
    some_count = {"type": "object", "anyOf": [{"required": [k], "properties": {k: {"minimum": 1}}} for k in _COUNTS]}
    return {"description": "a task needs at least one term: explicit terms, or a non-zero random_terms count",
            "anyOf": [{"required": ["terms"], "properties": {"terms": {"minItems": 1}}},
                      {"required": ["random_terms"], "properties": {"random_terms": some_count}}]}


def _cross_placement() -> list[dict[str, Any]]:
    cross = {"type": "object", "required": ["placement"], "properties": {"placement": {"const": "cross"}}}
    three = {**cross, "required": ["placement", "synergy3"],
             "properties": {**cross["properties"], "synergy3": {"minimum": 1}}}
    return [
        {"description": "random_terms placement 'cross' needs at least two modalities",
         "if": {"required": ["random_terms"], "properties": {"random_terms": cross}},
         "then": {"properties": {"modalities": {"minItems": 2}}}},
        {"description": "a 3-player synergy placed 'cross' needs three modalities (one player in each)",
         "if": {"required": ["random_terms"], "properties": {"random_terms": three}},
         "then": {"properties": {"modalities": {"minItems": 3}}}},
    ]


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a task spec, as ``mxbench schema`` prints it.

    Built anew on each call from the spec package: the kinds, term kinds, ops, functions,
    placements, targets, reserved names and caps of :mod:`mxbench.spec.constants`, the name and
    player-name patterns, and each object's fields, required fields and defaults as its parser
    reads them. Objects are closed (``additionalProperties: false``) where the parser refuses
    unknown keys; modality and term kinds select their fields with ``if`` / ``then``.

    What JSON Schema cannot express stays with :class:`~mxbench.errors.SpecError`
    (:data:`CROSS_FIELD_RULES`, also listed in the schema's ``description``): players that exist,
    players read once, distinct modality names, patches that divide the image, caps on sums over
    modalities, ``random_terms`` weights in order and placeable, shares that name every modality
    and sum to 1, splits that sum to 1, integers written as ``10.0``, NaN. So a JSON document the
    schema refuses is refused by :meth:`TaskSpec.from_dict` or at generation too, and one it
    accepts may still be refused.

    Returns
    -------
    dict
        The schema; ``json.dumps(spec_schema(), indent=2, sort_keys=True)`` is deterministic.

    Raises
    ------
    RuntimeError
        A parser reads a field this module does not describe (the schema would be stale).

    Examples
    --------
    >>> schema = spec_schema()
    >>> schema["$schema"]
    'https://json-schema.org/draft/2020-12/schema'
    >>> schema["required"], schema["additionalProperties"]
    (['name', 'modalities'], False)
    >>> schema["$defs"]["modality"]["properties"]["kind"]["enum"]
    ['tabular', 'image', 'text']
    >>> schema["$defs"]["synergy_term"]["properties"]["players"]["maxItems"]
    3
    >>> schema["properties"]["instances"]["default"]
    1000
    """
    top = _object("a task spec", _spec_properties(), _probe("task spec", _parse_spec, _MINIMAL_SPEC, _FULL_SPEC))
    rules = "; ".join(CROSS_FIELD_RULES)
    return {
        "$schema": DIALECT,
        "title": "mxbench task spec",
        "description": ("A task spec of mxbench: modalities, planted terms (explicit or drawn at random), target and "
                        "sizes. Each field is checked here; what JSON Schema cannot express is checked by "
                        f"mxbench.TaskSpec.from_dict, which raises SpecError naming the field: {rules}."),
        **top,
        "allOf": [_at_least_one_term(), *_cross_placement()],
        "$defs": {
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH,
                     "pattern": _whole(_NAME.pattern), "description": "letters, digits, '_' or '-'"},
            "modality_name": {"$ref": "#/$defs/name", "not": {"enum": list(RESERVED_NAMES)},
                              "description": "a name, except the reserved columns of the instances table"},
            "player": {"type": "string", "pattern": _whole(f"(?:{_NAME.pattern}):(?:{_INDEX.pattern})"),
                       "description": "'modality:index', the index in ASCII digits without leading zeros"},
            **_modality_schemas(),
            **_term_schemas(),
            "random_terms": _random_terms_schema(),
        },
    }
