"""The explainer contract (Explanation, BudgetedGame, as_game) and the Exact reference explainer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mxbench
from mxbench.errors import ExplainerError, GameError
from mxbench.explainers import BudgetedGame, Exact, Explainer, Explanation, as_game
from mxbench.explainers.base import BudgetExceeded, check_pairs, modality_coalitions
from mxbench.oracles.moebius import indices_from_values, superset_sums
from mxbench.oracles.moebius import moebius_from_table as moebius
from mxbench.games import FunctionGame
from mxbench.oracles import all_coalitions, moebius_transform, shapley_values, sii_matrix


@pytest.fixture(scope="module")
def smoke():
    return mxbench.generate("smoke", instances=64)


def table_game(values: np.ndarray, n: int):
    """A game given by its table over all coalitions (bit order)."""
    weights = 1 << np.arange(n)
    return lambda c: values[(c.astype(np.int64) * weights).sum(axis=1)]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), seed=st.integers(0, 2**32 - 1))
def test_fast_transforms_match_brute_force(n, seed):
    values = np.random.default_rng(seed).normal(size=2**n)
    np.testing.assert_allclose(moebius(values), moebius_transform(values), atol=1e-12)
    phi, sii = indices_from_values(values)
    np.testing.assert_allclose(phi, shapley_values(values), atol=1e-12)
    if n >= 2:
        np.testing.assert_allclose(sii, sii_matrix(values), atol=1e-12)
    # superset sums by definition
    bits = all_coalitions(n)
    direct = np.array([values[(bits[:, bits[t]].all(axis=1))].sum() for t in range(2**n)])
    np.testing.assert_allclose(superset_sums(values), direct, atol=1e-12)


def test_exact_matches_the_oracle_on_planted_games(smoke):
    for task in smoke:
        oracle = task.oracle()
        for i in (0, 5):
            e = Exact().explain(task.game(i))
            np.testing.assert_allclose(e.attributions, oracle.shapley()[i], atol=1e-9)
            np.testing.assert_allclose(e.modality, oracle.modality_shapley()[i], atol=1e-9)
            pairs = task.pairs()[["i", "j"]].to_numpy()
            got = np.array([e.interactions[(a, b)] for a, b in pairs])
            np.testing.assert_allclose(got, oracle.pair_values(pairs, "SII")[i], atol=1e-9)
            assert e.n_queries == 2**task.n_players
            assert e.modality_names == task.modality_names
            assert e.player_names == list(task.player_names)


def test_exact_on_a_plain_function_and_its_frame():
    game = lambda c: 3.0 * c[:, 0] * c[:, 1] + c[:, 2] - c[:, 3]  # noqa: E731
    e = Exact().explain(game, n_players=4, modality_of=[0, 1, 1, 0], modality_names=["a", "b"])
    np.testing.assert_allclose(e.attributions, [1.5, 1.5, 1.0, -1.0])
    np.testing.assert_allclose(e.modality, [0.5, 2.5])  # modality game: a alone -1, b alone 1, both 3
    assert e.interactions[(0, 1)] == pytest.approx(3.0) and e.interactions[(2, 3)] == pytest.approx(0.0)
    frame = e.to_frame()
    assert (frame["kind"] == "pair").sum() == 6
    assert frame.loc[(frame["kind"] == "modality") & (frame["name"] == "b"), "value"].item() == pytest.approx(2.5)
    assert frame.loc[(frame["kind"] == "pair") & (frame["i"] == 0) & (frame["j"] == 1), "modality"].item() == "a|b"
    np.testing.assert_allclose(e.modality_shares(), [0.5 / 3, 2.5 / 3])


def test_exact_refuses_large_games_and_small_budgets():
    with pytest.raises(ExplainerError, match="at most 20"):
        Exact().explain(lambda c: c.sum(axis=1) * 1.0, n_players=21)
    with pytest.raises(ExplainerError, match="budget: Exact needs at least 16"):
        Exact(budget=15).explain(lambda c: c.sum(axis=1) * 1.0, n_players=4)
    with pytest.raises(ExplainerError, match="budget: expected an integer"):
        Exact(budget=2.5).explain(lambda c: c.sum(axis=1) * 1.0, n_players=1)


def test_budgeted_game_memoises_counts_and_caps():
    calls = []

    def fn(c):
        calls.append(c.shape[0])
        return c.sum(axis=1) * 1.0

    g = BudgetedGame(FunctionGame(fn, 4), budget=4)
    c = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)
    np.testing.assert_array_equal(g(c), [1, 1, 2, 1])
    assert (g.n_queries, g.remaining, calls) == (2, 2, [2])
    np.testing.assert_array_equal(g(c[:1]), [1])
    assert calls == [2]  # answered from memory, no call
    with pytest.raises(BudgetExceeded, match="asked for 5 distinct coalitions, more than its budget of 4"):
        g(np.eye(4, dtype=bool))  # player 0 alone is remembered: 3 new on top of 2
    assert g.n_queries == 2 and calls == [2]  # nothing evaluated on refusal


def test_as_game_checks_its_arguments():
    with pytest.raises(ExplainerError, match="n_players: required"):
        as_game(lambda c: c.sum(axis=1))
    with pytest.raises(ExplainerError, match="expected a game or a callable"):
        as_game(42, n_players=3)
    g = FunctionGame(lambda c: c.sum(axis=1) * 1.0, 3)
    assert as_game(g) is g
    with pytest.raises(ExplainerError, match="n_players: 4 given, but the game has 3"):
        as_game(g, n_players=4)
    with pytest.raises(ExplainerError, match="n_players"):
        as_game(lambda c: c.sum(axis=1), n_players=0)


def test_bad_game_values_are_reported():
    with pytest.raises(GameError, match="non-finite"):
        Exact().explain(lambda c: np.full(c.shape[0], np.nan), n_players=3)
    with pytest.raises(GameError, match="shape"):
        Exact().explain(lambda c: np.zeros(c.shape[0] + 1), n_players=3)


def test_check_pairs():
    assert check_pairs([(3, 1), [0, 2]], 4) == [(1, 3), (0, 2)]
    with pytest.raises(ExplainerError, match="player 4 in pair"):
        check_pairs([(0, 4)], 4)
    with pytest.raises(ExplainerError, match="same player twice"):
        check_pairs([(2, 2)], 4)
    with pytest.raises(ExplainerError, match="expected a pair"):
        check_pairs([(1, 2, 3)], 4)
    with pytest.raises(ExplainerError, match="expected a list"):
        check_pairs(7, 4)


def test_modality_coalitions_cover_the_modality_game():
    mo = np.array([1, 0, 1, 2])
    c = modality_coalitions(mo, 3)
    assert c.shape == (8, 4)
    for a in range(8):
        np.testing.assert_array_equal(c[a], [(a >> int(k)) & 1 == 1 for k in mo])


def test_explanation_validates_shapes():
    with pytest.raises(ExplainerError, match="attributions"):
        Explanation(np.zeros(3), np.zeros(1), ("all",), np.zeros(2, int))
    with pytest.raises(ExplainerError, match="modality: expected 2"):
        Explanation(np.zeros(3), np.zeros(1), ("a", "b"), np.zeros(3, int))


def test_base_explainer_fills_in_the_explanation():
    class Half(Explainer):
        name = "half"

        def __init__(self, budget=None, random_state=0, scale=0.5):
            self.budget, self.random_state, self.scale = budget, random_state, scale

        def min_budget(self, n):
            return n + 1

        def _explain(self, game, rng):
            full = np.ones((1, game.n_players), dtype=bool)
            drop = ~np.eye(game.n_players, dtype=bool)
            v = game(np.vstack([full, drop]))
            return {"attributions": self.scale * (v[0] - v[1:]), "extras": {"u": rng.random()}}

    e = Half(budget=4).explain(lambda c: c @ np.array([1.0, 2.0, 4.0]), n_players=3, modality_of=[0, 1, 1])
    np.testing.assert_allclose(e.attributions, [0.5, 1.0, 2.0])
    np.testing.assert_allclose(e.modality, [0.5, 3.0])
    assert e.params == {"budget": 4, "random_state": 0, "scale": 0.5} and e.n_queries == 4
    assert e.extras["u"] == Half().explain(lambda c: c @ np.ones(3), n_players=3).extras["u"]
    assert repr(Half()) == "Half(budget=None, random_state=0, scale=0.5)"
    with pytest.raises(ExplainerError, match="budget: Half needs at least 4 coalitions on 3 players, got 3"):
        Half(budget=3).explain(lambda c: c @ np.ones(3), n_players=3)


@pytest.mark.parametrize("bad", [-1, 1.5, "seed", True])
def test_bad_random_state_is_named(bad):
    with pytest.raises(ExplainerError, match="random_state: expected"):
        Exact(random_state=bad).explain(lambda c: c.sum(axis=1) * 1.0, n_players=2)
