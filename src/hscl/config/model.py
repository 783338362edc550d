"""Architecture settings of an HSCL model (torch-free: the model module builds from them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import Field, model_validator

from hscl.config.base import Settings
from hscl.errors import ConfigError

MODALITY_SETTINGS: dict[str, tuple[str, ...]] = {
    "text": (),
    "audio": ("audio",),
    "visual": ("visual",),
    "audio+visual": ("audio", "visual"),
}
FUSION_KINDS: tuple[str, ...] = ("bimodal", "late")

Positive = Annotated[int, Field(ge=1)]
Dropout = Annotated[float, Field(ge=0.0, lt=1.0)]


class SequenceEncoderConfig(Settings):
    """Sizes of the Transformer encoder of one non-text modality (audio or visual), whose CLS output is R_a or R_v."""

    d_model: Positive | None = Field(
        None,
        description="model width; null keeps the feature size (no input projection), else a linear layer "
        "projects the features to d_model first",
    )
    n_heads: Positive = Field(1, description="attention heads; must divide the model width")
    ff_dim: Positive = Field(32, description="hidden size of each layer's feed-forward block")
    n_layers: Positive = Field(3, description="Transformer encoder layers")
    dropout: Dropout = Field(0.1, description="dropout inside the encoder layers")

    def width(self, feature_dim: int) -> int:
        """The model width for features of size `feature_dim`."""
        return feature_dim if self.d_model is None else self.d_model


class HSCLConfig(Settings):
    """Architecture of an HSCL model.

    The encoder defaults are the paper's CMU-MOSI sizes (audio: 1 head, feed-forward 32; visual: 5 heads,
    feed-forward 64); for CMU-MOSEI the paper uses audio 2 heads, feed-forward 32 and visual 5 heads,
    feed-forward 32. `audio_dim` and `visual_dim` come from the data (`with_feature_dims`).
    """

    text_model: str = Field(
        "bert-base-uncased",
        min_length=1,
        description="text encoder (E_t, R_t = [CLS]): a local Hugging Face model folder, a packaged name "
        "(all-MiniLM-L6-v2), or a hub name already in the offline cache",
    )
    modalities: Literal["text", "audio", "visual", "audio+visual"] = Field(
        "audio+visual",
        description="non-text modalities next to text; 'text' is a text-only model (no fusion, the head reads R_t)",
    )
    audio_dim: Positive | None = Field(None, description="audio feature size; filled from the data")
    visual_dim: Positive | None = Field(None, description="visual feature size; filled from the data")
    audio_encoder: SequenceEncoderConfig = Field(
        default_factory=lambda: SequenceEncoderConfig(n_heads=1, ff_dim=32),
        description="Transformer encoder of the audio (COVAREP) sequence",
    )
    visual_encoder: SequenceEncoderConfig = Field(
        default_factory=lambda: SequenceEncoderConfig(n_heads=5, ff_dim=64),
        description="Transformer encoder of the visual (Facet) sequence",
    )
    fusion_heads: Positive = Field(
        12,
        description="attention heads of the fusion layers' self- and cross-attention; must divide the text hidden size",
    )
    fusion_ff_dim: Positive | None = Field(
        None, description="feed-forward size of the fusion layers; null means 4 x the text hidden size"
    )
    fusion_dropout: Dropout = Field(0.1, description="dropout inside the fusion layers")
    d_prjh: Positive = Field(
        128,
        description="paper: d_prjh, size of every contrastive projection (R^_t, R^_a, R^_v, fused) and of the "
        "prediction MLP's hidden layer",
    )
    dropout_prj: Dropout = Field(
        0.1, description="paper: dropout_prj, dropout in front of the projections and the prediction MLP"
    )
    fusion: Literal["bimodal", "late"] = Field(
        "bimodal",
        description="'bimodal': the paper's text-to-modality fusion; 'late': a baseline MLP on "
        "[R_t; mean of each modality's frames]",
    )

    @model_validator(mode="after")
    def _heads_divide_widths(self) -> HSCLConfig:
        if self.fusion != "bimodal":
            return self
        for modality in self.active_modalities:
            dim = self.feature_dim(modality)
            if dim is None:
                continue
            encoder = self.encoder_config(modality)
            width = encoder.width(dim)
            if width % encoder.n_heads:
                source = "d_model" if encoder.d_model is not None else f"the feature size {modality}_dim"
                raise ValueError(
                    f"{modality}_encoder.n_heads={encoder.n_heads} must divide the model width {width} ({source})"
                )
        return self

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

    def with_feature_dims(self, dims: Mapping[str, int | None], source: str = "the data") -> HSCLConfig:
        """A copy with the feature size of every active modality taken from `dims` (modality -> size or None).

        A `ConfigError` names a modality the model needs and `source` lacks; sizes of unused modalities
        are cleared, so a model config never claims features it does not read.
        """
        missing = [m for m in self.active_modalities if dims.get(m) is None]
        if missing:
            present = [m for m, dim in dims.items() if dim is not None]
            raise ConfigError(
                f"model.modalities={self.modalities!r} needs {' and '.join(missing)} features, but "
                f"{source} has only {' and '.join(['text', *present])}"
            )
        try:
            return self.replace(
                **{f"{m}_dim": dims[m] if m in self.active_modalities else None for m in ("audio", "visual")}
            )
        except ConfigError as err:
            raise ConfigError(f"model.{err}, for the features of {source}") from None

    def check_text_hidden_size(self, hidden_size: int) -> None:
        """A `ConfigError` unless `fusion_heads` divides the text encoder's hidden size (when fusion is used)."""
        if self.active_modalities and self.fusion == "bimodal" and hidden_size % self.fusion_heads:
            raise ConfigError(
                f"model.fusion_heads={self.fusion_heads} must divide the hidden size {hidden_size} of "
                f"the text model {self.text_model!r}"
            )

    def require_feature_dims(self) -> None:
        """A `ConfigError` unless every active modality has its feature size (a model cannot be built without)."""
        for modality in self.active_modalities:
            if self.feature_dim(modality) is None:
                raise ConfigError(
                    f"model.{modality}_dim is required when modalities={self.modalities!r} "
                    "(the trainer fills it from the data)"
                )
