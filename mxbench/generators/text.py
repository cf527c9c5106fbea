"""Token sequences over a vocabulary with a fixed value table, a [MASK] id and neutral tokens."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from mxbench.generators.base import Renderer, check_raw
from mxbench.spec import MASK_ID, N_NEUTRAL, STREAM_CODEBOOK, ModalitySpec


class TextRenderer(Renderer):
    """Token slots whose token's entry in a fixed value table is the latent.

    Id 0 is ``[MASK]`` (value 0), ids 1-3 are neutral tokens (value 0), and the other
    ``vocab - 4`` ids carry the standard-normal quantiles ``Phi^-1((k + 0.5) / K)`` in a
    fixed shuffled order. A latent renders as the valued token nearest to it, or, with
    probability ``neutral``, as a neutral token.

    Parameters
    ----------
    spec : ModalitySpec
        A text modality.
    seed : int
        The task seed (the value table's order is drawn from it).
    position : int
        The modality's position in the task (so two text modalities differ).
    codebook : dict, optional
        A stored codebook (from a dataset's manifest) to use instead of drawing one.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.spec import ModalitySpec
    >>> m = ModalitySpec("txt", "text", length=3, vocab=16, neutral=0.0)
    >>> r = TextRenderer(m, seed=0, position=1)
    >>> raw = r.render(np.array([[0.0, 2.0, -1.0]]), np.random.default_rng(0))
    >>> raw.dtype, float(r.decode(r.mask(raw, np.array([[True, False, True]])))[0, 1])
    (dtype('int32'), 0.0)
    """

    def __init__(self, spec: ModalitySpec, seed: int = 0, position: int = 0,
                 codebook: dict[str, Any] | None = None) -> None:
        self.spec = spec
        if codebook is None:
            k = spec.vocab - 1 - N_NEUTRAL
            quantiles = np.array([NormalDist().inv_cdf((i + 0.5) / k) for i in range(k)])
            rng = np.random.default_rng([seed, STREAM_CODEBOOK, position])
            values = np.zeros(spec.vocab)
            values[1 + N_NEUTRAL:] = np.round(quantiles[rng.permutation(k)], 6)
        else:
            values = np.asarray(codebook["values"], dtype=np.float64)
            if values.shape != (spec.vocab,) or np.any(values[:1 + N_NEUTRAL] != 0.0) or not np.all(np.isfinite(values)):
                from mxbench.errors import DatasetError
                raise DatasetError(f"{spec.name}: codebook value table has {values.size} entries, expected {spec.vocab}"
                                   " with [MASK] and the neutral tokens at 0, all finite")
        self.values = values
        valued = np.arange(1 + N_NEUTRAL, spec.vocab)
        order = np.argsort(values[valued], kind="stable")
        self._sorted_ids = valued[order]
        sorted_vals = values[self._sorted_ids]
        self._cuts = (sorted_vals[1:] + sorted_vals[:-1]) / 2

    def render(self, s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Token ids ``(N, length)``: each latent's nearest valued token, or sometimes a neutral one.

        Parameters
        ----------
        s : ndarray
            The latents, shape ``(N, length)``.
        rng : numpy.random.Generator
            The random stream that picks neutral tokens (with probability ``spec.neutral``).

        Returns
        -------
        ndarray of int32
            The token ids.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = TextRenderer(ModalitySpec("txt", "text", length=3, vocab=8, neutral=0.0))
        >>> r.values.tolist()
        [0.0, 0.0, 0.0, 0.0, 0.318639, -0.318639, -1.150349, 1.150349]
        >>> r.render(np.array([[0.3, -2.0, 1.0]]), np.random.default_rng(0)).tolist()
        [[4, 6, 7]]
        """
        s = np.asarray(s, dtype=np.float64)
        tokens = self._sorted_ids[np.searchsorted(self._cuts, s)]
        if self.spec.neutral > 0:
            neutral = rng.random(s.shape) < self.spec.neutral
            tokens = np.where(neutral, rng.integers(1, 1 + N_NEUTRAL, size=s.shape), tokens)
        return tokens.astype(np.int32)

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Each token's entry in the value table, shape ``(N, length)`` float64.

        Parameters
        ----------
        raw : ndarray of int
            Token ids in ``0..vocab-1``, shape ``(N, length)``.

        Returns
        -------
        ndarray of float64
            The latents (0 for ``[MASK]`` and neutral tokens).

        Raises
        ------
        GameError
            A token id lies outside the vocabulary.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = TextRenderer(ModalitySpec("txt", "text", length=3, vocab=8, neutral=0.0))
        >>> r.values.tolist()
        [0.0, 0.0, 0.0, 0.0, 0.318639, -0.318639, -1.150349, 1.150349]
        >>> r.decode(np.array([[0, 2, 7]])).tolist()
        [[0.0, 0.0, 1.150349]]
        """
        raw = check_raw(raw, self.spec, "iu")
        if raw.size and (raw.min() < 0 or raw.max() >= self.spec.vocab):
            from mxbench.errors import GameError
            raise GameError(f"{self.spec.name}: token ids must lie in 0..{self.spec.vocab - 1}, "
                            f"got {int(raw.min())}..{int(raw.max())}")
        return self.values[raw]

    def mask(self, raw: np.ndarray, present: np.ndarray) -> np.ndarray:
        """A copy of ``raw`` with the absent slots set to ``[MASK]`` (id 0).

        Parameters
        ----------
        raw : ndarray of int
            Token ids, shape ``(N, length)``.
        present : ndarray of bool
            Which slots are present, shape ``(N, length)``.

        Returns
        -------
        ndarray
            The masked token ids, dtype of ``raw``.

        Examples
        --------
        >>> import numpy as np
        >>> from mxbench.spec import ModalitySpec
        >>> r = TextRenderer(ModalitySpec("txt", "text", length=3, vocab=8, neutral=0.0))
        >>> r.values.tolist()
        [0.0, 0.0, 0.0, 0.0, 0.318639, -0.318639, -1.150349, 1.150349]
        >>> r.mask(np.array([[5, 6, 7]], dtype=np.int32), np.array([[True, False, True]])).tolist()
        [[5, 0, 7]]
        """
        raw = check_raw(raw, self.spec, "iu")
        return np.where(present, raw, raw.dtype.type(MASK_ID))

    def codebook(self) -> dict[str, Any]:
        """The decoder parameters: the value table, the ``[MASK]`` id and the neutral ids.

        Returns
        -------
        dict
            ``values`` (one float per token id), ``mask_id`` and ``neutral_ids``.

        Examples
        --------
        >>> from mxbench.spec import ModalitySpec
        >>> cb = TextRenderer(ModalitySpec("txt", "text", length=2, vocab=8)).codebook()
        >>> len(cb["values"]), cb["values"][:4], cb["mask_id"], cb["neutral_ids"]
        (8, [0.0, 0.0, 0.0, 0.0], 0, [1, 2, 3])
        """
        return {"values": self.values.tolist(), "mask_id": MASK_ID,
                "neutral_ids": list(range(1, 1 + N_NEUTRAL))}
