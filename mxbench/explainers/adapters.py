"""Adapters: shap, shapiq and captum explainers as mxbench explainers (the optional ``adapters`` extra).

Each adapter is an :class:`~mxbench.explainers.base.Explainer`: it explains any game, sees it
through the :class:`~mxbench.explainers.base.BudgetedGame` (memoised, counted, capped at the
budget) and returns an :class:`~mxbench.explainers.base.Explanation`, so the library's method
goes through the same validators (:mod:`mxbench.validation`) and checks
(:func:`mxbench.testing.check_explainer`) as mxbench's own explainers.

How a game becomes each library's input (one masking rule, the game's own):

- **shap** works on feature matrices: the background is the all-absent row (zeros), the explained
  row is the all-present row (ones), and the model is the game on boolean masks,
  ``f(X) = v(X > 0.5)``; shap's masker puts 1 for a present and 0 for an absent feature.
- **shapiq** approximators and explainers take the game directly (a function of coalitions).
- **captum** perturbation methods run on a boolean input: input = ones, baselines = zeros,
  ``feature_mask`` = one feature per player, forward = the game; its gradient method
  (integrated gradients) runs on the game's multilinear extension (see :class:`CaptumExplainer`).

The packages are imported only when an adapter explains; without them ``explain`` raises
:class:`MissingDependencyError` (an :class:`ImportError`) naming the package and the extra
(``pip install "mxbench[adapters]"``). Randomness is seeded from ``random_state``; shap and
captum draw from numpy's and torch's global generators, so the adapters seed those and put
their state back afterwards.

Which claims each adapter declares (read by :func:`~mxbench.testing.check_explainer`):
``efficiency`` where the method guarantees it, the Shapley axioms and recovery for the exact
methods; ``budget`` and ``determinism`` for all.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any, Iterator, Mapping

import numpy as np

from mxbench.errors import ExplainerError
from mxbench.explainers.base import BudgetedGame, Explainer, MissingDependencyError, require_package
from mxbench.explainers.params import check_bool, check_choice, check_int

__all__ = ["MissingDependencyError", "ShapExplainer", "ShapiqApproximator", "ShapiqExplainer", "CaptumExplainer",
           "ADAPTERS", "LIBRARIES", "make_adapter"]

def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


@contextlib.contextmanager
def _numpy_global_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global generator (shap draws from it) and restore its state afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _coalition_fn(game: BudgetedGame):
    """The game as a function of coalitions of any shape ``(B, n)`` or ``(n,)`` (shapiq passes both)."""
    n = game.n_players

    def fn(coalitions: Any) -> np.ndarray:
        return game(np.asarray(coalitions, dtype=bool).reshape(-1, n))
    return fn


def _matrix_fn(game: BudgetedGame):
    """The game as a model of feature rows: a feature is present where it is 1 (explained row), absent at 0."""
    n = game.n_players

    def fn(X: Any) -> np.ndarray:
        return game(np.asarray(X, dtype=np.float64).reshape(-1, n) > 0.5)
    return fn


def _pairs_dict(matrix: np.ndarray) -> dict[tuple[int, int], float]:
    i, j = np.triu_indices(matrix.shape[0], 1)
    return {(int(a), int(b)): float(matrix[a, b]) for a, b in zip(i, j)}


# ---------------------------------------------------------------------- shap
SHAP_METHODS = ("KernelExplainer", "PermutationExplainer", "ExactExplainer")


class ShapExplainer(Explainer):
    """shap's ``KernelExplainer``, ``PermutationExplainer`` or ``ExactExplainer`` on the game.

    shap explains the all-present row ``x = 1`` against the all-absent background row ``0``
    with the model ``f(X) = v(X > 0.5)``, so shap's values are the game's Shapley values (exact
    for ``ExactExplainer``, estimated otherwise). Budgets map to shap's arguments:

    - ``KernelExplainer``: ``nsamples = min(budget, 2^n) - 2`` (shap adds ``f(x)`` and
      ``f(background)``); default budget shap's ``2n + 2048``; at least ``n + 1``. Efficient
      by construction (shap eliminates one variable of the regression).
    - ``PermutationExplainer``: ``max_evals = budget`` (rows shap evaluates, repeats included,
      so distinct coalitions stay below it); default shap's 500; at least ``2n + 1`` (one
      permutation forward and back). Efficient (the marginal contributions telescope).
    - ``ExactExplainer``: every coalition, budget ``2^n``. ``interactions=True`` also returns
      pair interactions, recorded as SII: shap's are its Shapley-Taylor interaction values (half
      on each side of the diagonal), which equal the SII on games of Möbius order <= 2 only (a
      3-player term ``m(T)`` gives each of its pairs ``m(T) / 3``, SII ``m(T) / 2``); its
      computation is slow beyond 6 players.

    Parameters
    ----------
    method : {"KernelExplainer", "PermutationExplainer", "ExactExplainer"}
        The shap explainer.
    budget : int, optional
        Distinct coalitions to evaluate (see above for the default).
    interactions : bool
        ``ExactExplainer`` only: also compute pair interactions.
    random_state : int, optional
        Seeds shap's sampling (shap draws from numpy's global generator; its state is restored).

    Examples
    --------
    >>> import numpy as np
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = ShapExplainer("ExactExplainer").explain(game, n_players=3)   # doctest: +SKIP
    >>> e.attributions.round(12).tolist(), e.n_queries                    # doctest: +SKIP
    ([1.0, 1.0, 1.0], 8)
    >>> ShapExplainer("KernelExplainer", budget=20).min_budget(5), ShapExplainer().name
    (6, 'shap:KernelExplainer')
    """

    def __init__(self, method: str = "KernelExplainer", budget: int | None = None, interactions: bool = False,
                 random_state: int | None = 0) -> None:
        self.method = method
        self.budget = budget
        self.interactions = interactions
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        """``shap:<method>``."""
        return f"shap:{self.method}"

    @property
    def target_index(self) -> str:  # type: ignore[override]
        """``"SII"`` with ``interactions`` (Shapley values and pairs that are SII on games of Möbius
        order <= 2, see above), else ``"SV"``."""
        return "SII" if self.interactions else "SV"

    efficient = True

    @property
    def claims(self) -> dict[str, bool]:
        """What the method guarantees beyond efficiency (read by ``check_explainer``)."""
        if self.method != "ExactExplainer":
            return {}
        out = {"symmetry": True, "dummy": True, "linearity": True, "recovery": True}
        if self.interactions:
            out.update({"sii_symmetry": True, "interaction_sign": True})
        return out

    def default_budget(self, n_players: int) -> int | None:
        if self.method == "KernelExplainer":
            return min(2 * n_players + 2048, 2**n_players)
        if self.method == "PermutationExplainer":
            return 500
        return None

    def min_budget(self, n_players: int) -> int:
        method = check_choice("method", self.method, SHAP_METHODS)
        if method == "KernelExplainer":
            return min(n_players + 1, 2**n_players)
        if method == "PermutationExplainer":
            return 2 * n_players + 1
        return 2**n_players

    def _check_params(self, game: Any) -> None:
        check_choice("method", self.method, SHAP_METHODS)
        check_bool("interactions", self.interactions)
        if self.interactions and self.method != "ExactExplainer":
            raise ExplainerError(f"interactions: only ExactExplainer gives interactions, got method={self.method!r}")
        require_package("shap", "the ShapExplainer adapter")

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        import warnings

        shap = require_package("shap", "the ShapExplainer adapter")
        n = game.n_players
        f = _matrix_fn(game)
        background, x = np.zeros((1, n)), np.ones((1, n))
        out: dict[str, Any] = {}
        with _numpy_global_seed(_seed(rng)), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.method == "KernelExplainer":
                nsamples = max(1, min(game.remaining if game.remaining is not None else 2**n, 2**n) - 2)
                values = shap.KernelExplainer(f, background).shap_values(x, nsamples=nsamples, silent=True)
                out["attributions"] = np.asarray(values, dtype=np.float64).reshape(n)
            elif self.method == "PermutationExplainer":
                masker = shap.maskers.Independent(background, max_samples=1)
                budget = game.remaining if game.remaining is not None else 500
                explainer = shap.PermutationExplainer(f, masker, seed=_seed(rng))
                out["attributions"] = np.asarray(explainer(x, max_evals=budget, silent=True).values,
                                                 dtype=np.float64).reshape(n)
            else:
                masker = shap.maskers.Independent(background, max_samples=1)
                result = shap.ExactExplainer(f, masker)(x, interactions=2 if self.interactions else 1, silent=True)
                values = np.asarray(result.values, dtype=np.float64)[0]
                if self.interactions:
                    out["attributions"] = values.sum(axis=1)
                    out["interactions"] = _pairs_dict(2.0 * values)
                    out["extras"] = {"interaction_index": "SII"}
                else:
                    out["attributions"] = values.reshape(n)
        return out


# ---------------------------------------------------------------------- shapiq
#: shapiq approximators whose order-1 values sum to ``v(N) - v(∅)`` (SV and SII indices).
SHAPIQ_EFFICIENT = ("ExactComputer", "KernelSHAP", "kADDSHAP", "PermutationSamplingSV", "KernelSHAPIQ",
                    "InconsistentKernelSHAPIQ", "UnbiasedKernelSHAP", "SHAPIQ")
_ORDER_ONE = ("SV", "BV")


def _shapiq_output(iv: Any, n: int, index: str, max_order: int) -> dict[str, Any]:
    out: dict[str, Any] = {"attributions": np.asarray(iv.get_n_order_values(1), dtype=np.float64).reshape(n),
                           "extras": {"interaction_index": index, "estimated": bool(getattr(iv, "estimated", True)),
                                      "baseline_value": float(getattr(iv, "baseline_value", np.nan))}}
    if max_order >= 2 and n >= 2:
        out["interactions"] = _pairs_dict(np.asarray(iv.get_n_order_values(2), dtype=np.float64))
    return out


class ShapiqApproximator(Explainer):
    """A shapiq approximator (or ``ExactComputer``) on the game; interaction indices give pair interactions.

    Attributions are the order-1 values of ``index`` (the Shapley value for ``SV`` and
    ``SII``), ``interactions`` the order-2 values (``max_order >= 2``), and
    ``extras["interaction_index"]`` names the index. The approximator gets
    ``budget`` (capped at ``2^n``; shapiq never goes past it); ``ExactComputer`` evaluates all
    ``2^n`` coalitions. The smallest budget covers one iteration of the approximator's sampling
    scheme (its ``iteration_cost``; below it shapiq would return zeros).

    Parameters
    ----------
    approximator : str
        A class name of ``shapiq.approximator`` (``KernelSHAP``, ``PermutationSamplingSV``,
        ``SVARM``, ``KernelSHAPIQ``, ``PermutationSamplingSII``, ``SHAPIQ``, ``SVARMIQ``,
        ``RegressionFSII``, ...) or ``"ExactComputer"``.
    index : str, optional
        shapiq's index (``SV``, ``SII``, ``k-SII``, ``FSII``, ``STII``, ``BV``, ...); default
        ``SV`` for Shapley-value approximators, else ``SII`` where the approximator computes it,
        else its own index (``RegressionFSII``: ``FSII``). ``k-SII`` and ``FSII`` order-1 values
        are not Shapley values.
    max_order : int, optional
        Default 1 for ``SV``/``BV``, else 2.
    budget : int, optional
        Distinct coalitions; default ``min(2n + 2048, 2^n)``.
    random_state : int, optional
        Seeds the approximator.

    Examples
    --------
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = ShapiqApproximator("ExactComputer", index="SII").explain(game, n_players=3)
    >>> e.attributions.round(9).tolist(), round(e.interactions[(0, 1)], 9), e.n_queries
    ([1.0, 1.0, 1.0], 2.0, 8)
    >>> e = ShapiqApproximator("KernelSHAP", budget=8).explain(game, n_players=3)
    >>> e.attributions.round(6).tolist(), e.explainer
    ([1.0, 1.0, 1.0], 'shapiq:KernelSHAP')
    """

    def __init__(self, approximator: str = "KernelSHAP", index: str | None = None, max_order: int | None = None,
                 budget: int | None = None, random_state: int | None = 0) -> None:
        self.approximator = approximator
        self.index = index
        self.max_order = max_order
        self.budget = budget
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        """``shapiq:<approximator>``."""
        return f"shapiq:{self.approximator}"

    @property
    def target_index(self) -> str:  # type: ignore[override]
        """shapiq's index of the values: ``index``, or the approximator's default (see ``index``)."""
        return self._index()

    def _index(self) -> str:
        if self.index is not None:
            return self.index
        if self.approximator == "ExactComputer":
            return "SV"
        try:
            approximators = importlib.import_module("shapiq.approximator")
        except ImportError:
            return "SV"
        cls = getattr(approximators, str(self.approximator), None)
        valid = tuple(getattr(cls, "valid_indices", ("SV",)))
        if cls in getattr(approximators, "SV_APPROXIMATORS", ()):
            return "SV"
        return "SII" if "SII" in valid else valid[0]

    def _order(self) -> int:
        if self.max_order is not None:
            return self.max_order
        return 1 if self._index() in _ORDER_ONE else 2

    @property
    def efficient(self) -> bool:  # type: ignore[override]
        """True for the approximators of :data:`SHAPIQ_EFFICIENT` with index ``SV`` or ``SII``."""
        return self.approximator in SHAPIQ_EFFICIENT and self._index() in ("SV", "SII")

    @property
    def claims(self) -> dict[str, bool]:
        """``ExactComputer`` with ``SV``/``SII``: the Shapley axioms and recovery (read by ``check_explainer``)."""
        if self.approximator != "ExactComputer" or self._index() not in ("SV", "SII"):
            return {}
        out = {"symmetry": True, "dummy": True, "linearity": True, "recovery": True}
        if self._order() >= 2:
            out.update({"sii_symmetry": True, "interaction_sign": True})
        return out

    def default_budget(self, n_players: int) -> int | None:
        return None if self.approximator == "ExactComputer" else min(2 * n_players + 2048, 2**n_players)

    def min_budget(self, n_players: int) -> int:
        """``2^n`` for ``ExactComputer``; else ``v(∅)``, ``v(N)`` and one iteration of the approximator.

        Examples
        --------
        >>> ShapiqApproximator("PermutationSamplingSV").min_budget(8), ShapiqApproximator("KernelSHAP").min_budget(8)
        (9, 3)
        """
        if self.approximator == "ExactComputer":
            return 2**n_players
        cost = int(getattr(self._build(n_players, 0), "iteration_cost", 0) or 0)
        return min(2 + cost, 2**n_players)

    def _build(self, n: int, seed: int) -> Any:
        shapiq = require_package("shapiq", "the ShapiqApproximator adapter")
        if not isinstance(self.approximator, str):
            raise ExplainerError(f"approximator: expected a shapiq approximator name, got {self.approximator!r}")
        order = check_int("max_order", self._order(), expected="a positive integer")
        if self.approximator == "ExactComputer":
            return None
        approximators = importlib.import_module("shapiq.approximator")
        cls = getattr(approximators, self.approximator, None)
        base = getattr(approximators, "Approximator")
        if not (isinstance(cls, type) and issubclass(cls, base)) or cls is base:
            names = sorted(k for k, v in vars(approximators).items()
                           if isinstance(v, type) and issubclass(v, base) and v is not base)
            raise ExplainerError(f"approximator: unknown shapiq approximator {self.approximator!r} "
                                 f"(choose from ExactComputer, {', '.join(names)})")
        import inspect

        params = inspect.signature(cls.__init__).parameters
        kwargs: dict[str, Any] = {"random_state": seed}
        if "index" in params:
            kwargs["index"] = self._index()
        elif self.index is not None and self.index not in getattr(cls, "valid_indices", ("SV",)):
            raise ExplainerError(f"index: {self.approximator} computes {', '.join(cls.valid_indices)} only, "
                                 f"got index={self.index!r}")
        if "max_order" in params:
            kwargs["max_order"] = order
        try:
            return cls(n=n, **kwargs) if "n" in params else cls(n, **kwargs)
        except (ValueError, TypeError) as e:
            raise ExplainerError(f"index: shapiq's {self.approximator} rejects index={self._index()!r}, "
                                 f"max_order={order} ({e})") from None

    def _check_params(self, game: Any) -> None:
        self._build(game.n_players, 0)

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        import warnings

        n = game.n_players
        fn = _coalition_fn(game)
        index, order = self._index(), self._order()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.approximator == "ExactComputer":
                shapiq = require_package("shapiq", "the ShapiqApproximator adapter")
                iv = shapiq.ExactComputer(fn, n_players=n)(index, order=order)
            else:
                budget = min(game.remaining if game.remaining is not None else 2**n, 2**n)
                iv = self._build(n, _seed(rng)).approximate(budget=budget, game=fn)
        return _shapiq_output(iv, n, index, order)


SHAPIQ_EXPLAINERS = ("AgnosticExplainer", "TabularExplainer")


class ShapiqExplainer(Explainer):
    """shapiq's ``AgnosticExplainer`` (on the game) or ``TabularExplainer`` (on the feature matrix).

    ``AgnosticExplainer`` explains the game itself; ``TabularExplainer`` explains the model
    ``f(X) = v(X > 0.5)`` at the all-present row with the baseline imputer and the all-absent
    background row, as a tabular user would. Both pick shapiq's approximator for ``index`` and
    ``max_order`` (``approximator="auto"``) and spend ``budget`` coalitions. Attributions and
    interactions as for :class:`ShapiqApproximator`.

    Parameters
    ----------
    explainer : {"AgnosticExplainer", "TabularExplainer"}
        The shapiq explainer.
    index : str
        shapiq's index (default ``SII``).
    max_order : int
        Interaction order (default 2).
    approximator : str
        shapiq's ``approximator`` argument (``"auto"``, ``"regression"``, ``"permutation"``,
        ``"montecarlo"``, ``"svarm"``, ...).
    budget : int, optional
        Distinct coalitions; default ``min(2n + 2048, 2^n)``.
    random_state : int, optional
        Seeds shapiq.

    Examples
    --------
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = ShapiqExplainer(budget=8).explain(game, n_players=3)
    >>> e.attributions.round(6).tolist(), round(e.interactions[(0, 1)], 6), e.explainer
    ([1.0, 1.0, 1.0], 2.0, 'shapiq:AgnosticExplainer')
    """

    def __init__(self, explainer: str = "AgnosticExplainer", index: str = "SII", max_order: int = 2,
                 approximator: str = "auto", budget: int | None = None, random_state: int | None = 0) -> None:
        self.explainer = explainer
        self.index = index
        self.max_order = max_order
        self.approximator = approximator
        self.budget = budget
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        """``shapiq:<explainer>``."""
        return f"shapiq:{self.explainer}"

    @property
    def target_index(self) -> str:  # type: ignore[override]
        """shapiq's index of the values, ``index``."""
        return self.index

    @property
    def efficient(self) -> bool:  # type: ignore[override]
        """For ``SV`` and ``SII`` with an efficient approximator (``auto``: KernelSHAP / KernelSHAPIQ)."""
        return self.index in ("SV", "SII") and self.approximator in ("auto", "regression")

    def default_budget(self, n_players: int) -> int:
        return min(2 * n_players + 2048, 2**n_players)

    def min_budget(self, n_players: int) -> int:
        return min(2, 2**n_players)

    def _make(self, game: BudgetedGame, seed: int) -> Any:
        shapiq = require_package("shapiq", "the ShapiqExplainer adapter")
        kind = check_choice("explainer", self.explainer, SHAPIQ_EXPLAINERS)
        order = check_int("max_order", self.max_order, expected="a positive integer")
        n = game.n_players
        try:
            if kind == "AgnosticExplainer":
                return shapiq.AgnosticExplainer(_coalition_fn(game), n_players=n, index=self.index, max_order=order,
                                                approximator=self.approximator, random_state=seed)
            return shapiq.TabularExplainer(_matrix_fn(game), data=np.zeros((1, n)), imputer="baseline",
                                           index=self.index, max_order=order, approximator=self.approximator,
                                           random_state=seed)
        except (ValueError, TypeError) as e:
            raise ExplainerError(f"index, max_order, approximator: shapiq's {kind} rejects index={self.index!r}, "
                                 f"max_order={order}, approximator={self.approximator!r} ({e})") from None

    def _check_params(self, game: Any) -> None:
        require_package("shapiq", "the ShapiqExplainer adapter")
        check_choice("explainer", self.explainer, SHAPIQ_EXPLAINERS)
        check_int("max_order", self.max_order, expected="a positive integer")

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        import warnings

        n = game.n_players
        budget = min(game.remaining if game.remaining is not None else 2**n, 2**n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            explainer = self._make(game, _seed(rng))
            x = None if self.explainer == "AgnosticExplainer" else np.ones(n)
            iv = explainer.explain(x, budget=budget)
        return _shapiq_output(iv, n, self.index, self.max_order)


# ---------------------------------------------------------------------- captum
CAPTUM_METHODS = ("ShapleyValueSampling", "KernelShap", "Lime", "FeatureAblation", "IntegratedGradients")
#: The index each captum method estimates (:attr:`CaptumExplainer.target_index`).
CAPTUM_INDEX = {"ShapleyValueSampling": "SV", "KernelShap": "SV", "Lime": "LIME", "FeatureAblation": "LOO",
                "IntegratedGradients": "SV"}
#: The most players of the multilinear extension (it holds all 2^n values).
MAX_MULTILINEAR_PLAYERS = 16


class CaptumExplainer(Explainer):
    """A captum attribution method on the game, with one feature per player.

    Perturbation methods explain the input ``1`` (every player present) against baselines ``0``
    with ``feature_mask`` = one feature per player and the forward function ``v(x > 0.5)``;
    every perturbed batch goes to the game in one call. Budgets map to captum's arguments:

    - ``ShapleyValueSampling``: ``n_samples = (budget - 2) // (n - 1)`` permutations (each
      evaluates ``n`` prefixes, the full coalition shared); default captum's 25 permutations.
      Efficient (each permutation telescopes).
    - ``KernelShap``, ``Lime``: ``n_samples = budget`` sampled coalitions (captum's default
      25); captum's own kernels and interpretable models (Lime: lasso). Not efficient.
    - ``FeatureAblation``: ``v(N) - v(N without i)``, ``n + 1`` coalitions. Not efficient.
    - ``IntegratedGradients`` (the gradient method): on the game's **multilinear extension**
      ``F(x) = Σ_S v(S) Π_{i∈S} x_i Π_{i∉S} (1 - x_i)``, which needs all ``2^n`` values
      (``n <= 16``). Integrated gradients from 0 to 1 along the diagonal is then the Shapley
      value (Owen 1972); captum's Gauss-Legendre rule with ``n_steps >= n / 2`` integrates the
      degree ``n - 1`` integrand exactly, so the result is exact up to rounding.

    captum's ``FeaturePermutation`` shuffles features across a batch of instances and has no
    meaning for one game, and ``ShapleyValues`` enumerates all ``n!`` permutations (seconds at
    7 players): neither is adapted.

    Parameters
    ----------
    method : str
        One of ``ShapleyValueSampling``, ``KernelShap``, ``Lime``, ``FeatureAblation``,
        ``IntegratedGradients``.
    budget : int, optional
        Distinct coalitions (see above for each default).
    n_steps : int
        ``IntegratedGradients`` only: Gauss-Legendre nodes (captum's default 50).
    random_state : int, optional
        Seeds captum's sampling (torch's global generator, forked so its state is unchanged) and
        numpy's global generator (captum's Lime draws from it; its state is restored).

    Examples
    --------
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = CaptumExplainer("IntegratedGradients").explain(game, n_players=3)
    >>> e.attributions.round(6).tolist(), e.n_queries
    ([1.0, 1.0, 1.0], 8)
    >>> CaptumExplainer("FeatureAblation").explain(game, n_players=3).attributions.tolist()
    [2.0, 2.0, 1.0]
    """

    def __init__(self, method: str = "ShapleyValueSampling", budget: int | None = None, n_steps: int = 50,
                 random_state: int | None = 0) -> None:
        self.method = method
        self.budget = budget
        self.n_steps = n_steps
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        """``captum:<method>``."""
        return f"captum:{self.method}"

    @property
    def target_index(self) -> str | None:  # type: ignore[override]
        """``"SV"`` for the Shapley methods (``IntegratedGradients`` on the multilinear extension is
        exactly the Shapley value), ``"LIME"`` for ``Lime``, ``"LOO"`` (leave one out) for
        ``FeatureAblation``."""
        return CAPTUM_INDEX.get(self.method)

    @property
    def efficient(self) -> bool:  # type: ignore[override]
        """True for ``ShapleyValueSampling`` and ``IntegratedGradients``."""
        return self.method in ("ShapleyValueSampling", "IntegratedGradients")

    @property
    def claims(self) -> dict[str, bool]:
        """``IntegratedGradients`` (exact Shapley values): the Shapley axioms and recovery."""
        if self.method == "IntegratedGradients":
            return {"symmetry": True, "dummy": True, "linearity": True, "recovery": True}
        if self.method == "FeatureAblation":
            return {"dummy": True, "linearity": True}
        return {}

    def default_budget(self, n_players: int) -> int | None:
        if self.method == "ShapleyValueSampling":
            return 2 + 25 * max(n_players - 1, 1)
        if self.method in ("KernelShap", "Lime"):
            return 25
        return None

    def min_budget(self, n_players: int) -> int:
        method = check_choice("method", self.method, CAPTUM_METHODS)
        if method == "IntegratedGradients":
            return 2**n_players
        if method in ("ShapleyValueSampling", "FeatureAblation"):
            return n_players + 1
        return 2

    def _check_params(self, game: Any) -> None:
        check_choice("method", self.method, CAPTUM_METHODS)
        check_int("n_steps", self.n_steps, expected="a positive integer")
        if self.method == "IntegratedGradients" and game.n_players > MAX_MULTILINEAR_PLAYERS:
            raise ExplainerError(f"n_players: the multilinear extension holds 2^n values, at most "
                                 f"{MAX_MULTILINEAR_PLAYERS} players, got {game.n_players}")
        require_package("captum.attr", "the CaptumExplainer adapter")

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        import warnings

        torch = require_package("torch", "the CaptumExplainer adapter")
        attr = require_package("captum.attr", "the CaptumExplainer adapter")
        n = game.n_players
        x = torch.ones((1, n), dtype=torch.float64)
        base = torch.zeros((1, n), dtype=torch.float64)
        seed = _seed(rng)
        with torch.random.fork_rng(devices=[]), _numpy_global_seed(seed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.manual_seed(seed)
            if self.method == "IntegratedGradients":
                bits = ((np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
                values = torch.as_tensor(game(bits), dtype=torch.float64)
                mask = torch.as_tensor(bits)

                def extension(z: Any) -> Any:
                    weights = torch.where(mask[None], z[:, None, :], 1.0 - z[:, None, :]).prod(dim=-1)
                    return weights @ values

                a = attr.IntegratedGradients(extension).attribute(x, baselines=base, n_steps=int(self.n_steps),
                                                                  method="gausslegendre")
                return {"attributions": a.detach().numpy().reshape(n).astype(np.float64)}

            def forward(z: Any) -> Any:
                return torch.as_tensor(game(z.detach().numpy().reshape(-1, n) > 0.5), dtype=torch.float64)

            feature_mask = torch.arange(n).reshape(1, n)
            remaining = game.remaining if game.remaining is not None else self.default_budget(n)
            if self.method == "ShapleyValueSampling":
                k = max(1, (remaining - 2) // max(n - 1, 1))
                a = attr.ShapleyValueSampling(forward).attribute(x, baselines=base, feature_mask=feature_mask,
                                                                 n_samples=k, perturbations_per_eval=n)
            elif self.method == "FeatureAblation":
                a = attr.FeatureAblation(forward).attribute(x, baselines=base, feature_mask=feature_mask,
                                                            perturbations_per_eval=n)
            else:
                cls = attr.KernelShap if self.method == "KernelShap" else attr.Lime
                a = cls(forward).attribute(x, baselines=base, feature_mask=feature_mask, n_samples=int(remaining),
                                           perturbations_per_eval=int(remaining))
        return {"attributions": a.detach().numpy().reshape(n).astype(np.float64)}


# ---------------------------------------------------------------------- registry
#: The libraries whose names prefix an adapter name: ``shap:<explainer class>``,
#: ``shapiq:<approximator class>`` (or ``shapiq:<explainer class>``), ``captum:<attribution class>``.
#: A spec name with one of these prefixes names an adapter, never an import path.
LIBRARIES = ("shap", "shapiq", "captum")
#: ``"library:method"`` -> (adapter class, the parameter naming the method). ``shapiq:<name>`` also
#: takes any other approximator class of ``shapiq.approximator`` (:func:`make_adapter`).
ADAPTERS: dict[str, tuple[type, str]] = {
    **{f"shap:{m}": (ShapExplainer, "method") for m in SHAP_METHODS},
    "shapiq:ExactComputer": (ShapiqApproximator, "approximator"),
    **{f"shapiq:{m}": (ShapiqApproximator, "approximator") for m in (
        "KernelSHAP", "PermutationSamplingSV", "SVARM", "StratifiedSamplingSV", "OwenSamplingSV",
        "UnbiasedKernelSHAP", "kADDSHAP", "KernelSHAPIQ", "InconsistentKernelSHAPIQ", "PermutationSamplingSII",
        "SHAPIQ", "SVARMIQ", "RegressionFSII")},
    **{f"shapiq:{m}": (ShapiqExplainer, "explainer") for m in SHAPIQ_EXPLAINERS},
    **{f"captum:{m}": (CaptumExplainer, "method") for m in CAPTUM_METHODS},
}


def make_adapter(name: str, **params: Any) -> Explainer:
    """Build the adapter called ``"library:method"`` (a key of :data:`ADAPTERS`) with ``params``.

    ``shapiq:<Name>`` also builds a :class:`ShapiqApproximator` for any other approximator class
    ``Name`` of ``shapiq.approximator`` (checked there, so shapiq is imported for it).

    Raises
    ------
    ExplainerError
        No adapter has that name.

    Examples
    --------
    >>> make_adapter("captum:Lime", budget=64)
    CaptumExplainer(method='Lime', budget=64, n_steps=50, random_state=0)
    >>> make_adapter("shapiq:KernelSHAPIQ", index="k-SII").name
    'shapiq:KernelSHAPIQ'
    """
    lib, _, method = name.partition(":")
    if name not in ADAPTERS and lib == "shapiq" and method.isidentifier():  # another shapiq approximator
        approximators = require_package("shapiq.approximator", f"the adapter {name}")
        cls, base = getattr(approximators, method, None), getattr(approximators, "Approximator")
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base:
            return ShapiqApproximator(**{"approximator": method, **params})
    if name not in ADAPTERS:
        raise ExplainerError(f"adapter: unknown adapter {name!r} (choose from {', '.join(ADAPTERS)})")
    cls, key = ADAPTERS[name]
    return cls(**{key: name.split(":", 1)[1], **params})
