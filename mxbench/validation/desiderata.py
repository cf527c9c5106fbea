"""The three multimodal desiderata (Granger influence, synergistic faithfulness, unified stability), with exact values.

"Rethinking Explainability in the Era of Multimodal AI" (Agarwal, arXiv 2506.13060) names
three principles without formal definitions; these are the operational definitions of
``docs/reconstructions.md`` §3 (our proposal, not the paper's wording). Each metric
returns the explainer's value next to the oracle's exact value of the same quantity (rows
``...:exact``): the exact Shapley values of the planted game put through the same protocol.
On a model game the ``:exact`` rows are still the planted truth's, so a gap mixes the
model's error (see its certificate) with the explainer's.

The neutral reference of every modality is the project's one masking rule (absent column = 0,
zero patch, ``[MASK]`` token), the same everywhere.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from mxbench.explainers.base import as_game, clone
from mxbench.games import FunctionGame, Game
from mxbench.spec import N_NEUTRAL
from mxbench.task import InputGame
from mxbench.validation.faithfulness import _query, normalise, ranking, top_k
from mxbench.validation.truth import MetricError, Truth, make_rows

#: The fractions of players of synergistic faithfulness (docs/reconstructions.md §3.4).
SYNERGY_FRACTIONS = (0.01, 0.05, 0.10, 0.20, 0.50)


def _explain(explainer: Any, game: Game) -> Any:
    if explainer is None:
        raise MetricError("explainer: this metric re-explains the game and needs the explainer, got None")
    if hasattr(explainer, "explain"):
        return explainer.explain(game)
    if callable(explainer):
        return explainer(game)
    raise MetricError(f"explainer: expected an Explainer or a callable game -> Explanation, "
                      f"got {type(explainer).__name__}")


def with_seed(explainer: Any, seed: int) -> Any:
    """A copy of ``explainer`` with ``random_state=seed`` (scikit-learn ``clone`` style), or itself.

    Parameters
    ----------
    explainer : Explainer
        Any explainer; one without a ``random_state`` parameter is returned unchanged.
    seed : int
        The new random state.

    Returns
    -------
    Explainer

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> with_seed(Exact(random_state=0), 5).random_state
    5
    """
    params = explainer.get_params() if hasattr(explainer, "get_params") else {}
    if "random_state" not in params:
        return explainer
    return clone(explainer, random_state=seed)


def masked_game(game: Any, keep: np.ndarray) -> FunctionGame:
    """The game with the players outside ``keep`` masked for good: ``v'(S) = v(S ∩ keep)``.

    Parameters
    ----------
    game : Game
        The game.
    keep : array_like of bool, shape (n,)
        The players left in.

    Returns
    -------
    FunctionGame
        With the game's modalities and player names.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.games import FunctionGame
    >>> g = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=3)
    >>> masked_game(g, np.array([True, False, True]))(np.ones((1, 3), bool)).tolist()
    [2.0]
    """
    g = as_game(game)
    keep = np.asarray(keep, dtype=bool).reshape(g.n_players)
    return FunctionGame(lambda c: g(c & keep[None, :]), g.n_players, modality_of=g.modality_of,
                        modality_names=g.modality_names, player_names=g.player_names)


def normalised_distance(a: np.ndarray, b: np.ndarray, zero: float = 0.0) -> float:
    """Total variation between L1-normalised vectors, ``sum |a/|a|_1 - b/|b|_1| / 2``, in ``[0, 1]``.

    A vector whose L1 norm is at most ``zero`` counts as zero: two zero vectors are at
    distance 0, a zero and a nonzero one at distance 1.

    Examples
    --------
    >>> normalised_distance([1.0, 1.0], [2.0, 2.0]), normalised_distance([1.0, 0.0], [0.0, -3.0])
    (0.0, 1.0)
    >>> normalised_distance([0.0, 0.0], [1.0, 0.0])
    1.0
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    na, nb = np.abs(a).sum(), np.abs(b).sum()
    if na <= zero or nb <= zero:
        return 0.0 if (na <= zero and nb <= zero) else 1.0
    return float(0.5 * np.abs(a / na - b / nb).sum())


# ---------------------------------------------------------------------- Granger
def granger_influence(explanation: Any, truth: Truth, *, game: Any = None, explainer: Any = None,
                      model: Any = None, **_: Any) -> list[dict]:
    """Granger-style influence of modality ``j`` on the explanation of modality ``i``.

    ``GI_{j→i} = d(E_i(x), E_i(x with modality j masked))``: re-explain the game with
    modality ``j`` at its neutral reference (:func:`masked_game`), ``d`` =
    :func:`normalised_distance` of modality ``i``'s attributions (``[0, 1]``; 0 = the
    explanation of ``i`` does not depend on ``j``). Exact: the same distance between the
    exact Shapley values of the game and of the masked game
    (:meth:`Truth.restricted_shapley`). Also the output drop ``Δf_j``: the explainer's is
    ``sum E(x) - sum E(x_{j←r})``, the exact one ``v(N) - v(N without j)``
    (:meth:`~mxbench.oracles.MoebiusGame.modality_influence`; the two agree for any efficient
    explainer).

    Rows: ``granger_influence`` = mean ``|GI - GI*|`` over ordered modality pairs (lower is
    better, ``[0, 1]``); ``granger_influence@{j}->{i}`` and ``...:exact``;
    ``granger_influence@drop-{j}`` and ``...:exact``. No rows with one modality. Cost: one
    explanation per modality.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> game, ex = task.game(0), Exact()
    >>> rows = {r["metric"]: r["value"] for r in granger_influence(ex.explain(game), Truth.from_task(task, 0),
    ...                                                            game=game, explainer=ex)}
    >>> rows["granger_influence"] < 1e-9
    True
    >>> abs(rows["granger_influence@b->a"] - rows["granger_influence@b->a:exact"]) < 1e-9
    True
    """
    if game is None:
        raise MetricError("game: granger_influence needs the explained game, got None")
    phi = np.asarray(explanation.attributions, dtype=np.float64)
    names, mod = truth.modality_names, truth.modality_of
    if len(names) < 2:
        return []
    zero = 1e-9 * max(1.0, float(np.abs(phi).sum()))
    values: dict[str, float] = {}
    errors = []
    for j, name_j in enumerate(names):
        keep = mod != j
        ablated = np.asarray(_explain(explainer, masked_game(game, keep)).attributions, dtype=np.float64)
        exact = truth.restricted_shapley(keep)
        for i, name_i in enumerate(names):
            if i == j:
                continue
            g = normalised_distance(phi[mod == i], ablated[mod == i], zero)
            g_exact = normalised_distance(truth.shapley[mod == i], exact[mod == i], truth.tol)
            values[f"granger_influence@{name_j}->{name_i}"] = g
            values[f"granger_influence@{name_j}->{name_i}:exact"] = g_exact
            errors.append(abs(g - g_exact))
        values[f"granger_influence@drop-{name_j}"] = float(phi.sum() - ablated.sum())
        values[f"granger_influence@drop-{name_j}:exact"] = float(truth.modality_influence[j])
    return make_rows(truth, explanation, {"granger_influence": float(np.mean(errors)), **values}, model, game)


# ---------------------------------------------------------------------- synergistic faithfulness
def per_modality_top(scores: np.ndarray, modality_of: np.ndarray, k: int) -> np.ndarray:
    """The top-``k`` players chosen modality by modality: ``k`` split in proportion to modality sizes.

    Each modality ``m`` gets ``k_m`` slots (largest remainder of ``k n_m / n``) filled by its
    highest-scoring players.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Importance scores (higher first; ties by player number).
    modality_of : array_like of int, shape (n,)
        Each player's modality.
    k : int
        The total number of players.

    Returns
    -------
    ndarray of bool, shape (n,)

    Examples
    --------
    >>> per_modality_top(np.array([5.0, 4.0, 3.0, 0.1, 0.2, 0.3]), np.array([0, 0, 0, 1, 1, 1]), 2).astype(int).tolist()
    [1, 0, 0, 0, 0, 1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    modality_of = np.asarray(modality_of, dtype=np.int64)
    n = len(scores)
    sizes = np.bincount(modality_of)
    quota = k * sizes / n
    slots = np.floor(quota).astype(np.int64)
    rest = k - slots.sum()
    if rest > 0:
        slots[np.argsort(-(quota - slots), kind="stable")[:rest]] += 1
    out = np.zeros(n, dtype=bool)
    for m, s in enumerate(slots):
        members = np.flatnonzero(modality_of == m)
        out[members[np.argsort(-scores[members], kind="stable")[:s]]] = True
    return out


def synergistic_faithfulness(explanation: Any, truth: Truth, *, game: Any = None, model: Any = None,
                             fractions: Sequence[float] = SYNERGY_FRACTIONS, **_: Any) -> list[dict]:
    """Sufficiency and necessity of the top-k units ranked jointly across modalities.

    ERASER-style, at each fraction ``K``: ``S_k`` = the top ``k`` players by importance
    (ranked jointly over all modalities, as in :mod:`~mxbench.validation.faithfulness`);
    *necessity* = ``(v(N) - v(N without S_k)) / (v(N) - v(∅))`` (higher is better),
    *sufficiency* = ``(v(N) - v(S_k)) / (v(N) - v(∅))`` (lower is better). The synergy
    check repeats both with per-modality top sets of the same total size
    (:func:`per_modality_top`). All coalitions in one game call.

    Rows (AOPC = the mean over the fractions): ``synergistic_faithfulness`` = AOPC of
    necessity minus sufficiency, jointly ranked (higher is better; about ``[-1, 1]``);
    ``@necessity``, ``@sufficiency``; ``@gain`` = the joint score minus the per-modality
    score (higher is better; > 0 when ranking across modalities helps). ``:exact`` rows rank
    by the exact Shapley values.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> rows = synergistic_faithfulness(Exact().explain(task.game(0)), Truth.from_task(task, 0), game=task.game(0))
    >>> sorted({r["metric"].split(":")[0].partition("@")[2] for r in rows})
    ['', 'gain', 'necessity', 'sufficiency']
    """
    if game is None:
        raise MetricError("game: synergistic_faithfulness needs the explained game, got None")
    fractions = tuple(float(f) for f in fractions)
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise MetricError(f"fractions: expected fractions in (0, 1], got {list(fractions)}")
    n = truth.n_players
    phi = np.asarray(explanation.attributions, dtype=np.float64)
    if phi.shape != (n,):
        raise MetricError(f"explanation: {phi.shape[0]} attributions, but the truth has {n} players")
    rows = [np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
    for att in (phi, truth.shapley):
        for sign in (1.0, -1.0):
            order = ranking(att, sign)
            score = np.empty(n)
            score[order] = -np.arange(n, dtype=np.float64)  # rank as a score: ties already broken
            for f in fractions:
                k = top_k(f, n)
                joint = np.zeros(n, dtype=bool)
                joint[order[:k]] = True
                split = per_modality_top(score, truth.modality_of, k)
                rows += [~joint, joint, ~split, split]
    values = _query(game, np.array(rows))
    v_full, v_empty = values[0], values[1]
    body = values[2:].reshape(2, 2, len(fractions), 4)
    pick = 0 if v_full - v_empty >= 0 else 1
    scale = max(float(np.abs(truth.shapley).sum()), truth.tol)
    out: dict[str, float] = {}
    for who, suffix in ((0, ""), (1, ":exact")):
        change = 1.0 - normalise(body[who, pick], v_full, v_empty, scale)  # (fractions, 4)
        nec, suf = change[:, 0].mean(), change[:, 1].mean()
        nec_split, suf_split = change[:, 2].mean(), change[:, 3].mean()
        out[f"synergistic_faithfulness{suffix}"] = float(nec - suf)
        out[f"synergistic_faithfulness@necessity{suffix}"] = float(nec)
        out[f"synergistic_faithfulness@sufficiency{suffix}"] = float(suf)
        out[f"synergistic_faithfulness@gain{suffix}"] = float((nec - suf) - (nec_split - suf_split))
    return make_rows(truth, explanation, out, model, game)


# ---------------------------------------------------------------------- unified stability
def perturb_inputs(task: Any, instance: int, epsilon: float, n_draws: int,
                   random_state: Any = 0) -> dict[str, np.ndarray]:
    """Small joint perturbations of one instance's raw inputs, every modality at once.

    - float modalities (columns, pixels): add Gaussian noise of standard deviation
      ``epsilon`` times the instance's root-mean-square value of that modality;
    - token modalities: swap ``max(1, round(epsilon * length))`` valued tokens to a
      neighbouring token in value order (a "synonym": the nearest other value of the
      modality's value table).

    Parameters
    ----------
    task : Task
        The task.
    instance : int
        The instance.
    epsilon : float
        The perturbation size, > 0.
    n_draws : int
        How many perturbed copies.
    random_state : int or Generator
        Seeds the draws.

    Returns
    -------
    dict of str to ndarray
        Raw inputs per modality, shape ``(n_draws, *shape)``, the dtype of the task's inputs.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.validation.truth import EXAMPLE_SPEC
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> out = perturb_inputs(task, 0, 0.05, 3)
    >>> out["a"].shape, bool((out["a"] != task.inputs["a"][0]).all())
    ((3, 4), True)
    """
    if not epsilon > 0:
        raise MetricError(f"epsilon: expected a positive perturbation size, got {epsilon!r}")
    rng = np.random.default_rng(random_state)
    out = {}
    for k, renderer in enumerate(task.plan.renderers):
        name = renderer.spec.name
        x = np.asarray(task.inputs[name][instance])
        draws = np.repeat(x[None], n_draws, axis=0)
        if x.dtype.kind == "f":
            rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
            out[name] = (draws + epsilon * rms * rng.standard_normal(draws.shape)).astype(x.dtype)
            continue
        values = np.asarray(renderer.values)
        valued = np.arange(1 + N_NEUTRAL, len(values))
        sorted_ids = valued[np.argsort(values[valued], kind="stable")]
        position = np.full(len(values), -1)
        position[sorted_ids] = np.arange(len(sorted_ids))
        flat = draws.reshape(n_draws, -1)
        swaps = max(1, int(round(epsilon * flat.shape[1])))
        for r in range(n_draws):
            slots = np.flatnonzero(position[flat[r]] >= 0)
            if len(slots) == 0 or len(sorted_ids) < 2:
                continue
            chosen = rng.choice(slots, size=min(swaps, len(slots)), replace=False)
            pos = position[flat[r, chosen]] + rng.choice([-1, 1], size=len(chosen))
            pos = np.where(pos < 0, 1, np.where(pos >= len(sorted_ids), len(sorted_ids) - 2, pos))
            flat[r, chosen] = sorted_ids[pos]
        out[name] = flat.reshape(draws.shape).astype(x.dtype)
    return out


def _predictor(model: Any, game: Any) -> Any:
    if model is not None and hasattr(model, "predict"):
        return model
    inner = getattr(game, "model", None)
    return inner if inner is not None and hasattr(inner, "predict") else None


def unified_stability(explanation: Any, truth: Truth, *, explainer: Any = None, task: Any = None, game: Any = None,
                      model: Any = None, epsilon: float = 0.05, n_perturbations: int = 4, n_reruns: int = 3,
                      random_state: Any = 0, **_: Any) -> list[dict]:
    """Local Lipschitz ratio of the explanation under small cross-modal perturbations, and rerun spread.

    ``L(x) = max_r ||E(x + δ_r) - E(x)||_2 / sum_m ||δ_{r,m}||_2`` over ``n_perturbations``
    joint perturbations of every modality (:func:`perturb_inputs`), ``δ_m`` measured on the
    decoded latents of modality ``m`` (one scale for columns, patches and tokens). Each
    perturbed instance is re-explained on its own game (:class:`~mxbench.task.InputGame`: the model, or
    the planted f*). Exact: the same ratio of the exact Shapley values of the perturbed
    instances' planted games. Rerun spread: the same instance re-explained with
    ``n_reruns`` other seeds (:func:`with_seed`),
    ``mean_s ||E_s(x) - E(x)||_2 / ||E(x)||_2``; its exact value is 0.

    Rows: ``unified_stability`` (= L) and ``unified_stability:exact`` — lower is more
    stable, ``[0, inf)``, compare with the exact value (a discontinuous planted term makes
    even the exact ratio large); ``unified_stability@rerun`` and ``...:exact`` — lower is
    better, ``[0, inf)``. Cost: ``n_perturbations + n_reruns`` explanations.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC, Truth
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> ex = Exact()
    >>> rows = {r["metric"]: r["value"] for r in unified_stability(
    ...     ex.explain(task.game(0)), Truth.from_task(task, 0), explainer=ex, task=task, n_perturbations=2)}
    >>> abs(rows["unified_stability"] - rows["unified_stability:exact"]) < 1e-9, rows["unified_stability@rerun"]
    (True, 0.0)
    """
    if task is None:
        raise MetricError("task: unified_stability perturbs the instance's inputs and needs the task, got None")
    if task.spec.name != truth.task or not 0 <= truth.instance < task.n_instances:
        raise MetricError(f"task: the truth is of {truth.task!r} instance {truth.instance}, "
                          f"not of task {task.spec.name!r}")
    for name, v in (("n_perturbations", n_perturbations), ("n_reruns", n_reruns)):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise MetricError(f"{name}: expected a non-negative integer, got {v!r}")
    phi = np.asarray(explanation.attributions, dtype=np.float64)
    inst = truth.instance
    predictor = _predictor(model, game)
    out: dict[str, float] = {}
    if n_perturbations:
        draws = perturb_inputs(task, inst, epsilon, n_perturbations, random_state)
        latents = task.plan.decode(draws)
        base = task.latents[inst]
        delta = latents - base[None, :]
        size = np.stack([np.linalg.norm(delta[:, truth.modality_of == m], axis=1)
                         for m in range(len(truth.modality_names))], axis=1).sum(axis=1)
        exact = task.plan.oracle(latents).shapley()
        exact_base = task.plan.oracle(base[None, :]).shapley()[0]  # the planted truth, whatever built `truth`
        ratios, exact_ratios = [], []
        for r in range(n_perturbations):
            if size[r] <= 0:
                continue
            e = _explain(explainer, InputGame(task, {k: v[r] for k, v in draws.items()}, predictor))
            ratios.append(np.linalg.norm(np.asarray(e.attributions) - phi) / size[r])
            exact_ratios.append(np.linalg.norm(exact[r] - exact_base) / size[r])
        out["unified_stability"] = float(max(ratios)) if ratios else float("nan")
        out["unified_stability:exact"] = float(max(exact_ratios)) if exact_ratios else float("nan")
    if n_reruns:
        if explainer is None:
            raise MetricError("explainer: unified_stability re-explains the game and needs the explainer, got None")
        base_game = game if game is not None else InputGame(task, {k: v[inst] for k, v in task.inputs.items()},
                                                            predictor)
        params = explainer.get_params() if hasattr(explainer, "get_params") else {}
        base_seed = params.get("random_state")
        base_seed = int(base_seed) if isinstance(base_seed, (int, np.integer)) else 0
        norm = max(float(np.linalg.norm(phi)), truth.tol)
        spread = [np.linalg.norm(np.asarray(_explain(with_seed(explainer, base_seed + 1 + s), base_game).attributions)
                                 - phi) / norm for s in range(n_reruns)]
        out["unified_stability@rerun"] = float(np.mean(spread))
        out["unified_stability@rerun:exact"] = 0.0
    return make_rows(truth, explanation, out, model, game)


__all__ = ["InputGame", "SYNERGY_FRACTIONS", "granger_influence", "masked_game", "normalised_distance",
           "per_modality_top", "perturb_inputs", "synergistic_faithfulness", "unified_stability", "with_seed"]
