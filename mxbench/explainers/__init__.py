"""Explainers: ``explain(game) -> Explanation`` (black-box) and ``explain(model, task, i)`` (white-box).

:data:`EXPLAINERS` maps each explainer's name (as it appears in results) to its class;
:func:`get_explainer` builds one by name, adapter name (``shap:KernelExplainer``) or import path
(``package.module:Name``), and :func:`explainer_spec` checks what the runner is given;
:func:`as_explainer` (:class:`FunctionExplainer`) makes an explainer of a plain function of the game
or of any object with ``explain(game)``. The white-box explainers
(:mod:`mxbench.explainers.whitebox`) need torch and are imported on first use, so importing
this package and using its black-box explainers does not import torch.
"""

from mxbench.explainers.base import BudgetedGame, Explainer, Explanation, as_game
from mxbench.explainers.exact import Exact
from mxbench.explainers.interactions import RedundancyGap, SIIProbe
from mxbench.explainers.kernelshap import KernelSHAP
from mxbench.explainers.lemon import LEMON
from mxbench.explainers.lime import LIME
from mxbench.explainers.occlusion import Occlusion
from mxbench.explainers.permutation import MMSHAP, PermutationShapley
from mxbench.explainers.registry import EXPLAINERS, explainer_spec, get_explainer
from mxbench.explainers.support import SparseMoebius
from mxbench.explainers.unimodal import Unimodal
from mxbench.explainers.wrap import FunctionExplainer, as_explainer

#: The white-box names this package gives, imported from :mod:`mxbench.explainers.whitebox` on first use.
_WHITEBOX = ("WhiteBoxExplainer", "IntegratedGradients", "AttentionRollout", "AttentionGrad", "ExpertMaps")


def __getattr__(name: str):
    """The white-box explainers, imported on first use (they import torch)."""
    if name in _WHITEBOX:
        from mxbench.explainers import whitebox

        return getattr(whitebox, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The package's names, the white-box ones included."""
    return sorted(set(globals()) | set(_WHITEBOX))


__all__ = ["BudgetedGame", "Explainer", "Explanation", "as_game", "Exact", "LEMON", "LIME", "KernelSHAP", "MMSHAP",
           "Occlusion", "PermutationShapley", "RedundancyGap", "SIIProbe", "SparseMoebius", "WhiteBoxExplainer",
           "IntegratedGradients", "AttentionRollout", "AttentionGrad", "ExpertMaps", "Unimodal", "EXPLAINERS", "get_explainer",
           "explainer_spec", "as_explainer", "FunctionExplainer"]
