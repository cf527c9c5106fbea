"""Explanation <-> shap / shapiq, the recorded index and v(∅)/v(N), and evaluate on plain arrays."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

shap = pytest.importorskip("shap")
shapiq = pytest.importorskip("shapiq")

import mxbench  # noqa: E402
from mxbench.errors import ExplainerError  # noqa: E402
from mxbench.explainers import (EXPLAINERS, Exact, Explanation, KernelSHAP, LEMON, LIME, Occlusion,  # noqa: E402
                                PermutationShapley, RedundancyGap, SIIProbe, Unimodal)
from mxbench.explainers.adapters import (CaptumExplainer, MissingDependencyError, ShapExplainer,  # noqa: E402
                                         ShapiqApproximator)
from mxbench.games import FunctionGame  # noqa: E402
from mxbench.validation import MetricError, Truth, evaluate  # noqa: E402
from mxbench.validation.recovery import interaction_reading  # noqa: E402
from mxbench.validation.truth import EXAMPLE_SPEC  # noqa: E402


@pytest.fixture(scope="module")
def example():
    return mxbench.generate(EXAMPLE_SPEC)


def three_way_game() -> FunctionGame:
    """Five players: a unique term, a pair, a 3-way synergy, an intercept (so v(∅) != 0)."""
    def v(c):
        c = c.astype(np.float64)
        return 0.75 + 1.5 * c[:, 0] - 2.0 * c[:, 1] * c[:, 2] + 3.0 * c[:, 1] * c[:, 3] * c[:, 4]
    return FunctionGame(v, 5, modality_of=[0, 0, 1, 1, 1], modality_names=["img", "txt"],
                        player_names=["a", "b", "c", "d", "e"])


def shapiq_game(game):
    return lambda c: game(np.asarray(c, dtype=bool).reshape(-1, game.n_players))


def assert_same(a: Explanation, b: Explanation) -> None:
    """Equal bit for bit: attributions, pairs, index, v(∅)."""
    assert np.array_equal(a.attributions, b.attributions)
    assert a.interactions == b.interactions
    assert (a.index, a.order, a.v_empty) == (b.index, b.order, b.v_empty)


# ---------------------------------------------------------------------- index, order, v(∅), v(N)
def test_each_explainer_declares_its_index_and_order(example):
    game = example.game(0)
    cases = {"exact": ("SII", 2), "kernelshap": ("SV", 1), "permutation": ("SV", 1), "mmshap": ("SV", 1),
             "lime": ("LIME", 1), "lemon": ("LEMON", 1), "occlusion": ("LOO", 1), "sii-probe": ("SII", 2),
             "redundancy-gap": ("RG", 2), "unimodal": ("Unimodal", 1), "sparse-moebius": ("SII", 2)}
    for name, (index, order) in cases.items():
        e = EXPLAINERS[name](budget=64 if name != "exact" else None).explain(game)
        assert (e.index, e.order) == (index, order), name
    white = {"integrated_gradients": "IG", "attention_rollout": "AttentionRollout",
             "attention_grad": "AttentionGrad", "expert_maps": "ExpertMaps"}
    assert set(cases) | set(white) == set(EXPLAINERS)
    assert {name: EXPLAINERS[name].target_index for name in white} == white
    assert [ShapExplainer(interactions=True).target_index, ShapiqApproximator("KernelSHAPIQ").target_index,
            ShapiqApproximator("SVARM").target_index, CaptumExplainer("Lime").target_index,
            CaptumExplainer("IntegratedGradients").target_index] == ["SII", "SII", "SV", "LIME", "SV"]


def test_v_empty_and_v_full_are_recorded_when_evaluated_and_cost_nothing():
    game = three_way_game()
    ends = game(np.array([np.zeros(5, bool), np.ones(5, bool)]))
    for explainer, queries in ((Exact(), 32), (KernelSHAP(budget=12), 12), (PermutationShapley(budget=10), 10),
                               (LEMON(budget=16), 14)):
        e = explainer.explain(game)
        assert (e.v_empty, e.v_full, e.n_queries) == (ends[0], ends[1], queries), explainer
    e = Occlusion().explain(game)  # v(N) and the n leave-one-out coalitions: never v(∅)
    assert (e.v_empty, e.v_full, e.n_queries) == (None, ends[1], 6)
    u = Unimodal("exact").explain(game)  # each modality's game keeps the other modality present
    assert (u.v_empty, u.v_full) == (None, ends[1])


# ---------------------------------------------------------------------- shapiq
def test_shapiq_exact_sii_matches_mxbench_truth(example):
    game = example.game(3)
    truth = Truth.from_task(example, 3)
    iv = shapiq.ExactComputer(shapiq_game(game), n_players=game.n_players)("SII", order=2)
    e = Explanation.from_shapiq(iv, modality_of=truth.modality_of, modality_names=truth.modality_names)
    assert (e.index, e.order, e.modality_names) == ("SII", 2, ("a", "b"))
    np.testing.assert_allclose(e.attributions, truth.shapley, atol=1e-12)
    np.testing.assert_allclose(e.interaction_matrix(fill=0.0), truth.sii, atol=1e-12)
    assert e.v_empty == truth.v_empty
    ours = Exact().explain(game)
    np.testing.assert_allclose(ours.to_shapiq().get_n_order_values(2), iv.get_n_order_values(2), atol=1e-12)


def test_shapiq_indices_of_a_three_way_game_against_the_exact_truth():
    game = three_way_game()
    truth = Truth.from_game(game)
    computer = shapiq.ExactComputer(shapiq_game(game), n_players=5)
    bv = Explanation.from_shapiq(computer("BV", order=1))
    assert (bv.index, bv.order) == ("BV", 1)
    np.testing.assert_allclose(bv.attributions, truth.banzhaf, atol=1e-12)
    ksii = Explanation.from_shapiq(computer("k-SII", order=2))
    sii = truth.sii
    assert ksii.index == "k-SII"
    np.testing.assert_allclose(ksii.interaction_matrix(fill=0.0), sii, atol=1e-12)  # k-SII pairs = SII at order 2
    np.testing.assert_allclose(ksii.attributions, truth.shapley - sii.sum(axis=1) / 2, atol=1e-12)
    assert ksii.v_empty == 0.75


def test_shapiq_round_trip_is_exact():
    rng = np.random.default_rng(0)
    e = Exact().explain(three_way_game())
    e.attributions += rng.normal(size=5) * 1e-3  # values with every bit set
    e.interactions = {k: v + float(rng.normal()) * 1e-7 for k, v in e.interactions.items()}
    iv = e.to_shapiq()
    assert (iv.index, iv.max_order, iv.min_order, iv.n_players, iv.baseline_value, iv.estimation_budget) == (
        "SII", 2, 1, 5, 0.75, 32)
    back = Explanation.from_shapiq(iv, modality_of=e.modality_of, modality_names=e.modality_names,
                                   player_names=e.player_names, v_full=e.v_full)
    assert_same(back, e)
    assert (back.v_full, back.n_queries, back.player_names) == (e.v_full, 32, ["a", "b", "c", "d", "e"])
    np.testing.assert_allclose(back.modality, [e.attributions[:2].sum(), e.attributions[2:].sum()], rtol=1e-15)


def test_shapiq_round_trips_of_partial_pairs_and_of_approximations():
    game = three_way_game()
    probe = SIIProbe(budget=200, pairs=[(1, 2), (3, 4)], random_state=1).explain(game)
    assert_same(Explanation.from_shapiq(probe.to_shapiq()), probe)
    iv = ShapiqApproximator("KernelSHAPIQ", budget=24).explain(game).to_shapiq()
    assert_same(Explanation.from_shapiq(iv), Explanation.from_shapiq(Explanation.from_shapiq(iv).to_shapiq()))
    kernel = KernelSHAP(budget=12).explain(game)  # order 1: shapiq's "SV"
    assert_same(Explanation.from_shapiq(kernel.to_shapiq()), kernel)
    unknown = Explanation.from_values([1.0, 0.5], v_empty=None, index="LOO")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        iv = unknown.to_shapiq()
    assert np.isnan(iv.baseline_value)
    assert_same(Explanation.from_shapiq(iv), unknown)


def test_an_sii_explanation_without_pairs_is_sv_in_shapiq():
    e = Explanation.from_values([1.0, 2.0], index="SII")
    assert (e.to_shapiq().index, Explanation.from_shapiq(e.to_shapiq()).index) == ("SV", "SV")


# ---------------------------------------------------------------------- shap
def test_shap_round_trip_is_exact():
    e = LIME(budget=40).explain(three_way_game())
    s = e.to_shap(data=np.arange(5.0))
    assert isinstance(s, shap.Explanation)
    assert (s.base_values, s.feature_names, s.data.tolist()) == (e.v_empty, ["a", "b", "c", "d", "e"],
                                                                 [0.0, 1.0, 2.0, 3.0, 4.0])
    back = Explanation.from_shap(s, modality_of=e.modality_of, modality_names=e.modality_names, index="LIME")
    assert np.array_equal(back.attributions, e.attributions)
    assert (back.v_empty, back.index, back.player_names) == (e.v_empty, "LIME", e.player_names)
    assert back.to_shap().data.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]  # kept in extras["data"]
    assert Explanation.from_shap(Occlusion().explain(three_way_game()).to_shap()).v_empty is None


def test_shap_kernel_explainer_matches_truth_and_mxbench_exact():
    game = three_way_game()
    truth = Truth.from_game(game)
    model = lambda X: game(np.asarray(X) > 0.5)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's default sample count enumerates all 2^5 coalitions: exact values
        batch = shap.KernelExplainer(model, np.zeros((1, 5)))(np.ones((1, 5)), silent=True)
    e = Explanation.from_shap(batch[0], v_full=3.25)
    np.testing.assert_allclose(e.attributions, truth.shapley, atol=1e-12)
    assert (e.v_empty, e.v_full, e.index, e.order) == (0.75, 3.25, "SV", 1)
    assert e.player_names == ["p0", "p1", "p2", "p3", "p4"]  # shap gave no feature names
    ours = Exact().explain(game).to_shap()
    np.testing.assert_allclose(ours.values, batch[0].values, atol=1e-12)
    assert ours.base_values == batch[0].base_values
    with pytest.raises(ExplainerError, match=r"values: expected one value per player, shape \(n,\), got shape \(1, 5"):
        Explanation.from_shap(batch)
    with pytest.raises(ExplainerError, match="shap's interaction values are not read"):
        Explanation.from_shap(shap.Explanation(np.zeros((5, 5))))  # the shape of ExactExplainer's interactions


# ---------------------------------------------------------------------- bad input
def test_conversion_errors_name_the_field():
    e = Explanation.from_values([1.0, 2.0])
    with pytest.raises(ExplainerError, match="index: shapiq's InteractionValues needs the index"):
        e.to_shapiq()
    with pytest.raises(ExplainerError, match=r"data: expected one value per player, shape \(2,\), got shape \(3,\)"):
        e.to_shap(data=[1, 2, 3])
    with pytest.raises(ExplainerError, match=r"base_values: expected one number, got shape \(2,\)"):
        Explanation.from_shap(shap.Explanation(np.zeros(3), base_values=np.zeros(2)))
    with pytest.raises(ExplainerError, match="explanation: expected a shap.Explanation, got ndarray"):
        Explanation.from_shap(np.zeros(3))
    iv3 = shapiq.ExactComputer(shapiq_game(three_way_game()), n_players=5)("SII", order=3)
    with pytest.raises(ExplainerError, match="max_order: an Explanation holds orders 1 and 2, got .* max_order 3"):
        Explanation.from_shapiq(iv3)
    with pytest.raises(ExplainerError, match="values: expected shapiq.InteractionValues, got dict"):
        Explanation.from_shapiq({(0,): 1.0})
    with pytest.raises(ExplainerError, match="interactions: the matrix is not symmetric"):
        Explanation.from_values([1.0, 2.0], np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ExplainerError, match="pairs: player 5 in pair"):
        Explanation.from_values([1.0, 2.0], {(0, 5): 1.0})
    with pytest.raises(ExplainerError, match="player_names: expected 2 names, got 1"):
        Explanation.from_values([1.0, 2.0], player_names=["a"])


def test_missing_package_is_named(monkeypatch):
    e = Explanation.from_values([1.0, 2.0], index="SV")
    monkeypatch.setitem(sys.modules, "shapiq", None)
    with pytest.raises(MissingDependencyError, match="shapiq: Explanation.to_shapiq needs the package 'shapiq'"):
        e.to_shapiq()
    monkeypatch.setitem(sys.modules, "shap", None)
    with pytest.raises(MissingDependencyError, match="shap: Explanation.from_shap needs the package 'shap'"):
        Explanation.from_shap(None)


# ---------------------------------------------------------------------- validators
def test_evaluate_takes_plain_arrays(example):
    t = Truth.from_task(example, 0)
    e = Exact().explain(example.game(0))
    metrics = ["auroc", "spearman", "shapley_error", "sii_error", "pair_precision", "pair_kind_accuracy"]
    want = evaluate(e, t, metrics)
    for pairs in (e.interactions, e.interaction_matrix(fill=np.nan)):
        got = evaluate(e.attributions, t, metrics, interactions=pairs)
        assert got["metric"].tolist() == want["metric"].tolist()
        np.testing.assert_allclose(got["value"], want["value"], atol=1e-12)
        assert set(got["explainer"]) == {""}
    plain = evaluate(list(t.shapley), t, ["shapley_error", "sii_error"]).set_index("metric")["value"]
    assert plain["shapley_error"] == 0.0 and "sii_error" not in plain  # no pairs: no sii rows
    rg = evaluate(t.shapley, t, ["pair_kind_accuracy"], interactions={(2, 5): 2.0, (1, 4): 0.0}, index="RG")
    assert rg["value"].tolist() == [1.0]  # read as a redundancy score: high = redundant
    with pytest.raises(MetricError, match="interactions: given with an explanation"):
        evaluate(e, t, ["auroc"], interactions={(0, 1): 1.0})
    with pytest.raises(MetricError, match=r"explanation: expected 6 attributions .* got shape \(5,\)"):
        evaluate(np.zeros(5), t, ["auroc"])
    with pytest.raises(MetricError, match="pairs: player 9"):
        evaluate(t.shapley, t, ["auroc"], interactions={(0, 9): 1.0})


def test_pair_reading_follows_the_index_not_the_name(example):
    rg = RedundancyGap(budget=400, pairs=[(1, 4), (2, 5)]).explain(example.game(0))
    assert (rg.index, interaction_reading(rg)) == ("RG", "score")
    renamed = Explanation.from_values(rg.attributions, rg.interactions, index="SII", explainer="redundancy-gap")
    assert interaction_reading(renamed) == "sii"
    assert interaction_reading(Explanation.from_values(rg.attributions, rg.interactions, index="RG",
                                                       explainer="mine")) == "score"
