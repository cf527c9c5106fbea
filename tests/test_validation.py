"""The validators: the exact truth, every metric on hand-computed cases, and exact > random > inverted."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import mxbench
from mxbench.errors import MxbenchError
from mxbench.explainers import Exact, Explanation
from mxbench.explainers.base import Explainer
from mxbench.games import FunctionGame
from mxbench.oracles import banzhaf_values, enumerate_game, shapley_values, sii_matrix
from mxbench.validation import (COLUMNS, FAMILIES, METRICS, MetricError, Truth, direction, evaluate, get_metric,
                                metric_names, parse_metric)
from mxbench.validation import axioms, desiderata, faithfulness, recovery
from mxbench.validation.truth import EXAMPLE_SPEC, make_rows, model_label

# --------------------------------------------------------------------------- helpers


class RandomExplainer(Explainer):
    """Gaussian noise for attributions, modalities and every pair, fresh for each game and seed.

    It asks the game for ``v(N)`` once and seeds its noise with ``(random_state, v(N))``, so
    two different games get independent explanations and a rerun with the same seed repeats.
    """

    name = "random"

    def __init__(self, random_state=0):
        self.random_state = random_state

    def _explain(self, game, rng):
        n = game.n_players
        full = game(np.ones((1, n), dtype=bool))[0]
        bits = int(np.frombuffer(np.float64(full).tobytes(), np.uint64)[0] % 2**32)
        rng = np.random.default_rng([int(self.random_state), bits])
        i, j = np.triu_indices(n, 1)
        return {"attributions": rng.standard_normal(n), "modality": rng.standard_normal(len(game.modality_names)),
                "interactions": {(int(a), int(b)): float(v) for a, b, v in zip(i, j, rng.standard_normal(len(i)))}}


class Transformed(Explainer):
    """The exact explanation put through ``fn(dict) -> dict`` (inverted, noisy, ...)."""

    def __init__(self, kind="negate", random_state=0):
        self.kind = kind
        self.random_state = random_state

    @property
    def name(self):
        return self.kind

    def _explain(self, game, rng):
        out = dict(Exact()._explain(game, rng))
        return TRANSFORMS[self.kind](out, rng)


def _negate(out, rng):
    return {**out, "attributions": -out["attributions"]}


def _magnitude(out, rng):
    """Reverse the ranking by magnitude: the largest |φ| becomes the smallest, zeros the largest."""
    a = np.abs(out["attributions"])
    inter = out["interactions"]
    top = max(abs(v) for v in inter.values())
    return {**out, "attributions": a.max() - a + 1e-3, "modality": out["modality"][::-1].copy(),
            "interactions": {k: float(top - abs(v)) for k, v in inter.items()}}


def _flip_pairs(out, rng):
    return {**out, "interactions": {k: -v for k, v in out["interactions"].items()}}


def _noisy(out, rng):
    return {**out, "attributions": out["attributions"] + 0.3 * rng.standard_normal(len(out["attributions"]))}


TRANSFORMS = {"negate": _negate, "magnitude": _magnitude, "flip_pairs": _flip_pairs, "noisy": _noisy}


def explanation(attributions, modality_of, modality=None, interactions=None, names=None, explainer="hand", extras=None):
    modality_of = np.asarray(modality_of)
    n_mod = int(modality_of.max()) + 1
    names = names or tuple(f"m{k}" for k in range(n_mod))
    modality = np.zeros(n_mod) if modality is None else np.asarray(modality, dtype=float)
    return Explanation(np.asarray(attributions, dtype=float), modality, names, modality_of, interactions,
                       explainer=explainer, extras=extras or {})


def value_of(rows, metric):
    found = [r["value"] for r in rows if r["metric"] == metric]
    assert len(found) == 1, f"{metric}: {len(found)} rows in {[r['metric'] for r in rows]}"
    return found[0]


class Counting:
    """A game wrapper that counts calls (batches)."""

    def __init__(self, game):
        self.game = game
        self.calls = 0
        self.n_players = game.n_players
        self.modality_of = game.modality_of
        self.modality_names = game.modality_names
        self.player_names = game.player_names

    def __call__(self, c):
        self.calls += 1
        return self.game(c)


@pytest.fixture(scope="module")
def smoke():
    return mxbench.generate("smoke", instances=60)


@pytest.fixture(scope="module")
def tab_txt(smoke):
    return smoke[0]


@pytest.fixture(scope="module")
def example():
    return mxbench.generate(EXAMPLE_SPEC)


@pytest.fixture(scope="module")
def truths(smoke):
    """All instances' truths of every smoke task."""
    return {task.spec.name: Truth.from_task_many(task) for task in smoke}


@pytest.fixture(scope="module")
def exact_explanations(smoke):
    """Exact explanations of the first 24 instances of the two 12-player smoke tasks (cheap games)."""
    return {task.spec.name: [Exact().explain(task.game(i)) for i in range(24)] for task in (smoke[0], smoke[2])}


# --------------------------------------------------------------------------- truth


def test_truth_from_task_equals_brute_force_enumeration(smoke, truths):
    for task in smoke:
        for i in (0, 7):
            t = truths[task.spec.name][i]
            values = enumerate_game(task.game(i))
            np.testing.assert_allclose(t.shapley, shapley_values(values), atol=1e-9)
            np.testing.assert_allclose(t.banzhaf, banzhaf_values(values), atol=1e-9)
            np.testing.assert_allclose(t.sii, sii_matrix(values), atol=1e-9)
            assert t.v_full == pytest.approx(values[-1]) and t.v_empty == pytest.approx(values[0])
            g = Truth.from_game(task.game(i))
            for field in ("shapley", "banzhaf", "sii", "modality_shapley", "modality_influence"):
                np.testing.assert_allclose(getattr(t, field), getattr(g, field), atol=1e-9, err_msg=field)
            assert (g.roles == t.roles).all() and g.instance == i and g.task == task.spec.name
            # restricted games, active players and symmetric pairs: oracle backend == enumeration backend
            for m in range(len(task.modality_names)):
                keep = task.modality_of != m
                np.testing.assert_allclose(t.restricted_shapley(keep), g.restricted_shapley(keep), atol=1e-9)
                masked = FunctionGame(lambda c, k=keep, gm=task.game(i): gm(c & k), task.n_players)
                np.testing.assert_allclose(t.restricted_shapley(keep), shapley_values(enumerate_game(masked)),
                                           atol=1e-9)
            assert (t.active() == g.active()).all()
            assert t.symmetric_pairs().tolist() == g.symmetric_pairs().tolist()
            coalitions = np.random.default_rng(i).random((5, task.n_players)) < 0.5
            np.testing.assert_allclose(t.values(coalitions), task.game(i)(coalitions), atol=1e-9)


def test_symmetric_pairs_match_the_definition(tab_txt, truths):
    n = tab_txt.n_players
    bits = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)
    for i in (0, 3):
        values = enumerate_game(tab_txt.game(i))
        t = truths[tab_txt.spec.name][i]
        expected = []
        for a in range(n):
            for b in range(a + 1, n):
                free = np.flatnonzero(~bits[:, a] & ~bits[:, b])
                if np.allclose(values[free | (1 << a)], values[free | (1 << b)], atol=1e-9):
                    expected.append([a, b])
        assert t.symmetric_pairs().tolist() == expected
        distractors = np.flatnonzero(t.roles == "distractor")
        assert [int(distractors[0]), int(distractors[1])] in expected  # dummies are symmetric


def test_truth_roles_units_and_inactive_players(smoke, truths):
    img = smoke[1]  # an "and" synergy on img:0 x txt:1: a dummy pair whenever one latent is <= 0
    t_all = truths[img.spec.name]
    syn = [int(p) for p in img.pairs().query("kind == 'synergy'")[["i", "j"]].values[0]]
    inactive = [t for t in t_all if (t.latents[syn] <= 0).any()]
    active = [t for t in t_all if (t.latents[syn] > 0).all()]
    assert inactive and active
    for t in inactive:
        assert not t.active()[syn].any() and not t.relevant()[syn].any()
        assert (np.abs(t.shapley[syn]) == 0).all()
    for t in active:
        assert t.relevant()[syn].all()
    t = truths[smoke[2].spec.name][0]  # 3-copy redundancy tab:1, img:2, txt:3
    units = [u.tolist() for u in t.units()]
    red = sorted(np.flatnonzero(t.roles == "redundancy").tolist())
    assert red in units and len(units) == t.n_players - len(red) + 1
    assert t.distractors().sum() == (t.roles == "distractor").sum()


def test_truth_batch_and_bad_input(example):
    many = Truth.from_task_many(example, [5, 2], chunk=1)
    assert [t.instance for t in many] == [5, 2]
    np.testing.assert_allclose(many[0].shapley, Truth.from_task(example, 5).shapley)
    assert len(Truth.from_task_many(example)) == example.n_instances
    with pytest.raises(MetricError, match="instances: .* got 8"):
        Truth.from_task(example, 8)
    big = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=21)
    with pytest.raises(MetricError, match="at most 20 players, got 21"):
        Truth.from_game(big)
    assert issubclass(MetricError, MxbenchError)


def test_rows_labels_and_metric_names(example):
    t = Truth.from_task(example, 0)
    e = explanation(np.zeros(6), example.modality_of, explainer="lemon")
    rows = make_rows(t, e, {"x": 1, "y@a:exact": 2.5}, model="fusion_mlp")
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == [
        ("example", 0, "fusion_mlp", "lemon", "x", 1.0), ("example", 0, "fusion_mlp", "lemon", "y@a:exact", 2.5)]

    class Fake:
        arch = "transformer"

    assert model_label(Fake()) == "transformer" and model_label(None) == "planted"
    assert parse_metric("granger_influence@txt->tab:exact") == ("granger_influence", "txt->tab", True)


# --------------------------------------------------------------------------- recovery: formulas by hand


def test_recovery_formulas_by_hand():
    from scipy import stats

    assert recovery.auc_score([0.9, 0.4], [0.5, 0.1, 0.4]) == pytest.approx((3 + 1.5) / 6)
    assert math.isnan(recovery.auc_score([], [1.0]))
    assert recovery.precision_at([3, 2, 1, 0], [True, False, True, False], 3) == pytest.approx(2 / 3)
    assert recovery.total_variation(recovery.shares([1.0, -3.0]), [0.5, 0.5]) == pytest.approx(0.25)
    assert recovery._rank_correlation("spearman", [1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert recovery._rank_correlation("kendall", [1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 15).astype(float), rng.standard_normal(15)  # ties: tau-b
    assert recovery._rank_correlation("kendall", a, b) == pytest.approx(stats.kendalltau(a, b)[0])
    assert recovery._rank_correlation("spearman", a, b) == pytest.approx(stats.spearmanr(a, b)[0])
    assert math.isnan(recovery._rank_correlation("spearman", [1, 1, 1], [1, 2, 3]))


def test_recovery_metrics_by_hand(example):
    t = Truth.from_task(example, 0)  # relevant 0, 1, 2, 4, 5 (all active); distractor 3
    assert t.relevant().tolist() == [True, True, True, False, True, True]
    phi = np.array([5.0, 4.0, 3.0, 3.5, 2.0, 1.0])
    e = explanation(phi, example.modality_of)
    assert value_of(recovery.auroc(e, t), "auroc@active") == pytest.approx(2 / 5)
    assert value_of(recovery.precision_at_k(e, t), "precision_at_k@active") == pytest.approx(4 / 5)
    # pooled: units 0, 1, {2, 5}, 4 score 5, 4, mean(3, 1) = 2, 2 against the distractor's 3.5
    assert value_of(recovery.auroc_pooled(e, t), "auroc_pooled@active") == pytest.approx(2 / 4)
    # every planted player is material on this instance: the main rows agree with the @active rows
    assert t.material().tolist() == t.relevant().tolist()
    for fn, row, value in ((recovery.auroc, "auroc", 2 / 5), (recovery.precision_at_k, "precision_at_k", 4 / 5),
                           (recovery.auroc_pooled, "auroc_pooled", 2 / 4)):
        assert value_of(fn(e, t), row) == pytest.approx(value)
    # on instance 6 the synergy a:1 x b:0 is active but not material (|φ| 0.043 < 5% of 1.795)
    t6 = Truth.from_task(example, 6)
    assert t6.material().tolist() == [True, False, True, False, False, True]
    e6 = explanation([1.8, 0.01, 0.9, 0.5, 0.01, 0.9], example.modality_of)
    assert value_of(recovery.auroc(e6, t6), "auroc") == 1.0
    assert value_of(recovery.auroc(e6, t6), "auroc@active") == pytest.approx(3 / 5)
    from scipy import stats
    assert value_of(recovery.spearman(e, t), "spearman") == pytest.approx(stats.spearmanr(phi, t.shapley)[0])
    assert value_of(recovery.kendall(e, t), "kendall") == pytest.approx(stats.kendalltau(phi, t.shapley)[0])
    units = t.units()
    assert value_of(recovery.spearman_pooled(e, t), "spearman_pooled") == pytest.approx(
        stats.spearmanr([phi[u].sum() for u in units], [t.shapley[u].sum() for u in units])[0])
    exact_units = np.array([t.shapley[u].sum() for u in units if t.roles[u[0]] != "distractor"])
    expected = np.mean(np.sign([phi[u].sum() for u in units if t.roles[u[0]] != "distractor"]) == np.sign(exact_units))
    assert value_of(recovery.sign_agreement(e, t), "sign_agreement") == pytest.approx(expected)
    shares = np.abs(t.modality_shapley) / np.abs(t.modality_shapley).sum()
    e2 = explanation(phi, example.modality_of, modality=[3.0, -1.0])
    assert value_of(recovery.modality_share_error(e2, t), "modality_share_error") == pytest.approx(
        0.5 * np.abs(np.array([0.75, 0.25]) - shares).sum())


def test_pair_metrics_by_hand(example):
    t = Truth.from_task(example, 0)
    assert len(recovery.identifiable_pairs(t)) == 2
    # planted pairs (1, 4) synergy and (2, 5) redundancy; rank (1, 4) first, then a wrong pair
    e = explanation(t.shapley, example.modality_of, interactions={(1, 4): 9.0, (0, 3): -5.0, (2, 5): 1.0})
    assert value_of(recovery.pair_precision(e, t), "pair_precision@active") == pytest.approx(0.5)
    # partial coverage: the uncovered planted pair is a miss
    e_part = explanation(t.shapley, example.modality_of, interactions={(1, 4): 1.0})
    assert value_of(recovery.pair_precision(e_part, t), "pair_precision@active") == pytest.approx(0.5)
    # kind from the SII sign against the joint credit phi_i + phi_j of the same explanation
    joint_syn, joint_red = t.shapley[1] + t.shapley[4], t.shapley[2] + t.shapley[5]
    right = explanation(t.shapley, example.modality_of,
                        interactions={(1, 4): np.sign(joint_syn), (2, 5): -np.sign(joint_red)})
    wrong_one = explanation(t.shapley, example.modality_of,
                            interactions={(1, 4): -np.sign(joint_syn), (2, 5): -np.sign(joint_red)})
    assert value_of(recovery.pair_kind_accuracy(right, t), "pair_kind_accuracy") == 1.0
    assert value_of(recovery.pair_kind_accuracy(wrong_one, t), "pair_kind_accuracy") == 0.5
    # a pure interaction probe (no player credit) is oriented by the exact joint credit
    probe = explanation(np.zeros(6), example.modality_of,
                        interactions={(1, 4): np.sign(joint_syn), (2, 5): np.sign(joint_red)})
    assert value_of(recovery.pair_kind_accuracy(probe, t), "pair_kind_accuracy") == 0.5
    # a redundancy score: high = redundant; ranked by value for precision
    rg = explanation(t.shapley, example.modality_of, interactions={(1, 4): 0.0, (2, 5): 2.0, (0, 3): 1.0},
                     extras={"interaction_index": "RG"})
    assert recovery.interaction_reading(rg) == "score"
    assert value_of(recovery.pair_kind_accuracy(rg, t), "pair_kind_accuracy") == 1.0
    assert value_of(recovery.pair_precision(rg, t), "pair_precision@active") == 1.0
    # the index decides, never the explainer's name: a pair list named like a redundancy probe but
    # declaring no score index reads as SII
    named = explanation(t.shapley, example.modality_of, interactions={(2, 5): -1.0}, explainer="redundancy_gap")
    assert recovery.interaction_reading(named) != "score"
    # no interactions: no rows
    assert recovery.pair_precision(explanation(t.shapley, example.modality_of), t) == []
    assert recovery.pair_kind_accuracy(explanation(t.shapley, example.modality_of), t) == []


def test_recovery_rejects_a_wrong_number_of_players(example):
    t = Truth.from_task(example, 0)
    with pytest.raises(MetricError, match="explanation: 5 attributions, but the truth has 6 players"):
        recovery.auroc(explanation(np.zeros(5), np.zeros(5, int)), t)


# --------------------------------------------------------------------------- material against active players

#: Roles and pairs for :func:`_material_game`: a:0 unique, a:1 x b:0 and a:2 x b:1 synergies, a:3 and b:2 distractors.
MATERIAL_SPEC = {"name": "material", "instances": 4, "seed": 0, "modalities": [
    {"name": "a", "kind": "tabular", "features": 4}, {"name": "b", "kind": "tabular", "features": 3}],
    "terms": [{"kind": "unique", "players": ["a:0"]}, {"kind": "synergy", "players": ["a:1", "b:0"]},
              {"kind": "synergy", "players": ["a:2", "b:1"]}]}
MATERIAL_ROWS = ["auroc", "auroc_pooled", "precision_at_k", "pair_precision"]


def _material_game():
    """``2 a:0 + a:1 b:0 + 0.02 a:2 b:1``: Shapley 2, 0.5, 0.01, 0 | 0.5, 0.01, 0; SII 1 and 0.02.

    a:2 and b:1 are active (nonzero) but below 5% of the largest |Shapley| (0.01 < 0.1), and
    their pair below 5% of the largest planted |SII| (0.02 < 0.05).
    """
    return FunctionGame(lambda c: 2.0 * c[:, 0] + 1.0 * c[:, 1] * c[:, 4] + 0.02 * c[:, 2] * c[:, 5], 7,
                        modality_of=[0, 0, 0, 0, 1, 1, 1], modality_names=("a", "b"))


def test_material_and_active_rows_differ_on_a_tiny_planted_player():
    from mxbench.validation.truth import MATERIAL_SHARE

    assert MATERIAL_SHARE == 0.05
    game = _material_game()
    t = Truth.from_game(game, task=mxbench.generate(MATERIAL_SPEC), instance=0)
    np.testing.assert_allclose(t.shapley, [2.0, 0.5, 0.01, 0.0, 0.5, 0.01, 0.0], atol=1e-12)
    assert t.material().tolist() == [True, True, False, False, True, False, False]
    assert t.relevant().tolist() == [True, True, True, False, True, True, False]
    assert t.distractors().tolist() == [False, False, False, True, False, False, True]
    assert t.pair_arrays()[0].tolist() == [1, 2] and t.material_pairs().tolist() == [True, False]
    # right on the material players and pair, but the tiny players sit below the distractors
    e = explanation([2.0, 0.5, 0.001, 0.05, 0.5, 0.002, 0.03], game.modality_of,
                    interactions={(1, 4): 0.9, (0, 3): 0.5, (2, 5): 0.01})
    got = evaluate(e, t, MATERIAL_ROWS)
    assert dict(zip(got["metric"], got["value"])) == pytest.approx({
        "auroc": 1.0, "auroc@active": 6 / 10,                 # 3 of 5 positives above both distractors
        "auroc_pooled": 1.0, "auroc_pooled@active": 6 / 10,   # no redundancy: units are the players
        "precision_at_k": 1.0, "precision_at_k@active": 3 / 5,  # top 5 of 7 hold the two distractors
        "pair_precision": 1.0, "pair_precision@active": 1 / 2})  # top 2 pairs: (1, 4) and the wrong (0, 3)
    exact = evaluate(Exact().explain(game), t, MATERIAL_ROWS)
    assert len(exact) == 8 and (exact["value"] == 1.0).all()
    assert direction("auroc@active") == "higher" and direction("pair_precision@active") == "higher"


def test_material_players_on_a_bare_game_are_the_large_ones():
    """Without roles: material = above 5% of the largest |Shapley|; distractors = dummies; no pairs."""
    game = _material_game()
    t = Truth.from_game(game)
    assert (t.roles == "unknown").all()
    assert t.material().tolist() == [True, True, False, False, True, False, False]
    assert t.relevant().tolist() == [True, True, True, False, True, True, False]
    assert t.distractors().tolist() == [False, False, False, True, False, False, True]
    assert t.material_pairs().tolist() == []
    e = explanation([2.0, 0.5, 0.001, 0.05, 0.5, 0.002, 0.03], game.modality_of, interactions={(1, 4): 0.9})
    got = evaluate(e, t, MATERIAL_ROWS)
    values = dict(zip(got["metric"], got["value"]))
    assert {k: values[k] for k in ("auroc", "auroc@active", "precision_at_k", "precision_at_k@active")} == \
        pytest.approx({"auroc": 1.0, "auroc@active": 0.6, "precision_at_k": 1.0, "precision_at_k@active": 0.6})
    assert math.isnan(values["pair_precision"]) and math.isnan(values["pair_precision@active"])


def test_material_players_of_the_smoke_tasks(truths):
    pool = _pool(truths)
    differ = 0
    for t in pool:
        phi = np.abs(t.shapley)
        assert (t.material() <= t.relevant()).all()
        assert (t.material() == t.relevant() & (phi >= 0.05 * phi.max()) & (phi > t.tol)).all()
        differ += int((t.material() != t.relevant()).any())
        i, j, kind, sii = t.pair_arrays()
        assert (t.material_pairs() <= (np.abs(sii) > t.tol)).all()
    assert 0 < differ < len(pool)  # the two definitions part on some instances, not on all


# --------------------------------------------------------------------------- recovery: exact, random, inverted

RECOVERY = {  # row: (exact value, chance, inverted bound, which inverted transform)
    "auroc": (1.0, 0.5, 0.0, "magnitude"),
    "auroc@active": (1.0, 0.5, 0.0, "magnitude"),
    "auroc_pooled": (1.0, 0.5, 0.0, "magnitude"),
    "auroc_pooled@active": (1.0, 0.5, 0.0, "magnitude"),
    "spearman": (1.0, 0.0, -1.0, "negate"),
    "spearman_pooled": (1.0, 0.0, -1.0, "negate"),
    "kendall": (1.0, 0.0, -1.0, "negate"),
    "sign_agreement": (1.0, 0.5, 0.0, "negate"),
    "pair_kind_accuracy": (1.0, 0.5, 0.0, "flip_pairs"),
}


def _pool(truths):
    """40 instances of each smoke task: 120 truths."""
    return [t for ts in truths.values() for t in ts[:40]]


def _recovery_means(truths, explain, metric, row=None):
    """The mean over ``truths`` of ``metric``'s row ``row`` (default: its main row)."""
    values = [value_of(METRICS[metric](explain(t), t), row or metric) for t in truths]
    return float(np.nanmean(values))


def _random_explanation(t, seed):
    rng = np.random.default_rng(seed)
    n = t.n_players
    i, j = np.triu_indices(n, 1)
    return explanation(rng.standard_normal(n), t.modality_of, modality=rng.standard_normal(len(t.modality_names)),
                       interactions={(int(a), int(b)): float(v) for a, b, v in zip(i, j, rng.standard_normal(len(i)))},
                       names=t.modality_names, explainer="random")


def _exact_explanation(t, kind=None):
    n = t.n_players
    i, j = np.triu_indices(n, 1)
    out = {"attributions": t.shapley.copy(), "modality": t.modality_shapley.copy(),
           "interactions": {(int(a), int(b)): float(t.sii[a, b]) for a, b in zip(i, j)}}
    if kind is not None:
        out = TRANSFORMS[kind](out, None)
    return explanation(out["attributions"], t.modality_of, out["modality"], out["interactions"], t.modality_names,
                       explainer=kind or "exact")


@pytest.mark.parametrize("row", sorted(RECOVERY))
def test_recovery_exact_best_random_chance_inverted_worst(truths, exact_explanations, row):
    best, chance, worst, kind = RECOVERY[row]
    metric = parse_metric(row)[0]
    pool = _pool(truths)
    # the Exact explainer on the game (not just the truth's numbers) scores exactly best
    for name, explained in exact_explanations.items():
        for e, t in zip(explained[:8], truths[name]):
            assert value_of(METRICS[metric](e, t), row) == pytest.approx(best)
    assert _recovery_means(pool, _exact_explanation, metric, row) == pytest.approx(best)
    rand = np.mean([_recovery_means(pool, lambda t, s=s: _random_explanation(t, [s, t.instance]), metric, row)
                    for s in range(3)])
    assert abs(rand - chance) < 0.06, f"{row}: random scores {rand}, chance is {chance}"
    inverted = _recovery_means(pool, lambda t: _exact_explanation(t, kind), metric, row)
    assert inverted == pytest.approx(worst, abs=0.02)
    assert inverted < rand < best


def test_precision_at_k_and_share_error_and_pair_precision_orders(truths):
    pool = _pool(truths)
    for row, chance_of in (("precision_at_k", lambda t: t.material().sum() / (t.material() | t.distractors()).sum()),
                           ("precision_at_k@active",
                            lambda t: t.relevant().sum() / (t.relevant() | t.distractors()).sum()),
                           ("pair_precision", None), ("pair_precision@active", None), ("modality_share_error", None)):
        metric = parse_metric(row)[0]
        exact = _recovery_means(pool, _exact_explanation, metric, row)
        rand = np.mean([_recovery_means(pool, lambda t, s=s: _random_explanation(t, [s, t.instance]), metric, row)
                        for s in range(3)])
        inverted = _recovery_means(pool, lambda t: _exact_explanation(t, "magnitude"), metric, row)
        if metric == "modality_share_error":
            assert exact == pytest.approx(0.0, abs=1e-12) and exact < rand < inverted
        else:
            assert exact == pytest.approx(1.0) and inverted < rand < exact
        if chance_of is not None:
            assert rand == pytest.approx(np.mean([chance_of(t) for t in pool]), abs=0.05)
    # pair precision at chance: P active planted pairs among all n(n-1)/2 pairs
    active = [(np.abs(t.planted_pairs()["sii"]) > t.tol).sum() for t in pool]
    chance = np.mean([p / (t.n_players * (t.n_players - 1) / 2) for p, t in zip(active, pool) if p > 0])
    rand = np.mean([_recovery_means(pool, lambda t, s=s: _random_explanation(t, [s, t.instance]), "pair_precision",
                                    "pair_precision@active") for s in range(3)])
    assert rand == pytest.approx(chance, abs=0.05)


def test_cost_rows(example):
    e = Exact().explain(example.game(0))
    t = Truth.from_task(example, 0)
    assert value_of(recovery.n_queries(e, t), "n_queries") == 64.0
    assert value_of(recovery.seconds(e, t), "seconds") == pytest.approx(e.seconds)


# --------------------------------------------------------------------------- faithfulness by hand


def _additive(weights, modality_of=None):
    w = np.asarray(weights, dtype=float)
    return FunctionGame(lambda c: c.astype(float) @ w, len(w), modality_of=modality_of)


def test_deletion_insertion_comprehensiveness_sufficiency_by_hand():
    game = _additive([3.0, 2.0, 1.0, 0.0])
    truth = Truth.from_game(game)
    e = explanation([3.0, 2.0, 1.0, 0.0], np.zeros(4, int))
    frame = faithfulness.curves(e, truth, game)
    np.testing.assert_allclose(frame["deletion"], [1.0, 0.5, 1 / 6, 0.0, 0.0])
    np.testing.assert_allclose(frame["insertion"], [0.0, 0.5, 5 / 6, 1.0, 1.0])
    assert value_of(faithfulness.deletion(e, truth, game=game), "deletion") == pytest.approx(7 / 24)
    assert value_of(faithfulness.insertion(e, truth, game=game), "insertion") == pytest.approx(1 - 7 / 24)
    comp = faithfulness.comprehensiveness(e, truth, game=game, fractions=[0.25, 0.5])
    assert value_of(comp, "comprehensiveness@25%") == pytest.approx(0.5)
    assert value_of(comp, "comprehensiveness@50%") == pytest.approx(5 / 6)
    assert value_of(comp, "comprehensiveness") == pytest.approx((0.5 + 5 / 6) / 2)
    suff = faithfulness.sufficiency(e, truth, game=game, fractions=[0.25, 0.5])
    assert value_of(suff, "sufficiency@25%") == pytest.approx(0.5)
    assert value_of(suff, "sufficiency@50%") == pytest.approx(1 / 6)
    # the reversed ranking
    rev = explanation([0.0, 1.0, 2.0, 3.0], np.zeros(4, int))
    assert value_of(faithfulness.deletion(rev, truth, game=game), "deletion") == pytest.approx(
        faithfulness.area(np.array([6, 6, 5, 3, 0]) / 6))
    # a game whose prediction lies below the baseline: importance = -phi
    neg = _additive([-3.0, -1.0])
    assert faithfulness.ranking(Truth.from_game(neg).shapley, -4.0).tolist() == [0, 1]
    e_neg = explanation([-3.0, -1.0], np.zeros(2, int))
    assert value_of(faithfulness.deletion(e_neg, Truth.from_game(neg), game=neg), "deletion") == pytest.approx(
        faithfulness.area(np.array([1.0, 0.25, 0.0])))


def test_faithfulness_guards_and_one_call(tab_txt, truths):
    flat = FunctionGame(lambda c: c[:, 0] * 1.0 - c[:, 1] * 1.0, 2)
    rows = faithfulness.deletion(explanation([1.0, -1.0], [0, 0]), Truth.from_game(flat), game=flat)
    assert all(math.isnan(r["value"]) for r in rows)  # v(N) = v(∅): nothing to normalise by
    t = truths[tab_txt.spec.name][0]
    e = Exact().explain(tab_txt.game(0))
    for fn in (faithfulness.deletion, faithfulness.insertion, faithfulness.comprehensiveness, faithfulness.sufficiency,
               faithfulness.pair_masking, desiderata.synergistic_faithfulness):
        counted = Counting(tab_txt.game(0))
        fn(e, t, game=counted)
        assert counted.calls == 1, fn.__name__
    with pytest.raises(MetricError, match="game: .* needs the explained game"):
        faithfulness.deletion(e, t)
    with pytest.raises(MetricError, match=r"fractions: expected fractions in \(0, 1\], got \[0.0\]"):
        faithfulness.comprehensiveness(e, t, game=tab_txt.game(0), fractions=[0.0])
    with pytest.raises(MetricError, match="n_pairs: expected 1..66, got 0"):
        faithfulness.pair_masking(e, t, game=tab_txt.game(0), n_pairs=0)


def test_pair_masking_by_hand():
    # v = 4 x0 x1 + x2 (+ dummies 3, 4): masking the pair (0, 1) drops 4 of 5
    game = FunctionGame(lambda c: 4.0 * c[:, 0] * c[:, 1] + c[:, 2], 5)
    truth = Truth.from_game(game)
    truth.pairs = pd.DataFrame({"i": [0], "j": [1], "kind": ["synergy"], "term_id": [0], "sii": [4.0]})
    e = explanation(truth.shapley, np.zeros(5, int), interactions={(0, 1): 4.0, (2, 3): 0.5, (3, 4): 0.1})
    rows = faithfulness.pair_masking(e, truth, game=game, repeats=50, random_state=1)
    pairs = faithfulness._random_pairs(5, 1, 50, 1)[:, 0]
    drops = [abs(5.0 - game(faithfulness._without(p, 5)[None])[0]) / 5.0 for p in pairs]
    assert value_of(rows, "pair_masking@ranked") == pytest.approx(0.8)
    assert value_of(rows, "pair_masking@random") == pytest.approx(np.mean(drops))
    assert value_of(rows, "pair_masking") == pytest.approx(0.8 - np.mean(drops))
    assert value_of(rows, "pair_masking@planted") == 1.0
    assert value_of(rows, "pair_masking@planted:exact") == 1.0
    bad = explanation(truth.shapley, np.zeros(5, int), interactions={(0, 1): 0.1, (3, 4): 1.0})
    assert value_of(faithfulness.pair_masking(bad, truth, game=game), "pair_masking@ranked") == 0.0
    assert faithfulness.pair_masking(explanation(truth.shapley, np.zeros(5, int)), truth, game=game) == []


# --------------------------------------------------------------------------- faithfulness: exact, random, inverted

FAITHFULNESS = {  # metric: (direction, inverted transform)
    "deletion": ("lower", "negate"),
    "insertion": ("higher", "negate"),
    "comprehensiveness": ("higher", "negate"),
    "sufficiency": ("lower", "negate"),
    "synergistic_faithfulness": ("higher", "negate"),
    "pair_masking": ("higher", "magnitude"),
}


@pytest.fixture(scope="module")
def faithfulness_means(smoke, exact_explanations):
    """Mean main value of each game metric for exact, random and inverted explanations (two tasks x 16 instances)."""
    out = {}
    for task in (smoke[0], smoke[2]):
        truths = Truth.from_task_many(task, range(16))
        for i, t in enumerate(truths):
            game = task.game(i)
            exact = exact_explanations[task.spec.name][i]
            raw = {"attributions": exact.attributions, "modality": exact.modality, "interactions": exact.interactions}
            randoms = [(f"random{s}", RandomExplainer(s).explain(game)) for s in range(3)]
            for metric, (_, kind) in FAITHFULNESS.items():
                inv = TRANSFORMS[kind](dict(raw), None)
                inverted = Explanation(inv["attributions"], inv["modality"], exact.modality_names, exact.modality_of,
                                       inv["interactions"])
                for name, e in (("exact", exact), ("inverted", inverted), *randoms):
                    rows = METRICS[metric](e, t, game=game)
                    out.setdefault((metric, name), []).append(value_of(rows, metric))
                    if name == "exact":
                        out.setdefault((metric, "exact-row"), []).append(value_of(rows, metric + ":exact"))
    return {k: float(np.nanmean(v)) for k, v in out.items()}


@pytest.mark.parametrize("metric", sorted(FAITHFULNESS))
def test_faithfulness_exact_best_random_between_inverted_worst(faithfulness_means, metric):
    sign = 1.0 if FAITHFULNESS[metric][0] == "higher" else -1.0
    exact = faithfulness_means[(metric, "exact")]
    rand = np.mean([faithfulness_means[(metric, f"random{s}")] for s in range(3)])
    inverted = faithfulness_means[(metric, "inverted")]
    assert exact == pytest.approx(faithfulness_means[(metric, "exact-row")])  # the :exact row is the oracle's ranking
    assert sign * exact > sign * rand + 0.1 > sign * inverted + 0.2, (exact, rand, inverted)


def test_pair_masking_random_explainer_is_at_chance(faithfulness_means):
    rand = np.mean([faithfulness_means[("pair_masking", f"random{s}")] for s in range(3)])
    assert abs(rand) < 0.1  # random pairs against random pairs: no gap


# --------------------------------------------------------------------------- desiderata


def test_desiderata_helpers_by_hand(tab_txt):
    assert desiderata.normalised_distance([1.0, 3.0], [3.0, 1.0]) == pytest.approx(0.5)
    assert desiderata.normalised_distance([1e-15, 0.0], [0.0, 0.0], zero=1e-9) == 0.0
    top = desiderata.per_modality_top(np.array([9.0, 8, 7, 6, 1, 2]), np.array([0, 0, 0, 0, 1, 1]), 3)
    assert top.tolist() == [True, True, False, False, False, True]  # quotas 2 and 1
    draws = desiderata.perturb_inputs(tab_txt, 4, 0.05, 6, random_state=3)
    txt = tab_txt.plan.renderers[1]
    before = txt.values[tab_txt.inputs["txt"][4]]
    after = txt.values[draws["txt"]]
    changed = (after != before).sum(axis=1)
    valued = np.sort(txt.values[4:])
    assert (changed <= 1).all() and changed.sum() >= 1
    for r, s in zip(*np.nonzero(after != before)):  # a swap moves to the neighbouring value
        k = np.searchsorted(valued, before[s])
        assert after[r, s] in (valued[max(k - 1, 0)], valued[min(k + 1, len(valued) - 1)])
    assert draws["tab"].dtype == tab_txt.inputs["tab"].dtype and (draws["tab"] != tab_txt.inputs["tab"][4]).all()
    game = desiderata.InputGame(tab_txt, {k: v[4] for k, v in tab_txt.inputs.items()})
    c = np.random.default_rng(0).random((4, tab_txt.n_players)) < 0.5
    np.testing.assert_allclose(game(c), tab_txt.game(4)(c))
    with pytest.raises(MetricError, match="epsilon: expected a positive perturbation size, got 0"):
        desiderata.perturb_inputs(tab_txt, 0, 0, 2)


def test_granger_influence_by_hand():
    # modality 0 = players 0, 1; modality 1 = player 2. v = 2 x0 x2 + x1
    game = FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 2] + c[:, 1], 3, modality_of=[0, 0, 1],
                        modality_names=["a", "b"])
    truth = Truth.from_game(game)
    ex = Exact()
    rows = desiderata.granger_influence(ex.explain(game), truth, game=game, explainer=ex)
    # E_a = (1, 1) -> with b masked (0, 1): distance |0.5-0| + |0.5-1| over 2 = 0.5
    assert value_of(rows, "granger_influence@b->a") == pytest.approx(0.5)
    assert value_of(rows, "granger_influence@b->a:exact") == pytest.approx(0.5)
    # E_b = (1,) -> with a masked (0,): zero against nonzero = 1
    assert value_of(rows, "granger_influence@a->b:exact") == pytest.approx(1.0)
    assert value_of(rows, "granger_influence@drop-a:exact") == pytest.approx(3.0)  # v(N) - v({2}) = 3 - 0
    assert value_of(rows, "granger_influence@drop-b") == pytest.approx(2.0)
    assert value_of(rows, "granger_influence") == pytest.approx(0.0, abs=1e-12)
    one = FunctionGame(lambda c: c[:, 0] * 1.0, 2)
    assert desiderata.granger_influence(ex.explain(one), Truth.from_game(one), game=one, explainer=ex) == []
    with pytest.raises(MetricError, match="explainer: this metric re-explains the game and needs the explainer"):
        desiderata.granger_influence(ex.explain(game), truth, game=game)


def test_synergistic_faithfulness_by_hand():
    # v = 4 x0 x1 + x2, modality a = {0, 1}, b = {2, 3, 4}; exact phi = (2, 2, 1, 0, 0), v(N) = 5
    game = FunctionGame(lambda c: 4.0 * c[:, 0] * c[:, 1] + 1.0 * c[:, 2], 5, modality_of=[0, 0, 1, 1, 1],
                        modality_names=["a", "b"])
    truth = Truth.from_game(game)
    e = Exact().explain(game)
    rows = desiderata.synergistic_faithfulness(e, truth, game=game, fractions=[0.4])
    # joint top-2 = {0, 1}: necessity = (5 - v({2, 3, 4})) / 5 = 0.8, sufficiency = (5 - v({0, 1})) / 5 = 0.2
    assert value_of(rows, "synergistic_faithfulness@necessity") == pytest.approx(0.8)
    assert value_of(rows, "synergistic_faithfulness@sufficiency") == pytest.approx(0.2)
    assert value_of(rows, "synergistic_faithfulness") == pytest.approx(0.6)
    # per-modality top-2: quotas 0.8 and 1.2 -> one each = {0, 2}: necessity 5/5, sufficiency 4/5 -> 0.2
    split = desiderata.per_modality_top(e.attributions, truth.modality_of, 2)
    assert split.tolist() == [True, False, True, False, False]
    assert value_of(rows, "synergistic_faithfulness@gain") == pytest.approx(0.6 - 0.2)
    assert value_of(rows, "synergistic_faithfulness@gain:exact") == pytest.approx(0.4)


@pytest.fixture(scope="module")
def reexplained(tab_txt, truths):
    """Granger, stability and linearity rows of exact, random and noisy explainers on 3 instances."""
    out = {}
    for i in range(3):
        t = truths[tab_txt.spec.name][i]
        game = tab_txt.game(i)
        for ex in (Exact(), RandomExplainer(0), Transformed("noisy", random_state=0)):
            e = ex.explain(game)
            rows = (desiderata.granger_influence(e, t, game=game, explainer=ex)
                    + desiderata.unified_stability(e, t, explainer=ex, task=tab_txt, game=game, n_perturbations=3,
                                                   n_reruns=2)
                    + axioms.linearity(e, t, game=game, explainer=ex, task=tab_txt))
            for r in rows:
                out.setdefault((ex.name, r["metric"]), []).append(r["value"])
    return out


def test_granger_and_stability_exact_matches_oracle_random_does_not(reexplained):
    mean = {k: float(np.mean(v)) for k, v in reexplained.items()}
    assert mean[("exact", "granger_influence")] == pytest.approx(0.0, abs=1e-9)
    for key in [k for k in reexplained if k[0] == "exact" and k[1].startswith("granger_influence@")
                and not k[1].endswith(":exact")]:
        np.testing.assert_allclose(reexplained[key], reexplained[(key[0], key[1] + ":exact")], atol=1e-9)
    assert mean[("random", "granger_influence")] > 0.15
    assert mean[("noisy", "granger_influence")] > 0.05
    # efficient exact explainer: its output drop is the oracle's modality influence
    drop = mean[("exact", "granger_influence@drop-txt")]
    assert drop == pytest.approx(mean[("exact", "granger_influence@drop-txt:exact")])
    for i in range(3):
        assert reexplained[("exact", "unified_stability")][i] == pytest.approx(
            reexplained[("exact", "unified_stability:exact")][i])
    assert mean[("exact", "unified_stability@rerun")] == 0.0
    # the random explainer is unstable to perturbations and to reruns, the noisy one to reruns
    assert mean[("random", "unified_stability")] > 3 * mean[("exact", "unified_stability")]
    assert mean[("random", "unified_stability@rerun")] > 0.5
    assert mean[("noisy", "unified_stability@rerun")] > 0.05


def test_unified_stability_needs_task_and_explainer(tab_txt, example):
    t = Truth.from_task(tab_txt, 0)
    e = Exact().explain(tab_txt.game(0))
    with pytest.raises(MetricError, match="task: unified_stability perturbs"):
        desiderata.unified_stability(e, t, explainer=Exact())
    with pytest.raises(MetricError, match="task: the truth is of 'smoke-tab-txt' instance 0, not of task 'example'"):
        desiderata.unified_stability(e, t, explainer=Exact(), task=example)
    rows = desiderata.unified_stability(e, t, explainer=Exact(), task=tab_txt, n_perturbations=0, n_reruns=1)
    assert [r["metric"] for r in rows] == ["unified_stability@rerun", "unified_stability@rerun:exact"]
    # a truth enumerated from the game gives the same exact ratio as the oracle's
    by_oracle = desiderata.unified_stability(e, t, explainer=Exact(), task=tab_txt, n_perturbations=2, n_reruns=0)
    by_game = desiderata.unified_stability(e, Truth.from_game(tab_txt.game(0)), explainer=Exact(), task=tab_txt,
                                           n_perturbations=2, n_reruns=0)
    assert value_of(by_game, "unified_stability:exact") == pytest.approx(value_of(by_oracle, "unified_stability:exact"))
    assert value_of(by_game, "unified_stability") == pytest.approx(value_of(by_oracle, "unified_stability:exact"))
    with pytest.raises(MetricError, match="explainer: metric 'linearity' needs the explainer that made the explanation"):
        METRICS["linearity"](e, t, game=tab_txt.game(0))


# --------------------------------------------------------------------------- axioms


def test_axioms_by_hand():
    game = FunctionGame(lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2], 4)  # 0 ~ 1 symmetric, 3 a dummy
    t = Truth.from_game(game)
    assert t.symmetric_pairs().tolist() == [[0, 1]] and (~t.active()).tolist() == [False, False, False, True]
    e = explanation([1.5, 0.25, 1.0, -0.5], np.zeros(4, int), interactions={(0, 2): 0.5, (1, 2): 0.0, (0, 1): 2.0})
    assert value_of(axioms.efficiency(e, t), "efficiency") == pytest.approx(abs(2.25 - 3.0))
    assert value_of(axioms.efficiency(e, t, game=game), "efficiency") == pytest.approx(0.75)
    assert value_of(axioms.symmetry(e, t), "symmetry") == pytest.approx(1.25)
    assert value_of(axioms.dummy(e, t), "dummy") == pytest.approx(0.5)
    assert value_of(axioms.sii_symmetry(e, t), "sii_symmetry") == pytest.approx(0.5)  # |I_02 - I_12|
    # linearity: an explainer that squares the exact values is not additive over games
    g2 = FunctionGame(lambda c: 1.0 * c[:, 3], 4)

    class Squared(Explainer):
        name = "squared"

        def __init__(self, random_state=0):
            self.random_state = random_state

        def _explain(self, game, rng):
            return {"attributions": Exact()._explain(game, rng)["attributions"] ** 2}

    sq = Squared()
    rows = axioms.linearity(sq.explain(game), t, game=game, explainer=sq, game2=g2)
    # phi(v) = (1, 1, 1, 0), phi(w) = (0, 0, 0, 1), phi(v + w) = (1, 1, 1, 1)^2: additive here
    assert value_of(rows, "linearity") == pytest.approx(0.0)
    g3 = FunctionGame(lambda c: 1.0 * c[:, 2], 4)
    rows = axioms.linearity(sq.explain(game), t, game=game, explainer=sq, game2=g3)
    assert value_of(rows, "linearity") == pytest.approx(abs(4.0 - 1.0 - 1.0))
    nothing = FunctionGame(lambda c: 1.0 * c[:, 0] + 2.0 * c[:, 1], 2)
    tn = Truth.from_game(nothing)
    en = explanation([1.0, 2.0], [0, 0])
    assert math.isnan(value_of(axioms.symmetry(en, tn), "symmetry"))
    assert math.isnan(value_of(axioms.dummy(en, tn), "dummy"))
    assert axioms.sii_symmetry(en, tn) == []


def test_axioms_exact_zero_random_positive(smoke, truths, exact_explanations, reexplained):
    for name, explained in exact_explanations.items():
        task = next(t for t in smoke if t.spec.name == name)
        for i, e in enumerate(explained[:6]):
            t = truths[name][i]
            r = RandomExplainer(0).explain(task.game(i))
            for fn, metric in ((axioms.efficiency, "efficiency"), (axioms.symmetry, "symmetry"),
                               (axioms.dummy, "dummy"), (axioms.sii_symmetry, "sii_symmetry")):
                assert value_of(fn(e, t, game=task.game(i)), metric) < 1e-9
                assert value_of(fn(r, t, game=task.game(i)), metric) > 0.1
    assert max(reexplained[("exact", "linearity")]) < 1e-9
    assert min(reexplained[("random", "linearity")]) > 0.1


# --------------------------------------------------------------------------- registry and evaluate


def test_registry_is_complete_and_consistent():
    assert set(metric_names()) == set(METRICS)
    for name, m in METRICS.items():
        assert m.name == name and m.family in FAMILIES and m.direction in ("higher", "lower")
        assert m.range[0] < m.range[1]
    assert direction("comprehensiveness@10%:exact") == "higher"
    assert direction("pair_masking@random") is None and direction("pair_masking@planted") == "higher"
    assert direction("synergistic_faithfulness@sufficiency") == "lower"
    assert direction("granger_influence@txt->tab") is None and direction("granger_influence") == "lower"
    with pytest.raises(MetricError, match="metric: unknown metric 'nope' \\(choose from auroc, "):
        get_metric("nope")
    with pytest.raises(MetricError, match="family: unknown family 'x'"):
        metric_names("x")


def test_evaluate_runs_what_the_context_allows(tab_txt, truths):
    t = truths[tab_txt.spec.name][1]
    game = tab_txt.game(1)
    ex = Exact()
    e = ex.explain(game)
    bare = evaluate(e, t)
    assert list(bare.columns) == list(COLUMNS)
    bases = set(bare["metric"].map(lambda m: parse_metric(m)[0]))
    assert bases == {k for k, m in METRICS.items() if not (m.needs_game or m.needs_explainer or m.needs_task)}
    full = evaluate(e, t, game=game, explainer=ex, task=tab_txt, model="planted",
                    options={"unified_stability": {"n_perturbations": 1, "n_reruns": 1},
                             "pair_masking": {"repeats": 2}})
    assert set(full["metric"].map(lambda m: parse_metric(m)[0])) == set(METRICS)
    assert (full["task"] == "smoke-tab-txt").all() and (full["instance"] == 1).all()
    assert (full["explainer"] == "exact").all() and (full["model"] == "planted").all()
    with pytest.raises(MetricError, match="game: metric 'deletion' needs the explained game"):
        evaluate(e, t, ["deletion"])
    with pytest.raises(MetricError, match="unknown metric 'aurok'"):
        evaluate(e, t, ["auroc"], options={"aurok": {}})
    assert evaluate(e, t, "auroc")[["metric", "value"]].values.tolist() == [["auroc", 1.0], ["auroc@active", 1.0]]
