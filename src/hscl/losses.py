"""HSCL training losses: supervised contrastive regression (SupCR) and the hierarchical total.

Contrastive losses take `features` of shape (B, V, D): V views of each of B samples. Views are
flattened sample-major (row `b * V + v` is view v of sample b), L2-normalised, and compared by
cosine similarity divided by the temperature.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from hscl.config.loss import TIE_TOLERANCE, LossConfig
from hscl.errors import ConfigError
from hscl.metrics import sentiment_classes

SUPCR_VARIANTS: tuple[str, ...] = ("paper", "released")


def _check_views(features: Tensor, labels: Tensor | None, temperature: float) -> None:
    """Raise ValueError unless features is (B, V, D), labels (B,) finite, temperature > 0."""
    if features.dim() != 3 or min(features.shape) < 1:
        raise ValueError(f"features must be (B, V, D) with every size >= 1; got {tuple(features.shape)}")
    if not (temperature > 0 and temperature < float("inf")):
        raise ValueError(f"temperature must be a finite positive number; got {temperature}")
    if labels is None:
        return
    if labels.shape != features.shape[:1]:
        raise ValueError(f"labels must be ({features.shape[0]},) to match features; got {tuple(labels.shape)}")
    if not bool(torch.isfinite(labels).all()):
        raise ValueError("labels contain NaN or infinity")


def _flat_views(features: Tensor, temperature: float) -> Tensor:
    """Cosine-similarity logits (M, M) of the M = B * V views, flattened sample-major."""
    z = F.normalize(features.reshape(-1, features.shape[-1]), dim=-1)
    return z @ z.T / temperature


def _no_pairs(features: Tensor) -> Tensor:
    """A zero loss that stays connected to the graph (for batches without any pair)."""
    return features.sum() * 0.0


# Widest span of logits in [-span, 0] that the denominators may sum in linear space: exp(-span) stays
# a normal number (no underflow to 0), and the backward's 1 / sum <= exp(span), summed over up to
# M^2 terms, stays finite. Wider spans (very low temperatures) take the log-space scans.
_LINEAR_RANGE: dict[torch.dtype, float] = {torch.float32: 60.0, torch.float64: 600.0}


def _scan_lookup(x: Tensor, counts: Tensor, scan: Callable[[Tensor], Tensor], empty: float) -> Tensor:
    """out[r, c] = scan of row r of x over its first counts[r, c] entries (`empty` when there are none)."""
    pad = x.new_full((x.shape[0], 1), empty)
    return torch.cat([pad, scan(x)], dim=1).gather(1, counts)


def _log_denominators(logits: Tensor, n_head: Tensor, n_tail: Tensor, span: float) -> Tensor:
    """D[r, c] = log of the sum of exp(l[r, :]) over the first n_head[r, c] and the last n_tail[r, c] columns.

    `logits` must lie in [-span, 0]. The sums over every head of every row come from one cumulative
    scan, those over every tail from one scan of the reversed rows, and each D is one lookup in both.
    The scans add exp(l) directly when the span allows it for the dtype (see _LINEAR_RANGE), else
    they work in log space.
    """
    if span <= _LINEAR_RANGE.get(logits.dtype, 0.0):
        weights, cumsum = logits.exp(), partial(torch.cumsum, dim=1)
        head = _scan_lookup(weights, n_head, cumsum, 0.0)
        return torch.log(head + _scan_lookup(weights.flip(1), n_tail, cumsum, 0.0))
    logcumsumexp = partial(torch.logcumsumexp, dim=1)
    head = _scan_lookup(logits, n_head, logcumsumexp, float("-inf"))
    return torch.logaddexp(head, _scan_lookup(logits.flip(1), n_tail, logcumsumexp, float("-inf")))


def _supcr_bounds(y: Tensor, transpose: bool, tie_tolerance: float) -> tuple[Tensor, Tensor]:
    """For labels y sorted ascending: (n_head, n_tail), each (M, M), such that for every anchor i and
    j != i, A(i,j) = {k != i : |y_i - y_k| >= |y_i - y_j| - tie_tolerance} is the first n_head[i,j]
    and the last n_tail[i,j] positions. With `transpose`, the pair (i, j) is stored at [j, i] instead.

    For an anchor with label u, y - u is non-decreasing and |y_k - u| equals |u - y_k| bit for bit, so
    with the threshold e = |u - y_j| - tie_tolerance (in the labels' dtype) the head is y_k - u <= -e
    and the tail y_k - u >= e, exactly. They depend on labels only, so they run once per pair of
    distinct label values. When e > 0 both exclude every view with label u; when e <= 0 every view
    is a member and head and tail overlap around the anchor, so the head is clamped to end before
    the anchor's position and the tail to start after it (a no-op when e > 0).
    """
    m = y.shape[0]
    values, group = torch.unique(y, return_inverse=True)
    offsets = y[None, :] - values[:, None]  # (U, M), rows non-decreasing
    threshold = (values[None, :] - values[:, None]).abs() - tie_tolerance  # (U, U): [anchor value, positive value]
    n_head = torch.searchsorted(offsets, -threshold, right=True)
    n_tail = m - torch.searchsorted(offsets, threshold, right=False)
    anchor = torch.arange(m, device=y.device)
    if transpose:
        n_head, n_tail, anchor = n_head.T, n_tail.T, anchor[None, :]
    else:
        anchor = anchor[:, None]
    columns = group.expand(m, m)  # table[group].gather(1, columns) == table[group][:, group], faster
    n_head = n_head[group].gather(1, columns).clamp_(max=anchor)
    return n_head, n_tail[group].gather(1, columns).clamp_(max=m - 1 - anchor)


def supcr_loss(
    features: Tensor,
    labels: Tensor,
    temperature: float = 0.5,
    variant: str = "paper",
    tie_tolerance: float = TIE_TOLERANCE,
) -> Tensor:
    """Supervised contrastive regression loss over all views (exact, O(M^2 log M) time, O(M^2) memory).

    With M = B * V views, logits l_ik = <f_i, f_k> / temperature and label distances
    d_ik = |y_i - y_k|, the loss is -1/(M(M-1)) sum_i sum_{j != i} [l_ij - log sum_{k in A(i,j)} exp(r_k)]
    with A(i,j) = {k != i : d_ik >= d_ij - tie_tolerance} (so j itself is in A(i,j)). `variant="paper"`
    uses the anchor's logits r_k = l_ik; `variant="released"` uses the positive's logits r_k = l_jk,
    as the published code does. Label distances and d_ij - tie_tolerance are computed in the labels'
    dtype. The default tolerance is training's (`loss.tie_tolerance`, 1e-5): it merges the ties that
    float32 labels split although they are exact in decimal (0.6 - 0.4 > 0.4 - 0.2 in float32), so
    labels on the MOSI grids give the loss of their exact values. `tie_tolerance=0` compares the
    distances exactly as stored.
    A batch with a single view returns a zero connected to the graph.

    Method: views are put in label order, so each A(i,j) is a head plus a tail of that order
    (`_supcr_bounds`); sums over every head and tail of every row come from two cumulative scans,
    and each denominator is one lookup in each (`_log_denominators`). The logits are shifted
    by -1/temperature (into [-2/temperature, 0]), which leaves every term l_ij - D_ij unchanged.
    """
    if variant not in SUPCR_VARIANTS:
        raise ValueError(f"unknown SupCR variant {variant!r}; expected one of {SUPCR_VARIANTS}")
    if not 0 <= tie_tolerance < float("inf"):
        raise ValueError(f"tie_tolerance must be a finite number >= 0; got {tie_tolerance}")
    _check_views(features, labels, temperature)
    n_views = features.shape[1]
    if features.shape[0] * n_views < 2:
        return _no_pairs(features)
    y = labels if labels.is_floating_point() else labels.to(features.dtype)
    y = y.repeat_interleave(n_views)
    order = torch.argsort(y, stable=True)
    m = y.shape[0]
    z = F.normalize(features.reshape(m, -1)[order], dim=1)
    logits = (z @ z.T - 1.0) / temperature
    # The released denominator of the pair (i, j) sums row j of the logits. Transposed bounds put that
    # pair at [j, i], so it is looked up in row j; as the logits are symmetric, l[j, i] = l_ij and
    # the sum of l - D over all pairs is the same.
    n_head, n_tail = _supcr_bounds(y[order], variant == "released", tie_tolerance)
    log_denominator = _log_denominators(logits, n_head, n_tail, span=2.0 / temperature)
    pair_terms = logits - log_denominator
    return -(pair_terms.sum() - pair_terms.diagonal().sum()) / (m * (m - 1))


def similarity_loss(a: Tensor, b: Tensor) -> Tensor:
    """Batch mean of the squared L2 distance between paired rows: mean_i ||a_i - b_i||^2."""
    if a.dim() != 2 or a.shape != b.shape:
        raise ValueError(
            f"similarity_loss needs two (B, P) tensors of one shape; got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return (a - b).pow(2).sum(dim=1).mean()


def _mean_log_prob(logits: Tensor, positive: Tensor) -> Tensor:
    """Mean over anchors with a positive of the mean log-probability of its positives.

    Each anchor's denominator runs over every other view; `positive` (M, M) must be False on the diagonal.
    """
    self_mask = torch.eye(logits.shape[0], dtype=torch.bool, device=logits.device)
    log_prob = logits - logits.masked_fill(self_mask, float("-inf")).logsumexp(dim=1, keepdim=True)
    counts = positive.sum(dim=1)
    has_positive = counts > 0
    per_anchor = log_prob.masked_fill(~positive, 0.0).sum(dim=1)[has_positive] / counts[has_positive]
    return -per_anchor.mean()


def ntxent_loss(features: Tensor, temperature: float = 0.5) -> Tensor:
    """Label-free NT-Xent (SimCLR) over V >= 2 views: a view's positives are the other views of its sample.

    The denominator runs over every other view. Averaged over all (anchor, positive) pairs.
    """
    _check_views(features, None, temperature)
    n_samples, n_views = features.shape[:2]
    if n_views < 2:
        raise ValueError("ntxent_loss needs at least 2 views per sample (its only positives are the other views)")
    sample = torch.arange(n_samples, device=features.device).repeat_interleave(n_views)
    positive = (sample[:, None] == sample[None, :]).fill_diagonal_(False)
    return _mean_log_prob(_flat_views(features, temperature), positive)


def supcon_loss(features: Tensor, labels: Tensor, temperature: float = 0.5, n_classes_round: bool = True) -> Tensor:
    """Class SupCon (Khosla et al., L_out): positives are the other views with the same class.

    Classes are `hscl.metrics.sentiment_classes(labels)` when `n_classes_round`, else the labels compared exactly.
    The denominator runs over every other view. Anchors without a positive are skipped; a batch
    where no anchor has one returns a zero connected to the graph.
    """
    _check_views(features, labels, temperature)
    classes = sentiment_classes(labels) if n_classes_round else labels
    classes = classes.repeat_interleave(features.shape[1])
    positive = (classes[:, None] == classes[None, :]).fill_diagonal_(False)
    if not bool(positive.any()):
        return _no_pairs(features)
    return _mean_log_prob(_flat_views(features, temperature), positive)


# (features, labels, temperature, tie_tolerance) -> loss; only SupCR compares label distances.
ContrastiveLoss = Callable[[Tensor, Tensor, float, float], Tensor]

CONTRASTIVE_LOSSES: dict[str, ContrastiveLoss] = {
    "supcr": lambda f, y, temperature, tol: supcr_loss(f, y, temperature, "paper", tol),
    "supcr_released": lambda f, y, temperature, tol: supcr_loss(f, y, temperature, "released", tol),
    "ntxent": lambda f, y, temperature, tol: ntxent_loss(f, temperature),
    "supcon": lambda f, y, temperature, tol: supcon_loss(f, y, temperature),
}


class ModelOutput(Protocol):
    """What HSCLLoss reads from the model's output (None where a modality is off)."""

    prediction: Tensor
    z_t: Tensor
    z_a: Tensor | None
    z_v: Tensor | None
    z_at: Tensor | None
    z_vt: Tensor | None


class HSCLLoss:
    """The hierarchical objective. Returns `total`, `task` and each active term (`ta`, `tv`, `fusion`)."""

    def __init__(self, config: LossConfig) -> None:
        self.config = config
        self.contrastive = CONTRASTIVE_LOSSES[config.contrastive]

    def _unimodal(self, z_t: Tensor, z_m: Tensor, labels: Tensor) -> Tensor:
        views = torch.stack([z_t, z_m], dim=1)
        cfg = self.config
        contrastive = self.contrastive(views, labels, cfg.temperature, cfg.tie_tolerance)
        return contrastive + cfg.alpha * similarity_loss(z_t, z_m)

    def __call__(self, output: ModelOutput, labels: Tensor) -> dict[str, Tensor]:
        if output.prediction.shape != labels.shape or labels.dim() != 1:
            raise ValueError(
                f"prediction {tuple(output.prediction.shape)} and labels {tuple(labels.shape)} must both be (B,)"
            )
        cfg = self.config
        terms = {"task": F.l1_loss(output.prediction, labels)}
        total = terms["task"]
        if cfg.unimodal:
            for name, z_m in (("ta", output.z_a), ("tv", output.z_v)):
                if z_m is not None:
                    terms[name] = self._unimodal(output.z_t, z_m, labels)
                    total = total + cfg.w1 * terms[name]
        fused = [z for z in (output.z_at, output.z_vt) if z is not None]
        if cfg.fusion and fused:
            if len(fused) == 1 and cfg.contrastive == "ntxent":
                raise ConfigError(
                    "loss.contrastive='ntxent' needs both fusion projections (z_at and z_vt) but only one modality "
                    "is present; set loss.fusion=false or choose another contrastive loss"
                )
            terms["fusion"] = self.contrastive(torch.stack(fused, dim=1), labels, cfg.temperature, cfg.tie_tolerance)
            total = total + cfg.w2 * terms["fusion"]
        return {"total": total, **terms}
