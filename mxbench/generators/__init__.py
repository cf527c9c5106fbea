"""Renderers that turn latent values into raw modality inputs, and the benchmark suites."""

from __future__ import annotations

from typing import Any

from mxbench.generators.base import Renderer
from mxbench.generators.image import ImageRenderer
from mxbench.generators.tabular import TabularRenderer
from mxbench.generators.text import TextRenderer
from mxbench.spec import ModalitySpec

__all__ = ["Renderer", "TabularRenderer", "ImageRenderer", "TextRenderer", "make_renderer"]


def make_renderer(spec: ModalitySpec, seed: int, position: int, codebook: dict[str, Any] | None = None) -> Renderer:
    """The renderer of a modality, its codebook drawn from ``(seed, position)`` or given.

    Parameters
    ----------
    spec : ModalitySpec
        The modality.
    seed : int
        The task seed (codebooks are drawn from it).
    position : int
        The modality's position in the task, so two modalities of one kind differ.
    codebook : dict, optional
        A stored codebook (from a dataset's manifest) to use instead of drawing one.

    Returns
    -------
    Renderer
        A :class:`TabularRenderer`, :class:`ImageRenderer` or :class:`TextRenderer`.

    Examples
    --------
    >>> from mxbench.spec import ModalitySpec
    >>> type(make_renderer(ModalitySpec("t", "tabular", features=2), seed=0, position=0)).__name__
    'TabularRenderer'
    """
    if spec.kind == "tabular":
        return TabularRenderer(spec, codebook)
    if spec.kind == "image":
        return ImageRenderer(spec, seed, position, codebook)
    return TextRenderer(spec, seed, position, codebook)
