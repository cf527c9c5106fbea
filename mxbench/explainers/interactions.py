"""The FL-I2MoE interaction probes: a Monte Carlo SII probe and a redundancy-gap score.

Both follow ``docs/reconstructions.md`` §6–§7 (a reconstruction: the FL-I2MoE paper's exact
definitions are not public). They explain chosen player pairs ``(i, j)`` of a game through the
discrete second derivative

    ``Δ_ij(S) = v(S ∪ {i, j}) - v(S ∪ {i}) - v(S ∪ {j}) + v(S)``,   ``S ⊆ N ∖ {i, j}``,

and the pair's joint effect ``J_ij(S) = v(S ∪ {i, j}) - v(S)``.

Sampling (shared by both probes). The Shapley interaction index (Grabisch & Roubens 1999) is

    ``SII(i, j) = Σ_{S ⊆ N∖{i,j}} |S|! (n-|S|-2)! / (n-1)! · Δ_ij(S)``;

each coalition size carries total weight ``1/(n-1)``, so ``SII(i, j) = E[Δ_ij(S)]`` for
``s ~ U{0..n-2}`` and ``S`` uniform of size ``s`` in ``N ∖ {i, j}``. One *round* draws one such
``S`` for **every** pair from common random numbers: a uniformly random order of the players
and one size ``s``; pair ``(i, j)`` takes the first ``s`` players of the order, skipping ``i``
and ``j``. For each pair that is exactly a uniform ``S`` of size ``s`` in ``N ∖ {i, j}`` (so the
average of ``Δ_ij`` over rounds is unbiased for the SII), while pairs whose players lie outside
the prefix share the same ``S``: ``v(S)`` is shared by all of them and ``v(S ∪ {i})`` by all
pairs containing ``i``, so a round costs about ``1 + #players + #pairs`` distinct coalitions
instead of ``4 · #pairs``. Every pair gets the same number of draws (the budget is split evenly):
rounds are added while their *distinct new* coalitions fit the budget (at most ``budget`` rounds
and ``MAX_TOTAL_DRAWS`` draws in all, limits that bind only on games so small that the draws
repeat coalitions already evaluated; ``DEFAULT_DRAWS`` rounds when ``budget`` is None). All
coalitions of all rounds go to the game in one call, each distinct coalition once.

Every draw is an unbiased estimate. The number of rounds kept depends on how many distinct
coalitions the draws need (a stopping rule on coalition counts, never on game values), so the
mean over them is unbiased only up to that rule; measured over 3000 seeds at the smallest
budgets (1-7 draws per pair), no bias was detectable (all |z| < 1.7).

Screening (``pairs="auto"``, the default, when the budget is below ``4 · C(n, 2)``). On
hundreds of players one draw of every pair costs more than the budget, so the probes pick the
pairs to draw in two steps, then draw them as above:

1. *Players*, from the endpoint pass (``2n + 2`` coalitions: ``v(∅)``, ``v(N)``, ``v({k})``,
   ``v(N ∖ {k})``). With ``m`` the Möbius transform of the game,
   ``[v(N) - v(N∖k)] - [v({k}) - v(∅)] = Σ_{T ∋ k, |T| ≥ 2} m(T) = Σ_{j ≠ k} SII(k, j)``
   exactly, for every game: the pass gives each player's SII row sum. ``screen="interaction"``
   keeps the players whose row sum is not zero (relative to the largest, ``1e-9``), largest
   first, at most ``max_players``; ``screen="effect"`` ranks by the candidate score
   ``(|v(N) - v(N∖k)| + |v({k}) - v(∅)|) / 2`` instead (it also keeps players without any
   interaction). A player whose interactions cancel in its row sum is missed.
2. *Pairs*, by a regression on complementary masks. Draw ``z`` with every player present with
   probability 1/2 and evaluate ``z`` and its complement ``1 - z``; with ``x = 2z - 1`` and the
   Fourier expansion ``v = Σ_T f(T) Π_{i∈T} x_i``, the even part
   ``(v(z) + v(1 - z)) / 2 = Σ_{|T| even} f(T) Π_{i∈T} x_i`` has no first- or third-order term
   at all, and ``4 f({i, j}) = Σ_{U ⊇ {i,j}} m(U) / 2^{|U|-2}`` is the Banzhaf interaction
   index ``BII(i, j)`` — equal to ``SII(i, j)`` for every game whose interactions have order
   at most 3 (both weigh a third-order term by 1/2). Orthogonal matching pursuit picks the
   products ``x_i x_j`` of screened players that explain the even part (terms of order 4, 6,
   ... and the players left out act as noise). The rows are doubled, starting from
   ``max(8, #screened players)``, until the selected pairs fit the even part exactly (relative
   residual ``1e-9``, at most a third as many pairs as rows) and predict 8 fresh rows exactly
   too — an exactly sparse game —, or until the regression has spent
   ``SCREEN_REGRESSION_SHARE`` of the budget left after the endpoint pass (a game that is not
   exactly sparse, e.g. a model's); at most as many pairs are kept as one draw of each still
   fits the budget.

The kept pairs are then drawn in shared rounds with the rest of the budget (they start after
the screen, from the same generator): the reported SII, its standard error and the redundancy
gap are the Monte Carlo estimates above, unbiased for each kept pair; pairs not kept are not
reported. ``extras["screen"]`` holds the screened players, every player's row sum and the
regression's ``BII`` estimate of each kept pair. The screen is a reconstruction of ours: the
FL-I2MoE paper does not say how pairs are chosen at scale.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from mxbench.errors import BudgetError, ExplainerError
from mxbench.explainers.base import BudgetedGame, Explainer, Explanation, check_pairs, coalition_keys
from mxbench.explainers.params import check_choice, check_int

#: Draws per pair when ``budget`` is None.
DEFAULT_DRAWS = 128
#: The most draws in all (rounds times pairs): bounds memory on games so small that the draws
#: keep repeating coalitions already evaluated.
MAX_TOTAL_DRAWS = 1 << 18
#: The pair selections accepted besides an explicit list.
PAIR_MODES = ("auto", "all", "cross", "candidates")
#: The player scores of the screen (``pairs="auto"``).
SCREENS = ("interaction", "effect")
#: The most players the screen keeps when ``max_players`` is None.
MAX_SCREEN_PLAYERS = 128
#: The fewest complementary pairs the pair regression of the screen draws.
MIN_SCREEN_ROWS = 8
#: The largest share of the budget left after the endpoint pass that the pair regression spends.
SCREEN_REGRESSION_SHARE = 0.75
#: Relative size under which a player's screen score counts as zero and a regression residual
#: as an exact fit.
_ZERO = 1e-9
#: The redundancy-gap forms.
RG_FORMS = ("oriented", "mc", "removal")


# --------------------------------------------------------------------------- helpers


def _n_choose_2(k: int) -> int:
    return k * (k - 1) // 2


def _check_common(probe: "_PairProbe") -> None:
    """Validate the parameters every pair probe shares (before any game query)."""
    pairs = probe.pairs
    if isinstance(pairs, str):
        check_choice("pairs", pairs, PAIR_MODES, expected=f"one of {PAIR_MODES} or a list of (i, j)")
    check_int("top_k", probe.top_k, 2)
    cand = probe.candidates
    if cand is not None and not isinstance(cand, Explanation):
        raise ExplainerError(f"candidates: expected an Explanation or None, got {type(cand).__name__}")
    check_choice("screen", probe.screen, SCREENS, expected=f"one of {SCREENS}")
    check_int("max_players", probe.max_players, 2, allow_none=True)


def _pairs_for(probe: "_PairProbe", n: int, modality_of: np.ndarray | None) -> list[tuple[int, int]] | None:
    """The pairs, or None when they depend on a first pass (``candidates``) or on modalities unknown."""
    pairs = probe.pairs
    if isinstance(pairs, str):
        if pairs == "all":
            return _pairs_for_all(n)
        if pairs == "cross":
            if modality_of is None:
                return None
            i, j = np.triu_indices(n, 1)
            keep = modality_of[i] != modality_of[j]
            return list(zip(i[keep].tolist(), j[keep].tolist()))
        return None
    out = list(dict.fromkeys(check_pairs(pairs, n)))
    if not out:
        raise ExplainerError("pairs: the list of pairs is empty")
    return out


def _pairs_for_all(n: int) -> list[tuple[int, int]]:
    i, j = np.triu_indices(n, 1)
    return list(zip(i.tolist(), j.tolist()))


def _is_mode(pairs: Any, mode: str) -> bool:
    return isinstance(pairs, str) and pairs == mode


def _first_pass_cost(n: int) -> int:
    return 2 * n + 2


def _endpoint_coalitions(n: int) -> np.ndarray:
    """``∅``, ``N``, every ``{k}`` and every ``N ∖ {k}``: ``(2n + 2, n)``."""
    eye = np.eye(n, dtype=bool)
    return np.concatenate([np.zeros((1, n), bool), np.ones((1, n), bool), eye, ~eye])


def _first_pass(game: BudgetedGame) -> tuple[np.ndarray, np.ndarray]:
    """The endpoint pass in one call (``2n + 2`` coalitions): every player's drop and gain.

    Returns ``drop = v(N) - v(N∖k)`` and ``gain = v({k}) - v(∅)``. From them: the candidate
    score ``(|drop| + |gain|) / 2``, the first-order estimate ``(drop + gain) / 2`` (the Shapley
    value exactly when the game has no interaction of order 3 or more) and the SII row sum
    ``drop - gain = Σ_{j≠k} SII(k, j)`` (exact for every game).
    """
    n = game.n_players
    v = game(_endpoint_coalitions(n))
    return v[1] - v[2 + n:], v[2:2 + n] - v[0]


def _screen_players(drop: np.ndarray, gain: np.ndarray, screen: str, cap: int) -> np.ndarray:
    """The screened players, sorted: a non-zero score (relative to the largest), at most ``cap``, largest first."""
    score = np.abs(drop - gain) if screen == "interaction" else (np.abs(drop) + np.abs(gain)) / 2.0
    top = float(score.max()) if score.size else 0.0
    keep = np.flatnonzero(score > _ZERO * top) if top > 0 else np.zeros(0, dtype=np.int64)
    return np.sort(keep[np.argsort(-score[keep], kind="stable")][:cap])


def _pair_pursuit(x: np.ndarray, y: np.ndarray, max_pairs: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Orthogonal matching pursuit of ``y`` over the products ``x_i x_j`` (``i < j``) of the columns of ``x``.

    ``x`` holds ±1 entries, shape ``(m, k)``; an intercept is always in the model. Each step adds
    the product most correlated with the residual (all products have norm ``√m``: the
    correlations of all of them are the upper triangle of ``xᵀ diag(r) x``, so the ``m × C(k, 2)``
    design is never formed) and projects it out; a product that adds nothing on these rows is
    skipped. Stops at ``max_pairs`` products or when the residual sum of squares is at most
    ``_ZERO`` times the total. Returns the chosen column pairs ``(q, 2)`` (selection order), the
    least-squares coefficients ``(q + 1,)`` (intercept first) and whether the fit is exact.
    """
    m, k = x.shape
    iu, ju = np.triu_indices(k, 1)
    r = y - y.mean()
    total = float(r @ r)
    basis = np.empty((m, max_pairs + 1))
    basis[:, 0] = 1.0 / math.sqrt(m)
    free = np.ones(len(iu), dtype=bool)
    chosen: list[int] = []
    while len(chosen) < max_pairs and float(r @ r) > _ZERO * total and free.any():
        corr = np.abs((x.T @ (x * r[:, None]))[iu, ju])
        best = int(np.argmax(np.where(free, corr, -1.0)))
        free[best] = False
        b = basis[:, :len(chosen) + 1]
        q = x[:, iu[best]] * x[:, ju[best]]
        q = q - b @ (b.T @ q)
        q = q - b @ (b.T @ q)  # twice: Gram-Schmidt keeps the basis orthonormal
        norm = float(np.linalg.norm(q))
        if norm <= 1e-6 * math.sqrt(m):
            continue
        basis[:, len(chosen) + 1] = q / norm
        chosen.append(best)
        r = r - (basis[:, len(chosen)] @ r) * basis[:, len(chosen)]
    found = np.column_stack([iu[chosen], ju[chosen]]).astype(np.int64).reshape(-1, 2)
    coef = np.linalg.lstsq(_pair_design(x, found), y, rcond=None)[0]
    return found, coef, float(r @ r) <= _ZERO * total


def _pair_design(x: np.ndarray, found: np.ndarray) -> np.ndarray:
    """The intercept and the products ``x_i x_j`` of the column pairs ``found``: ``(m, 1 + q)``."""
    return np.column_stack([np.ones(len(x)), x[:, found[:, 0]] * x[:, found[:, 1]]])


def _pair_regression(game: BudgetedGame, rng: np.random.Generator, players: np.ndarray, max_rows: int,
                     pair_cost: int) -> tuple[list[tuple[int, int]], dict[tuple[int, int], float], np.ndarray]:
    """The pair step of the screen: complementary masks until a confirmed exact sparse fit or ``max_rows``.

    Rows (complementary pairs) start at ``max(MIN_SCREEN_ROWS, #players)`` and double while the
    pursuit does not fit them exactly. An exact fit is confirmed on ``MIN_SCREEN_ROWS`` fresh
    rows: it stops the regression when it predicts them exactly (a pair missed by a chance fit of
    a few rows shows on fresh rows; the pairs are then kept and their coefficients refitted on
    every row), else they join the rows and the pursuit goes on.

    Returns the kept pairs (sorted), the ``BII`` estimate ``4 f({i, j})`` of each and the
    coalitions evaluated. At most as many pairs are kept as one draw of each (``pair_cost``
    coalitions) fits in the budget left, and at most a third as many as rows; a pair the pursuit
    picked on the way whose final coefficient is zero (relative ``_ZERO``) is dropped.
    """
    n = game.n_players
    z = np.zeros((0, n), dtype=bool)
    y = np.zeros(0)

    def draw(rows: int) -> tuple[np.ndarray, np.ndarray]:
        new = rng.random((rows, n)) < 0.5
        v = game(np.concatenate([new, ~new]))
        return new, (v[:rows] + v[rows:]) / 2.0

    def fit(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        max_pairs = max(1, min(len(z) // 3, (game.remaining or 0) // pair_cost))
        return _pair_pursuit(2.0 * z[:, players] - 1.0, y, max_pairs)

    z, y = draw(min(max_rows, max(MIN_SCREEN_ROWS, len(players))))
    found, coef, exact = fit(z, y)
    while len(z) < max_rows:
        new, y_new = draw(min(MIN_SCREEN_ROWS if exact else len(z), max_rows - len(z)))
        confirmed = (exact and len(found) <= (game.remaining or 0) // pair_cost
                     and bool(np.sum((_pair_design(2.0 * new[:, players] - 1.0, found) @ coef - y_new) ** 2)
                              <= _ZERO * np.sum((y - y.mean()) ** 2)))
        z, y = np.concatenate([z, new]), np.concatenate([y, y_new])
        if confirmed:  # the same pairs, their coefficients from every row
            coef = np.linalg.lstsq(_pair_design(2.0 * z[:, players] - 1.0, found), y, rcond=None)[0]
            break
        found, coef, exact = fit(z, y)
    pairs = [(int(players[a]), int(players[b])) for a, b in found]
    coef = coef[1:]
    big = float(np.abs(coef).max()) if len(coef) else 0.0
    order = sorted((t for t in range(len(pairs)) if abs(coef[t]) > _ZERO * big), key=lambda t: pairs[t])
    return [pairs[t] for t in order], {pairs[t]: 4.0 * float(coef[t]) for t in order}, np.concatenate([z, ~z])


def _round_coalitions(u: np.ndarray, n: int, pi: np.ndarray, pj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The coalitions ``S, S∪i, S∪j, S∪ij`` of every pair in each round.

    ``u`` holds ``(R, n + 1)`` uniforms: the first ``n`` order the players, the last one picks
    the size ``s = floor(u · (n - 1))`` in ``0..n-2``. Returns the coalitions ``(R, P, 4, n)``
    and the sizes ``(R,)``.
    """
    keys = u[:, :n]
    s = np.minimum((u[:, n] * (n - 1)).astype(np.int64), n - 2)
    pos = np.argsort(np.argsort(keys, axis=1), axis=1)  # (R, n): place of each player in the order
    ki, kj = keys[:, pi][:, :, None], keys[:, pj][:, :, None]  # (R, P, 1)
    kk = keys[:, None, :]  # (R, 1, n)
    rank = pos[:, None, :] - (ki < kk) - (kj < kk)  # (R, P, n): place among the players other than i, j
    S = rank < s[:, None, None]
    P = len(pi)
    cols = np.arange(P)
    S[:, cols, pi] = False
    S[:, cols, pj] = False
    out = np.repeat(S[:, :, None, :], 4, axis=2)
    out[:, cols, 1, pi] = True
    out[:, cols, 2, pj] = True
    out[:, cols, 3, pi] = True
    out[:, cols, 3, pj] = True
    return out, s


#: About how many coalition entries (booleans) one block of rounds may hold while it is planned.
_BLOCK_ENTRIES = 1 << 22


def _sample_rounds(game: BudgetedGame, rng: np.random.Generator, pairs: list[tuple[int, int]], max_rounds: int,
                   seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw up to ``max_rounds`` rounds that fit the budget and evaluate them in one call.

    Rounds are planned block by block (bounded memory): a round is kept while the distinct
    coalitions not yet known (``seen``: keys already evaluated, e.g. by the first pass) fit
    the remaining budget. Then every distinct coalition of the kept rounds goes to the game in
    one call. Returns the values ``(R, P, 4)`` (``v(S), v(S∪i), v(S∪j), v(S∪ij)``) and the
    sizes ``(R,)``.
    """
    n, n_pairs = game.n_players, len(pairs)
    per = 4 * n_pairs
    pi = np.array([p[0] for p in pairs], dtype=np.int64)
    pj = np.array([p[1] for p in pairs], dtype=np.int64)
    remaining = game.remaining
    known = np.unique(seen)
    largest = max(1, _BLOCK_ENTRIES // (per * n))
    key_blocks, size_blocks, row_blocks = [], [], []
    done, spent = 0, 0
    while done < max_rounds:
        # plan about as many rounds as the budget left pays for at the cost per round seen so
        # far (the worst case, 4 per pair, before any round), or a quarter of the rounds done
        # (rounds cost nothing once their coalitions are known); the rounds kept never depend
        # on this: they are the longest prefix of the round sequence that fits the budget
        b = min(largest, max_rounds - done)
        if remaining is not None:
            unit = spent / done if done else per
            b = min(b, max(1, int(remaining / max(unit, 1.0)) + 1, done // 4))
        u = rng.random((b, n + 1))  # drawn in order: the first rounds do not depend on max_rounds
        coal, s = _round_coalitions(u, n, pi, pj)
        rows = coal.reshape(-1, n)
        keys = coalition_keys(rows)
        uniq, first = np.unique(keys, return_index=True)
        fresh = ~np.isin(uniq, known)
        cost = np.cumsum(np.bincount(first[fresh] // per, minlength=b))  # new coalitions by round
        fit = b if remaining is None else int(np.searchsorted(cost, remaining, side="right"))
        if fit:
            used = first < fit * per
            key_blocks.append(keys[:fit * per])
            size_blocks.append(s[:fit])
            row_blocks.append((uniq[used], rows[first[used]]))
            known = np.union1d(known, uniq[used & fresh])
            spent += int(cost[fit - 1])
            if remaining is not None:
                remaining -= int(cost[fit - 1])
        done += fit
        if fit < b:
            break
    if done == 0:  # pragma: no cover - min_budget makes the first round fit
        raise BudgetError(f"budget: {game.remaining} coalitions left, too few for one draw of {n_pairs} pairs")
    all_keys = np.concatenate([k for k, _ in row_blocks])
    all_rows = np.concatenate([r for _, r in row_blocks])
    uniq, first = np.unique(all_keys, return_index=True)
    values = game(all_rows[first])  # every distinct coalition of every round, in one call
    v = values[np.searchsorted(uniq, np.concatenate(key_blocks))].reshape(done, n_pairs, 4)
    return v, np.concatenate(size_blocks)


def _shapley_from_draws(v: np.ndarray, s: np.ndarray, n: int,
                        pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased Shapley estimates of the players in the pairs, from the pairs' draws.

    With ``α(s) = (n - 1 - s) / n``, ``α·(v(S∪i) - v(S)) + (1-α)·(v(S∪ij) - v(S∪j))`` is an
    unbiased estimate of ``φ_i`` (it averages the Shapley marginal over ``T = S`` and
    ``T = S ∪ {j}`` with exactly the Shapley weights of those coalitions). Returns the mean per
    player and the number of draws behind it (0 for players in no pair).
    """
    a = ((n - 1 - s) / n)[:, None]
    mi = a * (v[:, :, 1] - v[:, :, 0]) + (1 - a) * (v[:, :, 3] - v[:, :, 2])
    mj = a * (v[:, :, 2] - v[:, :, 0]) + (1 - a) * (v[:, :, 3] - v[:, :, 1])
    pi = np.array([p[0] for p in pairs])
    pj = np.array([p[1] for p in pairs])
    R = v.shape[0]
    total = np.bincount(pi, mi.sum(axis=0), minlength=n) + np.bincount(pj, mj.sum(axis=0), minlength=n)
    count = (np.bincount(pi, minlength=n) + np.bincount(pj, minlength=n)) * R
    phi = np.divide(total, count, out=np.zeros(n), where=count > 0)
    return phi, count


def _mean_and_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means of ``x`` (R, P) and their standard errors (NaN with one draw)."""
    R = x.shape[0]
    mean = x.mean(axis=0)
    se = x.std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else np.full(x.shape[1], np.nan)
    return mean, se


def _as_dict(pairs: list[tuple[int, int]], values: np.ndarray) -> dict[tuple[int, int], float]:
    return {p: float(x) for p, x in zip(pairs, values)}


# --------------------------------------------------------------------------- the shared base


class _PairProbe(Explainer):
    """Pair selection, the candidate first pass, the screen and the budget rules shared by the probes."""

    pairs: Any = "auto"
    candidates: Explanation | None = None
    top_k: int = 6
    screen: str = "interaction"
    max_players: int | None = None

    def _draw_cost(self, n_pairs: int, n_players_in_pairs: int) -> int:
        """Distinct coalitions one draw of every pair may need (worst case)."""
        return 4 * n_pairs

    def _pair_cost(self) -> int:
        """Distinct coalitions one draw of one more pair may need once the endpoint pass is known."""
        return 4

    def _fixed_cost(self, n: int) -> int:
        return _first_pass_cost(n) if (_is_mode(self.pairs, "candidates") and self.candidates is None) else 0

    def _screen_cost(self, n: int) -> int:
        """The smallest budget of the screen: the endpoint pass, the fewest rows and one draw of one pair."""
        return _first_pass_cost(n) + 2 * MIN_SCREEN_ROWS + self._pair_cost()

    def _mode(self, n: int, budget: int | None) -> str:
        """``"auto"`` resolved: every pair when the budget pays one draw of each (or is None), else the screen."""
        if not _is_mode(self.pairs, "auto"):
            return self.pairs if isinstance(self.pairs, str) else "list"
        if budget is None or budget >= self._draw_cost(_n_choose_2(n), n):
            return "all"
        return "screen"

    def min_budget(self, n_players: int, modality_of: np.ndarray | None = None) -> int:
        _check_common(self)
        if _is_mode(self.pairs, "auto"):
            return min(self._draw_cost(_n_choose_2(n_players), n_players), self._screen_cost(n_players))
        if _is_mode(self.pairs, "candidates"):
            k = min(int(self.top_k), n_players)
            return self._fixed_cost(n_players) + self._draw_cost(_n_choose_2(k), 2 * _n_choose_2(k))
        if _is_mode(self.pairs, "all"):
            return self._draw_cost(_n_choose_2(n_players), n_players)
        pairs = _pairs_for(self, n_players, None if modality_of is None else np.asarray(modality_of))
        if pairs is None:  # "cross" without the modalities: checked again in _explain
            return 4
        return self._draw_cost(len(pairs), len({x for p in pairs for x in p}))

    def _select(self, game: BudgetedGame, rng: np.random.Generator) -> tuple[list[tuple[int, int]], dict[str, Any]]:
        """Resolve the pairs (running the first pass or the screen if needed) and check the budget."""
        _check_common(self)
        n = game.n_players
        if n < 2:
            raise ExplainerError(f"n_players: the interaction probes need at least 2 players, got {n}")
        mode = self._mode(n, game.budget)
        info: dict[str, Any] = {"first_order": None, "first_order_source": None, "candidate_players": None,
                                "pair_mode": mode, "screen": None, "seen": np.empty((0, n), bool)}
        if mode == "screen":
            return self._screen(game, rng, info)
        if mode == "candidates":
            k = min(int(self.top_k), n)
            need = self._fixed_cost(n) + self._draw_cost(_n_choose_2(k), 2 * _n_choose_2(k))
            self._check_budget(game, need)
            if self.candidates is not None:
                if self.candidates.n_players != n:
                    raise ExplainerError(f"candidates: an explanation of {self.candidates.n_players} players, "
                                         f"but the game has {n}")
                score = np.abs(self.candidates.attributions)
                info["first_order"], info["first_order_source"] = self.candidates.attributions.copy(), "candidates"
            else:
                drop, gain = _first_pass(game)
                score = (np.abs(drop) + np.abs(gain)) / 2.0
                info["first_order"], info["first_order_source"] = (drop + gain) / 2.0, "first_pass"
                info["seen"] = _endpoint_coalitions(n)
            top = np.sort(np.argsort(-score, kind="stable")[:k])
            info["candidate_players"] = top.tolist()
            pairs = [(int(a), int(b)) for x, a in enumerate(top) for b in top[x + 1:]]
            return pairs, info
        pairs = _pairs_for(self, n, game.modality_of) if mode != "all" else _pairs_for_all(n)
        if not pairs:
            raise ExplainerError(f"pairs: {self.pairs!r} gives no pair on this game "
                                 f"({n} players in {len(set(game.modality_of.tolist()))} modality)")
        self._check_budget(game, self._draw_cost(len(pairs), len({x for p in pairs for x in p})))
        return pairs, info

    def _screen(self, game: BudgetedGame, rng: np.random.Generator,
                info: dict[str, Any]) -> tuple[list[tuple[int, int]], dict[str, Any]]:
        """The screen (module docstring): endpoint pass, screened players, pair regression."""
        n = game.n_players
        self._check_budget(game, self._screen_cost(n))
        drop, gain = _first_pass(game)
        cap = MAX_SCREEN_PLAYERS if self.max_players is None else int(self.max_players)
        players = _screen_players(drop, gain, self.screen, cap)
        left = int(game.remaining)
        max_rows = max(MIN_SCREEN_ROWS, min(int(SCREEN_REGRESSION_SHARE * left), left - self._pair_cost()) // 2)
        pairs: list[tuple[int, int]] = []
        bii: dict[tuple[int, int], float] = {}
        seen = _endpoint_coalitions(n)
        if len(players) >= 2:
            pairs, bii, rows = _pair_regression(game, rng, players, max_rows, self._pair_cost())
            seen = np.concatenate([seen, rows])
        info.update(first_order=(drop + gain) / 2.0, first_order_source="first_pass",
                    candidate_players=players.tolist(), seen=seen,
                    screen={"players": players.tolist(), "row_sums": drop - gain, "bii": bii,
                            "rows": (len(seen) - _first_pass_cost(n)) // 2})
        return pairs, info

    def _check_budget(self, game: BudgetedGame, need: int) -> None:
        if game.remaining is not None and game.remaining < need:
            raise BudgetError(f"budget: {type(self).__name__} needs at least {need} coalitions for these pairs "
                              f"on {game.n_players} players, got {game.budget}")

    def _max_rounds(self, game: BudgetedGame, n_pairs: int) -> int:
        if game.budget is None:
            return DEFAULT_DRAWS
        return max(1, min(int(game.budget), MAX_TOTAL_DRAWS // n_pairs))

    def _draws(self, game: BudgetedGame, rng: np.random.Generator, pairs: list[tuple[int, int]],
               info: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        return _sample_rounds(game, rng, pairs, self._max_rounds(game, len(pairs)), coalition_keys(info["seen"]))

    def _attributions(self, n: int, phi: np.ndarray, count: np.ndarray,
                      info: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
        """Pair-based estimates where a player is in a pair, else the first-order input, else 0."""
        covered = count > 0
        out = np.where(covered, phi, 0.0)
        source = np.where(covered, "pairs", "none").astype(object)
        if info["first_order"] is not None:
            out = np.where(covered, out, info["first_order"])
            source[~covered] = info["first_order_source"]
        return out, source.astype(str).tolist()

    def _common_extras(self, info: Mapping[str, Any]) -> dict[str, Any]:
        return {"pair_mode": info["pair_mode"], "candidate_players": info["candidate_players"],
                "screen": info["screen"]}

    def _no_pairs(self, n: int, info: Mapping[str, Any], extras: Mapping[str, Any]) -> Mapping[str, Any]:
        """The output when the screen keeps no pair: no interaction, the endpoint pass's first-order values."""
        attributions, source = self._attributions(n, np.zeros(n), np.zeros(n, dtype=np.int64), info)
        return {"attributions": attributions, "interactions": {},
                "extras": {**extras, "draws": 0, "stderr": {}, "attribution_source": source,
                           **self._common_extras(info)}}


# --------------------------------------------------------------------------- SII


class SIIProbe(_PairProbe):
    """Monte Carlo Shapley interaction index of player pairs (FL-I2MoE SII probe, reconstructed).

    For each pair, ``SII(i, j)`` is estimated by the mean of ``Δ_ij(S)`` over draws of a size
    ``s ~ U{0..n-2}`` and a uniform ``S`` of that size in ``N ∖ {i, j}`` — an unbiased estimator
    (``docs/reconstructions.md`` §6; the sampling shared across pairs is described in the module
    docstring). A positive value means the pair is worth more together than apart *in the
    direction the game is scored*; because a planted term's effect can have either sign, the
    sign-free reading is ``extras["oriented_sii"]`` (below): positive for synergy, negative
    for redundancy.

    Parameters
    ----------
    budget : int, optional
        The most distinct coalitions to evaluate. It is split evenly: every pair gets the same
        number of draws, as many rounds as fit (see the module docstring). At least
        ``4 · #pairs`` (plus ``2n + 2`` for the candidate first pass); with ``pairs="auto"`` at
        least ``min(4 · C(n, 2), 2n + 2 + 2 · MIN_SCREEN_ROWS + 4)``; else ExplainerError.
        None: ``DEFAULT_DRAWS`` (128) draws per pair, no cap.
    pairs : {"auto", "all", "cross", "candidates"} or list of (int, int)
        ``"auto"``: every pair when the budget pays one draw of each in the worst case
        (``4 · C(n, 2)``; through the shared rounds that is three to four draws; or when
        ``budget`` is None), else the screen of the module docstring (endpoint pass, screened
        players, pair regression) and draws of the pairs it keeps; ``"all"``: every pair;
        ``"cross"``: every pair whose players lie in different modalities; ``"candidates"``:
        every pair among the ``top_k`` players of a first-order explanation; or an explicit list
        (validated: players must exist).
    candidates : Explanation, optional
        With ``pairs="candidates"``: the first-order explanation whose ``top_k`` players by
        ``|attribution|`` are paired. When None, a first pass ranks the players by
        ``(|v(N) - v(N∖k)| + |v({k}) - v(∅)|) / 2`` (``2n + 2`` coalitions, charged to the
        budget): the leave-one-out drop sees synergistic players, the single-player gain sees
        redundant ones. Ignored for the other ``pairs`` modes.
    top_k : int
        The number of candidate players (``pairs="candidates"``); at least 2.
    screen : {"interaction", "effect"}
        The screen's player score (``pairs="auto"`` below ``4 · C(n, 2)``): ``"interaction"``,
        the SII row sum ``|v(N) - v(N∖k) - v({k}) + v(∅)|``; ``"effect"``, the candidate score
        above. Players scoring zero are dropped.
    max_players : int, optional
        The most players the screen keeps (at least 2); None: ``MAX_SCREEN_PLAYERS`` (128).
    random_state : int, optional
        Seeds the draws.

    Notes
    -----
    ``interactions`` holds the SII estimates. ``attributions`` are Shapley estimates from the
    same evaluations: each draw of pair ``(i, j)`` gives the unbiased estimate
    ``α·(v(S∪i) - v(S)) + (1-α)·(v(S∪ij) - v(S∪j))`` of ``φ_i`` with ``α = (n-1-s)/n`` (the
    Shapley weights of the coalitions ``S`` and ``S∪{j}``), averaged over every draw of every
    pair containing ``i``. A player in no pair gets the first-order input's value (candidate
    mode: the given explanation, or the first pass's ``(v(N) - v(N∖k) + v({k}) - v(∅)) / 2``,
    which is the Shapley value when the game has no interaction of order 3 or more), and 0
    otherwise: ``extras["attribution_source"]`` says which, per player (``"pairs"``,
    ``"candidates"``, ``"first_pass"`` or ``"none"``).

    ``extras``: ``draws`` (draws per pair, the same for all), ``stderr`` (``{pair: standard
    error of the SII estimate}``, NaN with one draw), ``oriented_sii`` (``{pair: mean of
    sign(J_ij(S)) · Δ_ij(S)}``, ``J_ij(S) = v(S∪ij) - v(S)``: the interaction measured against
    the pair's joint effect), ``attribution_source``, ``candidate_players`` (candidate mode
    and the screen: the players paired), ``pair_mode`` (``"all"``, ``"cross"``,
    ``"candidates"``, ``"list"`` or ``"screen"``: what was done, ``"auto"`` resolved) and
    ``screen`` (None unless screened: ``players``, ``row_sums`` — every player's
    ``v(N) - v(N∖k) - v({k}) + v(∅) = Σ_j SII(k, j)`` —, ``bii`` — ``{kept pair: the
    regression's BII estimate}`` — and ``rows``, the complementary pairs drawn).

    With the screen, the pairs not kept are not in ``interactions``; an empty screen (no
    player with a non-zero score, or no pair in the regression) gives no interaction at all.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers.interactions import SIIProbe
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = SIIProbe(budget=40, pairs=[(0, 1), (1, 2)]).explain(game, n_players=4)
    >>> e.interactions, e.extras["draws"], e.n_queries <= 40
    ({(0, 1): 2.0, (1, 2): 0.0}, 40, True)
    >>> float(e.attributions[2]), e.extras["attribution_source"]
    (1.0, ['pairs', 'pairs', 'pairs', 'none'])

    On 40 players a budget of 240 is far below ``4 · C(40, 2) = 3120``: the default screens.

    >>> game = lambda c: 2.0 * c[:, 3] * c[:, 17] + 1.0 * (c[:, 5] | c[:, 30]) + c[:, 9]
    >>> e = SIIProbe(budget=240).explain(game, n_players=40)
    >>> e.extras["pair_mode"], e.extras["candidate_players"], e.interactions, e.n_queries <= 240
    ('screen', [3, 5, 17, 30], {(3, 17): 2.0, (5, 30): -1.0}, True)
    """

    name = "sii-probe"
    #: Estimated pairwise SII (attributions: Shapley estimates, see ``attribution_source``).
    target_index = "SII"

    def __init__(self, budget: int | None = None, pairs: Any = "auto", candidates: Explanation | None = None,
                 top_k: int = 6, screen: str = "interaction", max_players: int | None = None,
                 random_state: int | None = 0) -> None:
        self.budget = budget
        self.pairs = pairs
        self.candidates = candidates
        self.top_k = top_k
        self.screen = screen
        self.max_players = max_players
        self.random_state = random_state

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        pairs, info = self._select(game, rng)
        if not pairs:
            return self._no_pairs(game.n_players, info, {"oriented_sii": {}})
        v, s = self._draws(game, rng, pairs, info)
        delta = v[:, :, 3] - v[:, :, 2] - v[:, :, 1] + v[:, :, 0]
        joint = v[:, :, 3] - v[:, :, 0]
        sii, se = _mean_and_se(delta)
        oriented = (np.sign(joint) * delta).mean(axis=0)
        phi, count = _shapley_from_draws(v, s, game.n_players, pairs)
        attributions, source = self._attributions(game.n_players, phi, count, info)
        extras = {"draws": int(v.shape[0]), "stderr": _as_dict(pairs, se), "oriented_sii": _as_dict(pairs, oriented),
                  "attribution_source": source, **self._common_extras(info)}
        return {"attributions": attributions, "interactions": _as_dict(pairs, sii), "extras": extras}


# --------------------------------------------------------------------------- redundancy gap


class RedundancyGap(_PairProbe):
    """Redundancy-gap score of player pairs (FL-I2MoE, reconstructed): high for substitutable pairs.

    ``docs/reconstructions.md`` §7 leaves the definition open; three forms are offered, with
    ``Δ_ij(S)`` and ``J_ij(S) = v(S ∪ {i,j}) - v(S)`` as in the module docstring and ``S`` drawn
    as for the SII (``s ~ U{0..n-2}``, ``S`` uniform of size ``s`` in ``N ∖ {i, j}``):

    - ``"oriented"`` (default): ``RG(i, j) = E_S[max(0, -sign(J_ij(S)) · Δ_ij(S))]``. A pair is
      redundant at ``S`` when its interaction *opposes* its joint effect (each player alone
      already does what the two do together: ``Δ ≈ -J``); for a synergistic pair ``Δ`` has the
      sign of ``J`` and for additive pairs ``Δ = 0``, so both score 0 whatever the sign of the
      effect. When the joint effect is positive (e.g. a target probability that the features
      raise) this is form (b).
    - ``"mc"``: form (b) of the notes, literally ``RG(i, j) = E_S[max(0, -Δ_ij(S))]``. It
      assumes positive effects: a synergistic pair with a *negative* joint effect scores
      ``|Δ|`` and a redundant pair with a negative effect scores 0.
    - ``"removal"``: form (a), from the full input only:
      ``RG(i, j) = [v(N) - v(N∖ij)] - max(v(N) - v(N∖i), v(N) - v(N∖j))`` (deterministic;
      ``1 + #players + #pairs`` coalitions). It too assumes positive effects, and scores two
      additive players with drops of the same sign ``min`` of the drops.

    On planted games the oriented form separates the planted redundant pairs from synergistic
    (product, xor, 3-way), unique and distractor pairs: AUROC 1 counting a redundant pair where
    its ``|SII| > 0.05`` (copies of a latent near 0, whose spread flips a sign, or a copy on a
    neutral token leave nothing to substitute, and score about 0); the literal forms reach
    AUROC 0.5-0.8 (see ``tests/test_interaction_probes.py``). The MC forms estimate the
    expectations written above (the clip is applied per draw).

    Parameters
    ----------
    budget : int, optional
        As for :class:`SIIProbe` (``"removal"``: at least ``1 + #players in pairs + #pairs``;
        the screen then charges 1 coalition, ``v(N ∖ {i, j})``, per kept pair instead of 4).
    pairs : {"auto", "all", "cross", "candidates"} or list of (int, int)
        As for :class:`SIIProbe` (``"auto"`` with the threshold of the form: every pair when the
        budget pays ``4 · C(n, 2)``, for ``"removal"`` ``1 + n + C(n, 2)``).
    form : {"oriented", "mc", "removal"}
        The definition (above).
    candidates : Explanation, optional
        As for :class:`SIIProbe`.
    top_k : int
        As for :class:`SIIProbe`.
    screen : {"interaction", "effect"}
        As for :class:`SIIProbe`.
    max_players : int, optional
        As for :class:`SIIProbe`.
    random_state : int, optional
        Seeds the draws (``"removal"``: only the screen's).

    Notes
    -----
    ``interactions`` holds the RG scores. ``attributions``: the MC forms give the Shapley
    estimates of :class:`SIIProbe` from the same evaluations; ``"removal"`` gives the
    leave-one-out drop ``v(N) - v(N∖i)`` (not a Shapley value). Players in no pair as for
    :class:`SIIProbe` (``extras["attribution_source"]``). ``extras``: ``form``, ``draws``,
    ``stderr`` (MC forms), ``sii`` (MC forms: the SII estimates, free from the same draws),
    ``attribution_source``, ``candidate_players``, ``pair_mode`` and ``screen`` (as for
    :class:`SIIProbe`; the screen keeps pairs by the regression's ``|BII|``, whatever their
    kind, and the gap then tells the redundant ones apart).

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers.interactions import RedundancyGap
    >>> # players 0 and 1 are copies (max), 2 and 3 a synergy with a negative effect
    >>> game = lambda c: 1.0 * (c[:, 0] | c[:, 1]) - 1.0 * (c[:, 2] & c[:, 3])
    >>> e = RedundancyGap(budget=200, pairs=[(0, 1), (2, 3), (0, 2)]).explain(game, n_players=4)
    >>> e.interactions
    {(0, 1): 1.0, (2, 3): 0.0, (0, 2): 0.0}
    >>> RedundancyGap(budget=200, pairs=[(0, 1), (2, 3)], form="mc").explain(game, n_players=4).interactions
    {(0, 1): 1.0, (2, 3): 1.0}
    """

    name = "redundancy-gap"
    #: A redundancy score per pair (validators rank it as a score, never compare it with SII).
    target_index = "RG"

    def __init__(self, budget: int | None = None, pairs: Any = "auto", form: str = "oriented",
                 candidates: Explanation | None = None, top_k: int = 6, screen: str = "interaction",
                 max_players: int | None = None, random_state: int | None = 0) -> None:
        self.budget = budget
        self.pairs = pairs
        self.form = form
        self.candidates = candidates
        self.top_k = top_k
        self.screen = screen
        self.max_players = max_players
        self.random_state = random_state

    def _check_form(self) -> None:
        check_choice("form", self.form, RG_FORMS, expected=f"one of {RG_FORMS}")

    def _draw_cost(self, n_pairs: int, n_players_in_pairs: int) -> int:
        if self.form == "removal":
            return 1 + n_players_in_pairs + n_pairs
        return 4 * n_pairs

    def _pair_cost(self) -> int:
        return 1 if self.form == "removal" else 4

    def min_budget(self, n_players: int, modality_of: np.ndarray | None = None) -> int:
        self._check_form()
        return super().min_budget(n_players, modality_of)

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        self._check_form()
        pairs, info = self._select(game, rng)
        n = game.n_players
        if not pairs:
            return self._no_pairs(n, info, {"form": self.form} if self.form == "removal"
                                  else {"form": self.form, "sii": {}})
        if self.form == "removal":
            return self._removal(game, pairs, info)
        v, s = self._draws(game, rng, pairs, info)
        delta = v[:, :, 3] - v[:, :, 2] - v[:, :, 1] + v[:, :, 0]
        if self.form == "oriented":
            gap = np.maximum(0.0, -np.sign(v[:, :, 3] - v[:, :, 0]) * delta)
        else:
            gap = np.maximum(0.0, -delta)
        rg, se = _mean_and_se(gap)
        phi, count = _shapley_from_draws(v, s, n, pairs)
        attributions, source = self._attributions(n, phi, count, info)
        extras = {"form": self.form, "draws": int(v.shape[0]), "stderr": _as_dict(pairs, se),
                  "sii": _as_dict(pairs, delta.mean(axis=0)), "attribution_source": source,
                  **self._common_extras(info)}
        return {"attributions": attributions, "interactions": _as_dict(pairs, rg), "extras": extras}

    def _removal(self, game: BudgetedGame, pairs: list[tuple[int, int]], info: Mapping[str, Any]) -> Mapping[str, Any]:
        n = game.n_players
        players = np.array(sorted({x for p in pairs for x in p}), dtype=np.int64)
        pi = np.array([p[0] for p in pairs], dtype=np.int64)
        pj = np.array([p[1] for p in pairs], dtype=np.int64)
        singles = np.ones((len(players), n), bool)
        singles[np.arange(len(players)), players] = False
        doubles = np.ones((len(pairs), n), bool)
        doubles[np.arange(len(pairs)), pi] = False
        doubles[np.arange(len(pairs)), pj] = False
        v = game(np.concatenate([np.ones((1, n), bool), singles, doubles]))
        full = v[0]
        drop = np.zeros(n)
        drop[players] = full - v[1:1 + len(players)]
        joint = full - v[1 + len(players):]
        rg = joint - np.maximum(drop[pi], drop[pj])
        count = np.zeros(n, dtype=np.int64)
        count[players] = 1
        attributions, source = self._attributions(n, drop, count, info)
        extras = {"form": "removal", "draws": 1, "attribution_source": source, **self._common_extras(info)}
        return {"attributions": attributions, "interactions": _as_dict(pairs, rg), "extras": extras}
