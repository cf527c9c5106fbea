"""Testing helpers for explainer authors: hypothesis strategies of task specs and coalitions."""

from mxbench.testing.strategies import coalitions, spec_dicts, specs

__all__ = ["specs", "spec_dicts", "coalitions"]
