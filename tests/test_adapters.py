"""Adapters of shap, shapiq and captum: agreement with Exact where the method is exact, budgets, the same checks."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)
numba = pytest.importorskip("numba")
# shap's ExactExplainer compiles numba kernels on first use (10-20 s, never cached). The games here
# have <= 8 players, where shap's kernels run as fast interpreted: import shap with the JIT off.
_jit = numba.config.DISABLE_JIT
numba.config.DISABLE_JIT = True
shap = pytest.importorskip("shap")  # slow import: once for the module
numba.config.DISABLE_JIT = _jit
shapiq = pytest.importorskip("shapiq")
captum = pytest.importorskip("captum")

from mxbench.errors import ExplainerError  # noqa: E402
from mxbench.explainers import Exact  # noqa: E402
from mxbench.explainers.adapters import (ADAPTERS, CaptumExplainer, MissingDependencyError, ShapExplainer,  # noqa: E402
                                         ShapiqApproximator, ShapiqExplainer, make_adapter)
from mxbench.testing import check_explainer, check_games  # noqa: E402
from mxbench.testing.checks import _Recorder  # noqa: E402
from mxbench.validation import Truth, evaluate  # noqa: E402


@pytest.fixture(scope="module")
def games():
    return {g.task.spec.name: g for g in check_games()}


@pytest.fixture(scope="module")
def exact(games):
    return {name: Exact().explain(g) for name, g in games.items()}


def _close(e, ref, atol):
    assert e.attributions.shape == ref.attributions.shape
    assert np.allclose(e.attributions, ref.attributions, atol=atol), (e.attributions, ref.attributions)


# ---------------------------------------------------------------------- agreement with Exact
@pytest.mark.parametrize("name", ["mixed-6", "img-txt-7"])
def test_exact_methods_agree_with_exact(games, exact, name):
    game, ref = games[name], exact[name]
    n = game.n_players
    for adapter, atol in [(ShapExplainer("ExactExplainer"), 1e-10),
                          (ShapExplainer("KernelExplainer", budget=2**n), 1e-8),   # every coalition: exact
                          (ShapiqApproximator("ExactComputer"), 1e-10),
                          (ShapiqApproximator("KernelSHAP", budget=2**n), 1e-6),   # shapiq's large-weight constraint
                          (CaptumExplainer("IntegratedGradients"), 1e-7)]:  # Owen: IG on the multilinear extension
        e = adapter.explain(game)
        _close(e, ref, atol * np.abs(ref.attributions).sum())
        assert e.n_queries == 2**n and e.explainer == adapter.name


def test_exact_interactions_agree_with_exact(games, exact):
    game, ref = games["synergy-4"], exact["synergy-4"]
    for adapter in (ShapExplainer("ExactExplainer", interactions=True),
                    ShapiqApproximator("ExactComputer", index="SII"),
                    ShapiqApproximator("KernelSHAPIQ", index="SII", budget=16), ShapiqExplainer(budget=16),
                    ShapiqExplainer("TabularExplainer", budget=16)):
        e = adapter.explain(game)
        _close(e, ref, 1e-7)
        assert set(e.interactions) == set(ref.interactions)
        got = np.array([e.interactions[k] for k in sorted(ref.interactions)])
        want = np.array([ref.interactions[k] for k in sorted(ref.interactions)])
        assert np.allclose(got, want, atol=1e-7), (adapter, got, want)
        assert e.extras["interaction_index"] == "SII"


def test_permutation_methods_are_exact_on_order_two_and_additive_games(games, exact):
    # forward + backward permutations (shap) are exact on games of Möbius order <= 2
    e = ShapExplainer("PermutationExplainer", budget=9).explain(games["synergy-4"])
    _close(e, exact["synergy-4"], 1e-12)
    # forward permutations (captum, shapiq) are exact on additive games, whatever the sample
    for adapter in (CaptumExplainer("ShapleyValueSampling", budget=4),
                    ShapiqApproximator("PermutationSamplingSV", budget=8)):
        _close(adapter.explain(games["unique-3"]), exact["unique-3"], 1e-7)


def test_sampling_methods_get_close_with_budget(games, exact):
    game, ref = games["three-way-8"], exact["three-way-8"]
    scale = np.abs(ref.attributions).sum()
    for adapter, tol in [(CaptumExplainer("ShapleyValueSampling", budget=2 + 7 * 100), 0.05),
                         (ShapExplainer("PermutationExplainer", budget=170), 0.05),
                         (ShapiqApproximator("PermutationSamplingSV", budget=200), 0.1)]:
        e = adapter.explain(game)
        assert np.abs(e.attributions - ref.attributions).max() <= tol * scale, adapter
        assert abs(e.attributions.sum() - ref.attributions.sum()) <= 1e-6 * scale  # efficient


def test_feature_ablation_is_leave_one_out(games):
    game = games["mixed-6"]
    n = game.n_players
    loo = ~np.eye(n, dtype=bool)
    truth = game.truth
    want = truth.v_full - truth.values(loo)
    e = CaptumExplainer("FeatureAblation").explain(game)
    assert np.allclose(e.attributions, want, atol=1e-12) and e.n_queries == n + 1


# ---------------------------------------------------------------------- budgets
SAMPLERS = [("shap:KernelExplainer", {}), ("shap:PermutationExplainer", {}), ("shapiq:KernelSHAP", {}),
            ("shapiq:PermutationSamplingSV", {}), ("shapiq:SVARM", {}), ("shapiq:StratifiedSamplingSV", {}),
            ("shapiq:KernelSHAPIQ", {}), ("shapiq:PermutationSamplingSII", {}), ("shapiq:SHAPIQ", {}),
            ("shapiq:AgnosticExplainer", {}), ("shapiq:TabularExplainer", {}),
            ("captum:ShapleyValueSampling", {}), ("captum:KernelShap", {}), ("captum:Lime", {})]


@pytest.mark.parametrize("name, params", SAMPLERS, ids=[s for s, _ in SAMPLERS])
def test_budget_is_respected_and_counted(games, name, params):
    game = games["three-way-8"]
    budget = max(40, make_adapter(name, **params).min_budget(game.n_players))
    adapter = make_adapter(name, budget=budget, **params)
    rec = _Recorder(game)
    e = adapter.explain(rec)
    assert e.n_queries == rec.distinct <= budget
    assert e.n_queries >= 9  # the method uses its budget (at least one permutation)
    assert not np.allclose(e.attributions, 0.0)
    assert np.all(np.isfinite(e.attributions))
    with pytest.raises(ExplainerError, match="budget: .* needs at least"):
        make_adapter(name, budget=1).explain(game)


def test_default_budgets_follow_the_libraries():
    assert ShapExplainer().default_budget(8) == 2**8 and ShapExplainer().default_budget(20) == 2 * 20 + 2048
    assert ShapExplainer("PermutationExplainer").default_budget(8) == 500
    assert CaptumExplainer().default_budget(8) == 2 + 25 * 7 and CaptumExplainer("Lime").default_budget(8) == 25
    assert ShapiqApproximator("ExactComputer").min_budget(5) == 32
    assert ShapExplainer("ExactExplainer").min_budget(5) == 32


# ---------------------------------------------------------------------- the same validators and checks
@pytest.mark.parametrize("name", ["shap:ExactExplainer", "shapiq:ExactComputer", "captum:IntegratedGradients"])
def test_exact_adapters_pass_their_declared_checks(name):
    adapter = make_adapter(name)
    report = check_explainer(adapter, games=check_games(max_players=6))
    checks = {r.check for r in report.results}
    assert {"efficiency", "symmetry", "dummy", "linearity", "recovery", "budget", "determinism"} <= checks
    assert report.passed


@pytest.mark.parametrize("name", ["shap:KernelExplainer", "shap:PermutationExplainer", "shapiq:KernelSHAP",
                                  "shapiq:KernelSHAPIQ", "captum:ShapleyValueSampling", "captum:Lime"])
def test_samplers_pass_their_declared_checks(name):
    report = check_explainer(make_adapter(name, budget=24), games=check_games(max_players=6))
    assert [r.check for r in report.results][-2:] == ["budget", "determinism"]
    assert ("efficiency" in [r.check for r in report.results]) == make_adapter(name).efficient
    assert report.passed


def test_adapter_explanations_go_through_the_validators(games, exact):
    game = games["mixed-6"]
    truth = Truth.from_task(game.task, 0)
    e = ShapiqApproximator("ExactComputer", index="SII").explain(game)
    ref = evaluate(exact["mixed-6"], truth, ["auroc", "spearman", "pair_precision", "pair_kind_accuracy", "efficiency"])
    got = evaluate(e, truth, ["auroc", "spearman", "pair_precision", "pair_kind_accuracy", "efficiency"])
    assert np.allclose(got["value"], ref["value"], atol=1e-9, equal_nan=True)
    assert (got["explainer"] == "shapiq:ExactComputer").all()


def test_symmetric_players_break_a_sampler(games):
    report = check_explainer(make_adapter("captum:KernelShap", budget=24), claims={"symmetry": 0.01},
                             games=check_games(max_players=6), raise_on_failure=False)
    assert not report.passed and report.failed[0].check == "symmetry"
    assert "are symmetric in the game" in report.failed[0].counterexample


# ---------------------------------------------------------------------- determinism, global state
def test_seeded_and_global_generators_untouched(games):
    game = games["three-way-8"]  # Möbius order 3: a different sample gives a different estimate
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    torch.manual_seed(7)
    torch_before = torch.random.get_rng_state().clone()
    for name in ("shap:KernelExplainer", "shap:PermutationExplainer", "captum:Lime", "captum:ShapleyValueSampling"):
        a = make_adapter(name, budget=30, random_state=3).explain(game).attributions
        b = make_adapter(name, budget=30, random_state=3).explain(game).attributions
        c = make_adapter(name, budget=30, random_state=4).explain(game).attributions
        assert np.array_equal(a, b) and not np.array_equal(a, c), name
    assert np.array_equal(np.random.get_state()[1], before)
    assert torch.equal(torch.random.get_rng_state(), torch_before)


# ---------------------------------------------------------------------- bad input, missing packages
@pytest.mark.parametrize("adapter, pattern", [
    (ShapExplainer("Tree"), r"method: expected one of KernelExplainer, PermutationExplainer, ExactExplainer, "
                            r"got 'Tree'"),
    (ShapExplainer("KernelExplainer", interactions=True), "interactions: only ExactExplainer"),
    (ShapiqApproximator("Nope"), r"approximator: unknown shapiq approximator 'Nope'"),
    (ShapiqApproximator("KernelSHAP", index="SII"), r"index: KernelSHAP computes SV only, got index='SII'"),
    (ShapiqApproximator("KernelSHAPIQ", index="XYZ"), r"index: shapiq's KernelSHAPIQ rejects index='XYZ'"),
    (ShapiqExplainer("Deep"), "explainer: expected one of AgnosticExplainer, TabularExplainer"),
    (CaptumExplainer("FeaturePermutation"), "method: expected one of ShapleyValueSampling"),
    (CaptumExplainer("IntegratedGradients", n_steps=0), "n_steps: expected a positive integer, got 0"),
])
def test_bad_parameters_raise_before_queries(adapter, pattern):
    game = check_games()[0]
    with pytest.raises(ExplainerError, match=pattern):
        adapter.explain(game)
    assert game.n_queries == 0


def test_make_adapter():
    assert set(ADAPTERS) >= {"shap:KernelExplainer", "shapiq:ExactComputer", "shapiq:AgnosticExplainer",
                             "captum:IntegratedGradients"}
    assert make_adapter("shap:ExactExplainer").get_params()["method"] == "ExactExplainer"
    with pytest.raises(ExplainerError, match="adapter: unknown adapter 'lime:Lime'"):
        make_adapter("lime:Lime")


@pytest.mark.parametrize("adapter, package", [(ShapExplainer(), "shap"), (ShapiqApproximator(), "shapiq"),
                                              (ShapiqExplainer(), "shapiq"), (CaptumExplainer(), "captum")])
def test_missing_package_names_it_and_the_extra(monkeypatch, adapter, package):
    for mod in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setitem(sys.modules, package, None)
    game = check_games()[0]
    with pytest.raises(MissingDependencyError, match=rf"{package}: the \w+ adapter needs the package '{package}'.*"
                                                     r"pip install \"mxbench\[adapters\]\"") as info:
        adapter.explain(game)
    assert isinstance(info.value, ImportError) and game.n_queries == 0


def test_adapters_module_imports_without_the_packages(monkeypatch):
    import importlib.util

    import mxbench.explainers.adapters as installed

    for package in ("shap", "shapiq", "captum"):
        monkeypatch.setitem(sys.modules, package, None)
    spec = importlib.util.spec_from_file_location("adapters_without_packages", installed.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the module's own code runs with the packages unavailable
    assert module.ShapExplainer(budget=10).get_params()["budget"] == 10
    with pytest.raises(module.MissingDependencyError, match="shapiq: the ShapiqApproximator adapter"):
        module.ShapiqApproximator().explain(check_games()[0])
