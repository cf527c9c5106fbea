"""The exact sparse Möbius oracle against brute force, shapiq, the axioms and the DESIGN §2 worked table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mxbench
from mxbench.oracles import (
    INDICES,
    MoebiusGame,
    all_coalitions,
    banzhaf_values,
    bii_matrix,
    enumerate_game,
    first_order_from_moebius,
    indices_from_values,
    interaction_matrix_from_moebius,
    ksii_first_order,
    moebius_from_table,
    moebius_transform,
    shapley_values,
    sii_matrix,
    stii_first_order,
    stii_matrix,
    table_from_moebius,
)
from mxbench.spec import Term
from mxbench.testing import specs

ORACLE_SETTINGS = settings(max_examples=40, deadline=None)


def assert_close(actual, expected, scale: float, what: str) -> None:
    """``|actual - expected| <= 1e-9 * max(1, scale)`` everywhere."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9 * max(1.0, scale), err_msg=what)


def modality_table(task: mxbench.Task, i: int) -> np.ndarray:
    """The modality game of instance ``i`` by enumeration: ``v(A)`` with the players of the modalities in ``A`` present."""
    m = len(task.modality_names)
    masks = all_coalitions(m)  # row a has modality k iff bit k of a
    players = masks[:, task.modality_of]  # (2^M, n)
    return task.game(i)(players)


# --------------------------------------------------------------------------- oracle against brute force


@ORACLE_SETTINGS
@given(specs(max_players=12, instances=3))
def test_oracle_equals_brute_force_on_random_planted_games(spec):
    task = mxbench.generate(spec)
    oracle = task.oracle()
    n = task.n_players
    assert oracle.n_instances == task.n_instances == 3
    for i in (0, 2):
        values = enumerate_game(task.game(i))
        scale = float(np.abs(values).max())
        assert_close(oracle.values(all_coalitions(n))[i], values, scale, "values")
        assert_close(oracle.shapley()[i], shapley_values(values), scale, "Shapley")
        assert_close(oracle.banzhaf()[i], banzhaf_values(values), scale, "Banzhaf")
        assert_close(oracle.first_order("STII")[i], stii_first_order(values), scale, "STII first order")
        assert_close(oracle.first_order("k-SII")[i], ksii_first_order(values), scale, "k-SII first order")
        if n >= 2:
            sii = sii_matrix(values)
            assert_close(oracle.interaction_matrix("SII", instances=[i])[0], sii, scale, "SII")
            assert_close(oracle.interaction_matrix("BII", instances=[i])[0], bii_matrix(values), scale, "BII")
            assert_close(oracle.interaction_matrix("STII", instances=[i])[0], stii_matrix(values), scale, "STII")
            # k-SII of order 2 equals SII on pairs
            assert_close(oracle.interaction_matrix("k-SII", instances=[i])[0], sii, scale, "k-SII pairs")
            # pair_values agrees with the dense matrix on every pair
            pairs = [(a, b) for a in range(n) for b in range(a + 1, n)]
            assert_close(oracle.pair_values(pairs, "SII")[i], [sii[a, b] for a, b in pairs], scale, "pair_values")


@settings(max_examples=30, deadline=None)
@given(specs(max_players=12, instances=2))
def test_modality_game_equals_brute_force(spec):
    task = mxbench.generate(spec)
    oracle = task.oracle()
    m = len(task.modality_names)
    full = 2**m - 1
    for i in range(task.n_instances):
        mvals = modality_table(task, i)
        scale = float(np.abs(mvals).max())
        assert_close(oracle.modality_values()[i], mvals, scale, "modality values")
        assert_close(oracle.modality_moebius()[i], moebius_transform(mvals), scale, "modality Möbius")
        assert_close(oracle.modality_shapley()[i], shapley_values(mvals), scale, "modality Shapley")
        influence = [mvals[full] - mvals[full ^ (1 << k)] for k in range(m)]
        assert_close(oracle.modality_influence()[i], influence, scale, "modality influence")
        moeb = moebius_transform(mvals)
        pairwise = np.zeros((m, m))
        for a in range(m):
            for b in range(m):
                if a != b:
                    pairwise[a, b] = moeb[(1 << a) | (1 << b)]
        assert_close(oracle.modality_interactions("moebius")[i], pairwise, scale, "modality Möbius pairs")
        expected_sii = sii_matrix(mvals) if m >= 2 else np.zeros((1, 1))
        assert_close(oracle.modality_interactions("sii")[i], expected_sii, scale, "modality SII")


def test_modality_interactions_differ_only_with_three_modality_terms():
    # smoke-mix3 has a 3-way synergy and a 3-copy redundancy across all three modalities
    task = mxbench.generate("smoke", instances=20)[2]
    oracle = task.oracle()
    moeb, sii = oracle.modality_interactions("moebius"), oracle.modality_interactions("sii")
    m3 = oracle.modality_moebius()[:, 7]
    assert np.abs(m3).max() > 0.1
    # SII adds half of the 3-modality coefficient to every pair
    np.testing.assert_allclose(sii[:, 0, 1] - moeb[:, 0, 1], m3 / 2, atol=1e-12)
    with pytest.raises(ValueError, match="kind"):
        oracle.modality_interactions("shapley")


# --------------------------------------------------------------------------- shapiq cross-check

def _shapiq_tables(game, n: int, indices: tuple[str, ...],
                   aggregate_ksii: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """shapiq's exact first-order values ``(n,)`` and pair matrix ``(n, n)`` of each index.

    shapiq's ``InteractionValues`` are indexed by sorted player tuples: ``iv[(i,)]``,
    ``iv[(i, j)]`` (0.0 for tuples it does not hold). The empty tuple ``()`` is not
    compared: shapiq puts ``v(∅)`` there for SV, k-SII and STII, but the order-0 index
    itself for SII and BII (and so for BV, computed as BII of order 1), which is not
    ``v(∅)``. Values are not normalised: they are of the game itself. For SII of order 2
    the singletons are the SII of one-player sets, which equal the Shapley values, and
    BII singletons equal the Banzhaf values; STII singletons of order 2 are
    ``v({i}) - v(∅)``, k-SII singletons ``SV_i - 1/2 sum_j SII_ij`` -- the same
    definitions as the oracle's ``first_order``, so every first-order and pair value is
    compared.
    """
    shapiq = pytest.importorskip("shapiq")
    from shapiq.game_theory.aggregation import aggregate_base_interaction

    computer = shapiq.ExactComputer(game, n_players=n)
    out = {}
    for index in indices:
        if index in ("SV", "BV"):
            iv = computer(index)
        elif index == "k-SII" and aggregate_ksii:
            # exactly what ExactComputer("k-SII", 2) does, but reusing the SII it already computed:
            # shapiq's SII loop is pure Python over 2^n coalitions x all pairs (seconds at n = 12-14)
            iv = aggregate_base_interaction(computer("SII", 2), 2)
        else:
            iv = computer(index, 2)
        first = np.array([iv[(i,)] for i in range(n)])
        pairs = np.zeros((n, n))
        for a in range(n):
            for b in range(a + 1, n):
                pairs[a, b] = pairs[b, a] = iv[(a, b)]
        out[index] = (first, pairs)
    return out


def _compare_with_shapiq(task: mxbench.Task, i: int, indices: tuple[str, ...], aggregate_ksii: bool = False) -> None:
    n = task.n_players
    oracle = task.oracle()
    got = _shapiq_tables(task.game(i), n, indices, aggregate_ksii)
    scale = float(max(abs(task.f[i]), np.abs(oracle.values(np.zeros((1, n), dtype=bool))[i]).max()))
    scale = max(scale, float(np.abs(oracle.shapley()[i]).sum()))
    ours_first = {"SV": oracle.shapley()[i], "BV": oracle.banzhaf()[i], "SII": oracle.shapley()[i],
                  "BII": oracle.banzhaf()[i], "STII": oracle.first_order("STII")[i],
                  "k-SII": oracle.first_order("k-SII")[i]}
    for index in indices:
        first, pairs = got[index]
        assert_close(first, ours_first[index], scale, f"shapiq {index} first order")
        if index in ("SV", "BV"):
            assert not pairs.any()
        else:
            assert_close(pairs, oracle.interaction_matrix(index, instances=[i])[0], scale, f"shapiq {index} pairs")
    # the planted structure makes these non-trivial
    assert np.abs(got["SII"][1]).max() > 1e-3


@pytest.mark.parametrize("k", [0, 1, 2])
def test_oracle_equals_shapiq_on_smoke_tasks(k):
    task = mxbench.generate("smoke", instances=2)[k]
    assert 12 <= task.n_players <= 14
    indices = ("SV", "BV", "SII", "BII", "STII", "k-SII") if task.n_players <= 12 else ("SV", "BV", "SII", "k-SII")
    _compare_with_shapiq(task, 1, indices, aggregate_ksii=True)


@settings(max_examples=12, deadline=None)
@given(specs(max_players=7, min_terms=2, instances=1))
def test_oracle_equals_shapiq_on_random_planted_games(spec):
    task = mxbench.generate(spec)
    assume(np.abs(task.oracle().interaction_matrix("SII")).max() > 1e-3)  # some pair interacts
    _compare_with_shapiq(task, 0, ("SV", "BV", "SII", "BII", "STII", "k-SII"))


# --------------------------------------------------------------------------- axioms


@pytest.fixture(scope="module")
def axiom_tasks():
    tasks = mxbench.generate("smoke", instances=200)
    from mxbench.generators.suites import suite_specs

    standard = {s.name: s for s in suite_specs("standard")}
    tasks.append(mxbench.generate(standard["tab-img-txt-48-lo"], instances=200))
    tasks.append(mxbench.generate(standard["tab-img-txt-64-hi"], instances=200))
    return tasks


def _grand_minus_empty(oracle: MoebiusGame, n: int) -> np.ndarray:
    v = oracle.values(np.array([[True] * n, [False] * n]))
    return v[:, 0] - v[:, 1]


def test_efficiency(axiom_tasks):
    for task in axiom_tasks:
        oracle, n = task.oracle(), task.n_players
        total = _grand_minus_empty(oracle, n)
        np.testing.assert_allclose(total, task.f - task.spec.intercept, atol=1e-9)
        assert np.abs(total).max() > 0.1
        iu = np.triu_indices(n, 1)
        np.testing.assert_allclose(oracle.shapley().sum(axis=1), total, atol=1e-9)
        stii = oracle.first_order("STII").sum(axis=1) + oracle.interaction_matrix("STII")[:, iu[0], iu[1]].sum(axis=1)
        np.testing.assert_allclose(stii, total, atol=1e-9)
        ksii = oracle.first_order("k-SII").sum(axis=1) + oracle.interaction_matrix("k-SII")[:, iu[0], iu[1]].sum(axis=1)
        np.testing.assert_allclose(ksii, total, atol=1e-9)
        np.testing.assert_allclose(oracle.modality_shapley().sum(axis=1), total, atol=1e-9)
        # Banzhaf splits m(T) as m(T)/2^(|T|-1) per player: efficient exactly when no term reads 3+ players
        banzhaf_gap = np.abs(oracle.banzhaf().sum(axis=1) - total).max()
        if max(t.order for t in task.terms) >= 3:
            assert banzhaf_gap > 1e-3
        else:
            assert banzhaf_gap < 1e-9


def test_dummy_players_get_exactly_zero(axiom_tasks):
    for task in axiom_tasks:
        oracle = task.oracle()
        roles = task.players()["role"].to_numpy()
        dummy = np.flatnonzero(roles == "distractor")
        planted = np.flatnonzero(roles != "distractor")
        assert len(dummy) > 0 and len(planted) > 0
        for index in ("SV", "BV", "STII", "k-SII"):
            assert (oracle.first_order(index)[:, dummy] == 0.0).all(), index
        for index in ("SII", "BII", "STII", "k-SII"):
            mat = oracle.interaction_matrix(index)
            assert (mat[:, dummy, :] == 0.0).all() and (mat[:, :, dummy] == 0.0).all(), index
        pairs = [(int(d), int(p)) for d in dummy[:3] for p in planted[:3]]
        assert (oracle.pair_values(pairs, "SII") == 0.0).all()
        # ... while the planted players do get attributions
        assert (np.abs(oracle.shapley()[:, planted]).max(axis=0) > 0).all()


def test_sii_matrix_is_symmetric_with_zero_diagonal(axiom_tasks):
    for task in axiom_tasks:
        for index in ("SII", "BII", "STII"):
            mat = task.oracle().interaction_matrix(index)
            assert np.array_equal(mat, mat.transpose(0, 2, 1)), index
            assert (np.diagonal(mat, axis1=1, axis2=2) == 0.0).all(), index


@pytest.mark.parametrize("op", ["product", "xor", "and"])
@pytest.mark.parametrize("k", [2, 3])
def test_symmetry_of_a_synergy_with_equal_latents(op, k):
    s = np.array([[1.3] * k, [-0.7] * k, [2.0] * k])
    term = Term("synergy", tuple(f"a:{j}" for j in range(k)), 1.7, op, ids=tuple(range(1, k + 1)))
    game = MoebiusGame(k + 2, np.zeros(3), [np.arange(1, k + 1)], [term.table(s)])
    for values in (game.shapley(), game.banzhaf(), game.first_order("k-SII")):
        for j in range(2, k + 1):
            assert np.array_equal(values[:, 1], values[:, j])
    sii = game.interaction_matrix("SII")
    if k == 3:
        assert np.array_equal(sii[:, 1, 2], sii[:, 1, 3]) and np.array_equal(sii[:, 1, 2], sii[:, 2, 3])
    # the product with s = 1.3: each of k players gets w * s^k / k
    if op == "product":
        np.testing.assert_allclose(game.shapley()[0, 1], 1.7 * 1.3**k / k, rtol=1e-12)


def test_symmetry_of_a_redundancy_with_equal_copies():
    s = np.array([[0.8, 0.8], [-1.5, -1.5]])
    term = Term("redundancy", ("a:0", "a:1"), 2.0, "max-magnitude", ids=(0, 1))
    game = MoebiusGame(2, np.zeros(2), [np.array([0, 1])], [term.table(s)])
    sv = game.shapley()
    assert np.array_equal(sv[:, 0], sv[:, 1])
    np.testing.assert_allclose(sv[:, 0], [0.8, -1.5], rtol=1e-12)  # w * z / 2 each
    np.testing.assert_allclose(game.interaction_matrix()[:, 0, 1], [-1.6, 3.0], rtol=1e-12)  # -w * z


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 7), rows=st.integers(1, 3), seed=st.integers(0, 1000))
def test_dense_indices_equal_brute_force_and_the_sparse_path(n, rows, seed):
    """Every index on a dense table equals its definition and the one-block sparse game, row by row."""
    tables = np.random.default_rng(seed).normal(size=(rows, 2**n))
    m = moebius_from_table(tables)
    sparse = MoebiusGame(n, np.zeros(rows), [np.arange(n)], [tables])
    expected_first = {"SV": shapley_values, "BV": banzhaf_values, "SII": shapley_values, "BII": banzhaf_values,
                      "STII": stii_first_order, "k-SII": ksii_first_order}
    expected_pairs = {"SII": sii_matrix, "BII": bii_matrix, "STII": stii_matrix, "k-SII": sii_matrix,
                      "SV": sii_matrix, "BV": bii_matrix}
    for index in INDICES:
        first = first_order_from_moebius(m, index)
        pairs = interaction_matrix_from_moebius(m, index)
        assert first.shape == (rows, n) and pairs.shape == (rows, n, n)
        assert_close(first, sparse.first_order(index), 1.0, f"{index} dense against sparse")
        assert_close(pairs, sparse.interaction_matrix(index), 1.0, f"{index} pairs dense against sparse")
        for r in range(rows):
            assert_close(first[r], expected_first[index](tables[r]), 1.0, f"{index} first order")
            if n >= 2:
                assert_close(pairs[r], expected_pairs[index](tables[r]), 1.0, f"{index} pairs")
    phi, sii = indices_from_values(tables[0])
    assert np.array_equal(phi, first_order_from_moebius(m[0]))
    assert np.array_equal(sii, interaction_matrix_from_moebius(m[0]))


def test_dense_path_rejects_bad_tables_and_indices():
    with pytest.raises(ValueError, match="2\\^n entries"):
        moebius_from_table(np.zeros(6))
    with pytest.raises(ValueError, match="unknown index"):
        first_order_from_moebius(np.zeros(4), "XYZ")
    with pytest.raises(ValueError, match="unknown index"):
        interaction_matrix_from_moebius(np.zeros(4), "XYZ")


def test_modality_table_reads_the_whole_modality_coalitions():
    from mxbench.oracles import modality_table as read_modality_table

    n, modality_of = 5, np.array([1, 0, 2, 0, 1])
    values = np.random.default_rng(3).normal(size=2**n)
    table = read_modality_table(values, modality_of, 3)
    for a in range(8):
        members = [i for i in range(n) if (a >> modality_of[i]) & 1]
        assert table[a] == values[sum(1 << i for i in members)]


@settings(max_examples=20, deadline=None)
@given(specs(max_players=10, instances=2), st.integers(0, 2**10 - 1))
def test_restricted_game_masks_players_for_good(spec, keep_bits):
    task = mxbench.generate(spec)
    n = task.n_players
    keep = ((keep_bits >> np.arange(n)) & 1).astype(bool)
    restricted = task.oracle().restricted(keep)
    coalitions = all_coalitions(n)
    for i in range(task.n_instances):
        values = task.game(i)(coalitions & keep[None, :])
        scale = float(np.abs(values).max())
        assert_close(restricted.values(coalitions)[i], values, scale, "restricted values")
        assert_close(restricted.shapley()[i], shapley_values(values), scale, "restricted Shapley")


@settings(max_examples=30, deadline=None)
@given(k=st.integers(0, 6), rows=st.integers(1, 3), seed=st.integers(0, 1000))
def test_moebius_round_trip(k, rows, seed):
    table = np.random.default_rng(seed).normal(size=(rows, 2**k))
    m = moebius_from_table(table)
    np.testing.assert_allclose(table_from_moebius(m), table, atol=1e-12)
    np.testing.assert_allclose(moebius_from_table(table_from_moebius(table)), table, atol=1e-12)
    for r in range(rows):
        np.testing.assert_allclose(m[r], moebius_transform(table[r]), atol=1e-12)
    assert table_from_moebius(m).shape == table.shape
    np.testing.assert_array_equal(m[:, 0], table[:, 0])  # m(∅) = v(∅)


def test_worked_table_product_synergy():
    w = 2.5
    task = mxbench.generate({"name": "syn", "instances": 100, "seed": 4,
                             "modalities": [{"name": "t", "kind": "tabular", "features": 3}],
                             "terms": [{"kind": "synergy", "op": "product", "players": ["t:0", "t:2"], "weight": w}]})
    s_a, s_b = task.latents[:, 0], task.latents[:, 2]
    oracle = task.oracle()
    np.testing.assert_allclose(oracle.interaction_matrix()[:, 0, 2], w * s_a * s_b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(oracle.shapley()[:, 0], w * s_a * s_b / 2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(oracle.shapley()[:, 2], w * s_a * s_b / 2, rtol=1e-12, atol=1e-15)
    assert (oracle.shapley()[:, 1] == 0.0).all()
    # the table itself: 0, 0, 0, w s_a s_b
    table = task.terms[0].table(task.latents[:, [0, 2]])
    np.testing.assert_allclose(table, np.stack([0 * s_a, 0 * s_a, 0 * s_a, w * s_a * s_b], axis=1), atol=1e-15)


@pytest.mark.parametrize("w", [1.5, -0.8])
def test_worked_table_redundancy(w):
    task = mxbench.generate({"name": "red", "instances": 400, "seed": 5,
                             "modalities": [{"name": "t", "kind": "tabular", "features": 2},
                                            {"name": "x", "kind": "text", "length": 2, "vocab": 64, "neutral": 0.0}],
                             "terms": [{"kind": "redundancy", "players": ["t:1", "x:0"], "weight": w}]})
    a, b = 1, 2
    s_a, s_b = task.latents[:, a], task.latents[:, b]
    gap = np.abs(s_a - s_b)
    assert np.median(gap) < 0.15  # near-equal copies (spread 0.05 + the text table's rounding)
    oracle = task.oracle()
    sii = oracle.interaction_matrix()[:, a, b]
    phi = oracle.shapley()
    # SII = w (g - s_a - s_b) is -w s_b or -w s_a, so within |w| |s_a - s_b| of -w z (z = s_a)
    assert (np.abs(sii + w * s_a) <= abs(w) * gap + 1e-12).all()
    clear = np.abs(s_a) > 4 * gap
    assert clear.sum() > 100
    assert (np.sign(sii[clear]) == -np.sign(w * s_a[clear])).all()
    # Shapley is within |w| |s_a - s_b| / 2 of w z / 2, for each copy
    assert (np.abs(phi[:, a] - w * s_a / 2) <= abs(w) * gap / 2 + 1e-12).all()
    assert (np.abs(phi[:, b] - w * s_b / 2) <= abs(w) * gap / 2 + 1e-12).all()
    np.testing.assert_allclose(phi[:, a] + phi[:, b], w * np.where(np.abs(s_a) >= np.abs(s_b), s_a, s_b), atol=1e-12)


def test_worked_table_unique():
    task = mxbench.generate({"name": "uni", "instances": 50, "seed": 6,
                             "modalities": [{"name": "t", "kind": "tabular", "features": 2}],
                             "terms": [{"kind": "unique", "players": ["t:1"], "fn": "step", "weight": -2.0}]})
    s = task.latents[:, 1]
    np.testing.assert_array_equal(task.oracle().shapley()[:, 1], -2.0 * (s > 0))
    np.testing.assert_array_equal(task.oracle().banzhaf()[:, 1], -2.0 * (s > 0))


# --------------------------------------------------------------------------- errors


def test_moebius_game_rejects_overlapping_blocks():
    table = np.zeros((1, 4))
    with pytest.raises(ValueError, match="blocks: a player belongs to two blocks"):
        MoebiusGame(4, np.zeros(1), [np.array([0, 1]), np.array([1, 2])], [table, table])


def test_moebius_game_rejects_out_of_range_blocks():
    with pytest.raises(ValueError, match=r"blocks: player ids must lie in 0\.\.2"):
        MoebiusGame(3, np.zeros(1), [np.array([2, 3])], [np.zeros((1, 4))])
    with pytest.raises(ValueError, match=r"blocks: player ids must lie in 0\.\.2"):
        MoebiusGame(3, np.zeros(1), [np.array([-1])], [np.zeros((1, 2))])


@pytest.mark.parametrize("n_tables", [0, 2])
def test_moebius_game_rejects_mismatched_tables(n_tables):
    with pytest.raises(ValueError, match="blocks and tables: got 1 blocks and"):
        MoebiusGame(3, np.zeros(1), [np.array([0, 1])], [np.zeros((1, 4))] * n_tables)


def test_moebius_game_rejects_bad_pairs_and_indices():
    game = MoebiusGame(3, np.zeros(1), [np.array([0, 1])], [np.array([[0.0, 0.0, 0.0, 1.0]])])
    with pytest.raises(ValueError, match=r"pairs: player ids must lie in 0\.\.2, got \(0, 3\)"):
        game.pair_values([(0, 3)])
    with pytest.raises(ValueError, match="pairs: player ids must lie"):
        game.pair_values([(-1, 1)])
    with pytest.raises(ValueError, match="pairs: a pair names the same player twice"):
        game.pair_values([(1, 1)])
    with pytest.raises(ValueError, match="index: unknown index 'XYZ'"):
        game.pair_values([(0, 1)], "XYZ")
    with pytest.raises(ValueError, match="index: unknown index 'XYZ'"):
        game.first_order("XYZ")
    assert game.pair_values([(0, 1), (1, 2)]).tolist() == [[1.0, 0.0]]


def test_tolerance_helper_fails_on_a_real_difference():
    with pytest.raises(AssertionError):
        assert_close([1.0], [1.0 + 1e-6], 1.0, "x")
    assert_close([1e6], [1e6 + 1e-4], 1e6, "scale-aware")
