"""Run check_explainer on every black-box explainer of mxbench and every adapter, and write docs/testing.md.

Usage::

    .venv/bin/python benchmarks/report_checks.py --out docs/testing.md

Each explainer runs with a budget of 64 coalitions (or its minimum on 8 players, when higher;
exact methods with their own 2^n) and with every claim it supports, so the page shows what
passes and what fails; the claims an explainer *declares* (what ``check_explainer(e)`` checks
by default) are marked. The text is the real output of :func:`mxbench.testing.check_explainer`.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

BUDGET = 64
MAX_N = 8


def explainers():
    from mxbench.explainers import (LEMON, LIME, MMSHAP, Exact, KernelSHAP, Occlusion, PermutationShapley,
                                    RedundancyGap, SIIProbe, SparseMoebius, Unimodal)
    from mxbench.explainers.adapters import make_adapter

    def budgeted(e):
        need = e.min_budget(MAX_N)
        return type(e)(**{**e.get_params(), "budget": max(BUDGET, need)})

    own = [Exact(), budgeted(KernelSHAP()), budgeted(PermutationShapley()), budgeted(MMSHAP()), Occlusion(),
           budgeted(LEMON()), budgeted(LIME()), budgeted(SIIProbe()), budgeted(RedundancyGap()),
           budgeted(Unimodal()), budgeted(SparseMoebius())]
    exact = ["shap:ExactExplainer", "shapiq:ExactComputer", "captum:IntegratedGradients", "captum:FeatureAblation"]
    adapters = [
        ("shap", ["shap:KernelExplainer", "shap:PermutationExplainer", "shap:ExactExplainer",
                  ("shap:ExactExplainer", {"interactions": True})]),
        ("shapiq", [("shapiq:ExactComputer", {"index": "SII"}), "shapiq:KernelSHAP", "shapiq:PermutationSamplingSV",
                    "shapiq:SVARM", "shapiq:StratifiedSamplingSV", "shapiq:OwenSamplingSV", "shapiq:UnbiasedKernelSHAP",
                    "shapiq:kADDSHAP", "shapiq:KernelSHAPIQ", "shapiq:InconsistentKernelSHAPIQ",
                    "shapiq:PermutationSamplingSII", "shapiq:SHAPIQ", "shapiq:SVARMIQ", "shapiq:RegressionFSII",
                    "shapiq:AgnosticExplainer", "shapiq:TabularExplainer"]),
        ("captum", ["captum:ShapleyValueSampling", "captum:KernelShap", "captum:Lime", "captum:FeatureAblation",
                    "captum:IntegratedGradients"]),
    ]
    groups = [("mxbench", own)]
    for lib, names in adapters:
        built = []
        for item in names:
            name, params = item if isinstance(item, tuple) else (item, {})
            if name not in exact:
                probe = make_adapter(name, **params)
                params = {**params, "budget": max(BUDGET, probe.min_budget(MAX_N))}
            built.append(make_adapter(name, **params))
        groups.append((lib, built))
    return groups


def supported_claims(explainer, games):
    """Every claim the explainer supports; the interaction claims only if it gives interactions."""
    from mxbench.testing import resolve_claims

    claims = resolve_claims(explainer, "all")
    try:
        gives = bool(explainer.explain(games[0]).interactions)
    except Exception:  # noqa: BLE001 - the report shows the failure
        gives = True
    if not gives:
        claims = {k: v for k, v in claims.items() if k not in ("sii_symmetry", "interaction_sign")}
    return claims


def cell(result, declared: bool) -> str:
    if result is None:
        return "–"
    mark = {"passed": "pass", "failed": "**FAIL**", "not applicable": "n/a"}[result.status]
    value = "" if not np.isfinite(result.value) else f" {result.value:.2g}"
    return f"{mark}{value}" + (" ◆" if declared else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/testing.md")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)
    from importlib.metadata import version

    from mxbench import __version__
    from mxbench.testing import CLAIMS, check_explainer, check_games, default_claims

    games = check_games()
    columns = ["explains", *CLAIMS]
    table, blocks, examples = [], [], []
    start = time.perf_counter()
    for lib, group in explainers():
        for e in group:
            t0 = time.perf_counter()
            claims = supported_claims(e, games)
            declared = set(default_claims(e))
            report = check_explainer(e, claims=claims, raise_on_failure=False)
            seconds = time.perf_counter() - t0
            by = {r.check: r for r in report.results}
            verdict = "pass" if all(by[c].passed for c in declared | {"explains"}) else "**FAIL**"
            label = report.explainer
            table.append(f"| {lib} | `{label}` | {verdict} | " + " | ".join(
                cell(by.get(c), c in declared) for c in columns) + " |")
            blocks.append(f"#### `{label}` ({lib}, {seconds:.1f} s)\n\ndeclared claims: "
                          f"{', '.join(sorted(declared)) or 'none'}\n\n```text\n{report}\n```\n")
            if len(examples) < 3 and report.failed and lib != "mxbench" and \
                    report.failed[0].check not in ("sii_symmetry", "interaction_sign"):
                examples.append(f"```text\n{report.failure_message()}\n```\n")
            print(f"{label}: {seconds:.1f} s", file=sys.stderr)
    total = time.perf_counter() - start

    header = "| library | explainer | declared claims | " + " | ".join(columns) + " |"
    rule = "|" + "---|" * (len(columns) + 3)
    text = f"""# Testing explainers with mxbench

`mxbench.testing` lets an explainer author prove an explainer correct from their own test suite,
the way scikit-learn's `check_estimator` proves an estimator conformant:

- `check_explainer(explainer, claims=...)` runs the explainer on six small planted games with exact
  truth (3 to 8 players, every term kind, one to three modalities of every kind; `check_games()`) and
  checks each claim by name — efficiency, symmetry, dummy, linearity, SII symmetry, the sign of
  planted synergy / redundancy, the budget, determinism under `random_state`, recovery above a
  threshold. It raises one `AssertionError` listing every failed check with its smallest
  counterexample (the first failing game in size order: its spec, planted terms, latents, and the
  numbers). `raise_on_failure=False` returns the `CheckReport` instead.
- `parametrize_with_checks([...])` turns the checks into separate pytest cases.
- the pytest plugin (entry point `pytest11`, or `pytest_plugins = ["mxbench.testing.plugin"]`)
  gives the fixtures `planted_game` and `planted_task`.
- hypothesis strategies `specs()`, `tasks()`, `planted_games(max_players=..., max_order=...)`,
  `coalitions(n)` shrink to small, readable counterexamples.
- `mxbench.explainers.adapters` wraps shap, shapiq and captum as mxbench explainers (extra
  `adapters`), so their output goes through the same validators and checks.

## Testing your explainer

A complete test file (with the plugin installed; otherwise add `pytest_plugins =
["mxbench.testing.plugin"]` to your root `conftest.py`). `MyShapley` is a permutation-sampling
Shapley estimator written against the explainer contract (`mxbench.explainers.Explainer`): it
stores its parameters, sends each batch to the game in one call and stays within
`game.remaining`:

```python
import numpy as np
from mxbench.explainers import Explainer
from mxbench.testing import parametrize_with_checks


class MyShapley(Explainer):
    # permutation sampling: all prefixes of all permutations go to the game in one call
    name, efficient = "my-shapley", True

    def __init__(self, budget=64, random_state=0):
        self.budget, self.random_state = budget, random_state

    def min_budget(self, n):
        return n + 1

    def _explain(self, game, rng):
        n = game.n_players
        order = np.argsort(rng.random(((game.remaining - 2) // max(n - 1, 1), n)), axis=1)
        prefixes = np.arange(n + 1)[None, :, None] > np.argsort(order, axis=1)[:, None, :]
        v = game(prefixes.reshape(-1, n)).reshape(len(order), n + 1)
        gains = np.zeros(order.shape)
        np.put_along_axis(gains, order, np.diff(v, axis=1), axis=1)
        return {{"attributions": gains.mean(axis=0)}}


@parametrize_with_checks([MyShapley()], claims=["efficiency", "dummy", "linearity", "budget", "determinism"])
def test_mxbench_checks(explainer, check):
    check(explainer)


def test_close_to_exact(planted_game):  # a fixture of the mxbench pytest plugin
    e = MyShapley(budget=1000).explain(planted_game)
    assert np.allclose(e.attributions, planted_game.truth.shapley, atol=0.1), planted_game.describe()
```

`pytest` runs `MyShapley()` through six checks (`explains` and the five claims), each a test case
with the id `MyShapley()-<check>`, and the last test once per planted game (`unique-3#0`, ...).
Run the checks from a script or notebook with `check_explainer(MyShapley(), claims=[...])`; with
`claims="all"` it checks every claim the explainer supports.

## Claims and thresholds

Thresholds lie in `[0, 1]`. For the axioms (`efficiency`, `symmetry`, `dummy`, `linearity`,
`sii_symmetry`) and `determinism` the threshold is a tolerance relative to the game's scale
`Σ|φ*_i|` (its exact Shapley values): default `1e-6` (determinism: `0`, identical output).
`interaction_sign` is the fraction of identifiable planted pairs whose kind (synergy or
redundancy) the explanation's signs give right (default `1.0`); `recovery` is the mean over the
games of AUROC of `|φ|` separating relevant from distractor players (default `0.9`;
`recovery@spearman`, `recovery@pair_precision`, ... use another recovery metric). `budget` takes
no threshold: the game must see at most `budget` distinct coalitions, exactly the reported
`n_queries` of them, with no `BudgetExceeded`, at the configured budget and at `min_budget(n)`.

By default `check_explainer(e)` checks what `e` declares: `budget` and `determinism` (when it has
those parameters), `efficiency` when its class says `efficient = True`, and the entries of its
`claims` attribute. Claiming what an explainer does not support (efficiency for `efficient = False`,
budget without a `budget` parameter), an unknown claim, or a threshold outside `[0, 1]` raises
`ClaimError` before anything runs.

## What check_explainer reports

Generated by `benchmarks/report_checks.py` (mxbench {__version__}, shap {version("shap")}, shapiq
{version("shapiq")}, captum {version("captum")}, numpy {np.__version__},
Python {platform.python_version()}; {total:.0f} s in all). Every explainer runs with budget
{BUDGET} (or its minimum on {MAX_N} players when higher; exact methods with their `2^n`) and with
**every claim it supports** (the interaction claims only for explainers that return
interactions), so the table shows what passes and what fails. ◆ marks the claims the explainer
declares — what `check_explainer(e)` checks by default; the *declared claims* column is the
verdict on those. Each cell: the verdict and the statistic (worst relative violation; lowest
accuracy for `interaction_sign`; mean for `recovery`; largest `distinct coalitions / budget` for
`budget`).

White-box explainers (integrated gradients, attention, expert maps) explain a trained model,
not a game, and are outside `check_explainer`.

Reading it: at the default tolerance `1e-6`, `symmetry` and `dummy` fail for most sampling
estimators — they are exact axioms of the Shapley value, which an estimate meets only up to its
sampling error; claim them with a threshold that states the accuracy you promise (e.g.
`claims={{"symmetry": 0.05}}`). A failing *declared* claim is a bug in the explainer or in what it
declares.

{header}
{rule}
""" + "\n".join(table) + """

## Examples of failure messages (real output)

""" + "\n".join(examples) + """
## Every report (real output)

""" + "\n".join(blocks)
    Path(args.out).write_text(text)
    print(f"wrote {args.out} ({total:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
