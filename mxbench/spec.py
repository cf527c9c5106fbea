"""Task specs: modalities, players and planted terms, parsed from dicts or JSON and validated."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from mxbench import exactmath

from mxbench.errors import SpecError

KINDS = ("tabular", "image", "text")
TARGETS = ("regression", "classification")
UNIQUE_FNS = ("identity", "tanh", "step")
SYNERGY_OPS = ("product", "xor", "and")
PLACEMENTS = ("any", "within", "cross")
MAX_MODALITIES = 8
MAX_TERM_PLAYERS = {"unique": (1, 1), "synergy": (2, 3), "redundancy": (2, 4)}
#: The text vocabulary's reserved ids: 0 is ``[MASK]``, 1..N_NEUTRAL are neutral tokens.
MASK_ID = 0
N_NEUTRAL = 3
MIN_VALUE_TOKENS = 4
#: Names a modality cannot take: they are columns of the instances table.
RESERVED_NAMES = ("instance_id", "split", "target", "f")
_NAME = re.compile(r"[A-Za-z0-9_\-]+")
#: A player's index: ASCII digits in canonical form (``"0"``, ``"7"``, ``"12"``; not ``"07"``).
_INDEX = re.compile(r"0|[1-9][0-9]*")
#: The most characters a name (the task's or a modality's) may have.
MAX_NAME_LENGTH = 100
#: Size caps, so that a spec cannot ask for absurd memory: players in all, instances, values
#: of one instance's raw input summed over modalities (features + channels * size * size +
#: length), text vocabulary size and image channels.
MAX_PLAYERS = 4096
MAX_INSTANCES = 100_000_000
MAX_INPUT_VALUES = 16384
MAX_VOCAB = 1_000_000
MAX_CHANNELS = 16
#: The largest seed (a 64-bit unsigned integer; a much longer one could not even be hashed).
MAX_SEED = 2**64 - 1
#: The largest absolute value of a term weight, the intercept and the noise levels: larger ones
#: make the generated data overflow to inf or NaN.
MAX_MAGNITUDE = 1e6
#: The smallest absolute value of a term weight.
MIN_WEIGHT = 1e-9
#: The smallest ``random_terms.weight`` low: drawn weights are rounded to 6 decimals.
MIN_RANDOM_WEIGHT = 1e-3


# --------------------------------------------------------------------------- helpers


def _show(value: Any) -> str:
    """``repr(value)`` for an error message, cut to 100 characters.

    Safe for values ``repr`` cannot print: integers of more than 4300 digits, lists nested too deeply.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return "<a value too large to print>"
    return text if len(text) <= 100 else text[:97] + "..."


def _typed(d: Mapping[str, Any], key: str, types: tuple, path: str, default: Any = ...) -> Any:
    """Return ``d[key]`` checked against ``types`` (bool is never an int here)."""
    if key not in d:
        if default is ...:
            raise SpecError(f"{path}.{key}" if path else key, "is required")
        return default
    value = d[key]
    where = f"{path}.{key}" if path else key
    if isinstance(value, bool) and bool not in types:
        raise SpecError(where, f"expected {_tname(types)}, got {value!r}")
    if not isinstance(value, types):
        raise SpecError(where, f"expected {_tname(types)}, got {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(where, f"must be finite, got {value!r}")
    return value


def _tname(types: tuple) -> str:
    names = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", bool: "a boolean"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _no_extra(d: Mapping[str, Any], allowed: Sequence[str], path: str) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise SpecError(where, f"unknown field (allowed: {', '.join(allowed)})")


def _positive_int(d: Mapping[str, Any], key: str, path: str, default: Any = ..., minimum: int = 1,
                  maximum: int | None = None) -> int:
    value = _typed(d, key, (int,), path, default)  # comparisons only: any Python int is safe here
    where = f"{path}.{key}" if path else key
    if value < minimum:
        raise SpecError(where, f"must be at least {minimum}, got {_show(value)}")
    if maximum is not None and value > maximum:
        raise SpecError(where, f"must be at most {maximum}, got {_show(value)}")
    return value


def _finite(value: int | float, where: str) -> float:
    """``float(value)``, or SpecError when it is not finite or an int too large for a float."""
    try:
        x = float(value)
    except OverflowError:
        raise SpecError(where, f"is too large, got {_show(value)}") from None
    if not math.isfinite(x):
        raise SpecError(where, f"must be finite, got {value!r}")
    return x


def _number(d: Mapping[str, Any], key: str, path: str, default: Any = ..., lo: float | None = None,
            hi: float | None = None, bound: float | None = None) -> float:
    """``d[key]`` as a finite float in ``[lo, hi]`` with ``|value| <= bound``."""
    where = f"{path}.{key}" if path else key
    value = _finite(_typed(d, key, (int, float), path, default), where)
    if lo is not None and value < lo:
        raise SpecError(where, f"must be at least {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise SpecError(where, f"must be at most {hi}, got {value!r}")
    if bound is not None and abs(value) > bound:
        raise SpecError(where, f"must have absolute value at most {bound:g}, got {value!r}")
    return value


def _name(d: Mapping[str, Any], path: str) -> str:
    """``d["name"]``: 1-100 letters, digits, ``_`` or ``-``."""
    name = _typed(d, "name", (str,), path)
    where = f"{path}.name" if path else "name"
    if len(name) > MAX_NAME_LENGTH:
        raise SpecError(where, f"must be at most {MAX_NAME_LENGTH} characters, got {len(name)}: {_show(name)}")
    if not _NAME.fullmatch(name):
        raise SpecError(where, f"must be letters, digits, '_' or '-', got {_show(name)}")
    return name


# --------------------------------------------------------------------------- modalities


@dataclass(frozen=True)
class ModalitySpec:
    """One named input block and how it is cut into players.

    Parameters
    ----------
    name : str
        The modality's name, used in player names ``"name:index"``: 1-100 (``MAX_NAME_LENGTH``)
        letters, digits, ``_`` or ``-``.
    kind : {"tabular", "image", "text"}
        Tabular columns, image patches or text token slots.
    features : int
        Tabular only: the number of columns (one player each), at most 4096 (``MAX_PLAYERS``).
    channels, size, patch : int
        Image only: a ``channels x size x size`` image cut into ``patch x patch`` patches,
        numbered in row-major order (one player each). At most 16 channels (``MAX_CHANNELS``)
        and ``channels * size * size`` at most 16384 values (``MAX_INPUT_VALUES``).
    noise : float
        Image only: the standard deviation of the pixel noise added to each patch (0 to 1e6,
        ``MAX_MAGNITUDE``).
    length, vocab : int
        Text only: the number of token slots (one player each, at most 4096, ``MAX_PLAYERS``)
        and the vocabulary size (at most 1,000,000, ``MAX_VOCAB``). Id 0 is ``[MASK]``, ids 1-3
        are neutral tokens, the rest carry values.
    neutral : float
        Text only: the probability that a slot holds a neutral token (latent 0).

    Examples
    --------
    >>> m = ModalitySpec.from_dict({"name": "img", "kind": "image", "size": 16, "patch": 4})
    >>> m.n_players, m.shape
    (16, (1, 16, 16))
    """

    name: str
    kind: str
    features: int = 0
    channels: int = 1
    size: int = 0
    patch: int = 0
    noise: float = 0.05
    length: int = 0
    vocab: int = 0
    neutral: float = 0.1

    @classmethod
    def from_dict(cls, d: Any, path: str = "modality") -> "ModalitySpec":
        """Parse and validate one modality entry.

        Parameters
        ----------
        d : dict
            The entry: ``name``, ``kind`` and that kind's fields (see the class).
        path : str
            Where the entry sits in the spec, used in error messages.

        Returns
        -------
        ModalitySpec

        Raises
        ------
        SpecError
            A field is missing, unknown, of the wrong type or out of range.

        Examples
        --------
        >>> ModalitySpec.from_dict({"name": "t", "kind": "tabular", "features": 3}).n_players
        3
        """
        if not isinstance(d, Mapping):
            raise SpecError(path, f"expected an object, got {_show(d)}")
        name = _name(d, path)
        kind = _typed(d, "kind", (str,), path)
        if kind == "tabular":
            _no_extra(d, ("name", "kind", "features"), path)
            return cls(name=name, kind=kind, features=_positive_int(d, "features", path, maximum=MAX_PLAYERS))
        if kind == "image":
            _no_extra(d, ("name", "kind", "channels", "size", "patch", "noise"), path)
            channels = _positive_int(d, "channels", path, 1, maximum=MAX_CHANNELS)
            size = _positive_int(d, "size", path)
            if channels * size * size > MAX_INPUT_VALUES:
                raise SpecError(f"{path}.size", f"channels * size * size must be at most {MAX_INPUT_VALUES} values, "
                                f"got size {_show(size)} with {channels} channel(s)")
            patch = _positive_int(d, "patch", path)
            if size % patch:
                raise SpecError(f"{path}.patch", f"image size {size} is not divisible by patch {_show(patch)}")
            noise = _number(d, "noise", path, 0.05, lo=0.0, bound=MAX_MAGNITUDE)
            return cls(name=name, kind=kind, channels=channels, size=size, patch=patch, noise=noise)
        if kind == "text":
            _no_extra(d, ("name", "kind", "length", "vocab", "neutral"), path)
            length = _positive_int(d, "length", path, maximum=MAX_PLAYERS)
            vocab = _positive_int(d, "vocab", path, maximum=MAX_VOCAB)
            need = 1 + N_NEUTRAL + MIN_VALUE_TOKENS
            if vocab < need:
                raise SpecError(
                    f"{path}.vocab",
                    f"needs at least {need} tokens ([MASK], {N_NEUTRAL} neutral, {MIN_VALUE_TOKENS} valued), got {vocab}",
                )
            neutral = _number(d, "neutral", path, 0.1, lo=0.0, hi=0.9)
            return cls(name=name, kind=kind, length=length, vocab=vocab, neutral=neutral)
        raise SpecError(f"{path}.kind", f"unknown modality kind {_show(kind)} (choose from {', '.join(KINDS)})")

    @property
    def n_players(self) -> int:
        """The number of players (columns, patches or token slots).

        Returns
        -------
        int

        Examples
        --------
        >>> ModalitySpec.from_dict({"name": "txt", "kind": "text", "length": 5, "vocab": 16}).n_players
        5
        """
        if self.kind == "tabular":
            return self.features
        if self.kind == "image":
            return (self.size // self.patch) ** 2
        return self.length

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one instance's raw input for this modality.

        Returns
        -------
        tuple of int
            ``(features,)``, ``(channels, size, size)`` or ``(length,)``.

        Examples
        --------
        >>> ModalitySpec.from_dict({"name": "img", "kind": "image", "channels": 3, "size": 8, "patch": 4}).shape
        (3, 8, 8)
        """
        if self.kind == "tabular":
            return (self.features,)
        if self.kind == "image":
            return (self.channels, self.size, self.size)
        return (self.length,)

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form (the inverse of :meth:`from_dict`).

        Returns
        -------
        dict
            ``name``, ``kind`` and the fields of that kind, defaults filled in.

        Examples
        --------
        >>> ModalitySpec.from_dict({"name": "t", "kind": "tabular", "features": 2}).to_dict()
        {'name': 't', 'kind': 'tabular', 'features': 2}
        """
        keys = {
            "tabular": ("features",),
            "image": ("channels", "size", "patch", "noise"),
            "text": ("length", "vocab", "neutral"),
        }[self.kind]
        return {"name": self.name, "kind": self.kind, **{k: getattr(self, k) for k in keys}}


# --------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class Term:
    """One planted component of the label function over 1-4 players.

    Parameters
    ----------
    kind : {"unique", "synergy", "redundancy"}
        ``unique``: ``w * h(s_a)`` with ``h`` in identity / tanh / step (``1[s > 0]``).
        ``synergy``: over 2 or 3 players, ``product`` (``w * prod s``), ``xor`` on signs
        (``w * (-1)^(k+1) * prod sign(s)``: ``+w`` when an odd number of signs is positive,
        ``0`` when any player is absent) or ``and`` (``w * prod 1[s > 0]``).
        ``redundancy``: 2-4 copies of one latent; ``w * g(s)`` with ``g`` the argument of
        largest magnitude (the first on ties), so any one copy carries the value.
    players : tuple of str
        Player names ``"modality:index"``.
    weight : float
        The term's weight ``w``: ``1e-9 <= |w| <= 1e6`` (``MIN_WEIGHT``, ``MAX_MAGNITUDE``).
    op : str
        The function: an ``h`` for unique terms, an op for synergy, ``"max-magnitude"`` for
        redundancy.
    spread : float
        Redundancy only: the standard deviation of each copy around the shared latent.
    ids : tuple of int
        The player ids (filled in by :class:`TaskSpec`).

    Examples
    --------
    >>> import numpy as np
    >>> t = Term("synergy", ("a:0", "b:0"), 2.0, "product", ids=(0, 1))
    >>> t.evaluate(np.array([[1.5, -2.0]])).tolist()
    [-6.0]
    >>> t.table(np.array([[1.5, -2.0]])).tolist() == [[0.0, 0.0, 0.0, -6.0]]  # bit j of the column = player j present
    True
    """

    kind: str
    players: tuple[str, ...]
    weight: float
    op: str
    spread: float = 0.0
    ids: tuple[int, ...] = ()

    @property
    def order(self) -> int:
        """The number of players the term reads.

        Returns
        -------
        int

        Examples
        --------
        >>> Term("redundancy", ("a:0", "b:0", "b:1"), 2.0, "max-magnitude", 0.05).order
        3
        """
        return len(self.players)

    def evaluate(self, s: np.ndarray) -> np.ndarray:
        """The term's value for latents ``s`` of shape ``(N, k)`` (absent players are 0).

        Parameters
        ----------
        s : array_like
            The latents of the term's players, shape ``(N, k)``, columns in ``players`` order.

        Returns
        -------
        ndarray of float64
            The term's value on each row, shape ``(N,)``.

        Examples
        --------
        >>> import numpy as np
        >>> Term("unique", ("a:0",), 2.0, "step").evaluate(np.array([[0.5], [-1.0]])).tolist()
        [2.0, 0.0]
        >>> Term("synergy", ("a:0", "a:1"), 1.0, "xor").evaluate(np.array([[1.0, 2.0], [-1.0, 2.0]])).tolist()
        [-1.0, 1.0]
        """
        s = np.asarray(s, dtype=np.float64)
        w = self.weight
        if self.kind == "unique":
            x = s[:, 0]
            if self.op == "identity":
                return w * x
            if self.op == "tanh":
                return w * exactmath.tanh(x)
            return w * (x > 0).astype(np.float64)
        if self.kind == "synergy":
            if self.op == "product":
                out = s[:, 0].copy()
                for j in range(1, s.shape[1]):
                    out = out * s[:, j]
                return w * out
            if self.op == "xor":
                out = np.sign(s[:, 0])
                for j in range(1, s.shape[1]):
                    out = out * np.sign(s[:, j])
                return (w * (-1.0) ** (s.shape[1] + 1)) * out
            out = (s[:, 0] > 0).astype(np.float64)
            for j in range(1, s.shape[1]):
                out = out * (s[:, j] > 0)
            return w * out
        pick = np.argmax(np.abs(s), axis=1)
        return w * s[np.arange(s.shape[0]), pick]

    def table(self, s: np.ndarray) -> np.ndarray:
        """The term's values on all ``2^k`` subsets of its players, shape ``(N, 2^k)``.

        Column ``b`` holds the value with player ``j`` present iff bit ``j`` of ``b`` is set
        (player ``j`` = ``players[j]``); absent players decode to 0.

        Parameters
        ----------
        s : array_like
            The latents of the term's players, shape ``(N, k)``, columns in ``players`` order.

        Returns
        -------
        ndarray of float64
            Shape ``(N, 2^k)``.

        Examples
        --------
        >>> import numpy as np
        >>> Term("unique", ("a:0",), 2.0, "step").table(np.array([[0.5], [-1.0]])).tolist()
        [[0.0, 2.0], [0.0, 0.0]]
        """
        s = np.asarray(s, dtype=np.float64)
        n, k = s.shape
        masks = ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1).astype(np.float64)  # (2^k, k)
        masked = s[:, None, :] * masks[None, :, :]  # (N, 2^k, k): every subset of every row, one call
        return self.evaluate(masked.reshape(n * 2**k, k)).reshape(n, 2**k)

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form of the term.

        Returns
        -------
        dict
            ``kind``, ``players``, ``weight`` and the kind's own field: ``fn`` (unique), ``op``
            (synergy) or ``spread`` (redundancy), as :class:`TaskSpec` reads it.

        Examples
        --------
        >>> Term("unique", ("t:0",), 1.0, "tanh").to_dict()
        {'kind': 'unique', 'players': ['t:0'], 'weight': 1.0, 'fn': 'tanh'}
        """
        d: dict[str, Any] = {"kind": self.kind, "players": list(self.players), "weight": self.weight}
        if self.kind == "unique":
            d["fn"] = self.op
        elif self.kind == "synergy":
            d["op"] = self.op
        else:
            d["spread"] = self.spread
        return d


def _parse_term(d: Any, path: str) -> Term:
    if not isinstance(d, Mapping):
        raise SpecError(path, f"expected an object, got {_show(d)}")
    kind = _typed(d, "kind", (str,), path)
    if kind not in MAX_TERM_PLAYERS:
        raise SpecError(f"{path}.kind", f"unknown term kind {_show(kind)} (choose from unique, synergy, redundancy)")
    allowed = {"unique": ("kind", "players", "weight", "fn"), "synergy": ("kind", "players", "weight", "op"),
               "redundancy": ("kind", "players", "weight", "spread")}[kind]
    _no_extra(d, allowed, path)
    players = _typed(d, "players", (list,), path)
    lo, hi = MAX_TERM_PLAYERS[kind]
    if not lo <= len(players) <= hi:
        raise SpecError(f"{path}.players", f"a {kind} term reads {lo}-{hi} players, got {len(players)}: "
                        f"{_show(players)}")
    for j, p in enumerate(players):
        if not isinstance(p, str):
            raise SpecError(f"{path}.players[{j}]", f"expected a player name 'modality:index', got {_show(p)}")
    if len(set(players)) != len(players):
        raise SpecError(f"{path}.players", f"names a player twice: {players!r}")
    weight = _number(d, "weight", path, 1.0, bound=MAX_MAGNITUDE)
    if weight == 0.0:
        raise SpecError(f"{path}.weight", "must be non-zero, got 0.0")
    if abs(weight) < MIN_WEIGHT:
        raise SpecError(f"{path}.weight", f"must have absolute value at least {MIN_WEIGHT:g}, got {weight!r}")
    spread = 0.0
    if kind == "unique":
        op = _typed(d, "fn", (str,), path, "identity")
        if op not in UNIQUE_FNS:
            raise SpecError(f"{path}.fn", f"unknown function {_show(op)} (choose from {', '.join(UNIQUE_FNS)})")
    elif kind == "synergy":
        op = _typed(d, "op", (str,), path, "product")
        if op not in SYNERGY_OPS:
            raise SpecError(f"{path}.op", f"unknown op {_show(op)} (choose from {', '.join(SYNERGY_OPS)})")
    else:
        op = "max-magnitude"
        spread = _number(d, "spread", path, 0.05, lo=0.0, hi=1.0)
    return Term(kind=kind, players=tuple(players), weight=weight, op=op, spread=spread)


@dataclass(frozen=True)
class RandomTerms:
    """Counts of terms to draw at random from the players no explicit term reads.

    Parameters
    ----------
    unique, synergy, redundancy, synergy3 : int
        How many unique terms, 2-way synergies, 2-copy redundancies and 3-way synergies.
    placement : {"any", "within", "cross"}
        Whether the players of a multi-player term sit in one modality, in different
        modalities, or anywhere.
    weight : (float, float)
        Absolute weights are drawn uniformly from this range, with a random sign, and rounded to
        6 decimals: ``1e-3 <= low <= high <= 1e6`` (``MIN_RANDOM_WEIGHT``, ``MAX_MAGNITUDE``).

    Examples
    --------
    >>> RandomTerms.from_dict({"unique": 2, "synergy": 1}, "random_terms").n_players_needed
    4
    """

    unique: int = 0
    synergy: int = 0
    redundancy: int = 0
    synergy3: int = 0
    placement: str = "any"
    weight: tuple[float, float] = (0.5, 2.0)

    @classmethod
    def from_dict(cls, d: Any, path: str) -> "RandomTerms":
        """Parse and validate the ``random_terms`` entry.

        Parameters
        ----------
        d : dict
            The entry: the counts ``unique``, ``synergy``, ``redundancy`` and ``synergy3``
            (default 0), ``placement`` and ``weight`` (``[low, high]``).
        path : str
            Where the entry sits in the spec, used in error messages.

        Returns
        -------
        RandomTerms

        Raises
        ------
        SpecError
            A field is unknown, of the wrong type or out of range.

        Examples
        --------
        >>> RandomTerms.from_dict({"synergy": 2, "placement": "cross"}, "random_terms").synergy
        2
        >>> try:
        ...     RandomTerms.from_dict({"placement": "near"}, "random_terms")
        ... except SpecError as e:
        ...     print(e)
        random_terms.placement: unknown placement 'near' (choose from any, within, cross)
        """
        if not isinstance(d, Mapping):
            raise SpecError(path, f"expected an object, got {_show(d)}")
        _no_extra(d, ("unique", "synergy", "redundancy", "synergy3", "placement", "weight"), path)
        counts = {k: _positive_int(d, k, path, 0, minimum=0) for k in ("unique", "synergy", "redundancy", "synergy3")}
        placement = _typed(d, "placement", (str,), path, "any")
        if placement not in PLACEMENTS:
            raise SpecError(f"{path}.placement",
                            f"unknown placement {_show(placement)} (choose from {', '.join(PLACEMENTS)})")
        weight = _typed(d, "weight", (list,), path, [0.5, 2.0])
        if len(weight) != 2 or not all(isinstance(w, (int, float)) and not isinstance(w, bool) for w in weight):
            raise SpecError(f"{path}.weight", f"expected [low, high], got {_show(weight)}")
        lo, hi = (_finite(w, f"{path}.weight") for w in weight)
        if not 0 < lo <= hi:
            raise SpecError(f"{path}.weight", f"expected 0 < low <= high, finite, got {weight!r}")
        if lo < MIN_RANDOM_WEIGHT or hi > MAX_MAGNITUDE:
            raise SpecError(f"{path}.weight", f"expected {MIN_RANDOM_WEIGHT:g} <= low <= high <= {MAX_MAGNITUDE:g} "
                            f"(drawn weights are rounded to 6 decimals), got {weight!r}")
        return cls(placement=placement, weight=(lo, hi), **counts)

    @property
    def n_players_needed(self) -> int:
        """The number of free players the drawn terms need.

        Returns
        -------
        int
            ``unique + 2 * synergy + 2 * redundancy + 3 * synergy3``.

        Examples
        --------
        >>> RandomTerms(unique=1, synergy3=1).n_players_needed
        4
        """
        return self.unique + 2 * self.synergy + 2 * self.redundancy + 3 * self.synergy3

    def to_dict(self) -> dict[str, Any]:
        """The canonical dict form.

        Returns
        -------
        dict
            Every field, ``weight`` as a ``[low, high]`` list.

        Examples
        --------
        >>> RandomTerms(unique=2, synergy=1).to_dict()
        {'unique': 2, 'synergy': 1, 'redundancy': 0, 'synergy3': 0, 'placement': 'any', 'weight': [0.5, 2.0]}
        """
        return {"unique": self.unique, "synergy": self.synergy, "redundancy": self.redundancy,
                "synergy3": self.synergy3, "placement": self.placement, "weight": list(self.weight)}


# --------------------------------------------------------------------------- the task spec


@dataclass(frozen=True)
class TaskSpec:
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
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise SpecError("spec", f"{str(path)!r} is not UTF-8 text: {e.reason} at byte {e.start}") from None
        except OSError as e:  # a missing file, a directory, no permission
            raise SpecError("spec", f"cannot read {str(path)!r}: {e.strerror or e}") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SpecError("spec", f"{str(path)!r} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        except ValueError as e:  # an integer literal of more than 4300 digits
            raise SpecError("spec", f"{str(path)!r} is not valid JSON: {e}") from None
        except RecursionError:
            raise SpecError("spec", f"{str(path)!r} is not valid JSON: nested too deeply") from None
        return cls.from_dict(d)

    def _player_id(self, name: str, where: str) -> int:
        mod, sep, idx = name.partition(":")
        if not sep or not _INDEX.fullmatch(idx):
            raise SpecError(where, f"expected a player name 'modality:index', got {_show(name)} (the index in "
                            "ASCII digits without leading zeros)")
        for k, m in enumerate(self.modalities):
            if m.name == mod:
                # more digits than the last index means out of range (and int() of 4300+ digits would fail)
                if len(idx) > len(str(m.n_players - 1)) or int(idx) >= m.n_players:
                    raise SpecError(where, f"player {_show(name)} does not exist: modality {mod!r} has "
                                    f"{m.n_players} players (0..{m.n_players - 1})")
                return self._offsets[k] + int(idx)
        raise SpecError(where, f"player {_show(name)} names no modality "
                        f"(have {', '.join(m.name for m in self.modalities)})")

    def _check_shares(self) -> None:
        assert self.shares is not None
        touched = {self.modality_of[i] for t in self.terms for i in t.ids}
        for k, m in enumerate(self.modalities):
            share = self.shares[m.name]
            if share > 0 and k not in touched and self.random_terms is None:
                raise SpecError(f"shares.{m.name}", f"is {share} but no term reads modality {m.name!r}")
            if share == 0 and k in touched:
                raise SpecError(f"shares.{m.name}", f"is 0 but a term reads modality {m.name!r} (weights cannot be 0)")

    # ------------------------------------------------------------------ players
    @property
    def n_players(self) -> int:
        """The total number of players.

        Returns
        -------
        int

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "text", "length": 3, "vocab": 8}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.n_players
        5
        """
        return self._offsets[-1]

    @property
    def offsets(self) -> tuple[int, ...]:
        """The first player id of each modality, and ``n_players`` last.

        Returns
        -------
        tuple of int
            ``len(modalities) + 1`` entries; modality ``k`` owns ids ``offsets[k]..offsets[k+1]-1``.

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "text", "length": 3, "vocab": 8}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.offsets
        (0, 2, 5)
        """
        return self._offsets

    @property
    def player_names(self) -> list[str]:
        """Each player's name ``"modality:index"``, in player-id order.

        Returns
        -------
        list of str

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "text", "length": 3, "vocab": 8}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.player_names
        ['a:0', 'a:1', 'b:0', 'b:1', 'b:2']
        """
        return [f"{m.name}:{i}" for m in self.modalities for i in range(m.n_players)]

    @property
    def modality_of(self) -> np.ndarray:
        """The modality number of each player, shape ``(n_players,)``.

        Returns
        -------
        ndarray of int

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "text", "length": 3, "vocab": 8}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.modality_of.tolist()
        [0, 0, 1, 1, 1]
        """
        return np.repeat(np.arange(len(self.modalities)), [m.n_players for m in self.modalities])

    @property
    def modality_names(self) -> tuple[str, ...]:
        """The modality names in order.

        Returns
        -------
        tuple of str

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "text", "length": 3, "vocab": 8}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.modality_names
        ('a', 'b')
        """
        return tuple(m.name for m in self.modalities)

    def player_id(self, name: str) -> int:
        """The id of the player named ``"modality:index"``.

        Parameters
        ----------
        name : str
            A player name ``"modality:index"``.

        Returns
        -------
        int
            The player's id, ``offsets[k] + index`` for modality ``k``.

        Raises
        ------
        SpecError
            The name is malformed or names no player of the spec.

        Examples
        --------
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.player_id("b:1")
        3
        """
        return self._player_id(name, "player")

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
        return self.terms + _draw_terms(self)

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


# --------------------------------------------------------------------------- random terms

#: Independent random streams derived from the spec's seed.
STREAM_TERMS, STREAM_CODEBOOK, STREAM_CALIBRATION, STREAM_DATA = 1, 2, 3, 4


def _draw_terms(spec: TaskSpec) -> tuple[Term, ...]:
    rt = spec.random_terms
    assert rt is not None
    rng = np.random.default_rng([spec.seed, STREAM_TERMS])
    names = spec.player_names
    mod_of = spec.modality_of
    used = {i for t in spec.terms for i in t.ids}
    free = [i for i in range(spec.n_players) if i not in used]
    plan = ([("unique", 1)] * rt.unique + [("synergy", 2)] * rt.synergy + [("redundancy", 2)] * rt.redundancy
            + [("synergy", 3)] * rt.synergy3)
    out = []
    for n, (kind, k) in enumerate(plan):
        ids = _pick(rng, free, mod_of, k, rt.placement if k > 1 else "any")
        if ids is None:
            raise SpecError("random_terms", f"cannot place a {k}-player {kind} term with placement "
                            f"{rt.placement!r}: the free players left are {[names[i] for i in free]}")
        for i in ids:
            free.remove(i)
        lo, hi = rt.weight
        weight = float(rng.uniform(lo, hi)) * (1.0 if rng.random() < 0.5 else -1.0)
        weight = float(np.round(weight, 6))
        if kind == "unique":
            op = UNIQUE_FNS[int(rng.integers(len(UNIQUE_FNS)))]
        elif kind == "synergy":
            op = SYNERGY_OPS[int(rng.integers(len(SYNERGY_OPS)))]
        else:
            op = "max-magnitude"
        spread = 0.05 if kind == "redundancy" else 0.0
        out.append(Term(kind, tuple(names[i] for i in ids), weight, op, spread, tuple(ids)))
    return tuple(out)


def _pick(rng: np.random.Generator, free: list[int], mod_of: np.ndarray, k: int, placement: str) -> list[int] | None:
    """Draw ``k`` free players obeying the placement, or None when impossible."""
    if len(free) < k:
        return None
    free_arr = np.array(free)
    if placement == "any":
        return [int(x) for x in rng.choice(free_arr, size=k, replace=False)]
    mods = mod_of[free_arr]
    if placement == "within":
        options = [m for m in np.unique(mods) if (mods == m).sum() >= k]
        if not options:
            return None
        m = options[int(rng.integers(len(options)))]
        return [int(x) for x in rng.choice(free_arr[mods == m], size=k, replace=False)]
    options = np.unique(mods)
    if len(options) < k:
        return None
    chosen = rng.choice(options, size=k, replace=False)
    return [int(rng.choice(free_arr[mods == m])) for m in chosen]
