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

    Examples
    --------
    >>> from mxbench.generators import make_renderer
    >>> from mxbench.spec import ModalitySpec
    >>> r = make_renderer(ModalitySpec("txt", "text", length=5, vocab=16), seed=0, position=0)
    >>> isinstance(r, Renderer), r.n_players
    (True, 5)
    """

    spec: ModalitySpec

    @property
    def n_players(self) -> int:
        """The number of players of this modality.

        Returns
        -------
        int
            ``spec.n_players``: columns, patches or token slots.

        Examples
        --------
        >>> from mxbench.generators.image import ImageRenderer
        >>> from mxbench.spec import ModalitySpec
        >>> ImageRenderer(ModalitySpec("img", "image", size=8, patch=4)).n_players
        4
        """
        return self.spec.n_players

    def render(self, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover - abstract
        """Raw inputs ``(N, *shape)`` carrying latents ``s`` of shape ``(N, n_players)``.

        Parameters
        ----------
        s : ndarray
            The latent value of each player, shape ``(N, n_players)``.
        rng : numpy.random.Generator
            The random stream of any rendering noise.

        Returns
        -------
        ndarray
            The raw inputs, shape ``(N, *spec.shape)``.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.generators.tabular import TabularRenderer
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> r.render(np.array([[0.5, -1.0]]), np.random.default_rng(0)).dtype
        dtype('float32')
        """
        raise NotImplementedError

    def decode(self, raw: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """The latent value of each player, ``(N, n_players)`` float64.

        Parameters
        ----------
        raw : ndarray
            Raw inputs, shape ``(N, *spec.shape)``.

        Returns
        -------
        ndarray of float64
            The decoded latents, shape ``(N, n_players)``.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.generators.tabular import TabularRenderer
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> r.decode(np.array([[0.5, -1.0]], dtype=np.float32)).tolist()
        [[0.5, -1.0]]
        """
        raise NotImplementedError

    def mask(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """A copy of ``raw`` with the players where ``present`` is False set to the baseline.

        Parameters
        ----------
        raw : ndarray
            Raw inputs, shape ``(N, *spec.shape)``.
        present : ndarray of bool
            Which players are present, shape ``(N, n_players)`` (or broadcastable to it).

        Returns
        -------
        ndarray
            The masked inputs, of the same shape and dtype as ``raw``.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.generators.tabular import TabularRenderer
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> r.mask(np.array([[0.5, -1.0]], dtype=np.float32), np.array([[False, True]])).tolist()
        [[0.0, -1.0]]
        """
        raise NotImplementedError

    def codebook(self) -> dict[str, Any]:  # pragma: no cover - abstract
        """The fixed decoder parameters, JSON-serialisable (written to the manifest).

        Returns
        -------
        dict
            What :func:`~mxbench.generators.make_renderer` needs to rebuild the same renderer.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.generators.tabular import TabularRenderer
        >>> from mxbench.spec import ModalitySpec
        >>> r = TabularRenderer(ModalitySpec("t", "tabular", features=2))
        >>> r.codebook()
        {'baseline': 0.0}
        """
        raise NotImplementedError


def check_raw(raw: np.ndarray, spec: ModalitySpec, dtype_kind: str) -> np.ndarray:
    """Return ``raw`` as an array of shape ``(N, *spec.shape)`` or raise a GameError.

    Parameters
    ----------
    raw : array_like
        Raw inputs of one modality.
    spec : ModalitySpec
        The modality.
    dtype_kind : str
        The accepted numpy dtype kinds, e.g. ``"f"`` or ``"iu"``.

    Returns
    -------
    ndarray
        ``raw`` as an array (not copied).

    Raises
    ------
    GameError
        The shape or the dtype kind is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.spec import ModalitySpec
    >>> m = ModalitySpec("t", "tabular", features=2)
    >>> check_raw(np.zeros((3, 2), dtype=np.float32), m, "f").shape
    (3, 2)
    >>> try:
    ...     check_raw(np.zeros((3, 4)), m, "f")
    ... except ValueError as e:
    ...     print(e)
    t: expected inputs of shape (N, 2), got (3, 4)
    """
    from mxbench.errors import GameError

    raw = np.asarray(raw)
    if raw.ndim != 1 + len(spec.shape) or tuple(raw.shape[1:]) != spec.shape:
        raise GameError(f"{spec.name}: expected inputs of shape (N, {', '.join(map(str, spec.shape))}), got {raw.shape}")
    if raw.dtype.kind not in dtype_kind:
        raise GameError(f"{spec.name}: expected dtype kind {dtype_kind!r}, got {raw.dtype}")
    return raw
