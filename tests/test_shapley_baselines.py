"""KernelSHAP, PermutationShapley, MMSHAP and Occlusion against exact Shapley values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mxbench
from mxbench.errors import ExplainerError, GameError
from mxbench.explainers import Exact
from mxbench.explainers.base import modality_sums
from mxbench.explainers.kernelshap import KernelSHAP, plan_sizes, shapley_kernel, solve_constrained
from mxbench.explainers.occlusion import Occlusion
from mxbench.explainers import permutation
from mxbench.explainers.permutation import MMSHAP, PermutationShapley, prefix_coalitions
from mxbench.games import FunctionGame
from mxbench.oracles import all_coalitions, shapley_values

SAMPLERS = [KernelSHAP, PermutationShapley, MMSHAP]
ALL = SAMPLERS + [Occlusion]


@pytest.fixture(scope="module")
def smoke():
    return mxbench.generate("smoke", instances=8)


def table_game(values: np.ndarray, n: int):
    """A game given by its table over all coalitions (bit order)."""
    weights = 1 << np.arange(n)
    return lambda c: values[(c.astype(np.int64) * weights).sum(axis=1)]


def random_table(n: int, seed: int) -> np.ndarray:
    """A dense random game: every coalition's value drawn independently."""
    return np.random.default_rng(seed).normal(size=2**n)


def pairwise_table(n: int, seed: int) -> np.ndarray:
    """A random game of Möbius order <= 2: ``c + Σ a_i x_i + Σ b_ij x_i x_j``."""
    rng = np.random.default_rng(seed)
    x = all_coalitions(n).astype(np.float64)
    a, b = rng.normal(size=n), np.triu(rng.normal(size=(n, n)), 1)
    return rng.normal() + x @ a + np.einsum("bi,ij,bj->b", x, b, x)


class Calls:
    """A plain-function game that records the size of every batch it is called with."""

    def __init__(self, fn):
        self.fn, self.batches = fn, []

    def __call__(self, c):
        self.batches.append(c.shape[0])
        return self.fn(c)


# --------------------------------------------------------------------------- exactness with the full budget


def test_kernelshap_with_every_coalition_is_exact_on_planted_games(smoke):
    for task in smoke:
        n, oracle = task.n_players, task.oracle()
        for i in (0, 5):
            e = KernelSHAP(budget=2**n).explain(task.game(i))
            np.testing.assert_allclose(e.attributions, oracle.shapley()[i], rtol=0, atol=1e-9)
            np.testing.assert_allclose(e.modality, modality_sums(oracle.shapley()[i], task.modality_of,
                                                                 len(task.modality_names)), rtol=0, atol=1e-9)
            assert e.n_queries == 2**n and e.extras["n_sampled"] == 0
        if n == 12:  # Exact (the reference explainer) agrees too, and a larger budget changes nothing
            exact = Exact().explain(task.game(1)).attributions
            e = KernelSHAP(budget=2**n + 100, random_state=7).explain(task.game(1))
            np.testing.assert_allclose(e.attributions, exact, rtol=0, atol=1e-9)
            assert e.n_queries == 2**n


@pytest.mark.parametrize("paired", [True, False])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_kernelshap_with_every_coalition_matches_shapiq(n, paired):
    shapiq = pytest.importorskip("shapiq")
    values = random_table(n, seed=n)
    game = table_game(values, n)
    iv = shapiq.ExactComputer(game, n_players=n)("SV")
    expected = np.array([iv[(i,)] for i in range(n)])
    e = KernelSHAP(budget=2**n, paired=paired).explain(game, n_players=n)
    np.testing.assert_allclose(e.attributions, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(e.attributions, shapley_values(values), rtol=0, atol=1e-9)


def test_default_budgets_are_shaps():
    n = 12
    assert KernelSHAP().default_budget(n) == 2 * n + 2048
    e = KernelSHAP().explain(table_game(random_table(n, 0), n), n_players=n)
    assert e.n_queries == 2 * n + 2048 and e.params["budget"] is None
    e = PermutationShapley().explain(table_game(random_table(n, 0), n), n_players=n)
    assert 500 - 2 * (n - 1) < e.n_queries <= 500  # no room left for one more antithetic pair
    # the default never asks for more than the 2^n coalitions there are: exact for small n
    values = random_table(6, 3)
    e = KernelSHAP().explain(table_game(values, 6), n_players=6)
    assert e.n_queries == 64
    np.testing.assert_allclose(e.attributions, shapley_values(values), atol=1e-9)


# --------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("cls", [KernelSHAP, PermutationShapley])
def test_error_against_exact_shapley_shrinks_as_the_budget_grows(cls, smoke):
    mix3 = smoke[2]  # a 3-way synergy and a 3-copy redundancy: not exact for antithetic pairs
    n = 10
    values = random_table(n, 1)
    cases = [(table_game(values, n), {"n_players": n}, shapley_values(values)),
             (mix3.game(0), {}, mix3.oracle().shapley()[0])]
    for game, kw, exact in cases:
        errors = []
        for budget in (40, 200, 1000):
            runs = [cls(budget=budget, random_state=s).explain(game, **kw) for s in range(4)]
            assert all(r.n_queries <= budget for r in runs)
            errors.append(np.mean([np.abs(r.attributions - exact).mean() for r in runs]))
        assert errors[0] > errors[1] > errors[2], errors
        assert errors[2] < 0.35 * errors[0], errors


def test_antithetic_permutations_are_exact_on_pairwise_games():
    # A pair's Möbius coefficient goes to whichever of the two comes later: to one player in a
    # permutation, to the other in its reverse. So one antithetic pair is exact at Möbius order <= 2.
    n = 7
    for seed in range(3):
        values = pairwise_table(n, seed)
        game, exact = table_game(values, n), shapley_values(values)
        e = PermutationShapley(budget=2 * n, random_state=seed).explain(game, n_players=n)
        assert e.extras["n_permutations"] == 2
        np.testing.assert_allclose(e.attributions, exact, rtol=0, atol=1e-9)
        one_way = PermutationShapley(budget=2 * n, antithetic=False, random_state=seed).explain(game, n_players=n)
        assert np.abs(one_way.attributions - exact).max() > 1e-3


# --------------------------------------------------------------------------- axioms


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), extra=st.integers(0, 600), seed=st.integers(0, 2**16),
       which=st.sampled_from(SAMPLERS), flag=st.booleans())
def test_efficiency_and_the_budget_hold_for_any_budget(n, extra, seed, which, flag):
    kw = {"paired": flag} if which is KernelSHAP else {"antithetic": flag}
    explainer = which(random_state=seed, **kw)
    budget = explainer.min_budget(n) + extra
    explainer.budget = budget
    values = random_table(n, seed)
    e = explainer.explain(table_game(values, n), n_players=n)
    assert abs(e.attributions.sum() - (values[-1] - values[0])) <= 1e-9
    assert e.n_queries <= budget
    if which is KernelSHAP:  # every distinct coalition the budget pays for is used
        assert e.n_queries == min(budget, 2**n)
        assert e.extras["empty"] == values[0] and e.extras["full"] == values[-1]
    else:  # stops only when one more permutation might not fit, every coalition is known, or out of rounds
        per = (2 if flag else 1) * (n - 1)
        assert (e.n_queries > budget - per or e.n_queries == 2**n
                or e.extras["n_rounds"] == permutation.MAX_ROUNDS), (e.n_queries, e.extras)


def test_symmetric_and_dummy_players():
    # players 0 and 1 are symmetric (swap them: same value), 3 and 5 are dummies; order-3 terms included
    def game(c):
        c = c.astype(np.float64)
        return 2.0 * c[:, 0] * c[:, 1] * c[:, 2] + 1.5 * (c[:, 0] + c[:, 1]) - 3.0 * c[:, 2] * c[:, 4] + c[:, 4]

    n = 6
    exact = Exact().explain(game, n_players=n).attributions
    assert exact[0] == pytest.approx(exact[1]) and exact[3] == exact[5] == 0.0
    full = KernelSHAP(budget=2**n).explain(game, n_players=n).attributions
    np.testing.assert_allclose(full, exact, atol=1e-9)
    occ = Occlusion().explain(game, n_players=n).attributions
    assert occ[0] == occ[1] and occ[3] == occ[5] == 0.0
    for antithetic in (True, False):  # every marginal of a dummy is 0
        perm = PermutationShapley(budget=40, antithetic=antithetic, random_state=3).explain(game, n_players=n)
        assert perm.attributions[3] == perm.attributions[5] == 0.0


@pytest.mark.parametrize("cls", ALL)
def test_additive_games_are_recovered_exactly(cls):
    n = 9
    w = np.linspace(-2.0, 3.0, n)
    game = lambda c: 0.5 + c @ w  # noqa: E731
    e = cls(budget=4 * n, random_state=5).explain(game, n_players=n)
    np.testing.assert_allclose(e.attributions, w, rtol=0, atol=1e-9)


def test_one_player_and_two_players():
    for cls in ALL:
        e = cls().explain(lambda c: 3.0 * c[:, 0] - 1.0, n_players=1)
        assert e.attributions.tolist() == [3.0]
    values = np.array([1.0, 2.0, -1.0, 5.0])
    for cls in SAMPLERS:
        e = cls(budget=4).explain(table_game(values, 2), n_players=2)
        np.testing.assert_allclose(e.attributions, shapley_values(values), atol=1e-12)


# --------------------------------------------------------------------------- randomness


@pytest.mark.parametrize("cls", SAMPLERS)
def test_deterministic_for_a_seed_and_different_across_seeds(cls):
    n = 10
    game = table_game(random_table(n, 2), n)
    a = cls(budget=150, random_state=11).explain(game, n_players=n)
    b = cls(budget=150, random_state=11).explain(game, n_players=n)
    c = cls(budget=150, random_state=12).explain(game, n_players=n)
    np.testing.assert_array_equal(a.attributions, b.attributions)
    assert a.n_queries == b.n_queries
    assert np.abs(a.attributions - c.attributions).max() > 1e-6


# --------------------------------------------------------------------------- interface


@pytest.mark.parametrize("cls", ALL)
def test_runs_on_planted_games_and_plain_functions(cls, smoke):
    task = smoke[1]
    e = cls(budget=300).explain(task.game(4))
    assert e.attributions.shape == (task.n_players,) and e.n_queries <= 300
    assert e.modality_names == task.modality_names and e.player_names == list(task.player_names)
    assert e.explainer == cls.name and e.params["budget"] == 300
    expected = np.abs(e.attributions) if cls is MMSHAP else e.attributions
    np.testing.assert_allclose(e.modality, modality_sums(expected, task.modality_of, 2), atol=1e-12)
    f = cls().explain(lambda c: 2.0 * c[:, 0] * c[:, 2] + c[:, 1], n_players=4, modality_of=[0, 1, 1, 0],
                      modality_names=["a", "b"])
    assert f.modality_names == ("a", "b") and f.n_players == 4
    assert f.attributions[3] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("cls", ALL)
def test_bad_input_raises_before_any_query(cls):
    calls = Calls(lambda c: c.sum(axis=1) * 1.0)
    need = cls().min_budget(6)
    with pytest.raises(ExplainerError, match=f"budget: {cls.__name__} needs at least {need} coalitions on 6 players"):
        cls(budget=need - 1).explain(calls, n_players=6)
    with pytest.raises(ExplainerError, match="budget: expected an integer"):
        cls(budget=100.0).explain(calls, n_players=6)
    with pytest.raises(ExplainerError, match="n_players"):
        cls().explain(calls)
    flag = {KernelSHAP: "paired", Occlusion: None}.get(cls, "antithetic")
    if flag:
        with pytest.raises(ExplainerError, match=f"{flag}: expected True or False, got 'yes'"):
            cls(**{flag: "yes"}).explain(calls, n_players=6)
    assert calls.batches == []


@pytest.mark.parametrize("cls", ALL)
def test_a_game_returning_nan_raises_game_error(cls):
    def game(c):
        out = c.sum(axis=1) * 1.0
        out[c[:, 2] & ~c[:, 0]] = np.nan
        return out

    with pytest.raises(GameError, match="non-finite"):
        cls(budget=64).explain(game, n_players=6)


def test_each_method_sends_its_coalitions_in_one_call_per_round():
    n = 8
    values = random_table(n, 4)
    calls = Calls(table_game(values, n))
    KernelSHAP(budget=100).explain(calls, n_players=n)
    assert calls.batches == [100]
    calls.batches.clear()
    Occlusion().explain(calls, n_players=n)
    assert calls.batches == [n + 1]
    calls.batches.clear()
    e = PermutationShapley(budget=200).explain(calls, n_players=n)
    # one call per round (a round whose coalitions are all remembered makes none); distinct rows only
    assert 1 <= len(calls.batches) <= e.extras["n_rounds"] and sum(calls.batches) == e.n_queries
    assert e.extras["n_permutations"] >= 2 * ((200 - 2) // (2 * (n - 1)))


# --------------------------------------------------------------------------- MM-SHAP and occlusion


def test_mmshap_is_the_sum_of_absolute_shapley_values_per_modality(smoke):
    task = smoke[0]  # every term of order <= 2: antithetic permutations are exact, so is MM-SHAP
    exact = task.oracle().shapley()
    for i in (0, 3):
        e = MMSHAP(budget=100, random_state=i).explain(task.game(i))
        expected = modality_sums(np.abs(exact[i]), task.modality_of, len(task.modality_names))
        np.testing.assert_allclose(e.modality, expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(e.modality_shares(), expected / expected.sum(), rtol=0, atol=1e-9)
        np.testing.assert_allclose(e.extras["signed_modality"],
                                   modality_sums(exact[i], task.modality_of, len(task.modality_names)), atol=1e-9)
        same = PermutationShapley(budget=100, random_state=i).explain(task.game(i))
        np.testing.assert_array_equal(e.attributions, same.attributions)
    assert MMSHAP.name == "mmshap"
    # a modality whose players never matter gets a share of exactly 0
    e = MMSHAP(budget=80).explain(lambda c: 2.0 * c[:, 0] * c[:, 1] * c[:, 2] - c[:, 1], n_players=6,
                                  modality_of=[0, 0, 0, 1, 1, 1], modality_names=["txt", "img"])
    assert e.modality_shares().tolist() == [1.0, 0.0]


def test_occlusion_is_the_leave_one_out_drop(smoke):
    for task in smoke:
        n, oracle = task.n_players, task.oracle()
        drop = np.concatenate([np.ones((1, n), dtype=bool), ~np.eye(n, dtype=bool)])
        for i in (2, 6):
            ref = oracle.values(drop)[i]
            e = Occlusion().explain(task.game(i))
            np.testing.assert_allclose(e.attributions, ref[0] - ref[1:], rtol=0, atol=1e-9)
            assert e.n_queries == n + 1 and e.extras["full"] == pytest.approx(ref[0])
    # redundant copies hide each other; a synergistic pair is counted twice
    e = Occlusion().explain(lambda c: np.maximum(c[:, 0], c[:, 1]) + 2.0 * c[:, 2] * c[:, 3], n_players=4)
    assert e.attributions.tolist() == [0.0, 0.0, 2.0, 2.0]
    assert Occlusion.efficient is False and KernelSHAP.efficient and PermutationShapley.efficient


# --------------------------------------------------------------------------- helpers


def test_helpers():
    assert shapley_kernel(5).sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shapley_kernel(5), shapley_kernel(5)[::-1])
    assert plan_sizes(8, 254) == 4 and plan_sizes(8, 37) == 1 and plan_sizes(8, 36) == 0
    perms = np.array([[1, 0, 2], [2, 1, 0]])
    pc = prefix_coalitions(perms)
    assert pc.shape == (2, 4, 3) and (pc.sum(axis=2) == np.arange(4)).all()
    assert pc[1, 1].tolist() == [False, False, True] and pc[1, 2].tolist() == [False, True, True]
    masks = all_coalitions(4)[1:-1]
    w = np.random.default_rng(0).random(masks.shape[0])
    phi = solve_constrained(masks, w, masks @ np.array([1.0, -1.0, 2.0, 0.5]) + 0.1 * w, 2.0)
    assert phi.sum() == pytest.approx(2.0, abs=1e-12)
