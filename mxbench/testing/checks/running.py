"""Running an explainer on a checked game: the recording game, the runs the checks share, one check's outcome."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from mxbench.explainers.base import Explainer, Explanation, clone
from mxbench.games import Game
from mxbench.testing.checks.games import PlantedCase


class _Recorder(Game):
    """The checked game as the explainer's :class:`BudgetedGame` sees it: records every distinct coalition."""

    def __init__(self, game: Game) -> None:
        super().__init__(game.n_players, game.modality_of, game.modality_names, game.player_names,
                         batch_size=game.batch_size)
        self.inner = game
        self.task = getattr(game, "task", None)
        self.instance = getattr(game, "instance", -1)
        self.seen: set[bytes] = set()

    @property
    def distinct(self) -> int:
        return len(self.seen)

    def _value(self, coalitions: np.ndarray) -> np.ndarray:
        self.seen.update(row.tobytes() for row in np.packbits(coalitions, axis=1))
        return self.inner(coalitions)


@dataclass
class _Run:
    explanation: Explanation | None
    recorder: _Recorder
    error: BaseException | None
    budget: int | None


def _explain(explainer: Explainer, game: Game) -> _Run:
    rec = _Recorder(game)
    budget = explainer.budget if explainer.budget is not None else _default_budget(explainer, game.n_players)
    try:
        return _Run(explainer.explain(rec), rec, None, budget)
    except Exception as e:  # noqa: BLE001 - every failure of the explainer is a finding
        return _Run(None, rec, e, budget)


def _default_budget(explainer: Explainer, n: int) -> int | None:
    try:
        return explainer.default_budget(n)
    except Exception:  # noqa: BLE001
        return None


def _scale(truth: Any) -> float:
    s = float(np.abs(truth.shapley).sum())
    return s if s > 0 else 1.0


class _Case:
    """One checked game, with the runs the checks share (computed on first use)."""

    def __init__(self, explainer: Explainer, game: PlantedCase) -> None:
        self.explainer = explainer
        self.game = game
        self.truth = game.truth
        self.scale = _scale(self.truth)

    @cached_property
    def main(self) -> _Run:
        return _explain(clone(self.explainer), self.game)

    @cached_property
    def game2(self) -> PlantedCase:
        task = self.game.task
        return PlantedCase(task, (self.game.instance + 1) % task.n_instances)


@dataclass
class _Outcome:
    status: str  # "pass", "fail", "n/a"
    value: float = float("nan")
    detail: str = ""


_NA = _Outcome("n/a")
#: The reason of a pair claim that does not apply: the explainer gives attributions only.
NO_PAIRS = "the explainer gives no pair interactions (attributions only)"


def _no_pairs(e: Explanation, lenient: bool) -> _Outcome:
    """The outcome of a pair check on an explanation without pairs: not applicable when the claim
    was not named by the user (``claims="all"``), else a failure."""
    if lenient and e.interactions is None:
        return _Outcome("n/a", detail=NO_PAIRS)
    return _Outcome("fail", float("nan"), "  the explanation gives no pair interactions")


def _main_or_na(case: _Case) -> Explanation | None:
    return case.main.explanation


def _rel(value: float, scale: float) -> float:
    return float(value) / scale
