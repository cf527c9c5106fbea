"""Tabular columns: one standardised column per player; absent = 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from mxbench.generators.base import Renderer, check_raw
from mxbench.spec import ModalitySpec


class TabularRenderer(Renderer):
    """Columns that carry their latent value directly (stored as float32).

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.spec import ModalitySpec
    >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
    >>> raw = r.render(np.array([[0.5, -1.0]]), np.random.default_rng(0))
    >>> r.decode(r.mask(raw, np.array([[True, False]]))).tolist()
    [[0.5, 0.0]]
    """

    def __init__(self, spec: ModalitySpec, codebook: dict[str, Any] | None = None) -> None:
        self.spec = spec

    def render(self, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(s, dtype=np.float32)

    def decode(self, raw: np.ndarray) -> np.ndarray:
        return check_raw(raw, self.spec, "f").astype(np.float64)

    def mask(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:
        raw = check_raw(raw, self.spec, "f")
        return np.where(present, raw, raw.dtype.type(0))

    def codebook(self) -> dict[str, Any]:
        return {"baseline": 0.0}
