"""The FL-I2MoE interaction probes: SIIProbe (Monte Carlo SII) and RedundancyGap, against exact truth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import mxbench
from mxbench.errors import ExplainerError
from mxbench.explainers import Exact
from mxbench.explainers.interactions import (DEFAULT_DRAWS, RedundancyGap, SIIProbe, _round_coalitions)
import mxbench.explainers.interactions as interactions


# --------------------------------------------------------------------------- helpers


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUROC, ties counted 1/2."""
    pos, neg = np.asarray(pos, float)[:, None], np.asarray(neg, float)[None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def higher_order_game(n: int, seed: int):
    """A game with interactions of every order (so Δ_ij(S) varies with S)."""
    w = np.random.default_rng(seed).normal(size=n)

    def fn(c):
        c = c.astype(float)
        return 2.0 * np.tanh(c @ w) + 1.5 * c[:, 0] * c[:, 1] * c[:, 2] - c[:, 3] * np.maximum(c[:, 4], c[:, 5])
    return fn


class Recorder:
    """A plain game function that records each call's batch."""

    def __init__(self, fn):
        self.fn, self.batches = fn, []

    def __call__(self, c):
        self.batches.append(np.array(c))
        return self.fn(c)


def planted_spec(seed: int, neutral: float = 0.0, extra_terms: list | None = None) -> dict:
    """Two modalities with unique, product and xor synergy, redundancy terms and distractors."""
    terms = [{"kind": "unique", "players": ["tab:0"], "weight": 1.5},
             {"kind": "unique", "players": ["txt:4"], "fn": "tanh", "weight": -1.0},
             {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:0"], "weight": 1.0},
             {"kind": "synergy", "op": "xor", "players": ["tab:2", "txt:1"], "weight": 0.8},
             {"kind": "redundancy", "players": ["tab:3", "txt:2"], "weight": 1.2},
             {"kind": "redundancy", "players": ["txt:3", "tab:4"], "weight": -1.0}]
    return {"name": f"planted{seed}", "seed": seed, "instances": 12,
            "modalities": [{"name": "tab", "kind": "tabular", "features": 6},
                           {"name": "txt", "kind": "text", "length": 6, "vocab": 32, "neutral": neutral}],
            "terms": terms + (extra_terms or [])}


@pytest.fixture(scope="module")
def planted():
    return [mxbench.generate(planted_spec(seed)) for seed in range(3)]


@pytest.fixture(scope="module")
def planted_high_order():
    """Planted game with a 3-way product synergy and a 3-copy redundancy (Δ depends on S)."""
    spec = planted_spec(7)
    spec["terms"] = [{"kind": "unique", "players": ["txt:4"], "fn": "tanh", "weight": -1.0},
                     {"kind": "synergy", "op": "product", "players": ["tab:1", "txt:0"], "weight": 1.0},
                     {"kind": "synergy", "op": "xor", "players": ["tab:2", "txt:1"], "weight": 0.8},
                     {"kind": "synergy", "op": "product", "players": ["tab:5", "txt:5", "tab:0"], "weight": 1.0},
                     {"kind": "redundancy", "players": ["tab:3", "txt:2", "tab:4"], "weight": 1.2}]
    return mxbench.generate(spec)


def kinds_of(task):
    p = task.pairs()
    return {(int(a), int(b)): k for a, b, k in zip(p.i, p.j, p.kind)}


# --------------------------------------------------------------------------- the estimator is unbiased


def test_round_sampling_is_exactly_unbiased():
    """Enumerating every order and size, the mean of Δ is the exact SII and the first-order estimate is φ."""
    n = 5
    fn = higher_order_game(n + 1, 3)
    game = lambda c: fn(np.concatenate([c, np.zeros((c.shape[0], 1), bool)], axis=1))  # noqa: E731
    exact = Exact().explain(game, n_players=n)
    pairs = list(itertools.combinations(range(n), 2))
    pi, pj = np.array(pairs).T
    perms = np.array(list(itertools.permutations(range(n))))
    keys = np.argsort(perms, axis=1) / n  # player perm[k] gets key k/n: the order is perm
    u = np.concatenate([np.repeat(keys, n - 1, axis=0),
                        np.tile((np.arange(n - 1) + 0.5) / (n - 1), len(perms))[:, None]], axis=1)
    coal, s = _round_coalitions(u, n, pi, pj)
    assert np.array_equal(np.bincount(s), np.full(n - 1, len(perms)))
    S = coal[:, :, 0, :]
    assert np.array_equal(S.sum(axis=2), np.repeat(s[:, None], len(pairs), axis=1))
    assert not S[:, np.arange(len(pairs)), pi].any() and not S[:, np.arange(len(pairs)), pj].any()
    assert np.array_equal(coal[:, :, 3].sum(axis=2), S.sum(axis=2) + 2)
    v = game(coal.reshape(-1, n)).reshape(coal.shape[:3])
    delta = v[..., 3] - v[..., 2] - v[..., 1] + v[..., 0]
    want = np.array([exact.interactions[p] for p in pairs])
    np.testing.assert_allclose(delta.mean(axis=0), want, atol=1e-12)
    assert np.abs(want).min() > 1e-3  # every pair interacts: the check is not vacuous
    phi, count = interactions._shapley_from_draws(v, s, n, pairs)
    np.testing.assert_allclose(phi, exact.attributions, atol=1e-12)
    assert (count == (n - 1) * len(perms) * (n - 1)).all()


def test_error_falls_as_the_budget_grows():
    n = 11
    fn = higher_order_game(n, 0)
    exact = Exact().explain(fn, n_players=n)
    pairs = [(0, 1), (1, 2), (3, 4), (4, 5), (0, 6), (7, 9)]
    want = np.array([exact.interactions[p] for p in pairs])
    errors = []
    for budget in (24, 240, 2400):
        err = []
        for seed in range(8):
            e = SIIProbe(budget=budget, pairs=pairs, random_state=seed).explain(fn, n_players=n)
            err.append(np.abs(np.array([e.interactions[p] for p in pairs]) - want).mean())
            assert e.n_queries <= budget
        errors.append(np.mean(err))
    assert errors[1] < 0.6 * errors[0] and errors[2] < 0.6 * errors[1], errors
    assert errors[2] < 0.25 * errors[0], errors


def test_many_draws_are_close_to_exact_sii_and_shapley():
    n = 9
    fn = higher_order_game(n, 1)
    exact = Exact().explain(fn, n_players=n)
    e = SIIProbe(budget=4000, pairs="all", random_state=2).explain(fn, n_players=n)
    pairs = list(e.interactions)
    got = np.array([e.interactions[p] for p in pairs])
    want = np.array([exact.interactions[p] for p in pairs])
    se = np.array([e.extras["stderr"][p] for p in pairs])
    assert e.extras["draws"] == 4000 and e.n_queries == 2**n  # every coalition known, then free draws
    assert np.abs(got - want).max() < 0.06
    # the reported standard errors are honest: errors within 4.5 of them (36 pairs)
    assert (np.abs(got - want) <= 4.5 * se + 1e-12).all()
    np.testing.assert_allclose(e.attributions, exact.attributions, atol=0.05 * np.abs(exact.attributions).max())
    assert e.extras["attribution_source"] == ["pairs"] * n


def test_planted_pairwise_games_give_the_exact_sii_at_the_smallest_budget(planted):
    """With terms of at most two players Δ_ij(S) does not depend on S: one draw is exact."""
    task = planted[0]
    pairs = [tuple(p) for p in task.pairs()[["i", "j"]].to_numpy().tolist()] + [(0, 5), (6, 11)]
    oracle = task.oracle().pair_values(pairs, "SII")
    for i in range(4):
        e = SIIProbe(budget=4 * len(pairs), pairs=pairs).explain(task.game(i))
        assert e.extras["draws"] == 1
        np.testing.assert_allclose([e.interactions[p] for p in pairs], oracle[i], atol=1e-9)


def test_planted_high_order_game_converges(planted_high_order):
    task = planted_high_order
    pairs = [tuple(p) for p in task.pairs()[["i", "j"]].to_numpy().tolist()]
    oracle = task.oracle().pair_values(pairs, "SII")
    kinds = [kinds_of(task)[p] for p in pairs]
    assert len(pairs) == 3 + 3 + 1 + 1  # synergy3, 3-copy redundancy, product, xor
    err = {}
    for budget in (4 * len(pairs), 40 * len(pairs), 400 * len(pairs)):
        errs = [np.abs(np.array([e.interactions[p] for p in pairs]) - oracle[i]).mean()
                for i in range(3) for seed in range(4)
                for e in [SIIProbe(budget=budget, pairs=pairs, random_state=seed).explain(task.game(i))]]
        err[budget] = np.mean(errs)
    b = sorted(err)
    assert err[b[2]] < err[b[1]] < err[b[0]], err
    assert err[b[2]] < 0.2 * np.abs(oracle[:3]).mean()
    assert "redundancy" in kinds and kinds.count("synergy") == 5


# --------------------------------------------------------------------------- sign of the SII on planted kinds


def test_sii_sign_follows_the_joint_effect_not_the_kind(planted):
    """Under the exact oracle the SII sign of a planted pair is the sign of its effect times ±1.

    Synergy: SII has the sign of the joint effect; redundancy: the opposite sign. Both effects
    take either sign across instances, so the raw SII sign does not tell the kinds apart; the
    oriented SII (sign of the joint effect times Δ) does: > 0 synergy, < 0 redundancy.
    """
    for task in planted:
        kinds = kinds_of(task)
        pairs = list(kinds)
        sii = task.oracle().pair_values(pairs, "SII")
        cols = {k: [c for c, kk in enumerate(kinds.values()) if kk == k] for k in ("synergy", "redundancy")}
        signs = {k: np.sign(sii[:, c]) for k, c in cols.items()}
        for k in signs:  # the raw sign varies across instances
            assert (signs[k] > 0).any() and (signs[k] < 0).any()
        for i in range(6):
            e = SIIProbe(budget=4 * len(pairs), pairs=pairs).explain(task.game(i))
            full = task.game(i)(np.ones((1, task.n_players), bool))[0]
            for p, kind in kinds.items():
                o = e.extras["oriented_sii"][p]
                # Δ and J are constant in S here: oriented SII = sign(J) * SII exactly
                keep = np.ones(task.n_players, bool)
                keep[list(p)] = False
                joint = full - task.game(i)(keep[None])[0]
                assert o == pytest.approx(np.sign(joint) * e.interactions[p], abs=1e-9)
                if abs(e.interactions[p]) > 1e-9:
                    assert (o > 0) if kind == "synergy" else (o < 0), (p, kind, o)


# --------------------------------------------------------------------------- redundancy gap separates


#: |SII| above which a planted redundant pair counts as active in an instance (weights are ~1).
ACTIVE = 0.05


def _rg_aurocs(task, form, budget, instances):
    kinds = kinds_of(task)
    sii = task.oracle().interaction_matrix("SII", instances)
    out = []
    for r, i in enumerate(instances):
        e = RedundancyGap(budget=budget, form=form, random_state=i).explain(task.game(i))
        # a planted redundant pair is active in this instance when its |SII| is not tiny: copies
        # of a latent near 0 (the spread then flips their signs) leave nothing to substitute
        pos = [v for p, v in e.interactions.items() if kinds.get(p) == "redundancy" and abs(sii[r][p]) > ACTIVE]
        neg = [v for p, v in e.interactions.items() if kinds.get(p) != "redundancy"]
        if pos:
            out.append(auroc(pos, neg))
    return np.array(out)


def test_redundancy_gap_separates_redundant_pairs(planted, planted_high_order):
    for task in planted + [planted_high_order]:
        kinds = kinds_of(task)
        for i in range(4):
            e = RedundancyGap(budget=1500, random_state=i).explain(task.game(i))
            sii = task.oracle().interaction_matrix("SII", [i])[0]
            for p, v in e.interactions.items():
                if kinds.get(p) == "redundancy":
                    # 2 copies: RG = |SII|; 3 copies: the pair substitutes only when the third copy is absent
                    assert v > 0.2 * abs(sii[p]) if abs(sii[p]) > ACTIVE else v < 2 * ACTIVE, (p, v, sii[p])
                else:  # synergy (product, xor, 3-way), unique, distractor pairs
                    assert v < 1e-9, (p, kinds.get(p), v)
        assert _rg_aurocs(task, "oriented", 1500, range(4)).min() == 1.0


def test_redundancy_gap_forms_against_their_definitions(planted):
    """The literal forms (a) and (b) do what their definitions say, which is why they separate worse."""
    task = planted[1]
    kinds = kinds_of(task)
    sii = task.oracle().interaction_matrix("SII")
    aucs = {form: _rg_aurocs(task, form, 1500, range(8)).mean() for form in ("oriented", "mc", "removal")}
    assert aucs["oriented"] == 1.0 and aucs["mc"] < 0.95 and aucs["removal"] < 0.95, aucs
    full_game = task.game(0)
    n = task.n_players
    mc = RedundancyGap(budget=1500, form="mc").explain(full_game)
    rem = RedundancyGap(pairs=[(0, 1), (0, 6), (1, 6)], form="removal").explain(full_game)
    for p, kind in kinds.items():  # pairwise terms: Δ constant, (b) = max(0, -SII)
        assert mc.interactions[p] == pytest.approx(max(0.0, -sii[0][p]), abs=1e-9)
    v = lambda absent: full_game((~np.isin(np.arange(n), absent))[None])[0]  # noqa: E731
    for (a, b), got in rem.interactions.items():
        want = (v([]) - v([a, b])) - max(v([]) - v([a]), v([]) - v([b]))
        assert got == pytest.approx(want, abs=1e-12)
    np.testing.assert_allclose(rem.attributions[[0, 1, 6]], [v([]) - v([k]) for k in (0, 1, 6)], atol=1e-12)
    assert rem.extras["attribution_source"][2] == "none" and rem.attributions[2] == 0.0


def test_redundancy_gap_on_negative_effects():
    """Copies with a negative weight still score; a synergy with a negative effect does not."""
    game = lambda c: -1.0 * (c[:, 0] | c[:, 1]) - 2.0 * (c[:, 2] & c[:, 3]) + c[:, 4]  # noqa: E731
    e = RedundancyGap(budget=400, pairs=[(0, 1), (2, 3), (0, 4), (3, 4)]).explain(game, n_players=5)
    assert e.interactions == {(0, 1): 1.0, (2, 3): 0.0, (0, 4): 0.0, (3, 4): 0.0}
    assert e.extras["sii"][(0, 1)] == 1.0 and e.extras["sii"][(2, 3)] == -2.0


# --------------------------------------------------------------------------- the contract


def test_deterministic_and_within_budget():
    n = 10
    fn = higher_order_game(n, 4)
    for cls in (SIIProbe, RedundancyGap):
        a = cls(budget=500, pairs="all", random_state=3).explain(fn, n_players=n)
        b = cls(budget=500, pairs="all", random_state=3).explain(fn, n_players=n)
        c = cls(budget=500, pairs="all", random_state=4).explain(fn, n_players=n)
        assert a.interactions == b.interactions and np.array_equal(a.attributions, b.attributions)
        assert a.interactions != c.interactions
        for budget in (180, 181, 500, 900):
            e = cls(budget=budget, random_state=1).explain(fn, n_players=n)
            # the budget is used: another round would not have fitted
            assert budget - 4 * 45 < e.n_queries <= budget, (budget, e.n_queries)
    e = SIIProbe(pairs=[(0, 1)]).explain(fn, n_players=n)
    assert e.extras["draws"] == DEFAULT_DRAWS and e.n_queries <= 4 * DEFAULT_DRAWS


def test_planning_in_blocks_changes_nothing(monkeypatch):
    fn = higher_order_game(8, 5)
    big = SIIProbe(budget=400, random_state=0).explain(fn, n_players=8)
    monkeypatch.setattr(interactions, "_BLOCK_ENTRIES", 1)
    small = SIIProbe(budget=400, random_state=0).explain(fn, n_players=8)
    assert big.extras["draws"] > 1
    assert big.interactions == small.interactions and big.n_queries == small.n_queries


def test_every_round_goes_to_the_game_in_one_call():
    n = 9
    for probe, calls in ((SIIProbe(budget=700, pairs="all"), 1), (RedundancyGap(budget=700, pairs="cross"), 1),
                         (SIIProbe(budget=700, pairs="candidates", top_k=5), 2),
                         (RedundancyGap(budget=700, form="removal"), 1)):
        rec = Recorder(higher_order_game(n, 6))
        e = probe.explain(rec, n_players=n, modality_of=[0] * 4 + [1] * 5)
        assert len(rec.batches) == calls, (probe, [len(b) for b in rec.batches])
        sizes = [len(b) for b in rec.batches]
        assert sum(sizes) == e.n_queries  # each distinct coalition sent once
        for b in rec.batches:
            assert len(np.unique(b, axis=0)) == len(b)
        if calls == 2:
            assert sizes[0] == 2 * n + 2


def test_pair_modes():
    n = 6
    fn = higher_order_game(n, 7)
    e = SIIProbe(budget=400, pairs="cross").explain(fn, n_players=n, modality_of=[0, 0, 1, 1, 1, 2])
    assert set(e.interactions) == {(a, b) for a in range(n) for b in range(a + 1, n)
                                   if [0, 0, 1, 1, 1, 2][a] != [0, 0, 1, 1, 1, 2][b]}
    e = SIIProbe(budget=400, pairs=[(3, 1), (1, 3), (0, 2)]).explain(fn, n_players=n)
    assert list(e.interactions) == [(1, 3), (0, 2)]
    assert e.extras["attribution_source"] == ["pairs", "pairs", "pairs", "pairs", "none", "none"]
    assert e.attributions[4] == 0.0 and e.modality.tolist() == [e.attributions.sum()]


def test_candidates_from_a_first_pass_and_from_an_explanation(planted):
    task = planted[0]
    game = task.game(2)
    exact = task.oracle()
    planted_players = sorted({x for p in kinds_of(task) for x in p})
    # first pass: synergistic players are seen by the leave-one-out drop, redundant ones by the single gain
    e = SIIProbe(budget=2 * 12 + 2 + 4 * 45, pairs="candidates", top_k=10).explain(game)
    active = [k for k in planted_players if abs(task.latents[2, k]) > 0]
    assert set(active) <= set(e.extras["candidate_players"])
    assert e.n_queries <= 2 * 12 + 2 + 4 * 45
    # players outside the candidates keep the first pass's estimate: exact Shapley for pairwise games
    out = [k for k in range(12) if k not in e.extras["candidate_players"]]
    np.testing.assert_allclose(e.attributions[out], exact.shapley()[2, out], atol=1e-9)
    assert {e.extras["attribution_source"][k] for k in out} == {"first_pass"}
    # given explanation: its top-k by |attribution|
    ref = Exact().explain(game)
    top = np.sort(np.argsort(-np.abs(ref.attributions), kind="stable")[:4]).tolist()
    e = RedundancyGap(budget=24, pairs="candidates", candidates=ref, top_k=4).explain(game)
    assert e.extras["candidate_players"] == top
    assert list(e.interactions) == [(a, b) for x, a in enumerate(top) for b in top[x + 1:]]


def test_bad_input_raises_before_any_query():
    n = 6
    for probe, match in [
        (SIIProbe(budget=4 * 15 - 1, pairs="all"), "budget"),
        (SIIProbe(budget=7, pairs=[(0, 1), (2, 3)]), "budget"),
        (SIIProbe(budget=100, pairs=[(0, 6)]), "player 6"),
        (SIIProbe(pairs=[(0, -1)]), "player -1"),
        (SIIProbe(pairs=[(2, 2)]), "same player"),
        (SIIProbe(pairs=[]), "empty"),
        (SIIProbe(pairs="some"), "pairs"),
        (SIIProbe(pairs="cross"), "no pair"),
        (SIIProbe(budget=2 * n + 2 + 4 * 3 - 1, pairs="candidates", top_k=3), "budget"),
        (SIIProbe(pairs="candidates", top_k=1), "top_k"),
        (SIIProbe(pairs="candidates", candidates="x"), "candidates"),
        (RedundancyGap(form="max"), "form"),
        (RedundancyGap(budget=1 + 4 + 2 - 1, pairs=[(0, 1), (2, 3)], form="removal"), "budget"),
        (RedundancyGap(budget=4 * 15 - 1, pairs="all"), "budget"),
    ]:
        rec = Recorder(lambda c: c.sum(axis=1) * 1.0)
        with pytest.raises(ExplainerError, match=match):
            probe.explain(rec, n_players=n)
        assert rec.batches == [], probe
    cross = SIIProbe(budget=4 * 8 - 1, pairs="cross")
    rec = Recorder(lambda c: c.sum(axis=1) * 1.0)
    with pytest.raises(ExplainerError, match="budget"):
        cross.explain(rec, n_players=n, modality_of=[0, 0, 0, 0, 1, 1])
    assert rec.batches == []
    other = Exact().explain(lambda c: c.sum(axis=1) * 1.0, n_players=4)
    with pytest.raises(ExplainerError, match="candidates"):
        SIIProbe(pairs="candidates", candidates=other).explain(lambda c: c.sum(axis=1) * 1.0, n_players=n)
    assert SIIProbe(budget=64, top_k=3).get_params() == {"budget": 64, "pairs": "auto", "candidates": None,
                                                         "top_k": 3, "screen": "interaction", "max_players": None,
                                                         "random_state": 0}


def test_more_than_64_players():
    """Coalition keys switch from 64-bit integers to bytes past 64 players; the estimates do not change."""
    n = 70
    rec = Recorder(lambda c: 2.0 * c[:, 0] * c[:, 69] - 1.0 * (c[:, 64] | c[:, 65]) + c.sum(axis=1))
    e = SIIProbe(budget=200, pairs=[(0, 69), (64, 65), (1, 2)]).explain(rec, n_players=n)
    assert e.interactions == {(0, 69): 2.0, (64, 65): 1.0, (1, 2): 0.0}
    assert len(rec.batches) == 1 and len(np.unique(rec.batches[0], axis=0)) == len(rec.batches[0]) == e.n_queries
    assert e.n_queries <= 200 and e.extras["draws"] > 1
    np.testing.assert_allclose(e.attributions[[1, 2]], [1.0, 1.0], atol=1e-12)  # additive players: exact


# --------------------------------------------------------------------------- the screen (pairs="auto")


def screen_spec(instances: int = 4) -> dict:
    """244 players (196 patches, 48 tokens), 13 planted terms over 28 players, mostly cross-modal."""
    return {"name": "screen", "seed": 5, "instances": instances, "noise": 0.0,
            "modalities": [{"name": "img", "kind": "image", "channels": 1, "size": 56, "patch": 4},
                           {"name": "txt", "kind": "text", "length": 48, "vocab": 512}],
            "terms": [{"kind": "redundancy", "players": ["img:90", "txt:10", "txt:30"], "weight": 1.0},
                      {"kind": "synergy", "op": "product", "players": ["img:20", "img:21", "txt:3"], "weight": 1.0},
                      {"kind": "synergy", "op": "xor", "players": ["img:150", "txt:40"], "weight": 0.8}],
            "random_terms": {"unique": 3, "synergy": 4, "redundancy": 3, "placement": "cross"}}


@pytest.fixture(scope="module")
def screen_task():
    return mxbench.generate(screen_spec())


def planted_pairs(task, i):
    """The planted pairs (in one term), their kinds, exact SII on instance i and which are material (>= 5% of max)."""
    pairs, kinds = [], []
    for t in task.plan.terms:
        for a, b in itertools.combinations(sorted(t.ids), 2):
            pairs.append((a, b))
            kinds.append(t.kind)
    sii = task.oracle().pair_values(pairs, "SII")[i]
    return pairs, kinds, sii, np.abs(sii) >= 0.05 * np.abs(sii).max()


def precision(interactions, material_pairs):
    top = sorted(interactions, key=lambda p: -abs(interactions[p]))[:len(material_pairs)]
    return len(set(top) & set(material_pairs)) / len(material_pairs)


def test_screen_recovers_the_planted_pairs_of_hundreds_of_players(screen_task):
    """Default parameters at 4n queries: material planted pairs on top, redundancy told from synergy."""
    task = screen_task
    n = task.n_players
    assert n == 244 and 4 * n < 4 * (n * (n - 1) // 2)
    precisions, aurocs = [], []
    for i in range(4):
        pairs, kinds, sii, material = planted_pairs(task, i)
        rows = task.oracle().interaction_matrix("SII", [i])[0].sum(axis=1)
        for seed in range(2):
            e = SIIProbe(budget=4 * n, random_state=seed).explain(task.game(i))
            rg = RedundancyGap(budget=4 * n, random_state=seed).explain(task.game(i))
            assert e.extras["pair_mode"] == rg.extras["pair_mode"] == "screen"
            assert e.n_queries <= 4 * n and rg.n_queries <= 4 * n
            screen = e.extras["screen"]
            # the endpoint pass gives every player's exact SII row sum; the non-zero ones are screened
            np.testing.assert_allclose(screen["row_sums"], rows, atol=1e-9)
            assert screen["players"] == np.flatnonzero(np.abs(rows) > 1e-9).tolist()
            # the regression's BII is the exact SII here (no interaction of order > 3)
            exact = dict(zip(pairs, sii))
            for p, b in screen["bii"].items():
                assert b == pytest.approx(exact.get(p, 0.0), abs=1e-9), p
            precisions.append(precision(e.interactions, [p for p, m in zip(pairs, material) if m]))
            gap = rg.interactions
            pos = [gap.get(p, 0.0) for p, k, m in zip(pairs, kinds, material) if m and k == "redundancy"]
            neg = [gap.get(p, 0.0) for p, k, m in zip(pairs, kinds, material) if m and k == "synergy"]
            if pos and neg:
                aurocs.append(auroc(pos, neg))
    # measured: precision 1.0 and AUROC 1.0 on every instance and seed (at 3n: means 0.97 and 0.99)
    assert np.mean(precisions) >= 0.9 and min(precisions) >= 0.75, precisions
    assert len(aurocs) >= 4 and np.mean(aurocs) >= 0.9, aurocs


def test_screen_sii_against_the_exact_oracle(planted, planted_high_order):
    """Kept pairs: pairwise terms give the exact SII, 3-way terms converge within the reported errors."""
    task = planted[0]
    n = task.n_players
    for i in range(3):
        e = SIIProbe(budget=150, random_state=i).explain(task.game(i))
        assert e.extras["pair_mode"] == "screen" and 150 < 4 * 66
        exact = task.oracle().interaction_matrix("SII", [i])[0]
        active = {(a, b) for a in range(n) for b in range(a + 1, n) if abs(exact[a, b]) > 1e-9}
        assert set(e.interactions) == active  # every interacting pair kept, nothing else
        for p, v in e.interactions.items():
            assert v == pytest.approx(exact[p], abs=1e-9)
            assert e.extras["screen"]["bii"][p] == pytest.approx(exact[p], abs=1e-9)
    task = planted_high_order  # a 3-way product and 3 copies: Δ_ij(S) depends on S
    n = task.n_players
    for i in range(2):
        exact = task.oracle().interaction_matrix("SII", [i])[0]
        active = {(a, b) for a in range(n) for b in range(a + 1, n) if abs(exact[a, b]) > 1e-9}
        runs = [SIIProbe(budget=263, random_state=seed).explain(task.game(i)) for seed in range(10)]
        for e in runs:
            assert e.extras["pair_mode"] == "screen" and set(e.interactions) == active
            assert e.extras["draws"] >= 5 and e.n_queries <= 263
            for p, b in e.extras["screen"]["bii"].items():
                assert b == pytest.approx(exact[p], abs=1e-9)
        pairs = sorted(active)
        got = np.mean([[e.interactions[p] for p in pairs] for e in runs], axis=0)
        se = np.sqrt(np.sum([[e.extras["stderr"][p] ** 2 for p in pairs] for e in runs], axis=0)) / len(runs)
        want = np.array([exact[p] for p in pairs])
        assert (np.abs(got - want) <= 4.5 * se + 1e-9).all(), (got, want, se)
        assert (se > 0).sum() >= 6  # the 3-way pairs vary: the check is not vacuous


def test_row_sums_are_exact_for_every_game():
    """v(N) - v(N∖k) - v({k}) + v(∅) = Σ_j SII(k, j), here with interactions of every order."""
    n = 9
    fn = higher_order_game(n, 8)
    exact = Exact().explain(fn, n_players=n).interaction_matrix(fill=0.0).sum(axis=1)
    e = SIIProbe(budget=60, random_state=0).explain(fn, n_players=n)
    assert e.extras["pair_mode"] == "screen"
    np.testing.assert_allclose(e.extras["screen"]["row_sums"], exact, atol=1e-12)


def test_auto_resolves_by_the_budget():
    n = 10
    fn = higher_order_game(n, 9)
    for budget, mode in ((None, "all"), (900, "all"), (180, "all"), (179, "screen"), (42, "screen")):
        e = SIIProbe(budget=budget).explain(fn, n_players=n)
        assert e.extras["pair_mode"] == mode, budget
        assert (len(e.interactions) == 45) == (mode == "all")
        assert e.extras["screen"] is None if mode == "all" else e.extras["screen"]["players"]
    assert SIIProbe().min_budget(n) == 2 * n + 2 + 2 * interactions.MIN_SCREEN_ROWS + 4 == 42
    assert SIIProbe().min_budget(3) == 4 * 3  # all pairs is cheaper on 3 players
    assert SIIProbe(pairs="all").min_budget(n) == 180
    removal = RedundancyGap(form="removal")
    assert removal.min_budget(n) == 2 * n + 2 + 2 * interactions.MIN_SCREEN_ROWS + 1
    assert removal.explain(fn, n_players=n).extras["pair_mode"] == "all"
    assert RedundancyGap(budget=1 + n + 45, form="removal").explain(fn, n_players=n).extras["pair_mode"] == "all"
    assert RedundancyGap(budget=n + 45, form="removal").explain(fn, n_players=n).extras["pair_mode"] == "screen"


def test_screen_budget_is_a_hard_cap():
    """Every budget from the smallest: never past it, each coalition sent once, the endpoint pass first."""
    n = 60
    w = np.random.default_rng(0).normal(size=n)

    def fn(c):  # sparse pairs and a triple, plus a small dense part (the regression never fits exactly)
        c = c.astype(float)
        return (2.0 * c[:, 0] * c[:, 1] - c[:, 2] * np.maximum(c[:, 3], c[:, 4]) + c[:, 5] * c[:, 6] * c[:, 7]
                + 0.01 * np.tanh(c @ w))
    low = SIIProbe().min_budget(n)
    for cls in (SIIProbe, RedundancyGap):
        for budget in (low, low + 1, low + 7, 3 * n, 8 * n + 3):
            rec = Recorder(fn)
            e = cls(budget=budget, random_state=budget).explain(rec, n_players=n)
            assert e.extras["pair_mode"] == "screen"
            sent = np.concatenate(rec.batches)
            assert e.n_queries <= budget and len(sent) == e.n_queries == len(np.unique(sent, axis=0)), budget
            assert len(rec.batches[0]) == 2 * n + 2
            if budget >= 3 * n:  # the dense part keeps the regression going: the budget is spent
                assert e.n_queries > budget - 4 * len(e.interactions), (budget, e.n_queries)
    with pytest.raises(ExplainerError, match=f"needs at least {low} coalitions on {n} players, got {low - 1}"):
        SIIProbe(budget=low - 1).explain(Recorder(fn), n_players=n)


def test_screen_is_deterministic_for_a_seed(screen_task):
    game = screen_task.game(1)
    n = screen_task.n_players
    a = SIIProbe(budget=4 * n, random_state=5).explain(game)
    b = SIIProbe(budget=4 * n, random_state=5).explain(game)
    c = SIIProbe(budget=4 * n, random_state=6).explain(game)
    assert a.extras["draws"] > 1
    assert a.interactions == b.interactions and a.extras["stderr"] == b.extras["stderr"]
    assert a.extras["screen"]["bii"] == b.extras["screen"]["bii"] and a.n_queries == b.n_queries
    assert np.array_equal(a.attributions, b.attributions)
    assert a.extras["stderr"] != c.extras["stderr"]


def test_screen_options_and_their_errors():
    n = 40
    rec = Recorder(lambda c: c.sum(axis=1) * 1.0)
    for probe, match in [
        (SIIProbe(pairs="some"), r"pairs: expected one of \('auto', 'all', 'cross', 'candidates'\)"),
        (SIIProbe(screen="banzhaf"), r"screen: expected one of \('interaction', 'effect'\), got 'banzhaf'"),
        (RedundancyGap(screen=None), r"screen: expected one of"),
        (SIIProbe(max_players=1), r"max_players: expected None or an integer >= 2, got 1"),
        (SIIProbe(max_players=2.5), r"max_players: expected None or an integer >= 2, got 2.5"),
        (SIIProbe(max_players=True), r"max_players: expected None or an integer >= 2, got True"),
        (SIIProbe(budget=2 * n + 21), r"SIIProbe needs at least 102 coalitions on 40 players, got 101"),
        (RedundancyGap(budget=2 * n + 18, form="removal"), r"needs at least 99 coalitions on 40 players, got 98"),
    ]:
        with pytest.raises(ExplainerError, match=match):
            probe.explain(rec, n_players=n)
        assert rec.batches == [], probe
    assert SIIProbe().min_budget(n) == 102 and RedundancyGap(form="removal").min_budget(n) == 99
    with pytest.raises(ExplainerError, match="screen"):
        SIIProbe(screen="x").min_budget(n)


def test_screen_players_options_and_empty_screens():
    n = 40
    # pairs (3, 17), (5, 30); player 9 acts alone
    game = lambda c: 2.0 * c[:, 3] * c[:, 17] + 1.0 * (c[:, 5] | c[:, 30]) + c[:, 9]  # noqa: E731
    e = SIIProbe(budget=200).explain(game, n_players=n)
    assert e.extras["candidate_players"] == [3, 5, 17, 30] and e.interactions == {(3, 17): 2.0, (5, 30): -1.0}
    assert e.extras["attribution_source"][9] == "first_pass" and e.attributions[9] == 1.0
    effect = SIIProbe(budget=200, screen="effect").explain(game, n_players=n)
    assert effect.extras["candidate_players"] == [3, 5, 9, 17, 30] and effect.interactions == e.interactions
    capped = SIIProbe(budget=200, max_players=2).explain(game, n_players=n)  # the two largest row sums
    assert capped.extras["candidate_players"] == [3, 17] and capped.interactions == {(3, 17): 2.0}
    # an additive game: no player has a row sum, no pair is kept, the first pass is the Shapley value
    additive = lambda c: c @ np.arange(n, dtype=float)  # noqa: E731
    for cls in (SIIProbe, RedundancyGap):
        e = cls(budget=200).explain(additive, n_players=n)
        assert e.interactions == {} and e.extras["draws"] == 0 and e.extras["screen"]["players"] == []
        assert e.n_queries == 2 * n + 2 and e.attributions.tolist() == list(range(n))


def test_screen_with_the_removal_form():
    n = 40
    game = lambda c: 2.0 * c[:, 3] * c[:, 17] + 1.0 * (c[:, 5] | c[:, 30]) + c[:, 9]  # noqa: E731
    rec = Recorder(game)
    e = RedundancyGap(budget=150, form="removal").explain(rec, n_players=n)
    # RG = [v(N) - v(N∖ij)] - max of the single drops: 2 - 2 for the product, 1 - 0 for the copies
    assert e.extras["pair_mode"] == "screen" and e.interactions == {(3, 17): 0.0, (5, 30): 1.0}
    # the endpoint pass already holds v(N) and v(N∖k): one coalition, v(N∖ij), per kept pair
    assert e.n_queries == 2 * n + 2 + 2 * e.extras["screen"]["rows"] + 2 <= 150
