"""Images cut into a grid of patches; each patch carries its latent on a fixed template."""

from __future__ import annotations

from typing import Any

import numpy as np

from mxbench.generators.base import Renderer, check_raw
from mxbench.spec import STREAM_CODEBOOK, ModalitySpec


class ImageRenderer(Renderer):
    """Patches ``s * t + noise`` on a fixed unit-norm template ``t``; absent patch = zeros.

    The decoder is the projection ``<patch, t> / <t, t>``, summed in a fixed order so the
    result is the same bit for bit on every machine. A zero patch decodes to exactly 0.

    Parameters
    ----------
    spec : ModalitySpec
        An image modality.
    seed : int
        The task seed (the template is drawn from it).
    position : int
        The modality's position in the task (so two image modalities differ).
    codebook : dict, optional
        A stored codebook (from a dataset's manifest) to use instead of drawing one.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.spec import ModalitySpec
    >>> m = ModalitySpec("img", "image", size=4, patch=2, noise=0.0)
    >>> r = ImageRenderer(m, seed=0, position=0)
    >>> raw = r.render(np.array([[1.0, -2.0, 0.5, 0.0]]), np.random.default_rng(0))
    >>> raw.shape
    (1, 1, 4, 4)
    >>> np.round(r.decode(raw), 5).tolist()
    [[1.0, -2.0, 0.5, 0.0]]
    """

    def __init__(self, spec: ModalitySpec, seed: int = 0, position: int = 0,
                 codebook: dict[str, Any] | None = None) -> None:
        self.spec = spec
        c, p = spec.channels, spec.patch
        if codebook is None:
            rng = np.random.default_rng([seed, STREAM_CODEBOOK, position])
            t = rng.normal(size=c * p * p)
            t = t / np.sqrt(_ordered_dot(t[None, :], t)[0])
            template = t.astype(np.float32).astype(np.float64)
        else:
            template = np.asarray(codebook["template"], dtype=np.float64)
            if template.shape != (c * p * p,):
                from mxbench.errors import DatasetError
                raise DatasetError(f"{spec.name}: codebook template has {template.size} values, expected {c * p * p}")
        self.template = template
        self._tt = _ordered_dot(template[None, :], template)[0]
        if not np.isfinite(self._tt) or self._tt <= 0:
            from mxbench.errors import DatasetError
            raise DatasetError(f"{spec.name}: codebook template must be finite and non-zero")

    @property
    def grid(self) -> int:
        """Patches per side.

        Returns
        -------
        int
            ``size // patch``; the modality has ``grid ** 2`` players.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> ImageRenderer(ModalitySpec("img", "image", size=12, patch=4)).grid
        3
        """
        return self.spec.size // self.spec.patch

    def _to_patches(self, raw: np.ndarray) -> np.ndarray:
        n, c, g, p = raw.shape[0], self.spec.channels, self.grid, self.spec.patch
        x = raw.reshape(n, c, g, p, g, p).transpose(0, 2, 4, 1, 3, 5)
        return x.reshape(n, g * g, c * p * p)

    def _from_patches(self, x: np.ndarray) -> np.ndarray:
        n, c, g, p = x.shape[0], self.spec.channels, self.grid, self.spec.patch
        x = x.reshape(n, g, g, c, p, p).transpose(0, 3, 1, 4, 2, 5)
        return x.reshape(n, c, g * p, g * p)

    def render(self, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Images ``(N, channels, size, size)``: each patch is ``s * template`` plus pixel noise.

        Parameters
        ----------
        s : ndarray
            The latents, shape ``(N, grid ** 2)``, patches in row-major order.
        rng : numpy.random.Generator
            The random stream of the pixel noise (standard deviation ``spec.noise``).

        Returns
        -------
        ndarray of float32
            The images.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = ImageRenderer(ModalitySpec("img", "image", size=4, patch=2, noise=0.0))
        >>> raw = r.render(np.array([[1.0, -2.0, 0.5, 3.0]]), np.random.default_rng(0))
        >>> raw.shape, raw.dtype
        ((1, 1, 4, 4), dtype('float32'))
        """
        s = np.asarray(s, dtype=np.float64)
        x = (s[:, :, None] * self.template[None, None, :]).astype(np.float32)
        if self.spec.noise > 0:
            x += np.float32(self.spec.noise) * rng.standard_normal(x.shape, dtype=np.float32)
        return np.ascontiguousarray(self._from_patches(x))

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Each patch's projection on the template, shape ``(N, grid ** 2)`` float64.

        Parameters
        ----------
        raw : ndarray of float
            Images, shape ``(N, channels, size, size)``.

        Returns
        -------
        ndarray of float64
            The latents; a zero patch decodes to exactly 0.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = ImageRenderer(ModalitySpec("img", "image", size=4, patch=2, noise=0.0))
        >>> raw = r.render(np.array([[1.0, -2.0, 0.5, 3.0]]), np.random.default_rng(0))
        >>> np.round(r.decode(raw), 5).tolist()
        [[1.0, -2.0, 0.5, 3.0]]
        >>> r.decode(np.zeros((1, 1, 4, 4), dtype=np.float32)).tolist()
        [[0.0, 0.0, 0.0, 0.0]]
        """
        x = self._to_patches(check_raw(raw, self.spec, "f"))
        return _ordered_dot(x, self.template) / self._tt

    def mask(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:
        """A copy of ``raw`` with the absent patches set to zeros.

        Parameters
        ----------
        raw : ndarray of float
            Images, shape ``(N, channels, size, size)``.
        present : ndarray of bool
            Which patches are present, shape ``(N, grid ** 2)``, row-major.

        Returns
        -------
        ndarray
            The masked images, dtype of ``raw``.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = ImageRenderer(ModalitySpec("img", "image", size=4, patch=2, noise=0.0))
        >>> raw = r.render(np.array([[1.0, -2.0, 0.5, 3.0]]), np.random.default_rng(0))
        >>> np.round(r.decode(r.mask(raw, np.array([[True, False, True, False]]))), 5).tolist()
        [[1.0, 0.0, 0.5, 0.0]]
        """
        raw = check_raw(raw, self.spec, "f")
        g, p = self.grid, self.spec.patch
        keep = np.asarray(present, dtype=bool).reshape(-1, 1, g, 1, g, 1)
        shaped = raw.reshape(raw.shape[0], self.spec.channels, g, p, g, p)
        return np.where(keep, shaped, raw.dtype.type(0)).reshape(raw.shape)

    def codebook(self) -> dict[str, Any]:
        """The decoder parameters: the template, its layout and the baseline.

        Returns
        -------
        dict
            ``template`` (``channels * patch * patch`` floats), ``layout`` and ``baseline``.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> cb = ImageRenderer(ModalitySpec("img", "image", size=4, patch=2)).codebook()
        >>> len(cb["template"]), cb["baseline"]
        (4, 0.0)
        """
        return {"template": self.template.tolist(), "layout": "channel-major CxPxP, patches row-major",
                "baseline": 0.0}


def _ordered_dot(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``sum_j x[..., j] * t[j]`` accumulated in float64 in index order (machine-independent)."""
    acc = np.zeros(x.shape[:-1], dtype=np.float64)
    for j in range(t.shape[0]):
        acc += x[..., j].astype(np.float64) * t[j]
    return acc
