"""Random terms: the ``random_terms`` entry of a spec and the terms drawn from it, deterministic in the seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from mxbench.errors import SpecError
from mxbench.spec.constants import (MAX_MAGNITUDE, MAX_TERMS, MIN_RANDOM_WEIGHT, PLACEMENTS, STREAM_TERMS, SYNERGY_OPS,
                                    UNIQUE_FNS)
from mxbench.spec.fields import _finite, _no_extra, _positive_int, _show, _typed
from mxbench.spec.terms import Term


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
        counts = {k: _positive_int(d, k, path, 0, minimum=0, maximum=MAX_TERMS)
                  for k in ("unique", "synergy", "redundancy", "synergy3")}
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


def _draw_terms(rt: RandomTerms, seed: int, explicit: Sequence[Term], names: Sequence[str],
                mod_of: np.ndarray) -> tuple[Term, ...]:
    """Draw the terms ``rt`` asks for from the stream ``[seed, STREAM_TERMS]``, on the players no explicit term reads.

    ``names`` and ``mod_of`` are the spec's player names and the modality number of each player.
    """
    rng = np.random.default_rng([seed, STREAM_TERMS])
    used = {i for t in explicit for i in t.ids}
    free = [i for i in range(len(names)) if i not in used]
    plan = ([("unique", 1)] * rt.unique + [("synergy", 2)] * rt.synergy + [("redundancy", 2)] * rt.redundancy
            + [("synergy", 3)] * rt.synergy3)
    out = []
    for n, (kind, k) in enumerate(plan):
        ids = _pick(rng, free, mod_of, k, rt.placement if k > 1 else "any")
        if ids is None:
            n_mods = len(np.unique(mod_of))
            if rt.placement == "cross" and k > n_mods:
                why = f"it needs {k} modalities (one player in each), the spec has {n_mods}"
            else:
                why = f"the free players left are {[names[i] for i in free]}"
            raise SpecError("random_terms", f"cannot place a {k}-player {kind} term with placement "
                            f"{rt.placement!r}: {why}")
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
