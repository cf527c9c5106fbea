"""The testing kit tests itself: check_explainer catches deliberately broken explainers, Exact passes
everything, bad input fails early; strategies shrink; the pytest plugin's fixtures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings

import mxbench
from mxbench.errors import ExplainerError
from mxbench.explainers import LIME, Exact, IntegratedGradients, KernelSHAP, Occlusion, PermutationShapley
from mxbench.explainers.base import Explainer
from mxbench.explainers.exact import indices_from_values
from mxbench.testing import (CLAIMS, CHECK_SPECS, ClaimError, PlantedCase, check_explainer, check_games,
                             check_tasks, coalitions, default_claims, parametrize_with_checks, planted_games,
                             resolve_claims, tasks)
from mxbench.testing.checks import _Recorder

FIND = settings(max_examples=300, database=None, derandomize=True, deadline=None,
                suppress_health_check=list(HealthCheck))


def _bits(n: int) -> np.ndarray:
    return ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)


# ---------------------------------------------------------------------- broken explainers
class _ExactBased(Explainer):
    """Exact Shapley values and SII from all coalitions; subclasses break one thing."""

    efficient = True

    def __init__(self, budget=None, random_state=0):
        self.budget = budget
        self.random_state = random_state

    def min_budget(self, n_players):
        return 2**n_players

    def _values(self, game):
        return game(_bits(game.n_players))

    def _explain(self, game, rng):
        phi, sii = indices_from_values(self._values(game))
        i, j = np.triu_indices(game.n_players, 1)
        return {"attributions": self._break(phi, rng),
                "interactions": {(int(a), int(b)): float(sii[a, b]) for a, b in zip(i, j)}}

    def _break(self, phi, rng):
        return phi


class BreaksEfficiency(_ExactBased):
    name = "breaks-efficiency"

    def _break(self, phi, rng):
        return 0.9 * phi  # linear, symmetric, zero on dummies: only the total is wrong


class SwapsPlayers(_ExactBased):
    name = "swaps-players"

    def _break(self, phi, rng):
        out = phi.copy()
        out[[0, 1]] = out[[1, 0]]
        return out


class RandomNoise(_ExactBased):
    name = "random-noise"
    efficient = False

    def _break(self, phi, rng):
        return phi + np.random.default_rng().normal(0.0, 0.1, phi.shape)  # ignores random_state


class BypassesBudget(_ExactBased):
    """Claims a tiny budget, then reads every coalition from the game behind the BudgetedGame."""

    name = "bypasses-budget"

    def min_budget(self, n_players):
        return 2

    def _values(self, game):
        game(np.eye(2, game.n_players, dtype=bool))  # two counted queries, the rest uncounted
        return game.game(_bits(game.n_players))


class OverspendsBudget(_ExactBased):
    """Asks the BudgetedGame for all 2^n coalitions whatever its budget (BudgetExceeded)."""

    name = "overspends-budget"

    def min_budget(self, n_players):
        return 2


class NoParams(Explainer):
    name = "no-params"

    def __init__(self):
        pass

    def _explain(self, game, rng):
        return {"attributions": np.zeros(game.n_players)}


class Counting(Exact):
    calls = 0

    def explain(self, game, **kw):
        Counting.calls += 1
        return super().explain(game, **kw)


# ---------------------------------------------------------------------- the games
def test_check_games_are_fixed_small_and_exact():
    games = check_games()
    assert [g.name for g in games] == [f"{s['name']}#0" for s in CHECK_SPECS]
    sizes = [g.n_players for g in games]
    assert sizes == sorted(sizes) and sizes[0] == 3 and sizes[-1] <= 8
    for g in games:  # the truth is the enumerated game's
        values = g(_bits(g.n_players))
        assert np.allclose(indices_from_values(values)[0], g.truth.shapley, atol=1e-12)
        assert len(g.truth.symmetric_pairs()) > 0  # every game has something for symmetry to check
    kinds = {t.kind for task in check_tasks() for t in task.terms}
    assert kinds == {"unique", "synergy", "redundancy"}
    assert check_games()[0] is not games[0]  # fresh game objects: query counts start at 0


def test_describe_names_spec_terms_latents_and_exact_values():
    g = check_games()[1]
    text = g.describe()
    assert "'synergy-4' instance 0 (spec seed 2)" in text
    assert "1*s[a:0]*s[b:0]" in text and "-1*tanh(s[a:1])" in text.replace("- 1*", "-1*")
    assert "distractors: b:1" in text
    assert f"a:0={g.task.latents[0, 0]:.4g}" in text
    assert repr(g) == "PlantedCase('synergy-4', instance=0, players=4, terms=2)"


# ---------------------------------------------------------------------- the reference passes
def test_exact_passes_every_check():
    report = check_explainer(Exact(), claims="all")
    assert [r.check for r in report.results] == ["explains", *CLAIMS]
    assert all(r.status == "passed" for r in report.results), str(report)
    assert all(r.games >= 5 for r in report.results)
    by = {r.check: r for r in report.results}
    assert by["recovery"].value == 1.0 and by["interaction_sign"].value == 1.0
    assert by["efficiency"].value < 1e-12 and by["determinism"].value == 0.0


def test_default_claims_follow_declarations():
    assert default_claims(Exact()) == {"efficiency": 1e-6, "symmetry": 1e-6, "dummy": 1e-6, "linearity": 1e-6,
                                       "sii_symmetry": 1e-6, "interaction_sign": 1.0, "recovery": 0.9,
                                       "budget": None, "determinism": 0.0}
    assert default_claims(LIME()) == {"linearity": 1e-6, "budget": None, "determinism": 0.0}

    class Declares(Exact):
        claims = {"symmetry": 0.01, "recovery@spearman": True}

    assert default_claims(Declares()) == {"efficiency": 1e-6, "symmetry": 0.01, "budget": None,
                                          "determinism": 0.0, "recovery@spearman": 0.9}


# ---------------------------------------------------------------------- broken explainers are caught
def _failed(report):
    return {r.check for r in report.failed}


def test_broken_efficiency_is_caught_by_efficiency_only():
    report = check_explainer(BreaksEfficiency(), claims="all", raise_on_failure=False)
    assert _failed(report) == {"efficiency"}
    r = report.failed[0]
    assert r.failed_games[0] == "unique-3#0" and len(r.failed_games) == 6
    # the numbers of the smallest counterexample: 0.9 of the exact total instead of the total
    truth = check_games()[0].truth
    assert f"sum(attributions) = {0.9 * truth.delta:.4g}" in r.counterexample
    assert f"v(N) - v(∅) = {truth.v_full:.4g} - {truth.v_empty:.4g} = {truth.delta:.4g}" in r.counterexample
    assert r.value == pytest.approx(0.1 * abs(truth.delta) / np.abs(truth.shapley).sum(), rel=1e-9)


def test_failure_message_names_check_game_and_numbers():
    with pytest.raises(AssertionError) as info:
        check_explainer(BreaksEfficiency())
    msg = str(info.value)
    assert msg.startswith("check_explainer(BreaksEfficiency()): 1 of 4 checks failed: efficiency")
    assert "[efficiency] failed on 6 of 6 games" in msg
    assert "planted game 'unique-3' instance 0 (spec seed 1)" in msg and "f* = 0 + 1.5*s[a:0]" in msg
    assert re.search(r"violation = [0-9.e-]+ = 0\.1 x scale [0-9.]+ > threshold 1e-06 x scale", msg)


@pytest.mark.parametrize("broken", [BypassesBudget(budget=4), OverspendsBudget(budget=4)],
                         ids=["bypasses", "overspends"])
def test_budget_violations_are_caught_by_budget(broken):
    report = check_explainer(broken, claims=["budget", "determinism"], raise_on_failure=False)
    assert _failed(report) == {"budget"}
    text = report.failed[0].counterexample
    if isinstance(broken, BypassesBudget):
        # 2 counted queries, 8 coalitions seen by the game on 3 players
        assert "the game saw 8 distinct coalitions, more than the budget" in text
        assert "reports n_queries = 2, but the game saw 8 distinct coalitions" in text
    else:
        assert "explain raised BudgetExceeded" in text and "more than its budget of 4" in text
        assert report.results[0].check == "explains" and report.results[0].status == "not applicable"


def test_overspending_is_an_explains_failure_when_budget_is_not_claimed():
    report = check_explainer(OverspendsBudget(budget=4), claims=["determinism"], raise_on_failure=False)
    assert _failed(report) == {"explains"}
    assert "BudgetExceeded" in report.failed[0].counterexample


def test_recorder_sees_what_an_honest_explainer_reports():
    game = check_games()[2]
    rec = _Recorder(game)
    e = KernelSHAP(budget=20).explain(rec)
    assert rec.distinct == e.n_queries == 20


def test_swapped_players_are_caught_by_symmetry():
    report = check_explainer(SwapsPlayers(), claims="all", raise_on_failure=False)
    assert "symmetry" in _failed(report)
    assert not _failed(report) & {"efficiency", "budget", "determinism", "linearity"}
    r = next(r for r in report.results if r.check == "symmetry")
    assert r.failed_games[0] == "unique-3#0"
    truth = check_games()[0].truth  # a:0 (relevant) swapped with a:1 (dummy, symmetric with a:2)
    assert (f"players a:1 and a:2 are symmetric in the game (exact Shapley 0, 0), but got a:1: "
            f"{truth.shapley[0]:.4g}, a:2: 0") in r.counterexample


def test_random_explainer_is_caught_by_determinism():
    report = check_explainer(RandomNoise(), claims=["determinism", "budget"], raise_on_failure=False)
    assert _failed(report) == {"determinism"}
    r = report.failed[0]
    assert len(r.failed_games) == 6 and "two fresh copies with random_state=0" in r.counterexample
    assert r.value > 0


def test_threshold_decides_and_reports_are_deterministic():
    loose = check_explainer(KernelSHAP(budget=16), claims={"symmetry": 0.5, "recovery": 0.5})
    assert loose.passed
    strict = check_explainer(KernelSHAP(budget=16), claims={"symmetry": 1e-9}, raise_on_failure=False)
    assert _failed(strict) == {"symmetry"}
    again = check_explainer(KernelSHAP(budget=16), claims={"symmetry": 1e-9}, raise_on_failure=False)
    assert strict.to_frame().equals(again.to_frame())
    sym = strict.failed[0]
    assert loose.results[1].value == pytest.approx(sym.value) and 1e-9 < sym.value <= 0.5


def test_recovery_is_a_mean_and_names_the_games_below():
    report = check_explainer(Occlusion(), claims={"recovery": 0.9, "recovery@spearman": 0.0},
                             raise_on_failure=False)
    failed = {r.check: r for r in report.failed}
    assert set(failed) == {"recovery"}  # occlusion misses redundant copies: AUROC below 0.9 on average
    r = failed["recovery"]
    assert r.value < 0.9 and r.failed_games[0] == "redundancy-5#0"
    assert "mean auroc over 6 games" in r.counterexample and "auroc = 0.75 < threshold 0.9" in r.counterexample


def test_interaction_claims_need_interactions():
    report = check_explainer(KernelSHAP(budget=32), claims=["sii_symmetry", "interaction_sign"],
                             raise_on_failure=False)
    assert _failed(report) == {"sii_symmetry", "interaction_sign"}
    assert "gives no pair interactions" in report.failed[0].counterexample


def test_games_argument():
    task = mxbench.generate(CHECK_SPECS[1])
    report = check_explainer(Exact(), claims=["efficiency"], games=[task.game(1), task])
    assert [r.games for r in report.results] == [2, 2]
    with pytest.raises(ClaimError, match=r"games\[0\]: expected a planted game"):
        check_explainer(Exact(), games=["nope"])
    with pytest.raises(ClaimError, match="games: expected at least one game"):
        check_explainer(Exact(), games=[])


# ---------------------------------------------------------------------- bad input, before anything runs
@pytest.mark.parametrize("explainer, pattern", [
    (3, r"explainer: expected an mxbench Explainer .* got int"),
    (Exact, r"explainer: expected an explainer instance, got the class Exact"),
    (IntegratedGradients(), r"IntegratedGradients is a white-box explainer"),
])
def test_not_an_explainer(explainer, pattern):
    with pytest.raises(ClaimError, match=pattern):
        check_explainer(explainer)


@pytest.mark.parametrize("claims, pattern", [
    (["efficency"], r"claims: unknown claim 'efficency'"),
    (["recovery@aurok"], r"'recovery@aurok' names no recovery metric"),
    ({"recovery": 1.5}, r"claims\['recovery'\]: a threshold must be a number in \[0, 1\].* got 1.5"),
    ({"symmetry": -0.1}, r"claims\['symmetry'\]: .* got -0.1"),
    ({"dummy": float("nan")}, r"claims\['dummy'\]: .* got nan"),
    ({"dummy": "high"}, r"claims\['dummy'\]: .* got 'high'"),
    ({"budget": 0.5}, r"the budget claim takes no threshold"),
    ("some", r"claims: expected None, 'all'"),
    (42, r"claims: expected None, 'all'"),
])
def test_bad_claims_raise_before_anything_runs(claims, pattern):
    Counting.calls = 0
    with pytest.raises(ClaimError, match=pattern):
        check_explainer(Counting(), claims=claims)
    with pytest.raises(ClaimError, match=pattern):
        parametrize_with_checks([Counting()], claims=claims)
    assert Counting.calls == 0


def test_unsupported_claims():
    with pytest.raises(ClaimError, match=r"LIME does not support the claim 'efficiency' \(it declares efficient = "):
        check_explainer(LIME(), claims=["efficiency"])
    with pytest.raises(ClaimError, match="NoParams does not support the claim 'budget'"):
        check_explainer(NoParams(), claims=["budget"])
    with pytest.raises(ClaimError, match="NoParams does not support the claim 'determinism'"):
        check_explainer(NoParams(), claims=["determinism"])
    assert resolve_claims(NoParams(), "all") == {"symmetry": 1e-6, "dummy": 1e-6, "linearity": 1e-6,
                                                 "sii_symmetry": 1e-6, "interaction_sign": 1.0, "recovery": 0.9}
    assert issubclass(ClaimError, ExplainerError)


# ---------------------------------------------------------------------- parametrize_with_checks
@parametrize_with_checks([Exact(), (PermutationShapley(budget=40), ["efficiency", "dummy", "linearity", "budget"])])
def test_parametrize_with_checks(explainer, check):
    assert check(explainer).status == "passed"


def test_parametrize_with_checks_ids_and_failures():
    mark = parametrize_with_checks([BreaksEfficiency(budget=None)])
    params = mark.args[1]
    assert [p.id for p in params] == ["BreaksEfficiency()-explains", "BreaksEfficiency()-efficiency",
                                      "BreaksEfficiency()-budget", "BreaksEfficiency()-determinism"]
    explainer, check = params[1].values
    with pytest.raises(AssertionError, match=r"\[efficiency\] failed on 6 of 6 games"):
        check(explainer)
    explainer, check = params[2].values
    assert check(explainer).status == "passed"


# ---------------------------------------------------------------------- strategies
def test_planted_games_shrink_to_small_counterexamples():
    # "Occlusion gives the Shapley value" is false; the smallest counterexample is one two-player term
    game = find(planted_games(max_players=4, max_order=2),
                lambda g: not np.allclose(Occlusion().explain(g).attributions, g.truth.shapley, atol=1e-9),
                settings=FIND)
    assert isinstance(game, PlantedCase)
    assert game.n_players == 2 and len(game.task.terms) == 1 and game.task.terms[0].order == 2
    assert game.instance == 0 and game.task.spec.seed == 0
    assert "players" in game.describe()


@settings(max_examples=15, deadline=None, database=None, derandomize=True)
@given(planted_games(max_players=5, max_order=2))
def test_planted_games_respect_max_order_and_are_exact(game):
    assert game.n_players <= 5 and all(t.order <= 2 for t in game.task.terms)
    values = game(_bits(game.n_players))
    phi, sii = indices_from_values(values)
    assert np.allclose(phi, game.truth.shapley, atol=1e-9)
    # order <= 2: antithetic permutation sampling is exact
    e = PermutationShapley(budget=4 * game.n_players).explain(game)
    assert np.allclose(e.attributions, game.truth.shapley, atol=1e-9)


@settings(max_examples=8, deadline=None, database=None, derandomize=True)
@given(tasks(max_players=6, max_order=3, instances=3))
def test_tasks_strategy(task):
    assert task.n_instances == 3 and task.n_players <= 6 and all(t.order <= 3 for t in task.terms)
    sv = task.oracle().shapley()
    full = task.oracle().values(np.array([[True] * task.n_players, [False] * task.n_players]))
    assert np.allclose(sv.sum(axis=1), full[:, 0] - full[:, 1])


def test_coalitions_shrink():
    c = find(coalitions(5), lambda c: c.any(), settings=FIND)
    assert c.shape == (1, 5) and c.sum() == 1


@pytest.mark.parametrize("kwargs, pattern", [
    ({"max_order": 5}, "max_order: must lie in 1..4"), ({"max_order": 0}, "max_order"),
    ({"max_players": 0}, "max_players"), ({"instances": 0}, "instances"),
])
def test_planted_games_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        planted_games(**kwargs)


# ---------------------------------------------------------------------- the pytest plugin
PLUGIN_TESTS = '''
import numpy as np
import pytest

def test_game(planted_game):
    n = planted_game.n_players
    v = planted_game(np.array([[True] * n, [False] * n]))
    assert np.isclose(v[0] - v[1], planted_game.truth.shapley.sum())
    assert planted_game.n_queries == 2   # a fresh game per test

def test_task(planted_task):
    assert planted_task.n_instances == 2

@pytest.mark.parametrize("planted_game", [0], indirect=True)
def test_own_parametrization(planted_game):
    assert planted_game.name == "unique-3#0"
'''


def test_plugin_fixtures(tmp_path):
    # install the pytest11 entry point the way setup.cfg does (a dist-info on the path), then run a user's tests
    dist = tmp_path / "site" / "mxbench_plugin_probe-0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mxbench-plugin-probe\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\nmxbench = mxbench.testing.plugin\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_user.py").write_text(textwrap.dedent(PLUGIN_TESTS))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *sys.path])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"], cwd=project,
                         capture_output=True, text=True, timeout=120, env=env)
    passed = re.findall(r"^(test_user.py::\S+) PASSED", run.stdout, flags=re.M)
    names = [s["name"] for s in CHECK_SPECS]
    want = ([f"test_user.py::test_game[{n}#0]" for n in names] + [f"test_user.py::test_task[{n}]" for n in names]
            + ["test_user.py::test_own_parametrization[0]"])
    assert passed == want, run.stdout + run.stderr
    assert run.returncode == 0


def test_plugin_import_is_light():
    code = ("import sys, mxbench.testing.plugin\n"
            "heavy = {'hypothesis', 'mxbench.testing.checks', 'mxbench.explainers', 'torch'} & set(sys.modules)\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
