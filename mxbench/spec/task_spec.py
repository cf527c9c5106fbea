"""The task spec: modalities, terms, target and sizes, validated as a whole, with its canonical JSON and hash."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from mxbench.errors import SpecError
from mxbench.spec.constants import (MAX_INPUT_VALUES, MAX_INSTANCES, MAX_MAGNITUDE, MAX_MODALITIES, MAX_PAIRS,
                                    MAX_PLAYERS, MAX_SEED, MAX_SPEC_BYTES, MAX_TERMS, RESERVED_NAMES, TARGETS)
from mxbench.spec.fields import _finite, _name, _no_extra, _number, _positive_int, _show, _typed, loads_unique
from mxbench.spec.modality import ModalitySpec
from mxbench.spec.players import PlayerLayout
from mxbench.spec.random_terms import RandomTerms, _draw_terms
from mxbench.spec.terms import Term, _parse_term


@dataclass(frozen=True)
class TaskSpec(PlayerLayout):
    """A planted multimodal task: modalities, terms, target and sizes.

    Build one with :meth:`from_dict` or :meth:`from_json`; every field is validated and a
    malformed spec raises :class:`~mxbench.errors.SpecError` naming the field and value.
    Sizes are capped so that a spec cannot ask for absurd memory: at most 4096 players in all
    (``MAX_PLAYERS``), 100,000,000 instances (``MAX_INSTANCES``) and 16384 values of raw input
    per instance summed over modalities (``MAX_INPUT_VALUES``: features + channels * size * size
    + length).

    Parameters
    ----------
    name : str
        The task's name: 1-100 (``MAX_NAME_LENGTH``) letters, digits, ``_`` or ``-``.
    seed : int
        The seed of every random draw (terms, codebooks, instances), 0 to 2**64 - 1 (``MAX_SEED``).
    instances : int
        The number of instances to generate (1 to 100,000,000).
    target : {"regression", "classification"}
        ``y = f* + noise * N(0, 1)``, or a label drawn as ``Bernoulli(sigmoid(f* + noise * N(0, 1)))``.
    noise : float
        The noise level (0 to 1e6, ``MAX_MAGNITUDE``).
    intercept : float
        The constant of ``f*`` (absolute value at most 1e6).
    modalities : tuple of ModalitySpec
        The input blocks, in player order.
    terms : tuple of Term
        The explicitly planted terms. A task needs at least one term, explicit or random.
    random_terms : RandomTerms or None
        Terms to draw at random in addition.
    shares : dict or None
        A requested dataset-level share of ``mean |modality Shapley|`` per modality; the
        generator meets it by scaling term weights and reports the shares it achieved.
    pairs : tuple of (str, str)
        Extra player pairs whose interactions are written to the dataset.
    splits : (float, float, float)
        The train / val / test fractions.

    Examples
    --------
    >>> spec = TaskSpec.from_dict({
    ...     "name": "mix", "seed": 0, "instances": 100,
    ...     "modalities": [{"name": "tab", "kind": "tabular", "features": 3},
    ...                    {"name": "txt", "kind": "text", "length": 4, "vocab": 32}],
    ...     "terms": [{"kind": "synergy", "players": ["tab:0", "txt:1"], "weight": 2.0}]})
    >>> spec.n_players, spec.player_names[3], spec.terms[0].ids
    (7, 'txt:0', (0, 4))
    """

    name: str
    modalities: tuple[ModalitySpec, ...]
    terms: tuple[Term, ...] = ()
    seed: int = 0
    instances: int = 1000
    target: str = "regression"
    noise: float = 0.0
    intercept: float = 0.0
    random_terms: RandomTerms | None = None
    shares: dict[str, float] | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    splits: tuple[float, float, float] = (0.7, 0.15, 0.15)
    _offsets: tuple[int, ...] = field(default=(), repr=False, compare=False)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, d: Any) -> "TaskSpec":
        """Parse and validate a spec given as a dict.

        Parameters
        ----------
        d : dict
            The spec: ``name`` and ``modalities`` are required; the other fields of the class
            are optional.

        Returns
        -------
        TaskSpec
            The validated spec, player ids filled in.

        Raises
        ------
        SpecError
            A field is missing, unknown, of the wrong type or out of range, or the fields
            disagree (e.g. a term names a player that does not exist).

        Examples
        --------
        >>> TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]}).n_players
        2
        """
        if not isinstance(d, Mapping):
            raise SpecError("spec", f"expected an object, got {type(d).__name__}")
        allowed = ("name", "seed", "instances", "target", "noise", "intercept", "modalities", "terms",
                   "random_terms", "shares", "pairs", "splits")
        _no_extra(d, allowed, "")
        name = _name(d, "")
        seed = _positive_int(d, "seed", "", 0, minimum=0, maximum=MAX_SEED)
        instances = _positive_int(d, "instances", "", 1000, maximum=MAX_INSTANCES)
        target = _typed(d, "target", (str,), "", "regression")
        if target not in TARGETS:
            raise SpecError("target", f"unknown target {_show(target)} (choose from {', '.join(TARGETS)})")
        noise = _number(d, "noise", "", 0.0, lo=0.0, bound=MAX_MAGNITUDE)
        intercept = _number(d, "intercept", "", 0.0, bound=MAX_MAGNITUDE)

        mods_raw = _typed(d, "modalities", (list,), "")
        if not mods_raw:
            raise SpecError("modalities", f"need at least one modality, got {mods_raw!r}")
        if len(mods_raw) > MAX_MODALITIES:
            raise SpecError("modalities", f"at most {MAX_MODALITIES} modalities, got {len(mods_raw)}")
        mods = tuple(ModalitySpec.from_dict(m, f"modalities[{k}]") for k, m in enumerate(mods_raw))
        seen: set[str] = set()
        for k, m in enumerate(mods):
            if m.name in RESERVED_NAMES:
                raise SpecError(f"modalities[{k}].name", f"{m.name!r} is reserved (a column of the instances table)")
            if m.name in seen:
                raise SpecError(f"modalities[{k}].name", f"duplicate modality name {m.name!r}")
            seen.add(m.name)
        n_players = sum(m.n_players for m in mods)
        if n_players > MAX_PLAYERS:
            raise SpecError("modalities", f"at most {MAX_PLAYERS} players in all, got {n_players}")
        n_values = sum(math.prod(m.shape) for m in mods)
        if n_values > MAX_INPUT_VALUES:
            raise SpecError("modalities", f"one instance's raw input holds at most {MAX_INPUT_VALUES} values "
                            f"(features + channels * size * size + length), got {n_values}")
        offsets = tuple(int(x) for x in np.cumsum([0] + [m.n_players for m in mods]))

        spec = cls(name=name, modalities=mods, seed=seed, instances=instances, target=target, noise=noise,
                   intercept=intercept, _offsets=offsets)

        terms_raw = _typed(d, "terms", (list,), "", [])
        if len(terms_raw) > MAX_TERMS:
            raise SpecError("terms", f"at most {MAX_TERMS} terms (MAX_TERMS), got {len(terms_raw)}")
        terms = []
        owner: dict[int, int] = {}
        for k, t in enumerate(terms_raw):
            term = _parse_term(t, f"terms[{k}]")
            ids = tuple(spec._player_id(p, f"terms[{k}].players[{j}]") for j, p in enumerate(term.players))
            for j, pid in enumerate(ids):
                if pid in owner:
                    raise SpecError(f"terms[{k}].players[{j}]",
                                    f"player {term.players[j]!r} is already read by terms[{owner[pid]}]")
                owner[pid] = k
            terms.append(replace(term, ids=ids))

        random_terms = None
        if d.get("random_terms") is not None:
            random_terms = RandomTerms.from_dict(d["random_terms"], "random_terms")
            free = spec.n_players - len(owner)
            if random_terms.n_players_needed > free:
                raise SpecError("random_terms", f"needs {random_terms.n_players_needed} players but only {free} "
                                f"of {spec.n_players} are free")
            if random_terms.placement == "cross" and len(mods) < 2:
                raise SpecError("random_terms.placement", "'cross' needs at least two modalities")
        if not terms and (random_terms is None or random_terms.n_players_needed == 0):
            raise SpecError("terms", "a task needs at least one term (explicit or random): give 'terms' or "
                            f"non-zero 'random_terms' counts, got terms {_show(terms_raw)} and random_terms "
                            f"{_show(d.get('random_terms'))}")

        shares = None
        if d.get("shares") is not None:
            raw = _typed(d, "shares", (dict,), "")
            shares = {}
            for key, value in raw.items():
                if key not in seen:
                    raise SpecError(f"shares.{key}", f"no modality named {key!r}")
                shares[key] = _number(raw, key, "shares", lo=0.0, hi=1.0)
            missing = [m.name for m in mods if m.name not in shares]
            if missing:
                raise SpecError("shares", f"give a share for every modality; missing {missing!r}")
            total = sum(shares.values())
            if abs(total - 1.0) > 1e-6:
                raise SpecError("shares", f"must sum to 1, got {total!r}")
            shares = {m.name: shares[m.name] for m in mods}

        pairs_raw = _typed(d, "pairs", (list,), "", [])
        if len(pairs_raw) > MAX_PAIRS:
            raise SpecError("pairs", f"at most {MAX_PAIRS} pairs (MAX_PAIRS), got {len(pairs_raw)}")
        pairs = []
        for k, pr in enumerate(pairs_raw):
            if not (isinstance(pr, list) and len(pr) == 2 and all(isinstance(p, str) for p in pr)):
                raise SpecError(f"pairs[{k}]", f"expected two player names, got {_show(pr)}")
            a, b = (spec._player_id(p, f"pairs[{k}]") for p in pr)
            if a == b:
                raise SpecError(f"pairs[{k}]", f"names the same player twice: {pr!r}")
            pairs.append((pr[0], pr[1]))

        splits_raw = _typed(d, "splits", (list,), "", [0.7, 0.15, 0.15])
        bad_splits = SpecError("splits", f"expected [train, val, test] fractions summing to 1 with train > 0, "
                                         f"got {_show(splits_raw)}")
        if len(splits_raw) != 3 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in splits_raw):
            raise bad_splits
        splits = tuple(_finite(x, f"splits[{k}]") for k, x in enumerate(splits_raw))
        if min(splits) < 0 or abs(sum(splits) - 1.0) > 1e-6 or splits[0] <= 0:
            raise bad_splits

        spec = replace(spec, terms=tuple(terms), random_terms=random_terms, shares=shares, pairs=tuple(pairs),
                       splits=splits)
        if shares is not None:
            spec._check_shares()
        return spec

    @classmethod
    def from_json(cls, path: str | Path) -> "TaskSpec":
        """Read and validate a spec from a JSON file.

        Parameters
        ----------
        path : str or Path
            A JSON file holding one spec object.

        Returns
        -------
        TaskSpec

        Raises
        ------
        SpecError
            The file cannot be read, is not JSON or is not a valid spec.

        Examples
        --------
        >>> import json, tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "s.json")
        >>> _ = open(f, "w").write(json.dumps({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]}))
        >>> TaskSpec.from_json(f).name
        't'
        """
        path = Path(path)
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_SPEC_BYTES + 1)  # never more: /dev/zero or a huge file is refused, not read
        except OSError as e:  # a missing file, a directory, no permission
            raise SpecError("spec", f"cannot read {str(path)!r}: {e.strerror or e}") from None
        except ValueError as e:  # a path with a NUL byte
            raise SpecError("spec", f"cannot read {_show(str(path))}: {e}") from None
        if len(data) > MAX_SPEC_BYTES:
            raise SpecError("spec", f"{str(path)!r} is larger than {MAX_SPEC_BYTES} bytes (1 MiB, MAX_SPEC_BYTES); "
                            "a spec within mxbench's size caps is far smaller")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SpecError("spec", f"{str(path)!r} is not UTF-8 text: {e.reason} at byte {e.start}") from None
        try:
            d = loads_unique(text, SpecError, str(path))
        except json.JSONDecodeError as e:
            raise SpecError("spec", f"{str(path)!r} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        except SpecError:
            raise
        except ValueError as e:  # an integer literal of more than 4300 digits
            raise SpecError("spec", f"{str(path)!r} is not valid JSON: {e}") from None
        except RecursionError:
            raise SpecError("spec", f"{str(path)!r} is not valid JSON: nested too deeply") from None
        return cls.from_dict(d)

    def _check_shares(self) -> None:
        assert self.shares is not None
        touched = {self.modality_of[i] for t in self.terms for i in t.ids}
        for k, m in enumerate(self.modalities):
            share = self.shares[m.name]
            if share > 0 and k not in touched and self.random_terms is None:
                raise SpecError(f"shares.{m.name}", f"is {share} but no term reads modality {m.name!r}")
            if share == 0 and k in touched:
                raise SpecError(f"shares.{m.name}", f"is 0 but a term reads modality {m.name!r} (weights cannot be 0)")

    # ------------------------------------------------------------------ terms
    def planted_terms(self) -> tuple[Term, ...]:
        """The explicit terms followed by the randomly drawn ones (deterministic in ``seed``).

        Weights are those of the spec; the generator may rescale them to meet ``shares``.

        Returns
        -------
        tuple of Term
            The terms, player ids filled in.

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "seed": 3, "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 6}],
        ...     "random_terms": {"synergy": 1, "unique": 1}})
        >>> [t.kind for t in spec.planted_terms()]
        ['unique', 'synergy']
        """
        if self.random_terms is None:
            return self.terms
        return self.terms + _draw_terms(self.random_terms, self.seed, self.terms, self.player_names,
                                        self.modality_of)

    def with_overrides(self, *, seed: int | None = None, instances: int | None = None) -> "TaskSpec":
        """A copy with another seed or instance count.

        Parameters
        ----------
        seed : int, optional
            The new seed (default: keep it).
        instances : int, optional
            The new instance count (default: keep it).

        Returns
        -------
        TaskSpec
            A validated copy; the spec itself is unchanged.

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.with_overrides(seed=5, instances=10).seed
        5
        """
        d = self.to_dict()
        if seed is not None:
            d["seed"] = seed
        if instances is not None:
            d["instances"] = instances
        return TaskSpec.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form; ``TaskSpec.from_dict(spec.to_dict()) == spec``.

        Returns
        -------
        dict
            Every field with defaults filled in; ``random_terms``, ``shares`` and ``pairs`` only
            when set.

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> TaskSpec.from_dict(spec.to_dict()) == spec
        True
        """
        d: dict[str, Any] = {
            "name": self.name, "seed": self.seed, "instances": self.instances, "target": self.target,
            "noise": self.noise, "intercept": self.intercept,
            "modalities": [m.to_dict() for m in self.modalities],
            "terms": [t.to_dict() for t in self.terms],
        }
        if self.random_terms is not None:
            d["random_terms"] = self.random_terms.to_dict()
        if self.shares is not None:
            d["shares"] = dict(self.shares)
        if self.pairs:
            d["pairs"] = [list(p) for p in self.pairs]
        d["splits"] = list(self.splits)
        return d

    def spec_hash(self) -> str:
        """SHA-256 of the canonical JSON of the spec (what models and caches key on).

        Returns
        -------
        str
            64 hex digits.

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> len(spec.spec_hash())
        64
        """
        return hashlib.sha256(canonical_json(self.to_dict()).encode()).hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the same object always gives the same text.

    Parameters
    ----------
    obj : object
        A JSON-serialisable object without NaN or infinities.

    Returns
    -------
    str

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.0, 2]})
    '{"a":[1.0,2],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
