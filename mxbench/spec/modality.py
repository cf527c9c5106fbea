"""One modality of a task spec: a named input block and how it is cut into players."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mxbench.errors import SpecError
from mxbench.spec.constants import (KINDS, MAX_CHANNELS, MAX_INPUT_VALUES, MAX_MAGNITUDE, MAX_PLAYERS, MAX_VOCAB,
                                    MIN_VALUE_TOKENS, N_NEUTRAL)
from mxbench.spec.fields import _name, _no_extra, _number, _positive_int, _show, _typed


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
