"""The game contract: boolean coalitions (B, n) in, float values (B,) out, queries counted."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from mxbench.errors import GameError


class Game:
    """A cooperative game over ``n_players`` players, evaluated in batches.

    Call it with a boolean array of shape ``(B, n_players)`` (True = present); it returns
    float64 values of shape ``(B,)``. Every call adds ``B`` to :attr:`n_queries`. Large
    batches are split into chunks of ``batch_size`` coalitions before they reach
    :meth:`_value`, so memory stays bounded. ``value_function`` is the same call under
    shapiq's name.

    Subclasses implement :meth:`_value`.

    Parameters
    ----------
    n_players : int
        The number of players.
    modality_of : array of int, optional
        The modality number of each player (default: all 0).
    modality_names : sequence of str, optional
        The modality names (default: ``("all",)``).
    player_names : sequence of str, optional
        The player names (default: ``"p0", "p1", ...``).
    batch_size : int
        The largest batch passed to :meth:`_value` at once.

    Examples
    --------
    >>> import numpy as np
    >>> game = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=3)
    >>> game(np.array([[True, False, True], [False, False, False]])).tolist()
    [2.0, 0.0]
    >>> game.n_queries
    2
    >>> game.value_function(np.array([[True, True, True]])).tolist(), game.n_queries
    ([3.0], 3)
    """

    def __init__(self, n_players: int, modality_of: Sequence[int] | np.ndarray | None = None,
                 modality_names: Sequence[str] | None = None, player_names: Sequence[str] | None = None,
                 batch_size: int = 4096) -> None:
        if not isinstance(n_players, (int, np.integer)) or n_players < 1:
            raise GameError(f"n_players: expected a positive integer, got {n_players!r}")
        self.n_players = int(n_players)
        self.modality_of = (np.zeros(self.n_players, dtype=np.int64) if modality_of is None
                            else np.asarray(modality_of, dtype=np.int64))
        if self.modality_of.shape != (self.n_players,):
            raise GameError(f"modality_of: expected {self.n_players} entries, got shape {self.modality_of.shape}")
        n_mod = int(self.modality_of.max()) + 1
        self.modality_names = tuple(modality_names) if modality_names is not None else tuple(
            f"m{k}" for k in range(n_mod)) if n_mod > 1 else ("all",)
        if len(self.modality_names) < n_mod:
            raise GameError(f"modality_names: expected {n_mod} names, got {list(self.modality_names)}")
        self.player_names = (list(player_names) if player_names is not None
                             else [f"p{i}" for i in range(self.n_players)])
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise GameError(f"batch_size: expected a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.n_queries = 0

    def __call__(self, coalitions: np.ndarray) -> np.ndarray:
        coalitions = self.check_coalitions(coalitions)
        out = np.empty(coalitions.shape[0], dtype=np.float64)
        for start in range(0, coalitions.shape[0], self.batch_size):
            chunk = coalitions[start:start + self.batch_size]
            values = np.asarray(self._value(chunk), dtype=np.float64)
            if values.shape != (chunk.shape[0],):
                raise GameError(f"game returned shape {values.shape} for {chunk.shape[0]} coalitions, "
                                f"expected ({chunk.shape[0]},)")
            if not np.all(np.isfinite(values)):
                bad = int(np.flatnonzero(~np.isfinite(values))[0])
                raise GameError(f"game returned a non-finite value {values[bad]!r} for coalition {start + bad}")
            out[start:start + chunk.shape[0]] = values
        self.n_queries += coalitions.shape[0]
        return out

    #: shapiq's name for the same call.
    value_function = __call__

    def check_coalitions(self, coalitions: np.ndarray) -> np.ndarray:
        """Return ``coalitions`` as a bool array of shape ``(B, n_players)`` or raise GameError.

        Integer arrays of 0 and 1 are accepted and converted.

        Parameters
        ----------
        coalitions : array_like
            A batch of coalitions, shape ``(B, n_players)``: booleans, or integers 0 and 1.

        Returns
        -------
        ndarray of bool
            The coalitions, shape ``(B, n_players)``.

        Raises
        ------
        GameError
            The shape is wrong, or the values are neither booleans nor 0/1 integers.

        Examples
        --------
        >>> import numpy as np
        >>> game = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=3)
        >>> game.check_coalitions(np.array([[1, 0, 1]])).tolist()
        [[True, False, True]]
        """
        c = np.asarray(coalitions)
        if c.ndim != 2 or c.shape[1] != self.n_players:
            raise GameError(f"coalitions: expected shape (B, {self.n_players}), got {c.shape}")
        if c.dtype != np.bool_:
            if c.dtype.kind not in "iu" or (c.size and not np.isin(c, (0, 1)).all()):
                raise GameError(f"coalitions: expected booleans (or 0/1 integers), got dtype {c.dtype}")
            c = c.astype(bool)
        return c

    def _value(self, coalitions: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class FunctionGame(Game):
    """A game from a plain Python function of a coalition batch.

    Parameters
    ----------
    fn : callable
        ``fn(coalitions: bool[B, n]) -> float[B]``.
    n_players : int
        The number of players.
    **kwargs
        Passed to :class:`Game` (``modality_of``, ``modality_names``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> game = FunctionGame(lambda c: c[:, 0] * c[:, 1] * 2.0, n_players=2)
    >>> game(np.array([[True, True]])).tolist()
    [2.0]
    """

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], n_players: int, **kwargs) -> None:
        super().__init__(n_players, **kwargs)
        self.fn = fn

    def _value(self, coalitions: np.ndarray) -> np.ndarray:
        return self.fn(coalitions)
