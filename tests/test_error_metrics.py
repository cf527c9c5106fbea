"""The direct error metrics ``shapley_error`` and ``sii_error`` (mxbench.validation.recovery)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mxbench
from mxbench.explainers import Exact, Explanation, KernelSHAP, RedundancyGap
from mxbench.games import FunctionGame
from mxbench.validation import METRICS, MetricError, Truth, direction, evaluate
from mxbench.validation.recovery import relative_error, shapley_error, sii_error
from mxbench.validation.truth import EXAMPLE_SPEC


@pytest.fixture(scope="module")
def example():
    return mxbench.generate(EXAMPLE_SPEC)


def _explanation(truth, phi, interactions=None, explainer="hand", extras=None):
    return Explanation(np.asarray(phi, dtype=np.float64), np.zeros(len(truth.modality_names)), truth.modality_names,
                       truth.modality_of, interactions, explainer=explainer, extras=extras or {})


def _value(rows, name):
    """The main row's value; ``shapley_error`` on a task with non-differentiable terms adds its split."""
    extra = [f"{name}@smooth", f"{name}@nonsmooth"] if len(rows) == 3 and name == "shapley_error" else []
    assert [r["metric"] for r in rows] == [name] + extra
    return rows[0]["value"]


# ---------------------------------------------------------------------- registry
@pytest.mark.parametrize("name", ["shapley_error", "sii_error"])
def test_registered_as_lower_is_better_recovery(name):
    m = METRICS[name]
    assert (m.family, m.direction, m.range) == ("recovery", "lower", (0.0, math.inf))
    assert not (m.needs_game or m.needs_explainer or m.needs_task)
    assert direction(name) == "lower"


def test_evaluate_runs_both_by_default(example):
    game = example.game(0)
    frame = evaluate(Exact().explain(game), Truth.from_task(example, 0))
    got = frame.set_index("metric")["value"]
    assert got["shapley_error"] <= 1e-12 and got["sii_error"] <= 1e-12


# ---------------------------------------------------------------------- exact and hand-made values
@pytest.mark.parametrize("instance", range(8))
def test_exact_scores_zero(example, instance):
    e, t = Exact().explain(example.game(instance)), Truth.from_task(example, instance)
    assert _value(shapley_error(e, t), "shapley_error") <= 1e-12
    assert _value(sii_error(e, t), "sii_error") <= 1e-12


def test_known_shapley_errors(example):
    t = Truth.from_task(example, 0)
    assert _value(shapley_error(_explanation(t, 2 * t.shapley), t), "shapley_error") == 1.0
    assert _value(shapley_error(_explanation(t, np.zeros(t.n_players)), t), "shapley_error") == 1.0
    assert _value(shapley_error(_explanation(t, -t.shapley), t), "shapley_error") == 2.0
    off = t.shapley.copy()
    off[3] += 0.5                                                     # the distractor gets 0.5
    expected = 0.5 / np.linalg.norm(t.shapley)
    assert _value(shapley_error(_explanation(t, off), t), "shapley_error") == pytest.approx(expected, rel=1e-12)


def test_banzhaf_is_compared_with_shapley():
    # c0 * c1 * c2: Shapley 1/3 each, Banzhaf 1/4 each -> ||1/4 - 1/3|| / ||1/3|| = 1/4
    t = Truth.from_game(FunctionGame(lambda c: (c[:, 0] & c[:, 1] & c[:, 2]).astype(float), n_players=3))
    np.testing.assert_allclose(t.banzhaf, [0.25] * 3)
    value = _value(shapley_error(_explanation(t, t.banzhaf), t), "shapley_error")
    assert value == pytest.approx(0.25, abs=1e-12)


def test_known_sii_error_on_the_given_pairs(example):
    t = Truth.from_task(example, 0)
    i, j = np.triu_indices(t.n_players, 1)
    exact = {(int(a), int(b)): float(t.sii[a, b]) for a, b in zip(i, j)}
    assert abs(exact[(1, 4)]) > 0.1                                   # the planted synergy a:1 x b:0
    off = dict(exact)
    off[(1, 4)] += 0.3
    expected = 0.3 / np.linalg.norm(t.sii[i, j])
    assert _value(sii_error(_explanation(t, t.shapley, off), t), "sii_error") == pytest.approx(expected, rel=1e-12)
    # only the pairs given count: one pair, twice its exact value -> 1; keys in any order
    assert _value(sii_error(_explanation(t, t.shapley, {(4, 1): 2 * exact[(1, 4)]}), t), "sii_error") == 1.0
    two = {(1, 4): 0.0, (2, 5): 2 * exact[(2, 5)]}
    expected = np.hypot(exact[(1, 4)], exact[(2, 5)]) / np.hypot(exact[(1, 4)], exact[(2, 5)])
    assert _value(sii_error(_explanation(t, t.shapley, two), t), "sii_error") == pytest.approx(expected, rel=1e-12)


def test_kernelshap_at_full_budget_is_exact(example):
    n = example.n_players
    for instance in (0, 1, 2):
        e = KernelSHAP(budget=2**n, random_state=0).explain(example.game(instance))
        t = Truth.from_task(example, instance)
        assert _value(shapley_error(e, t), "shapley_error") <= 1e-6
        assert sii_error(e, t) == []                                  # KernelSHAP gives no interactions


# ---------------------------------------------------------------------- no rows, NaN, errors
def test_no_sii_rows_without_interactions_or_for_a_score(example):
    t = Truth.from_task(example, 0)
    assert sii_error(_explanation(t, t.shapley), t) == []
    assert sii_error(_explanation(t, t.shapley, {}), t) == []
    exact_pairs = {(1, 4): float(t.sii[1, 4])}
    assert sii_error(_explanation(t, t.shapley, exact_pairs, extras={"interaction_index": "RG"}), t) == []
    # the name alone does not make a score (validators read the index): these pairs are scored as SII
    assert _value(sii_error(_explanation(t, t.shapley, exact_pairs, explainer="redundancy_gap"), t), "sii_error") == 0.0
    e = RedundancyGap(budget=400, pairs=[(1, 4), (2, 5)]).explain(example.game(0))
    assert e.interactions and sii_error(e, t) == []
    assert _value(shapley_error(e, t), "shapley_error") >= 0       # its attributions are still scored


def test_nan_when_the_exact_values_are_zero():
    t = Truth.from_game(FunctionGame(lambda c: np.full(len(c), 3.0), n_players=3))   # constant game: all zero
    e = Exact().explain(FunctionGame(lambda c: np.full(len(c), 3.0), n_players=3))
    assert math.isnan(_value(shapley_error(e, t), "shapley_error"))
    assert math.isnan(_value(sii_error(e, t), "sii_error"))
    assert math.isnan(_value(shapley_error(_explanation(t, [1.0, 0.0, 0.0]), t), "shapley_error"))


def test_nan_when_the_given_pairs_have_zero_sii(example):
    t = Truth.from_task(example, 0)
    assert abs(t.sii[0, 3]) <= t.tol                                  # unique player x distractor
    assert math.isnan(_value(sii_error(_explanation(t, t.shapley, {(0, 3): 0.7}), t), "sii_error"))


def test_relative_error_formula():
    assert relative_error([3.0, 4.0], [0.0, 0.0]) != relative_error([3.0, 4.0], [0.0, 0.0])   # NaN
    assert relative_error([1.0, 1.0], [1.0, 1.0]) == 0.0
    assert relative_error([1.0, 1.0 + 1e-3], [1.0, 1.0], tol=0.0) == pytest.approx(1e-3 / math.sqrt(2))
    assert math.isnan(relative_error([1e-12], [1e-12], tol=1e-9))
    assert math.isnan(relative_error([], []))
    with pytest.raises(MetricError):
        relative_error([1.0], [1.0, 2.0])


def test_bad_inputs_raise(example):
    t = Truth.from_task(example, 0)
    with pytest.raises(MetricError, match="attributions"):
        shapley_error(Explanation(np.zeros(t.n_players + 1), np.zeros(2), t.modality_names,
                                  np.zeros(t.n_players + 1, int)), t)
    with pytest.raises(MetricError, match="distinct players"):
        sii_error(_explanation(t, t.shapley, {(0, t.n_players): 1.0}), t)
    with pytest.raises(MetricError, match="distinct players"):
        sii_error(_explanation(t, t.shapley, {(2, 2): 1.0}), t)


def test_shapley_error_split_by_differentiable_terms():
    """The split rows are the relative errors over each group of players, and only where both groups exist."""
    import mxbench
    from mxbench.explainers import Explanation
    from mxbench.validation.recovery import shapley_error
    from mxbench.validation.truth import EXAMPLE_SPEC, Truth

    t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    assert t.smooth.tolist() == [True, True, False, True, True, False]
    phi = t.shapley.copy()
    phi[~t.smooth] *= 2.0  # wrong on the redundancy players only
    rows = {r["metric"]: r["value"] for r in shapley_error(Explanation(phi, t.modality_shapley, ("a", "b"),
                                                                         t.modality_of), t)}
    assert rows["shapley_error@smooth"] == 0.0 and rows["shapley_error@nonsmooth"] == pytest.approx(1.0)
    expected = np.linalg.norm(t.shapley[~t.smooth]) / np.linalg.norm(t.shapley)
    assert rows["shapley_error"] == pytest.approx(expected)
    from mxbench.games import FunctionGame

    smooth_only = Truth.from_game(FunctionGame(lambda c: c @ np.arange(6.0), n_players=6,
                                               modality_of=[0, 0, 0, 0, 1, 1]))  # no task: no split
    assert smooth_only.smooth is None
    assert [r["metric"] for r in shapley_error(Explanation(smooth_only.shapley, smooth_only.modality_shapley,
                                                           ("a", "b"), smooth_only.modality_of), smooth_only)] == [
        "shapley_error"]
