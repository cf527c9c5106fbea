"""Task specs: modalities, players and planted terms, parsed from dicts or JSON and validated.

The names live in modules by concept, and every one is importable from here:

- :mod:`mxbench.spec.constants`: kinds, term functions, reserved token ids and names, size caps,
  random-stream numbers.
- :mod:`mxbench.spec.fields`: validation of single fields (types, ranges, names).
- :mod:`mxbench.spec.modality`: :class:`ModalitySpec`.
- :mod:`mxbench.spec.terms`: :class:`Term`, what each term kind computes.
- :mod:`mxbench.spec.random_terms`: :class:`RandomTerms` and the terms drawn from a seed.
- :mod:`mxbench.spec.players`: :class:`PlayerLayout`, player ids and names.
- :mod:`mxbench.spec.task_spec`: :class:`TaskSpec` and :func:`canonical_json`.
- :mod:`mxbench.spec.json_schema`: :func:`spec_schema`, the JSON Schema of the spec format.

Examples
--------
>>> from mxbench.spec import TaskSpec
>>> TaskSpec.from_dict({"name": "t", "modalities": [{"name": "a", "kind": "tabular", "features": 2}],
...                     "terms": [{"kind": "unique", "players": ["a:0"]}]}).player_names
['a:0', 'a:1']
"""

from __future__ import annotations

from mxbench.errors import SpecError
from mxbench.spec.constants import (KINDS, MASK_ID, MAX_CHANNELS, MAX_INPUT_VALUES, MAX_INSTANCES, MAX_MAGNITUDE,
                                    MAX_MODALITIES, MAX_NAME_LENGTH, MAX_PAIRS, MAX_PLAYERS, MAX_SEED,
                                    MAX_SPEC_BYTES, MAX_TERMS, MAX_TERM_PLAYERS,
                                    MAX_VOCAB, MIN_RANDOM_WEIGHT, MIN_VALUE_TOKENS, MIN_WEIGHT, N_NEUTRAL,
                                    PLACEMENTS, RESERVED_NAMES, STREAM_CALIBRATION, STREAM_CODEBOOK, STREAM_DATA,
                                    STREAM_TERMS, SYNERGY_OPS, TARGETS, UNIQUE_FNS)
from mxbench.spec.fields import _NAME  # noqa: F401 - the one rule for names, read by mxbench.data.reader
from mxbench.spec.json_schema import CROSS_FIELD_RULES, spec_schema
from mxbench.spec.modality import ModalitySpec
from mxbench.spec.players import PlayerLayout
from mxbench.spec.random_terms import RandomTerms
from mxbench.spec.task_spec import TaskSpec, canonical_json
from mxbench.spec.terms import Term, _parse_term  # noqa: F401 - _parse_term: read by mxbench.task

__all__ = [
    "KINDS", "TARGETS", "UNIQUE_FNS", "SYNERGY_OPS", "PLACEMENTS", "MAX_MODALITIES", "MAX_TERM_PLAYERS", "MASK_ID",
    "N_NEUTRAL", "MIN_VALUE_TOKENS", "RESERVED_NAMES", "MAX_NAME_LENGTH", "MAX_PLAYERS", "MAX_INSTANCES",
    "MAX_INPUT_VALUES", "MAX_PAIRS", "MAX_TERMS", "MAX_SPEC_BYTES", "MAX_VOCAB", "MAX_CHANNELS", "MAX_SEED",
    "MAX_MAGNITUDE", "MIN_WEIGHT", "MIN_RANDOM_WEIGHT",
    "STREAM_TERMS", "STREAM_CODEBOOK", "STREAM_CALIBRATION", "STREAM_DATA",
    "SpecError", "ModalitySpec", "Term", "RandomTerms", "PlayerLayout", "TaskSpec", "canonical_json",
    "spec_schema", "CROSS_FIELD_RULES",
]
