"""Where the data is and how to read it: the data section, each format's reader options, the synthetic set."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from hscl.config.base import Settings

DATA_FORMATS: tuple[str, ...] = ("mult", "mmim", "mmsa", "utterance", "csd", "converted", "synthetic")
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[int, Field(ge=1)]


class SyntheticConfig(Settings):
    """Sizes, feature shapes and difficulty of the embedded synthetic dataset (`data.format: synthetic`)."""

    seed: Annotated[int, Field(ge=0)] = Field(0, description="generator seed: the same seed gives the same data")
    n_train: Positive = Field(1284, description="training samples")
    n_valid: Annotated[int, Field(ge=2)] = Field(229, description="validation samples (at least 2)")
    n_test: Annotated[int, Field(ge=2)] = Field(686, description="test samples (at least 2)")
    audio_dim: Positive = Field(5, description="audio feature size")
    visual_dim: Positive = Field(20, description="visual feature size")
    max_audio_len: Positive = Field(50, description="longest audio sequence, in frames")
    max_visual_len: Positive = Field(50, description="longest visual sequence, in frames")
    misleading_fraction: Fraction = Field(
        0.3,
        description="share of samples whose words are neutral or misleading while audio and visual carry the sentiment",
    )
    noise: Annotated[float, Field(ge=0.0)] = Field(
        1.0, description="scale of audio/visual noise (per-sample offsets and frame noise)"
    )
    text_noise: Annotated[float, Field(ge=0.0)] = Field(
        0.4, description="std of the sentiment the words express around the label"
    )
    informative_fraction: Fraction = Field(0.6, description="share of audio/visual frames that carry the signal")


class UtteranceOptions(Settings):
    """Reader options of the `utterance` format (a folder with segments.csv and per-utterance .npy features)."""

    audio_file: str | None = Field("audio.npy", description=".npy file of audio features; null: no audio")
    visual_file: str | None = Field(None, description=".npy file of visual features; null: no visual")
    split_column: str = Field("split", description="segments.csv column holding train/valid/test")
    text_column: str = Field("text", description="segments.csv column holding the transcript")
    valid_fraction: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.15, description="share of train videos carved out as validation when the split column has none"
    )
    valid_seed: Annotated[int, Field(ge=0)] = Field(0, description="seed of that carve-out")
    allow_leaky_features: bool = Field(
        False, description="read feature files known to leak test labels under the standard split (never for results)"
    )


class MultOptions(Settings):
    """Reader options of the `mult` format (a MulT pickle and its label CSV)."""

    label_csv: str | None = Field(None, description="label CSV; null: the one next to the pickle")
    match_by_position: bool = Field(
        False, description="pair the i-th sample of a split with the i-th CSV row of that split (MOSEI)"
    )


class ConvertedOptions(Settings):
    """Reader options of the `converted` format (hscl's own folder, also what `hscl extract` writes)."""

    allow_unlabelled: bool = Field(
        False, description="read an `hscl extract` dataset without labels (it serves `hscl predict --data` only)"
    )


class CsdOptions(Settings):
    """Reader options of the `csd` format (a folder of CMU-MultimodalSDK computational sequences)."""

    words_file: str = Field("auto", description="words .csd in the folder; auto: the one named *TimestampedWords*")
    audio_file: str | None = Field("auto", description="audio .csd; auto: the one named *COVAREP*; null: no audio")
    visual_file: str | None = Field(
        "auto", description="visual .csd; auto: *Facet*42*, else *Facet*41*, *Facet*, *OpenFace*; null: no visual"
    )
    labels_file: str = Field(
        "auto", description="labels .csd; auto: *Opinion*Labels*, else *LabelsSentiment*, else *Labels* (not emotions)"
    )
    alignment: Literal["word", "none"] = Field(
        "word",
        description="word: one row per word, the mean of the frames overlapping it (the SDK recipe); "
        "none: the frames inside each segment",
    )
    max_frames: Annotated[int, Field(ge=1)] | None = Field(
        None, description="alignment none: subsample longer segments to this many evenly spaced frames; null: all"
    )
    folds: str = Field(
        "auto", description="auto (from the files' dataset name), mosi, mosei, or a JSON fold file of video ids"
    )
    label_column: Annotated[int, Field(ge=0)] = Field(
        0, description="column of the labels file holding sentiment (MOSEI's labels: 0 of 7)"
    )
    overlap_tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        1e-3, description="seconds by which intervals must overlap (the SDK's epsilon: 1e-3 on PyPI, 1e-5 now)"
    )
    drop_incomplete: bool = Field(
        False,
        description="leave out videos a modality file lacks and segments without words (as the SDK's unify "
        "does), counted in the notes, instead of refusing the data",
    )

    @model_validator(mode="after")
    def _max_frames_needs_frames(self) -> CsdOptions:
        if self.max_frames is not None and self.alignment != "none":
            raise ValueError(
                f"max_frames={self.max_frames} subsamples frames, which only alignment 'none' keeps; "
                "drop it or set alignment: none"
            )
        return self


class NoOptions(Settings):
    """A format that takes no reader options."""


READER_OPTIONS: dict[str, type[Settings]] = {
    "mult": MultOptions,
    "mmim": NoOptions,
    "mmsa": NoOptions,
    "utterance": UtteranceOptions,
    "csd": CsdOptions,
    "converted": ConvertedOptions,
    "synthetic": SyntheticConfig,
}


class DataConfig(Settings):
    """Where the data is and how to read it."""

    path: str | None = Field(None, description="dataset file or folder; null only for format 'synthetic'")
    format: Literal[DATA_FORMATS] | None = Field(
        "synthetic", description="dataset format; null: detect it from the path"
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="reader options of the format, e.g. audio_file for utterance; "
        "see the format's options in this schema's definitions",
    )
    max_text_len: Annotated[int, Field(ge=2)] = Field(
        50, description="longest tokenised transcript, [CLS] and [SEP] included"
    )

    @model_validator(mode="after")
    def _path_and_options_fit_the_format(self) -> DataConfig:
        if self.format == "synthetic" and self.path is not None:
            raise ValueError(
                f"path={self.path!r} is given, but format 'synthetic' generates its data: "
                "drop the path or name the file's format"
            )
        if self.format != "synthetic" and not self.path:
            raise ValueError(f"path is required for format {self.format or '(detected)'!r}")
        if self.format is not None:
            self.reader_options()
        return self

    def reader_options(self) -> Settings | None:
        """The options, validated against the format's reader (None while the format is still to be detected)."""
        if self.format is None:
            return None
        schema = READER_OPTIONS[self.format]
        try:
            return schema.from_values(self.options)
        except ValueError as err:
            raise ValueError(f"options of format {self.format!r}: {err}") from None
