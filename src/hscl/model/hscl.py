"""The HSCL model: the module itself (built from `hscl.config.HSCLConfig`), its typed output, saving and loading."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn
from transformers import AutoConfig, AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase

from hscl.config.model import HSCLConfig
from hscl.data.types import Batch
from hscl.errors import ConfigError, HSCLError
from hscl.files import write_text
from hscl.model.encoders import SequenceEncoder, TextEncoder
from hscl.model.fusion import BimodalFusionLayer

MODEL_CONFIG_FILE = "hscl_config.json"
TEXT_CONFIG_DIR = "text_config"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_DIR = "tokenizer"


@dataclass(kw_only=True)
class HSCLOutput:
    """What the model returns. Projections of modalities that are off are None."""

    prediction: torch.Tensor  # (B,) sentiment score
    z_t: torch.Tensor  # (B, d_prjh)
    z_a: torch.Tensor | None = None
    z_v: torch.Tensor | None = None
    z_at: torch.Tensor | None = None
    z_vt: torch.Tensor | None = None
    fused: (
        torch.Tensor
    )  # (B, H): mean of R_at and R_vt, the single one present, or R_t; late fusion: [R_t; pooled frames]

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
        self.net = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

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
        config.require_feature_dims()
        self.text_encoder = (
            TextEncoder.from_pretrained(config.text_model)
            if text_config is None
            else TextEncoder.from_config(text_config)
        )
        hidden = self.text_encoder.hidden_size
        config.check_text_hidden_size(hidden)
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
            self.unimodal_projections[modality] = ProjectionHead(encoder.d_model, config.d_prjh, config.dropout_prj)
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

    def save_pretrained(self, directory: str | Path, tokenizer: PreTrainedTokenizerBase | None = None) -> None:
        """Write the config, the text encoder's HF config, all weights and (optionally) the tokenizer."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_text(directory / MODEL_CONFIG_FILE, json.dumps(self.config.to_dict(), indent=2) + "\n")
        self.text_encoder.config.save_pretrained(directory / TEXT_CONFIG_DIR)
        save_model(self, str(directory / WEIGHTS_FILE))
        # safetensors writes its file readable by its owner only; give it the permissions of every other file
        os.chmod(directory / WEIGHTS_FILE, stat.S_IMODE((directory / MODEL_CONFIG_FILE).stat().st_mode))
        if tokenizer is not None:
            tokenizer.save_pretrained(directory / TOKENIZER_DIR)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> HSCL:
        """Rebuild a model written by `save_pretrained`, on the CPU and in eval mode.

        Needs nothing but `directory`: the original `text_model` is not read. An `HSCLError` naming the
        file if one is missing or unreadable.
        """
        directory = Path(directory)
        config = read_model_config(directory)
        text_config = AutoConfig.from_pretrained(str(directory / TEXT_CONFIG_DIR))
        model = cls(config, text_config)
        try:
            load_model(model, directory / WEIGHTS_FILE, strict=True)
        except (SafetensorError, OSError, RuntimeError) as err:
            raise HSCLError(
                f"{directory / WEIGHTS_FILE}: unreadable or not this model's weights "
                f"(truncated or corrupt?): {str(err).splitlines()[0]}"
            ) from err
        return model.eval()


def read_model_config(directory: str | Path) -> HSCLConfig:
    """The `HSCLConfig` of a model written by `HSCL.save_pretrained` (its weights not read); a `ConfigError`
    naming the folder or file if a part of the saved model is missing or the config is invalid."""
    directory = Path(directory)
    for required in (MODEL_CONFIG_FILE, TEXT_CONFIG_DIR, WEIGHTS_FILE):
        if not (directory / required).exists():
            raise ConfigError(f"{directory}: not a saved HSCL model (missing {required})")
    config_file = directory / MODEL_CONFIG_FILE
    try:
        values = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError(f"{config_file}: not valid JSON ({err})") from None
    return HSCLConfig.from_values(values, str(config_file))


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
