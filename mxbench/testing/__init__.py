"""Testing kit for explainer authors: ``check_explainer``, hypothesis strategies, a pytest plugin.

- :func:`check_explainer` / :func:`parametrize_with_checks` (:mod:`mxbench.testing.checks`):
  a conformance suite that checks an explainer's claims (efficiency, symmetry, dummy,
  linearity, SII symmetry, interaction signs, budget, determinism, recovery) on small planted
  games with exact truth.
- :func:`specs`, :func:`spec_dicts`, :func:`tasks`, :func:`planted_games`, :func:`coalitions`
  (:mod:`mxbench.testing.strategies`): hypothesis strategies that shrink to small, readable
  counterexamples (needs ``hypothesis``, in the ``test`` extra).
- :mod:`mxbench.testing.plugin`: the pytest plugin with the fixtures ``planted_game`` and
  ``planted_task``.
- :mod:`mxbench.testing.examples`: explainers of an author's own (a function of the game, a
  duck-typed class, an ``Explainer`` subclass) that the runner's grid takes by import path.

Names are imported on first use, so importing this package (as the pytest plugin does) loads
neither hypothesis nor the checks.

Examples
--------
>>> from mxbench.testing import check_explainer
>>> from mxbench.explainers import Exact
>>> check_explainer(Exact(), claims=["efficiency"]).passed
True
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "specs": "strategies", "spec_dicts": "strategies", "tasks": "strategies", "planted_games": "strategies",
    "coalitions": "strategies",
    "check_explainer": "checks", "parametrize_with_checks": "checks", "check_games": "checks",
    "check_tasks": "checks", "default_claims": "checks", "resolve_claims": "checks", "clone": "checks",
    "CheckReport": "checks", "CheckResult": "checks", "ClaimError": "checks", "PlantedCase": "checks",
    "CLAIMS": "checks", "CHECK_SPECS": "checks", "DEFAULT_THRESHOLDS": "checks", "RECOVERY_METRICS": "checks",
}

__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"mxbench.testing.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mxbench.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
