"""HSCL model: shapes, gradients, masking, determinism, references for PE and fusion, config, save/load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer

from hscl.data.types import Batch
from hscl.errors import ConfigError
from hscl.model import HSCL, HSCLConfig, HSCLOutput, SequenceEncoderConfig, load_tokenizer
from hscl.model.encoders import SequenceEncoder, sinusoidal_positions
from hscl.model.fusion import BimodalFusionLayer

AUDIO_DIM = 5  # odd, no input projection: exercises odd-width positional encodings
VISUAL_DIM = 20  # projected to d_model 16
D_PRJH = 8
ALL_SETTINGS = ["text", "audio", "visual", "audio+visual"]


def tiny_config(text_model: Path | str, modalities: str = "audio+visual", **overrides) -> HSCLConfig:
    config = HSCLConfig(
        text_model=str(text_model),
        modalities=modalities,
        audio_dim=AUDIO_DIM,
        visual_dim=VISUAL_DIM,
        audio_encoder=SequenceEncoderConfig(n_heads=1, ff_dim=16, n_layers=2),
        visual_encoder=SequenceEncoderConfig(d_model=16, n_heads=4, ff_dim=16, n_layers=2),
        fusion_heads=4,
        d_prjh=D_PRJH,
    )
    return config.replace(**overrides)


def build(text_model: Path, modalities: str = "audio+visual", seed: int = 0, **overrides) -> HSCL:
    torch.manual_seed(seed)
    return HSCL(tiny_config(text_model, modalities, **overrides))


def pad_batch(batch: Batch, extra_tokens: int, extra_frames: int, pad_token_id: int) -> Batch:
    """`batch` with every sequence longer by padding; padded features hold garbage the model must ignore."""
    size = len(batch)
    input_ids = torch.cat([batch.input_ids, torch.full((size, extra_tokens), pad_token_id)], dim=1)
    no_tokens = torch.zeros(size, extra_tokens, dtype=torch.bool)
    attention_mask = torch.cat([batch.attention_mask, no_tokens], dim=1)
    padded = Batch(input_ids, attention_mask, batch.labels)
    for name in ("audio", "visual"):
        features, mask = getattr(batch, name), getattr(batch, f"{name}_mask")
        if features is None:
            continue
        garbage = 100.0 * torch.randn(size, extra_frames, features.shape[2])
        features = torch.cat([features, garbage], dim=1)
        features[:, : mask.shape[1]][~mask] = 100.0
        setattr(padded, name, features)
        no_frames = torch.zeros(size, extra_frames, dtype=torch.bool)
        setattr(padded, f"{name}_mask", torch.cat([mask, no_frames], dim=1))
    return padded


def output_fields(output: HSCLOutput) -> dict[str, torch.Tensor]:
    return {"prediction": output.prediction, "fused": output.fused, **output.projections()}


# --- forward, backward, shapes -------------------------------------------------------------------


@pytest.mark.parametrize("modalities", ALL_SETTINGS)
def test_forward_backward_shapes_and_gradients(tiny_text_model_dir, tiny_tokenizer, make_batch, modalities):
    model = build(tiny_text_model_dir, modalities).train()
    batch = make_batch(tiny_tokenizer, 5, AUDIO_DIM, VISUAL_DIM)
    output = model(batch)

    assert output.prediction.shape == (5,)
    assert output.fused.shape == (5, 32)
    expected = {"z_t"}
    if "audio" in modalities:
        expected |= {"z_a", "z_at"}
    if "visual" in modalities:
        expected |= {"z_v", "z_vt"}
    assert set(output.projections()) == expected
    for name in ("z_t", "z_a", "z_v", "z_at", "z_vt"):
        value = getattr(output, name)
        assert (value is None) == (name not in expected)
        if value is not None:
            assert value.shape == (5, D_PRJH)

    loss = output.prediction.sum() + sum(z.sum() for z in output.projections().values())
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(parameter.grad).all(), name
        # A key bias shifts every score of a query equally, so softmax makes its gradient zero.
        if not name.endswith("key.bias"):
            assert parameter.grad.abs().sum() > 0, f"{name} got a zero gradient"


def test_modules_exist_only_for_active_modalities(tiny_text_model_dir):
    assert set(build(tiny_text_model_dir, "audio").encoders) == {"audio"}
    assert set(build(tiny_text_model_dir, "visual").fusions) == {"visual"}
    text_only = build(tiny_text_model_dir, "text")
    assert len(text_only.encoders) == len(text_only.fusions) == len(text_only.fused_projections) == 0


def test_text_only_model_predicts_from_text_cls(tiny_text_model_dir, tiny_tokenizer, make_batch):
    model = build(tiny_text_model_dir, "text").eval()
    batch = make_batch(tiny_tokenizer, 3)
    with torch.no_grad():
        output = model(batch)
        tokens = model.text_encoder(batch.input_ids, batch.attention_mask)
    torch.testing.assert_close(output.fused, tokens[:, 0], rtol=0, atol=0)
    torch.testing.assert_close(output.prediction, model.predictor(tokens[:, 0]), rtol=0, atol=0)


def test_fused_is_mean_of_bimodal_cls_states(tiny_text_model_dir, tiny_tokenizer, make_batch):
    model = build(tiny_text_model_dir).eval()
    batch = make_batch(tiny_tokenizer, 4, AUDIO_DIM, VISUAL_DIM)
    with torch.no_grad():
        output = model(batch)
        tokens = model.text_encoder(batch.input_ids, batch.attention_mask)
        fused = []
        for name in ("audio", "visual"):
            states, keep = model.encoders[name](getattr(batch, name), getattr(batch, f"{name}_mask"))
            fused.append(model.fusions[name](tokens, batch.attention_mask, states, keep)[:, 0])
    torch.testing.assert_close(output.fused, (fused[0] + fused[1]) / 2, rtol=0, atol=1e-6)


def test_batch_without_needed_modality_is_rejected(tiny_text_model_dir, tiny_tokenizer, make_batch):
    model = build(tiny_text_model_dir, "audio+visual")
    with pytest.raises(ValueError, match="visual"):
        model(make_batch(tiny_tokenizer, 3, AUDIO_DIM, None))


def test_wrong_feature_size_is_rejected(tiny_text_model_dir, tiny_tokenizer, make_batch):
    model = build(tiny_text_model_dir, "audio")
    with pytest.raises(ValueError, match="size 7"):
        model(make_batch(tiny_tokenizer, 3, 7, None))


# --- CLS token, determinism, padding -------------------------------------------------------------


def test_cls_token_is_a_learned_parameter_and_eval_is_deterministic(tiny_text_model_dir, tiny_tokenizer, make_batch):
    model = build(tiny_text_model_dir).eval()
    parameters = dict(model.named_parameters())
    for name in ("audio", "visual"):
        assert isinstance(model.encoders[name].cls, nn.Parameter)
        assert parameters[f"encoders.{name}.cls"] is model.encoders[name].cls
    batch = make_batch(tiny_tokenizer, 4, AUDIO_DIM, VISUAL_DIM)
    with torch.no_grad():
        first, second = output_fields(model(batch)), output_fields(model(batch))
    for name in first:
        assert torch.equal(first[name], second[name]), name


@pytest.mark.parametrize("modalities", ALL_SETTINGS)
def test_extra_padding_does_not_change_outputs(tiny_text_model_dir, tiny_tokenizer, make_batch, modalities):
    model = build(tiny_text_model_dir, modalities).eval()
    batch = make_batch(tiny_tokenizer, 5, AUDIO_DIM, VISUAL_DIM)
    padded = pad_batch(batch, extra_tokens=3, extra_frames=4, pad_token_id=tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        plain, extended = output_fields(model(batch)), output_fields(model(padded))
    for name in plain:
        torch.testing.assert_close(extended[name], plain[name], rtol=0, atol=1e-5, msg=name)


def test_sequence_encoder_handles_empty_samples_and_zeroes_padding():
    torch.manual_seed(0)
    config = SequenceEncoderConfig(d_model=8, n_heads=2, ff_dim=16, n_layers=2, dropout=0.0)
    encoder = SequenceEncoder(6, config)
    features = torch.randn(3, 5, 6)
    mask = torch.tensor([[False] * 5, [True, True, False, False, False], [True] * 5])
    for mode in (encoder.train, encoder.eval):  # train: reference math path; eval: PyTorch fast path
        mode()
        with torch.no_grad():
            states, keep = encoder(features, mask)
            alone, _ = encoder(features[:1, :0], mask[:1, :0])  # the empty sample on its own
        assert states.shape == (3, 6, 8)
        assert torch.equal(keep, torch.cat([torch.ones(3, 1, dtype=torch.bool), mask], dim=1))
        assert torch.isfinite(states).all()
        assert (states[~keep] == 0).all()
        assert (states[keep].abs().sum(-1) > 0).all()
        torch.testing.assert_close(states[0, 0], alone[0, 0], rtol=0, atol=1e-5)


def test_sequence_encoder_fast_path_matches_math_path():
    torch.manual_seed(1)
    encoder = SequenceEncoder(5, SequenceEncoderConfig(n_heads=1, ff_dim=16, n_layers=3, dropout=0.0))
    features = torch.randn(4, 6, 5)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([[0], [2], [5], [6]])
    with torch.no_grad():
        slow, _ = encoder.train()(features, mask)
        fast, _ = encoder.eval()(features, mask)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-5)


# --- formulas against plain references -----------------------------------------------------------


@pytest.mark.parametrize("length, dim", [(0, 4), (1, 1), (7, 5), (9, 8)])
def test_sinusoidal_positions_match_reference(length, dim):
    expected = torch.zeros(length, dim)
    for pos in range(length):
        for i in range(dim):
            angle = pos / 10000 ** ((i - i % 2) / dim)
            expected[pos, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    torch.testing.assert_close(sinusoidal_positions(length, dim), expected, rtol=0, atol=1e-6)


def reference_attention(attention: nn.MultiheadAttention, query, key, value) -> torch.Tensor:
    """Multi-head attention for one unpadded sample, written out from the module's weights."""
    if attention.in_proj_weight is not None:
        w_q, w_k, w_v = attention.in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = attention.q_proj_weight, attention.k_proj_weight, attention.v_proj_weight
    b_q, b_k, b_v = attention.in_proj_bias.chunk(3)
    q, k, v = query @ w_q.T + b_q, key @ w_k.T + b_k, value @ w_v.T + b_v
    width = attention.embed_dim // attention.num_heads
    heads = []
    for h in range(attention.num_heads):
        part = slice(h * width, (h + 1) * width)
        scores = q[:, part] @ k[:, part].T / math.sqrt(width)
        weights = torch.exp(scores - scores.max(-1, keepdim=True).values)
        heads.append(weights / weights.sum(-1, keepdim=True) @ v[:, part])
    return torch.cat(heads, dim=-1) @ attention.out_proj.weight.T + attention.out_proj.bias


def reference_layer_norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def test_fusion_layer_matches_reference():
    torch.manual_seed(2)
    layer = BimodalFusionLayer(embed_dim=8, n_heads=2, kdim=6, ff_dim=12, dropout=0.0).eval()
    with torch.no_grad():
        for norm in (layer.norm_self, layer.norm_cross, layer.norm_ffn):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    text, other = torch.randn(3, 5, 8), torch.randn(3, 4, 6)
    text_lengths, other_lengths = [5, 2, 1], [1, 4, 3]  # other position 0 plays the CLS: always real
    text_mask = torch.arange(5).unsqueeze(0) < torch.tensor(text_lengths).unsqueeze(1)
    other_mask = torch.arange(4).unsqueeze(0) < torch.tensor(other_lengths).unsqueeze(1)
    with torch.no_grad():
        fused = layer(text, text_mask, other, other_mask)
        for i, (lt, lm) in enumerate(zip(text_lengths, other_lengths)):
            t, m = text[i, :lt], other[i, :lm]
            h = reference_layer_norm(layer.norm_self, t + reference_attention(layer.self_attn, t, t, t))
            f = reference_layer_norm(layer.norm_cross, h + reference_attention(layer.cross_attn, h, m, m))
            first, second = layer.ffn[0], layer.ffn[3]
            ffn = torch.relu(f @ first.weight.T + first.bias) @ second.weight.T + second.bias
            expected = reference_layer_norm(layer.norm_ffn, f + ffn)
            torch.testing.assert_close(fused[i, :lt], expected, rtol=0, atol=1e-5)


# --- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"audio_encoder": {"n_heads": 2, "ff_dim": 16}}, "audio_encoder.n_heads"),
        ({"visual_encoder": {"d_model": 16, "n_heads": 5, "ff_dim": 16}}, "visual_encoder.n_heads"),
        ({"audio_encoder": {"n_heads": 1, "ff_dim": 0}}, "audio_encoder.ff_dim"),
        ({"modalities": "speech"}, "modalities"),
        ({"d_prjh": 0}, "d_prjh"),
        ({"fusion_dropout": 1.0}, "fusion_dropout"),
    ],
)
def test_config_validation_names_the_field(tmp_path, overrides, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        tiny_config(tmp_path, **overrides)


def test_fusion_heads_must_divide_text_hidden_size(tiny_text_model_dir):
    with pytest.raises(ValueError, match="fusion_heads=5"):
        build(tiny_text_model_dir, fusion_heads=5)
    build(tiny_text_model_dir, "text", fusion_heads=5)  # no fusion layer, nothing to divide


def test_missing_feature_size_is_reported(tiny_text_model_dir):
    config = tiny_config(tiny_text_model_dir, "visual", visual_dim=None)  # allowed until the model is built
    with pytest.raises(ValueError, match="visual_dim is required"):
        HSCL(config)
    HSCL(tiny_config(tiny_text_model_dir, "audio", visual_dim=None))


def test_config_dict_round_trip_and_unknown_keys():
    config = HSCLConfig(
        text_model="some/model",
        audio_dim=74,
        visual_dim=35,
        audio_encoder=SequenceEncoderConfig(n_heads=2, ff_dim=32),
        visual_encoder=SequenceEncoderConfig(d_model=40, n_heads=5, ff_dim=32, n_layers=2),
        fusion_ff_dim=100,
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert data["visual_encoder"]["d_model"] == 40
    assert HSCLConfig.from_values(data) == config
    with pytest.raises(ConfigError, match="colour: unknown key"):
        HSCLConfig.from_values({**data, "colour": "red"})
    with pytest.raises(ConfigError, match="audio_encoder.heads: unknown key; did you mean 'n_heads'"):
        HSCLConfig.from_values({**data, "audio_encoder": {"heads": 2}})


def test_missing_text_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="text_model"):
        HSCL(tiny_config(tmp_path / "no_such_model", "text"))


# --- parameters and initialisation ---------------------------------------------------------------


def test_parameter_groups_partition_and_init_keeps_pretrained_text_weights(tiny_text_model_dir):
    model = build(tiny_text_model_dir)
    text_params, other_params = model.parameter_groups()
    text_ids, other_ids = {id(p) for p in text_params}, {id(p) for p in other_params}
    assert not text_ids & other_ids
    assert text_ids | other_ids == {id(p) for p in model.parameters()}
    assert text_ids == {id(p) for p in model.text_encoder.parameters()}

    pretrained = AutoModel.from_pretrained(str(tiny_text_model_dir)).state_dict()
    for name, value in model.text_encoder.model.state_dict().items():
        assert torch.equal(value, pretrained[name]), name

    for name, parameter in model.named_parameters():
        if id(parameter) in other_ids and parameter.dim() > 1:
            fan_out, fan_in = parameter.shape[0], parameter[0].numel()
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert parameter.abs().max() <= bound + 1e-6, name
            if parameter.numel() >= 1000:  # Xavier-uniform std is bound / sqrt(3)
                assert abs(parameter.std().item() * math.sqrt(3) / bound - 1) < 0.15, name


# --- saving and loading --------------------------------------------------------------------------


def test_save_and_load_round_trip(tiny_text_model_dir, tiny_tokenizer, make_batch, tmp_path):
    text_config = AutoConfig.from_pretrained(str(tiny_text_model_dir))
    torch.manual_seed(3)
    # text_model points nowhere: loading the saved model must not need it.
    model = HSCL(tiny_config(tmp_path / "gone", "audio+visual"), text_config=text_config).eval()
    model.save_pretrained(tmp_path / "saved", tokenizer=tiny_tokenizer)
    for name in ("hscl_config.json", "text_config/config.json", "model.safetensors", "tokenizer"):
        assert (tmp_path / "saved" / name).exists(), name
    modes = {
        oct((tmp_path / "saved" / name).stat().st_mode & 0o777) for name in ("hscl_config.json", "model.safetensors")
    }
    assert len(modes) == 1, modes  # the weights as readable as every other file (safetensors alone: owner only)

    loaded = HSCL.from_pretrained(tmp_path / "saved")
    assert not loaded.training
    assert loaded.config == model.config
    batch = make_batch(tiny_tokenizer, 4, AUDIO_DIM, VISUAL_DIM)
    with torch.no_grad():
        before, after = output_fields(model(batch)), output_fields(loaded(batch))
    for name in before:
        assert torch.equal(before[name], after[name]), name

    tokenizer = load_tokenizer(tmp_path / "saved")
    assert tokenizer("not a good movie")["input_ids"] == tiny_tokenizer("not a good movie")["input_ids"]


def test_load_tokenizer_absent_and_incomplete_directory(tiny_text_model_dir, tmp_path):
    build(tiny_text_model_dir, "text").save_pretrained(tmp_path / "saved")
    assert load_tokenizer(tmp_path / "saved") is None
    (tmp_path / "saved" / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match="missing model.safetensors"):
        HSCL.from_pretrained(tmp_path / "saved")


# --- the real text encoder -----------------------------------------------------------------------


@pytest.mark.slow
def test_real_minilm_forward_backward(minilm_path, make_batch):
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path))
    torch.manual_seed(0)
    config = tiny_config(minilm_path, "audio+visual", fusion_heads=12, d_prjh=16)
    model = HSCL(config).train()
    assert model.text_encoder.hidden_size == 384
    output = model(make_batch(tokenizer, 4, AUDIO_DIM, VISUAL_DIM, audio_len=4, visual_len=5, max_words=6))
    assert output.prediction.shape == (4,) and output.fused.shape == (4, 384)
    loss = output.prediction.pow(2).mean() + sum(z.mean() for z in output.projections().values())
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# --- late-fusion baseline ------------------------------------------------------------------------


@pytest.mark.parametrize("modalities", ["audio", "audio+visual"])
def test_late_fusion_reads_text_cls_and_mean_frames(tiny_text_model_dir, tiny_tokenizer, make_batch, modalities):
    model = build(tiny_text_model_dir, modalities, fusion="late").eval()
    assert len(model.encoders) == 0 and len(model.fusions) == 0
    batch = make_batch(tiny_tokenizer, 4, AUDIO_DIM, VISUAL_DIM)
    with torch.no_grad():
        output = model(batch)
        tokens = model.text_encoder(batch.input_ids, batch.attention_mask)
    pooled = []
    for name in model.config.active_modalities:
        features, mask = getattr(batch, name), getattr(batch, f"{name}_mask")
        rows = []
        for row in range(len(batch)):
            real = features[row][mask[row]]
            rows.append(real.mean(dim=0) if len(real) else torch.zeros(features.shape[2]))
        pooled.append(torch.stack(rows))
    expected = torch.cat([tokens[:, 0], *pooled], dim=1)
    torch.testing.assert_close(output.fused, expected, rtol=1e-6, atol=1e-6)
    assert set(output.projections()) == {"z_t"}
    padded = pad_batch(batch, 3, 4, tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        torch.testing.assert_close(model(padded).prediction, output.prediction, rtol=1e-5, atol=1e-5)


def test_late_fusion_trains_and_round_trips(tiny_text_model_dir, tiny_tokenizer, make_batch, tmp_path):
    model = build(tiny_text_model_dir, "audio", fusion="late")
    batch = make_batch(tiny_tokenizer, 4, AUDIO_DIM, VISUAL_DIM)
    model(batch).prediction.sum().backward()
    assert model.predictor.net[1].weight.grad is not None
    model.save_pretrained(tmp_path / "late")
    again = HSCL.from_pretrained(tmp_path / "late")
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(again(batch).prediction, model(batch).prediction, rtol=0, atol=0)


def test_unknown_fusion_kind_is_rejected(tiny_text_model_dir):
    with pytest.raises(ConfigError, match="fusion: .early. is not allowed"):
        tiny_config(tiny_text_model_dir, fusion="early")
