"""KernelSHAP: Shapley values as the constrained weighted least-squares fit of Lundberg & Lee (2017).

The estimator follows shap's ``KernelExplainer`` (shap/explainers/_kernel.py):

1. **Shapley kernel.** A proper coalition ``S`` (``0 < |S| < n``) has weight
   ``π(S) = (n-1) / (C(n,|S|) |S| (n-|S|))``; the size ``s`` as a whole carries the mass
   ``(n-1) / (s (n-s))``. The masses are normalised to sum to 1 over ``s = 1..n-1``.
2. **Complete sizes first.** Sizes are visited from the outside in, each small size ``s`` together
   with its complement size ``n-s``. A size pair is *enumerated* (all its coalitions, each with its
   exact kernel weight) while the samples left, times the pair's share of the weight left, cover
   its ``2 C(n,s)`` coalitions (shap's rule, tolerance ``1e-8``).
3. **Sampling the rest.** The remaining sizes are drawn with probability proportional to their
   kernel mass, then a uniform coalition of that size. With ``paired=True`` each draw of a size
   ``s < n/2`` also adds its complement (antithetic / paired sampling); a coalition drawn again is
   not evaluated again but its weight is incremented. The sampled weights are finally rescaled to
   the kernel mass of the sizes not enumerated.
4. **Constrained regression.** ``φ`` minimises ``Σ_S w(S) (v(S) - v(∅) - Σ_{i∈S} φ_i)^2`` subject
   to ``Σ_i φ_i = v(N) - v(∅)`` (efficiency, exact): the last variable is eliminated and the
   rest solved by least squares (``numpy.linalg.lstsq``, minimum-norm when the sampled design is
   rank deficient).

With every coalition in the budget (``budget >= 2^n``) all sizes are enumerated and the solution
*is* the Shapley value (the Shapley kernel's defining property), up to rounding.

Departures from shap, all deliberate: no L1 feature selection (shap's ``l1_reg="auto"`` runs a
LassoLarsIC screen when fewer than 20% of the coalitions are evaluated; here it is the plain
Lundberg & Lee estimator), and the budget counts ``v(∅)`` and ``v(N)`` as queries (shap's
``nsamples`` does not): ``budget - 2`` coalitions go into the regression.
"""

from __future__ import annotations

import itertools
from math import comb
from typing import Any, Mapping

import numpy as np

from mxbench.explainers.base import BudgetedGame, Explainer, coalition_keys, full_and_empty
from mxbench.explainers.params import check_bool

#: Sampling rounds tried before giving up on filling the budget with distinct coalitions.
MAX_ROUNDS = 64


def shapley_kernel(n_players: int) -> np.ndarray:
    """The Shapley kernel's mass per coalition size ``s = 1..n-1``, normalised to sum to 1.

    Size ``s`` holds ``C(n, s)`` coalitions of kernel weight ``(n-1) / (C(n,s) s (n-s))`` each, so
    its mass is ``(n-1) / (s (n-s))`` before normalisation.

    Parameters
    ----------
    n_players : int
        The number of players (at least 2).

    Returns
    -------
    ndarray of float64, shape (n_players - 1,)
        Entry ``s - 1`` is the mass of size ``s``.

    Examples
    --------
    >>> shapley_kernel(4).round(4).tolist()
    [0.3636, 0.2727, 0.3636]
    """
    s = np.arange(1, n_players, dtype=np.float64)
    mass = (n_players - 1) / (s * (n_players - s))
    return mass / mass.sum()


def _all_of_size(n: int, s: int) -> np.ndarray:
    """All ``C(n, s)`` coalitions of size ``s``, shape ``(C(n,s), n)``."""
    idx = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), s)), dtype=np.int64,
                      count=comb(n, s) * s).reshape(-1, s)
    out = np.zeros((idx.shape[0], n), dtype=bool)
    out[np.arange(idx.shape[0])[:, None], idx] = True
    return out


def plan_sizes(n_players: int, n_samples: int) -> int:
    """How many size pairs ``(s, n-s)``, from the outside in, ``n_samples`` coalitions enumerate.

    shap's rule: size pair ``s`` is enumerated while ``left * share_s / count_s >= 1 - 1e-8``,
    where ``left`` is the number of samples not yet spent, ``share_s`` the pair's kernel mass as a
    share of the mass not yet enumerated and ``count_s`` its number of coalitions (``2 C(n,s)``,
    or ``C(n, n/2)`` for the middle size of an even ``n``). When the samples left cover every
    coalition not enumerated, everything is enumerated.

    Parameters
    ----------
    n_players : int
        The number of players (at least 2).
    n_samples : int
        The proper coalitions (``0 < |S| < n``) the regression may use.

    Returns
    -------
    int
        The number of enumerated size pairs; ``ceil((n-1)/2)`` means all of them.

    Examples
    --------
    >>> plan_sizes(10, 20), plan_sizes(10, 200), plan_sizes(10, 1022)
    (0, 1, 5)
    """
    n = n_players
    n_sizes, n_paired = n // 2, (n - 1) // 2  # ceil((n-1)/2) size pairs, of which floor((n-1)/2) two-sided
    kernel = shapley_kernel(n)
    pair_mass = kernel[:n_sizes] + np.where(np.arange(1, n_sizes + 1) <= n_paired, kernel[::-1][:n_sizes], 0.0)
    counts = [comb(n, s) * (2 if s <= n_paired else 1) for s in range(1, n_sizes + 1)]
    left, share, n_full = n_samples, pair_mass.copy(), 0
    for s in range(1, n_sizes + 1):
        if left * share[s - 1] / counts[s - 1] >= 1.0 - 1e-8:
            n_full += 1
            left -= counts[s - 1]
            if share[s - 1] < 1.0:
                share = share / (1.0 - share[s - 1])
        else:
            break
    if left >= sum(counts[n_full:]):
        n_full = n_sizes
    return n_full


def _sample(n: int, sizes: np.ndarray, probs: np.ndarray, with_complement: np.ndarray, n_needed: int,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw distinct coalitions (plus complements where ``with_complement``) until ``n_needed``.

    Returns the coalitions ``(m, n)`` and their draw counts ``(m,)`` (a complement shares the count
    of the coalition it was drawn with). Vectorised by rounds: each round draws ``4 * needed``
    coalitions, keeps the draws up to the one that fills the budget, and counts repeats.
    """
    seen = coalition_keys(np.empty((0, n), dtype=bool))
    masks: list[np.ndarray] = []
    counts = np.zeros(0, dtype=np.float64)
    comp: list[np.ndarray] = []
    need = n_needed
    for _ in range(MAX_ROUNDS):
        if need <= 0:
            break
        k = 4 * need
        s = sizes[rng.choice(sizes.shape[0], size=k, p=probs)]
        u = rng.random((k, n))
        thr = np.sort(u, axis=1)[np.arange(k), s - 1]
        draws = u <= thr[:, None]
        m0 = seen.shape[0]
        _, first, inv = np.unique(np.concatenate([seen, coalition_keys(draws)]), return_index=True, return_inverse=True)
        inv = inv.ravel()[m0:]
        is_new = first[inv] == m0 + np.arange(k)  # first occurrence of a key never accepted before
        pair = with_complement[np.searchsorted(sizes, s)]
        cost = is_new * (1 + pair)
        cum = np.cumsum(cost)
        cut = int(np.searchsorted(cum, need)) if cum[-1] >= need else k - 1
        used = np.arange(k) <= cut
        new_draws = np.flatnonzero(is_new & used)
        # ids: old keys -> their accepted position; new keys -> m0, m0+1, ... in order of first draw
        ident = np.full(first.shape[0], -1, dtype=np.int64)
        old = first < m0
        ident[old] = first[old]
        ident[inv[new_draws]] = m0 + np.arange(new_draws.shape[0])
        ids = ident[inv[used]]
        counts = np.concatenate([counts, np.zeros(new_draws.shape[0])])
        counts += np.bincount(ids, minlength=counts.shape[0])
        c = pair[new_draws].copy()
        spent = int(cost[new_draws].sum())
        if spent > need:  # the last new draw's complement does not fit
            c[-1] = False
            spent -= 1
        need -= spent
        seen = np.concatenate([seen, coalition_keys(draws[new_draws])])
        masks.append(draws[new_draws])
        comp.append(c)
    if not masks:
        return np.zeros((0, n), dtype=bool), np.zeros(0)
    base = np.concatenate(masks)
    c = np.concatenate(comp)
    return np.concatenate([base, ~base[c]]), np.concatenate([counts, counts[c]])


def solve_constrained(masks: np.ndarray, weights: np.ndarray, y: np.ndarray, total: float) -> np.ndarray:
    """Weighted least squares ``y ≈ masks @ φ`` subject to ``Σ φ = total`` (last variable eliminated).

    Parameters
    ----------
    masks : ndarray of bool, shape (m, n)
        The coalitions.
    weights : ndarray of float, shape (m,)
        Their non-negative weights.
    y : ndarray of float, shape (m,)
        ``v(S) - v(∅)``.
    total : float
        ``v(N) - v(∅)``.

    Returns
    -------
    ndarray of float64, shape (n,)
        The solution; its sum is ``total`` up to rounding. Minimum-norm when rank deficient.

    Examples
    --------
    >>> import numpy as np
    >>> masks = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=bool)
    >>> phi = solve_constrained(masks, np.ones(4), masks @ np.array([1.0, 2.0, -1.0]), 2.0)
    >>> phi.round(12).tolist()
    [1.0, 2.0, -1.0]
    """
    x = masks.astype(np.float64)
    n = x.shape[1]
    if n == 1:
        return np.array([float(total)])
    z = x[:, :-1] - x[:, -1:]
    t = y - x[:, -1] * total
    # Normal equations: an (n-1) x (n-1) system, solved minimum-norm when singular (the same minimiser
    # as the tall problem). The Shapley-kernel Gram matrix is well conditioned (condition number n
    # when every coalition is used). einsum keeps the (m, n-1) products off multi-threaded BLAS,
    # which is many times slower than a single thread on a busy machine.
    zw = z * weights[:, None]
    gram, rhs = np.einsum("ki,kj->ij", zw, z), np.einsum("ki,k->i", zw, t)
    beta = np.linalg.lstsq(gram, rhs, rcond=None)[0] if z.shape[0] else np.zeros(n - 1)
    return np.append(beta, total - beta.sum())


class KernelSHAP(Explainer):
    """KernelSHAP with paired sampling and exact efficiency (Lundberg & Lee 2017; shap's KernelExplainer).

    Complete coalition sizes are enumerated from the outside in while the budget covers them,
    the remaining sizes are sampled (paired: each coalition with its complement), and the Shapley
    kernel-weighted regression is solved under the constraint ``Σ φ_i = v(N) - v(∅)``; see the
    module docstring for the algorithm and how it differs from shap. With ``budget >= 2^n`` every
    coalition is enumerated and the result is the exact Shapley value.

    Parameters
    ----------
    budget : int, optional
        Distinct coalitions to evaluate, ``v(∅)`` and ``v(N)`` included (at least ``2n`` with paired
        sampling, ``n + 1`` without). Default: shap's ``nsamples = 2n + 2048``.
    paired : bool
        Add the complement of every sampled coalition (antithetic sampling), as shap does.
    random_state : int or None
        Seed of the sampling.

    Examples
    --------
    >>> import numpy as np
    >>> from mxbench.explainers.kernelshap import KernelSHAP
    >>> game = lambda c: 2.0 * c[:, 0] * c[:, 1] + c[:, 2]
    >>> e = KernelSHAP().explain(game, n_players=3)        # 2n + 2048 >= 2^3: exact
    >>> e.attributions.round(12).tolist(), e.n_queries
    ([1.0, 1.0, 1.0], 8)
    >>> e = KernelSHAP(budget=40, random_state=1).explain(lambda c: c @ np.arange(8.0), n_players=8)
    >>> e.attributions.round(9).tolist(), e.n_queries       # additive games are fitted exactly
    ([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 40)
    """

    name = "kernelshap"
    #: The Shapley value.
    target_index = "SV"
    #: What :func:`mxbench.testing.check_explainer` checks by default besides budget and determinism.
    claims = ('linearity',)
    efficient = True

    def __init__(self, budget: int | None = None, paired: bool = True, random_state: int | None = 0) -> None:
        self.budget = budget
        self.paired = paired
        self.random_state = random_state

    def default_budget(self, n_players: int) -> int:
        """shap's default ``nsamples = 2n + 2048`` (never more than the ``2^n`` coalitions there are).

        Examples
        --------
        >>> from mxbench.explainers.kernelshap import KernelSHAP
        >>> KernelSHAP().default_budget(12), KernelSHAP().default_budget(5)
        (2072, 32)
        """
        return min(2 * n_players + 2048, 2**n_players)

    def min_budget(self, n_players: int) -> int:
        """``v(∅)``, ``v(N)`` and ``n - 1`` regression rows (``n - 1`` complement pairs when paired).

        Examples
        --------
        >>> from mxbench.explainers.kernelshap import KernelSHAP
        >>> KernelSHAP().min_budget(6), KernelSHAP(paired=False).min_budget(6)
        (12, 7)
        """
        return min(2 * n_players if self.paired else n_players + 1, 2**n_players)

    def _explain(self, game: BudgetedGame, rng: np.random.Generator) -> Mapping[str, Any]:
        check_bool("paired", self.paired)
        n = game.n_players
        n_samples = min(game.remaining, 2**n) - 2
        n_sizes = n // 2  # size pairs (s, n - s), s = 1..ceil((n-1)/2)
        n_full = plan_sizes(n, n_samples) if n > 1 else 0
        kernel = shapley_kernel(n) if n > 1 else np.zeros(0)

        parts, weights = [full_and_empty(n)], [np.zeros(2)]
        for s in range(1, n_full + 1):
            block = _all_of_size(n, s)
            sizes = (s,) if 2 * s == n else (s, n - s)
            for size, b in zip(sizes, (block, ~block)):
                parts.append(b)
                weights.append(np.full(b.shape[0], kernel[size - 1] / comb(n, size)))
        n_sampled = 0
        if n_full < n_sizes:
            left = n_samples - sum(p.shape[0] for p in parts[1:])
            if self.paired:
                sizes = np.arange(n_full + 1, n_sizes + 1)
                with_complement = 2 * sizes < n
            else:
                sizes = np.arange(n_full + 1, n - n_full)
                with_complement = np.zeros(sizes.shape[0], dtype=bool)
            probs = kernel[sizes - 1] / kernel[sizes - 1].sum()
            masks, counts = _sample(n, sizes, probs, with_complement, left, rng)
            if masks.shape[0]:
                mass_left = kernel[n_full:n - 1 - n_full].sum()
                parts.append(masks)
                weights.append(counts * (mass_left / counts.sum()))
            n_sampled = masks.shape[0]
        coalitions = np.concatenate(parts)
        values = game(coalitions)
        empty, full = float(values[0]), float(values[1])
        phi = solve_constrained(coalitions[2:], np.concatenate(weights)[2:], values[2:] - empty, full - empty)
        return {"attributions": phi,
                "extras": {"empty": empty, "full": full, "enumerated_size_pairs": int(n_full),
                           "n_enumerated": int(coalitions.shape[0] - 2 - n_sampled), "n_sampled": int(n_sampled)}}
