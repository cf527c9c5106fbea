"""Axiom violations of an explanation: efficiency, symmetry, dummy, linearity, SII symmetry.

Each row is the size of a violation (0 = the axiom holds), lower is better, range
``[0, inf)``, in the units of the game's output. Symmetric pairs and dummies are read
exactly from the truth (:meth:`~mxbench.validation.truth.Truth.symmetric_pairs`,
:meth:`~mxbench.validation.truth.Truth.active`); on a model game they are the planted game's,
which a certified model approximates. A value is NaN when the axiom has nothing to check on
the instance (no symmetric pairs, no dummies, no interactions).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mxbench.explainers.base import as_game
from mxbench.games import FunctionGame
from mxbench.validation.desiderata import _explain
from mxbench.validation.truth import MetricError, Truth, make_rows

#: How many symmetric pairs :func:`sii_symmetry` compares at once (bounds its memory).
_CHUNK = 4096


def _phi(explanation: Any, truth: Truth) -> np.ndarray:
    phi = np.asarray(explanation.attributions, dtype=np.float64)
    if phi.shape != (truth.n_players,):
        raise MetricError(f"explanation: {phi.shape[0]} attributions, but the truth has {truth.n_players} players")
    return phi


def efficiency(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None, **_: Any) -> list[dict]:
    """``|sum φ - (v(N) - v(∅))|``: how far the attributions are from sharing the whole change.

    ``v(N)`` and ``v(∅)`` are read from the game when given (one call), else from the truth.
    Row ``efficiency``: lower is better, ``[0, inf)``. Only efficient explainers (Shapley
    estimators with the efficiency constraint) should be near 0; LIME-like surrogates need
    not be.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.games import FunctionGame
    >>> from mxbench.validation.truth import Truth
    >>> t = Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] + c[:, 1], n_players=2))
    >>> efficiency(Explanation(np.array([2.0, 0.5]), np.zeros(1), ("all",), np.zeros(2, int)), t)[0]["value"]
    0.5
    """
    phi = _phi(explanation, truth)
    if game is not None:
        n = truth.n_players
        v = np.asarray(game(np.array([np.ones(n, dtype=bool), np.zeros(n, dtype=bool)])), dtype=np.float64)
        delta = float(v[0] - v[1])
    else:
        delta = truth.delta
    return make_rows(truth, explanation, {"efficiency": abs(float(phi.sum()) - delta)}, model, game)


def symmetry(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """``max |φ_i - φ_j|`` over the pairs of players that are symmetric in the game.

    Row ``symmetry``: lower is better, ``[0, inf)``; NaN without symmetric pairs.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.games import FunctionGame
    >>> from mxbench.validation.truth import Truth
    >>> t = Truth.from_game(FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], n_players=3))
    >>> symmetry(Explanation(np.array([1.5, 0.5, 1.0]), np.zeros(1), ("all",), np.zeros(3, int)), t)[0]["value"]
    1.0
    """
    phi = _phi(explanation, truth)
    pairs = truth.symmetric_pairs()
    value = float(np.abs(phi[pairs[:, 0]] - phi[pairs[:, 1]]).max()) if len(pairs) else float("nan")
    return make_rows(truth, explanation, {"symmetry": value}, model, game)


def dummy(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """``max |φ_i|`` over the dummy players of the instance's game (distractors, inactive planted players).

    Row ``dummy``: lower is better, ``[0, inf)``; NaN without dummies.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.games import FunctionGame
    >>> from mxbench.validation.truth import Truth
    >>> t = Truth.from_game(FunctionGame(lambda c: 1.0 * c[:, 0], n_players=3))
    >>> dummy(Explanation(np.array([1.0, -0.25, 0.1]), np.zeros(1), ("all",), np.zeros(3, int)), t)[0]["value"]
    0.25
    """
    phi = _phi(explanation, truth)
    dummies = ~truth.active()
    value = float(np.abs(phi[dummies]).max()) if dummies.any() else float("nan")
    return make_rows(truth, explanation, {"dummy": value}, model, game)


def _second_game(truth: Truth, game: Any, task: Any, model: Any, random_state: Any):
    if task is not None and task.spec.name == truth.task and task.n_instances > 1:
        other = (truth.instance + 1) % task.n_instances
        inner = getattr(game, "model", None)
        source = model if model is not None and hasattr(model, "game") else inner
        if source is not None and hasattr(source, "game"):
            return source.game(task, other)
        return task.game(other)
    g = as_game(game)
    w = np.random.default_rng(random_state).standard_normal(g.n_players)
    return FunctionGame(lambda c: c.astype(np.float64) @ w, g.n_players, modality_of=g.modality_of,
                        modality_names=g.modality_names, player_names=g.player_names)


def linearity(explanation: Any, truth: Truth, *, game: Any = None, explainer: Any = None, task: Any = None,
              model: Any = None, game2: Any = None, random_state: Any = 0, **_: Any) -> list[dict]:
    """``max_i |φ_i(v + w) - φ_i(v) - φ_i(w)|``: additivity of the explainer over games.

    ``v`` is the explained game (``explanation`` is its explanation), ``w`` is ``game2``, or
    the same task's next instance (``instance + 1``, the model's game when the game is a
    model's), or — without a task — a random additive game seeded by ``random_state``. The
    explainer explains ``w`` and ``v + w`` with its own parameters and seed. Row
    ``linearity``: lower is better, ``[0, inf)``. Cost: two explanations.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Exact
    >>> from mxbench.games import FunctionGame
    >>> from mxbench.validation.truth import Truth
    >>> g = FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], n_players=3)
    >>> rows = linearity(Exact().explain(g), Truth.from_game(g), game=g, explainer=Exact())
    >>> rows[0]["value"] < 1e-12
    True
    """
    if game is None:
        raise MetricError("game: linearity needs the explained game, got None")
    phi = _phi(explanation, truth)
    g1 = as_game(game)
    g2 = as_game(game2) if game2 is not None else _second_game(truth, game, task, model, random_state)
    if g2.n_players != g1.n_players:
        raise MetricError(f"game2: expected {g1.n_players} players, got {g2.n_players}")
    total = FunctionGame(lambda c: g1(c) + g2(c), g1.n_players, modality_of=g1.modality_of,
                         modality_names=g1.modality_names, player_names=g1.player_names)
    phi2 = np.asarray(_explain(explainer, g2).attributions, dtype=np.float64)
    phi12 = np.asarray(_explain(explainer, total).attributions, dtype=np.float64)
    return make_rows(truth, explanation, {"linearity": float(np.abs(phi12 - phi - phi2).max())}, model, game)


def sii_symmetry(explanation: Any, truth: Truth, *, model: Any = None, game: Any = None, **_: Any) -> list[dict]:
    """``max |I_ik - I_jk|`` over symmetric pairs ``(i, j)`` and every third player ``k`` both pairs cover.

    The symmetry axiom of interaction indices: symmetric players interact equally with
    everyone else. Row ``sii_symmetry``: lower is better, ``[0, inf)``; NaN without
    interactions or without a comparable triple. No rows without interactions.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Explanation
    >>> from mxbench.games import FunctionGame
    >>> from mxbench.validation.truth import Truth
    >>> t = Truth.from_game(FunctionGame(lambda c: 1.0 * c[:, 0] * c[:, 2] + 1.0 * c[:, 1] * c[:, 2], n_players=3))
    >>> e = Explanation(np.zeros(3), np.zeros(1), ("all",), np.zeros(3, int), {(0, 2): 1.0, (1, 2): 0.75, (0, 1): 0.0})
    >>> sii_symmetry(e, t)[0]["value"]
    0.25
    """
    _phi(explanation, truth)
    if not explanation.interactions:
        return []
    matrix = explanation.interaction_matrix(fill=np.nan)
    pairs = truth.symmetric_pairs()
    # only third players k with two covered pairs can compare; the symmetric pairs go in chunks
    # (at a thousand players the dummies alone make ~500,000 symmetric pairs)
    cols = np.flatnonzero(np.isfinite(matrix).sum(axis=0) >= 2)
    sub = matrix[:, cols]
    largest = []
    for start in range(0, len(pairs) if len(cols) else 0, _CHUNK):
        p = pairs[start:start + _CHUNK]
        diff = np.abs(sub[p[:, 0]] - sub[p[:, 1]])  # (chunk, cols): |I_ik - I_jk|
        diff[(cols[None, :] == p[:, :1]) | (cols[None, :] == p[:, 1:])] = np.nan
        if np.isfinite(diff).any():
            largest.append(float(np.nanmax(diff)))
    value = max(largest) if largest else float("nan")
    return make_rows(truth, explanation, {"sii_symmetry": value}, model, game)
