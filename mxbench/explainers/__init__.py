"""Explainers: ``explain(game) -> Explanation`` (black-box) and ``explain(model, task, i)`` (white-box)."""

from mxbench.explainers.base import BudgetedGame, Explainer, Explanation, as_game
from mxbench.explainers.exact import Exact
from mxbench.explainers.interactions import RedundancyGap, SIIProbe
from mxbench.explainers.kernelshap import KernelSHAP
from mxbench.explainers.occlusion import Occlusion
from mxbench.explainers.permutation import MMSHAP, PermutationShapley

__all__ = ["BudgetedGame", "Explainer", "Explanation", "as_game", "Exact", "KernelSHAP", "MMSHAP", "Occlusion",
           "PermutationShapley", "RedundancyGap", "SIIProbe"]
