"""Explainers: ``explain(game) -> Explanation`` (black-box) and ``explain(model, task, i)`` (white-box).

:data:`EXPLAINERS` maps each explainer's name (as it appears in results) to its class;
:func:`get_explainer` builds one by name.
"""

from mxbench.explainers.base import BudgetedGame, Explainer, Explanation, as_game
from mxbench.explainers.exact import Exact
from mxbench.explainers.interactions import RedundancyGap, SIIProbe
from mxbench.explainers.kernelshap import KernelSHAP
from mxbench.explainers.lemon import LEMON
from mxbench.explainers.lime import LIME
from mxbench.explainers.occlusion import Occlusion
from mxbench.explainers.permutation import MMSHAP, PermutationShapley
from mxbench.explainers.unimodal import Unimodal
from mxbench.explainers.whitebox import (AttentionGrad, AttentionRollout, ExpertMaps, IntegratedGradients,
                                         WhiteBoxExplainer)

#: Explainer name -> class (``sii-probe`` and ``redundancy-gap`` are the FL-I2MoE probes).
EXPLAINERS = {cls.name: cls for cls in (
    Exact, LEMON, LIME, KernelSHAP, PermutationShapley, MMSHAP, Occlusion, SIIProbe, RedundancyGap,
    IntegratedGradients, AttentionRollout, AttentionGrad, ExpertMaps)}
EXPLAINERS["unimodal"] = Unimodal  # results name it "unimodal-<base>"


def get_explainer(name: str, **params):
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


__all__ = ["BudgetedGame", "Explainer", "Explanation", "as_game", "Exact", "LEMON", "LIME", "KernelSHAP", "MMSHAP",
           "Occlusion", "PermutationShapley", "RedundancyGap", "SIIProbe", "WhiteBoxExplainer",
           "IntegratedGradients", "AttentionRollout", "AttentionGrad", "ExpertMaps", "Unimodal", "EXPLAINERS", "get_explainer"]
