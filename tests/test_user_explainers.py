"""Any explainer in the grid: registry names, adapter names, import paths with JSON parameters, instances,
wrapped functions and duck-typed objects, run by worker processes that build each from its spec; bad input
refused before any work; claims that do not apply reported as not applicable.

The user explainers live in :mod:`mxbench.testing.examples`, a module of the installed package: the
worker processes import them by path. ``tests/`` is no package on the workers' path (pytest imports
its files with ``--import-mode=importlib``), so a helper module there would not import in a worker.
"""

from __future__ import annotations

import pickle
import types

import numpy as np
import pytest
from sklearn.base import clone as sk_clone

import mxbench
from mxbench.bench.runner import RunnerError, explainer_specs, skip_reason, validate
from mxbench.cli import main
from mxbench.errors import ExplainerError
from mxbench.explainers import EXPLAINERS, Exact, Explanation, FunctionExplainer, KernelSHAP, as_explainer
from mxbench.explainers.registry import BUILTIN, get_explainer
from mxbench.explainers.wrap import split_explainers
from mxbench.testing import check_explainer, parametrize_with_checks
from mxbench.testing import examples
from mxbench.testing.examples import LeaveOneOut, PermutationSampler, exact_shapley, exact_shapley_pairs

METRICS = ["shapley_error", "auroc", "sii_error"]


@pytest.fixture(scope="module")
def task():
    return mxbench.generate("smoke", instances=64)[0]


@pytest.fixture(scope="module")
def grid(task):
    """One grid on two worker processes with every form of spec; "mine" is registered in this process only."""
    EXPLAINERS["mine"] = LeaveOneOut
    try:
        explainers = [
            "mxbench.testing.examples:exact_shapley",                    # a function, by import path
            'mxbench.testing.examples:sampled_shapley{"budget": 64}',   # a function taking budget and rng, JSON
            'shap:KernelExplainer{"budget": 64}',                        # an adapter, by name
            as_explainer(exact_shapley_pairs, index="SII", name="exact-pairs"),  # a wrapped function
            PermutationSampler(budget=64, random_state=1),               # an instance of a user class
            "mine",                                                      # a class added to the registry by hand
        ]
        specs = explainer_specs(explainers)
        frame = validate(task, models=["planted"], explainers=explainers, metrics=METRICS, instances=1, n_jobs=2,
                         progress=False)
    finally:
        del EXPLAINERS["mine"]
    return specs, frame


def _values(frame, explainer, metric):
    rows = frame[(frame["explainer"] == explainer) & (frame["metric"] == metric)]
    return rows["value"].to_numpy()


def test_every_spec_form_runs_in_worker_processes(grid):
    specs, frame = grid
    assert set(frame["explainer"]) == {"exact_shapley", "sampled_shapley", "shap:KernelExplainer", "exact-pairs",
                                       "permutation-sampler", "leave-one-out"}
    # exact Shapley values, as a plain function and wrapped with pairs: no error, every planted player found
    for name in ("exact_shapley", "exact-pairs"):
        assert np.allclose(_values(frame, name, "shapley_error"), 0.0, atol=1e-12)
        assert np.allclose(_values(frame, name, "auroc"), 1.0)
    assert np.allclose(_values(frame, "exact-pairs", "sii_error"), 0.0, atol=1e-12)
    assert len(_values(frame, "exact_shapley", "sii_error")) == 0          # no pairs, no sii rows
    # the estimators: a row per instance, an error of the size sampling gives at 64 queries
    for name in ("sampled_shapley", "shap:KernelExplainer", "permutation-sampler"):
        err = _values(frame, name, "shapley_error")
        assert len(err) == 1 and 0.0 < err[0] < 0.6, (name, err)
    # leave-one-out is not the Shapley value: a large error, yet the planted players stand out
    assert _values(frame, "leave-one-out", "shapley_error")[0] > 0.5
    assert _values(frame, "leave-one-out", "auroc")[0] > 0.8
    # the budget grid reaches the function that takes one; the others run once (-1)
    assert set(frame.loc[frame["explainer"] == "sampled_shapley", "budget"]) == {-1}
    assert [s[0] for s in specs] == ["mxbench.testing.examples:exact_shapley",
                                     "mxbench.testing.examples:sampled_shapley", "shap:KernelExplainer",
                                     "mxbench.testing.examples:exact_shapley_pairs",
                                     "mxbench.testing.examples:PermutationSampler",
                                     "mxbench.testing.examples:LeaveOneOut"]


def test_specs_are_strings_and_dicts_that_pickle(grid):
    specs, _ = grid
    assert all(isinstance(n, str) and isinstance(p, dict) for n, p in specs)
    assert pickle.loads(pickle.dumps(specs)) == specs
    assert specs[1][1] == {"budget": 64}
    assert specs[3][1] == {"kwargs": None, "name": "exact-pairs", "index": "SII", "efficient": False, "claims": None}
    assert specs[4][1] == {"budget": 64, "random_state": 1}
    assert "mine" not in EXPLAINERS and "mine" not in BUILTIN


def test_budgets_and_seeds_of_the_grid_reach_a_function(task):
    frame = validate(task, models=["planted"], explainers=["mxbench.testing.examples:sampled_shapley"],
                     budgets=[16, 64], seeds=[0, 1], metrics=["n_queries"], instances=1, n_jobs=1, progress=False)
    q = frame.set_index(["budget", "seed"])["value"]
    assert set(q.index) == {(16, 0), (16, 1), (64, 0), (64, 1)}
    assert (q.loc[16] <= 16).all() and (q.loc[64] <= 64).all() and (q.loc[64] > 16).all()


def test_spec_names_of_instances_and_adapters():
    from mxbench.explainers.adapters import CaptumExplainer, ShapExplainer, ShapiqApproximator

    assert explainer_specs([KernelSHAP(budget=8), ShapExplainer(budget=16), CaptumExplainer("Lime", budget=9),
                            ShapiqApproximator("SVARM", budget=40), Exact]) == [
        ("kernelshap", {"budget": 8, "paired": True, "random_state": 0}),
        ("shap:KernelExplainer", {"budget": 16, "interactions": False, "random_state": 0}),
        ("captum:Lime", {"budget": 9, "n_steps": 50, "random_state": 0}),
        ("shapiq:SVARM", {"index": None, "max_order": None, "budget": 40, "random_state": 0}),
        ("exact", {})]
    # shapiq:<approximator>: any approximator class of shapiq, not only the listed ones
    assert get_explainer("shapiq:SVARMIQ", budget=64).name == "shapiq:SVARMIQ"
    assert get_explainer('shapiq:KernelSHAPIQ{"budget": 32}').budget == 32
    # a duck-typed object travels as it is, wrapped; its class imports by path
    name, params = explainer_specs([LeaveOneOut()])[0]
    assert name == "mxbench.explainers.wrap:FunctionExplainer" and isinstance(params["fn"], LeaveOneOut)
    assert get_explainer(name, **params).explain(lambda c: c.sum(axis=1) * 2.0, n_players=3).attributions.tolist() \
        == [2.0, 2.0, 2.0]


def test_skip_reason_takes_any_spec(task):
    assert skip_reason("mxbench.testing.examples:PermutationSampler", {"budget": 64}, task, [None]) is None
    assert skip_reason("mxbench.testing.examples:PermutationSampler", {}, task, [4]) == (
        f"needs at least {task.n_players + 1} queries on {task.n_players} players, more than its largest budget "
        f"here, 4")


# ---------------------------------------------------------------------- bad input, before any work
_MAIN = type("MainExplainer", (PermutationSampler,), {"__module__": "__main__"})


def _local_function():
    def local(game):
        return np.zeros(game.n_players)
    return local


@pytest.mark.parametrize("item, message", [
    ("nopkg.mod:MyExplainer", "explainers: nopkg.mod:MyExplainer: cannot import module 'nopkg.mod' "
                              "(ModuleNotFoundError: No module named 'nopkg')"),
    ("mxbench.testing.examples:Nope", "explainers: mxbench.testing.examples:Nope: module "
                                      "'mxbench.testing.examples' has no attribute 'Nope'"),
    ("collections:OrderedDict", "explainers: collections:OrderedDict: OrderedDict is not an explainer "
                                "(it has no explain method)"),
    ('kernelshap{budget: 64}', "explainers: kernelshap{budget: 64}: parameters {budget: 64} are not a JSON object"),
    ('mxbench.testing.examples:PermutationSampler{"budjet": 64}',
     "PermutationSampler{\"budjet\": 64}: budjet: PermutationSampler takes no parameter 'budjet' "
     "(it takes budget, random_state)"),
    ('mxbench.testing.examples:exact_shapley{"budget": 64}', "exact_shapley takes no budget keyword"),
    ('mxbench.testing.examples:exact_shapley{"alpha": 1}', "kwargs: exact_shapley takes no keyword 'alpha'"),
    ('shap:KernelExplainer{"method": "ExactExplainer"}', "method: the adapter name shap:KernelExplainer sets method"),
    ("shap:Kernel", "adapter: unknown adapter 'shap:Kernel'"),
    ("nope", "explainers: unknown explainer 'nope' (choose from exact,"),
    (_MAIN(), "explainers: MainExplainer is defined in __main__ (a script or notebook): worker processes cannot "
              "import it"),
    (_local_function(), "_local_function.<locals>.local is defined inside a function or is a lambda"),
    (lambda game: np.zeros(game.n_players), "<lambda> is defined inside a function or is a lambda"),
    (3, "expected an explainer name, a (name, params) pair, an explainer, a class or a function, got 3"),
])
def test_bad_explainers_are_refused_before_any_work(item, message, task, monkeypatch, tmp_path):
    import mxbench.bench.runner as runner

    def no_work(*args, **kwargs):
        raise AssertionError("a job was run")

    monkeypatch.setattr(runner, "_run_jobs", no_work)
    with pytest.raises(RunnerError) as info:
        validate(task, models=["planted"], explainers=["kernelshap", item], n_jobs=2, progress=False,
                 cache_dir=tmp_path / "cache")
    text = str(info.value)
    assert message in text and text.startswith("explainers: ") and "\n" not in text
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_cli_bad_explainer_exits_2_and_writes_nothing(command, tmp_path, capsys):
    out = tmp_path / "out"
    bad = 'mxbench.testing.examples:PermutationSampler{"budget": 64, "pairs": [[0, 1]]}'
    argv = ([command, "smoke", "--out", str(out)] if command == "validate" else [command, "--out", str(out)])
    assert main(argv + ["--explainers", f"kernelshap,{bad}", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"mxbench: error: explainers: {bad}: pairs: PermutationSampler takes no "
                   f"parameter 'pairs' (it takes budget, random_state)")
    assert not out.exists()


def test_cli_splits_explainers_outside_json():
    assert split_explainers('kernelshap, mxbench.testing.examples:sampled_shapley{"budget": 64, "kwargs": {}},'
                            'shap:KernelExplainer') == [
        "kernelshap", 'mxbench.testing.examples:sampled_shapley{"budget": 64, "kwargs": {}}', "shap:KernelExplainer"]
    with pytest.raises(ExplainerError, match="unbalanced"):
        split_explainers('lemon{"budget": 64')


# ---------------------------------------------------------------------- the wrapper
def _game(c):
    return 2.0 * c[:, 0] * c[:, 1] + c[:, 2]


@pytest.mark.parametrize("fn, pairs, index", [
    (lambda game: np.array([1.0, 1.0, 1.0]), None, None),
    (lambda game: (np.array([1.0, 1.0, 1.0]), {(1, 0): 2.0}), {(0, 1): 2.0}, None),
    (lambda game: {"attributions": [1.0, 1.0, 1.0], "interactions": {(0, 1): 2.0}}, {(0, 1): 2.0}, None),
    (lambda game: Explanation.from_values([1.0, 1.0, 1.0], {(0, 1): 2.0}, index="SII"), {(0, 1): 2.0}, "SII"),
    (lambda game: Exact().explain(game), {(0, 1): 2.0, (0, 2): 0.0, (1, 2): 0.0}, "SII"),
    (LeaveOneOut(), None, None),
], ids=["array", "tuple", "dict", "explanation", "explainer-inside", "duck"])
def test_a_function_may_return_any_form(fn, pairs, index):
    e = as_explainer(fn).explain(_game, n_players=3, modality_of=[0, 0, 1])
    expected = [2.0, 2.0, 1.0] if isinstance(fn, LeaveOneOut) else [1.0, 1.0, 1.0]
    assert e.attributions.tolist() == expected and e.modality.tolist() == [sum(expected[:2]), expected[2]]
    assert e.interactions == pairs and e.index == index
    assert e.n_queries == (4 if isinstance(fn, LeaveOneOut) else 8 if index == "SII" and pairs and len(pairs) == 3
                           else 0)
    assert e.explainer == ("leave-one-out" if isinstance(fn, LeaveOneOut) else "<lambda>")


def test_a_returned_modality_is_kept():
    game = lambda c: 1.0 * c[:, 0] * c[:, 1] * c[:, 2]  # noqa: E731 - a three-way term across two modalities
    e = as_explainer(lambda g: Exact().explain(g)).explain(game, n_players=3, modality_of=[0, 0, 1])
    assert np.allclose(e.attributions, 1 / 3) and np.allclose(e.modality, [0.5, 0.5])  # modality Shapley values
    summed = as_explainer(lambda g: Exact().explain(g).attributions).explain(game, n_players=3, modality_of=[0, 0, 1])
    assert np.allclose(summed.modality, [2 / 3, 1 / 3])


def test_function_explainer_parameters_follow_the_function():
    e = as_explainer(examples.sampled_shapley, budget=16, random_state=3, efficient=True)
    assert e.get_params()["budget"] == 16 and e.get_params()["random_state"] == 3
    twin = sk_clone(e)
    game = lambda c: c @ np.arange(1.0, 5.0) + 3.0 * c[:, 0] * c[:, 1]  # noqa: E731
    a, b = e.explain(game, n_players=4), twin.explain(game, n_players=4)
    assert a.attributions.tolist() == b.attributions.tolist() and a.n_queries <= 16
    assert np.isclose(a.attributions.sum(), game(np.ones((1, 4), bool))[0])     # efficient
    plain = as_explainer(exact_shapley)
    assert "budget" not in plain.get_params() and "random_state" not in plain.get_params()
    with pytest.raises(ExplainerError, match="budget: FunctionExplainer takes no parameter 'budget'"):
        plain.set_params(budget=8)
    with pytest.raises(ExplainerError, match="budget: exact_shapley takes no budget keyword"):
        FunctionExplainer(exact_shapley, budget=8).explain(game, n_players=4)
    with pytest.raises(ExplainerError, match="returned ndarray that is not an explanation of 4 players"):
        as_explainer(lambda g: np.zeros(3)).explain(game, n_players=4)
    with pytest.raises(ExplainerError, match="int is not an explainer"):
        as_explainer(3)


# ---------------------------------------------------------------------- claims that do not apply
def test_check_explainer_reports_not_applicable_claims_of_a_function():
    report = check_explainer(as_explainer(exact_shapley, efficient=True), claims="all")
    status = {r.check: r.status for r in report.results}
    assert status == {"explains": "passed", "efficiency": "passed", "symmetry": "passed", "dummy": "passed",
                      "linearity": "passed", "sii_symmetry": "not applicable", "interaction_sign": "not applicable",
                      "budget": "not applicable", "determinism": "not applicable", "recovery": "passed"}
    assert report.passed and not report.failed
    reasons = {r.check: r.reason for r in report.not_applicable}
    assert reasons == {"sii_symmetry": "the explainer gives no pair interactions (attributions only)",
                       "interaction_sign": "the explainer gives no pair interactions (attributions only)",
                       "budget": "exact_shapley takes no budget keyword",
                       "determinism": "exact_shapley takes neither rng nor random_state"}
    assert "not applicable  threshold 1e-06  value nan     games 0 - the explainer gives no pair" in str(report)
    assert report.to_frame().set_index("check").loc["budget", "reason"] == "exact_shapley takes no budget keyword"
    # with pairs the pair claims apply, and pass
    pairs = check_explainer(exact_shapley_pairs, claims="all")
    assert {r.check: r.status for r in pairs.results}["sii_symmetry"] == "passed"
    assert [r.check for r in pairs.not_applicable] == ["budget", "determinism"]
    # a pair claim the caller names is an assertion: it fails without pairs
    named = check_explainer(exact_shapley, claims=["sii_symmetry"], raise_on_failure=False)
    assert [r.check for r in named.failed] == ["sii_symmetry"]


def test_parametrize_with_checks_skips_what_does_not_apply():
    mark = parametrize_with_checks([LeaveOneOut()], claims="all")
    cases = {p.id: p.values for p in mark.args[1]}
    assert list(cases) == [f"FunctionExplainer(fn=LeaveOneOut(...))-{c}" for c in (
        "explains", "symmetry", "dummy", "linearity", "sii_symmetry", "interaction_sign", "budget", "determinism",
        "recovery")]
    explainer, check = cases["FunctionExplainer(fn=LeaveOneOut(...))-dummy"]
    assert check(explainer).status == "passed"
    for claim, why in [("budget", "leave-one-out takes no budget keyword"),
                       ("sii_symmetry", "the explainer gives no pair interactions")]:
        explainer, check = cases[f"FunctionExplainer(fn=LeaveOneOut(...))-{claim}"]
        with pytest.raises(pytest.skip.Exception, match=f"{claim}: not applicable - {why}"):
            check(explainer)


def test_a_module_without_import_path_is_named_in_the_error():
    mod = types.ModuleType("notebook_cell")
    exec("import numpy as np\ndef mine(game):\n    return np.zeros(game.n_players)\n", mod.__dict__)
    with pytest.raises(RunnerError, match=r"mine is defined in the module 'notebook_cell' .* does not import back"):
        explainer_specs([mod.mine])
    assert isinstance(as_explainer(mod.mine), FunctionExplainer)  # fine in this process: check_explainer takes it
