"""The planted games of the checks, smallest first, each with its exact truth and a readable description."""

from __future__ import annotations

import functools
from functools import cached_property
from typing import Any

from mxbench.task import PlantedGame, Task, generate
from mxbench.testing.checks.text import _fmt, _fmt_array, _term_formula

#: The planted tasks of the checks, smallest first. Each has two instances: instance 0 is the
#: checked game, instance 1 the second game of the linearity check. Together they hold every term
#: kind and function, symmetric players (distractors, copies of one latent, the two players of a
#: product), dummies, and one to three modalities of every kind.
CHECK_SPECS: tuple[dict[str, Any], ...] = (
    {"name": "unique-3", "seed": 1, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 3}],
     "terms": [{"kind": "unique", "players": ["a:0"], "weight": 1.5}]},
    {"name": "synergy-4", "seed": 2, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 2},
                    {"name": "b", "kind": "text", "length": 2, "vocab": 16, "neutral": 0.0}],
     "terms": [{"kind": "synergy", "op": "product", "players": ["a:0", "b:0"], "weight": 1.0},
               {"kind": "unique", "fn": "tanh", "players": ["a:1"], "weight": -1.0}]},
    {"name": "redundancy-5", "seed": 3, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 2}, {"name": "b", "kind": "tabular", "features": 3}],
     "terms": [{"kind": "redundancy", "players": ["a:0", "b:0"], "weight": 1.2, "spread": 0.0},
               {"kind": "synergy", "op": "xor", "players": ["a:1", "b:1"], "weight": 0.8}]},
    {"name": "mixed-6", "seed": 4, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 4}, {"name": "b", "kind": "tabular", "features": 2}],
     "terms": [{"kind": "unique", "players": ["a:0"]}, {"kind": "synergy", "players": ["a:1", "b:0"]},
               {"kind": "redundancy", "players": ["a:2", "b:1"]}]},
    {"name": "img-txt-7", "seed": 14, "instances": 2,
     "modalities": [{"name": "img", "kind": "image", "channels": 1, "size": 8, "patch": 4},
                    {"name": "txt", "kind": "text", "length": 3, "vocab": 24}],
     "terms": [{"kind": "unique", "fn": "step", "players": ["img:0"], "weight": 1.0},
               {"kind": "synergy", "op": "and", "players": ["img:1", "txt:0"], "weight": 2.0},
               {"kind": "redundancy", "players": ["img:2", "txt:1", "txt:2"], "weight": -1.0}]},
    {"name": "three-way-8", "seed": 6, "instances": 2,
     "modalities": [{"name": "tab", "kind": "tabular", "features": 2},
                    {"name": "txt", "kind": "text", "length": 2, "vocab": 24},
                    {"name": "img", "kind": "image", "channels": 1, "size": 8, "patch": 4}],
     "terms": [{"kind": "synergy", "op": "product", "players": ["tab:0", "txt:0", "img:0"], "weight": 1.0},
               {"kind": "unique", "players": ["img:1"], "weight": 0.8},
               {"kind": "redundancy", "players": ["tab:1", "img:2"], "weight": 1.0}]},
)


class PlantedCase(PlantedGame):
    """A planted game that knows its exact truth and describes itself readably.

    The games of :func:`check_games`, of the ``planted_game`` fixture and of the
    :func:`~mxbench.testing.strategies.planted_games` strategy. It is a
    :class:`~mxbench.task.PlantedGame` (the game of one instance of a task) with

    - :attr:`truth`: the exact :class:`~mxbench.validation.truth.Truth` of the instance
      (``truth.shapley``, ``truth.sii``, ``truth.delta``, ...),
    - :meth:`describe`: the spec, the planted terms as a formula, the latents and the exact
      Shapley values, as a counterexample is reported.

    Parameters
    ----------
    task : Task
        The task.
    instance : int
        The instance number.

    Examples
    --------
    >>> import numpy as np
    >>> game = check_games()[0]
    >>> game
    PlantedCase('unique-3', instance=0, players=3, terms=1)
    >>> e = __import__("mxbench.explainers", fromlist=["Exact"]).Exact().explain(game)
    >>> bool(np.allclose(e.attributions, game.truth.shapley))
    True
    >>> print(game.describe().splitlines()[1])
      v(S) = f*(s masked outside S), f* = 0 + 1.5*s[a:0]; distractors: a:1, a:2
    """

    @property
    def name(self) -> str:
        """``"<task name>#<instance>"``."""
        return f"{self.task.spec.name}#{self.instance}"

    @cached_property
    def truth(self) -> Any:
        """The exact truth of the instance (:meth:`Truth.from_task`)."""
        from mxbench.validation.truth import Truth

        return Truth.from_task(self.task, self.instance)

    def describe(self) -> str:
        """A readable description: spec, planted terms, latents, exact Shapley values.

        Returns
        -------
        str
            Four lines.

        Examples
        --------
        >>> print(check_games()[0].describe())  # doctest: +NORMALIZE_WHITESPACE
        planted game 'unique-3' instance 0 (spec seed 1): 3 players a:0, a:1, a:2; modalities a
          v(S) = f*(s masked outside S), f* = 0 + 1.5*s[a:0]; distractors: a:1, a:2
          latents s = a:0=-0.2073, a:1=-1.354, a:2=-0.7783
          exact Shapley = [-0.311, 0, 0]
        """
        task = self.task
        spec = task.spec
        names = list(task.player_names)
        roles = task.players()["role"].tolist()
        terms = " + ".join(_term_formula(t) for t in task.terms).replace("+ -", "- ")
        distractors = [n for n, r in zip(names, roles) if r == "distractor"]
        latents = ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, task.latents[self.instance]))
        return (f"planted game {spec.name!r} instance {self.instance} (spec seed {spec.seed}): "
                f"{len(names)} players {', '.join(names)}; modalities {', '.join(task.modality_names)}\n"
                f"  v(S) = f*(s masked outside S), f* = {_fmt(spec.intercept)} + {terms}"
                + (f"; distractors: {', '.join(distractors)}" if distractors else "") + "\n"
                f"  latents s = {latents}\n"
                f"  exact Shapley = {_fmt_array(self.truth.shapley)}")

    def __repr__(self) -> str:
        return (f"PlantedCase({self.task.spec.name!r}, instance={self.instance}, players={self.n_players}, "
                f"terms={len(self.task.terms)})")


@functools.lru_cache(maxsize=None)
def _check_task(k: int) -> Task:
    return generate(CHECK_SPECS[k])


def check_tasks() -> list[Task]:
    """The planted tasks of the checks (:data:`CHECK_SPECS`), smallest first; generated once per process.

    Returns
    -------
    list of Task

    Examples
    --------
    >>> [(t.spec.name, t.n_players, t.n_instances) for t in check_tasks()][:2]
    [('unique-3', 3, 2), ('synergy-4', 4, 2)]
    """
    return [_check_task(k) for k in range(len(CHECK_SPECS))]


def check_games(max_players: int | None = None) -> list[PlantedCase]:
    """The games of the checks: instance 0 of each check task, smallest first (fresh game objects).

    Parameters
    ----------
    max_players : int, optional
        Keep the games with at most this many players.

    Returns
    -------
    list of PlantedCase

    Examples
    --------
    >>> [g.name for g in check_games(max_players=5)]
    ['unique-3#0', 'synergy-4#0', 'redundancy-5#0']
    """
    return [PlantedCase(t, 0) for t in check_tasks() if max_players is None or t.n_players <= max_players]
