"""``check_explainer``: a conformance suite for black-box explainers, run on small planted games.

Like scikit-learn's ``check_estimator``, :func:`check_explainer` runs an explainer on a fixed,
deterministic set of small planted games (:data:`CHECK_SPECS`, smallest first) and checks
what the explainer *claims*, each check by name:

=================== ============================================================ ===============
claim               what is checked, on every game where it applies               threshold
=================== ============================================================ ===============
``efficiency``      ``|Σ φ - (v(N) - v(∅))| <= t · scale``                        ``t`` (1e-6)
``symmetry``        ``|φ_i - φ_j| <= t · scale`` for players symmetric in the game ``t`` (1e-6)
``dummy``           ``|φ_i| <= t · scale`` for dummy players                      ``t`` (1e-6)
``linearity``       ``|φ(v + w) - φ(v) - φ(w)| <= t · scale`` (w: the next        ``t`` (1e-6)
                    instance of the same task)
``sii_symmetry``    ``|I_ik - I_jk| <= t · scale`` for symmetric ``i, j``          ``t`` (1e-6)
``interaction_sign`` the planted synergy / redundancy read right from the signs   ``t`` (1.0)
                    (accuracy of :func:`~mxbench.validation.recovery.pair_kind_accuracy`
                    ``>= t``)
``budget``          no :class:`~mxbench.explainers.base.BudgetExceeded`; the game   none
                    sees at most ``budget`` distinct coalitions and exactly
                    ``n_queries`` of them (at the configured budget and at
                    ``min_budget(n)``)
``determinism``     two fresh copies with the same ``random_state`` give the same ``t`` (0.0)
                    explanation (``max |difference| <= t · scale``)
``recovery``        mean over the games of a recovery metric ``>= t``            ``t`` (0.9)
                    (``recovery`` = AUROC of ``|φ|``, material planted vs
                    distractor players; ``recovery@<metric>`` for another one)
=================== ============================================================ ===============

``scale`` is the game's size, ``Σ_i |φ*_i|`` of its exact Shapley values ``φ*`` (1 when they are
all zero), so thresholds are relative and lie in ``[0, 1]``. The axioms are measured by
:mod:`mxbench.validation.axioms` and recovery by :mod:`mxbench.validation.recovery`: one piece
of code per idea. A check that has nothing to look at on a game (no symmetric pair, no dummy) is
*not applicable* there. Every run also checks that ``explain`` returns a well-formed
:class:`~mxbench.explainers.base.Explanation` with finite values (check ``explains``).

A failed check reports its **smallest counterexample**: the first failing game in size order
(fewest players), described by its spec, planted terms and latents, with the numbers.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Real
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mxbench.errors import ExplainerError
from mxbench.explainers.base import BudgetExceeded, Explainer, Explanation, min_budget_of
from mxbench.games import Game
from mxbench.task import PlantedGame, Task, generate

__all__ = ["CLAIMS", "DEFAULT_THRESHOLDS", "RECOVERY_METRICS", "CHECK_SPECS", "ClaimError", "PlantedCase",
           "CheckResult", "CheckReport", "check_tasks", "check_games", "default_claims", "resolve_claims",
           "check_explainer", "parametrize_with_checks", "clone"]

#: The claims :func:`check_explainer` can check, in report order.
CLAIMS = ("efficiency", "symmetry", "dummy", "linearity", "sii_symmetry", "interaction_sign", "budget",
          "determinism", "recovery")
#: The threshold of each claim when none is given (None: the claim takes no threshold).
DEFAULT_THRESHOLDS: dict[str, float | None] = {
    "efficiency": 1e-6, "symmetry": 1e-6, "dummy": 1e-6, "linearity": 1e-6, "sii_symmetry": 1e-6,
    "interaction_sign": 1.0, "budget": None, "determinism": 0.0, "recovery": 0.9}
#: The recovery metrics a ``recovery@<metric>`` claim may name (higher is better, range within [-1, 1]).
RECOVERY_METRICS = ("auroc", "auroc_pooled", "precision_at_k", "spearman", "spearman_pooled", "kendall",
                    "sign_agreement", "pair_precision", "pair_kind_accuracy")
#: The metric of a bare ``recovery`` claim.
DEFAULT_RECOVERY_METRIC = "auroc"

#: The planted tasks of the checks, smallest first. Each has two instances: instance 0 is the
#: checked game, instance 1 the second game of the linearity check. Together they hold every term
#: kind and function, symmetric players (distractors, copies of one latent, the two players of a
#: product), dummies, and one to three modalities of every kind.
CHECK_SPECS: tuple[dict[str, Any], ...] = (
    {"name": "unique-3", "seed": 1, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 3}],
     "terms": [{"kind": "unique", "players": ["a:0"], "weight": 1.5}]},
    {"name": "synergy-4", "seed": 2, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 2},
                    {"name": "b", "kind": "text", "length": 2, "vocab": 16, "neutral": 0.0}],
     "terms": [{"kind": "synergy", "op": "product", "players": ["a:0", "b:0"], "weight": 1.0},
               {"kind": "unique", "fn": "tanh", "players": ["a:1"], "weight": -1.0}]},
    {"name": "redundancy-5", "seed": 3, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 2}, {"name": "b", "kind": "tabular", "features": 3}],
     "terms": [{"kind": "redundancy", "players": ["a:0", "b:0"], "weight": 1.2, "spread": 0.0},
               {"kind": "synergy", "op": "xor", "players": ["a:1", "b:1"], "weight": 0.8}]},
    {"name": "mixed-6", "seed": 4, "instances": 2,
     "modalities": [{"name": "a", "kind": "tabular", "features": 4}, {"name": "b", "kind": "tabular", "features": 2}],
     "terms": [{"kind": "unique", "players": ["a:0"]}, {"kind": "synergy", "players": ["a:1", "b:0"]},
               {"kind": "redundancy", "players": ["a:2", "b:1"]}]},
    {"name": "img-txt-7", "seed": 14, "instances": 2,
     "modalities": [{"name": "img", "kind": "image", "channels": 1, "size": 8, "patch": 4},
                    {"name": "txt", "kind": "text", "length": 3, "vocab": 24}],
     "terms": [{"kind": "unique", "fn": "step", "players": ["img:0"], "weight": 1.0},
               {"kind": "synergy", "op": "and", "players": ["img:1", "txt:0"], "weight": 2.0},
               {"kind": "redundancy", "players": ["img:2", "txt:1", "txt:2"], "weight": -1.0}]},
    {"name": "three-way-8", "seed": 6, "instances": 2,
     "modalities": [{"name": "tab", "kind": "tabular", "features": 2},
                    {"name": "txt", "kind": "text", "length": 2, "vocab": 24},
                    {"name": "img", "kind": "image", "channels": 1, "size": 8, "patch": 4}],
     "terms": [{"kind": "synergy", "op": "product", "players": ["tab:0", "txt:0", "img:0"], "weight": 1.0},
               {"kind": "unique", "players": ["img:1"], "weight": 0.8},
               {"kind": "redundancy", "players": ["tab:1", "img:2"], "weight": 1.0}]},
)


class ClaimError(ExplainerError):
    """Bad input to :func:`check_explainer`: not an explainer, an unknown or unsupported claim, a bad threshold.

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> try:
    ...     check_explainer(Exact(), claims={"recovery": 1.5})
    ... except ClaimError as e:
    ...     print(e)
    claims['recovery']: a threshold must be a number in [0, 1] (or True for the default), got 1.5
    """


# ---------------------------------------------------------------------- the games
def _fmt(x: float) -> str:
    return f"{float(x):.4g}"


def _fmt_array(a: Any) -> str:
    return "[" + ", ".join(_fmt(x) for x in np.asarray(a, dtype=np.float64).ravel()) + "]"


def _term_formula(term: Any) -> str:
    p = [f"s[{name}]" for name in term.players]
    if term.kind == "unique":
        body = {"identity": p[0], "tanh": f"tanh({p[0]})", "step": f"1[{p[0]} > 0]"}[term.op]
    elif term.kind == "synergy":
        body = {"product": "*".join(p), "xor": "xor(" + ", ".join(f"{x} > 0" for x in p) + ")",
                "and": "*".join(f"1[{x} > 0]" for x in p)}[term.op]
    else:
        body = "maxmag(" + ", ".join(p) + ")"
    return f"{term.weight:g}*{body}"


class PlantedCase(PlantedGame):
    """A planted game that knows its exact truth and describes itself readably.

    The games of :func:`check_games`, of the ``planted_game`` fixture and of the
    :func:`~mxbench.testing.strategies.planted_games` strategy. It is a
    :class:`~mxbench.task.PlantedGame` (the game of one instance of a task) with

    - :attr:`truth`: the exact :class:`~mxbench.validation.truth.Truth` of the instance
      (``truth.shapley``, ``truth.sii``, ``truth.delta``, ...),
    - :meth:`describe`: the spec, the planted terms as a formula, the latents and the exact
      Shapley values, as a counterexample is reported.

    Parameters
    ----------
    task : Task
        The task.
    instance : int
        The instance number.

    Examples
    --------
    >>> import numpy as np
    >>> game = check_games()[0]
    >>> game
    PlantedCase('unique-3', instance=0, players=3, terms=1)
    >>> e = __import__("mxbench.explainers", fromlist=["Exact"]).Exact().explain(game)
    >>> bool(np.allclose(e.attributions, game.truth.shapley))
    True
    >>> print(game.describe().splitlines()[1])
      v(S) = f*(s masked outside S), f* = 0 + 1.5*s[a:0]; distractors: a:1, a:2
    """

    @property
    def name(self) -> str:
        """``"<task name>#<instance>"``."""
        return f"{self.task.spec.name}#{self.instance}"

    @cached_property
    def truth(self) -> Any:
        """The exact truth of the instance (:meth:`Truth.from_task`)."""
        from mxbench.validation.truth import Truth

        return Truth.from_task(self.task, self.instance)

    def describe(self) -> str:
        """A readable description: spec, planted terms, latents, exact Shapley values.

        Returns
        -------
        str
            Four lines.

        Examples
        --------
        >>> print(check_games()[0].describe())  # doctest: +NORMALIZE_WHITESPACE
        planted game 'unique-3' instance 0 (spec seed 1): 3 players a:0, a:1, a:2; modalities a
          v(S) = f*(s masked outside S), f* = 0 + 1.5*s[a:0]; distractors: a:1, a:2
          latents s = a:0=-0.2073, a:1=-1.354, a:2=-0.7783
          exact Shapley = [-0.311, 0, 0]
        """
        task = self.task
        spec = task.spec
        names = list(task.player_names)
        roles = task.players()["role"].tolist()
        terms = " + ".join(_term_formula(t) for t in task.terms).replace("+ -", "- ")
        distractors = [n for n, r in zip(names, roles) if r == "distractor"]
        latents = ", ".join(f"{n}={_fmt(v)}" for n, v in zip(names, task.latents[self.instance]))
        return (f"planted game {spec.name!r} instance {self.instance} (spec seed {spec.seed}): "
                f"{len(names)} players {', '.join(names)}; modalities {', '.join(task.modality_names)}\n"
                f"  v(S) = f*(s masked outside S), f* = {_fmt(spec.intercept)} + {terms}"
                + (f"; distractors: {', '.join(distractors)}" if distractors else "") + "\n"
                f"  latents s = {latents}\n"
                f"  exact Shapley = {_fmt_array(self.truth.shapley)}")

    def __repr__(self) -> str:
        return (f"PlantedCase({self.task.spec.name!r}, instance={self.instance}, players={self.n_players}, "
                f"terms={len(self.task.terms)})")


@functools.lru_cache(maxsize=None)
def _check_task(k: int) -> Task:
    return generate(CHECK_SPECS[k])


def check_tasks() -> list[Task]:
    """The planted tasks of the checks (:data:`CHECK_SPECS`), smallest first; generated once per process.

    Returns
    -------
    list of Task

    Examples
    --------
    >>> [(t.spec.name, t.n_players, t.n_instances) for t in check_tasks()][:2]
    [('unique-3', 3, 2), ('synergy-4', 4, 2)]
    """
    return [_check_task(k) for k in range(len(CHECK_SPECS))]


def check_games(max_players: int | None = None) -> list[PlantedCase]:
    """The games of the checks: instance 0 of each check task, smallest first (fresh game objects).

    Parameters
    ----------
    max_players : int, optional
        Keep the games with at most this many players.

    Returns
    -------
    list of PlantedCase

    Examples
    --------
    >>> [g.name for g in check_games(max_players=5)]
    ['unique-3#0', 'synergy-4#0', 'redundancy-5#0']
    """
    return [PlantedCase(t, 0) for t in check_tasks() if max_players is None or t.n_players <= max_players]


# ---------------------------------------------------------------------- claims
def clone(explainer: Explainer, **overrides: Any) -> Explainer:
    """A fresh copy of ``explainer`` from its parameters (scikit-learn ``clone``), with ``overrides``.

    Examples
    --------
    >>> from mxbench.explainers import KernelSHAP
    >>> clone(KernelSHAP(budget=64), budget=16)
    KernelSHAP(budget=16, paired=True, random_state=0)
    """
    params = copy.deepcopy(explainer.get_params())
    params.update(overrides)
    return type(explainer)(**params)


def _check_explainer_object(explainer: Any) -> None:
    from mxbench.explainers.whitebox import WhiteBoxExplainer

    if isinstance(explainer, type):
        raise ClaimError(f"explainer: expected an explainer instance, got the class {explainer.__name__} "
                         f"(write {explainer.__name__}(...))")
    if isinstance(explainer, WhiteBoxExplainer):
        raise ClaimError(f"explainer: {type(explainer).__name__} is a white-box explainer (it explains a model, "
                         f"not a game); check_explainer checks black-box explainers of games")
    if not isinstance(explainer, Explainer):
        raise ClaimError(f"explainer: expected an mxbench Explainer (a subclass of mxbench.explainers.Explainer "
                         f"with explain(game)), got {type(explainer).__name__} {explainer!r:.60}")
    try:
        clone(explainer)
    except Exception as e:  # noqa: BLE001 - any failure means get_params() does not rebuild it
        raise ClaimError(f"explainer: {type(explainer).__name__}(**get_params()) fails ({type(e).__name__}: {e}); "
                         f"the constructor must store each parameter under its own name") from None


def default_claims(explainer: Explainer) -> dict[str, float | None]:
    """The claims checked when none are given: what the explainer declares.

    ``budget`` and ``determinism`` when the explainer has those parameters, ``efficiency``
    when it declares ``efficient = True``, and every claim of its ``claims`` attribute (a
    list of names or a dict of thresholds), if it has one.

    Examples
    --------
    >>> from mxbench.explainers import KernelSHAP, LIME
    >>> default_claims(KernelSHAP())
    {'efficiency': 1e-06, 'linearity': 1e-06, 'budget': None, 'determinism': 0.0}
    >>> default_claims(LIME())
    {'linearity': 1e-06, 'budget': None, 'determinism': 0.0}
    """
    params = explainer.get_params()
    out: dict[str, Any] = {}
    if getattr(explainer, "efficient", False):
        out["efficiency"] = True
    if "budget" in params:
        out["budget"] = True
    if "random_state" in params:
        out["determinism"] = True
    declared = getattr(explainer, "claims", None)
    if declared:
        out.update(declared if isinstance(declared, Mapping) else {c: True for c in declared})
    return _resolve(explainer, out, "claims (declared by the explainer)")


def _base(claim: str) -> str:
    return claim.split("@", 1)[0]


def _resolve(explainer: Explainer, claims: Mapping[str, Any], where: str) -> dict[str, float | None]:
    params = explainer.get_params()
    out: dict[str, float | None] = {}
    for claim, value in claims.items():
        if not isinstance(claim, str) or _base(claim) not in CLAIMS:
            raise ClaimError(f"{where}: unknown claim {claim!r} (choose from {', '.join(CLAIMS)}, "
                             f"or recovery@<metric>)")
        base = _base(claim)
        if "@" in claim:
            metric = claim.split("@", 1)[1]
            if base != "recovery" or metric not in RECOVERY_METRICS:
                raise ClaimError(f"{where}: {claim!r} names no recovery metric (recovery@ takes one of "
                                 f"{', '.join(RECOVERY_METRICS)})")
        if value is False or value is None and base != "budget":
            continue
        if base == "budget":
            if value not in (True, None):
                raise ClaimError(f"{where}[{claim!r}]: the budget claim takes no threshold (use True), got {value!r}")
            threshold = None
        elif value is True:
            threshold = DEFAULT_THRESHOLDS[base]
        elif isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and 0 <= value <= 1:
            threshold = float(value)
        else:
            raise ClaimError(f"{where}[{claim!r}]: a threshold must be a number in [0, 1] (or True for the "
                             f"default), got {value!r}")
        if base == "budget" and "budget" not in params:
            raise ClaimError(f"{where}: {type(explainer).__name__} does not support the claim 'budget' "
                             f"(it has no budget parameter)")
        if base == "determinism" and "random_state" not in params:
            raise ClaimError(f"{where}: {type(explainer).__name__} does not support the claim 'determinism' "
                             f"(it has no random_state parameter)")
        if base == "efficiency" and not getattr(explainer, "efficient", False):
            raise ClaimError(f"{where}: {type(explainer).__name__} does not support the claim 'efficiency' "
                             f"(it declares efficient = False; set the class attribute efficient = True to claim it)")
        out[claim] = threshold
    order = {c: k for k, c in enumerate(CLAIMS)}
    return dict(sorted(out.items(), key=lambda kv: (order[_base(kv[0])], kv[0])))


def resolve_claims(explainer: Any, claims: Any = None) -> dict[str, float | None]:
    """Validate ``explainer`` and ``claims`` and return ``{claim: threshold}`` (before anything runs).

    Parameters
    ----------
    explainer : Explainer
        A black-box mxbench explainer instance.
    claims : None, "all", iterable of str, or dict
        None: :func:`default_claims`. ``"all"``: every claim the explainer supports (``budget``
        and ``determinism`` need those parameters; ``efficiency`` needs ``efficient = True``).
        A list of claim names (default thresholds), or a dict ``{claim: threshold}`` with a
        threshold in ``[0, 1]``, True (the default) or False (left out). ``recovery@<metric>``
        checks another metric of :data:`RECOVERY_METRICS`.

    Returns
    -------
    dict
        Claim -> threshold (None for ``budget``), in report order.

    Raises
    ------
    ClaimError
        ``explainer`` is not an explainer instance; a claim is unknown or unsupported by the
        explainer; a threshold is outside ``[0, 1]``.

    Examples
    --------
    >>> from mxbench.explainers import Exact, LIME
    >>> resolve_claims(Exact(), ["symmetry", "recovery@spearman"])
    {'symmetry': 1e-06, 'recovery@spearman': 0.9}
    >>> sorted(resolve_claims(LIME(), "all"))[:3]
    ['budget', 'determinism', 'dummy']
    >>> try:
    ...     resolve_claims(LIME(), ["efficiency"])
    ... except ClaimError as e:
    ...     print(str(e)[:59])
    claims: LIME does not support the claim 'efficiency' (it de
    """
    _check_explainer_object(explainer)
    if claims is None:
        return default_claims(explainer)
    if isinstance(claims, str):
        if claims != "all":
            raise ClaimError(f"claims: expected None, 'all', a list of claims or a dict of thresholds, got {claims!r}")
        params = explainer.get_params()
        wanted = {c: True for c in CLAIMS if not (
            (c == "budget" and "budget" not in params) or (c == "determinism" and "random_state" not in params)
            or (c == "efficiency" and not getattr(explainer, "efficient", False)))}
        return _resolve(explainer, wanted, "claims")
    if isinstance(claims, Mapping):
        return _resolve(explainer, claims, "claims")
    try:
        names = list(claims)
    except TypeError:
        raise ClaimError(f"claims: expected None, 'all', a list of claims or a dict of thresholds, "
                         f"got {claims!r}") from None
    return _resolve(explainer, {c: True for c in names}, "claims")


# ---------------------------------------------------------------------- running
class _Recorder(Game):
    """The checked game as the explainer's :class:`BudgetedGame` sees it: records every distinct coalition."""

    def __init__(self, game: Game) -> None:
        super().__init__(game.n_players, game.modality_of, game.modality_names, game.player_names,
                         batch_size=game.batch_size)
        self.inner = game
        self.task = getattr(game, "task", None)
        self.instance = getattr(game, "instance", -1)
        self.seen: set[bytes] = set()

    @property
    def distinct(self) -> int:
        return len(self.seen)

    def _value(self, coalitions: np.ndarray) -> np.ndarray:
        self.seen.update(row.tobytes() for row in np.packbits(coalitions, axis=1))
        return self.inner(coalitions)


@dataclass
class _Run:
    explanation: Explanation | None
    recorder: _Recorder
    error: BaseException | None
    budget: int | None


def _explain(explainer: Explainer, game: Game) -> _Run:
    rec = _Recorder(game)
    budget = explainer.budget if explainer.budget is not None else _default_budget(explainer, game.n_players)
    try:
        return _Run(explainer.explain(rec), rec, None, budget)
    except Exception as e:  # noqa: BLE001 - every failure of the explainer is a finding
        return _Run(None, rec, e, budget)


def _default_budget(explainer: Explainer, n: int) -> int | None:
    try:
        return explainer.default_budget(n)
    except Exception:  # noqa: BLE001
        return None


def _scale(truth: Any) -> float:
    s = float(np.abs(truth.shapley).sum())
    return s if s > 0 else 1.0


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


class _Case:
    """One checked game, with the runs the checks share (computed on first use)."""

    def __init__(self, explainer: Explainer, game: PlantedCase) -> None:
        self.explainer = explainer
        self.game = game
        self.truth = game.truth
        self.scale = _scale(self.truth)

    @cached_property
    def main(self) -> _Run:
        return _explain(clone(self.explainer), self.game)

    @cached_property
    def game2(self) -> PlantedCase:
        task = self.game.task
        return PlantedCase(task, (self.game.instance + 1) % task.n_instances)


@dataclass
class _Outcome:
    status: str  # "pass", "fail", "n/a"
    value: float = float("nan")
    detail: str = ""


_NA = _Outcome("n/a")


def _main_or_na(case: _Case) -> Explanation | None:
    return case.main.explanation


def _rel(value: float, scale: float) -> float:
    return float(value) / scale


def _axiom(case: _Case, t: float, name: str, detail: Callable[[Explanation], str]) -> _Outcome:
    from mxbench.validation import axioms

    e = _main_or_na(case)
    if e is None:
        return _NA
    rows = getattr(axioms, name)(e, case.truth)
    if not rows or not np.isfinite(rows[0]["value"]):
        return _NA
    value = _rel(rows[0]["value"], case.scale)
    if value <= t:
        return _Outcome("pass", value)
    return _Outcome("fail", value, detail(e) + f"\n  violation = {_fmt(rows[0]['value'])} = {_fmt(value)} x scale "
                    f"{_fmt(case.scale)} > threshold {t:g} x scale")


def _check_efficiency(case: _Case, t: float) -> _Outcome:
    tr = case.truth
    return _axiom(case, t, "efficiency", lambda e: (
        f"  sum(attributions) = {_fmt(e.attributions.sum())}, but v(N) - v(∅) = {_fmt(tr.v_full)} - "
        f"{_fmt(tr.v_empty)} = {_fmt(tr.delta)}\n  attributions  = {_fmt_array(e.attributions)}\n"
        f"  exact Shapley = {_fmt_array(tr.shapley)}"))


def _check_symmetry(case: _Case, t: float) -> _Outcome:
    tr = case.truth

    def detail(e: Explanation) -> str:
        pairs = tr.symmetric_pairs()
        k = int(np.argmax(np.abs(e.attributions[pairs[:, 0]] - e.attributions[pairs[:, 1]])))
        i, j = pairs[k]
        names = tr.player_names
        return (f"  players {names[i]} and {names[j]} are symmetric in the game (exact Shapley "
                f"{_fmt(tr.shapley[i])}, {_fmt(tr.shapley[j])}), but got {names[i]}: {_fmt(e.attributions[i])}, "
                f"{names[j]}: {_fmt(e.attributions[j])}\n  attributions  = {_fmt_array(e.attributions)}")
    return _axiom(case, t, "symmetry", detail)


def _check_dummy(case: _Case, t: float) -> _Outcome:
    tr = case.truth

    def detail(e: Explanation) -> str:
        dummies = np.flatnonzero(~tr.active())
        k = int(dummies[np.argmax(np.abs(e.attributions[dummies]))])
        return (f"  player {tr.player_names[k]} is a dummy (it changes no coalition's value), but got "
                f"{_fmt(e.attributions[k])}\n  attributions  = {_fmt_array(e.attributions)}")
    return _axiom(case, t, "dummy", detail)


def _check_sii_symmetry(case: _Case, t: float) -> _Outcome:
    e = _main_or_na(case)
    if e is None:
        return _NA
    if not e.interactions:
        return _Outcome("fail", float("nan"), "  the explanation gives no pair interactions")
    tr = case.truth

    def detail(e: Explanation) -> str:
        m = e.interaction_matrix(fill=np.nan)
        worst, text = -1.0, ""
        for i, j in tr.symmetric_pairs():
            for k in range(tr.n_players):
                if k in (i, j) or not (np.isfinite(m[i, k]) and np.isfinite(m[j, k])):
                    continue
                d = abs(m[i, k] - m[j, k])
                if d > worst:
                    n = tr.player_names
                    worst, text = d, (f"  players {n[i]} and {n[j]} are symmetric, but I({n[i]}, {n[k]}) = "
                                      f"{_fmt(m[i, k])} and I({n[j]}, {n[k]}) = {_fmt(m[j, k])}")
        return text
    return _axiom(case, t, "sii_symmetry", detail)


def _check_linearity(case: _Case, t: float) -> _Outcome:
    from mxbench.validation import axioms

    e = _main_or_na(case)
    if e is None:
        return _NA
    g2 = case.game2
    explainer = clone(case.explainer)
    try:
        rows = axioms.linearity(e, case.truth, game=case.game, explainer=explainer, game2=g2)
    except Exception as err:  # noqa: BLE001
        return _Outcome("fail", float("nan"), f"  explaining w or v + w raised {_error_text(err)}")
    scale = case.scale + _scale(g2.truth)
    value = _rel(rows[0]["value"], scale)
    if value <= t:
        return _Outcome("pass", value)
    phi2 = clone(case.explainer).explain(g2).attributions  # for the message only
    return _Outcome("fail", value, (
        f"  w = the game of instance {g2.instance} of the same task; max_i |φ_i(v + w) - φ_i(v) - φ_i(w)| = "
        f"{_fmt(rows[0]['value'])} = {_fmt(value)} x scale {_fmt(scale)} > threshold {t:g} x scale\n"
        f"  φ(v) = {_fmt_array(e.attributions)}\n  φ(w) = {_fmt_array(phi2)}\n"
        f"  exact φ*(v) + φ*(w) = {_fmt_array(case.truth.shapley + g2.truth.shapley)}"))


def _check_interaction_sign(case: _Case, t: float) -> _Outcome:
    from mxbench.validation import recovery

    e = _main_or_na(case)
    if e is None:
        return _NA
    rows = recovery.pair_kind_accuracy(e, case.truth)
    if not rows:
        return _Outcome("fail", float("nan"), "  the explanation gives no pair interactions")
    value = rows[0]["value"]
    if not np.isfinite(value):
        return _NA
    if value >= t:
        return _Outcome("pass", value)
    tr = case.truth
    lines = []
    for _, p in recovery.identifiable_pairs(tr).iterrows():
        i, j = int(p["i"]), int(p["j"])
        got = (e.interactions or {}).get((i, j))
        n = tr.player_names
        shown = "missing" if got is None else _fmt(got)
        lines.append(f"  planted {p['kind']} pair ({n[i]}, {n[j]}): exact SII = {_fmt(p['sii'])}, joint credit "
                     f"φ*_i + φ*_j = {_fmt(tr.shapley[i] + tr.shapley[j])}; explanation: interaction = {shown}, "
                     f"φ_i + φ_j = {_fmt(e.attributions[i] + e.attributions[j])}")
    return _Outcome("fail", value, f"  pair kinds read right: {_fmt(value)} < threshold {t:g}\n" + "\n".join(lines))


def _check_budget(case: _Case, t: Any) -> _Outcome:
    runs = [case.main]
    explainer = case.explainer
    n = case.game.n_players
    try:
        low = min_budget_of(explainer, n, case.game.modality_of)
    except Exception:  # noqa: BLE001 - no usable minimum: nothing more to try
        low = None
    if low is not None and low != case.main.budget and low <= 2 ** min(n, 62):
        runs.append(_explain(clone(explainer, budget=low), case.game))
    problems, worst = [], 0.0
    for run in runs:
        where = f"budget={run.budget}" + (" (min_budget(n))" if run is not case.main else "")
        if isinstance(run.error, BudgetExceeded):
            problems.append(f"  with {where}: explain raised {_error_text(run.error)}")
            worst = max(worst, float("inf"))
            continue
        if run.error is not None:
            if run is not case.main:
                problems.append(f"  with {where}: explain raised {_error_text(run.error)} (min_budget(n) should work)")
            continue
        seen = run.recorder.distinct
        if run.budget is not None:
            worst = max(worst, seen / max(run.budget, 1))
            if seen > run.budget:
                problems.append(f"  with {where}: the game saw {seen} distinct coalitions, more than the budget")
        if run.explanation.n_queries != seen:
            problems.append(f"  with {where}: the explanation reports n_queries = {run.explanation.n_queries}, "
                            f"but the game saw {seen} distinct coalitions")
    if problems:
        return _Outcome("fail", worst, "\n".join(problems))
    if all(r.error is not None for r in runs):
        return _NA
    return _Outcome("pass", worst)


def _same(a: Explanation, b: Explanation, scale: float) -> tuple[float, str]:
    """The largest relative difference between two explanations, and a description of it."""
    def gap(x: np.ndarray, y: np.ndarray) -> float:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape:
            return float("inf")
        both_nan = np.isnan(x) & np.isnan(y)
        d = np.where(both_nan, 0.0, np.abs(x - y))
        return float(np.nan_to_num(d, nan=np.inf).max(initial=0.0))
    parts = {"attributions": gap(a.attributions, b.attributions), "modality": gap(a.modality, b.modality)}
    ia, ib = a.interactions or {}, b.interactions or {}
    if set(ia) != set(ib):
        parts["interactions"] = float("inf")
    elif ia:
        keys = sorted(ia)
        parts["interactions"] = gap(np.array([ia[k] for k in keys]), np.array([ib[k] for k in keys]))
    worst = max(parts, key=parts.get)
    value = parts[worst] / scale
    if a.n_queries != b.n_queries:
        return max(value, float("inf")), f"  n_queries differ: {a.n_queries} and {b.n_queries}"
    text = (f"  {worst} differ by up to {_fmt(parts[worst])}\n  run 1: {_fmt_array(a.attributions)}\n"
            f"  run 2: {_fmt_array(b.attributions)}")
    return value, text


def _check_determinism(case: _Case, t: float) -> _Outcome:
    if case.main.explanation is None:
        return _NA
    seed = case.explainer.random_state
    if seed is None:  # the configured run is random on purpose: compare two seeded copies instead
        seed = 0
        first = _explain(clone(case.explainer, random_state=0), case.game)
    else:
        first = case.main
    second = _explain(clone(case.explainer, random_state=copy.deepcopy(seed)), case.game)
    if first.error is not None or second.error is not None:
        err = first.error or second.error
        return _Outcome("fail", float("inf"), f"  a second run with the same random_state raised {_error_text(err)}")
    value, text = _same(first.explanation, second.explanation, case.scale)
    if value <= t:
        return _Outcome("pass", value)
    return _Outcome("fail", value, f"  two fresh copies with random_state={seed!r} explain the game differently:\n"
                    + text + f"\n  largest difference = {_fmt(value)} x scale > threshold {t:g} x scale")


def _check_recovery(case: _Case, t: float, metric: str) -> _Outcome:
    from mxbench.validation import METRICS

    e = _main_or_na(case)
    if e is None:
        return _NA
    rows = [r for r in METRICS[metric](e, case.truth) if r["metric"] == metric]
    if not rows:
        return _Outcome("fail", float("nan"), f"  {metric} needs pair interactions; the explanation gives none")
    value = rows[0]["value"]
    if not np.isfinite(value):
        return _NA
    tr = case.truth
    material = [tr.player_names[i] for i in np.flatnonzero(tr.material())]
    detail = (f"  {metric} = {_fmt(value)} < threshold {t:g}; material players: {', '.join(material)}\n"
              f"  attributions  = {_fmt_array(e.attributions)}")
    return _Outcome("pass" if value >= t else "fail", value, detail)


def _check_explains(case: _Case, t: Any, budget_checked: bool = True) -> _Outcome:
    run = case.main
    if run.error is not None:
        if isinstance(run.error, BudgetExceeded) and budget_checked:
            return _NA
        return _Outcome("fail", float("nan"), f"  explain raised {_error_text(run.error)}")
    e = run.explanation
    tr = case.truth
    problems = []
    if not isinstance(e, Explanation):
        return _Outcome("fail", float("nan"), f"  explain returned {type(e).__name__}, not an Explanation")
    if e.attributions.shape != (tr.n_players,):
        problems.append(f"  {e.attributions.shape[0]} attributions for {tr.n_players} players")
    elif not np.all(np.isfinite(e.attributions)):
        problems.append(f"  non-finite attributions {_fmt_array(e.attributions)}")
    if not np.all(np.isfinite(e.modality)):
        problems.append(f"  non-finite modality contributions {_fmt_array(e.modality)}")
    bad = [k for k, v in (e.interactions or {}).items()
           if not (0 <= k[0] < k[1] < tr.n_players) or not math.isfinite(v)]
    if bad:
        problems.append(f"  bad interactions at pairs {bad[:3]}")
    return _Outcome("fail", float("nan"), "\n".join(problems)) if problems else _Outcome("pass", 0.0)


def _checker(claim: str) -> Callable[[_Case, Any], _Outcome]:
    base = _base(claim)
    if base == "recovery":
        metric = claim.split("@", 1)[1] if "@" in claim else DEFAULT_RECOVERY_METRIC
        return functools.partial(_check_recovery, metric=metric)
    return {"efficiency": _check_efficiency, "symmetry": _check_symmetry, "dummy": _check_dummy,
            "linearity": _check_linearity, "sii_symmetry": _check_sii_symmetry,
            "interaction_sign": _check_interaction_sign, "budget": _check_budget,
            "determinism": _check_determinism, "explains": _check_explains}[base]


# ---------------------------------------------------------------------- results
@dataclass
class CheckResult:
    """The verdict of one check over the games.

    Attributes
    ----------
    check : str
        The claim checked (``explains`` for the basic check).
    status : {"passed", "failed", "not applicable"}
        ``not applicable`` when no game had anything to check.
    threshold : float or None
        The threshold used.
    value : float
        The statistic compared with the threshold: the worst relative violation for the
        axioms and determinism, the lowest accuracy for ``interaction_sign``, the mean over the
        games for ``recovery``, the largest ``distinct coalitions / budget`` for ``budget``.
    games : int
        The games on which the check applied.
    failed_games : list of str
        The games on which it failed, smallest first.
    counterexample : str
        The smallest failing game and the numbers ("" when passed).

    Examples
    --------
    >>> r = CheckResult("efficiency", "failed", 1e-6, 0.5, 6, ["unique-3#0"], "...")
    >>> r.passed, r.line()
    (False, 'efficiency        failed          threshold 1e-06  value 0.5     games 6 (failed on 1)')
    """

    check: str
    status: str
    threshold: float | None
    value: float
    games: int
    failed_games: list[str] = field(default_factory=list)
    counterexample: str = ""

    @property
    def passed(self) -> bool:
        """False only when the check failed."""
        return self.status != "failed"

    def line(self) -> str:
        """One line: check, status, threshold, value, games."""
        thr = "-" if self.threshold is None else f"{self.threshold:g}"
        failed = f" (failed on {len(self.failed_games)})" if self.failed_games else ""
        return (f"{self.check:<17} {self.status:<15} threshold {thr:<6} value {_fmt(self.value):<7} "
                f"games {self.games}{failed}")


@dataclass
class CheckReport:
    """What :func:`check_explainer` found: one :class:`CheckResult` per check.

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> report = check_explainer(Exact(), claims=["efficiency", "dummy"])
    >>> report.passed, [r.check for r in report.results]
    (True, ['explains', 'efficiency', 'dummy'])
    >>> report.to_frame()[["check", "status"]].values.tolist()[1]
    ['efficiency', 'passed']
    """

    explainer: str
    results: list[CheckResult]

    @property
    def passed(self) -> bool:
        """Whether no check failed."""
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if not r.passed]

    def to_frame(self) -> pd.DataFrame:
        """One row per check: ``explainer, check, status, threshold, value, games, failed_games``."""
        return pd.DataFrame([{"explainer": self.explainer, "check": r.check, "status": r.status,
                              "threshold": r.threshold, "value": r.value, "games": r.games,
                              "failed_games": ", ".join(r.failed_games)} for r in self.results])

    def failure_message(self) -> str:
        """Every failed check with its smallest counterexample ("" when all passed)."""
        failed = self.failed
        if not failed:
            return ""
        head = (f"check_explainer({self.explainer}): {len(failed)} of {len(self.results)} checks failed: "
                f"{', '.join(r.check for r in failed)}")
        blocks = []
        for r in failed:
            thr = "" if r.threshold is None else f", threshold {r.threshold:g}"
            blocks.append(f"[{r.check}] failed on {len(r.failed_games)} of {r.games} games "
                          f"({', '.join(r.failed_games)}){thr}; smallest counterexample:\n{r.counterexample}")
        return head + "\n\n" + "\n\n".join(blocks)

    def __str__(self) -> str:
        lines = [f"check_explainer({self.explainer}): {'passed' if self.passed else 'FAILED'}"]
        lines += ["  " + r.line() for r in self.results]
        return "\n".join(lines)


def _label(explainer: Explainer) -> str:
    """``ClassName(parameters)``: those that differ from their defaults, as scikit-learn names estimators
    in test ids, and a leading string parameter (an adapter's method) always.

    Examples
    --------
    >>> from mxbench.explainers import KernelSHAP
    >>> from mxbench.explainers.adapters import CaptumExplainer
    >>> _label(KernelSHAP(budget=64)), _label(CaptumExplainer(budget=8))
    ('KernelSHAP(budget=64)', "CaptumExplainer(method='ShapleyValueSampling', budget=8)")
    """
    import inspect

    sig = inspect.signature(type(explainer).__init__)
    changed = []
    for k, (name, v) in enumerate(explainer.get_params().items()):
        default = sig.parameters[name].default
        try:
            same = bool(v == default)
        except Exception:  # noqa: BLE001
            same = False
        if not same or (k == 0 and isinstance(v, str)):
            changed.append(f"{name}={v!r}")
    return f"{type(explainer).__name__}({', '.join(changed)})"


def _as_cases(explainer: Explainer, games: Sequence[Any] | None) -> list[_Case]:
    if games is None:
        chosen = check_games()
    else:
        chosen = []
        for k, g in enumerate(games):
            if isinstance(g, PlantedCase):
                chosen.append(g)
            elif isinstance(g, PlantedGame):
                chosen.append(PlantedCase(g.task, g.instance))
            elif isinstance(g, Task):
                chosen.append(PlantedCase(g, 0))
            else:
                raise ClaimError(f"games[{k}]: expected a planted game (task.game(i)) or a Task, "
                                 f"got {type(g).__name__}")
        if not chosen:
            raise ClaimError("games: expected at least one game, got none")
        chosen.sort(key=lambda g: (g.n_players, len(g.task.terms)))
    return [_Case(explainer, g) for g in chosen]


def _run_check(claim: str, threshold: Any, cases: list[_Case], budget_checked: bool) -> CheckResult:
    fn = _checker(claim)
    if claim == "explains":
        fn = functools.partial(fn, budget_checked=budget_checked)
    outcomes = [(c, fn(c, threshold)) for c in cases]
    applied = [(c, o) for c, o in outcomes if o.status != "n/a"]
    failed = [(c, o) for c, o in applied if o.status == "fail"]
    values = np.array([o.value for _, o in applied], dtype=np.float64)
    base = _base(claim)
    finite = values[np.isfinite(values)]
    if base == "recovery":
        value = float(finite.mean()) if finite.size else float("nan")
        passed = finite.size == values.size and value >= threshold
        failed = failed if not passed else []
    else:
        if values.size and np.isnan(values).any():
            value = float("nan")
        elif base == "interaction_sign":
            value = float(values.min()) if values.size else float("nan")
        else:
            value = float(values.max()) if values.size else float("nan")
        passed = not failed
    if not applied:
        return CheckResult(claim, "not applicable", threshold, float("nan"), 0)
    if passed:
        return CheckResult(claim, "passed", threshold, value, len(applied))
    if base == "recovery" and not failed:  # the mean fails: the games below threshold are the counterexamples
        failed = [(c, o) for c, o in applied if not o.value >= threshold]
    smallest, outcome = failed[0]
    text = smallest.game.describe() + "\n" + outcome.detail
    if base == "recovery":
        text = f"  mean {claim.split('@')[-1] if '@' in claim else DEFAULT_RECOVERY_METRIC} over {len(applied)} " \
               f"games = {_fmt(value)} < threshold {threshold:g}\n" + text
    return CheckResult(claim, "failed", threshold, value, len(applied), [c.game.name for c, _ in failed], text)


def check_explainer(explainer: Any, *, claims: Any = None, games: Sequence[Any] | None = None,
                    raise_on_failure: bool = True) -> CheckReport:
    """Check an explainer's claims on small planted games with exact truth.

    The explainer runs on each game of :func:`check_games` (or ``games``), smallest first;
    each claim becomes one check (see the module docstring for what each checks and how its
    threshold reads); a failed check records its smallest counterexample. Deterministic: the
    games are fixed and every run of the explainer is a fresh copy
    (:func:`clone`) with its own ``random_state``.

    Parameters
    ----------
    explainer : Explainer
        A black-box mxbench explainer instance (``explain(game) -> Explanation``): one of
        mxbench's, an adapter (:mod:`mxbench.explainers.adapters`) or your own subclass.
    claims : None, "all", iterable of str, or dict
        What to check (see :func:`resolve_claims`); default: what the explainer declares
        (:func:`default_claims`).
    games : sequence of planted games or tasks, optional
        The games to run on (``task.game(i)``, :class:`PlantedCase`, or a Task: its instance 0);
        default :func:`check_games`.
    raise_on_failure : bool
        Raise one AssertionError listing every failed check (default); else return the report.

    Returns
    -------
    CheckReport

    Raises
    ------
    ClaimError
        Before anything runs: ``explainer`` is not an explainer instance, a claim is unknown or
        unsupported, or a threshold is outside ``[0, 1]``.
    AssertionError
        Some check failed (``raise_on_failure=True``); the message names each failed check,
        its smallest counterexample game (spec, terms, latents) and the numbers.

    Examples
    --------
    >>> from mxbench.explainers import Exact, KernelSHAP
    >>> report = check_explainer(Exact(), claims=["efficiency", "symmetry", "budget"])
    >>> print(report.results[2].line())
    symmetry          passed          threshold 1e-06  value 0       games 6
    >>> try:
    ...     check_explainer(KernelSHAP(budget=16), claims={"symmetry": 0.01})
    ... except AssertionError as e:
    ...     print(str(e).splitlines()[0])
    check_explainer(KernelSHAP(budget=16)): 1 of 2 checks failed: symmetry
    """
    resolved = resolve_claims(explainer, claims)
    cases = _as_cases(explainer, games)
    results = [_run_check(c, t, cases, "budget" in resolved) for c, t in [("explains", None), *resolved.items()]]
    report = CheckReport(_label(explainer), results)
    if raise_on_failure and not report.passed:
        raise AssertionError(report.failure_message())
    return report


def _single_check(explainer: Explainer, *, claim: str, threshold: Any, budget_checked: bool) -> CheckResult:
    """Run one check of :func:`parametrize_with_checks`; raise AssertionError when it fails."""
    result = _run_check(claim, threshold, _as_cases(explainer, None), budget_checked)
    if not result.passed:
        raise AssertionError(CheckReport(_label(explainer), [result]).failure_message())
    return result


def parametrize_with_checks(explainers: Iterable[Any], *, claims: Any = None) -> Any:
    """A pytest parametrize decorator: one test case per explainer and check (like scikit-learn's).

    Parameters
    ----------
    explainers : iterable of Explainer or (Explainer, claims) pairs
        The explainers to check; a pair gives that explainer its own claims.
    claims : optional
        The claims of every explainer given alone (see :func:`resolve_claims`).

    Returns
    -------
    pytest.mark.parametrize
        Over ``("explainer", "check")``; the test body calls ``check(explainer)``, which raises
        an AssertionError naming the check, the game and the numbers when it fails. Test ids
        are ``<explainer>-<check>``.

    Raises
    ------
    ClaimError
        At collection: an item is not an explainer, or its claims are bad.

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> mark = parametrize_with_checks([Exact()], claims=["efficiency", "dummy"])
    >>> mark.args[0], [p.id for p in mark.args[1]]
    ('explainer, check', ['Exact()-explains', 'Exact()-efficiency', 'Exact()-dummy'])

    In a test file::

        @parametrize_with_checks([MyExplainer(budget=64)], claims=["efficiency", "budget"])
        def test_my_explainer(explainer, check):
            check(explainer)
    """
    import pytest

    params = []
    for item in explainers:
        explainer, own = item if isinstance(item, tuple) else (item, claims)
        resolved = resolve_claims(explainer, own)
        label = _label(explainer)
        for claim, threshold in [("explains", None), *resolved.items()]:
            check = functools.partial(_single_check, claim=claim, threshold=threshold,
                                      budget_checked="budget" in resolved)
            params.append(pytest.param(explainer, check, id=f"{label}-{claim}"))
    return pytest.mark.parametrize("explainer, check", params)
