"""Claims: their names and default thresholds, and the validation of what an explainer claims."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Mapping

from mxbench.errors import ExplainerError
from mxbench.explainers.base import Explainer, clone


#: The claims :func:`~mxbench.testing.checks.check_explainer` can check, in report order.
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


class ClaimError(ExplainerError):
    """Bad input to :func:`check_explainer`: not an explainer, an unknown or unsupported claim, a bad threshold.

    Examples
    --------
    >>> from mxbench.explainers import Exact
    >>> from mxbench.testing import check_explainer
    >>> try:
    ...     check_explainer(Exact(), claims={"recovery": 1.5})
    ... except ClaimError as e:
    ...     print(e)
    claims['recovery']: a threshold must be a number in [0, 1] (or True for the default), got 1.5
    """


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
