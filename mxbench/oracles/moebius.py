"""The exact engine: coalitions in bit order, the Möbius transforms, and every index, exactly.

Everything exact in mxbench is computed here, on two representations of a game:

- a **dense table** ``v`` over all ``2^n`` coalitions in bit order (entry ``b`` is the coalition
  of the players whose bits are set in ``b``): :func:`moebius_from_table` gives its Möbius
  coefficients ``m`` by the fast transform, and :func:`first_order_from_moebius` and
  :func:`interaction_matrix_from_moebius` give the indices from superset sums
  (:func:`superset_sums`), each ``O(n 2^n)``. The :class:`~mxbench.explainers.Exact`
  explainer and :meth:`~mxbench.validation.truth.Truth.from_game` use this path;
- a **sparse Möbius game** (:class:`MoebiusGame`): a constant plus one small table per block of
  players, for many instances at once; every index is a weighted sum over one block's
  ``2^k`` coefficients. The oracle of every task (``task.oracle()``) is one.

Both paths share the index definitions (:func:`index_divisor`). They accumulate in different
orders (superset sums on dense tables, subset order on blocks), and the dense path divides by
the weight's denominator where the sparse path multiplies by its reciprocal; each path keeps its
own order so that every stored value keeps its bits.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

#: First-order and pair indices the oracle computes exactly.
INDICES = ("SV", "BV", "SII", "BII", "STII", "k-SII")


# ---------------------------------------------------------------------- coalitions in bit order
def bit_matrix(n: int) -> np.ndarray:
    """All ``2^n`` coalitions in bit order, ``(2^n, n)``, with no size check (callers bound ``n``).

    Row ``b`` has player ``j`` iff bit ``j`` of ``b`` is set. A new, writable array; see
    :func:`subset_masks` for a cached one.

    Parameters
    ----------
    n : int
        The number of players.

    Returns
    -------
    ndarray of bool
        Shape ``(2^n, n)``.

    Examples
    --------
    >>> bit_matrix(2).astype(int).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


@lru_cache(maxsize=None)
def subset_masks(k: int) -> np.ndarray:
    """Boolean membership of the ``2^k`` subsets: row ``b`` has player ``j`` iff bit ``j`` of ``b``.

    The array is cached and read-only (for the small ``k`` of blocks and modalities).

    Parameters
    ----------
    k : int
        The number of players.

    Returns
    -------
    ndarray of bool
        Shape ``(2^k, k)``, read-only.

    Examples
    --------
    >>> subset_masks(2).astype(int).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    masks = bit_matrix(k)
    masks.setflags(write=False)
    return masks


def coalition_index(coalitions: np.ndarray) -> np.ndarray:
    """The bit-order index of each coalition row (the inverse of :func:`bit_matrix`).

    Parameters
    ----------
    coalitions : array_like of bool
        Shape ``(B, n)``.

    Returns
    -------
    ndarray of int64
        Shape ``(B,)``.

    Examples
    --------
    >>> coalition_index(bit_matrix(3)).tolist()
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    c = np.asarray(coalitions)
    return (c.astype(np.int64) << np.arange(c.shape[1], dtype=np.int64)).sum(axis=1)


def modality_table(values: np.ndarray, modality_of: np.ndarray, n_modalities: int) -> np.ndarray:
    """The modality game read from a dense table: ``u(A) = v(players of the modalities in A)``.

    Parameters
    ----------
    values : array_like
        A game's values on all ``2^n`` coalitions, bit order, shape ``(..., 2^n)``.
    modality_of : array_like of int, shape (n,)
        Each player's modality.
    n_modalities : int
        The number of modalities ``M``.

    Returns
    -------
    ndarray
        ``u(A)`` at ``[..., a]`` for the modalities whose bits are set in ``a``, shape ``(..., 2^M)``.

    Examples
    --------
    >>> modality_table(np.arange(8.0), np.array([0, 0, 1]), 2).tolist()
    [0.0, 3.0, 4.0, 7.0]
    """
    members = subset_masks(n_modalities)[:, np.asarray(modality_of, dtype=np.int64)]
    return np.asarray(values)[..., coalition_index(members)]


def _n_players_of(size: int) -> int:
    n = size.bit_length() - 1
    if size < 1 or 2**n != size:
        raise ValueError(f"table: expected 2^n entries on the last axis, got {size}")
    return n


# ---------------------------------------------------------------------- transforms
def _butterfly(a: np.ndarray, op: Callable[..., Any], into_superset: bool) -> np.ndarray:
    """One pass per bit ``i``, in place: ``x[S ∪ i] op= x[S]`` (or ``x[S] op= x[S ∪ i]``)."""
    lead, size = a.shape[:-1], a.shape[-1]
    for i in range(_n_players_of(size)):
        v = a.reshape(lead + (size >> (i + 1), 2, 2**i))
        hi, lo = v[..., 1, :], v[..., 0, :]
        if into_superset:
            op(hi, lo, out=hi)
        else:
            op(lo, hi, out=lo)
    return a


def moebius_from_table(table: np.ndarray) -> np.ndarray:
    """Möbius coefficients from a game table over the last axis (``2^k`` entries, bit order).

    ``m(T) = sum_{S subset T} (-1)^{|T|-|S|} v(S)``, by the fast transform (one pass per bit,
    ``O(k 2^k)``).

    Parameters
    ----------
    table : array_like
        Game values, shape ``(..., 2^k)``; entry ``b`` is the coalition of the players whose
        bits are set in ``b``.

    Returns
    -------
    ndarray of float64
        The Möbius coefficients, same shape (a new array).

    Raises
    ------
    ValueError
        The last axis does not have ``2^k`` entries.

    Examples
    --------
    >>> moebius_from_table(np.array([0.0, 1.0, 2.0, 5.0])).tolist()
    [0.0, 1.0, 2.0, 2.0]
    """
    return _butterfly(np.array(table, dtype=np.float64, copy=True), np.subtract, True)


def table_from_moebius(m: np.ndarray) -> np.ndarray:
    """The game table from Möbius coefficients (the inverse of :func:`moebius_from_table`).

    ``v(S) = sum_{T subset S} m(T)``: subset sums.

    Parameters
    ----------
    m : array_like
        Möbius coefficients, shape ``(..., 2^k)``, in bit order.

    Returns
    -------
    ndarray of float64
        The game values, same shape (a new array).

    Examples
    --------
    >>> table_from_moebius(np.array([0.0, 1.0, 2.0, 2.0])).tolist()
    [0.0, 1.0, 2.0, 5.0]
    """
    return _butterfly(np.array(m, dtype=np.float64, copy=True), np.add, True)


def superset_sums(w: np.ndarray) -> np.ndarray:
    """``out[T] = sum_{S ⊇ T} w[S]`` over all ``2^n`` coalitions (last axis), ``O(n 2^n)``.

    Parameters
    ----------
    w : array_like
        Values on all coalitions, shape ``(..., 2^n)``, in bit order.

    Returns
    -------
    ndarray of float64
        Same shape (a new array).

    Examples
    --------
    >>> superset_sums(np.array([1.0, 2.0, 3.0, 4.0])).tolist()
    [10.0, 6.0, 7.0, 4.0]
    """
    return _butterfly(np.array(w, dtype=np.float64, copy=True), np.add, False)


# ---------------------------------------------------------------------- index definitions
def index_divisor(index: str, order: int, t: Any) -> Any:
    """The denominator of the weight of ``m(T)``, ``|T| = t``, in a first-order (pair) value.

    A player's value (``order`` 1) is ``sum_{T ∋ i} m(T) / d(|T|)`` and a pair's (``order`` 2)
    ``sum_{T ⊇ ij} m(T) / d(|T|)``: Shapley ``t``, Banzhaf ``2^(t-1)``, SII ``t - 1``, BII
    ``2^(t-2)``, Shapley-Taylor pairs ``C(t, 2)``; ``"SII"``/``"BII"`` singletons are SV/BV
    and ``"k-SII"`` pairs are SII. Shapley-Taylor and k-SII singletons are not of this form
    (:func:`first_order_weight`). Integer ``t`` (or an integer array, ``t >= order``) gives
    integers.

    Parameters
    ----------
    index : str
        One of :data:`INDICES`.
    order : {1, 2}
        First-order value or pair.
    t : int or ndarray of int
        The coalition size(s), at least ``order``.

    Returns
    -------
    int or ndarray of int

    Raises
    ------
    ValueError
        ``index`` is unknown, or has no divisor of this order.

    Examples
    --------
    >>> index_divisor("SV", 1, 3), index_divisor("BII", 2, 4), index_divisor("STII", 2, 4)
    (3, 4, 6)
    """
    if order == 1 and index in ("SV", "SII"):
        return t
    if order == 1 and index in ("BV", "BII"):
        return 2 ** (t - 1)
    if order == 2 and index in ("SII", "k-SII", "SV"):
        return t - 1
    if order == 2 and index in ("BII", "BV"):
        return 2 ** (t - 2)
    if order == 2 and index == "STII":
        return t * (t - 1) // 2
    if index in INDICES:
        raise ValueError(f"index: {index!r} has no divisor of order {order}")
    raise ValueError(f"index: unknown index {index!r} (choose from {', '.join(INDICES)})")


def first_order_weight(index: str, t: int) -> float:
    """The weight of ``m(T)``, ``|T| = t >= 1``, in a player's first-order value.

    ``1 / index_divisor(index, 1, t)``, except Shapley-Taylor of order 2 (``m({i})`` only:
    1 for ``t = 1``, else 0) and k-SII of order 2 (``SV_i - 1/2 sum_j SII_ij``: 1 for ``t = 1``,
    else ``1/t - 1/2``).

    Examples
    --------
    >>> first_order_weight("SV", 4), first_order_weight("STII", 2), first_order_weight("k-SII", 4)
    (0.25, 0.0, -0.25)
    """
    if index == "STII":
        return 1.0 if t == 1 else 0.0
    if index == "k-SII":
        return 1.0 if t == 1 else 1.0 / t - 0.5
    return 1.0 / index_divisor(index, 1, t)


def pair_weight(index: str, t: int) -> float:
    """The weight of ``m(T)``, ``|T| = t >= 2``, in a pair's value: ``1 / index_divisor(index, 2, t)``.

    Examples
    --------
    >>> pair_weight("SII", 3), pair_weight("STII", 3)
    (0.5, 0.3333333333333333)
    """
    return 1.0 / index_divisor(index, 2, t)


# ---------------------------------------------------------------------- indices on dense tables
def _dense_sums(m: np.ndarray, index: str, order: int) -> np.ndarray:
    """``sum_{S ⊇ T} m(S) / d(|S|)`` for every ``T``, over the coalitions of at least ``order`` players."""
    size = bit_matrix(_n_players_of(m.shape[-1])).sum(axis=1)
    divisor = index_divisor(index, order, np.maximum(size, order))
    return superset_sums(np.where(size >= order, m / divisor, 0.0))


def first_order_from_moebius(m: np.ndarray, index: str = "SV") -> np.ndarray:
    """Each player's first-order value from the Möbius coefficients of a dense table.

    The same indices as :meth:`MoebiusGame.first_order`, by superset sums (``O(n 2^n)``).

    Parameters
    ----------
    m : array_like
        Möbius coefficients on all ``2^n`` coalitions, bit order, shape ``(..., 2^n)``
        (:func:`moebius_from_table`).
    index : {"SV", "BV", "STII", "k-SII", "SII", "BII"}
        The index (default Shapley).

    Returns
    -------
    ndarray of float64
        Shape ``(..., n)``.

    Raises
    ------
    ValueError
        ``index`` is unknown, or the table does not have ``2^n`` entries.

    Examples
    --------
    >>> m = moebius_from_table(np.array([0.0, 1.0, 0.0, 3.0]))
    >>> first_order_from_moebius(m).tolist(), first_order_from_moebius(m, "k-SII").tolist()
    ([2.0, 1.0], [1.0, 0.0])
    """
    m = np.asarray(m, dtype=np.float64)
    singletons = 1 << np.arange(_n_players_of(m.shape[-1]))
    if index == "STII":
        return m[..., singletons].copy()
    if index == "k-SII":
        return first_order_from_moebius(m, "SV") - 0.5 * interaction_matrix_from_moebius(m, "SII").sum(axis=-1)
    return _dense_sums(m, index, 1)[..., singletons]


def interaction_matrix_from_moebius(m: np.ndarray, index: str = "SII") -> np.ndarray:
    """The dense pair matrix from the Möbius coefficients of a dense table, zero diagonal.

    The same indices as :meth:`MoebiusGame.pair_values`, by superset sums (``O(n 2^n)``).

    Parameters
    ----------
    m : array_like
        Möbius coefficients on all ``2^n`` coalitions, bit order, shape ``(..., 2^n)``.
    index : {"SII", "BII", "STII", "k-SII"}
        The interaction index (``"SV"`` and ``"BV"`` are accepted as SII and BII).

    Returns
    -------
    ndarray of float64
        Symmetric matrices, shape ``(..., n, n)``.

    Examples
    --------
    >>> m = moebius_from_table(np.array([0.0, 0, 0, 0, 0, 0, 0, 6.0]))
    >>> interaction_matrix_from_moebius(m).tolist()
    [[0.0, 3.0, 3.0], [3.0, 0.0, 3.0], [3.0, 3.0, 0.0]]
    >>> float(interaction_matrix_from_moebius(m, "STII")[0, 1])
    2.0
    """
    m = np.asarray(m, dtype=np.float64)
    n = _n_players_of(m.shape[-1])
    pair = _dense_sums(m, index, 2)
    i, j = np.triu_indices(n, 1)
    out = np.zeros(m.shape[:-1] + (n, n))
    out[..., i, j] = out[..., j, i] = pair[..., (1 << i) | (1 << j)]
    return out


def indices_from_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values ``(n,)`` and the SII matrix ``(n, n)`` from the values on all coalitions.

    Parameters
    ----------
    values : array_like
        A game's values on all ``2^n`` coalitions, in bit order.

    Returns
    -------
    (ndarray, ndarray)
        Shapley values, shape ``(n,)``, and the symmetric SII matrix, shape ``(n, n)``.

    Examples
    --------
    >>> phi, sii = indices_from_values(np.array([0.0, 0.0, 0.0, 2.0]))
    >>> phi.tolist(), sii.tolist()
    ([1.0, 1.0], [[0.0, 2.0], [2.0, 0.0]])
    """
    m = moebius_from_table(values)
    return first_order_from_moebius(m, "SV"), interaction_matrix_from_moebius(m, "SII")


# ---------------------------------------------------------------------- the sparse Möbius game
@lru_cache(maxsize=None)
def _weights(index: str, k: int, order: int) -> np.ndarray:
    """``W[s, j]`` (order 1) or ``W[s, i, j]`` (order 2): the weight of subset ``s``'s coefficient."""
    masks = subset_masks(k)
    sizes = masks.sum(axis=1)
    if order == 1:
        w = np.array([[first_order_weight(index, int(sizes[s])) if masks[s, j] else 0.0 for j in range(k)]
                      for s in range(2**k)])
    else:
        w = np.array([[[pair_weight(index, int(sizes[s])) if masks[s, i] and masks[s, j] and i != j else 0.0
                        for j in range(k)] for i in range(k)] for s in range(2**k)])
    w.setflags(write=False)
    return w


class MoebiusGame:
    """Exact game-theoretic indices of many instances of a sparse Möbius game.

    The game of instance ``r`` is ``v_r(S) = c_r + sum_t tau_{r,t}(S ∩ P_t)``: a constant
    plus one local table per block of players ``P_t``. Blocks must not share players (every
    planted player belongs to at most one term), so each index is a sum over one block's
    ``2^{|P_t|}`` Möbius coefficients, computed for all instances at once. Players in no
    block are dummies: every index gives them exactly 0.

    This is the oracle, **not** a :class:`~mxbench.games.Game`: it holds the games of ``N``
    instances at once, so :meth:`values` maps coalitions ``(B, n)`` to ``(N, B)``, and it
    counts no queries (nothing here is explained; it is what explanations are checked
    against). The game of one instance, with the game contract, is ``task.game(i)``.

    Parameters
    ----------
    n_players : int
        The number of players.
    constant : array (N,)
        The value of the empty coalition minus the blocks' empty-set values.
    blocks : sequence of int arrays
        The player ids of each block.
    tables : sequence of float arrays (N, 2^k)
        Each block's values on its subsets (bit ``j`` of the column = ``blocks[t][j]``
        present).
    modality_of : int array (n_players,), optional
        The modality of each player, for the modality indices.
    modality_names : sequence of str, optional
        The modality names.

    Examples
    --------
    Two players in a product synergy ``2 * s_0 * s_1`` with ``s = (1, 3)``:

    >>> import numpy as np
    >>> g = MoebiusGame(3, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 0.0, 0.0, 6.0]])])
    >>> g.shapley().tolist()
    [[3.0, 3.0, 0.0]]
    >>> g.pair_values([(0, 1), (0, 2)]).tolist()
    [[6.0, 0.0]]
    """

    def __init__(self, n_players: int, constant: np.ndarray, blocks: Sequence[np.ndarray],
                 tables: Sequence[np.ndarray], modality_of: np.ndarray | None = None,
                 modality_names: Sequence[str] | None = None) -> None:
        self.n_players = int(n_players)
        constant = np.atleast_1d(np.asarray(constant, dtype=np.float64))
        self.n_instances = constant.shape[0]
        self.modality_of = (np.zeros(self.n_players, dtype=np.int64) if modality_of is None
                            else np.asarray(modality_of, dtype=np.int64))
        n_mod = int(self.modality_of.max()) + 1 if self.n_players else 1
        self.modality_names = tuple(modality_names) if modality_names is not None else tuple(
            f"m{k}" for k in range(n_mod))
        self.blocks = [np.asarray(b, dtype=np.int64) for b in blocks]
        tables = list(tables)
        if len(self.blocks) != len(tables):
            raise ValueError(f"blocks and tables: got {len(self.blocks)} blocks and {len(tables)} tables")
        self.tables = [np.asarray(t, dtype=np.float64).reshape(self.n_instances, 2 ** len(b))
                       for b, t in zip(self.blocks, tables)]
        seen = np.concatenate(self.blocks) if self.blocks else np.zeros(0, dtype=np.int64)
        if len(np.unique(seen)) != len(seen):
            raise ValueError("blocks: a player belongs to two blocks; the sparse oracle needs disjoint blocks")
        if len(seen) and (seen.min() < 0 or seen.max() >= self.n_players):
            raise ValueError(f"blocks: player ids must lie in 0..{self.n_players - 1}")
        self.coefs = [moebius_from_table(t) for t in self.tables]
        # the constant absorbs each block's empty-set coefficient
        self.empty = constant + sum((m[:, 0] for m in self.coefs), np.zeros(self.n_instances))
        self._owner = np.full(self.n_players, -1, dtype=np.int64)
        self._pos = np.zeros(self.n_players, dtype=np.int64)
        for t, b in enumerate(self.blocks):
            self._owner[b] = t
            self._pos[b] = np.arange(len(b))

    # ------------------------------------------------------------------ values
    def values(self, coalitions: np.ndarray) -> np.ndarray:
        """The game values ``v_r(S)`` of every instance for coalitions ``(B, n)``: shape ``(N, B)``.

        Parameters
        ----------
        coalitions : array_like of bool
            The coalitions, shape ``(B, n_players)``.

        Returns
        -------
        ndarray of float64
            ``v_r(S_b)`` at ``[r, b]``, shape ``(N, B)``.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.array([1.0]), [np.array([0, 1])], [np.array([[0.0, 1.0, 2.0, 5.0]])])
        >>> g.values(np.array([[True, True], [False, True]])).tolist()
        [[6.0, 3.0]]
        """
        c = np.asarray(coalitions, dtype=bool)
        out = np.repeat(self.empty[:, None], c.shape[0], axis=1)
        for b, m in zip(self.blocks, self.coefs):
            local = (c[:, b].astype(np.int64) << np.arange(len(b))).sum(axis=1)
            table = table_from_moebius(m)
            table[:, 0] -= m[:, 0]  # the empty-set value already sits in `empty`
            out += table[:, local]
        return out

    def restricted(self, keep: np.ndarray) -> "MoebiusGame":
        """The same games with the players outside ``keep`` masked for good: ``v'(S) = v(S ∩ keep)``.

        Parameters
        ----------
        keep : array_like of bool, shape (n_players,)
            The players left in.

        Returns
        -------
        MoebiusGame
            The same blocks; a block's table reads only its kept players.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(3, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])])
        >>> g.restricted(np.array([True, False, True])).shapley().tolist()
        [[1.0, 0.0, 0.0]]
        """
        keep = np.asarray(keep, dtype=bool).reshape(self.n_players)
        constant = self.empty - sum((t[:, 0] for t in self.tables), np.zeros(self.n_instances))
        tables = []
        for b, t in zip(self.blocks, self.tables):
            local_keep = int(sum(1 << j for j in range(len(b)) if keep[b[j]]))
            tables.append(t[:, np.arange(t.shape[1]) & local_keep])
        return MoebiusGame(self.n_players, constant, self.blocks, tables, self.modality_of, self.modality_names)

    # ------------------------------------------------------------------ first order
    def first_order(self, index: str = "SV") -> np.ndarray:
        """Each player's first-order value, shape ``(N, n_players)``.

        ``index`` is ``"SV"`` (Shapley, ``sum_{T∋i} m(T)/|T|``), ``"BV"`` (Banzhaf,
        ``sum m(T)/2^{|T|-1}``), ``"STII"`` (Shapley-Taylor order 2: ``m({i})``) or ``"k-SII"``
        (order 2: ``SV_i - 1/2 sum_j SII_ij``). ``"SII"``/``"BII"`` give their singletons
        (= SV / BV).

        Parameters
        ----------
        index : {"SV", "BV", "STII", "k-SII", "SII", "BII"}
            The index (default Shapley).

        Returns
        -------
        ndarray of float64
            Shape ``(N, n_players)``; players in no block get 0.

        Raises
        ------
        ValueError
            ``index`` is unknown.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])])
        >>> g.first_order("SV").tolist(), g.first_order("k-SII").tolist()
        ([[2.0, 1.0]], [[1.0, 0.0]])
        """
        out = np.zeros((self.n_instances, self.n_players))
        for b, m in zip(self.blocks, self.coefs):
            out[:, b] = self._weighted(m, _weights(index, len(b), 1))
        return out

    @staticmethod
    def _weighted(m: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``sum_s m[:, s] * w[s]`` over the non-empty subsets, in subset order (no BLAS: same bits everywhere)."""
        acc = np.zeros((m.shape[0],) + w.shape[1:])
        extra = (slice(None),) + (None,) * (w.ndim - 1)
        for s in range(1, w.shape[0]):
            if w[s].any():
                acc += m[:, s][extra] * w[s]
        return acc

    def shapley(self) -> np.ndarray:
        """Exact Shapley values, shape ``(N, n_players)``.

        Returns
        -------
        ndarray of float64
            ``first_order("SV")``.

        Examples
        --------
        >>> import numpy as np
        >>> MoebiusGame(2, np.zeros(1), [np.array([1])], [np.array([[0.0, 2.0]])]).shapley().tolist()
        [[0.0, 2.0]]
        """
        return self.first_order("SV")

    def banzhaf(self) -> np.ndarray:
        """Exact Banzhaf values, shape ``(N, n_players)``.

        Returns
        -------
        ndarray of float64
            ``first_order("BV")``.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 0.0, 0.0, 4.0]])])
        >>> g.banzhaf().tolist()
        [[2.0, 2.0]]
        """
        return self.first_order("BV")

    # ------------------------------------------------------------------ pairs
    def _block_pairs(self, t: int, index: str) -> np.ndarray:
        """The pair values inside block ``t``: shape ``(N, k, k)``, zero diagonal."""
        return self._weighted(self.coefs[t], _weights(index, len(self.blocks[t]), 2))

    def pair_values(self, pairs: Sequence[tuple[int, int]] | np.ndarray, index: str = "SII") -> np.ndarray:
        """The interaction of each asked pair ``(i, j)``, shape ``(N, P)``.

        ``index`` is ``"SII"`` (``sum_{T ⊇ ij} m(T)/(|T|-1)``), ``"BII"``
        (``sum m(T)/2^{|T|-2}``), ``"STII"`` (order 2: ``sum m(T)/C(|T|, 2)``) or ``"k-SII"``
        (order 2: equal to SII for pairs). Pairs in different blocks interact 0.

        Parameters
        ----------
        pairs : sequence of (int, int) or int array (P, 2)
            The pairs of distinct player ids.
        index : {"SII", "BII", "STII", "k-SII"}
            The interaction index (``"SV"`` and ``"BV"`` are accepted as SII and BII).

        Returns
        -------
        ndarray of float64
            The value of pair ``p`` in instance ``r`` at ``[r, p]``, shape ``(N, P)``.

        Raises
        ------
        ValueError
            A player id is out of range, a pair names one player twice, or ``index`` is unknown.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(3, np.zeros(1), [np.array([0, 1, 2])],
        ...                 [np.array([[0.0, 0, 0, 0, 0, 0, 0, 6.0]])])
        >>> g.pair_values([(0, 1)], "SII").tolist(), g.pair_values([(0, 1)], "STII").tolist()
        ([[3.0]], [[2.0]])
        """
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        if len(pairs) and (pairs.min() < 0 or pairs.max() >= self.n_players):
            bad = pairs[(pairs < 0).any(axis=1) | (pairs >= self.n_players).any(axis=1)][0]
            raise ValueError(f"pairs: player ids must lie in 0..{self.n_players - 1}, got {tuple(bad.tolist())}")
        if (pairs[:, 0] == pairs[:, 1]).any():
            raise ValueError("pairs: a pair names the same player twice")
        pair_weight(index, 2)  # validates the index
        out = np.zeros((self.n_instances, len(pairs)))
        owner_a, owner_b = self._owner[pairs[:, 0]], self._owner[pairs[:, 1]]
        same = (owner_a == owner_b) & (owner_a >= 0)
        for t in np.unique(owner_a[same]):
            rows = np.flatnonzero(same & (owner_a == t))
            local = self._block_pairs(int(t), index)
            out[:, rows] = local[:, self._pos[pairs[rows, 0]], self._pos[pairs[rows, 1]]]
        return out

    def interaction_matrix(self, index: str = "SII", instances: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """The dense pair matrix ``(len(instances), n, n)``, zero diagonal.

        Parameters
        ----------
        index : {"SII", "BII", "STII", "k-SII"}
            The interaction index, as for :meth:`pair_values`.
        instances : sequence of int, optional
            The instances to return (default: all).

        Returns
        -------
        ndarray of float64
            Symmetric matrices, shape ``(len(instances), n_players, n_players)``.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(3, np.zeros(1), [np.array([0, 2])], [np.array([[0.0, 0.0, 0.0, 1.0]])])
        >>> g.interaction_matrix()[0].tolist()
        [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
        """
        rows = np.arange(self.n_instances) if instances is None else np.asarray(instances, dtype=np.int64)
        out = np.zeros((len(rows), self.n_players, self.n_players))
        for t, b in enumerate(self.blocks):
            if len(b) > 1:
                out[:, b[:, None], b[None, :]] = self._block_pairs(t, index)[rows]
        return out

    # ------------------------------------------------------------------ modalities
    def modality_moebius(self) -> np.ndarray:
        """The Möbius transform of the modality game, shape ``(N, 2^M)`` (bit ``m`` = modality ``m``).

        ``M(A) = sum over T with modalities(T) = A of m(T)``; ``M(∅)`` is the empty value.

        Returns
        -------
        ndarray of float64
            ``M(A)`` at ``[r, a]`` for the set ``A`` of modalities whose bits are set in ``a``.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])],
        ...                 modality_of=np.array([0, 1]))
        >>> g.modality_moebius().tolist()
        [[0.0, 1.0, 0.0, 2.0]]
        """
        n_mod = len(self.modality_names)
        out = np.zeros((self.n_instances, 2**n_mod))
        out[:, 0] = self.empty
        for b, m in zip(self.blocks, self.coefs):
            bits = (1 << self.modality_of[b])
            for s in range(1, 2 ** len(b)):
                a = int(np.bitwise_or.reduce(bits[subset_masks(len(b))[s]]))
                out[:, a] += m[:, s]
        return out

    def modality_values(self) -> np.ndarray:
        """The modality game ``v(A)``: players of the modalities in ``A`` present, others absent.

        Shape ``(N, 2^M)``.

        Returns
        -------
        ndarray of float64
            ``v(A)`` at ``[r, a]`` for the set ``A`` of modalities whose bits are set in ``a``.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])],
        ...                 modality_of=np.array([0, 1]))
        >>> g.modality_values().tolist()
        [[0.0, 1.0, 0.0, 3.0]]
        """
        return table_from_moebius(self.modality_moebius())

    def modality_shapley(self) -> np.ndarray:
        """Exact Shapley value of each modality as a player, shape ``(N, M)``.

        Returns
        -------
        ndarray of float64
            Shape ``(N, M)``, modalities in ``modality_names`` order; each row sums to
            ``v(all) - v(none)``.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])],
        ...                 modality_of=np.array([0, 1]))
        >>> g.modality_shapley().tolist()
        [[2.0, 1.0]]
        """
        mm = self.modality_moebius()
        n_mod = len(self.modality_names)
        masks = subset_masks(n_mod)
        out = np.zeros((self.n_instances, n_mod))
        for a in range(1, 2**n_mod):
            size = int(masks[a].sum())
            for k in np.flatnonzero(masks[a]):
                out[:, k] += mm[:, a] / size
        return out

    def modality_interactions(self, kind: str = "moebius") -> np.ndarray:
        """Cross-modal interactions, shape ``(N, M, M)``, zero diagonal.

        ``kind="moebius"`` gives the pure joint effect ``M({m, n})`` (DESIGN §2);
        ``kind="sii"`` gives the modality-level Shapley interaction
        ``sum_{A ⊇ {m, n}} M(A) / (|A| - 1)``. They differ only when three or more
        modalities share a term.

        Parameters
        ----------
        kind : {"moebius", "sii"}
            Which interaction to compute.

        Returns
        -------
        ndarray of float64
            Symmetric matrices, shape ``(N, M, M)``.

        Raises
        ------
        ValueError
            ``kind`` is unknown.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])],
        ...                 modality_of=np.array([0, 1]))
        >>> g.modality_interactions()[0].tolist()
        [[0.0, 2.0], [2.0, 0.0]]
        """
        if kind not in ("moebius", "sii"):
            raise ValueError(f"kind: expected 'moebius' or 'sii', got {kind!r}")
        mm = self.modality_moebius()
        n_mod = len(self.modality_names)
        masks = subset_masks(n_mod)
        out = np.zeros((self.n_instances, n_mod, n_mod))
        for a in range(1, 2**n_mod):
            members = np.flatnonzero(masks[a])
            if len(members) < 2 or (kind == "moebius" and len(members) != 2):
                continue
            w = 1.0 / (len(members) - 1)
            for x in range(len(members)):
                for y in range(x + 1, len(members)):
                    out[:, members[x], members[y]] += mm[:, a] * w
                    out[:, members[y], members[x]] += mm[:, a] * w
        return out

    def modality_influence(self) -> np.ndarray:
        """Granger-style influence of each modality: ``v(N) - v(N without modality m)``.

        Equal to the sum of the Möbius coefficients of the terms that touch ``m`` (ablating
        the modality drops exactly those). Shape ``(N, M)``.

        Returns
        -------
        ndarray of float64
            Shape ``(N, M)``, modalities in ``modality_names`` order.

        Examples
        --------
        >>> import numpy as np
        >>> g = MoebiusGame(2, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 1.0, 0.0, 3.0]])],
        ...                 modality_of=np.array([0, 1]))
        >>> g.modality_influence().tolist()
        [[3.0, 2.0]]
        """
        mm = self.modality_moebius()
        n_mod = len(self.modality_names)
        masks = subset_masks(n_mod)
        out = np.zeros((self.n_instances, n_mod))
        for a in range(1, 2**n_mod):
            for k in np.flatnonzero(masks[a]):
                out[:, k] += mm[:, a]
        return out
