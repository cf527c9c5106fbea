"""Explainers: ``explain(game) -> Explanation`` (black-box) and ``explain(model, task, i)`` (white-box)."""

from mxbench.explainers.base import BudgetedGame, Explainer, Explanation, as_game
from mxbench.explainers.exact import Exact

__all__ = ["BudgetedGame", "Explainer", "Explanation", "as_game", "Exact"]
