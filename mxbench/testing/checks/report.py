"""The verdicts: one ``CheckResult`` per check with its smallest counterexample, and the ``CheckReport``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mxbench.explainers.base import Explainer
from mxbench.testing.checks.claims import DEFAULT_RECOVERY_METRIC, _base
from mxbench.testing.checks.running import _Case, _Outcome
from mxbench.testing.checks.text import _fmt


@dataclass
class CheckResult:
    """The verdict of one check over the games.

    Attributes
    ----------
    check : str
        The claim checked (``explains`` for the basic check).
    status : {"passed", "failed", "not applicable"}
        ``not applicable`` when the claim does not apply to the explainer (pair claims on an
        explainer that gives no pairs, under ``claims="all"``; ``budget`` or ``determinism``
        without that parameter) or no game had anything to check; ``reason`` says which. Not a
        failure: :attr:`passed` is True, and :func:`~mxbench.testing.checks.parametrize_with_checks`
        skips the test case with the reason.
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
    reason : str
        Why the check is not applicable ("" otherwise).

    Examples
    --------
    >>> r = CheckResult("efficiency", "failed", 1e-6, 0.5, 6, ["unique-3#0"], "...")
    >>> r.passed, r.line()
    (False, 'efficiency        failed          threshold 1e-06  value 0.5     games 6 (failed on 1)')
    >>> r = CheckResult("sii_symmetry", "not applicable", 1e-6, float("nan"), 0,
    ...                 reason="the explanation gives no pair interactions")
    >>> r.passed, r.line()[-45:]
    (True, ' - the explanation gives no pair interactions')
    """

    check: str
    status: str
    threshold: float | None
    value: float
    games: int
    failed_games: list[str] = field(default_factory=list)
    counterexample: str = ""
    reason: str = ""

    @property
    def passed(self) -> bool:
        """False only when the check failed."""
        return self.status != "failed"

    def line(self) -> str:
        """One line: check, status, threshold, value, games."""
        thr = "-" if self.threshold is None else f"{self.threshold:g}"
        failed = f" (failed on {len(self.failed_games)})" if self.failed_games else ""
        why = f" - {self.reason}" if self.status == "not applicable" and self.reason else ""
        return (f"{self.check:<17} {self.status:<15} threshold {thr:<6} value {_fmt(self.value):<7} "
                f"games {self.games}{failed}{why}")


@dataclass
class CheckReport:
    """What :func:`~mxbench.testing.checks.check_explainer` found: one :class:`CheckResult` per check.

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> from mxbench.testing import check_explainer
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
        """One row per check: ``explainer, check, status, threshold, value, games, failed_games, reason``."""
        return pd.DataFrame([{"explainer": self.explainer, "check": r.check, "status": r.status,
                              "threshold": r.threshold, "value": r.value, "games": r.games,
                              "failed_games": ", ".join(r.failed_games), "reason": r.reason} for r in self.results])

    @property
    def not_applicable(self) -> list[CheckResult]:
        """The checks that did not apply, each with its ``reason``."""
        return [r for r in self.results if r.status == "not applicable"]

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
            changed.append(f"{name}={_short(v)}")
    return f"{type(explainer).__name__}({', '.join(changed)})"


def _short(value: Any) -> str:
    """A parameter as a label shows it: a function or class by its name, an object without a repr of
    its own by its class, never a memory address (labels are test ids, the same in every process).

    Examples
    --------
    >>> _short(np.mean), _short(3), _short(object())
    ('mean', '3', 'object(...)')
    """
    import inspect

    if isinstance(value, type) or inspect.isroutine(value):
        return str(getattr(value, "__qualname__", getattr(value, "__name__", type(value).__name__)))
    text = repr(value)
    return f"{type(value).__name__}(...)" if " at 0x" in text else text


def _na_reason(outcomes: list[tuple[_Case, _Outcome]]) -> str:
    """Why a check applied on no game: the reason its outcomes give, else what the games lacked."""
    reasons = list(dict.fromkeys(o.detail.strip() for _, o in outcomes if o.detail.strip()))
    if reasons:
        return "; ".join(reasons)
    if outcomes and all(c.main.error is not None for c, _ in outcomes):
        return "explain failed on every game (see the explains check)"
    return "no game had anything to check"


def _verdict(claim: str, threshold: Any, outcomes: list[tuple[_Case, _Outcome]]) -> CheckResult:
    """Judge one check from its outcome on each game; a failure keeps its smallest counterexample."""
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
        return CheckResult(claim, "not applicable", threshold, float("nan"), 0, reason=_na_reason(outcomes))
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
