"""The FL-I2MoE specialisation check: routing summaries, expert games and their Möbius shares."""

import itertools

import numpy as np
import pytest
import torch
from torch import nn

import mxbench
from mxbench.models import ModelError, TrainedModel, train
from mxbench.bench.specialisation import (ExpertGame, expert_games, expert_term_share, expert_values,
                                          matching_expert, routing_summary, term_expert)

SMALL = {"dim": 16, "heads": 2, "layers": 1, "rw_hidden": 16, "lambda_int": 0.5}

# two tabular modalities: a unique term on a, a cross-modal synergy and a cross-modal redundancy
SPEC = {"name": "stub", "seed": 5, "instances": 200, "noise": 0.0,
        "modalities": [{"name": "a", "kind": "tabular", "features": 3},
                       {"name": "b", "kind": "tabular", "features": 2}],
        "terms": [{"kind": "unique", "players": ["a:1"], "weight": 2.0},
                  {"kind": "synergy", "op": "product", "players": ["a:0", "b:0"], "weight": 1.5},
                  {"kind": "redundancy", "players": ["a:2", "b:1"], "weight": -1.2}]}
ROUTING = np.array([0.4, 0.1, 0.3, 0.2])  # uni:a, uni:b, syn, red


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


class StubExperts(nn.Module):
    """Hand-built experts: uni:a is the unique term, uni:b is 0, syn the synergy, red the redundancy;
    constant routing ROUTING. Exposes what FLI2MoE exposes."""

    def __init__(self, task):
        super().__init__()
        self.task = task
        self.expert_names = ["uni:a", "uni:b", "syn", "red"]
        self.scale = nn.Parameter(torch.ones(()))  # something to put on a device

    def forward(self, x):
        s = np.concatenate([x["a"].numpy(), x["b"].numpy()], axis=1).astype(np.float64)  # tabular: raw = latent
        uni, syn, red = (t.evaluate(s[:, list(t.ids)]) for t in self.task.terms)
        out = torch.from_numpy(np.stack([uni, np.zeros_like(uni), syn, red], axis=1))
        self.expert_outputs = out * self.scale
        self.routing = torch.from_numpy(np.tile(ROUTING, (len(out), 1)))
        return (self.routing * self.expert_outputs).sum(1)


def wrap(module, task, arch="fl_i2moe"):
    return TrainedModel(arch, {}, module, task.spec.spec_hash(), task.spec.name, 0, [], {})


@pytest.fixture(scope="module")
def stub():
    task = mxbench.generate(SPEC)
    return wrap(StubExperts(task), task), task


@pytest.fixture(scope="module")
def tiny():
    """A small FL-I2MoE (lambda_int 0.5) trained on spec-unique-tab: about 3 s on one core."""
    torch.set_num_threads(1)
    task = mxbench.generate("specialisation", instances=1000)[0]
    model = train(task, "fl_i2moe", config=SMALL, epochs=25, examples_per_epoch=1024, certify=False, random_state=0)
    return model, task


def brute_moebius(values):
    """m(U) by explicit inclusion-exclusion over a dict {frozenset U: value}."""
    out = {}
    for u in values:
        out[u] = sum((-1) ** (len(u) - len(v)) * values[frozenset(v)]
                     for r in range(len(u) + 1) for v in itertools.combinations(sorted(u), r))
    return out


# ---------------------------------------------------------------------- what should match
def test_matching_expert_and_term_expert():
    spec_tasks = mxbench.generate("specialisation", instances=8)
    assert [matching_expert(t) for t in spec_tasks] == ["uni:tab", "syn", "red", "uni:txt"]
    smoke = mxbench.generate("smoke", instances=8)
    assert [matching_expert(t) for t in smoke] == [None, None, None]
    task = mxbench.generate(SPEC, instances=8)
    assert [term_expert(task, k) for k in range(3)] == ["uni:a", "syn", "red"]
    # within-modality terms only: unique to that modality at the modality level
    within = mxbench.generate({**SPEC, "terms": [{"kind": "synergy", "players": ["b:0", "b:1"], "weight": 1.0}]},
                              instances=8)
    assert matching_expert(within) == "uni:b" and term_expert(within, 0) == "syn"
    with pytest.raises(ModelError, match="term"):
        term_expert(task, 3)


# ---------------------------------------------------------------------- constructed experts
def test_expert_game_matches_hand_computation(stub):
    model, task = stub
    i = 7
    s = task.latents[i]
    games = expert_games(model, task, i)
    assert list(games) == ["uni:a", "uni:b", "syn", "red"]
    w = task.terms[1].weight  # synergy a:0 x b:0 (players 0 and 3)
    coal = np.ones((4, 5), dtype=bool)
    coal[1, 0] = False          # a:0 absent
    coal[2, 3] = False          # b:0 absent
    coal[3] = False             # nobody
    np.testing.assert_allclose(games["syn"](coal), [w * s[0] * s[3], 0.0, 0.0, 0.0], atol=1e-6)
    wu = task.terms[0].weight   # unique a:1 (player 1)
    np.testing.assert_allclose(games["uni:a"](coal), [wu * s[1]] * 3 + [0.0], atol=1e-6)
    np.testing.assert_allclose(games["uni:b"](coal), 0.0)
    weighted = expert_games(model, task, i, weighted=True)
    np.testing.assert_allclose(weighted["syn"](coal), ROUTING[2] * games["syn"](coal))
    assert games["syn"].n_queries == 8 and games["uni:a"].n_queries == 4


def test_term_share_on_constructed_experts(stub):
    model, task = stub
    frame = expert_term_share(model, task, instances=40)
    assert len(frame) == 3 * 4
    for (term, expert), row in frame.set_index(["term_id", "expert"]).iterrows():
        own = expert == term_expert(task, term)
        assert row["matching"] == own
        for col in ("fit", "fit_top"):
            assert row[col] == pytest.approx(1.0 if own else 0.0, abs=1e-6)
        assert row["error"] == pytest.approx(0.0 if own else 1.0, abs=1e-6)
        r = ROUTING[["uni:a", "uni:b", "syn", "red"].index(expert)]
        assert row["share"] == pytest.approx(r if own else 0.0, abs=1e-6)
        assert row["share_top"] == pytest.approx(r if own else 0.0, abs=1e-6)
    assert frame["cross_modal"].tolist() == [False] * 4 + [True] * 8


def test_routing_summary_on_constant_routing(stub):
    model, task = stub
    frame = routing_summary(model, task, instances=np.arange(10))
    np.testing.assert_allclose(frame["mean_weight"], ROUTING)
    np.testing.assert_allclose(frame["std_weight"], 0.0, atol=1e-12)
    np.testing.assert_allclose(frame["top1_rate"], [1, 0, 0, 0])
    # margin: own weight minus the largest other
    np.testing.assert_allclose(frame["margin"], [0.1, -0.3, -0.1, -0.2])
    assert frame["wins"].tolist() == [True, False, False, False]
    assert not frame["matching"].any()  # this task mixes kinds: no matching expert


# ---------------------------------------------------------------------- a real model
def test_weighted_expert_games_add_up_to_the_model_game(tiny):
    model, task = tiny
    rng = np.random.default_rng(0)
    coal = rng.random((64, task.n_players)) < 0.5
    for i in (0, 5):
        parts = [g(coal) for g in expert_games(model, task, i, weighted=True).values()]
        np.testing.assert_allclose(np.sum(parts, axis=0), model.game(task, i)(coal), atol=1e-5)
    out, w = expert_values(model, task, np.array([3, 4]), np.ones((2, task.n_players), bool))
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose((out * w).sum(1), model.predict({k: v[[3, 4]] for k, v in task.inputs.items()}),
                               atol=1e-5)


def test_term_share_matches_brute_force_moebius(tiny):
    """fit / share / error recomputed by inclusion-exclusion on ExpertGame and the planted game."""
    model, task = tiny
    rows = task.split_indices("test")[[1, 2, 9]]
    frame = expert_term_share(model, task, instances=rows).set_index(["term_id", "expert"])
    n = task.n_players
    for k, t in enumerate(task.terms):
        subsets = [frozenset(c) for r in range(len(t.ids) + 1) for c in itertools.combinations(t.ids, r)]
        coal = np.ones((len(subsets), n), dtype=bool)
        for j, u in enumerate(subsets):
            coal[j, list(set(t.ids) - u)] = False
        truth, own, part = [], {}, {}
        for i in rows:
            tv = brute_moebius(dict(zip(subsets, task.game(int(i))(coal))))
            truth.append([tv[u] for u in subsets[1:]])
            for weighted, store in ((False, own), (True, part)):
                for e, g in expert_games(model, task, int(i), weighted=weighted).items():
                    ev = brute_moebius(dict(zip(subsets, g(coal))))
                    store.setdefault(e, []).append([ev[u] for u in subsets[1:]])
        truth = np.array(truth)
        for e in own:
            m, p = np.array(own[e]), np.array(part[e])
            row = frame.loc[(k, e)]
            assert row["fit"] == pytest.approx(np.sum(m * truth) / np.sum(truth**2), rel=1e-4, abs=1e-6)
            assert row["fit_top"] == pytest.approx(np.sum(m[:, -1] * truth[:, -1]) / np.sum(truth[:, -1] ** 2),
                                                   rel=1e-4, abs=1e-6)
            assert row["share"] == pytest.approx(np.sum(p * truth) / np.sum(truth**2), rel=1e-4, abs=1e-6)
            assert row["error"] == pytest.approx(np.linalg.norm(m - truth) / np.linalg.norm(truth), rel=1e-4)
        # the shares add up to the model's own local coefficient
        g = model.game(task, int(rows[0]))
        mv = np.array([[brute_moebius(dict(zip(subsets, model.game(task, int(i))(coal))))[u] for u in subsets[1:]]
                       for i in rows])
        assert g.n_players == n
        assert frame.loc[k, "share"].sum() == pytest.approx(np.sum(mv * truth) / np.sum(truth**2), rel=1e-4, abs=1e-6)


def test_routing_summary_on_a_real_model(tiny):
    model, task = tiny
    frame = routing_summary(model, task, instances=40)
    assert frame["expert"].tolist() == ["uni:tab", "uni:txt", "syn", "red"]
    assert frame["mean_weight"].sum() == pytest.approx(1.0)
    assert frame["top1_rate"].sum() == pytest.approx(1.0)
    assert frame["wins"].sum() == 1 and frame.loc[frame["wins"], "mean_weight"].item() == frame["mean_weight"].max()
    assert frame.loc[frame["matching"], "expert"].tolist() == ["uni:tab"]
    rows = task.split_indices("test")[:40]
    _, w = expert_values(model, task, rows, np.ones((40, task.n_players), bool))
    np.testing.assert_allclose(frame["mean_weight"], w.mean(0))
    assert (frame["margin"] <= frame["mean_weight"] + 1e-12).all()


# ---------------------------------------------------------------------- bad input
def test_bad_input(stub, tiny):
    model, task = stub
    other = tiny[1]
    with pytest.raises(ModelError, match="task"):
        routing_summary(model, other)
    with pytest.raises(ModelError, match="model"):
        routing_summary(wrap(nn.Linear(2, 1), task, arch="fusion_mlp"), task)
    with pytest.raises(ModelError, match="instances"):
        routing_summary(model, task, instances=0)
    with pytest.raises(ModelError, match="instances"):
        expert_term_share(model, task, instances=np.array([0, 10**6]))
    with pytest.raises(ModelError, match="split"):
        routing_summary(model, task, split="dev")
    with pytest.raises(ModelError, match="expert"):
        ExpertGame(model, task, 0, "uni:c")
    with pytest.raises(ModelError, match="instance"):
        ExpertGame(model, task, task.n_instances, "syn")
    with pytest.raises(ModelError, match="coalitions"):
        expert_values(model, task, np.array([0]), np.ones((1, 3), bool))
    with pytest.raises(ModelError, match="task"):
        expert_games(model, "not a task", 0)


# ---------------------------------------------------------------------- what reliably holds
def test_the_other_modalitys_unique_expert_carries_little_of_a_unique_term(tiny):
    """The uniqueness loss keeps uni:txt insensitive to knocking out tab, so its own game carries
    little of the unique tab terms. Measured with this configuration over seeds 0-4: uni:tab fit_top
    1.05-2.12, uni:txt 0.24-0.50, and uni:txt lowest of the four experts in 5/5 (and in all 7
    full-size spec-unique-tab models of benchmarks/bench_specialisation.py). Routing does NOT reliably follow (the
    routing weight of uni:tab was the largest in 0/5 of these small models), so it is not asserted."""
    model, task = tiny
    frame = expert_term_share(model, task, instances=100)
    fit = frame[frame["kind"] == "unique"].groupby("expert")["fit_top"].mean()
    assert fit["uni:tab"] > fit["uni:txt"] + 0.3
    assert fit.idxmin() == "uni:txt"
    assert fit["uni:txt"] < 0.6
