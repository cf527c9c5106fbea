"""The renderer contract: latents to raw inputs, raw inputs back to latents, and masking."""

from __future__ import annotations

from typing import Any

import numpy as np

from mxbench.spec import ModalitySpec


class Renderer:
    """Turns a modality's latent values into raw inputs and back.

    Every renderer obeys the project's one masking rule: an absent player is set to its
    baseline (column 0, zero patch, ``[MASK]`` token) and decodes to exactly 0.

    Subclasses implement :meth:`render`, :meth:`decode`, :meth:`mask` and :meth:`codebook`.
    """

    spec: ModalitySpec

    @property
    def n_players(self) -> int:
        """The number of players of this modality."""
        return self.spec.n_players

    def render(self, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        """Raw inputs ``(N, *shape)`` carrying latents ``s`` of shape ``(N, n_players)``."""
        raise NotImplementedError

    def decode(self, raw: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """The latent value of each player, ``(N, n_players)`` float64."""
        raise NotImplementedError

    def mask(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """A copy of ``raw`` with the players where ``present`` is False set to the baseline."""
        raise NotImplementedError

    def codebook(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The fixed decoder parameters, JSON-serialisable (written to the manifest)."""
        raise NotImplementedError


def check_raw(raw: np.ndarray, spec: ModalitySpec, dtype_kind: str) -> np.ndarray:
    """Return ``raw`` as an array of shape ``(N, *spec.shape)`` or raise a GameError."""
    from mxbench.errors import GameError

    raw = np.asarray(raw)
    if raw.ndim != 1 + len(spec.shape) or tuple(raw.shape[1:]) != spec.shape:
        raise GameError(f"{spec.name}: expected inputs of shape (N, {', '.join(map(str, spec.shape))}), got {raw.shape}")
    if raw.dtype.kind not in dtype_kind:
        raise GameError(f"{spec.name}: expected dtype kind {dtype_kind!r}, got {raw.dtype}")
    return raw
