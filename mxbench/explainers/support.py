"""Sparse Möbius recovery: the whole support of a game's interactions of order <= 3 by adaptive group testing.

A game ``v`` on ``N`` is the sum of its Möbius coefficients, ``v(S) = Σ_{T ⊆ S} m(T)``. Planted
games, and many real ones, have few non-zero ``m(T)``, of order at most 3, over few players. Then
every index follows from the coefficients (Shapley ``φ_j = Σ_{T∋j} m(T)/|T|``, pair SII
``Σ_{T⊇ij} m(T)/(|T|-1)``, Banzhaf, ...), and the coefficients can be *found* with far fewer
queries than players by testing groups of players for the presence of a term, as in group
testing. :class:`SparseMoebius` does this in four steps, each in a few batched calls of the game:

1. **Active players, from the full coalition.** The drop ``v(N) - v(N ∖ R) = Σ_{T ∩ R ≠ ∅} m(T)``
   of a set ``R`` is zero (up to ``tol``) when no term touches ``R`` and, barring an exact
   cancellation, non-zero when one does: a test of "``R`` holds an active player". Sets of
   ``group_size`` players partition ``N`` (in a random order); every set that tests positive is
   halved, the left half tested and the right half tested only when the left is positive too
   (else it holds the activity), down to single players (binary splitting).
2. **The interaction graph.** For an active player ``i`` and a set ``B ∌ i``, the second
   difference at the full coalition, ``v(N) - v(N∖i) - v(N∖B) + v(N∖(B∪i)) = Σ_{T ∋ i, T ∩ B ≠ ∅}
   m(T)``, tests "a term holds ``i`` and a player of ``B``". Splitting ``B`` as above finds
   ``i``'s neighbours among the active players after it, then among the players step 1 did not
   find (a player whose drop cancels, such as the weaker player of a redundancy ``max``: its
   drop is ``m(j) + m(ij) = 0``), whose neighbours are then searched too.
   Inside a connected component of more than ``SMALL_COMPONENT`` players, the edges are also
   searched at the empty coalition, ``v(B∪i) - v(B) - v({i}) + v(∅)``: in a ``max`` of ``i, j,
   k``, ``m(ij) + m(ijk) = 0`` hides the edge ``(i, j)`` from the full coalition.
3. **Coefficients, from the empty coalition.** A term's players are pairwise neighbours, so the
   candidates are every subset of at most 3 players of a component of at most
   ``SMALL_COMPONENT`` players, and the edges and triangles of a larger one; for each, the
   values of its subsets give its coefficient exactly, ``m(T) = Σ_{U ⊆ T} (-1)^{|T|-|U|} v(U)``.
4. **Verification.** The recovered game is compared with the game on the ``2^M`` whole-modality
   coalitions and ``verify`` random coalitions (keep rates uniform per row): ``extras["exact"]``
   is True when every one agrees within ``verify_tol`` of the game's range. When one does not,
   every edge between the players found is searched again from the empty coalition (a player
   active through one term can be the weaker member of a ``max`` in another, an edge the full
   coalition cannot see), the coefficients recomputed and checked again
   (``extras["deepened"]``).

The tests assume that sums of coefficients do not cancel exactly by chance; a term of order 4 or
more, a player whose every test cancels, or a budget that runs out leaves ``exact`` False (the
indices are then those of the coefficients found). A game without exact zeros (a trained model's)
makes every test positive: recovery then needs about ``n`` queries per active player and is not
what this explainer is for. The modality contributions are always exact: the Shapley values of
the ``2^M`` whole-modality coalitions it queries.

The design is ours, in the family of sparse Möbius and Fourier recovery by group testing (SPEX,
arXiv 2502.13870; the sparse Möbius transform, arXiv 2307.03357), made adaptive.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Callable, Mapping

import numpy as np

from mxbench.explainers.base import BudgetedGame, BudgetExceeded, Explainer, modality_coalitions
from mxbench.explainers.params import check_int, check_positive
from mxbench.oracles.moebius import indices_from_values

#: The budget when none is given is this many queries per player, plus 64 (small games): the paper
#: suite needs 0.6-3.6 per player (``paper-dense``).
DEFAULT_BUDGET_PER_PLAYER = 8
#: Up to this many players every pair is reported (zeros included); above, the pairs of active players.
DENSE_PAIRS = 64
#: Random coalitions of the verification when ``verify`` is not given.
VERIFY_ROWS = 16
#: A connected component of the interaction graph of at most this many players gets every
#: subset of at most 3 of its players as a candidate term (else its edges and triangles).
SMALL_COMPONENT = 5


def _without(n: int, sets: list[np.ndarray]) -> np.ndarray:
    """The coalitions ``N ∖ R`` for each set ``R``: ``(len(sets), n)``."""
    out = np.ones((len(sets), n), dtype=bool)
    for row, r in enumerate(sets):
        out[row, r] = False
    return out


def _split_search(items: list[Any], sets: list[np.ndarray], test: Callable[[list[Any], list[np.ndarray]], np.ndarray],
                  known_positive: bool = False) -> list[tuple[Any, int]]:
    """Binary splitting: for every ``(item, set)``, the members ``x`` of the set with ``test(item, {x})`` positive.

    ``test(items, sets)`` answers a batch of tests at once (a bool array). Each positive set is
    halved; the left half is tested, the right half tested only when the left is positive (a
    positive set whose left half is negative holds its activity on the right). With
    ``known_positive`` the given sets are not tested first. Returns ``(item, member)`` pairs.
    """
    if known_positive:
        live = list(zip(items, sets))
    else:
        answer = test(items, sets) if items else np.zeros(0, dtype=bool)
        live = [(it, s) for it, s, a in zip(items, sets, answer) if a]
    found: list[tuple[Any, int]] = []
    while live:
        found += [(it, int(s[0])) for it, s in live if len(s) == 1]
        multi = [(it, s) for it, s in live if len(s) > 1]
        if not multi:
            break
        left = [(it, s[:len(s) // 2]) for it, s in multi]
        right = [(it, s[len(s) // 2:]) for it, s in multi]
        a = test([it for it, _ in left], [s for _, s in left])
        live = [lr if pos else rr for lr, rr, pos in zip(left, right, a)]
        ask = [rr for rr, pos in zip(right, a) if pos]
        if ask:
            b = test([it for it, _ in ask], [s for _, s in ask])
            live += [rr for rr, pos in zip(ask, b) if pos]
    return found


def _components(players: list[int], edges: Any) -> list[list[int]]:
    """The connected components (sorted lists) of the graph on ``players`` with ``edges``."""
    parent = {i: i for i in players}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    for i, j in edges:
        parent[root(i)] = root(j)
    parts: dict[int, list[int]] = {}
    for i in players:
        parts.setdefault(root(i), []).append(i)
    return [sorted(part) for part in parts.values()]


class SparseMoebius(Explainer):
    """Exact Shapley values and pair interactions from the sparse Möbius support of a game,
    recovered by adaptive group testing (module docstring).

    Parameters
    ----------
    budget : int, optional
        The most distinct coalitions evaluated (at least ``2^M + 1``); the explainer stops when
        it has verified its recovery, or earlier when the budget runs out (``extras["complete"]``
        False). None: ``DEFAULT_BUDGET_PER_PLAYER · n + 64`` (8n + 64; a game without exact zeros
        would otherwise test every set positive and query on).
    group_size : int, optional
        Players per set of the first test round (>= 1; default ``round(√n / 2)``, about one
        active player per set at 5-20% active players).
    tol : float
        A test is negative when its value is at most ``tol`` times the largest drop of the
        first round (or ``|v(N) - v(∅)|`` if larger); default 1e-9: zero up to float error,
        relative to the game's range (a term 10^9 times smaller than the largest counts as 0).
    verify : int, optional
        Random coalitions of the verification (>= 0; default ``VERIFY_ROWS`` = 16; fewer when
        the budget left is smaller), besides the whole-modality ones (already evaluated).
    verify_tol : float
        The largest disagreement, relative to the game's range, that still counts as exact.
    random_state : int, optional
        Seeds the order of the first round and the verification coalitions.

    Notes
    -----
    ``attributions`` are the Shapley values and ``interactions`` the pair SII of the recovered
    coefficients: every pair, zeros included, up to ``DENSE_PAIRS`` = 64 players, else every pair
    of active players (any other pair's is 0); when the budget ran out, only the pairs of the
    terms found. ``modality`` is the exact Shapley values of the modality game. ``extras``: ``exact`` (the verification
    passed), ``verify_error`` (its largest relative disagreement), ``terms`` (``{players: m(T)}``
    for every non-zero coefficient but ``m(∅)``), ``active`` (the players of some term), ``edges``
    (the interaction graph), ``queries`` (per step: ``fixed`` — the modality coalitions, ∅ and
    N —, ``active``, ``graph``, ``coefficients``, ``verify``; they add up to ``n_queries``),
    ``verify_rows`` (the coalitions checked, modality ones included), ``deepened`` (the second
    edge search ran) and ``complete`` (False when the budget ran out: the players found active by then
    but not resolved get their drop ``v(N) - v(N∖j)`` as attribution, the others 0).

    Examples
    --------
    >>> import numpy as np
    >>> def game(c):
    ...     c = c.astype(float)
    ...     return 2.0 * c[:, 3] * c[:, 41] + 1.5 * np.maximum(c[:, 7], 0.5 * c[:, 60]) - c[:, 9] * c[:, 20] * c[:, 77]
    >>> e = SparseMoebius().explain(game, n_players=400)
    >>> e.extras["exact"], e.n_queries, sorted(e.extras["terms"])[:3]
    (True, 141, [(3, 41), (7,), (7, 60)])
    >>> round(float(e.attributions[9]), 6), e.interactions[(3, 41)], e.interactions[(9, 20)]
    (-0.333333, 2.0, -0.5)
    """

    name = "sparse-moebius"
    #: Pair SII (singletons: Shapley values) of the recovered Möbius coefficients.
    target_index = "SII"
    #: Exact on games it recovers (``check_explainer``; a pair it does not report has SII 0).
    claims = ("efficiency", "symmetry", "dummy", "linearity", "sii_symmetry", "interaction_sign", "recovery")
    efficient = True

    def __init__(self, budget: int | None = None, group_size: int | None = None, tol: float = 1e-9,
                 verify: int = VERIFY_ROWS, verify_tol: float = 1e-6, random_state: int | None = 0) -> None:
        self.budget = budget
        self.group_size = group_size
        self.tol = tol
        self.verify = verify
        self.verify_tol = verify_tol
        self.random_state = random_state

    def default_budget(self, n_players: int) -> int:
        return DEFAULT_BUDGET_PER_PLAYER * n_players + 64

    def min_budget(self, n_players: int, modality_of: np.ndarray | None = None) -> int:
        n_mod = 1 if modality_of is None or len(modality_of) == 0 else int(np.max(modality_of)) + 1
        return 2**n_mod + 1

    def _check(self) -> dict[str, Any]:
        return {"group_size": check_int("group_size", self.group_size, 1, allow_none=True,
                                        expected="an integer >= 1"),
                "tol": check_positive("tol", self.tol, allow_zero=True),
                "verify": check_int("verify", self.verify, 0),
                "verify_tol": check_positive("verify_tol", self.verify_tol, allow_zero=True)}

    def _check_params(self, game: Any) -> None:
        self._check()

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        p = self._check()
        n, n_mod = game.n_players, len(game.modality_names)
        values = game  # it remembers every coalition: each distinct one is queried once
        fixed = modality_coalitions(game.modality_of, n_mod)
        v_fixed = values(np.concatenate([fixed, np.zeros((1, n), bool), np.ones((1, n), bool)]))
        v_empty, v_full = float(v_fixed[-2]), float(v_fixed[-1])
        modality, _ = indices_from_values(v_fixed[:2**n_mod])
        queries = {"fixed": game.n_queries, "active": 0, "graph": 0, "coefficients": 0, "verify": 0}
        state: dict[str, Any] = {"active": [], "edges": [], "terms": {}, "complete": True, "drops": {}}
        size = p["group_size"] if p["group_size"] is not None else max(1, int(round(math.sqrt(n) / 2)))
        scale = [abs(v_full - v_empty)]

        def counted(step: str, work: Callable[[], None]) -> None:
            before = game.n_queries
            try:
                work()
            except BudgetExceeded:  # raised before the batch is evaluated
                state["complete"] = False
            queries[step] += game.n_queries - before

        def zero(x: np.ndarray) -> np.ndarray:
            return np.abs(x) <= p["tol"] * scale[0]

        def drop(_: list[Any], sets: list[np.ndarray]) -> np.ndarray:
            d = v_full - values(_without(n, sets))
            state["drops"].update((int(r[0]), float(x)) for r, x in zip(sets, d) if len(r) == 1 and not zero(x))
            return ~zero(d)

        def cross(items: list[int], sets: list[np.ndarray]) -> np.ndarray:
            """``v(N) - v(N∖i) - v(N∖B) + v(N∖(B∪i))`` is non-zero."""
            v_i = values(_without(n, [np.array([i]) for i in items]))
            v_b = values(_without(n, sets))
            v_bi = values(_without(n, [np.append(s, i) for i, s in zip(items, sets)]))
            return ~zero(v_full - v_i - v_b + v_bi)

        def find_active() -> None:
            order = rng.permutation(n)
            groups = [order[k:k + size] for k in range(0, n, size)]
            first = v_full - values(_without(n, groups))
            scale[0] = max(scale[0], float(np.abs(first).max()))
            live = [g for g, d in zip(groups, first) if not zero(d)]
            state["active"] = sorted(x for _, x in _split_search([None] * len(live), live, drop, known_positive=True))

        def gain(_: list[Any], sets: list[np.ndarray]) -> np.ndarray:
            rows = np.zeros((len(sets), n), dtype=bool)
            for row, r in enumerate(sets):
                rows[row, r] = True
            return ~zero(values(rows) - v_empty)

        def cross_empty(items: list[int], sets: list[np.ndarray]) -> np.ndarray:
            """``v(B∪i) - v(B) - v({i}) + v(∅)`` is non-zero."""
            rows = np.zeros((3 * len(items), n), dtype=bool)
            for k, (i, r) in enumerate(zip(items, sets)):
                rows[3 * k, r] = True
                rows[3 * k + 1, r] = True
                rows[3 * k + 1, i] = True
                rows[3 * k + 2, i] = True
            v = values(rows).reshape(-1, 3)
            return ~zero(v[:, 1] - v[:, 0] - v[:, 2] + v_empty)

        def find_graph() -> None:
            active = state["active"]
            edges: set[tuple[int, int]] = set()

            def add(found: list[tuple[int, int]]) -> list[int]:
                edges.update((min(i, j), max(i, j)) for i, j in found)
                return sorted({j for _, j in found} - known)

            later = [np.array(active[k + 1:], dtype=np.int64) for k in range(len(active))]
            known = set(active)
            add(_split_search([i for i, s in zip(active, later) if len(s)], [s for s in later if len(s)], cross))
            # players whose drop cancels (the weaker players of a redundancy: m(j) + m(ij) = 0):
            # their gains from the empty coalition, and their neighbours there
            others = np.setdiff1d(np.arange(n), active)
            if len(others):
                wide = min(len(others), 4 * size)
                groups = [others[k:k + wide] for k in range(0, len(others), wide)]
                silent = sorted(x for _, x in _split_search([None] * len(groups), groups, gain))
                known.update(silent)
                add(_split_search(silent, [np.setdiff1d(sorted(known), [j]) for j in silent], cross_empty))
            # inside a large component, the edges the full coalition cannot see (i, j in a max with
            # k: m(ij) + m(ijk) = 0), from the empty coalition; a small one gets every subset anyway
            big = [part for part in _components(sorted(known), edges) if len(part) > SMALL_COMPONENT]
            items = [i for part in big for k, i in enumerate(part) if k + 1 < len(part)]
            sets = [np.array(part[k + 1:]) for part in big for k in range(len(part) - 1)]
            add(_split_search(items, sets, cross_empty))
            state["active"] = sorted(known)
            state["edges"] = sorted(edges)

        def coefficients() -> None:
            # the candidates: every subset of at most 3 players of a small connected component of
            # the graph (a missed edge inside it costs nothing), else its edges and triangles
            nbrs: dict[int, set[int]] = {i: set() for i in state["active"]}
            for i, j in state["edges"]:
                nbrs[i].add(j)
                nbrs[j].add(i)
            cands: set[tuple[int, ...]] = set()
            for part in _components(state["active"], state["edges"]):
                if len(part) <= SMALL_COMPONENT:
                    cands.update(u for r in (1, 2, 3) for u in combinations(sorted(part), r))
                else:
                    members = set(part)
                    cands.update((i,) for i in part)
                    cands.update(e for e in state["edges"] if e[0] in members)
                    cands.update((i, j, k) for i, j in state["edges"] if i in members
                                 for k in sorted(nbrs[i] & nbrs[j]) if k > j)
            cands_sorted = sorted(cands, key=lambda t: (len(t), t))
            subsets = sorted({u for t in cands_sorted for r in range(1, len(t) + 1) for u in combinations(t, r)},
                             key=lambda u: (len(u), u))
            rows = np.zeros((len(subsets), n), dtype=bool)
            for row, u in enumerate(subsets):
                rows[row, list(u)] = True
            table = dict(zip(subsets, values(rows).tolist()))
            table[()] = v_empty
            terms = {}
            for t in cands_sorted:
                m = sum((-1) ** (len(t) - r) * table[u] for r in range(len(t) + 1) for u in combinations(t, r))
                if not zero(np.array(m)):
                    terms[t] = float(m)
            state["terms"] = terms

        counted("active", find_active)
        if state["complete"]:
            counted("graph", find_graph)
        if state["complete"]:
            counted("coefficients", coefficients)
        def draw_check() -> None:
            count = p["verify"] if game.remaining is None else min(p["verify"], int(game.remaining))
            keep = rng.random((count, 1))
            rows = np.concatenate([fixed, rng.random((count, n)) < keep])
            state["check"] = (rows, values(rows))

        def error_now() -> float:
            if "check" not in state:
                return math.inf
            rows, observed = state["check"]
            predicted = np.full(len(rows), v_empty)
            for t, m in state["terms"].items():
                predicted += m * rows[:, list(t)].all(axis=1)
            span = max(float(np.abs(v_fixed - v_empty).max()), scale[0], 1e-300)
            return float(np.abs(observed - predicted).max()) / span

        def deepen() -> None:
            """Every edge between known players searched from the empty coalition too (an active
            player's edge into a ``max`` it is the weaker member of cancels at the full one)."""
            known = state["active"]
            found = _split_search(list(known[:-1]), [np.array(known[k + 1:]) for k in range(len(known) - 1)],
                                  cross_empty)
            state["edges"] = sorted(set(state["edges"]) | {(min(i, j), max(i, j)) for i, j in found})
            state["deepened"] = True

        error = math.inf
        if state["complete"]:
            counted("verify", draw_check)
            error = error_now()
        if state["complete"] and error > p["verify_tol"] and len(state["active"]) > 1 and game.remaining != 0:
            first = {k: state[k] for k in ("active", "edges", "terms")}
            counted("graph", deepen)
            if state["complete"]:
                counted("coefficients", coefficients)
            if state["complete"]:
                error = error_now()
            else:  # the budget ran out in the second search: the first pass stands, checked as it was
                state.update(first, complete=True, deepened=False)
        phi = np.zeros(n)
        sii: dict[tuple[int, int], float] = {}
        for t, m in state["terms"].items():
            phi[list(t)] += m / len(t)
            for a in range(len(t)):
                for b in range(a + 1, len(t)):
                    sii[(t[a], t[b])] = sii.get((t[a], t[b]), 0.0) + m / (len(t) - 1)
        if not state["complete"]:  # players found active but not resolved: their drop v(N) - v(N∖j)
            for j, d in state["drops"].items():
                if not any(j in t for t in state["terms"]):
                    phi[j] = d
        if state["complete"]:  # exact values: zeros too, for every pair of players (of active ones above 64)
            among = range(n) if n <= DENSE_PAIRS else state["active"]
            interactions = {pair: sii.get(pair, 0.0) for pair in combinations(among, 2)}
        else:
            interactions = sii
        extras = {"exact": bool(state["complete"] and error <= p["verify_tol"]), "verify_error": error,
                  "terms": dict(sorted(state["terms"].items(), key=lambda kv: (len(kv[0]), kv[0]))),
                  "active": state["active"], "edges": state["edges"], "queries": queries,
                  "complete": bool(state["complete"]), "group_size": size,
                  "verify_rows": len(state["check"][0]) if "check" in state else 0,
                  "deepened": bool(state.get("deepened", False))}
        return {"attributions": phi, "modality": modality, "interactions": interactions, "extras": extras}
