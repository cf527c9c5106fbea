"""Renderers, masking, planted games, determinism, the game contract and the named suites."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import mxbench
from mxbench import FunctionGame, GameError, SpecError, TaskSpec
from mxbench.generators import ImageRenderer, TabularRenderer, TextRenderer, make_renderer
from mxbench.generators.suites import list_suites, suite_specs
from mxbench.oracles import all_coalitions, enumerate_game
from mxbench.spec import MASK_ID, N_NEUTRAL, ModalitySpec
from mxbench.task import BLOCK
from mxbench.testing import coalitions

ROOT = Path(__file__).resolve().parents[1]

ALL_KINDS = {
    "name": "kinds", "seed": 21, "instances": 40, "intercept": 0.7, "noise": 0.1,
    "modalities": [{"name": "tab", "kind": "tabular", "features": 4},
                   {"name": "img", "kind": "image", "channels": 2, "size": 8, "patch": 4, "noise": 0.05},
                   {"name": "txt", "kind": "text", "length": 5, "vocab": 24}],
    "terms": [{"kind": "unique", "players": ["tab:0"], "fn": "tanh", "weight": 1.5},
              {"kind": "unique", "players": ["img:1"], "fn": "step", "weight": -1.0},
              {"kind": "synergy", "op": "xor", "players": ["tab:1", "txt:0"], "weight": 0.8},
              {"kind": "synergy", "op": "and", "players": ["img:0", "txt:1", "tab:2"], "weight": 2.0},
              {"kind": "redundancy", "players": ["img:2", "txt:2", "txt:3"], "weight": 1.2}],
}


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- renderers


def test_tabular_round_trip_is_exact_in_float32():
    r = TabularRenderer(ModalitySpec("t", "tabular", features=4))
    s = _rng().normal(size=(300, 4)) * 3
    raw = r.render(s, _rng(1))
    assert raw.dtype == np.float32 and raw.shape == (300, 4)
    decoded = r.decode(raw)
    assert decoded.dtype == np.float64
    assert np.array_equal(decoded, s.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("channels, size, patch", [(1, 8, 4), (2, 6, 3), (3, 16, 4)])
def test_image_round_trip_without_noise(channels, size, patch):
    m = ModalitySpec("img", "image", channels=channels, size=size, patch=patch, noise=0.0)
    r = ImageRenderer(m, seed=3, position=1)
    s = _rng().normal(size=(200, m.n_players))
    raw = r.render(s, _rng(1))
    assert raw.dtype == np.float32 and raw.shape == (200, channels, size, size)
    np.testing.assert_allclose(r.decode(raw), s, atol=1e-5)
    assert np.isclose(np.sum(r.template**2), 1.0, atol=1e-6)


@pytest.mark.parametrize("noise", [0.05, 0.3])
def test_image_round_trip_within_noise(noise):
    m = ModalitySpec("img", "image", channels=2, size=8, patch=4, noise=noise)
    r = ImageRenderer(m, seed=3, position=0)
    s = _rng().normal(size=(2000, 4))
    err = r.decode(r.render(s, _rng(2))) - s
    # the projection of N(0, noise^2 I) on a unit template is N(0, noise^2)
    assert np.abs(err).max() < 6 * noise
    assert 0.9 * noise < err.std() < 1.1 * noise
    assert abs(err.mean()) < 0.1 * noise


def test_text_round_trip_to_the_nearest_table_value():
    m = ModalitySpec("txt", "text", length=6, vocab=40, neutral=0.0)
    r = TextRenderer(m, seed=5, position=2)
    s = _rng().normal(size=(500, 6)) * 1.5
    raw = r.render(s, _rng(1))
    assert raw.dtype == np.int32 and raw.shape == (500, 6)
    assert raw.min() >= 1 + N_NEUTRAL and raw.max() < 40
    valued = r.values[1 + N_NEUTRAL:]
    nearest = valued[np.argmin(np.abs(s[..., None] - valued), axis=-1)]
    assert np.array_equal(r.decode(raw), nearest)
    # the table: [MASK] and neutral ids are 0, the rest are distinct standard-normal quantiles
    assert (r.values[: 1 + N_NEUTRAL] == 0.0).all()
    assert len(np.unique(valued)) == len(valued) and np.all(valued != 0.0)
    assert abs(np.mean(valued)) < 1e-6


def test_text_neutral_tokens():
    m = ModalitySpec("txt", "text", length=8, vocab=20, neutral=0.3)
    r = TextRenderer(m, seed=1, position=0)
    s = _rng().normal(size=(2000, 8))
    raw = r.render(s, _rng(3))
    neutral = (raw >= 1) & (raw <= N_NEUTRAL)
    assert abs(neutral.mean() - 0.3) < 0.02
    decoded = r.decode(raw)
    assert (decoded[neutral] == 0.0).all()
    assert (decoded[~neutral] != 0.0).all()
    assert not (raw == MASK_ID).any()


def test_codebooks_are_deterministic_and_round_trip():
    img = ModalitySpec("img", "image", size=8, patch=4)
    txt = ModalitySpec("txt", "text", length=3, vocab=16)
    a, b = make_renderer(img, 7, 1), make_renderer(img, 7, 1)
    assert np.array_equal(a.template, b.template)
    assert not np.array_equal(a.template, make_renderer(img, 7, 2).template)
    assert not np.array_equal(a.template, make_renderer(img, 8, 1).template)
    assert np.array_equal(make_renderer(img, 7, 1, a.codebook()).template, a.template)
    t = make_renderer(txt, 7, 0)
    assert np.array_equal(make_renderer(txt, 7, 0, t.codebook()).values, t.values)
    assert not np.array_equal(make_renderer(txt, 8, 0).values, t.values)
    with pytest.raises(mxbench.DatasetError, match="codebook template has 3 values, expected 16"):
        make_renderer(img, 7, 1, {"template": [0.1, 0.2, 0.3]})
    with pytest.raises(mxbench.DatasetError, match="codebook value table has 2 entries"):
        make_renderer(txt, 7, 0, {"values": [0.0, 1.0]})


@pytest.mark.parametrize("modality", [
    ModalitySpec("t", "tabular", features=5),
    ModalitySpec("i", "image", channels=2, size=12, patch=4, noise=0.1),
    ModalitySpec("x", "text", length=7, vocab=24, neutral=0.2),
])
def test_masking_makes_absent_players_decode_to_exactly_zero(modality):
    r = make_renderer(modality, seed=2, position=0)
    n = modality.n_players
    raw = r.render(_rng().normal(size=(64, n)) + 0.5, _rng(1))
    before = raw.copy()
    present = _rng(2).random((64, n)) < 0.5
    present[0] = False
    present[1] = True
    masked = r.mask(raw, present)
    assert masked.dtype == raw.dtype and masked.shape == raw.shape
    assert np.array_equal(raw, before), "mask changed its input"
    decoded, full = r.decode(masked), r.decode(raw)
    assert (decoded[~present] == 0.0).all()
    assert np.array_equal(decoded[present], full[present])
    assert (full[~present] != 0.0).mean() > 0.5  # the masked players did carry something


def test_image_mask_zeroes_exactly_the_patch():
    m = ModalitySpec("i", "image", channels=2, size=8, patch=4)
    r = ImageRenderer(m, seed=0)
    raw = r.render(np.ones((1, 4)), _rng())
    masked = r.mask(raw, np.array([[True, True, False, True]]))  # patch 2: bottom-left
    assert (masked[0, :, 4:, :4] == 0).all()
    assert np.array_equal(masked[0, :, :4, :], raw[0, :, :4, :])
    assert np.array_equal(masked[0, :, 4:, 4:], raw[0, :, 4:, 4:])


def test_text_mask_uses_the_mask_token():
    r = TextRenderer(ModalitySpec("x", "text", length=3, vocab=16), seed=0)
    raw = np.array([[5, 6, 7]], dtype=np.int32)
    assert r.mask(raw, np.array([[False, True, False]])).tolist() == [[MASK_ID, 6, MASK_ID]]


def test_renderers_reject_bad_raw_inputs():
    tab = TabularRenderer(ModalitySpec("t", "tabular", features=3))
    with pytest.raises(GameError, match=r"t: expected inputs of shape \(N, 3\), got \(2, 4\)"):
        tab.decode(np.zeros((2, 4), dtype=np.float32))
    img = ImageRenderer(ModalitySpec("i", "image", size=8, patch=4))
    with pytest.raises(GameError, match="i: expected dtype kind 'f'"):
        img.decode(np.zeros((1, 1, 8, 8), dtype=np.int32))
    txt = TextRenderer(ModalitySpec("x", "text", length=2, vocab=16))
    with pytest.raises(GameError, match=r"x: token ids must lie in 0\.\.15, got 0\.\.16"):
        txt.decode(np.array([[0, 16]]))
    with pytest.raises(GameError, match="x: expected dtype kind 'iu'"):
        txt.decode(np.array([[0.0, 1.0]]))


# --------------------------------------------------------------------------- planted games


@pytest.fixture(scope="module")
def kinds_task():
    return mxbench.generate(ALL_KINDS)


def test_planted_game_at_full_and_empty_coalitions(kinds_task):
    task = kinds_task
    n = task.n_players
    at_zero = task.spec.intercept + sum(float(t.evaluate(np.zeros((1, t.order)))[0]) for t in task.terms)
    assert at_zero == 0.7
    both = np.array([[True] * n, [False] * n])
    for i in range(task.n_instances):
        full, empty = task.game(i)(both)
        assert full == task.f[i]
        assert empty == at_zero
    assert np.ptp(task.f) > 1.0
    assert task.oracle().values(both)[:, 0] == pytest.approx(task.f, abs=1e-12)


def test_f_is_the_sum_of_the_terms(kinds_task):
    task = kinds_task
    lat = task.latents
    expected = 0.7 + sum(t.evaluate(lat[:, list(t.ids)]) for t in task.terms)
    np.testing.assert_allclose(task.f, expected, rtol=0, atol=1e-12)
    # e.g. the tanh term and the step term, written out
    np.testing.assert_allclose(task.terms[0].evaluate(lat[:, [0]]), 1.5 * np.tanh(lat[:, 0]), atol=1e-15)
    img1 = task.spec.player_id("img:1")
    np.testing.assert_array_equal(task.terms[1].evaluate(lat[:, [img1]]), -1.0 * (lat[:, img1] > 0))


def test_planted_game_counts_queries_and_names_players(kinds_task):
    game = kinds_task.game(3)
    assert game.n_queries == 0
    game(np.ones((5, game.n_players), dtype=bool))
    assert game.n_players == 13
    values = enumerate_game(game)
    assert game.n_queries == 5 + 2**13
    assert values[-1] == kinds_task.f[3]
    assert game.player_names == kinds_task.player_names
    assert game.modality_names == ("tab", "img", "txt")
    assert game.modality_of.tolist() == kinds_task.modality_of.tolist()
    with pytest.raises(GameError, match=r"coalitions: expected shape \(B, 13\)"):
        game(np.ones((2, 12), dtype=bool))
    with pytest.raises(IndexError, match=r"instance: expected 0\.\.39, got 40"):
        kinds_task.game(40)
    with pytest.raises(IndexError):
        kinds_task.game(-1)


@settings(max_examples=25, deadline=None)
@given(coalitions(30, max_batch=8))
def test_planted_game_equals_the_oracle_on_random_coalitions(c):
    task = _mix_task()
    for i in (0, 7):
        np.testing.assert_allclose(task.game(i)(c), task.oracle().values(c)[i], rtol=0, atol=1e-12)


_MIX_CACHE: list = []


def _mix_task() -> mxbench.Task:
    if not _MIX_CACHE:
        _MIX_CACHE.append(mxbench.generate({
            "name": "mix", "seed": 0, "instances": 10,
            "modalities": [{"name": "tab", "kind": "tabular", "features": 6},
                           {"name": "img", "kind": "image", "channels": 1, "size": 16, "patch": 4},
                           {"name": "txt", "kind": "text", "length": 8, "vocab": 64}],
            "terms": [{"kind": "unique", "players": ["tab:0"], "weight": 1.0},
                      {"kind": "synergy", "op": "product", "players": ["img:3", "txt:2"], "weight": 2.0},
                      {"kind": "redundancy", "players": ["tab:1", "img:5"], "weight": 1.5}]}))
    return _MIX_CACHE[0]


# --------------------------------------------------------------------------- determinism


def _same(a: mxbench.Task, b: mxbench.Task, n: int | None = None) -> bool:
    sl = slice(None) if n is None else slice(0, n)
    return (all(np.array_equal(a.inputs[k][sl], b.inputs[k][sl]) for k in a.inputs)
            and np.array_equal(a.target[sl], b.target[sl]) and np.array_equal(a.split[sl], b.split[sl])
            and np.array_equal(a.latents[sl], b.latents[sl]))


def test_generation_is_deterministic():
    a, b = mxbench.generate(ALL_KINDS), mxbench.generate(ALL_KINDS)
    assert _same(a, b)
    assert a.inputs["img"].dtype == np.float32 and a.inputs["txt"].dtype == np.int32
    assert a.inputs["img"].shape == (40, 2, 8, 8) and a.split.dtype == np.int8
    c = mxbench.generate(ALL_KINDS, seed=22)
    assert not np.array_equal(a.inputs["tab"], c.inputs["tab"])
    assert not np.array_equal(a.inputs["txt"], c.inputs["txt"])


def test_classification_targets_are_labels():
    task = mxbench.generate({**ALL_KINDS, "target": "classification", "instances": 500})
    assert task.target.dtype == np.int64 and set(np.unique(task.target)) == {0, 1}
    # labels follow sigmoid(f): higher f, more ones
    high = task.f > np.median(task.f)
    assert task.target[high].mean() > task.target[~high].mean() + 0.2


def test_regression_target_is_f_plus_noise():
    task = mxbench.generate({**ALL_KINDS, "instances": 2000, "noise": 0.25})
    resid = task.target - task.f
    assert abs(resid.std() - 0.25) < 0.02 and abs(resid.mean()) < 0.03
    noiseless = mxbench.generate({**ALL_KINDS, "noise": 0.0})
    assert np.array_equal(noiseless.target, noiseless.f)


def test_splits_follow_the_fractions():
    task = mxbench.generate({**ALL_KINDS, "instances": 3000, "splits": [0.5, 0.2, 0.3]})
    counts = np.bincount(task.split, minlength=3) / 3000
    np.testing.assert_allclose(counts, [0.5, 0.2, 0.3], atol=0.03)
    assert sorted(np.concatenate([task.split_indices(s) for s in ("train", "val", "test")]).tolist()) == \
        list(range(3000))
    with pytest.raises(ValueError, match="split"):
        task.split_indices("holdout")


def test_prefix_stability():
    small, large = mxbench.generate(ALL_KINDS, instances=25), mxbench.generate(ALL_KINDS, instances=50)
    assert small.n_instances == 25 and large.n_instances == 50
    assert _same(small, large, 25)


def test_prefix_stability_across_the_block_boundary():
    spec = {"name": "tiny", "seed": 9, "modalities": [{"name": "t", "kind": "tabular", "features": 2},
                                                      {"name": "x", "kind": "text", "length": 1, "vocab": 12}],
            "terms": [{"kind": "synergy", "players": ["t:0", "x:0"]}]}
    assert BLOCK == 4096
    a = mxbench.generate(spec, instances=BLOCK + 500)
    b = mxbench.generate(spec, instances=BLOCK + 1000)
    c = mxbench.generate(spec, instances=BLOCK)
    assert _same(a, b, BLOCK + 500)
    assert _same(a, c, BLOCK)
    # the second block is not a copy of the first
    assert not np.array_equal(a.inputs["t"][:500], a.inputs["t"][BLOCK:])


def _digest(task: mxbench.Task) -> str:
    h = hashlib.sha256()
    for k in sorted(task.inputs):
        h.update(np.ascontiguousarray(task.inputs[k]).tobytes())
    h.update(task.target.tobytes())
    h.update(task.split.tobytes())
    return h.hexdigest()


def test_generation_is_identical_in_another_process():
    # (and importing mxbench does not import mxbench.testing, whose hypothesis is a test extra)
    code = ("import sys, mxbench\n"
            "assert 'mxbench.testing' not in sys.modules and 'hypothesis' not in sys.modules\n"
            "sys.path.insert(0, 'tests')\n"
            "from test_generators import ALL_KINDS, _digest\n"
            "print(_digest(mxbench.generate(ALL_KINDS)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": "", "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == _digest(mxbench.generate(ALL_KINDS))


# --------------------------------------------------------------------------- the game contract


def test_coalitions_of_the_wrong_shape():
    game = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=3)
    for bad in (np.ones(3, dtype=bool), np.ones((2, 4), dtype=bool), np.ones((1, 2, 3), dtype=bool), [[True, False]]):
        with pytest.raises(GameError, match=r"^coalitions: expected shape \(B, 3\), got"):
            game(bad)
    assert game.n_queries == 0


@pytest.mark.parametrize("bad", [np.ones((2, 3)), np.array([[0, 2, 1]]), np.array([[0, -1, 1]]),
                                 np.array([["a", "b", "c"]])])
def test_coalitions_of_the_wrong_dtype_or_values(bad):
    game = FunctionGame(lambda c: c.sum(axis=1) * 1.0, n_players=3)
    with pytest.raises(GameError, match=r"^coalitions: expected booleans \(or 0/1 integers\), got dtype"):
        game(bad)


def test_zero_one_integers_are_accepted():
    seen = []

    def fn(c):
        seen.append(c.dtype)
        return c.sum(axis=1) * 1.0

    game = FunctionGame(fn, n_players=3)
    assert game(np.array([[0, 1, 1], [1, 1, 1]])).tolist() == [2.0, 3.0]
    assert game(np.array([[1, 0, 0]], dtype=np.uint8)).tolist() == [1.0]
    assert game(np.zeros((0, 3), dtype=bool)).shape == (0,)
    assert seen == [np.bool_, np.bool_] and game.n_queries == 3


def test_n_queries_and_batching():
    sizes = []

    def fn(c):
        sizes.append(len(c))
        return c[:, 0] * 2.0 + c[:, 1]

    game = FunctionGame(fn, n_players=2, batch_size=4)
    c = all_coalitions(2)[np.arange(10) % 4]
    assert game(c).tolist() == [0.0, 2.0, 1.0, 3.0] * 2 + [0.0, 2.0]
    assert sizes == [4, 4, 2] and game.n_queries == 10
    game.value_function(c[:3])
    assert game.n_queries == 13
    assert enumerate_game(game).tolist() == [0.0, 2.0, 1.0, 3.0] and game.n_queries == 17


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_function_game_returning_non_finite_values(bad_value):
    def fn(c):
        out = np.zeros(len(c))
        out[c[:, 0] & c[:, 2]] = bad_value
        return out

    game = FunctionGame(fn, n_players=3, batch_size=3)
    game(np.array([[True, True, False]]))
    coalitions_ = np.zeros((8, 3), dtype=bool)
    coalitions_[6] = [True, False, True]  # in the third chunk
    with pytest.raises(GameError, match=r"^game returned a non-finite value .* for coalition 6$"):
        game(coalitions_)
    assert game.n_queries == 1


@pytest.mark.parametrize("fn", [lambda c: np.zeros(len(c) + 1), lambda c: np.zeros((len(c), 1)), lambda c: 1.0])
def test_function_game_returning_the_wrong_shape(fn):
    game = FunctionGame(fn, n_players=2)
    with pytest.raises(GameError, match=r"^game returned shape .* for 3 coalitions, expected \(3,\)"):
        game(np.ones((3, 2), dtype=bool))


def test_game_constructor_errors():
    with pytest.raises(GameError, match="n_players: expected a positive integer, got 0"):
        FunctionGame(lambda c: c, n_players=0)
    with pytest.raises(GameError, match="n_players: expected a positive integer"):
        FunctionGame(lambda c: c, n_players=2.0)
    with pytest.raises(GameError, match=r"modality_of: expected 3 entries, got shape \(2,\)"):
        FunctionGame(lambda c: c, n_players=3, modality_of=[0, 1])
    with pytest.raises(GameError, match="modality_names: expected 2 names"):
        FunctionGame(lambda c: c, n_players=2, modality_of=[0, 1], modality_names=["a"])
    g = FunctionGame(lambda c: c, n_players=2, modality_of=[0, 1])
    assert g.modality_names == ("m0", "m1") and g.player_names == ["p0", "p1"]
    assert FunctionGame(lambda c: c, n_players=2).modality_names == ("all",)


def test_enumerate_game_errors():
    with pytest.raises(GameError, match="n_players: brute force enumerates at most 16 players, got 17"):
        all_coalitions(17)
    with pytest.raises(GameError, match="n_players: give it"):
        enumerate_game(lambda c: c.sum(axis=1))
    with pytest.raises(GameError, match=r"game returned shape \(3,\), expected \(4,\)"):
        enumerate_game(lambda c: np.zeros(3), 2)


# --------------------------------------------------------------------------- suites


def test_smoke_suite():
    specs = suite_specs("smoke")
    assert [s.name for s in specs] == ["smoke-tab-txt", "smoke-img-txt", "smoke-mix3"]
    assert all(s.n_players <= 14 for s in specs) and min(s.n_players for s in specs) == 12
    tasks = mxbench.generate("smoke", instances=30)
    assert [t.spec.name for t in tasks] == [s.name for s in specs]
    assert all(t.n_instances == 30 for t in tasks)
    # small enough for brute force: the planted game enumerates and matches f
    game = tasks[1].game(0)
    assert enumerate_game(game)[-1] == tasks[1].f[0]


def test_standard_suite_coverage():
    specs = suite_specs("standard")
    shapes, within, cross = set(), 0, 0
    for s in specs:
        for t in s.planted_terms():
            shapes.add((t.kind, t.order))
            if t.order > 1:
                mods = {int(s.modality_of[i]) for i in t.ids}
                within += len(mods) == 1
                cross += len(mods) > 1
    assert {("unique", 1), ("synergy", 2), ("synergy", 3), ("redundancy", 2)} <= shapes
    assert within > 0 and cross > 0
    assert {len(s.modalities) for s in specs} == {2, 3}
    assert min(s.n_players for s in specs) == 16 and max(s.n_players for s in specs) == 64
    assert len({s.noise for s in specs}) == 2
    # every structure at both noise levels
    by_structure: dict[str, set] = {}
    for s in specs:
        by_structure.setdefault(s.name.rsplit("-", 1)[0], set()).add(s.noise)
    assert all(len(v) == 2 for v in by_structure.values())
    assert {s.target for s in specs} == {"regression", "classification"}
    assert {"product", "xor", "and"} <= {t.op for s in specs for t in s.planted_terms() if t.kind == "synergy"}
    assert {m.kind for s in specs for m in s.modalities} == {"tabular", "image", "text"}


def test_list_suites():
    rows = {r["name"]: r for r in list_suites()}
    assert rows["smoke"]["players"] == "12-14" and rows["smoke"]["tasks"] == 3
    assert rows["standard"]["players"] == "16-64" and rows["standard"]["modalities"] == "2-3"
    assert rows["specialisation"]["players"] == "8-8" and rows["specialisation"]["tasks"] == 4


def test_specialisation_suite_is_pure():
    unique, synergy, redundancy, unique_txt = suite_specs("specialisation")
    mod = unique.modality_of
    assert {int(mod[i]) for t in unique.terms for i in t.ids} == {0}
    assert {int(mod[i]) for t in unique_txt.terms for i in t.ids} == {1}
    assert all(t.kind == "synergy" and {int(mod[i]) for i in t.ids} == {0, 1} for t in synergy.terms)
    assert all(t.kind == "redundancy" and {int(mod[i]) for i in t.ids} == {0, 1} for t in redundancy.terms)


def test_unknown_suite():
    with pytest.raises(SpecError, match=r"^suite: unknown suite .tiny. \(choose from smoke, standard, specialisation, paper\)"):
        suite_specs("tiny")
    with pytest.raises(SpecError, match="^suite: unknown suite"):
        mxbench.generate("tiny")


def test_task_repr_and_lengths(kinds_task):
    assert repr(kinds_task) == "Task('kinds', instances=40, players=13, terms=5, modalities=['tab', 'img', 'txt'])"
    assert len(kinds_task) == 40 and kinds_task.latents.shape == (40, 13)
    assert isinstance(kinds_task.spec, TaskSpec)


def test_paper_suite_scale():
    """The paper suite: 244-1000 players, 16-46 terms of every kind, mostly cross-modal, many distractors."""
    specs = {s.name: s for s in suite_specs("paper")}
    assert sorted(s.n_players for s in specs.values()) == [244, 260, 292, 1000]
    assert [m.n_players for m in specs["paper-tab-img-txt"].modalities] == [32, 196, 64]
    for spec in specs.values():
        task = mxbench.generate(spec, instances=64)
        terms = task.plan.terms
        assert 10 <= len(terms) <= 46
        assert {t.kind for t in terms} == {"unique", "synergy", "redundancy"}
        assert max(len(t.players) for t in terms) == 3
        multi = [t for t in terms if len(t.players) > 1]
        cross = [t for t in multi if len({p.split(":")[0] for p in t.players}) > 1]
        assert len(cross) >= 0.75 * len(multi)
        planted = {p for t in terms for p in t.players}
        assert len(planted) <= 0.4 * spec.n_players          # distractor-heavy
        assert np.isfinite(task.oracle().shapley()).all()
    assert len(specs["paper-dense"].planted_terms()) >= 40
