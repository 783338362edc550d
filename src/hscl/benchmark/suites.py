"""The shipped benchmark suites, as plain data: a preset, rows of `--set` overrides, seeds.

`hscl benchmark --suite NAME` trains every (row, seed) of a suite (`hscl.benchmark.runner`) and writes its
results page (`hscl.benchmark.page`). This module imports nothing heavy, so the CLI can list the suites.
"""
from __future__ import annotations

from dataclasses import dataclass

from hscl.errors import ConfigError

NO_CONTRASTIVE = ("loss.unimodal=false", "loss.fusion=false")

@dataclass(frozen=True)
class Row:
    """One configuration of a suite."""

    key: str  # directory name
    label: str  # table label
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Suite:
    """A preset, its rows and seeds, which split the page reports, and the row pairs to compare seed by seed.

    `split="test"` is a results table (each run selected on valid, scored once on test). `split="valid"`
    is a hyper-parameter study: its page shows validation metrics only, so choices made from it never
    look at test.
    """

    name: str
    preset: str
    rows: tuple[Row, ...]
    seeds: tuple[int, ...] = (1111, 1112, 1113, 1114, 1115)
    quick_overrides: tuple[str, ...] = ("train.epochs=2",)
    split: str = "test"
    comparisons: tuple[tuple[str, str], ...] = (("hscl", "text_only"),)  # (row, minus row), paired over seeds
    report_row: str = "hscl"  # whose first seed gets the pictures
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [row.key for row in self.rows]
        named = {self.report_row, *(key for pair in self.comparisons for key in pair)}
        if len(set(keys)) != len(keys) or not named <= set(keys) or self.split not in ("test", "valid"):
            raise ConfigError(f"suite {self.name!r}: row keys must be unique and include {sorted(named)}, "
                              f"and split must be test or valid (got {self.split!r})")


LONGER = ("train.epochs=20", "train.scheduler_step=12")  # the preset's budget doubled, its schedule stretched

SUITES: dict[str, Suite] = {
    "mosi-utterance": Suite(
        name="mosi-utterance",
        preset="mosi-utterance",
        rows=(
            Row("text_only", "Text-only fine-tuning (same encoder, same budget)", ("model.modalities=text",)),
            Row("late_fusion", "Late fusion: MLP on [text CLS; audio features]", ("model.fusion=late", *NO_CONTRASTIVE)),
            Row("hscl", "HSCL (text + audio, SupCR at both levels)"),
            Row("no_contrastive", "Hierarchy ablation: no contrastive loss", NO_CONTRASTIVE),
            Row("unimodal_only", "Hierarchy ablation: unimodal level only", ("loss.fusion=false",)),
            Row("fusion_only", "Hierarchy ablation: fusion level only", ("loss.unimodal=false",)),
            Row("ntxent", "Label ablation: label-free NT-Xent (unimodal level)", ("loss.contrastive=ntxent", "loss.fusion=false")),
            Row("supcon", "Label ablation: 7-class SupCon", ("loss.contrastive=supcon",)),
            Row("supcr_released", "SupCR with the released code's denominator", ("loss.contrastive=supcr_released",)),
        ),
        comparisons=(("hscl", "text_only"), ("hscl", "no_contrastive")),
        notes=(
            "With text + audio only, the fusion level has a single view (z_at); NT-Xent has no positive "
            "there, so the NT-Xent row applies it at the unimodal level alone.",
        ),
    ),
    "demo": Suite(
        name="demo",
        preset="demo",
        rows=(
            Row("text_only", "Text only", ("model.modalities=text",)),
            Row("text_audio", "HSCL, text + audio", ("model.modalities=audio",)),
            Row("text_visual", "HSCL, text + visual", ("model.modalities=visual",)),
            Row("hscl", "HSCL, text + audio + visual"),
        ),
        seeds=(1111, 1112, 1113),
        quick_overrides=(),  # quick = the first seed only, same budget
    ),
    "mosi-utterance-study": Suite(
        name="mosi-utterance-study",
        preset="mosi-utterance",
        split="valid",
        seeds=(1111, 1112, 1113),
        quick_overrides=(),  # quick = the first seed only: fewer epochs would defeat the 20-epoch rows
        comparisons=(("hscl", "text_only"), ("hscl", "no_contrastive"), ("hscl_20", "text_only_20"),
                     ("hscl_20", "no_contrastive_20")),
        rows=(
            Row("text_only", "Text only", ("model.modalities=text",)),
            Row("no_contrastive", "Text + audio, no contrastive loss", NO_CONTRASTIVE),
            Row("hscl", "HSCL as in the preset (tau 0.5, w1 0.01, w2 0.1, alpha 0.1, 10 epochs)"),
            Row("text_only_20", "Text only, 20 epochs", ("model.modalities=text", *LONGER)),
            Row("no_contrastive_20", "Text + audio, no contrastive loss, 20 epochs", (*NO_CONTRASTIVE, *LONGER)),
            Row("hscl_20", "HSCL, 20 epochs", LONGER),
            Row("tau_0.1", "HSCL, temperature 0.1", ("loss.temperature=0.1",)),
            Row("tau_1", "HSCL, temperature 1.0", ("loss.temperature=1.0",)),
            Row("w1_0.1", "HSCL, unimodal weight w1 0.1", ("loss.w1=0.1",)),
            Row("w2_0.5", "HSCL, fusion weight w2 0.5", ("loss.w2=0.5",)),
            Row("w1_0.1_w2_0.5", "HSCL, w1 0.1 and w2 0.5", ("loss.w1=0.1", "loss.w2=0.5")),
            Row("alpha_1", "HSCL, similarity weight alpha 1.0", ("loss.alpha=1.0",)),
            Row("lr_bert_2e-5", "HSCL, text-encoder learning rate 2e-5", ("train.lr_bert=2e-5",)),
            Row("lr_bert_1e-4", "HSCL, text-encoder learning rate 1e-4", ("train.lr_bert=1e-4",)),
            Row("lr_main_3e-4", "HSCL, learning rate of the rest 3e-4", ("train.lr_main=3e-4",)),
        ),
        notes=(
            "A hyper-parameter study on the validation split: the table shows the validation metrics of each "
            "run's selected epoch. The runs also scored test once (trainer), but those numbers were not read "
            "for this study.",
        ),
    ),
}


def suite_by_name(name: str) -> Suite:
    """A shipped suite."""
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; available: {', '.join(SUITES)}")
    return SUITES[name]
