"""Brute-force reference: enumerate all 2^n coalitions of any game (n <= 16) and compute indices by definition."""

from __future__ import annotations

from math import comb, factorial
from typing import Callable

import numpy as np

from mxbench.errors import GameError
from mxbench.oracles.moebius import bit_matrix

MAX_PLAYERS = 16


def all_coalitions(n: int) -> np.ndarray:
    """All ``2^n`` coalitions, shape ``(2^n, n)``: row ``b`` has player ``j`` iff bit ``j`` of ``b``.

    Parameters
    ----------
    n : int
        The number of players, 1..16.

    Returns
    -------
    ndarray of bool
        The coalitions, shape ``(2^n, n)``.

    Raises
    ------
    GameError
        ``n`` is out of range.

    Examples
    --------
    >>> all_coalitions(2).astype(int).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    if not 1 <= n <= MAX_PLAYERS:
        raise GameError(f"n_players: brute force enumerates at most {MAX_PLAYERS} players, got {n}")
    return bit_matrix(n)


def enumerate_game(game: Callable[[np.ndarray], np.ndarray], n_players: int | None = None) -> np.ndarray:
    """The values of ``game`` on all ``2^n`` coalitions, in bit order, in one batched call.

    Parameters
    ----------
    game : callable
        ``game(coalitions: bool[B, n]) -> float[B]``; a :class:`~mxbench.games.Game` gives
        ``n_players`` itself.
    n_players : int, optional
        The number of players (read from ``game.n_players`` if not given).

    Returns
    -------
    ndarray of float64
        ``v(S)`` for every coalition, shape ``(2^n,)``; entry ``b`` is the coalition of the
        players whose bits are set in ``b``.

    Examples
    --------
    >>> enumerate_game(lambda c: c.sum(axis=1) * 1.0, 2).tolist()
    [0.0, 1.0, 1.0, 2.0]
    """
    n = n_players if n_players is not None else getattr(game, "n_players", None)
    if n is None:
        raise GameError("n_players: give it for a game that does not carry n_players")
    values = np.asarray(game(all_coalitions(int(n))), dtype=np.float64)
    if values.shape != (2**n,):
        raise GameError(f"game returned shape {values.shape}, expected ({2**n},)")
    return values


def _popcount(n: int) -> np.ndarray:
    return bit_matrix(n).sum(axis=1)


def _n_of(values: np.ndarray) -> int:
    n = values.shape[-1].bit_length() - 1
    if 2**n != values.shape[-1]:
        raise GameError(f"values: expected 2^n entries, got {values.shape[-1]}")
    return n


def shapley_values(values: np.ndarray) -> np.ndarray:
    """Shapley values by definition: ``sum_S |S|!(n-|S|-1)!/n! (v(S+i) - v(S))``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        Each player's Shapley value, shape ``(n,)``.

    Examples
    --------
    >>> shapley_values(np.array([0.0, 1.0, 0.0, 3.0])).tolist()
    [2.0, 1.0]
    """
    n = _n_of(values)
    size = _popcount(n)
    w = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    idx = np.arange(2**n)
    out = np.zeros(n)
    for i in range(n):
        without = idx[(idx >> i) & 1 == 0]
        out[i] = np.sum(w[size[without]] * (values[without | (1 << i)] - values[without]))
    return out


def banzhaf_values(values: np.ndarray) -> np.ndarray:
    """Banzhaf values by definition: the mean marginal contribution over all ``S`` without ``i``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        Each player's Banzhaf value, shape ``(n,)``.

    Examples
    --------
    >>> banzhaf_values(np.array([0.0, 0.0, 0.0, 4.0])).tolist()
    [2.0, 2.0]
    """
    n = _n_of(values)
    idx = np.arange(2**n)
    out = np.zeros(n)
    for i in range(n):
        without = idx[(idx >> i) & 1 == 0]
        out[i] = np.mean(values[without | (1 << i)] - values[without])
    return out


def _pair_matrix(values: np.ndarray, weight: Callable[[int, int], float]) -> np.ndarray:
    """``sum_{S ⊆ N∖{i,j}} weight(n, |S|) * Δ_ij(S)`` for every pair."""
    n = _n_of(values)
    size = _popcount(n)
    idx = np.arange(2**n)
    w = np.array([weight(n, s) for s in range(n - 1)])  # no pairs (and no weights) when n = 1
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            s = idx[((idx >> i) & 1 == 0) & ((idx >> j) & 1 == 0)]
            delta = values[s | (1 << i) | (1 << j)] - values[s | (1 << i)] - values[s | (1 << j)] + values[s]
            out[i, j] = out[j, i] = np.sum(w[size[s]] * delta)
    return out


def sii_matrix(values: np.ndarray) -> np.ndarray:
    """Pairwise Shapley interaction index by definition, ``(n, n)`` with zero diagonal.

    ``SII_ij = sum_{S ⊆ N∖{i,j}} |S|!(n-|S|-2)!/(n-1)! Δ_ij(S)``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        The symmetric pair matrix, shape ``(n, n)``.

    Examples
    --------
    >>> sii_matrix(np.array([0.0, 0.0, 0.0, 2.0])).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    return _pair_matrix(values, lambda n, s: factorial(s) * factorial(n - s - 2) / factorial(n - 1))


def bii_matrix(values: np.ndarray) -> np.ndarray:
    """Pairwise Banzhaf interaction index by definition: the mean of ``Δ_ij(S)``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        The symmetric pair matrix, shape ``(n, n)``, zero diagonal.

    Examples
    --------
    >>> bii_matrix(np.array([0.0, 0.0, 0.0, 2.0])).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    return _pair_matrix(values, lambda n, s: 1.0 / 2 ** (n - 2))


def stii_matrix(values: np.ndarray) -> np.ndarray:
    """Shapley-Taylor interaction index of order 2 for pairs, by definition.

    ``STII_ij = (2/n) sum_{S ⊆ N∖{i,j}} Δ_ij(S) / C(n-1, |S|)``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        The symmetric pair matrix, shape ``(n, n)``, zero diagonal.

    Examples
    --------
    >>> stii_matrix(np.array([0.0, 0.0, 0.0, 2.0])).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    return _pair_matrix(values, lambda n, s: (2.0 / n) / comb(n - 1, s))


def stii_first_order(values: np.ndarray) -> np.ndarray:
    """Shapley-Taylor singletons of order 2: ``v({i}) - v(∅)``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        Each player's singleton value, shape ``(n,)``.

    Examples
    --------
    >>> stii_first_order(np.array([1.0, 2.0, 0.0, 3.0])).tolist()
    [1.0, -1.0]
    """
    n = _n_of(values)
    return np.array([values[1 << i] - values[0] for i in range(n)])


def ksii_first_order(values: np.ndarray) -> np.ndarray:
    """k-SII singletons of order 2 from the Bernoulli aggregation: ``SV_i - 1/2 sum_j SII_ij``.

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        Each player's singleton value, shape ``(n,)``.

    Examples
    --------
    >>> ksii_first_order(np.array([0.0, 1.0, 0.0, 3.0])).tolist()
    [1.0, 0.0]
    """
    return shapley_values(values) - 0.5 * sii_matrix(values).sum(axis=1)


def moebius_transform(values: np.ndarray) -> np.ndarray:
    """The Möbius transform by definition: ``m(T) = sum_{S ⊆ T} (-1)^{|T|-|S|} v(S)``.

    Quadratic in ``2^n``; use it only as a reference for small ``n`` (at most 12).

    Parameters
    ----------
    values : ndarray
        A game's values on all ``2^n`` coalitions, in bit order (as from :func:`enumerate_game`).

    Returns
    -------
    ndarray of float64
        The Möbius coefficient of every coalition, shape ``(2^n,)``, in bit order.

    Raises
    ------
    GameError
        ``n`` is above 12.

    Examples
    --------
    >>> moebius_transform(np.array([0.0, 1.0, 2.0, 5.0])).tolist()
    [0.0, 1.0, 2.0, 2.0]
    """
    n = _n_of(values)
    if n > 12:
        raise GameError(f"n_players: the definitional Möbius transform takes at most 12 players, got {n}")
    size = _popcount(n)
    idx = np.arange(2**n)
    out = np.zeros(2**n)
    for t in idx:
        subsets = idx[(idx & ~t) == 0]
        out[t] = np.sum((-1.0) ** (size[t] - size[subsets]) * values[subsets])
    return out
