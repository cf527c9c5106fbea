"""Shared machinery of the surrogate explainers (LIME, LEMON): mask sampling, the LIME kernel,
weighted ridge, and a FISTA solver for the weighted sparse group lasso.

Notation: ``X`` is the ``(N, n)`` 0/1 design (one row per sampled coalition), ``y`` the game's
values on those rows, ``w`` the sample weights (the kernel). The weighted sparse group lasso
(Simon, Friedman, Hastie & Tibshirani 2013) solved here is

.. math::

    \\min_{\\beta_0, \\beta}\\; \\frac{1}{2} \\sum_i \\bar w_i (y_i - \\beta_0 - x_i^\\top\\beta)^2
    + \\lambda \\Big[(1-\\alpha) \\sum_g \\sqrt{d_g}\\, \\lVert\\beta_g\\rVert_2 + \\alpha \\lVert\\beta\\rVert_1\\Big],

with ``w̄ = w / Σ w`` (weights normalised to sum to one, so ``λ`` does not depend on the
number of samples; with ``α = 1`` it is scikit-learn's ``Lasso(alpha=λ)`` fitted with
``sample_weight=w``). The intercept is not penalised: the problem is solved on the weighted-centred
design and ``β0 = ȳ - x̄ᵀβ``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from mxbench.errors import ExplainerError
from mxbench.explainers.base import coalition_keys


# --------------------------------------------------------------------------- kernel


def cosine_distance_to_full(coalitions: np.ndarray) -> np.ndarray:
    """Cosine distance between each 0/1 mask and the all-ones mask: ``1 - sqrt(|S| / n)``.

    This is the distance the ``lime`` package uses for images and text (there the all-ones
    row is the unperturbed instance); the empty mask is at distance 1.

    Parameters
    ----------
    coalitions : ndarray of bool, shape (B, n)

    Returns
    -------
    ndarray of float64, shape (B,)

    Examples
    --------
    >>> import numpy as np
    >>> cosine_distance_to_full(np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)).tolist()
    [0.0, 0.5, 1.0]
    """
    c = np.asarray(coalitions)
    return 1.0 - np.sqrt(c.sum(axis=1) / c.shape[1])


def lime_kernel(distances: np.ndarray, kernel_width: float) -> np.ndarray:
    """The ``lime`` package's exponential kernel ``sqrt(exp(-d² / width²))``.

    Parameters
    ----------
    distances : ndarray of float
    kernel_width : float
        ``lime`` uses 0.25 on the cosine distance for images (and 25 on 100 × the cosine
        distance for text, the same kernel).

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> import numpy as np
    >>> lime_kernel(np.array([0.0, 0.25]), 0.25).round(4).tolist()
    [1.0, 0.6065]
    """
    d = np.asarray(distances, dtype=np.float64)
    return np.sqrt(np.exp(-(d**2) / kernel_width**2))


# --------------------------------------------------------------------------- sampling


def lime_masks(n_players: int, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """LIME's text sampler: row 0 is the full coalition; every other row removes ``k`` players
    chosen uniformly at random, ``k`` uniform on ``1..n``.

    Parameters
    ----------
    n_players, n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of bool, shape (n_samples, n_players)

    Examples
    --------
    >>> import numpy as np
    >>> m = lime_masks(5, 4, np.random.default_rng(0))
    >>> m.shape, bool(m[0].all()), bool((m[1:].sum(axis=1) < 5).all())
    ((4, 5), True, True)
    """
    k = rng.integers(1, n_players + 1, size=n_samples)  # players removed
    ranks = rng.random((n_samples, n_players)).argsort(axis=1).argsort(axis=1)
    out = ranks >= k[:, None]
    out[0] = True
    return out


def modality_masks(modality_of: np.ndarray, n_modalities: int, n_samples: int, rng: np.random.Generator,
                   whole_rate: float) -> np.ndarray:
    """Modality-aware masks: per sample and modality, the modality is wholly on or off (each with
    probability ``whole_rate / 2``), or its players are kept independently at a keep rate drawn
    uniformly on ``(0, 1)`` for that sample and modality.

    Parameters
    ----------
    modality_of : ndarray of int, shape (n,)
    n_modalities, n_samples : int
    rng : numpy.random.Generator
    whole_rate : float
        Probability that a modality is wholly on or off in a sample.

    Returns
    -------
    ndarray of bool, shape (n_samples, n)

    Examples
    --------
    >>> import numpy as np
    >>> m = modality_masks(np.array([0, 0, 0, 1, 1]), 2, 1000, np.random.default_rng(0), 1.0)
    >>> bool(np.all(m[:, :3].all(axis=1) | ~m[:, :3].any(axis=1)))   # every modality whole
    True
    """
    rate = rng.random((n_samples, n_modalities))
    whole = rng.random((n_samples, n_modalities)) < whole_rate
    on = rng.random((n_samples, n_modalities)) < 0.5
    rate = np.where(whole, on.astype(np.float64), rate)
    return rng.random((n_samples, len(modality_of))) < rate[:, modality_of]


def ends_masks(n_players: int, n_samples: int, set_size: int, rng: np.random.Generator,
               spread: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Masks near both ends of the lattice: each sample draws a set ``R`` of ``k`` players
    uniformly, ``k = set_size``, or with ``spread`` uniform on ``1 .. 2·set_size - 1`` (mean
    ``set_size``), and at most ``(n - 1) // 2``; even rows insert ``R`` into the empty coalition (the coalition is ``R``),
    odd rows remove it from the full one (the coalition is ``N ∖ R``). So a row of more than
    ``n / 2`` players is always a removal.

    Parameters
    ----------
    n_players, n_samples, set_size : int
    rng : numpy.random.Generator
    spread : bool
        Vary the set size around ``set_size`` (for games too small to hold enough distinct sets
        of one size).

    Returns
    -------
    coalitions : ndarray of bool, shape (n_samples, n_players)
    removed : ndarray of bool, shape (n_samples,)
        True where the row removes ``R`` from the full coalition.

    Examples
    --------
    >>> import numpy as np
    >>> c, removed = ends_masks(6, 4, 1, np.random.default_rng(0))
    >>> c.sum(axis=1).tolist(), removed.tolist()
    ([1, 5, 1, 5], [False, True, False, True])
    """
    top = max(1, min(2 * set_size - 1, (n_players - 1) // 2))
    k = np.full(n_samples, min(set_size, top)) if spread is False else rng.integers(1, top + 1, size=n_samples)
    keys = rng.random((n_samples, n_players))
    # the `top` players of smallest key (argpartition: linear time), then the k smallest of them
    part = np.argpartition(keys, top - 1, axis=1)[:, :top] if top < n_players else np.tile(np.arange(n_players), (n_samples, 1))
    order = np.take_along_axis(part, np.take_along_axis(keys, part, axis=1).argsort(axis=1, kind="stable"), axis=1)
    chosen = np.zeros((n_samples, n_players), dtype=bool)
    take = np.arange(order.shape[1])[None, :] < k[:, None]
    chosen[np.repeat(np.arange(n_samples), take.sum(axis=1)), order[take]] = True
    removed = np.arange(n_samples) % 2 == 1
    return np.where(removed[:, None], ~chosen, chosen), removed


def balanced_sets(n_players: int, pool: np.ndarray, n_samples: int, set_size: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` sets of ``set_size`` players of ``pool``, each player as often as any other.

    The sets are consecutive blocks of ``set_size`` players of a stream of random permutations
    of ``pool``, so every player takes the same number of places in the stream, give or take
    one (a set that straddles two permutations may draw a player twice and then holds fewer
    players, so a player's count of sets can fall a little short of its places): none is
    left out by chance, as a quarter of the players are when ``n`` sets of ``√n / 2`` players
    are drawn independently.

    Parameters
    ----------
    n_players : int
        Columns of the result.
    pool : ndarray of int
        The players to draw from (at least one).
    n_samples, set_size : int
        Rows, and players per row (at most ``len(pool)``).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of bool, shape (n_samples, n_players)

    Examples
    --------
    >>> import numpy as np
    >>> sets = balanced_sets(6, np.arange(6), 6, 2, np.random.default_rng(0))
    >>> sets.sum(axis=1).tolist(), sets.sum(axis=0).tolist()
    ([2, 2, 2, 2, 2, 2], [2, 2, 2, 2, 2, 2])
    """
    pool = np.asarray(pool, dtype=np.int64)
    r = max(1, min(int(set_size), len(pool)))
    per_perm = len(pool) / r
    count = int(math.ceil(n_samples / per_perm)) + 1
    stream = pool[np.argsort(rng.random((count, len(pool))), axis=1)].ravel()[:n_samples * r]
    out = np.zeros((n_samples, n_players), dtype=bool)
    out[np.arange(n_samples)[:, None], stream.reshape(n_samples, r)] = True
    return out


def fill_budget(draw: Callable[[int], np.ndarray], fixed: np.ndarray, n_distinct: int,
                max_draws: int) -> np.ndarray:
    """Draw masks until the sample (after ``fixed``) holds ``n_distinct`` distinct coalitions.

    Batches from ``draw(k)`` are appended; the result is cut just before the first row that
    would make the distinct count exceed ``n_distinct``, and drawing stops after ``max_draws``
    rows or once every coalition has been drawn. Repeated coalitions stay in the
    sample (they are repeated draws of the sampling distribution and cost no query).

    Parameters
    ----------
    draw : callable
        ``draw(k) -> bool[k, n]``.
    fixed : ndarray of bool, shape (F, n)
        Rows that come first (e.g. the whole-modality coalitions).
    n_distinct : int
        The most distinct coalitions in the result (``fixed`` included).
    max_draws : int
        The most rows drawn.

    Returns
    -------
    ndarray of bool, shape (F + k, n)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> out = fill_budget(lambda k: rng.random((k, 3)) < 0.5, np.zeros((1, 3), bool), 5, 1000)
    >>> len(np.unique(out, axis=0))
    5
    """
    rows = [np.asarray(fixed, dtype=bool)]
    n = rows[0].shape[1]
    space = 2**n if n < 62 else np.inf
    drawn = 0
    while True:
        allrows = np.concatenate(rows)
        keys = coalition_keys(allrows)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        is_new = first[inverse.ravel()] == np.arange(len(keys))
        count = np.cumsum(is_new)
        total = int(count[-1]) if len(count) else 0
        if total > n_distinct:
            return allrows[:int(np.searchsorted(count, n_distinct + 1))]
        if total == n_distinct or total == space or drawn >= max_draws:
            return allrows
        k = int(min(max(2 * (n_distinct - total), 64), max_draws - drawn))
        rows.append(np.asarray(draw(k), dtype=bool))
        drawn += k


# --------------------------------------------------------------------------- weighted fits


def _centre(X: np.ndarray, y: np.ndarray, w: np.ndarray, fit_intercept: bool = True):
    """Weighted centring (with an intercept) or none (without one: ``x̄ = 0``, ``ȳ = 0``)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    wn = w / w.sum()
    if not fit_intercept:
        return X, y, wn, np.zeros(X.shape[1]), 0.0
    xbar = wn @ X
    ybar = float(wn @ y)
    return X - xbar, y - ybar, wn, xbar, ybar


def weighted_ridge(X: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Weighted ridge with an unpenalised intercept, as scikit-learn's ``Ridge(alpha)`` with
    ``sample_weight=w``: ``min Σ w_i (y_i - β0 - x_iᵀβ)² + alpha ‖β‖²`` (weights not normalised).

    Parameters
    ----------
    X : ndarray, shape (N, n)
    y, w : ndarray, shape (N,)
    alpha : float
        The ridge penalty (``lime`` uses 1.0).

    Returns
    -------
    intercept : float
    coef : ndarray, shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    >>> b0, b = weighted_ridge(X, 1.0 + X @ [2.0, -1.0], np.ones(4), 0.0)
    >>> round(b0, 6), b.round(6).tolist()
    (1.0, [2.0, -1.0])
    """
    Xc, yc, _, xbar, ybar = _centre(X, y, w)
    w = np.asarray(w, dtype=np.float64)
    A = Xc.T @ (w[:, None] * Xc) + alpha * np.eye(Xc.shape[1])
    b = Xc.T @ (w * yc)
    coef = np.linalg.lstsq(A, b, rcond=None)[0] if alpha == 0 else np.linalg.solve(A, b)
    return ybar - float(xbar @ coef), coef


@dataclass
class SGLResult:
    """The solution of :func:`sparse_group_lasso`.

    Attributes
    ----------
    intercept : float
    coef : ndarray, shape (n,)
    n_iter : int
        FISTA iterations run.
    converged : bool
        Whether the step fell below the tolerance before ``max_iter``.
    """

    intercept: float
    coef: np.ndarray
    n_iter: int
    converged: bool


def _groups(groups: np.ndarray, n: int) -> tuple[np.ndarray, int, np.ndarray]:
    g = np.asarray(groups, dtype=np.int64)
    if g.shape != (n,) or (n and g.min() < 0):
        raise ExplainerError(f"groups: expected {n} non-negative group ids, got shape {g.shape}")
    n_groups = int(g.max()) + 1 if n else 0
    size = np.bincount(g, minlength=n_groups).astype(np.float64)
    return g, n_groups, np.sqrt(size)


def soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    """Element-wise soft thresholding ``sign(v) max(|v| - t, 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> soft_threshold(np.array([-2.0, 0.5, 3.0]), 1.0).tolist()
    [-1.0, 0.0, 2.0]
    """
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0) + 0.0  # + 0.0: no negative zeros


def group_norms(v: np.ndarray, groups: np.ndarray, n_groups: int | None = None) -> np.ndarray:
    """The Euclidean norm of ``v`` within each group.

    Examples
    --------
    >>> import numpy as np
    >>> group_norms(np.array([3.0, 4.0, 1.0]), np.array([0, 0, 1])).tolist()
    [5.0, 1.0]
    """
    g = np.asarray(groups, dtype=np.int64)
    k = int(g.max()) + 1 if n_groups is None else n_groups
    return np.sqrt(np.bincount(g, weights=np.asarray(v, dtype=np.float64) ** 2, minlength=k))


def sgl_prox(v: np.ndarray, t: float, lam: float, alpha: float, groups: np.ndarray, root_size: np.ndarray) -> np.ndarray:
    """The proximal map of ``t λ [(1-α) Σ_g √d_g ‖β_g‖ + α ‖β‖₁]``: soft thresholding by
    ``tλα``, then shrinking each group's norm by ``tλ(1-α)√d_g`` (zero when it falls below).

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([0, 0, 1])
    >>> sgl_prox(np.array([3.0, 0.5, 0.2]), 1.0, 1.0, 0.5, g, np.sqrt([2.0, 1.0])).round(4).tolist()
    [1.7929, 0.0, 0.0]
    """
    u = soft_threshold(v, t * lam * alpha)
    norms = group_norms(u, groups, len(root_size))
    thr = t * lam * (1.0 - alpha) * root_size
    scale = np.where(norms > thr, 1.0 - thr / np.where(norms > 0, norms, 1.0), 0.0)
    return u * scale[groups] + 0.0


def sgl_lambda_max(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, alpha: float,
                   fit_intercept: bool = True) -> float:
    """The smallest ``λ`` at which the weighted sparse group lasso's solution is ``β = 0``.

    ``β = 0`` is optimal iff for every group ``‖S(g_G, λα)‖₂ <= λ(1-α)√d_G``, with ``g`` the
    gradient of the loss at zero and ``S`` soft thresholding; each group's threshold is found
    by bisection (closed forms at ``α = 0`` and ``α = 1``).

    Parameters
    ----------
    X : ndarray, shape (N, n)
    y, w : ndarray, shape (N,)
    groups : ndarray of int, shape (n,)
    alpha : float
        The l1 share, in ``[0, 1]``.
    fit_intercept : bool
        As in :func:`sparse_group_lasso`.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    >>> y = X @ [2.0, 0.0]
    >>> round(sgl_lambda_max(X, y, np.ones(4), np.array([0, 1]), 1.0), 6)   # max |x_jᵀ w̄ y_c|
    0.5
    """
    Xc, yc, wn, _, _ = _centre(X, y, w, fit_intercept)
    g, n_groups, root = _groups(groups, Xc.shape[1])
    grad = np.abs(Xc.T @ (wn * yc))
    return float(_lambda_max_from_grad(grad[None, :], g, n_groups, root, alpha)[0])


def _lambda_max_from_grad(grad: np.ndarray, g: np.ndarray, n_groups: int, root: np.ndarray, alpha: float) -> np.ndarray:
    """``λ_max`` for each row of ``|gradient at β = 0|``, shape ``(F, n) -> (F,)``."""
    if grad.shape[1] == 0:
        return np.zeros(grad.shape[0])
    if alpha >= 1.0:
        return grad.max(axis=1)
    onehot = np.zeros((len(g), n_groups))
    onehot[np.arange(len(g)), g] = 1.0
    live = root > 0  # groups with players
    if alpha <= 0.0:
        norms = np.sqrt((grad**2) @ onehot)
        return (norms[:, live] / root[live]).max(axis=1)
    # per group: the root of ‖S(grad_G, λα)‖ - λ(1-α)√d_G, decreasing in λ, in [0, max|grad_G|/α]
    lo = np.zeros((grad.shape[0], n_groups))
    hi = np.zeros((grad.shape[0], n_groups))
    for k in np.flatnonzero(live):
        hi[:, k] = grad[:, g == k].max(axis=1) / alpha
    for _ in range(60):
        mid = (lo + hi) / 2
        h = np.sqrt(np.maximum(grad - mid[:, g] * alpha, 0.0) ** 2 @ onehot) - mid * (1 - alpha) * root
        lo, hi = np.where(h > 0, mid, lo), np.where(h > 0, hi, mid)
    return hi.max(axis=1)


def sgl_lambda_null(X: np.ndarray, residuals: np.ndarray, w: np.ndarray, groups: np.ndarray, alpha: float,
                    n_flips: int, rng: np.random.Generator, fit_intercept: bool = True) -> float:
    """The largest ``λ_max`` over ``n_flips`` sign-flipped copies of ``residuals``: the penalty at
    which noise of the residuals' size, unrelated to the design, selects nothing.

    Each copy multiplies the residuals by independent random signs (a null with the same
    per-sample scale and no association with ``X``) and computes :func:`sgl_lambda_max`.

    Parameters
    ----------
    X : ndarray, shape (N, n)
    residuals, w : ndarray, shape (N,)
    groups : ndarray of int, shape (n,)
    alpha : float
    n_flips : int
    rng : numpy.random.Generator
    fit_intercept : bool
        As in :func:`sparse_group_lasso`.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((400, 6)) < 0.5).astype(float)
    >>> lam = sgl_lambda_null(X, rng.normal(size=400), np.ones(400), np.array([0, 0, 0, 1, 1, 1]), 0.5, 20, rng)
    >>> bool(0.01 < lam < 0.2)   # about sd(z) · sd(noise) · sqrt(2 log n / N)
    True
    """
    Xc, _, wn, _, _ = _centre(X, residuals, w, fit_intercept)
    g, n_groups, root = _groups(groups, Xc.shape[1])
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_flips, len(residuals)))
    flipped = signs * np.asarray(residuals, dtype=np.float64)
    if fit_intercept:
        flipped -= (flipped @ wn)[:, None]
    grads = np.abs((flipped * wn) @ Xc)
    return float(_lambda_max_from_grad(grads, g, n_groups, root, alpha).max())


def sparse_group_lasso(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, lam: float,
                       alpha: float, max_iter: int = 5000, tol: float = 1e-10,
                       coef_init: np.ndarray | None = None, fit_intercept: bool = True) -> SGLResult:
    """Solve the weighted sparse group lasso (module docstring) by FISTA with adaptive restart.

    The loss is a quadratic in ``β`` on the weighted-centred design, so each iteration costs
    one ``n × n`` product with the weighted Gram matrix. The step is ``1/L`` with ``L`` its
    largest eigenvalue (without an intercept, where the Gram matrix of a 0/1 design is
    non-negative, its largest row sum: an upper bound that is close by Perron-Frobenius); the prox is :func:`sgl_prox`; momentum restarts when it points uphill
    (O'Donoghue & Candès 2015). Iteration stops when ``‖β_k - β_{k-1}‖ <= tol · max(1, ‖β_k‖)``.

    Parameters
    ----------
    X : ndarray, shape (N, n)
    y, w : ndarray, shape (N,)
        Values and non-negative sample weights (normalised internally to sum to one).
    groups : ndarray of int, shape (n,)
        The group of each column.
    lam : float
        ``λ >= 0``.
    alpha : float
        The l1 share in ``[0, 1]`` (1: lasso; 0: group lasso).
    max_iter : int
    tol : float
    coef_init : ndarray, optional
        A warm start.
    fit_intercept : bool
        Fit the unpenalised intercept (default); without it the model is ``y ≈ Xβ`` (for
        targets already measured from an anchor, as in :func:`ends_masks`).

    Returns
    -------
    SGLResult

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = (rng.random((200, 4)) < 0.5).astype(float)
    >>> y = 1.0 + X @ [2.0, -1.0, 0.0, 0.0]
    >>> r = sparse_group_lasso(X, y, np.ones(200), np.array([0, 0, 1, 1]), lam=0.01, alpha=0.5)
    >>> r.coef.round(2).tolist(), bool(np.all(r.coef[2:] == 0))
    ([1.96, -0.97, 0.0, 0.0], True)
    """
    Xc, yc, wn, xbar, ybar = _centre(X, y, w, fit_intercept)
    n = Xc.shape[1]
    g, _, root = _groups(groups, n)
    G = Xc.T @ (wn[:, None] * Xc)
    b = Xc.T @ (wn * yc)
    if not n:
        L = 0.0
    elif fit_intercept:
        L = float(np.linalg.eigvalsh(G)[-1])
    else:  # a 0/1 design without centring: G >= 0, whose largest row sum bounds the largest
        L = float(np.abs(G).sum(axis=1).max())  # eigenvalue closely (Perron) at a fraction of the cost
    if L <= 0:
        return SGLResult(ybar, np.zeros(n), 0, True)
    t = 1.0 / L
    beta = np.zeros(n) if coef_init is None else np.asarray(coef_init, dtype=np.float64).copy()
    z, tk = beta.copy(), 1.0
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        new = sgl_prox(z - t * (G @ z - b), t, lam, alpha, g, root)
        step = new - beta
        if float((z - new) @ step) > 0:  # momentum points uphill: restart
            tk = 1.0
        tk_next = (1.0 + np.sqrt(1.0 + 4.0 * tk * tk)) / 2.0
        z = new + ((tk - 1.0) / tk_next) * step
        beta, tk = new, tk_next
        if np.sqrt(step @ step) <= tol * max(1.0, float(np.sqrt(beta @ beta))):
            converged = True
            break
    return SGLResult(ybar - float(xbar @ beta), beta, it, converged)


def sgl_kkt_violation(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, lam: float, alpha: float,
                      intercept: float, coef: np.ndarray) -> float:
    """The largest violation of the optimality (KKT) conditions of the weighted sparse group lasso.

    With ``r`` the residuals and ``g = -Xᵀ w̄ r`` the loss gradient: ``Σ w̄ r = 0`` (intercept);
    a zero group needs ``‖S(g_G, λα)‖ <= λ(1-α)√d_G``; in a non-zero group, a non-zero
    ``β_j`` needs ``g_j + λα sign(β_j) + λ(1-α)√d_G β_j/‖β_G‖ = 0`` and a zero one
    ``|g_j| <= λα``. Returns the largest amount by which any of these fails (0 at the optimum).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=float)
    >>> y = X @ [2.0, 0.0]
    >>> sgl_kkt_violation(X, y, np.ones(4), np.array([0, 1]), 0.0, 1.0, 0.0, np.array([2.0, 0.0]))
    0.0
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    wn = w / w.sum()
    coef = np.asarray(coef, dtype=np.float64)
    r = np.asarray(y, dtype=np.float64) - intercept - X @ coef
    grad = -(X.T @ (wn * r))
    gids, n_groups, root = _groups(groups, X.shape[1])
    viol = [abs(float(wn @ r))]
    norms = group_norms(coef, gids, n_groups)
    for k in range(n_groups):
        idx = gids == k
        gk, bk = grad[idx], coef[idx]
        if norms[k] == 0:
            viol.append(float(np.linalg.norm(soft_threshold(gk, lam * alpha))) - lam * (1 - alpha) * root[k])
            continue
        nz = bk != 0
        res = gk[nz] + lam * alpha * np.sign(bk[nz]) + lam * (1 - alpha) * root[k] * bk[nz] / norms[k]
        viol.extend(np.abs(res).tolist())
        viol.extend((np.abs(gk[~nz]) - lam * alpha).tolist())
    return float(max(0.0, max(viol)))
