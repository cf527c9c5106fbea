"""Planted terms: what each term kind computes (``Term.evaluate``, ``Term.table``) and how one is parsed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from mxbench import exactmath
from mxbench.errors import SpecError
from mxbench.spec.constants import MAX_MAGNITUDE, MAX_TERM_PLAYERS, MIN_WEIGHT, SYNERGY_OPS, UNIQUE_FNS
from mxbench.spec.fields import _no_extra, _number, _show, _typed


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
