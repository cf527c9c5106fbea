"""scikit-learn conventions of the explainers: get_params, set_params, sklearn.base.clone, random_state."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone as sk_clone

from mxbench.errors import ExplainerError
from mxbench.explainers import EXPLAINERS, Exact, KernelSHAP, LIME, PermutationShapley, Unimodal
from mxbench.explainers.adapters import ADAPTERS, make_adapter
from mxbench.explainers.base import clone
from mxbench.explainers.params import check_random_state
from mxbench.games import FunctionGame

#: One non-default value per registered explainer, to see that clone copies what was set.
SET = {"exact": {"budget": 64}, "lemon": {"variant": "lime", "alpha": 0.5}, "lime": {"kernel_width": 0.5},
       "kernelshap": {"paired": False}, "permutation": {"antithetic": False}, "mmshap": {"budget": 40},
       "occlusion": {"random_state": 4}, "sii-probe": {"pairs": [(0, 1)]}, "redundancy-gap": {"form": "mc"},
       "integrated_gradients": {"steps": 8}, "attention_rollout": {}, "attention_grad": {"target": "predicted"},
       "expert_maps": {"steps": 4}, "unimodal": {"base": "lime"}, "sparse-moebius": {"group_size": 2}}


def game() -> FunctionGame:
    return FunctionGame(lambda c: c @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + 2.0 * c[:, 0] * c[:, 1] * c[:, 2], 5,
                        modality_of=[0, 0, 1, 1, 1])


@pytest.mark.parametrize("name", list(EXPLAINERS))
def test_sklearn_clone_of_every_registered_explainer(name):
    assert set(SET) == set(EXPLAINERS)
    e = EXPLAINERS[name](**SET[name])
    c = sk_clone(e)
    assert c is not e and type(c) is type(e)
    assert c.get_params(deep=False) == e.get_params(deep=False) == clone(e).get_params(deep=False)
    assert all(c.get_params()[k] == v for k, v in SET[name].items())
    assert repr(c) == repr(e)
    assert c.set_params(**c.get_params(deep=False)) is c


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_sklearn_clone_of_every_adapter(name):
    e = make_adapter(name, budget=32, random_state=np.random.default_rng(1))
    c = sk_clone(e)
    assert c is not e and type(c) is type(e) and c.name == e.name
    assert c.random_state is not e.random_state  # deep-copied with its state
    params = c.get_params()
    assert params["budget"] == 32 and {k: v for k, v in params.items() if k != "random_state"} == {
        k: v for k, v in e.get_params().items() if k != "random_state"}
    assert c.random_state.bit_generator.state == e.random_state.bit_generator.state


def test_nested_params_of_unimodal_follow_sklearn():
    base = KernelSHAP(budget=8)
    u = Unimodal(base, budget=40)
    params = u.get_params()
    assert (params["base"] is base, params["base__budget"], params["base__paired"]) == (True, 8, True)
    assert set(u.get_params(deep=False)) == {"base", "budget", "random_state"}
    assert u.set_params(base__budget=16, budget=48) is u
    assert (base.budget, u.budget) == (16, 48)
    c = sk_clone(u)
    assert c.base is not base and c.base.get_params() == base.get_params()
    assert np.array_equal(c.explain(game()).attributions, u.explain(game()).attributions)


def test_set_params_refuses_unknown_names():
    with pytest.raises(ExplainerError, match=r"^budjet: KernelSHAP takes no parameter 'budjet' "
                                             r"\(it takes budget, paired, random_state\)$"):
        KernelSHAP().set_params(budjet=4)
    with pytest.raises(ExplainerError, match=r"^base__budjet: KernelSHAP takes no parameter 'budjet'"):
        Unimodal(KernelSHAP()).set_params(base__budjet=4)
    with pytest.raises(ExplainerError, match="base__budget: the parameter 'base' of Unimodal is 'kernelshap', which "
                                             "has no parameters to set"):
        Unimodal("kernelshap").set_params(base__budget=4)
    with pytest.raises(ExplainerError, match=r"steps: AttentionRollout takes no parameter 'steps' \(it takes \)"):
        EXPLAINERS["attention_rollout"]().set_params(steps=3)
    e = KernelSHAP(budget=8)
    with pytest.raises(ExplainerError):
        e.set_params(budget=16, nope=1)
    with pytest.raises(ValueError):  # scikit-learn's type for a bad parameter
        e.set_params(nope=1)


def test_set_params_changes_what_explain_does():
    e = PermutationShapley(budget=12).set_params(budget=30, random_state=3)
    assert np.array_equal(e.explain(game()).attributions,
                          PermutationShapley(budget=30, random_state=3).explain(game()).attributions)
    ig = EXPLAINERS["integrated_gradients"]().set_params(steps=4, method="gausslegendre")
    assert (ig.steps, ig.method) == (4, "gausslegendre")


# ---------------------------------------------------------------------- random_state
def test_random_state_int_none_generator_and_randomstate():
    g = game()
    by_int = KernelSHAP(budget=12, random_state=5).explain(g).attributions
    assert np.array_equal(by_int, KernelSHAP(budget=12, random_state=5).explain(g).attributions)
    # a Generator gives one drawn seed: the documented derivation, reproducible from its state
    seed = int(np.random.default_rng(9).integers(0, 2**63, dtype=np.int64))
    want = KernelSHAP(budget=12, random_state=seed).explain(g).attributions
    assert np.array_equal(KernelSHAP(budget=12, random_state=np.random.default_rng(9)).explain(g).attributions, want)
    seed = int(np.random.RandomState(9).randint(0, 2**63, dtype=np.int64))
    want = KernelSHAP(budget=12, random_state=seed).explain(g).attributions
    assert np.array_equal(KernelSHAP(budget=12, random_state=np.random.RandomState(9)).explain(g).attributions, want)
    # the same generator object moves on (as scikit-learn with a RandomState); a clone repeats the draws
    shared = KernelSHAP(budget=12, random_state=np.random.default_rng(2))
    copy = sk_clone(shared)
    first = shared.explain(g).attributions
    assert not np.array_equal(first, shared.explain(g).attributions)
    assert np.array_equal(first, copy.explain(g).attributions)
    assert KernelSHAP(budget=12, random_state=None).explain(g).attributions.shape == (5,)
    u = Unimodal("lime", budget=40, random_state=np.random.RandomState(0)).explain(g)  # seeds per modality
    assert u.attributions.shape == (5,) and np.all(np.isfinite(u.attributions))


@pytest.mark.parametrize("bad, kind", [(1.5, "float"), ("seed", "str"), (True, "bool"), (-1, "int"),
                                       ([1, 2], "list")])
def test_bad_random_state_names_the_parameter_and_type(bad, kind):
    with pytest.raises(ExplainerError, match=rf"^random_state: expected None, an integer >= 0, a numpy Generator "
                                             rf"or a numpy RandomState, got {kind} "):
        LIME(budget=10, random_state=bad).explain(game())
    with pytest.raises(ExplainerError, match=f"got {kind} "):
        check_random_state(bad)


def test_exact_ignores_its_random_state_but_checks_it():
    g = game()
    assert np.array_equal(Exact(random_state=np.random.default_rng(0)).explain(g).attributions,
                          Exact().explain(g).attributions)
