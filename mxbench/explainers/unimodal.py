"""Explanations computed one modality at a time: the baseline of the multimodal attribution gap.

Many multimodal pipelines explain each modality on its own, holding the other modalities at
their observed values. :class:`Unimodal` wraps any black-box explainer that way, so its output
can be set against the joint explanation of the same explainer: on a cross-modal synergy
``w·x_a·x_b`` the joint Shapley value splits the term between ``a`` and ``b``, while each
unimodal explanation credits its own player with the whole term (the partner is always
present), double counting it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from mxbench.errors import BudgetError, ExplainerError
from mxbench.explainers.base import BudgetedGame, Explainer, clone
from mxbench.games import FunctionGame


class Unimodal(Explainer):
    """Explain each modality separately, the other modalities held at their observed values.

    For modality ``m`` the explained game is ``v_m(S) = v(S ∪ (N ∖ N_m))`` over the players
    ``N_m`` of ``m``; ``base`` explains it with ``budget // M`` queries (its own default when
    ``budget`` is None). The attributions of all modalities are put side by side; a modality's
    contribution is the sum of its players' attributions.

    Parameters
    ----------
    base : str or Explainer
        The explainer to run per modality (a name from :data:`mxbench.explainers.EXPLAINERS`
        or an instance; its ``budget`` and ``random_state`` are replaced).
    budget : int, optional
        Total budget, split evenly across modalities.
    random_state : int, None, numpy Generator or RandomState
        Seeds the per-modality explainers: an integer gives modality ``k`` the seed
        ``random_state + k``; otherwise each draws its seed from this explanation's generator.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers import Exact
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1]            # a cross-modal synergy
    >>> joint = Exact().explain(game, n_players=2, modality_of=[0, 1])
    >>> uni = Unimodal("exact").explain(game, n_players=2, modality_of=[0, 1])
    >>> joint.attributions.tolist(), uni.attributions.tolist(), uni.explainer
    ([1.0, 1.0], [2.0, 2.0], 'unimodal-exact')
    """

    #: The base's values on each modality's own game (the other modalities present): not an index
    #: of the explained game, whatever the base estimates.
    target_index = "Unimodal"

    def __init__(self, base: str | Explainer = "kernelshap", budget: int | None = None,
                 random_state: int | None = 0) -> None:
        self.base = base
        self.budget = budget
        self.random_state = random_state

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"unimodal-{self._base_class().name}"

    def _base_class(self) -> type:
        from mxbench.explainers.registry import EXPLAINERS

        if isinstance(self.base, Explainer):
            return type(self.base)
        if isinstance(self.base, str) and self.base in EXPLAINERS:
            cls = EXPLAINERS[self.base]
            if issubclass(cls, Explainer):
                return cls
        raise ExplainerError(f"base: expected a black-box explainer or its name, got {self.base!r}")

    def _base_explainer(self) -> Explainer:
        """``base`` as an explainer (the class's defaults when ``base`` is a name)."""
        return self.base if isinstance(self.base, Explainer) else self._base_class()()

    def _check_params(self, game: Any) -> None:
        cls = self._base_class()
        if self.budget is None:
            return
        mods = [k for k in range(len(game.modality_names)) if np.any(game.modality_of == k)]
        share = int(self.budget) // len(mods)
        probe = self._base_explainer()
        for k in mods:
            size = int(np.sum(game.modality_of == k))
            need = probe.min_budget(size)
            if share < need:
                raise BudgetError(f"budget: Unimodal gives each of {len(mods)} modalities {share} coalitions, but "
                                  f"{cls.__name__} needs at least {need} on the {size} players of "
                                  f"{game.modality_names[k]!r} (budget {self.budget})")

    def min_budget(self, n_players: int, modality_of: np.ndarray | None = None) -> int:
        """``M`` times the largest minimum of the base on one modality (all players in one when unknown)."""
        from mxbench.explainers.base import min_budget_of

        probe = self._base_explainer()
        if modality_of is None:
            return min_budget_of(probe, n_players)
        sizes = np.bincount(np.asarray(modality_of, dtype=np.int64))
        sizes = sizes[sizes > 0]
        return len(sizes) * max(min_budget_of(probe, int(k)) for k in sizes)

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        probe = self._base_explainer()
        n_mod = len(game.modality_names)
        mods = [k for k in range(n_mod) if np.any(game.modality_of == k)]
        attributions = np.zeros(game.n_players)
        queries = {}
        for k in mods:
            members = np.flatnonzero(game.modality_of == k)
            others = game.modality_of != k

            def restricted(c: np.ndarray, members=members, others=others) -> np.ndarray:
                full = np.broadcast_to(others, (c.shape[0], game.n_players)).copy()
                full[:, members] = c
                return game(full)

            sub = FunctionGame(restricted, len(members))
            e = clone(probe, budget=None if self.budget is None else self.budget // len(mods),
                      random_state=self.random_state + k if isinstance(self.random_state, (int, np.integer))
                      else rng).explain(sub)
            attributions[members] = e.attributions
            queries[game.modality_names[k]] = e.n_queries
        return {"attributions": attributions, "extras": {"queries_per_modality": queries}}
