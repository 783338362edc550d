"""The HSCL model: its configuration, the module itself, its typed output, saving and loading."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn
from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

from hscl.data.types import Batch
from hscl.errors import ConfigError, HSCLError
from hscl.files import write_text
from hscl.model.encoders import SequenceEncoder, SequenceEncoderConfig, TextEncoder
from hscl.model.fusion import BimodalFusionLayer

MODEL_CONFIG_FILE = "hscl_config.json"
TEXT_CONFIG_DIR = "text_config"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"

MODALITY_SETTINGS: dict[str, tuple[str, ...]] = {
    "text": (),
    "audio": ("audio",),
    "visual": ("visual",),
    "audio+visual": ("audio", "visual"),
}


FUSION_KINDS: tuple[str, ...] = ("bimodal", "late")


def _audio_default() -> SequenceEncoderConfig:
    return SequenceEncoderConfig(n_heads=1, ff_dim=32)


def _visual_default() -> SequenceEncoderConfig:
    return SequenceEncoderConfig(n_heads=5, ff_dim=64)


@dataclass
class HSCLConfig:
    """Architecture of an HSCL model.

    `text_model` is a Hugging Face model name or local directory. `modalities` is one of
    "audio", "visual", "audio+visual", or "text" (a text-only model: the prediction head reads
    R_t, and there is no fusion and no projection besides z_t). `audio_dim` and `visual_dim` are
    the feature sizes; the trainer fills them from the data, and they are required for every
    modality that is on.

    The encoder defaults are the paper's CMU-MOSI sizes (audio: 1 head, feed-forward 32;
    visual: 5 heads, feed-forward 64). For CMU-MOSEI the paper uses audio 2 heads, feed-forward
    32 and visual 5 heads, feed-forward 32. `fusion_ff_dim=None` means 4 x the text hidden size.
    `d_prjh` is the size of every contrastive projection and of the prediction MLP's hidden
    layer; `dropout_prj` is the dropout in front of both.

    `fusion="late"` replaces the encoders and fusion layers by a late-fusion baseline: the prediction
    MLP reads [R_t; the mean of each modality's raw frames], and only z_t is projected.
    """

    text_model: str = "bert-base-uncased"
    modalities: str = "audio+visual"
    audio_dim: int | None = None
    visual_dim: int | None = None
    audio_encoder: SequenceEncoderConfig = field(default_factory=_audio_default)
    visual_encoder: SequenceEncoderConfig = field(default_factory=_visual_default)
    fusion_heads: int = 12
    fusion_ff_dim: int | None = None
    fusion_dropout: float = 0.1
    d_prjh: int = 128
    dropout_prj: float = 0.1
    fusion: str = "bimodal"

    def __post_init__(self) -> None:
        self.audio_encoder = _as_encoder_config(self.audio_encoder, "audio_encoder")
        self.visual_encoder = _as_encoder_config(self.visual_encoder, "visual_encoder")
        self._check(require_dims=False)

    @property
    def active_modalities(self) -> tuple[str, ...]:
        """The non-text modalities the model uses, in the order ("audio", "visual")."""
        return MODALITY_SETTINGS[self.modalities]

    def feature_dim(self, modality: str) -> int | None:
        """`audio_dim` or `visual_dim`."""
        return getattr(self, f"{modality}_dim")

    def encoder_config(self, modality: str) -> SequenceEncoderConfig:
        """`audio_encoder` or `visual_encoder`."""
        return getattr(self, f"{modality}_encoder")

    def validate(self, text_hidden_size: int | None = None) -> None:
        """Raise ConfigError naming the first bad field; feature sizes of active modalities are required.

        With `text_hidden_size`, also check that `fusion_heads` divides it.
        """
        self._check(require_dims=True)
        if text_hidden_size is not None and self.active_modalities and self.fusion == "bimodal":
            if text_hidden_size % self.fusion_heads != 0:
                raise ConfigError(
                    f"fusion_heads={self.fusion_heads} must divide the text hidden size {text_hidden_size}"
                )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (nested encoder configs become dicts)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HSCLConfig":
        """Inverse of `to_dict`; unknown keys are an error."""
        _reject_unknown(cls, data, "HSCLConfig")
        return cls(**data)

    def _check(self, require_dims: bool) -> None:
        if self.fusion not in FUSION_KINDS:
            raise ConfigError(f"fusion={self.fusion!r}; expected one of {FUSION_KINDS}")
        if self.modalities not in MODALITY_SETTINGS:
            raise ConfigError(f"modalities={self.modalities!r}; expected one of {sorted(MODALITY_SETTINGS)}")
        _require_positive("fusion_heads", self.fusion_heads)
        _require_positive("d_prjh", self.d_prjh)
        if self.fusion_ff_dim is not None:
            _require_positive("fusion_ff_dim", self.fusion_ff_dim)
        _require_probability("fusion_dropout", self.fusion_dropout)
        _require_probability("dropout_prj", self.dropout_prj)
        for modality in ("audio", "visual"):
            dim = self.feature_dim(modality)
            if dim is None:
                if require_dims and modality in self.active_modalities:
                    raise ConfigError(
                        f"{modality}_dim is required when modalities={self.modalities!r} "
                        "(the trainer fills it from the data)"
                    )
                continue
            _require_positive(f"{modality}_dim", dim)
            if modality in self.active_modalities and self.fusion == "bimodal":
                _check_encoder(self.encoder_config(modality), modality, dim)


def _check_encoder(config: SequenceEncoderConfig, modality: str, input_dim: int) -> None:
    """Raise ConfigError naming the bad field of one modality's sequence-encoder config."""
    name = f"{modality}_encoder"
    if config.d_model is not None:
        _require_positive(f"{name}.d_model", config.d_model)
    for key in ("n_heads", "ff_dim", "n_layers"):
        _require_positive(f"{name}.{key}", getattr(config, key))
    _require_probability(f"{name}.dropout", config.dropout)
    width = input_dim if config.d_model is None else config.d_model
    if width % config.n_heads != 0:
        source = f"{name}.d_model" if config.d_model is not None else f"the feature size {modality}_dim"
        raise ConfigError(f"{name}.n_heads={config.n_heads} must divide the model width {width} ({source})")


def _require_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}={value!r} must be a positive integer")


def _require_probability(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name}={value!r} must be in [0, 1)")


def _reject_unknown(cls: type, data: Mapping[str, Any], name: str) -> None:
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise ConfigError(f"{name}: unknown keys {sorted(unknown)}")


def _as_encoder_config(value: SequenceEncoderConfig | Mapping[str, Any], name: str) -> SequenceEncoderConfig:
    if isinstance(value, SequenceEncoderConfig):
        return value
    if isinstance(value, Mapping):
        _reject_unknown(SequenceEncoderConfig, value, name)
        return SequenceEncoderConfig(**value)
    raise ConfigError(f"{name} must be a SequenceEncoderConfig or a mapping, got {type(value).__name__}")


@dataclass(kw_only=True)
class HSCLOutput:
    """What the model returns. Projections of modalities that are off are None."""

    prediction: torch.Tensor  # (B,) sentiment score
    z_t: torch.Tensor  # (B, d_prjh)
    z_a: torch.Tensor | None = None
    z_v: torch.Tensor | None = None
    z_at: torch.Tensor | None = None
    z_vt: torch.Tensor | None = None
    fused: torch.Tensor  # (B, H): mean of R_at and R_vt, the single one present, or R_t; late fusion: [R_t; pooled frames]

    def projections(self) -> dict[str, torch.Tensor]:
        """The projections that are present, by name ("z_t", "z_a", ...)."""
        names = ("z_t", "z_a", "z_v", "z_at", "z_vt")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class ProjectionHead(nn.Sequential):
    """Dropout -> Linear(in_dim, out_dim) -> ReLU: maps a representation into a contrastive space."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__(nn.Dropout(dropout), nn.Linear(in_dim, out_dim), nn.ReLU())


class PredictionHead(nn.Module):
    """Dropout -> Linear(in_dim, hidden) -> Tanh -> Linear(hidden, 1); returns shape (B,)."""

    def __init__(self, in_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """Scores (B,)."""
        return self.net(fused).squeeze(-1)


class HSCL(nn.Module):
    """Text encoder, one sequence encoder and one text-to-modality fusion layer per non-text modality,
    contrastive projection heads and a regression head.

    Built from `config.text_model` (pretrained weights), or, when `text_config` is given, from that
    Hugging Face config with fresh text weights (used when loading a saved model).
    """

    def __init__(self, config: HSCLConfig, text_config: PretrainedConfig | None = None) -> None:
        super().__init__()
        config.validate()
        self.text_encoder = (
            TextEncoder.from_pretrained(config.text_model)
            if text_config is None
            else TextEncoder.from_config(text_config)
        )
        hidden = self.text_encoder.hidden_size
        config.validate(hidden)
        self.config = config
        fusion_ff_dim = config.fusion_ff_dim or 4 * hidden

        self.text_projection = ProjectionHead(hidden, config.d_prjh, config.dropout_prj)
        self.encoders = nn.ModuleDict()
        self.fusions = nn.ModuleDict()
        self.unimodal_projections = nn.ModuleDict()
        self.fused_projections = nn.ModuleDict()
        if config.fusion == "late":
            late_dim = hidden + sum(config.feature_dim(m) for m in config.active_modalities)
            self.predictor = PredictionHead(late_dim, config.d_prjh, config.dropout_prj)
            self.reset_parameters()
            return
        for modality in config.active_modalities:
            encoder = SequenceEncoder(config.feature_dim(modality), config.encoder_config(modality))
            self.encoders[modality] = encoder
            self.fusions[modality] = BimodalFusionLayer(
                hidden, config.fusion_heads, encoder.d_model, fusion_ff_dim, config.fusion_dropout
            )
            self.unimodal_projections[modality] = ProjectionHead(
                encoder.d_model, config.d_prjh, config.dropout_prj
            )
            self.fused_projections[modality] = ProjectionHead(hidden, config.d_prjh, config.dropout_prj)
        self.predictor = PredictionHead(hidden, config.d_prjh, config.dropout_prj)
        self.reset_parameters()

    def _own_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Named parameters outside the (pretrained) text encoder."""
        text_ids = {id(p) for p in self.text_encoder.parameters()}
        return [(name, p) for name, p in self.named_parameters() if id(p) not in text_ids]

    def reset_parameters(self) -> None:
        """Xavier-uniform for every weight matrix outside the text encoder (the CLS tokens included).

        Biases and layer norms keep PyTorch's defaults; the text encoder is left untouched.
        """
        for _, parameter in self._own_parameters():
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(text encoder parameters, all other parameters), for two optimiser groups."""
        return list(self.text_encoder.parameters()), [p for _, p in self._own_parameters()]

    def forward(self, batch: Batch) -> HSCLOutput:
        """Prediction, contrastive projections and fused representation for one batch."""
        tokens = self.text_encoder(batch.input_ids, batch.attention_mask)
        text_repr = tokens[:, 0]
        projections: dict[str, torch.Tensor] = {"z_t": self.text_projection(text_repr)}
        if self.config.fusion == "late":
            pooled = [_masked_mean(*_modality_inputs(batch, m)) for m in self.config.active_modalities]
            fused = torch.cat([text_repr, *pooled], dim=-1)
            return HSCLOutput(prediction=self.predictor(fused), fused=fused, **projections)
        fused_reprs = []
        for modality in self.config.active_modalities:
            features, mask = _modality_inputs(batch, modality)
            states, keep = self.encoders[modality](features, mask)
            fused_repr = self.fusions[modality](tokens, batch.attention_mask, states, keep)[:, 0]
            letter = modality[0]
            projections[f"z_{letter}"] = self.unimodal_projections[modality](states[:, 0])
            projections[f"z_{letter}t"] = self.fused_projections[modality](fused_repr)
            fused_reprs.append(fused_repr)
        fused = torch.stack(fused_reprs).mean(dim=0) if fused_reprs else text_repr
        return HSCLOutput(prediction=self.predictor(fused), fused=fused, **projections)

    def save_pretrained(
        self, directory: str | Path, tokenizer: PreTrainedTokenizerBase | None = None
    ) -> None:
        """Write the config, the text encoder's HF config, all weights and (optionally) the tokenizer."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text(directory / MODEL_CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n")
        self.text_encoder.config.save_pretrained(directory / TEXT_CONFIG_DIR)
        save_model(self, str(directory / WEIGHTS_FILE))
        if tokenizer is not None:
            tokenizer.save_pretrained(directory / TOKENIZER_DIR)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "HSCL":
        """Rebuild a model written by `save_pretrained`, on the CPU and in eval mode.

        Needs nothing but `directory`: the original `text_model` is not read. An `HSCLError` naming the
        file if one is missing or unreadable.
        """
        directory = Path(directory)
        for required in (MODEL_CONFIG_FILE, TEXT_CONFIG_DIR, WEIGHTS_FILE):
            if not (directory / required).exists():
                raise ConfigError(f"{directory}: not a saved HSCL model (missing {required})")
        try:
            config = HSCLConfig.from_dict(json.loads((directory / MODEL_CONFIG_FILE).read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError) as err:
            raise ConfigError(f"{directory / MODEL_CONFIG_FILE}: not valid JSON ({err})") from err
        text_config = AutoConfig.from_pretrained(str(directory / TEXT_CONFIG_DIR))
        model = cls(config, text_config)
        try:
            load_model(model, directory / WEIGHTS_FILE, strict=True)
        except (SafetensorError, OSError, RuntimeError) as err:
            raise HSCLError(f"{directory / WEIGHTS_FILE}: unreadable or not this model's weights "
                            f"(truncated or corrupt?): {str(err).splitlines()[0]}") from err
        return model.eval()


def load_tokenizer(directory: str | Path) -> PreTrainedTokenizerBase | None:
    """The tokenizer saved with a model by `HSCL.save_pretrained`, or None if none was saved."""
    path = Path(directory) / TOKENIZER_DIR
    return AutoTokenizer.from_pretrained(str(path)) if path.is_dir() else None


def _masked_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real frames of each sample (zeros for a sample without frames)."""
    weights = mask.unsqueeze(-1).to(features.dtype)
    return (features * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def _modality_inputs(batch: Batch, modality: str) -> tuple[torch.Tensor, torch.Tensor]:
    features = getattr(batch, modality)
    mask = getattr(batch, f"{modality}_mask")
    if features is None or mask is None:
        raise ValueError(f"the model uses {modality} but the batch has no {modality} features or mask")
    return features, mask
