"""FL-I2MoE's options: the authors' noise perturbation, the decorrelation regularisers, model specs.

The options are checked by ``resolve_config`` (and the CLI and runner that call it), each
regulariser equals its definition on hand-built latents, short trainings with every option are
deterministic, and the default options train bit for bit the weights they trained before the
options existed.
"""

import hashlib
import itertools
import json

import pytest
import torch
import torch.nn.functional as F

import mxbench
from mxbench.bench.runner import RunnerError, model_folder, model_name, model_spec, validate
from mxbench.cli import _models, main
from mxbench.models import ModelError, load, resolve_config, train
from mxbench.models.base import mask_modality
from mxbench.models.fl_i2moe import (PERTURBATIONS, REGULARIZER_WEIGHTS, REGULARIZERS, FLI2MoE, rep_barlow,
                                     rep_cka, rep_cos)
from mxbench.spec import ModalitySpec

TAB = ModalitySpec("tab", "tabular", features=3)
TXT = ModalitySpec("txt", "text", length=2, vocab=16)
MODS = (TAB, TXT)
SMALL = {"dim": 8, "heads": 2, "layers": 1}
#: What the code before these options trained (``short_training()`` with no options): the SHA-256
#: of the state dict, under this torch version on CPU (float results may differ on another one).
BEFORE_HASH = "84d2ac9ae72516d52be504e41550a5c473f3a4737ae910d88ab4ea307cee9745"
BEFORE_TORCH = "2.13.0"


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def task():
    return mxbench.generate("smoke", instances=300)[0]


def weight_hash(module):
    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def short_training(task, **options):
    return train(task, "fl_i2moe", epochs=2, certify=False, examples_per_epoch=256, config={**SMALL, **options})


# ---------------------------------------------------------------------- resolve_config
def test_resolve_config_accepts_and_records_the_options():
    default = resolve_config("fl_i2moe")
    assert (default["perturbation"], default["regularizer"], default["regularizer_weight"]) == ("baseline", "none", None)
    c = resolve_config("fl_i2moe", {"perturbation": "noise", "regularizer": "rep-barlow", "regularizer_weight": 0.5})
    assert (c["perturbation"], c["regularizer"], c["regularizer_weight"]) == ("noise", "rep-barlow", 0.5)
    assert resolve_config("fl_i2moe", {"regularizer_weight": 0})["regularizer_weight"] == 0
    assert set(REGULARIZERS) == {"none", "rep-cos", "rep-barlow", "rep-cka"} and PERTURBATIONS == ("baseline", "noise")


@pytest.mark.parametrize("config, message", [
    ({"regularizer": "rep-l2"},
     "config.regularizer: expected one of 'none', 'rep-cos', 'rep-barlow', 'rep-cka', got 'rep-l2'"),
    ({"regularizer": 1}, "config.regularizer: expected one of 'none', 'rep-cos', 'rep-barlow', 'rep-cka', got 1"),
    ({"perturbation": "gauss"}, "config.perturbation: expected one of 'baseline', 'noise', got 'gauss'"),
    ({"regularizer_weight": -0.1}, "config.regularizer_weight: expected null or a finite number >= 0, got -0.1"),
    ({"regularizer_weight": float("nan")}, "config.regularizer_weight: expected null or a finite number >= 0, got nan"),
    ({"regularizer_weight": True}, "config.regularizer_weight: expected null or a finite number >= 0, got True"),
    ({"regularizer_weight": "3e-3"},
     "config.regularizer_weight: expected null or a finite number >= 0, got '3e-3'"),
])
def test_resolve_config_refuses_bad_options(config, message):
    with pytest.raises(ModelError) as e:
        resolve_config("fl_i2moe", config)
    assert str(e.value) == message


def test_the_constructor_refuses_bad_options_too():
    with pytest.raises(ValueError, match=r"^regularizer: expected one of 'none', 'rep-cos'"):
        FLI2MoE(MODS, regularizer="cos", **SMALL)
    with pytest.raises(ValueError, match=r"^regularizer_weight: expected None or a finite number >= 0, got -1"):
        FLI2MoE(MODS, regularizer_weight=-1, **SMALL)


# ---------------------------------------------------------------------- CLI and model specs
@pytest.mark.parametrize("config, message", [
    ('{"regularizer": rep-cos}', "mxbench: error: --config: not valid JSON (Expecting value at character 17): "
                                 "'{\"regularizer\": rep-cos}'"),
    ('["rep-cos"]', "mxbench: error: --config: expected a JSON object of options, got '[\"rep-cos\"]'"),
    ('{"regularizer": "rep-l2"}', "mxbench: error: config.regularizer: expected one of 'none', 'rep-cos', "
                                  "'rep-barlow', 'rep-cka', got 'rep-l2'"),
    ('{"perturbation": "zero"}', "mxbench: error: config.perturbation: expected one of 'baseline', 'noise', "
                                 "got 'zero'"),
    ('{"regularizer_weight": -1}', "mxbench: error: config.regularizer_weight: expected null or a finite number "
                                   ">= 0, got -1"),
    ('{"regulariser": "rep-cos"}', "mxbench: error: config: fl_i2moe takes no option 'regulariser' (options: "),
])
def test_cli_train_refuses_a_bad_config_in_one_line_and_writes_nothing(tmp_path, capsys, config, message):
    out = tmp_path / "model"
    status = main(["train", str(tmp_path / "data"), "--arch", "fl_i2moe", "--out", str(out), "--config", config])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith(message) and err.count("\n") == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


def test_model_specs_parse_name_and_split():
    assert model_spec('fl_i2moe{"regularizer": "rep-cos"}') == ("fl_i2moe", {"regularizer": "rep-cos"})
    assert model_name('fl_i2moe {"regularizer": "rep-cos", "perturbation": "noise"}') == \
        'fl_i2moe{"perturbation":"noise","regularizer":"rep-cos"}'
    assert model_name("fl_i2moe") == "fl_i2moe" and model_name("fl_i2moe{}") == "fl_i2moe"
    assert _models('planted, fl_i2moe{"regularizer": "rep-cos", "perturbation": "noise"},transformer') == [
        "planted", 'fl_i2moe{"regularizer": "rep-cos", "perturbation": "noise"}', "transformer"]
    with pytest.raises(RunnerError, match=r"^models: fl_i2moe\{regularizer\}: the options are not a valid JSON "
                                          r"object \(Expecting property name enclosed in double quotes at "
                                          r"character 10\)$"):
        model_spec("fl_i2moe{regularizer}")


def test_model_folder_keeps_plain_names_and_keys_options(task):
    plain = model_folder("cache", task, "fl_i2moe")
    assert model_folder("cache", task, "fl_i2moe{}") == plain
    a = model_folder("cache", task, 'fl_i2moe{"regularizer": "rep-cos", "perturbation": "noise"}')
    b = model_folder("cache", task, 'fl_i2moe{"perturbation":"noise","regularizer":"rep-cos"}')
    c = model_folder("cache", task, 'fl_i2moe{"regularizer": "rep-cka"}')
    assert a == b and len({plain, a, c}) == 3
    assert a.name.startswith("smoke-tab-txt-fl_i2moe-s0-") and "{" not in a.name
    # the spec's options join the config of the training options
    assert model_folder("cache", task, 'fl_i2moe{"regularizer": "rep-cos"}', options={"config": {"dim": 8}}) == \
        model_folder("cache", task, 'fl_i2moe{"regularizer": "rep-cos", "dim": 8}')


def test_validate_refuses_bad_model_specs_before_anything_runs(task, tmp_path):
    cache = tmp_path / "cache"
    for spec, message in [('fl_i2moe{"regularizer": "rep-l2"}', "config.regularizer: expected one of"),
                          ('fl_i2moe{"regularizer_weight": -2}', "config.regularizer_weight: expected null or"),
                          ('fl_i2moe{"regularizer": "rep-cos"', "the options are not a valid JSON object"),
                          ('fusion_mlp{"regularizer": "rep-cos"}', "fusion_mlp takes no option 'regularizer'")]:
        with pytest.raises(RunnerError) as e:
            validate(task, models=[spec], explainers=["kernelshap"], instances=1, n_jobs=1, progress=False,
                     cache_dir=cache)
        assert str(e.value).startswith(f"models: {spec}: ") and message in str(e.value)
    with pytest.raises(RunnerError, match=r"is given twice"):
        validate(task, models=['fl_i2moe{"regularizer": "rep-cos"}', 'fl_i2moe{"regularizer":"rep-cos"}'],
                 explainers=["kernelshap"], instances=1, n_jobs=1, progress=False, cache_dir=cache)
    assert not cache.exists()


def test_cli_validate_refuses_a_bad_model_spec(tmp_path, capsys):
    out = tmp_path / "results.parquet"
    status = main(["validate", "smoke", "--models", 'planted,fl_i2moe{"perturbation": "gauss", "dim": 8}',
                   "--out", str(out), "--cache", str(tmp_path / "cache"), "--instances", "1"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err == ('mxbench: error: models: fl_i2moe{"perturbation": "gauss", "dim": 8}: config.perturbation: '
                   "expected one of 'baseline', 'noise', got 'gauss'\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- the regularisers
def literal_pairs(z, pair_value):
    e = z.shape[0]
    return torch.stack([pair_value(z[i], z[j]) for i, j in itertools.combinations(range(e), 2)]).mean()


def test_rep_cos_equals_its_definition():
    z = torch.randn(1, 6, 5, dtype=torch.float64)
    assert float(rep_cos(torch.cat([z, 3 * z, 0.5 * z]))) == pytest.approx(1.0, abs=1e-12)  # identical directions
    assert float(rep_cos(torch.cat([z, -z]))) == pytest.approx(1.0, abs=1e-12)  # squared: opposite is similar too
    ortho = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], [[0.0, 5.0, 0.0], [0.0, 0.0, 1.0]]], dtype=torch.float64)
    assert float(rep_cos(ortho)) == 0.0
    half = torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]], dtype=torch.float64)  # 45 degrees: cos^2 = 1/2
    assert float(rep_cos(half)) == pytest.approx(0.5, abs=1e-12)
    x = torch.randn(4, 7, 6, dtype=torch.float64)
    ref = literal_pairs(x, lambda a, b: (F.cosine_similarity(a, b, dim=1) ** 2).mean())
    assert float(rep_cos(x)) == pytest.approx(float(ref), abs=1e-12)
    assert float(rep_cos(x[:1])) == 0.0


def test_rep_barlow_equals_its_definition():
    x = torch.randn(3, 50, 4, dtype=torch.float64)

    def offdiag(a, b):
        sa = (a - a.mean(0)) / (a.std(0, unbiased=False) + 1e-5)
        sb = (b - b.mean(0)) / (b.std(0, unbiased=False) + 1e-5)
        c = sa.T @ sb / len(a)
        d = c.shape[0]
        return sum(c[j, k] ** 2 for j in range(d) for k in range(d) if j != k) / (d * d - d)

    assert float(rep_barlow(x)) == pytest.approx(float(literal_pairs(x, offdiag)), abs=1e-12)
    # every column the same signal: all cross-correlations 1
    s = torch.randn(40, 1, dtype=torch.float64)
    same = torch.stack([s.repeat(1, 3), 2 * s.repeat(1, 3) + 1])
    assert float(rep_barlow(same, eps=0.0)) == pytest.approx(1.0, abs=1e-9)
    # decorrelated columns (an orthogonal design): off-diagonal entries 0
    h = torch.tensor([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]], dtype=torch.float64)[:, 1:]
    assert float(rep_barlow(torch.stack([h, h]), eps=0.0)) == pytest.approx(0.0, abs=1e-12)
    assert float(rep_barlow(x[:, :, :1])) == 0.0


def test_rep_cka_equals_its_definition():
    x = torch.randn(1, 30, 5, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64))
    assert float(rep_cka(torch.cat([x, x]))) == pytest.approx(1.0, abs=1e-9)  # a matrix with itself
    assert float(rep_cka(torch.cat([x, 3 * x @ q + 2]))) == pytest.approx(1.0, abs=1e-9)  # rotated, scaled, shifted
    z = torch.randn(3, 30, 4, dtype=torch.float64)

    def cka(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        return (a.T @ b).norm() ** 2 / ((a.T @ a).norm() * (b.T @ b).norm() + 1e-8)

    assert float(rep_cka(z)) == pytest.approx(float(literal_pairs(z, cka)), abs=1e-12)
    # disjoint supports: one expert varies only on rows the other keeps constant
    a = torch.tensor([[1.0], [-1.0], [0.0], [0.0]], dtype=torch.float64)
    b = torch.tensor([[0.0], [0.0], [1.0], [-1.0]], dtype=torch.float64)
    assert float(rep_cka(torch.stack([a, b]))) == pytest.approx(0.0, abs=1e-12)


def test_training_loss_adds_the_weighted_regulariser_with_barlow_warm_up():
    x = {"tab": torch.randn(6, 3), "txt": torch.randint(0, 16, (6, 2))}
    t = torch.randn(6)
    mse = torch.nn.MSELoss()
    for reg, fn in (("rep-cos", rep_cos), ("rep-barlow", rep_barlow), ("rep-cka", rep_cka)):
        torch.manual_seed(0)
        m = FLI2MoE(MODS, regularizer=reg, **SMALL)
        assert m.regularizer_weight == REGULARIZER_WEIGHTS[reg]
        m.set_epoch(2)
        loss = m.training_loss(x, t, mse)
        ref = mse(m(x), t) + m.lambda_int * m.interaction_losses(x)["total"]
        scale = 0.5 if reg == "rep-barlow" else 1.0  # epoch 2 of a 5-epoch warm-up: 2/4
        ref = ref + REGULARIZER_WEIGHTS[reg] * scale * fn(m.latents)
        assert float(loss.detach()) == pytest.approx(float(ref.detach()), rel=1e-5)
    assert REGULARIZER_WEIGHTS == {"none": 0.0, "rep-cos": 3e-3, "rep-barlow": 10.0, "rep-cka": 3e-3}
    m = FLI2MoE(MODS, regularizer="rep-barlow", regularizer_weight=2.0, **SMALL)
    weights = []
    for epoch in range(7):
        m.set_epoch(epoch)
        weights.append(m.effective_regularizer_weight())
    assert weights == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]


# ---------------------------------------------------------------------- the noise perturbation
def test_noise_replaces_the_content_of_one_modality_and_keeps_its_embeddings():
    torch.manual_seed(0)
    m = FLI2MoE(MODS, perturbation="noise", **SMALL)
    x = {"tab": torch.randn(5, 3), "txt": torch.randint(0, 16, (5, 2))}
    per_mod = m.tokens.per_modality(x)
    torch.manual_seed(7)
    knocked = m._knockout_tokens(x, 4, per_mod)
    torch.manual_seed(7)
    noise = [torch.randn(4, 3, 8), torch.randn(4, 2, 8)]
    pos, emb = m.tokens.position, m.tokens.modality
    assert torch.equal(knocked[0][:, :3], noise[0] + pos[:3] + emb[0])
    assert torch.equal(knocked[0][:, 3:], per_mod[1][:4])
    assert torch.equal(knocked[1][:, :3], per_mod[0][:4])
    assert torch.equal(knocked[1][:, 3:], noise[1] + pos[3:] + emb[1])
    # the baseline rule: the masked modality re-encoded
    b = FLI2MoE(MODS, **SMALL)
    base = b._knockout_tokens(x, 4, b.tokens.per_modality(x))
    sub = {k: v[:4] for k, v in x.items()}
    assert torch.equal(base[1], torch.cat(b.tokens.per_modality(mask_modality(sub, TXT)), dim=1))


# ---------------------------------------------------------------------- training
def test_default_options_train_the_weights_of_before(task):
    implicit = weight_hash(short_training(task).module)
    explicit = weight_hash(short_training(task, perturbation="baseline", regularizer="none",
                                         regularizer_weight=None).module)
    zero_weight = weight_hash(short_training(task, regularizer="rep-cos", regularizer_weight=0.0).module)
    assert implicit == explicit == zero_weight
    if torch.__version__.startswith(BEFORE_TORCH):
        assert implicit == BEFORE_HASH


@pytest.mark.parametrize("options", [{"perturbation": "noise"}, {"regularizer": "rep-cos"},
                                     {"regularizer": "rep-barlow"}, {"regularizer": "rep-cka", "perturbation": "noise"}])
def test_each_option_trains_deterministically_and_changes_the_weights(task, options):
    first, second = short_training(task, **options), short_training(task, **options)
    assert weight_hash(first.module) == weight_hash(second.module)
    assert first.history == second.history
    assert weight_hash(first.module) != BEFORE_HASH
    assert all(h["train_loss"] == h["train_loss"] for h in first.history)  # finite, not NaN


def test_options_are_recorded_in_config_json_and_reload(task, tmp_path):
    model = short_training(task, perturbation="noise", regularizer="rep-barlow", regularizer_weight=1.5)
    model.save(tmp_path / "m")
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    assert {k: doc["config"][k] for k in ("perturbation", "regularizer", "regularizer_weight")} == \
        {"perturbation": "noise", "regularizer": "rep-barlow", "regularizer_weight": 1.5}
    again = load(tmp_path / "m")
    assert again.module.perturbation == "noise" and again.module.regularizer_weight == 1.5
    assert weight_hash(again.module) == weight_hash(model.module)
