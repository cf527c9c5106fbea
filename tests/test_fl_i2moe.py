"""FL-I2MoE: shapes, routing, exact attention maps, the interaction losses and the one masking rule."""

import json

import pytest
import torch
import torch.nn.functional as F

from mxbench.models.base import mask_modality
from mxbench.models.fl_i2moe import FLI2MoE
from mxbench.spec import ModalitySpec

TAB = ModalitySpec("tab", "tabular", features=3)
IMG = ModalitySpec("img", "image", channels=1, size=4, patch=2)
TXT = ModalitySpec("txt", "text", length=2, vocab=16)
MODS = (TAB, IMG, TXT)
SMALL = {"dim": 8, "heads": 2}


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: one thread is faster, and immune to oversubscribed cores."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def batch(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"tab": torch.randn(n, 3, generator=g), "img": torch.randn(n, 1, 4, 4, generator=g),
            "txt": torch.randint(0, 16, (n, 2), generator=g)}


def model(mods=MODS, seed=0, **config):
    torch.manual_seed(seed)
    return FLI2MoE(mods, **{**SMALL, **config})


def test_shapes_names_and_mixture():
    m, x = model(), batch()
    y = m(x)
    assert y.shape == (5,)
    assert m.expert_names == ["uni:tab", "uni:img", "uni:txt", "syn", "red"]
    assert m.routing.shape == (5, 5) and m.expert_outputs.shape == (5, 5)
    assert m.latents.shape == (5, 5, 3 * 8)  # (E, B, M * dim)
    assert torch.allclose(m.routing.sum(1), torch.ones(5))
    assert bool((m.routing > 0).all())
    assert torch.allclose(y, (m.routing * m.expert_outputs).sum(1))


def test_attention_maps_are_exact_row_stochastic_and_on_the_autograd_path():
    m, x = model(layers=2), batch()
    y = m(x)
    maps = [a for per_expert in m.expert_attention for a in per_expert]
    assert len(m.expert_attention) == 5 and all(len(per) == 2 for per in m.expert_attention)
    t = 3 + 4 + 2
    for a in maps:
        assert a.shape == (5, 2, t, t)
        assert torch.allclose(a.sum(-1), torch.ones(5, 2, t), atol=1e-6)
        assert bool((a >= 0).all())
    grads = torch.autograd.grad(y.sum(), maps)
    assert all(g is not None and g.shape == a.shape for g, a in zip(grads, maps))
    assert all(float(g.abs().sum()) > 0 for g in grads)


def test_attention_maps_match_a_reference_computation():
    # layer 0 of expert 1, recomputed by hand from the tokens and that expert's weights
    m, x = model(shared_init=False), batch()
    m(x)
    blk, e, d, heads = m.experts.blocks[0], 1, 8, 2
    tok = m.tokens(x)
    u = F.layer_norm(tok, (d,)) * blk["ln1_w"][e] + blk["ln1_b"][e]
    q = (u @ blk["wqkv"][e])[..., :d].view(5, -1, heads, d // heads).transpose(1, 2)
    k = (u @ blk["wqkv"][e])[..., d:2 * d].view(5, -1, heads, d // heads).transpose(1, 2)
    ref = torch.softmax(q @ k.transpose(-1, -2) / (d // heads) ** 0.5, dim=-1)
    assert torch.allclose(m.expert_attention[e][0], ref, atol=1e-5)


def test_deterministic_under_manual_seed():
    x = batch()
    a, b = model(seed=3), model(seed=3)
    assert torch.equal(a(x), b(x))
    assert torch.equal(a.training_loss(x, torch.zeros(5), torch.nn.MSELoss()),
                       b.training_loss(x, torch.zeros(5), torch.nn.MSELoss()))
    assert not torch.equal(model(seed=4)(x), a(x))


def test_shared_init_starts_experts_from_the_same_weights():
    x = batch()
    same = model(shared_init=True)
    same(x)
    out = same.expert_outputs
    assert torch.allclose(out, out[:, :1].expand_as(out))  # every expert gives the same output at init
    diff = model(shared_init=False)
    diff(x)
    assert not torch.allclose(diff.expert_outputs[:, 0], diff.expert_outputs[:, 1])


def test_masking_follows_the_one_rule():
    m, x = model(), batch()
    masked = mask_modality(x, TXT)
    assert not torch.allclose(m(x), m(masked))  # the text modality matters
    other = dict(x, txt=torch.randint(4, 16, (5, 2)))
    assert torch.equal(m(masked), m(mask_modality(other, TXT)))  # once masked, its raw values do not


def test_interaction_losses_equal_the_paper_formulas_on_baseline_knockouts():
    m, x = model(interaction_batch=0), batch()
    parts = m.interaction_losses(x)
    m(x)
    anchor = m.latents  # (E, B, M*dim)
    knocked = []
    for mod in MODS:
        m(mask_modality(x, mod))  # knock-out = the one masking rule, not noise
        knocked.append(m.latents)
    for i, name in enumerate(["uni:tab", "uni:img", "uni:txt"]):
        ref = torch.stack([F.triplet_margin_loss(anchor[i], knocked[j][i], knocked[i][i], margin=1.0)
                           for j in range(3) if j != i]).mean()
        assert torch.allclose(parts[name], ref, atol=1e-5)
    cos = [F.cosine_similarity(anchor[3], k[3], dim=1).mean() for k in knocked]
    assert torch.allclose(parts["syn"], torch.stack(cos).mean(), atol=1e-5)
    cos = [F.cosine_similarity(anchor[4], k[4], dim=1).mean() for k in knocked]
    assert torch.allclose(parts["red"], 1 - torch.stack(cos).mean(), atol=1e-5)
    total = sum(parts[n] for n in m.expert_names) / 5
    assert torch.allclose(parts["total"], total)


def test_training_loss_is_task_loss_plus_weighted_interaction_loss():
    x, t, mse = batch(8), torch.randn(8), torch.nn.MSELoss()
    m = model(lambda_int=0.3, interaction_batch=4)
    loss = m.training_loss(x, t, mse)
    y = (m.routing * m.expert_outputs).sum(1)
    assert m.routing.shape == (8, 5)  # the exposed tensors are those of the full batch
    sub = {k: v[:4] for k, v in x.items()}  # the knock-out passes use the first 4 instances
    expected = mse(y, t) + 0.3 * m.interaction_losses(sub)["total"]
    assert torch.allclose(loss, expected, atol=1e-6)
    assert torch.allclose(model(lambda_int=0.0).training_loss(x, t, mse), mse(model(lambda_int=0.0)(x), t))


def test_single_modality_has_no_uniqueness_loss():
    m = model(mods=(TAB,))
    parts = m.interaction_losses({"tab": torch.randn(4, 3)})
    assert float(parts["uni:tab"]) == 0.0
    assert m.expert_names == ["uni:tab", "syn", "red"]


def test_config_is_json_and_rebuilds_the_model():
    m = model(lambda_int=0.2, temperature=2.0)
    config = json.loads(json.dumps(m.config))
    rebuilt = FLI2MoE(MODS, **config)
    rebuilt.load_state_dict(m.state_dict())
    x = batch()
    assert torch.equal(rebuilt(x), m(x))


def test_temperature_flattens_the_routing():
    x = batch()
    sharp, flat = model(temperature=0.1), model(temperature=100.0)
    sharp(x)
    flat(x)
    assert float(flat.routing.detach().std()) < float(sharp.routing.detach().std())
    assert torch.allclose(flat.routing, torch.full((5, 5), 0.2), atol=0.01)


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="divisible"):
        FLI2MoE(MODS, dim=10, heads=4)
    with pytest.raises(ValueError, match="temperature"):
        FLI2MoE(MODS, temperature=0.0)


def test_a_few_steps_reduce_the_training_loss():
    torch.manual_seed(0)
    m = FLI2MoE((TAB, TXT), dim=16, heads=2)
    x = {"tab": torch.randn(128, 3), "txt": torch.randint(0, 16, (128, 2))}
    t = x["tab"][:, 0] * 2 + (x["txt"][:, 0] > 8).float()
    opt = torch.optim.Adam(m.parameters(), lr=FLI2MoE.default_lr)
    with torch.no_grad():
        first = float(m.training_loss(x, t, torch.nn.MSELoss()))
    for _ in range(30):
        loss = m.training_loss(x, t, torch.nn.MSELoss())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(m.training_loss(x, t, torch.nn.MSELoss())) < 0.5 * first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_cuda():
    m = model().to("cuda")
    x = {k: v.to("cuda") for k, v in batch().items()}
    y = m(x)
    loss = m.training_loss(x, torch.zeros(5, device="cuda"), torch.nn.MSELoss())
    loss.backward()
    assert y.device.type == "cuda" and m.expert_attention[0][0].device.type == "cuda"
    assert torch.allclose(y.cpu(), model()(batch()), atol=1e-4)
