"""Bimodal fusion: text tokens attend to themselves, then to one non-text modality."""

from __future__ import annotations

import torch
from torch import nn


class BimodalFusionLayer(nn.Module):
    """One fusion block over text states `E_t` (B, Lt, H) and modality states `E_m` (B, Lm, d_m).

        H_t = LN(E_t + SelfAttn(E_t))
        F   = LN(H_t + CrossAttn(query=H_t, key=value=E_m))
        Y   = LN(F + FFN(F)),   FFN = Linear -> ReLU -> Dropout -> Linear

    Returns Y (B, Lt, H); its first position is the fused representation (R_at or R_vt).
    Masks are True on real positions.
    """

    def __init__(self, embed_dim: int, n_heads: int, kdim: int, ff_dim: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(embed_dim, n_heads, dropout=dropout, batch_first=True)
        self.norm_self = nn.LayerNorm(embed_dim)
        self.cross_attn = nn.MultiheadAttention(
            embed_dim, n_heads, dropout=dropout, kdim=kdim, vdim=kdim, batch_first=True
        )
        self.norm_cross = nn.LayerNorm(embed_dim)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dim, ff_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(ff_dim, embed_dim),
        )
        self.norm_ffn = nn.LayerNorm(embed_dim)

    def forward(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        other: torch.Tensor,
        other_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Fused states (B, Lt, H)."""
        text_pad = ~text_mask.bool()
        attended, _ = self.self_attn(text, text, text, key_padding_mask=text_pad, need_weights=False)
        hidden = self.norm_self(text + attended)
        attended, _ = self.cross_attn(hidden, other, other, key_padding_mask=~other_mask.bool(), need_weights=False)
        fused = self.norm_cross(hidden + attended)
        return self.norm_ffn(fused + self.ffn(fused))
