"""Unimodal explanations (one modality at a time) against joint ones."""

import numpy as np
import pytest

import mxbench
from mxbench.errors import ExplainerError
from mxbench.explainers import Exact, KernelSHAP, Unimodal, get_explainer


def test_unimodal_exact_equals_the_restricted_games_shapley_values():
    rng = np.random.default_rng(0)
    n, mo = 6, np.array([0, 0, 1, 1, 1, 0])
    table = rng.normal(size=2**n)
    game = lambda c: table[(c.astype(int) << np.arange(n)).sum(axis=1)]  # noqa: E731
    e = Unimodal("exact").explain(game, n_players=n, modality_of=mo)
    for k in (0, 1):
        members = np.flatnonzero(mo == k)
        other = mo != k

        def sub(c, members=members, other=other):
            full = np.broadcast_to(other, (c.shape[0], n)).copy()
            full[:, members] = c
            return game(full)

        np.testing.assert_allclose(e.attributions[members], Exact().explain(sub, n_players=len(members)).attributions,
                                   atol=1e-12)
    assert e.explainer == "unimodal-exact"
    np.testing.assert_allclose(e.modality, [e.attributions[mo == 0].sum(), e.attributions[mo == 1].sum()])


def test_unimodal_double_counts_cross_modal_synergy_on_a_planted_task():
    spec = {"name": "gap", "instances": 16, "seed": 0, "modalities": [
        {"name": "a", "kind": "tabular", "features": 3}, {"name": "b", "kind": "tabular", "features": 3}],
        "terms": [{"kind": "synergy", "players": ["a:0", "b:0"], "weight": 1.0}]}
    task = mxbench.generate(spec)
    game = task.game(0)
    joint, uni = Exact().explain(game), Unimodal("exact").explain(game)
    # the joint Shapley value splits the product; each unimodal explanation takes all of it
    np.testing.assert_allclose(uni.attributions[[0, 3]], 2 * joint.attributions[[0, 3]], atol=1e-12)
    assert abs(uni.attributions.sum() - (game(np.ones((1, 6), bool))[0] - game(np.zeros((1, 6), bool))[0])) > 1e-6


def test_unimodal_splits_its_budget_and_checks_its_base():
    task = mxbench.generate("smoke", instances=8)[0]
    e = Unimodal(KernelSHAP(), budget=200, random_state=3).explain(task.game(0))
    assert e.n_queries <= 200 and sum(e.extras["queries_per_modality"].values()) <= 200
    assert e.explainer == "unimodal-kernelshap"
    again = Unimodal("kernelshap", budget=200, random_state=3).explain(task.game(0))
    np.testing.assert_array_equal(e.attributions, again.attributions)
    with pytest.raises(ExplainerError, match="base: expected a black-box explainer"):
        Unimodal("integrated_gradients").explain(task.game(0))
    with pytest.raises(ExplainerError, match="base"):
        get_explainer("unimodal", base="nope").explain(task.game(0))


def test_attribution_gap_separates_unimodal_from_joint_explanations():
    from mxbench.validation import evaluate
    from mxbench.validation.truth import Truth

    spec = {"name": "gap", "instances": 16, "seed": 0, "modalities": [
        {"name": "a", "kind": "tabular", "features": 3}, {"name": "b", "kind": "tabular", "features": 3}],
        "terms": [{"kind": "synergy", "players": ["a:0", "b:0"], "weight": 1.0},
                  {"kind": "unique", "players": ["a:1"]}]}
    task = mxbench.generate(spec)
    for i in range(4):
        truth, game = Truth.from_task(task, i), task.game(i)
        joint = evaluate(Exact().explain(game), truth, ["attribution_gap"])["value"].item()
        uni = evaluate(Unimodal("exact").explain(game), truth, ["attribution_gap"])["value"].item()
        assert joint == pytest.approx(0.0, abs=1e-12)
        assert uni == pytest.approx(1.0, abs=1e-9)  # each player credited with the whole product: twice its share


def test_unimodal_budget_too_small_for_its_base_is_named():
    task = mxbench.generate("smoke", instances=8)[0]
    with pytest.raises(ExplainerError, match="budget: Unimodal gives each of 2 modalities 5 coalitions, but KernelSHAP"):
        Unimodal("kernelshap", budget=10).explain(task.game(0))


def test_min_budget_sees_the_modalities():
    from mxbench.explainers import SIIProbe
    from mxbench.explainers.base import min_budget_of
    from mxbench.testing import check_explainer

    mo = np.array([0, 0, 0, 1, 1])
    # KernelSHAP needs 2n when paired: 6 on the first modality, 4 on the second; each modality gets budget // 2
    assert min_budget_of(Unimodal("kernelshap"), 5, mo) == 12
    assert min_budget_of(Unimodal("kernelshap"), 5) == KernelSHAP().min_budget(5)
    e = Unimodal("kernelshap", budget=12).explain(lambda c: c @ np.arange(5.0), n_players=5, modality_of=mo)
    np.testing.assert_allclose(e.attributions, np.arange(5.0), atol=1e-9)  # additive: exact per modality
    with pytest.raises(ExplainerError, match="budget: Unimodal gives each of 2 modalities 5 coalitions, but KernelSHAP needs at least 6"):
        Unimodal("kernelshap", budget=11).explain(lambda c: c @ np.arange(5.0), n_players=5, modality_of=mo)
    cross = SIIProbe(pairs="cross")
    assert min_budget_of(cross, 5, mo) > cross.min_budget(5)  # 6 cross pairs priced, not a placeholder
    report = check_explainer(Unimodal("kernelshap", budget=64), claims=["budget"], raise_on_failure=False)
    assert report.passed, report.failure_message()
