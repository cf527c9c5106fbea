"""Player numbering of a task spec: ids, ``"modality:index"`` names, offsets and each player's modality."""

from __future__ import annotations

import numpy as np

from mxbench.errors import SpecError
from mxbench.spec.fields import _INDEX, _show
from mxbench.spec.modality import ModalitySpec


class PlayerLayout:
    """How a spec numbers its players: modality after modality, each named ``"modality:index"``.

    The player look-ups of :class:`~mxbench.spec.TaskSpec`, which derives from this class. A
    subclass provides ``modalities`` (its :class:`ModalitySpec` blocks, in player order) and
    ``_offsets`` (the first player id of each modality, and the number of players last).

    Examples
    --------
    >>> from mxbench.spec import TaskSpec
    >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
    ...     {"name": "a", "kind": "tabular", "features": 2}],
    ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
    >>> isinstance(spec, PlayerLayout), spec.player_id("a:1")
    (True, 1)
    """

    modalities: tuple[ModalitySpec, ...]
    _offsets: tuple[int, ...]

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

    @property
    def n_players(self) -> int:
        """The total number of players.

        Returns
        -------
        int

        Examples
        --------
        >>> from mxbench.spec import TaskSpec
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
        >>> from mxbench.spec import TaskSpec
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
        >>> from mxbench.spec import TaskSpec
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
        >>> from mxbench.spec import TaskSpec
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
        >>> from mxbench.spec import TaskSpec
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
        >>> from mxbench.spec import TaskSpec
        >>> spec = TaskSpec.from_dict({"name": "t", "modalities": [
        ...     {"name": "a", "kind": "tabular", "features": 2},
        ...     {"name": "b", "kind": "tabular", "features": 2}],
        ...     "terms": [{"kind": "unique", "players": ["a:0"]}]})
        >>> spec.player_id("b:1")
        3
        """
        return self._player_id(name, "player")
