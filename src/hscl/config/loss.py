"""Weights and kind of the HSCL objective (torch-free: `hscl.losses` builds the loss from it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hscl.config.base import Settings

CONTRASTIVE_KINDS: tuple[str, ...] = ("supcr", "supcr_released", "ntxent", "supcon")
NonNegative = Annotated[float, Field(ge=0.0)]
TIE_TOLERANCE = 1e-5  # default tolerance of SupCR's label-distance comparisons (training and `supcr_loss` alike)


class LossConfig(Settings):
    """The HSCL objective: L = L_task + w1 (L_ta + L_tv) + w2 L_fusion, with L_tm = contrastive + alpha * sim.

    `unimodal` and `fusion` switch the two levels of the hierarchy off for ablations.
    """

    alpha: NonNegative = Field(
        0.1, description="paper: alpha, weight of the similarity loss ||R^_t - R^_m||^2 inside each unimodal term L_tm"
    )
    w1: NonNegative = Field(0.01, description="paper: w1, weight of the unimodal level L_ta + L_tv")
    w2: NonNegative = Field(0.1, description="paper: w2, weight of the fusion level L_fusion")
    temperature: float = Field(
        0.5, gt=0.0, description="paper: tau, temperature dividing the cosine similarities in the contrastive losses"
    )
    contrastive: Literal[CONTRASTIVE_KINDS] = Field(
        "supcr",
        description="contrastive loss: supcr (the paper's SupCR), supcr_released (the released code's "
        "denominator), ntxent (label-free), supcon (7-class supervised)",
    )
    unimodal: bool = Field(True, description="use the unimodal level (text-audio, text-visual) of the hierarchy")
    fusion: bool = Field(True, description="use the fusion level (fused text-audio vs text-visual) of the hierarchy")
    tie_tolerance: NonNegative = Field(
        TIE_TOLERANCE,
        description="absolute tolerance when SupCR compares label distances: k is in A(i, j) when "
        "|y_i - y_k| >= |y_i - y_j| - tie_tolerance; 0 compares float32 distances exactly "
        "(then 0.6 - 0.4 and 0.4 - 0.2 differ)",
    )
