"""Explainers by name: the registry that results and the runner use, each class imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import MutableMapping
from typing import Any, Iterator


class ExplainerRegistry(MutableMapping):
    """A mapping of explainer names to classes, each class imported from its module when first looked up.

    An entry is a class or a ``"module:Class"`` string; looking a name up imports the module and
    returns the class, so names can be listed and checked without importing any explainer (the
    white-box ones import torch). Setting an entry to a class registers it.

    Examples
    --------
    >>> registry = ExplainerRegistry({"exact": "mxbench.explainers.exact:Exact"})
    >>> list(registry), registry["exact"].__name__
    (['exact'], 'Exact')
    >>> registry["mine"] = int
    >>> sorted(registry)
    ['exact', 'mine']
    """

    def __init__(self, entries: dict[str, Any] | None = None) -> None:
        self._entries: dict[str, Any] = dict(entries or {})

    def __getitem__(self, name: str) -> type:
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry = self._entries[name] = getattr(importlib.import_module(module), attr)
        return entry

    def __setitem__(self, name: str, cls: Any) -> None:
        self._entries[name] = cls

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries  # without importing the class

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._entries)})"


#: Explainer name -> class (``sii-probe`` and ``redundancy-gap`` are the FL-I2MoE probes; results
#: name a :class:`~mxbench.explainers.unimodal.Unimodal` explainer ``"unimodal-<base>"``).
EXPLAINERS = ExplainerRegistry({
    "exact": "mxbench.explainers.exact:Exact",
    "lemon": "mxbench.explainers.lemon:LEMON",
    "lime": "mxbench.explainers.lime:LIME",
    "kernelshap": "mxbench.explainers.kernelshap:KernelSHAP",
    "permutation": "mxbench.explainers.permutation:PermutationShapley",
    "mmshap": "mxbench.explainers.permutation:MMSHAP",
    "occlusion": "mxbench.explainers.occlusion:Occlusion",
    "sii-probe": "mxbench.explainers.interactions:SIIProbe",
    "redundancy-gap": "mxbench.explainers.interactions:RedundancyGap",
    "integrated_gradients": "mxbench.explainers.whitebox.gradients:IntegratedGradients",
    "attention_rollout": "mxbench.explainers.whitebox.attention:AttentionRollout",
    "attention_grad": "mxbench.explainers.whitebox.attention:AttentionGrad",
    "expert_maps": "mxbench.explainers.whitebox.experts:ExpertMaps",
    "unimodal": "mxbench.explainers.unimodal:Unimodal",
})


def get_explainer(name: str, **params: Any) -> Any:
    """Build the explainer called ``name`` with ``params``; a ``"library:Method"`` name builds an
    adapter (:func:`mxbench.explainers.adapters.make_adapter`).

    Raises
    ------
    ExplainerError
        No explainer has that name.

    Examples
    --------
    >>> get_explainer("kernelshap", budget=100)
    KernelSHAP(budget=100, paired=True, random_state=0)
    """
    from mxbench.errors import ExplainerError

    if ":" in name:  # "shap:KernelExplainer", "shapiq:KernelSHAPIQ", "captum:Lime", ...
        from mxbench.explainers.adapters import make_adapter

        return make_adapter(name, **params)
    if name not in EXPLAINERS:
        raise ExplainerError(f"explainer: unknown explainer {name!r} (choose from {', '.join(EXPLAINERS)})")
    return EXPLAINERS[name](**params)
