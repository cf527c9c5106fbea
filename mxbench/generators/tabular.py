"""Tabular columns: one standardised column per player; absent = 0."""

from __future__ import annotations

from typing import Any

import numpy as np

from mxbench.generators.base import Renderer, check_raw
from mxbench.spec import ModalitySpec


class TabularRenderer(Renderer):
    """Columns that carry their latent value directly (stored as float32).

    Parameters
    ----------
    spec : ModalitySpec
        A tabular modality.
    codebook : dict, optional
        Ignored (a tabular modality has no decoder parameters); accepted so every renderer
        is built the same way.

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
        """The latents themselves as float32 columns, shape ``(N, features)``.

        Parameters
        ----------
        s : ndarray
            The latents, shape ``(N, features)``.
        rng : numpy.random.Generator
            Unused (tabular rendering adds no noise).

        Returns
        -------
        ndarray of float32
            The columns.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> raw = r.render(np.array([[0.5, -1.0]]), np.random.default_rng(0))
        >>> raw.dtype, raw.tolist()
        (dtype('float32'), [[0.5, -1.0]])
        """
        return np.asarray(s, dtype=np.float32)

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """The column values as float64 latents, shape ``(N, features)``.

        Parameters
        ----------
        raw : ndarray of float
            The columns, shape ``(N, features)``.

        Returns
        -------
        ndarray of float64
            The latents.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> r.decode(np.array([[0.5, -1.0]], dtype=np.float32)).dtype
        dtype('float64')
        """
        return check_raw(raw, self.spec, "f").astype(np.float64)

    def mask(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:
        """A copy of ``raw`` with the absent columns set to 0.

        Parameters
        ----------
        raw : ndarray of float
            The columns, shape ``(N, features)``.
        present : ndarray of bool
            Which columns are present, shape ``(N, features)``.

        Returns
        -------
        ndarray
            The masked columns, dtype of ``raw``.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> r.mask(np.array([[0.5, -1.0]], dtype=np.float32), np.array([[True, False]])).tolist()
        [[0.5, 0.0]]
        """
        raw = check_raw(raw, self.spec, "f")
        return np.where(present, raw, raw.dtype.type(0))

    def codebook(self) -> dict[str, Any]:
        """The decoder parameters: only the baseline, 0.

        Returns
        -------
        dict
            ``{"baseline": 0.0}``.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> TabularRenderer(ModalitySpec("t", "tabular", features=2)).codebook()
        {'baseline': 0.0}
        """
        return {"baseline": 0.0}
