"""Unimodal encoders: a Hugging Face text encoder and a Transformer encoder for feature sequences."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from transformers import AutoModel, PretrainedConfig

from hscl.config.model import SequenceEncoderConfig
from hscl.errors import ConfigError


class TextEncoder(nn.Module):
    """A Hugging Face encoder returning the token states `E_t` (B, L, H); `R_t = E_t[:, 0]`.

    The model's pooler, if it has one, is dropped: HSCL reads the first token state directly,
    and an unused pooler would only hold parameters that never receive a gradient.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if getattr(model, "pooler", None) is not None:
            model.pooler = None
        self.model = model

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path) -> TextEncoder:
        """Pretrained weights from a local directory (or a model name already in the HF cache)."""
        try:
            model = AutoModel.from_pretrained(str(name_or_path))
        except OSError as error:
            raise ConfigError(f"text_model {str(name_or_path)!r}: cannot load it ({error})") from error
        return cls(model)

    @classmethod
    def from_config(cls, config: PretrainedConfig) -> TextEncoder:
        """An encoder with the architecture of `config` and freshly initialised weights."""
        return cls(AutoModel.from_config(config))

    @property
    def config(self) -> PretrainedConfig:
        """The wrapped model's Hugging Face config."""
        return self.model.config

    @property
    def hidden_size(self) -> int:
        """Width H of the token states."""
        return int(self.model.config.hidden_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Token states (B, L, H) for `input_ids` (B, L) and `attention_mask` (B, L), True = real token."""
        output = self.model(input_ids=input_ids, attention_mask=attention_mask.long())
        return output.last_hidden_state


def sinusoidal_positions(length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Sinusoidal position encodings (length, dim) as in "Attention Is All You Need".

    Column 2k holds sin(pos / 10000^(2k/dim)) and column 2k+1 holds cos of the same angle;
    odd `dim` is allowed (the last column is then a sine).
    """
    position = torch.arange(length, dtype=torch.float32, device=device).unsqueeze(1)
    column = torch.arange(dim, device=device)
    frequency = torch.exp((column - column % 2).float() * (-math.log(10000.0) / dim))
    angle = position * frequency
    return torch.where(column % 2 == 0, torch.sin(angle), torch.cos(angle))


class SequenceEncoder(nn.Module):
    """Transformer encoder over a feature sequence with a learned CLS token prepended.

    Input: features (B, L, d_in) and a mask (B, L), True = real frame. Output: states (B, 1+L, d)
    and their mask (B, 1+L); position 0 is the CLS token, never masked, so a sample with no
    real frames still has one position to attend to. States at padded positions are zero.
    """

    def __init__(self, input_dim: int, config: SequenceEncoderConfig) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.d_model = input_dim if config.d_model is None else config.d_model
        self.input_projection: nn.Module = (
            nn.Identity() if config.d_model is None else nn.Linear(input_dim, config.d_model)
        )
        self.cls = nn.Parameter(torch.empty(1, self.d_model))
        nn.init.xavier_uniform_(self.cls)
        self.dropout = nn.Dropout(config.dropout)
        layer = nn.TransformerEncoderLayer(
            d_model=self.d_model,
            nhead=config.n_heads,
            dim_feedforward=config.ff_dim,
            dropout=config.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States (B, 1+L, d) with the CLS state first, and the mask (B, 1+L), True = real."""
        if features.shape[-1] != self.input_dim:
            raise ValueError(f"features have size {features.shape[-1]}; this encoder expects {self.input_dim}")
        batch_size, length, _ = features.shape
        hidden = self.input_projection(features)
        cls = self.cls.expand(batch_size, 1, self.d_model)
        hidden = torch.cat([cls, hidden], dim=1)
        hidden = hidden + sinusoidal_positions(1 + length, self.d_model, features.device).to(hidden.dtype)
        real = mask.bool()
        keep = torch.cat([real.new_ones(batch_size, 1), real], dim=1)
        hidden = self.encoder(self.dropout(hidden), src_key_padding_mask=~keep)
        return hidden.masked_fill(~keep.unsqueeze(-1), 0.0), keep
