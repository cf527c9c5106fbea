"""The metric registry: :data:`METRICS` (name -> :class:`Metric`), the lookups on it and :func:`evaluate`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from mxbench.errors import ExplainerError
from mxbench.explainers.base import Explanation
from mxbench.validation import axioms, desiderata, faithfulness, recovery
from mxbench.validation.truth import COLUMNS, MetricError, Truth, parse_metric

#: The metric families, in report order.
FAMILIES = ("recovery", "faithfulness", "desiderata", "axioms", "cost")


@dataclass(frozen=True)
class Metric:
    """A registered metric: its function, how to read it, and what it needs.

    Attributes
    ----------
    name : str
        The registry name; the base of its rows' metric names.
    fn : callable
        ``fn(explanation, truth, **context) -> list of rows``.
    direction : {"higher", "lower"}
        Which way is better for the main row (``name`` and ``name:exact``).
    range : (float, float)
        The range of the main row (``inf`` where unbounded).
    family : str
        One of :data:`FAMILIES`.
    needs_game, needs_explainer, needs_task : bool
        Whether the metric queries the game, re-runs the explainer, perturbs the task's inputs.
    qualifiers : dict
        Direction of qualified rows (``"higher"``, ``"lower"`` or None for a reference value
        with no better side); a qualifier not listed reads like the main row.

    Examples
    --------
    >>> m = METRICS["deletion"]
    >>> m.direction, m.family, m.needs_game
    ('lower', 'faithfulness', True)
    >>> m.direction_of("deletion:exact")
    'lower'
    """

    name: str
    fn: Callable[..., list]
    direction: str
    range: tuple[float, float]
    family: str
    needs_game: bool = False
    needs_explainer: bool = False
    needs_task: bool = False
    qualifiers: Mapping[str, str | None] = field(default_factory=dict)

    def __call__(self, explanation: Any, truth: Truth, **context: Any) -> list[dict]:
        """Run the metric; raise :class:`MetricError` when something it needs is missing.

        Examples
        --------
        >>> import mxbench
        >>> from mxbench.explainers import Exact
        >>> from mxbench.validation.truth import EXAMPLE_SPEC
        >>> task = mxbench.generate(EXAMPLE_SPEC)
        >>> try:
        ...     METRICS["deletion"](Exact().explain(task.game(0)), Truth.from_task(task, 0))
        ... except MetricError as e:
        ...     print(e)
        game: metric 'deletion' needs the explained game, got None
        """
        for flag, key, what in ((self.needs_game, "game", "the explained game"),
                                (self.needs_explainer, "explainer", "the explainer that made the explanation"),
                                (self.needs_task, "task", "the task")):
            if flag and context.get(key) is None:
                raise MetricError(f"{key}: metric {self.name!r} needs {what}, got None")
        return self.fn(explanation, truth, **context)

    def direction_of(self, metric: str) -> str | None:
        """The direction of a row's metric name of this entry (None: a reference value).

        Examples
        --------
        >>> METRICS["pair_masking"].direction_of("pair_masking@random") is None
        True
        """
        _, qualifier, _ = parse_metric(metric)
        if qualifier:
            for key, d in self.qualifiers.items():
                if qualifier == key or (key.endswith("*") and qualifier.startswith(key[:-1])):
                    return d
        return self.direction


INF = float("inf")

METRICS: dict[str, Metric] = {m.name: m for m in [
    # recovery
    Metric("auroc", recovery.auroc, "higher", (0.0, 1.0), "recovery", qualifiers={"active": "higher"}),
    Metric("auroc_pooled", recovery.auroc_pooled, "higher", (0.0, 1.0), "recovery", qualifiers={"active": "higher"}),
    Metric("precision_at_k", recovery.precision_at_k, "higher", (0.0, 1.0), "recovery",
           qualifiers={"active": "higher"}),
    Metric("spearman", recovery.spearman, "higher", (-1.0, 1.0), "recovery"),
    Metric("spearman_pooled", recovery.spearman_pooled, "higher", (-1.0, 1.0), "recovery"),
    Metric("kendall", recovery.kendall, "higher", (-1.0, 1.0), "recovery"),
    Metric("sign_agreement", recovery.sign_agreement, "higher", (0.0, 1.0), "recovery"),
    Metric("modality_share_error", recovery.modality_share_error, "lower", (0.0, 1.0), "recovery"),
    Metric("attribution_gap", recovery.attribution_gap, "lower", (0.0, INF), "recovery"),
    Metric("pair_precision", recovery.pair_precision, "higher", (0.0, 1.0), "recovery",
           qualifiers={"active": "higher"}),
    Metric("pair_kind_accuracy", recovery.pair_kind_accuracy, "higher", (0.0, 1.0), "recovery"),
    Metric("shapley_error", recovery.shapley_error, "lower", (0.0, INF), "recovery"),
    Metric("sii_error", recovery.sii_error, "lower", (0.0, INF), "recovery"),
    # faithfulness
    Metric("deletion", faithfulness.deletion, "lower", (-INF, INF), "faithfulness", needs_game=True),
    Metric("insertion", faithfulness.insertion, "higher", (-INF, INF), "faithfulness", needs_game=True),
    Metric("comprehensiveness", faithfulness.comprehensiveness, "higher", (-INF, INF), "faithfulness",
           needs_game=True),
    Metric("sufficiency", faithfulness.sufficiency, "lower", (-INF, INF), "faithfulness", needs_game=True),
    Metric("pair_masking", faithfulness.pair_masking, "higher", (-INF, INF), "faithfulness", needs_game=True,
           qualifiers={"ranked": "higher", "random": None, "planted": "higher"}),
    # desiderata
    Metric("granger_influence", desiderata.granger_influence, "lower", (0.0, 1.0), "desiderata", needs_game=True,
           needs_explainer=True, qualifiers={"*": None}),
    Metric("synergistic_faithfulness", desiderata.synergistic_faithfulness, "higher", (-INF, INF), "desiderata",
           needs_game=True, qualifiers={"necessity": "higher", "sufficiency": "lower", "gain": "higher"}),
    Metric("unified_stability", desiderata.unified_stability, "lower", (0.0, INF), "desiderata",
           needs_explainer=True, needs_task=True, qualifiers={"rerun": "lower"}),
    # axioms
    Metric("efficiency", axioms.efficiency, "lower", (0.0, INF), "axioms"),
    Metric("symmetry", axioms.symmetry, "lower", (0.0, INF), "axioms"),
    Metric("dummy", axioms.dummy, "lower", (0.0, INF), "axioms"),
    Metric("linearity", axioms.linearity, "lower", (0.0, INF), "axioms", needs_game=True, needs_explainer=True),
    Metric("sii_symmetry", axioms.sii_symmetry, "lower", (0.0, INF), "axioms"),
    # cost
    Metric("n_queries", recovery.n_queries, "lower", (0.0, INF), "cost"),
    Metric("seconds", recovery.seconds, "lower", (0.0, INF), "cost"),
]}


def get_metric(name: str) -> Metric:
    """The registered metric called ``name``.

    Raises
    ------
    MetricError
        No metric has that name (the message lists the known names).

    Examples
    --------
    >>> get_metric("auroc").family
    'recovery'
    >>> try:
    ...     get_metric("aurok")
    ... except MetricError as e:
    ...     print(str(e)[:40])
    metric: unknown metric 'aurok' (choose f
    """
    if name not in METRICS:
        raise MetricError(f"metric: unknown metric {name!r} (choose from {', '.join(METRICS)})")
    return METRICS[name]


def direction(metric: str) -> str | None:
    """Which way is better for a row's metric name: ``"higher"``, ``"lower"`` or None.

    Examples
    --------
    >>> direction("comprehensiveness@10%:exact"), direction("granger_influence@txt->tab")
    ('higher', None)
    """
    return get_metric(parse_metric(metric)[0]).direction_of(metric)


def metric_names(family: str | None = None) -> list[str]:
    """The registered metric names, optionally of one family.

    Examples
    --------
    >>> metric_names("axioms")
    ['efficiency', 'symmetry', 'dummy', 'linearity', 'sii_symmetry']
    """
    if family is not None and family not in FAMILIES:
        raise MetricError(f"family: unknown family {family!r} (choose from {', '.join(FAMILIES)})")
    return [k for k, m in METRICS.items() if family is None or m.family == family]


def as_explanation(explanation: Any, truth: Truth, interactions: Any = None, index: str | None = None) -> Any:
    """``explanation`` itself, or plain attributions (and pairs) as an :class:`Explanation` of ``truth``'s players.

    Parameters
    ----------
    explanation : Explanation or array_like of shape (n,)
        An explanation, or one attribution per player of ``truth``.
    truth : Truth
        The exact truth (its modalities and player names label the wrapped values).
    interactions : dict or array_like of shape (n, n), optional
        With attributions only: pair values ``{(i, j): value}`` or a symmetric matrix
        (:meth:`Explanation.from_values`).
    index : str, optional
        With attributions only: the index the values estimate; default ``"SII"`` with
        ``interactions``, else ``"SV"``.

    Returns
    -------
    Explanation
        The wrapped values (``explainer`` empty, ``modality`` the sums per modality); an
        explanation is returned as it is.

    Raises
    ------
    MetricError
        ``interactions`` or ``index`` given with an explanation, or values that are not one per player.

    Examples
    --------
    >>> import numpy as np, mxbench
    >>> from mxbench.validation.truth import EXAMPLE_SPEC
    >>> t = Truth.from_task(mxbench.generate(EXAMPLE_SPEC), 0)
    >>> e = as_explanation(t.shapley, t, {(1, 4): 0.5})
    >>> e.index, e.order, e.modality_names == t.modality_names
    ('SII', 2, True)
    """
    if not isinstance(explanation, np.ndarray) and hasattr(explanation, "attributions"):
        for name, value in (("interactions", interactions), ("index", index)):
            if value is not None:
                raise MetricError(f"{name}: given with an explanation, which holds its own; pass it with plain "
                                  f"attributions only")
        return explanation
    try:
        values = np.asarray(explanation, dtype=np.float64)
    except (TypeError, ValueError):
        raise MetricError(f"explanation: expected an Explanation or one attribution per player, got "
                          f"{type(explanation).__name__}") from None
    if values.shape != (truth.n_players,):
        raise MetricError(f"explanation: expected {truth.n_players} attributions (one per player of the truth), "
                          f"got shape {values.shape}")
    try:
        return Explanation.from_values(values, interactions, modality_of=truth.modality_of,
                                       modality_names=truth.modality_names, player_names=truth.player_names,
                                       index=index or ("SV" if interactions is None else "SII"))
    except ExplainerError as e:
        raise MetricError(str(e)) from None


def evaluate(explanation: Any, truth: Truth, metrics: Iterable[str] | None = None, *, game: Any = None,
             explainer: Any = None, task: Any = None, model: Any = None,
             options: Mapping[str, Mapping[str, Any]] | None = None, interactions: Any = None,
             index: str | None = None) -> pd.DataFrame:
    """Run metrics on one explanation; a DataFrame with the columns :data:`COLUMNS`.

    Parameters
    ----------
    explanation : Explanation or array_like of shape (n,)
        The explanation, or plain attributions (one per player), wrapped by :func:`as_explanation`.
    truth : Truth
        The exact truth of the explained instance.
    metrics : iterable of str, optional
        Metric names (default: every metric whose needs the given context meets).
    game, explainer, task, model : optional
        The context (see :class:`Metric`): the explained game, the explainer that made
        ``explanation``, the task, the model (its name, or a trained model).
    options : dict, optional
        Per-metric keyword options, e.g. ``{"pair_masking": {"repeats": 20}}``.
    interactions : dict or array_like of shape (n, n), optional
        With plain attributions: their pair interactions.
    index : str, optional
        With plain attributions: the index they estimate (default ``"SII"`` with pairs, else ``"SV"``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    MetricError
        An unknown metric name, a named metric whose needs are not met, or plain values that
        are not one per player.

    Examples
    --------
    >>> import mxbench
    >>> from mxbench.explainers import Exact
    >>> from mxbench.validation.truth import EXAMPLE_SPEC
    >>> task = mxbench.generate(EXAMPLE_SPEC)
    >>> frame = evaluate(Exact().explain(task.game(0)), Truth.from_task(task, 0))
    >>> sorted(frame["metric"].map(lambda m: parse_metric(m)[0]).unique())[:3]
    ['attribution_gap', 'auroc', 'auroc_pooled']
    >>> t = Truth.from_task(task, 0)
    >>> evaluate(t.shapley, t, ["spearman", "kendall"])[["metric", "value"]].values.tolist()   # plain attributions
    [['spearman', 1.0], ['kendall', 1.0]]
    """
    explanation = as_explanation(explanation, truth, interactions, index)
    context = {"game": game, "explainer": explainer, "task": task, "model": model}
    options = dict(options or {})
    if metrics is None:
        chosen = [m for m in METRICS.values() if (game is not None or not m.needs_game)
                  and (explainer is not None or not m.needs_explainer) and (task is not None or not m.needs_task)]
    else:
        if isinstance(metrics, str):
            metrics = [metrics]
        chosen = [get_metric(name) for name in metrics]
    for name in options:
        get_metric(name)
    rows: list[dict] = []
    for m in chosen:
        rows += m(explanation, truth, **context, **dict(options.get(m.name, {})))
    return pd.DataFrame(rows, columns=list(COLUMNS))
