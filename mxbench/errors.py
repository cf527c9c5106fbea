"""The exceptions mxbench raises for bad specs, bad files and bad arguments."""

from __future__ import annotations


class MxbenchError(ValueError):
    """Base class of every error mxbench raises on bad input.

    The CLI prints the message of any ``MxbenchError`` on one line and exits
    with status 2.

    Examples
    --------
    >>> from mxbench.errors import MxbenchError, SpecError
    >>> issubclass(SpecError, MxbenchError)
    True
    """


class SpecError(MxbenchError):
    """A task spec is malformed; the message names the field and the value.

    Parameters
    ----------
    field : str
        Where the problem is, e.g. ``"modalities[0].kind"`` (kept as ``.field``).
    message : str
        What is wrong; the error's text is ``"{field}: {message}"``.

    Examples
    --------
    >>> from mxbench import SpecError, TaskSpec
    >>> try:
    ...     TaskSpec.from_dict({"name": "x", "modalities": []})
    ... except SpecError as e:
    ...     print(e)
    ...     print(e.field)
    modalities: need at least one modality, got []
    modalities
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class DatasetError(MxbenchError):
    """A dataset folder is missing, corrupt, tampered with or of another schema.

    Examples
    --------
    >>> import mxbench
    >>> try:
    ...     mxbench.load("/nonexistent/dataset")
    ... except mxbench.DatasetError as e:
    ...     print(type(e).__name__)
    DatasetError
    """


class GameError(MxbenchError):
    """A game was called with bad coalitions or returned bad values.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench import FunctionGame, GameError
    >>> game = FunctionGame(lambda c: c.sum(axis=1).astype(float), n_players=3)
    >>> try:
    ...     game(np.ones((2, 4), dtype=bool))
    ... except GameError as e:
    ...     print(e)
    coalitions: expected shape (B, 3), got (2, 4)
    """


class ExplainerError(MxbenchError):
    """An explainer was given bad parameters, a budget too small for its method, or bad pairs.

    Examples
    --------
    >>> from mxbench.errors import ExplainerError, MxbenchError
    >>> issubclass(ExplainerError, MxbenchError)
    True
    """


class BudgetError(ExplainerError):
    """The budget is below the smallest the explainer's method can work with (the message starts ``budget:``).

    A benchmark grid skips an explainer quietly where this is the reason, and warns on any other
    :class:`ExplainerError`.

    Examples
    --------
    >>> from mxbench.errors import BudgetError
    >>> from mxbench.explainers import Exact
    >>> try:
    ...     Exact(budget=3).explain(lambda c: c.sum(axis=1) * 1.0, n_players=2)
    ... except BudgetError as e:
    ...     print(e)
    budget: Exact needs at least 4 coalitions on 2 players, got 3
    """


class MetricError(MxbenchError):
    """A validator was given a bad argument: an unknown metric name, a missing game or explainer.

    Examples
    --------
    >>> from mxbench.errors import MetricError, MxbenchError
    >>> issubclass(MetricError, MxbenchError)
    True
    """
