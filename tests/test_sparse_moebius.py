"""SparseMoebius: the whole Möbius support of a sparse game by adaptive group testing, checked
against brute-force enumeration and the planted oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import mxbench
from mxbench.errors import ExplainerError
from mxbench.explainers import Exact, SparseMoebius
from mxbench.generators.suites import suite_specs
from mxbench.oracles.moebius import bit_matrix, moebius_from_table
from mxbench.validation import Truth


def random_sparse_game(n: int, seed: int, max_order: int = 3):
    """A sum of terms on disjoint players, random float weights: products of 1-3 players, and
    max-redundancies of 2-3 players (whose weaker players' drops cancel exactly)."""
    rng = np.random.default_rng(seed)
    players = rng.permutation(n)
    terms, at = [], 0
    while at < n - max_order and len(terms) < 6:
        k = int(rng.integers(1, max_order + 1))
        kind = "max" if k > 1 and rng.random() < 0.4 else "prod"
        terms.append((kind, players[at:at + k], rng.uniform(0.5, 2.0, size=k) * rng.choice([-1, 1])))
        at += k + int(rng.integers(0, 3))

    def game(c):
        c = np.asarray(c, dtype=float)
        out = np.full(len(c), 0.37)
        for kind, p, w in terms:
            out += (c[:, p] * w).max(axis=1) if kind == "max" else w[0] * c[:, p].prod(axis=1)
        return out
    return game, terms


def true_terms(game, n: int) -> dict[tuple[int, ...], float]:
    m = moebius_from_table(game(bit_matrix(n)))
    out = {}
    for idx in np.flatnonzero(np.abs(m) > 1e-10):
        if idx:
            out[tuple(j for j in range(n) if idx >> j & 1)] = float(m[idx])
    return out


@pytest.mark.parametrize("seed", range(8))
def test_recovers_every_coefficient_and_index_exactly(seed):
    n = 14
    game, _ = random_sparse_game(n, seed)
    modality_of = [0] * 7 + [1] * 7
    e = SparseMoebius(random_state=seed).explain(game, n_players=n, modality_of=modality_of)
    exact = Exact().explain(game, n_players=n, modality_of=modality_of)
    assert e.extras["exact"] and e.extras["complete"] and e.extras["verify_error"] < 1e-12
    want = true_terms(game, n)
    assert set(e.extras["terms"]) == set(want)
    np.testing.assert_allclose([e.extras["terms"][t] for t in want], list(want.values()), atol=1e-10)
    np.testing.assert_allclose(e.attributions, exact.attributions, atol=1e-10)
    np.testing.assert_allclose(e.modality, exact.modality, atol=1e-10)
    for pair in itertools.combinations(range(n), 2):
        assert e.interactions.get(pair, 0.0) == pytest.approx(exact.interactions[pair], abs=1e-10)


def test_the_weaker_players_of_a_redundancy_are_found_from_the_empty_coalition():
    """In max(a, b, c) with a > b > c, removing b or c alone from N changes nothing."""
    n = 200

    def game(c):
        c = c.astype(float)
        return np.maximum.reduce([2.0 * c[:, 5], 1.3 * c[:, 30], 0.6 * c[:, 47]]) + 0.8 * c[:, 12] * c[:, 40]
    e = SparseMoebius().explain(game, n_players=n)
    assert e.extras["exact"] and e.extras["active"] == [5, 12, 30, 40, 47]
    assert set(e.extras["terms"]) == set(true_terms_small(game, [5, 12, 30, 40, 47], n))
    assert e.n_queries < n


def true_terms_small(game, players, n):
    """The non-zero Möbius coefficients of a game whose every term lies in ``players``."""
    k = len(players)
    rows = np.zeros((2**k, n), dtype=bool)
    rows[:, players] = bit_matrix(k)
    m = moebius_from_table(game(rows))
    return {tuple(players[j] for j in range(k) if idx >> j & 1): m[idx]
            for idx in np.flatnonzero(np.abs(m) > 1e-10) if idx}


def test_paper_task_recovered_exactly_with_fewer_queries_than_twice_the_players():
    task = mxbench.generate(suite_specs("paper")[0], instances=2)
    n = task.n_players
    oracle = task.oracle()
    for i in range(2):
        t = Truth.from_task(task, i)
        e = SparseMoebius(random_state=i).explain(task.game(i))
        assert e.extras["exact"] and e.n_queries <= 2 * n     # measured 249-341 of 244 players
        np.testing.assert_allclose(e.attributions, t.shapley, atol=1e-9)
        pairs = [(a, b) for a, b in itertools.combinations(range(n), 2) if oracle._owner[a] == oracle._owner[b] >= 0]
        want = oracle.pair_values(pairs)[i]
        got = [e.interactions.get(p, 0.0) for p in pairs]
        np.testing.assert_allclose(got, want, atol=1e-9)
        assert all(oracle._owner[a] == oracle._owner[b] for (a, b), v in e.interactions.items() if v != 0)
        active = e.extras["active"]
        assert len(e.interactions) == len(active) * (len(active) - 1) // 2   # every pair of active players


def test_a_term_of_order_four_fails_the_verification():
    def game(c):
        c = c.astype(float)
        return 1.7 * c[:, 2] * c[:, 9] * c[:, 15] * c[:, 21] + 0.4 * c[:, 30]
    e = SparseMoebius().explain(game, n_players=40)
    assert e.extras["complete"] and not e.extras["exact"] and e.extras["verify_error"] > 1e-3
    assert e.extras["active"][:4] == [2, 9, 15, 21]


def test_the_budget_caps_the_queries_and_a_short_one_is_not_exact():
    game, _ = random_sparse_game(200, 3)
    full = SparseMoebius().explain(game, n_players=200)
    assert full.extras["exact"]
    short = SparseMoebius(budget=full.n_queries // 2).explain(game, n_players=200)
    assert short.n_queries <= full.n_queries // 2
    assert not short.extras["complete"] and not short.extras["exact"]
    noisy = lambda c: game(c) + 1e-3 * c.astype(float) @ np.linspace(1.0, 2.0, 200)  # noqa: E731 (no exact zero)
    e = SparseMoebius(budget=300).explain(noisy, n_players=200)
    assert e.n_queries <= 300 and not e.extras["exact"] and len(e.extras["active"]) == 0


def test_deterministic_for_a_seed():
    game, _ = random_sparse_game(120, 5)
    a = SparseMoebius(random_state=4).explain(game, n_players=120)
    b = SparseMoebius(random_state=4).explain(game, n_players=120)
    assert np.array_equal(a.attributions, b.attributions) and a.interactions == b.interactions
    assert a.n_queries == b.n_queries and a.extras["queries"] == b.extras["queries"]


@pytest.mark.parametrize("kwargs, field", [({"group_size": 0}, "group_size"), ({"tol": -1.0}, "tol"),
                                           ({"verify": -2}, "verify"), ({"verify_tol": float("nan")}, "verify_tol"),
                                           ({"budget": 3}, "budget")])
def test_bad_parameters_are_refused_before_any_query(kwargs, field):
    calls = []

    def game(c):
        calls.append(len(c))
        return c.sum(axis=1) * 1.0
    with pytest.raises(ExplainerError, match=field):
        SparseMoebius(**kwargs).explain(game, n_players=6, modality_of=[0, 0, 0, 1, 1, 1])
    assert calls == []


@pytest.mark.parametrize("seed", range(3))
def test_overlapping_terms_in_one_large_component(seed):
    """A max of three players sharing players with a chain of products: one component of six
    players; in the max, m(02) + m(012) = 0, so the edge (0, 2) is invisible from the full
    coalition and is found from the empty one. Every pair's SII is reported, zeros included."""
    def game(c):
        c = c.astype(float)
        return (np.maximum.reduce([3 * c[:, 0], 2 * c[:, 1], 1 * c[:, 2]])
                + c[:, 2] * c[:, 3] + c[:, 3] * c[:, 4] + c[:, 4] * c[:, 5])
    e = SparseMoebius(random_state=seed).explain(game, n_players=10)
    exact = Exact().explain(game, n_players=10)
    assert e.extras["exact"] and (0, 2) in e.extras["edges"] and (0, 1, 2) in e.extras["terms"]
    np.testing.assert_allclose(e.attributions, exact.attributions, atol=1e-10)
    assert len(e.interactions) == 45
    for pair, value in exact.interactions.items():
        assert e.interactions[pair] == pytest.approx(value, abs=1e-10)


def test_a_small_component_reports_pairs_that_are_not_edges():
    def game(c):
        c = c.astype(float)
        return np.maximum.reduce([3 * c[:, 0], 2 * c[:, 1], 1 * c[:, 2]]) + c[:, 2] * c[:, 3]
    e = SparseMoebius().explain(game, n_players=8)
    exact = Exact().explain(game, n_players=8)
    assert e.extras["exact"] and e.interactions[(0, 2)] == pytest.approx(exact.interactions[(0, 2)]) == -0.5


def test_the_verification_shrinks_to_the_budget_left():
    game, _ = random_sparse_game(60, 1)
    full = SparseMoebius().explain(game, n_players=60)
    assert full.extras["exact"] and full.extras["verify_rows"] == 2 + 16
    tight = SparseMoebius(budget=full.n_queries - 10).explain(game, n_players=60)
    assert tight.extras["exact"] and tight.extras["verify_rows"] == 2 + 6 and tight.n_queries == full.n_queries - 10
    assert sum(tight.extras["queries"].values()) == tight.n_queries


def test_a_player_active_through_one_term_and_weakest_in_a_max_is_linked_after_a_failed_check():
    """Player 3 is active through the product (3, 2); in max(3, 5, 1) it is the weakest, so the
    full coalition cannot see its edges to 5 and 1: the first check fails, the edges are searched
    again from the empty coalition, and the second check passes."""
    def game(c):
        c = c.astype(float)
        return (np.maximum(0.93 * c[:, 5], 1.96 * c[:, 1]) + 0.21 * c[:, 7] + 2.03 * c[:, 3] * c[:, 2]
                + 2.22 * c[:, 1] + np.maximum.reduce([2.46 * c[:, 3], 2.93 * c[:, 5], 2.61 * c[:, 1]]))
    e = SparseMoebius().explain(game, n_players=9)
    exact = Exact().explain(game, n_players=9)
    assert e.extras["deepened"] and e.extras["exact"] and (1, 3, 5) in e.extras["terms"]
    assert set(e.extras["terms"]) == set(true_terms(game, 9))
    np.testing.assert_allclose(e.attributions, exact.attributions, atol=1e-10)
    assert SparseMoebius().explain(random_sparse_game(40, 0)[0], n_players=40).extras["deepened"] is False


def test_a_second_search_cut_by_the_budget_keeps_the_first_pass():
    def game(c):
        c = c.astype(float)
        return 1.7 * c[:, 2] * c[:, 9] * c[:, 15] * c[:, 21] + 0.4 * c[:, 30]
    e = SparseMoebius(budget=80).explain(game, n_players=40)
    assert e.n_queries == 80 == sum(e.extras["queries"].values())
    assert e.extras["complete"] and not e.extras["exact"] and not e.extras["deepened"]
    assert 0.5 < e.extras["verify_error"] < 1.0 and len(e.interactions) == 40 * 39 // 2
