"""The shipped benchmark suites, as plain data: a preset, rows of `--set` overrides, seeds.

`hscl benchmark --suite NAME` trains every (row, seed) of a suite (`hscl.benchmark.runner`) and writes its
results page (`hscl.benchmark.page`). This module imports nothing heavy, so the CLI can list the suites.
Hyper-parameter studies are not suites: `hscl tune` searches on validation only (`hscl.tune`).
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
    """A preset, its rows and seeds, and the row pairs to compare seed by seed.

    Its page is a results table: each run selected on valid, scored once on test.
    """

    name: str
    preset: str
    rows: tuple[Row, ...]
    seeds: tuple[int, ...] = (1111, 1112, 1113, 1114, 1115)
    quick_overrides: tuple[str, ...] = ("train.epochs=2",)
    comparisons: tuple[tuple[str, str], ...] = (("hscl", "text_only"),)  # (row, minus row), paired over seeds
    report_row: str = "hscl"  # whose first seed gets the pictures
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [row.key for row in self.rows]
        named = {self.report_row, *(key for pair in self.comparisons for key in pair)}
        if len(set(keys)) != len(keys) or not named <= set(keys):
            raise ConfigError(f"suite {self.name!r}: row keys must be unique and include {sorted(named)}")


SUITES: dict[str, Suite] = {
    "mosi-utterance": Suite(
        name="mosi-utterance",
        preset="mosi-utterance",
        rows=(
            Row("text_only", "Text-only fine-tuning (same encoder, same budget)", ("model.modalities=text",)),
            Row(
                "late_fusion", "Late fusion: MLP on [text CLS; audio features]", ("model.fusion=late", *NO_CONTRASTIVE)
            ),
            Row("hscl", "HSCL (text + audio, SupCR at both levels)"),
            Row("no_contrastive", "Hierarchy ablation: no contrastive loss", NO_CONTRASTIVE),
            Row("unimodal_only", "Hierarchy ablation: unimodal level only", ("loss.fusion=false",)),
            Row("fusion_only", "Hierarchy ablation: fusion level only", ("loss.unimodal=false",)),
            Row(
                "ntxent",
                "Label ablation: label-free NT-Xent (unimodal level)",
                ("loss.contrastive=ntxent", "loss.fusion=false"),
            ),
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
}


def suite_by_name(name: str) -> Suite:
    """A shipped suite."""
    if name not in SUITES:
        raise ConfigError(f"unknown suite {name!r}; available: {', '.join(SUITES)}")
    return SUITES[name]
