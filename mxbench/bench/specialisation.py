"""The FL-I2MoE specialisation check: does each expert do the job its name says?

Two measurements on a trained FL-I2MoE model (``docs/reconstructions.md`` §4, §5, §9):

**Routing** (:func:`routing_summary`). On a task whose whole signal is of one modality-level kind
(:func:`matching_expert`: unique to modality ``m``, purely synergistic across modalities, or
purely redundant across them), the reweighting MLP's weight should go to the matching expert
``uni:m``, ``syn`` or ``red``. This is the check the FL-I2MoE authors run on InterSHAP's XOR data
(Decor, §9): the mean weight of each expert, how often it is the top expert, and its margin over
the best other expert, on held-out unmasked instances.

**Expert games** (:func:`expert_games`, :func:`expert_term_share`). Each expert ``e`` has its own
game on instance ``i``: a coalition ``S`` is sent through the model with the players outside ``S``
masked by the one masking rule, and the value is expert ``e``'s output ``out_e(S)``
(``weighted=True``: its contribution ``w_e(S) * out_e(S)`` to the mixture, where the routing
weight ``w_e(S)`` also sees the masked input). The weighted games add up to the model's game
exactly, ``v(S) = sum_e w_e(S) out_e(S)``, and since Möbius coefficients are linear, so do their
coefficients. For every planted term ``t`` over players ``T`` the local Möbius coefficients of a
game over the non-empty subsets of ``T`` (all other players present; the same construction as the
certificate in :meth:`~mxbench.models.trained.TrainedModel.certify`) are compared with the
planted ones ``m*`` by the least-squares coefficient over held-out instances

    ``fit = sum_{i, U} m_e,i(U) m*_i(U) / sum_{i, U} m*_i(U)^2``,

once over every non-empty ``U ⊆ T`` and once over ``U = T`` alone (``_top``: the term's pure
interaction, the part that makes a synergy a synergy or a redundancy a redundancy; for a unique
term both are the same). ``fit`` reads the expert's own game (1: the expert alone reproduces the
term); ``share`` reads its weighted game, and the shares of all experts add up to the model's own
coefficient (about 1 for a certified model), so ``share`` says how much of the term the mixture
takes from that expert.

A term's matching expert is that of its kind (:func:`term_expert`): ``uni:<its modality>`` for a
unique term, ``syn`` for a synergy, ``red`` for a redundancy. A synergy or redundancy inside one
modality is unique to that modality at the modality level, where FL-I2MoE's interaction losses
act (they knock out whole modalities); the ``cross_modal`` column tells the two apart.

The functions need a model whose module exposes ``expert_names`` and, after a forward pass,
``routing`` and ``expert_outputs`` ``(B, E)``, as :class:`~mxbench.models.fl_i2moe.FLI2MoE` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from mxbench.games import Game
from mxbench.models.common import ModelError, to_tensors
from mxbench.oracles.moebius import moebius_from_table, subset_masks
from mxbench.task import Task

__all__ = ["matching_expert", "term_expert", "expert_values", "routing_summary", "ExpertGame", "expert_games",
           "expert_term_share"]


# ---------------------------------------------------------------------- what should happen
def _term_modalities(task: Task, term) -> list[str]:
    names = task.modality_names
    return [names[k] for k in sorted(set(task.modality_of[list(term.ids)].tolist()))]


def matching_expert(task: Task) -> str | None:
    """The expert a task's routing should favour, from its planted terms (modality level).

    Parameters
    ----------
    task : Task
        The task.

    Returns
    -------
    str or None
        ``"uni:<m>"`` when every term reads players of modality ``m`` only (whatever the terms'
        own kinds: a synergy inside ``m`` is unique to ``m`` at the modality level); ``"syn"``
        when every term is a synergy across two or more modalities; ``"red"`` when every term is
        a redundancy across two or more modalities; ``None`` for any mixture.

    Examples
    --------
    >>> import mxbench
    >>> [matching_expert(t) for t in mxbench.generate("specialisation", instances=8)]
    ['uni:tab', 'syn', 'red', 'uni:txt']
    >>> matching_expert(mxbench.generate("smoke", instances=8)[0]) is None
    True
    """
    mods = [_term_modalities(task, t) for t in task.terms]
    if not mods:
        return None
    if all(len(m) == 1 for m in mods) and len({m[0] for m in mods}) == 1:
        return f"uni:{mods[0][0]}"
    for kind, expert in (("synergy", "syn"), ("redundancy", "red")):
        if all(t.kind == kind and len(m) > 1 for t, m in zip(task.terms, mods)):
            return expert
    return None


def term_expert(task: Task, term: int) -> str:
    """The expert of a planted term's kind: ``uni:<modality>``, ``syn`` or ``red``.

    Parameters
    ----------
    task : Task
        The task.
    term : int
        The term's number in ``task.terms``.

    Returns
    -------
    str
        ``"uni:<m>"`` for a unique term on modality ``m``, ``"syn"`` for a synergy,
        ``"red"`` for a redundancy (inside one modality or across several).

    Examples
    --------
    >>> import mxbench
    >>> task = mxbench.generate("smoke", instances=8)[0]
    >>> [term_expert(task, k) for k in range(len(task.terms))]
    ['uni:tab', 'syn', 'red', 'syn']
    """
    if not isinstance(term, (int, np.integer)) or not 0 <= term < len(task.terms):
        raise ModelError(f"term: expected 0..{len(task.terms) - 1}, got {term!r}")
    t = task.terms[term]
    if t.kind == "unique":
        return f"uni:{_term_modalities(task, t)[0]}"
    return "syn" if t.kind == "synergy" else "red"


# ---------------------------------------------------------------------- evaluation
def _check(model: Any, task: Task) -> list[str]:
    """Check the model exposes experts and was trained on this task; return the expert names."""
    if not isinstance(task, Task):
        raise ModelError(f"task: expected an mxbench Task, got {type(task).__name__}")
    module = getattr(model, "module", None)
    names = getattr(module, "expert_names", None)
    if module is None or not names:
        raise ModelError(f"model: expected a TrainedModel of an expert architecture (fl_i2moe), got "
                         f"{getattr(model, 'arch', type(model).__name__)!r}")
    if getattr(model, "spec_hash", None) != task.spec.spec_hash():
        raise ModelError(f"task: the model was trained on task {getattr(model, 'task_name', '?')!r}, "
                         f"not on {task.spec.name!r} (spec hashes differ)")
    return list(names)


def _rows(task: Task, instances: Any, split: str) -> np.ndarray:
    """Held-out rows: the first ``instances`` of ``split`` (falling back to val, then all), or given ids."""
    if isinstance(instances, (int, np.integer)) and not isinstance(instances, bool):
        if instances < 1:
            raise ModelError(f"instances: expected a positive integer or instance ids, got {instances!r}")
        if split not in ("train", "val", "test"):
            raise ModelError(f"split: expected 'train', 'val' or 'test', got {split!r}")
        rows = task.split_indices(split)
        if len(rows) == 0 and split == "test":
            rows = task.split_indices("val")
        if len(rows) == 0:
            rows = np.arange(task.n_instances)
        return rows[:int(instances)]
    rows = np.asarray(instances)
    if rows.ndim != 1 or len(rows) == 0 or rows.dtype.kind not in "iu" or rows.min() < 0 \
            or rows.max() >= task.n_instances:
        raise ModelError(f"instances: expected a positive integer or a non-empty 1-D array of instance ids in "
                         f"0..{task.n_instances - 1}, got {instances!r}")
    return rows


def expert_values(model: Any, task: Task, rows: np.ndarray, coalitions: np.ndarray,
                  batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Every expert's output and routing weight on masked instances, in batches under ``no_grad``.

    Parameters
    ----------
    model : TrainedModel
        A trained FL-I2MoE model (its module exposes ``routing`` and ``expert_outputs``).
    task : Task
        The task it was trained on.
    rows : ndarray of int
        ``(B,)`` the instance of each evaluation.
    coalitions : ndarray of bool
        ``(B, n_players)`` the players present in each evaluation (the others are masked by
        the one masking rule, ``task.plan.mask``).
    batch_size : int
        Evaluations per forward pass.

    Returns
    -------
    outputs, routing : ndarray of float64
        ``(B, E)`` each expert's output and routing weight, experts in ``model.module.expert_names``
        order; ``(routing * outputs).sum(1)`` is the model's output.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("specialisation", instances=64)[1]
    >>> model = train(task, "fl_i2moe", config={"dim": 8, "heads": 2, "layers": 1}, epochs=1,
    ...               examples_per_epoch=64, certify=False)
    >>> out, w = expert_values(model, task, np.array([0, 0]), np.array([[True] * 8, [False] * 8]))
    >>> out.shape, bool(np.allclose(w.sum(1), 1.0))
    ((2, 4), True)
    """
    _check(model, task)
    rows = np.asarray(rows)
    coalitions = np.asarray(coalitions)
    if coalitions.dtype != bool or coalitions.ndim != 2 or coalitions.shape != (len(rows), task.n_players):
        raise ModelError(f"coalitions: expected a bool array of shape ({len(rows)}, {task.n_players}), got "
                         f"{coalitions.dtype} {coalitions.shape}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ModelError(f"batch_size: expected a positive integer, got {batch_size!r}")
    module = model.module
    device = next(iter(module.parameters()), torch.empty(0)).device
    outs, weights = [], []
    module.eval()
    with torch.no_grad():
        for s in range(0, len(rows), batch_size):
            r, c = rows[s:s + batch_size], coalitions[s:s + batch_size]
            x = to_tensors(task.plan.mask({k: v[r] for k, v in task.inputs.items()}, c), device)
            module(x)
            outs.append(module.expert_outputs.double().cpu().numpy())
            weights.append(module.routing.double().cpu().numpy())
    n_e = len(module.expert_names)
    if not outs:
        return np.zeros((0, n_e)), np.zeros((0, n_e))
    return np.concatenate(outs), np.concatenate(weights)


# ---------------------------------------------------------------------- routing
def routing_summary(model: Any, task: Task, instances: Any = 512, split: str = "test",
                    batch_size: int = 4096) -> pd.DataFrame:
    """Mean routing weight of each expert on held-out unmasked instances, and whether it wins.

    Parameters
    ----------
    model : TrainedModel
        A trained FL-I2MoE model.
    task : Task
        The task it was trained on.
    instances : int or array of int
        How many instances of ``split`` (the first ones), or the instance ids themselves.
    split : {"test", "val", "train"}
        The split to draw instances from (``"test"`` falls back to val, then to all instances).
    batch_size : int
        Instances per forward pass.

    Returns
    -------
    pandas.DataFrame
        One row per expert, in the model's order: ``task``, ``expert``, ``mean_weight`` (mean
        routing weight), ``std_weight``, ``top1_rate`` (share of instances where it has the
        largest weight), ``margin`` (mean over instances of its weight minus the largest other
        weight; positive on average only for a dominant expert), ``matching`` (it is
        :func:`matching_expert` of the task) and ``wins`` (its mean weight is the largest).

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.models import train
    >>> task = mxbench.generate("specialisation", instances=64)[0]
    >>> model = train(task, "fl_i2moe", config={"dim": 8, "heads": 2, "layers": 1}, epochs=1,
    ...               examples_per_epoch=64, certify=False)
    >>> frame = routing_summary(model, task)
    >>> frame["expert"].tolist(), round(float(frame["mean_weight"].sum()), 6), int(frame["wins"].sum())
    (['uni:tab', 'uni:txt', 'syn', 'red'], 1.0, 1)
    >>> frame.loc[frame["matching"], "expert"].tolist()
    ['uni:tab']
    """
    names = _check(model, task)
    rows = _rows(task, instances, split)
    _, w = expert_values(model, task, rows, np.ones((len(rows), task.n_players), dtype=bool), batch_size)
    e = len(names)
    others = np.stack([np.delete(w, j, axis=1).max(axis=1) for j in range(e)], axis=1) if e > 1 else np.zeros_like(w)
    top = np.argmax(w, axis=1)
    mean = w.mean(axis=0)
    match = matching_expert(task)
    return pd.DataFrame({
        "task": task.spec.name,
        "expert": names,
        "mean_weight": mean,
        "std_weight": w.std(axis=0),
        "top1_rate": np.bincount(top, minlength=e)[:e] / len(rows),
        "margin": (w - others).mean(axis=0),
        "matching": [n == match for n in names],
        "wins": np.arange(e) == int(np.argmax(mean)),
    })


# ---------------------------------------------------------------------- expert games
class ExpertGame(Game):
    """One expert's game on one instance (see :func:`expert_games`).

    Parameters
    ----------
    model : TrainedModel
        A trained FL-I2MoE model.
    task : Task
        The task it was trained on.
    instance : int
        The instance.
    expert : str
        The expert's name (``model.module.expert_names``).
    weighted : bool
        Value ``w_e(S) * out_e(S)`` (the expert's part of the mixture) instead of ``out_e(S)``.
    batch_size : int
        Coalitions per forward pass.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("specialisation", instances=64)[1]
    >>> model = train(task, "fl_i2moe", config={"dim": 8, "heads": 2, "layers": 1}, epochs=1,
    ...               examples_per_epoch=64, certify=False)
    >>> game = ExpertGame(model, task, 0, "syn")
    >>> game(np.ones((3, 8), bool)).shape, game.n_queries
    ((3,), 3)
    """

    def __init__(self, model: Any, task: Task, instance: int, expert: str, weighted: bool = False,
                 batch_size: int = 4096) -> None:
        names = _check(model, task)
        if not isinstance(instance, (int, np.integer)) or not 0 <= instance < task.n_instances:
            raise ModelError(f"instance: expected 0..{task.n_instances - 1}, got {instance!r}")
        if expert not in names:
            raise ModelError(f"expert: expected one of {names}, got {expert!r}")
        super().__init__(task.n_players, task.modality_of, task.modality_names, task.player_names, batch_size)
        self.model = model
        self.task = task
        self.instance = int(instance)
        self.expert = expert
        self.weighted = bool(weighted)
        self._column = names.index(expert)

    def _value(self, coalitions: np.ndarray) -> np.ndarray:
        rows = np.full(coalitions.shape[0], self.instance)
        out, w = expert_values(self.model, self.task, rows, coalitions, self.batch_size)
        e = self._column
        return out[:, e] * w[:, e] if self.weighted else out[:, e]


def expert_games(model: Any, task: Task, i: int, weighted: bool = False,
                 batch_size: int = 4096) -> dict[str, ExpertGame]:
    """Every expert's own game on instance ``i``: coalitions ``(B, n)`` -> that expert's output ``(B,)``.

    Players outside a coalition are masked by the one masking rule (``task.plan.mask``), the
    batch goes through the whole model under ``torch.no_grad`` and the expert's output is read
    from ``expert_outputs``. Each game counts its own queries (each runs the model).

    Parameters
    ----------
    model : TrainedModel
        A trained FL-I2MoE model.
    task : Task
        The task it was trained on.
    i : int
        The instance.
    weighted : bool
        Value ``w_e(S) * out_e(S)``: the weighted games of all experts add up to ``model.game``.
    batch_size : int
        Coalitions per forward pass.

    Returns
    -------
    dict of str to ExpertGame
        Keyed by expert name, in the model's order.

    Examples
    --------
    >>> import mxbench, numpy as np
    >>> from mxbench.models import train
    >>> task = mxbench.generate("specialisation", instances=64)[2]
    >>> model = train(task, "fl_i2moe", config={"dim": 8, "heads": 2, "layers": 1}, epochs=1,
    ...               examples_per_epoch=64, certify=False)
    >>> games = expert_games(model, task, 0, weighted=True)
    >>> c = np.random.default_rng(0).random((5, 8)) < 0.5
    >>> bool(np.allclose(sum(g(c) for g in games.values()), model.game(task, 0)(c), atol=1e-5))
    True
    """
    names = _check(model, task)
    return {e: ExpertGame(model, task, i, e, weighted, batch_size) for e in names}


def expert_term_share(model: Any, task: Task, instances: Any = 256, split: str = "test",
                      batch_size: int = 4096) -> pd.DataFrame:
    """How much of each planted term each expert's game carries, by exact local Möbius coefficients.

    For every term over players ``T`` (``k = |T|``) and every held-out instance, the ``2^k``
    coalitions that vary ``T`` with every other player present go through the model in one batch
    per ``batch_size``; the Möbius transform of each expert's values over them gives that
    expert's local coefficients ``m_e(U)``, ``U ⊆ T``, compared with the planted ``m*(U)`` (see
    the module docstring for ``fit`` and ``share``).

    Parameters
    ----------
    model : TrainedModel
        A trained FL-I2MoE model.
    task : Task
        The task it was trained on.
    instances : int or array of int
        How many instances of ``split`` (the first ones), or the instance ids themselves.
    split : {"test", "val", "train"}
        The split to draw instances from.
    batch_size : int
        Evaluations per forward pass.

    Returns
    -------
    pandas.DataFrame
        One row per (term, expert): ``task``, ``term_id``, ``kind``, ``players`` (names joined by
        ``"+"``), ``cross_modal``, ``expert``, ``matching`` (``expert == term_expert(task, term)``),
        ``fit`` and ``fit_top`` (the expert's own game against the term: all non-empty subsets,
        and the top coefficient ``U = T`` only), ``error`` (``||m_e - m*|| / ||m*||`` of its own
        game), ``share`` and ``share_top`` (the same coefficients of its weighted game
        ``w_e * out_e``; over the experts they add up to the model's own).

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.models import train
    >>> task = mxbench.generate("specialisation", instances=64)[1]
    >>> model = train(task, "fl_i2moe", config={"dim": 8, "heads": 2, "layers": 1}, epochs=1,
    ...               examples_per_epoch=64, certify=False)
    >>> frame = expert_term_share(model, task, instances=8)
    >>> len(frame), frame.loc[frame["matching"], "expert"].unique().tolist()
    (8, ['syn'])
    """
    names = _check(model, task)
    rows = _rows(task, instances, split)
    latents = task.latents[rows]
    n, e, r = task.n_players, len(names), len(rows)
    records = []
    for k_term, t in enumerate(task.terms):
        ids = list(t.ids)
        k = len(ids)
        coal = np.ones((r * 2**k, n), dtype=bool)
        coal[:, ids] = np.tile(subset_masks(k), (r, 1))
        out, w = expert_values(model, task, np.repeat(rows, 2**k), coal, batch_size)
        own = moebius_from_table(out.reshape(r, 2**k, e).transpose(2, 0, 1))[:, :, 1:]  # (E, r, 2^k - 1)
        part = moebius_from_table((out * w).reshape(r, 2**k, e).transpose(2, 0, 1))[:, :, 1:]
        truth = moebius_from_table(t.table(latents[:, ids]))[:, 1:]  # (r, 2^k - 1)
        norm = float(np.sum(truth**2))
        error = np.sqrt(np.sum((own - truth[None]) ** 2, axis=(1, 2)) / norm) if norm > 0 else np.full(e, np.nan)
        fit, fit_top = _projection(own, truth), _projection(own[:, :, -1:], truth[:, -1:])
        share, share_top = _projection(part, truth), _projection(part[:, :, -1:], truth[:, -1:])
        match = term_expert(task, k_term)
        for j, name in enumerate(names):
            records.append({"task": task.spec.name, "term_id": k_term, "kind": t.kind, "players": "+".join(t.players),
                            "cross_modal": len(_term_modalities(task, t)) > 1, "expert": name,
                            "matching": name == match, "fit": fit[j], "fit_top": fit_top[j], "error": error[j],
                            "share": share[j], "share_top": share_top[j]})
    return pd.DataFrame.from_records(records)


def _projection(m: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Least-squares coefficient of each expert's coefficients ``m`` ``(E, r, u)`` on ``truth`` ``(r, u)``."""
    norm = float(np.sum(truth**2))
    return np.einsum("eru,ru->e", m, truth) / norm if norm > 0 else np.full(m.shape[0], np.nan)
