"""The late-fusion MLP and the token transformer: shapes, determinism, masking, attention maps."""

from __future__ import annotations

import copy
import inspect
import json
import math

import numpy as np
import pytest
import torch

from mxbench.models.base import mask_modality, row_softmax
from mxbench.models.fusion_mlp import FusionMLP
from mxbench.models.transformer import SelfAttention, TokenTransformer
from mxbench.spec import ModalitySpec

MODS = (ModalitySpec("tab", "tabular", features=3),
        ModalitySpec("img", "image", channels=2, size=4, patch=2),
        ModalitySpec("txt", "text", length=3, vocab=16))
N_PLAYERS = 3 + 4 + 3
SMALL = {FusionMLP: {"hidden": 32}, TokenTransformer: {"dim": 16, "head_hidden": 32}}
ARCHS = [FusionMLP, TokenTransformer]


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: these small matrices gain nothing from more, and lose much on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _inputs(b: int = 6, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"tab": torch.randn(b, 3, generator=g), "img": torch.randn(b, 2, 4, 4, generator=g),
            "txt": torch.randint(1, 16, (b, 3), generator=g)}


def _model(cls, seed: int = 0, **config):
    torch.manual_seed(seed)
    model = cls(MODS, **{**SMALL[cls], **config})
    model.eval()
    return model


@pytest.mark.parametrize("cls", ARCHS)
def test_output_is_one_float_per_instance(cls):
    out = _model(cls)(_inputs(7))
    assert out.shape == (7,)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("cls", ARCHS)
def test_defaults_are_json_and_rebuild_the_same_model(cls):
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items() if k != "modalities"}
    assert all(v is not inspect.Parameter.empty for v in defaults.values())
    config = json.loads(json.dumps(defaults))
    assert config == defaults
    a, b = _model(cls, seed=3, **config), _model(cls, seed=3, **config)
    x = _inputs()
    assert torch.equal(a(x), b(x))
    assert 1e-4 <= cls.default_lr <= 1e-2


@pytest.mark.parametrize("cls", ARCHS)
def test_same_seed_same_model_other_seed_other_model(cls):
    x = _inputs()
    assert torch.equal(_model(cls, seed=1)(x), _model(cls, seed=1)(x))
    assert not torch.allclose(_model(cls, seed=1)(x), _model(cls, seed=2)(x))


@pytest.mark.parametrize("cls", ARCHS)
def test_each_instance_is_computed_on_its_own(cls):
    model, x = _model(cls), _inputs(5)
    full = model(x)
    for i in range(5):
        one = model({k: v[i:i + 1] for k, v in x.items()})
        torch.testing.assert_close(one[0], full[i], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cls", ARCHS)
def test_masking_a_modality_changes_the_output_and_is_idempotent(cls):
    model, x = _model(cls), _inputs()
    out = model(x)
    for m in MODS:
        masked = mask_modality(x, m)
        assert not torch.allclose(model(masked), out)
        torch.testing.assert_close(model(mask_modality(masked, m)), model(masked), rtol=0, atol=0)


def test_int32_and_int64_tokens_give_the_same_output():
    x = _inputs()
    x32 = {**x, "txt": x["txt"].to(torch.int32)}
    for cls in ARCHS:
        model = _model(cls)
        torch.testing.assert_close(model(x32), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("cls", ARCHS)
def test_no_tensor_is_hard_coded_outside_the_module(cls):
    """Parameters and buffers follow ``.to()``: a float64 copy computes in float64 alike."""
    model, x = _model(cls), _inputs()
    double = _model(cls).double()
    xd = {k: v.double() if v.is_floating_point() else v for k, v in x.items()}
    out = double(xd)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("cls", ARCHS)
def test_runs_on_cuda(cls):  # pragma: no cover - needs a GPU
    model, x = _model(cls), _inputs()
    gpu = _model(cls).to("cuda")
    out = gpu({k: v.to("cuda") for k, v in x.items()})
    torch.testing.assert_close(out.cpu(), model(x), rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- FusionMLP


def test_fusion_mlp_modality_vectors_are_independent_of_the_other_modalities():
    """Late fusion: masking one modality leaves every other modality's vector untouched."""
    model, x = _model(FusionMLP), _inputs()
    vectors = model.modality_vectors(x)
    assert [v.shape for v in vectors] == [(6, 3 * 8), (6, 4 * 8), (6, 3 * 8)]
    for k, m in enumerate(MODS):
        masked = model.modality_vectors(mask_modality(x, m))
        for j in range(len(MODS)):
            same = torch.equal(masked[j], vectors[j])
            assert same == (j != k)


def test_fusion_mlp_absent_players_have_the_same_features_in_every_instance():
    model, x = _model(FusionMLP), _inputs()
    for m in MODS:
        feats = model.player_features(mask_modality(x, m))[MODS.index(m)]
        torch.testing.assert_close(feats, feats[:1].expand_as(feats), rtol=0, atol=0)
        # while present players differ between instances
        present = model.player_features(x)[MODS.index(m)]
        assert not torch.allclose(present, present[:1].expand_as(present))


def test_fusion_mlp_layers_and_widths_follow_the_config():
    model = FusionMLP(MODS, player_dim=4, hidden=16, layers=3)
    linears = [m for m in model.fusion if isinstance(m, torch.nn.Linear)]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(N_PLAYERS * 4, 16), (16, 16), (16, 16), (16, 1)]
    with pytest.raises(ValueError, match="layers"):
        FusionMLP(MODS, layers=0)
    with pytest.raises(ValueError, match="activation"):
        FusionMLP(MODS, activation="swish")


# --------------------------------------------------------------------------- TokenTransformer


@pytest.mark.parametrize("pool, tokens", [("flatten", N_PLAYERS), ("mean", N_PLAYERS), ("readout", N_PLAYERS + 1)])
def test_attention_maps_are_row_stochastic_per_layer_and_head(pool, tokens):
    model = _model(TokenTransformer, pool=pool, layers=3, heads=2)
    out = model(_inputs(5))
    assert out.shape == (5,)
    assert len(model.attention) == 3
    for a in model.attention:
        assert a.shape == (5, 2, tokens, tokens)
        assert (a >= 0).all()
        torch.testing.assert_close(a.sum(-1), torch.ones(5, 2, tokens), rtol=0, atol=1e-6)
    assert model.readout_index == (N_PLAYERS if pool == "readout" else None)


def test_attention_maps_are_the_probabilities_actually_used():
    """The written-out attention equals PyTorch's fused attention on the same q, k, v."""
    torch.manual_seed(0)
    attn = SelfAttention(16, heads=4)
    x = torch.randn(3, 7, 16)
    out, probs = attn(x)
    q, k, v = attn.qkv(x).reshape(3, 7, 3, 4, 4).permute(2, 0, 3, 1, 4)
    fused = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, attn.out(fused.transpose(1, 2).reshape(3, 7, 16)), rtol=1e-5, atol=1e-5)
    expected = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(4), dim=-1)
    torch.testing.assert_close(probs, expected, rtol=1e-6, atol=1e-7)


def test_transformer_is_early_fusion_masking_text_changes_the_attention_of_image_players():
    model, x = _model(TokenTransformer), _inputs()
    model(x)
    before = [a.clone() for a in model.attention]
    model(mask_modality(x, MODS[2]))
    img = slice(3, 7)
    # layer 1: image players read text players with other weights; layer 2: image rows change too
    assert not torch.allclose(model.attention[0][:, :, img], before[0][:, :, img])
    assert not torch.allclose(model.attention[1][:, :, img, img], before[1][:, :, img, img])


def test_attention_gradients_agree_with_retain_grad_and_leave_parameters_alone():
    model, x = _model(TokenTransformer), _inputs(4)
    out, maps, grads = model.attention_gradients(x)
    assert all(p.grad is None for p in model.parameters())
    assert not model.retain_attention_grad
    assert [g.shape for g in grads] == [m.shape for m in maps] == [(4, 4, N_PLAYERS, N_PLAYERS)] * 2
    assert all(not m.requires_grad for m in model.attention)

    model.retain_attention_grad = True
    again = model(x)
    again.sum().backward()
    torch.testing.assert_close(again.detach(), out)
    for stored, g in zip(model.attention, grads):
        torch.testing.assert_close(stored.grad, g)
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_attention_gradient_matches_a_finite_difference():
    """d output / d attention[0][b, h, i, j], checked by nudging that one probability."""
    model = _model(TokenTransformer).double()
    x = {k: v.double() if v.is_floating_point() else v for k, v in _inputs(2).items()}
    _, _, grads = model.attention_gradients(x)
    b, h, i, j, eps = 1, 2, 4, 8, 1e-6
    block = model.blocks[0]
    original = block.attn.forward

    def nudged(tokens):
        o, p = original(tokens)
        p = p.clone()
        p[b, h, i, j] += eps
        t = tokens.shape[1]
        _, _, v = block.attn.qkv(tokens).reshape(tokens.shape[0], t, 3, 4, -1).permute(2, 0, 3, 1, 4)
        return block.attn.out((p @ v).transpose(1, 2).reshape(tokens.shape[0], t, -1)), p

    with torch.no_grad():
        base = model(x)
        block.attn.forward = nudged
        try:
            moved = model(x)
        finally:
            block.attn.forward = original
    assert abs(float((moved - base)[b]) / eps - float(grads[0][b, h, i, j])) < 1e-5
    torch.testing.assert_close(moved[0], base[0])


def test_attention_gradients_with_frozen_parameters():
    model, x = _model(TokenTransformer), _inputs(3)
    for p in model.parameters():
        p.requires_grad_(False)
    _, maps, grads = model.attention_gradients(x)
    assert [g.shape for g in grads] == [m.shape for m in maps]
    assert any(float(g.abs().sum()) > 0 for g in grads)


def test_no_graph_is_kept_in_inference():
    model, x = _model(TokenTransformer), _inputs()
    with torch.no_grad():
        model(x)
    assert all(not a.requires_grad for a in model.attention)


def test_a_model_with_attention_in_the_graph_can_be_copied():
    model, x = _model(TokenTransformer), _inputs()
    model(x)
    assert model.attention[0].requires_grad
    twin = copy.deepcopy(model)
    assert model.attention[0].requires_grad and not twin.attention[0].requires_grad
    torch.testing.assert_close(twin.attention[1], model.attention[1].detach())
    torch.testing.assert_close(twin(x), model(x))


def test_transformer_config_is_checked():
    with pytest.raises(ValueError, match="pool"):
        TokenTransformer(MODS, pool="max")
    with pytest.raises(ValueError, match="dim"):
        TokenTransformer(MODS, dim=18, heads=4)
    with pytest.raises(ValueError, match="layers"):
        TokenTransformer(MODS, layers=0)
    assert isinstance(TokenTransformer(MODS, dim=8, head_hidden=0).head, torch.nn.Linear)


# --------------------------------------------------------------------------- learning


@pytest.mark.parametrize("cls, config, steps", [(FusionMLP, {"hidden": 64}, 80),
                                                (TokenTransformer, {"dim": 16, "head_hidden": 64}, 80)])
def test_learns_a_masked_product_of_two_players(cls, config, steps):
    """A product of a column and an image patch, with random players masked, to R^2 > 0.9."""
    mods = (ModalitySpec("tab", "tabular", features=2), ModalitySpec("img", "image", size=4, patch=2, noise=0.0))
    template = torch.tensor([0.5, 0.5, 0.5, 0.5])
    g = torch.Generator().manual_seed(0)

    def batch(n):
        s = torch.randn(n, 6, generator=g) * (torch.rand(n, 6, generator=g) < 0.7)
        patches = s[:, 2:, None] * template  # (n, 4 patches, 4 pixels), row-major 2x2 grid
        img = patches.reshape(n, 2, 2, 2, 2).permute(0, 1, 3, 2, 4).reshape(n, 1, 4, 4)
        return {"tab": s[:, :2], "img": img}, s[:, 0] * s[:, 3] + 0.5 * s[:, 1]

    torch.manual_seed(0)
    model = cls(mods, **config)
    opt = torch.optim.Adam(model.parameters(), lr=cls.default_lr)
    for _ in range(steps):
        x, y = batch(256)
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x, y = batch(2000)
    with torch.no_grad():
        r2 = 1 - float(((model(x) - y) ** 2).mean() / y.var())
    assert r2 > 0.9, r2
    assert np.isfinite(r2)


def test_row_softmax_matches_torch_softmax_in_value_and_gradient():
    gen = torch.Generator().manual_seed(3)
    scores = (10 * torch.randn(4, 2, 7, 7, generator=gen, dtype=torch.float64)).requires_grad_()
    upstream = torch.randn(4, 2, 7, 7, generator=gen, dtype=torch.float64)
    ours, theirs = row_softmax(scores), torch.softmax(scores, dim=-1)
    assert torch.allclose(ours, theirs, atol=1e-12)
    g_ours, = torch.autograd.grad(ours, scores, upstream)
    g_theirs, = torch.autograd.grad(theirs, scores, upstream)
    assert torch.allclose(g_ours, g_theirs, atol=1e-12)
    assert torch.autograd.gradcheck(row_softmax, (scores[:1, :1, :3],))
    # large scores do not overflow: the row maximum is subtracted first
    big = torch.tensor([[1000.0, 1000.0, -1000.0]])
    assert torch.equal(row_softmax(big), torch.tensor([[0.5, 0.5, 0.0]]))
