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
