"""Contrastive losses against plain loop references (values and gradients), edge cases, and HSCLLoss assembly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

import hscl.losses
from hscl.config.loss import TIE_TOLERANCE
from hscl.errors import ConfigError
from hscl.losses import (
    HSCLLoss,
    LossConfig,
    ntxent_loss,
    similarity_loss,
    supcon_loss,
    supcr_loss,
)

DT = torch.float64


def _views(features: torch.Tensor, labels: torch.Tensor, tau: float) -> tuple[torch.Tensor, list[float], list[int]]:
    """Logit matrix, per-view labels and per-view sample index, views taken sample by sample."""
    b, v, d = features.shape
    z = F.normalize(features.reshape(b * v, d), dim=1)
    ys = [float(labels[i]) for i in range(b) for _ in range(v)]
    sample = [i for i in range(b) for _ in range(v)]
    return z @ z.T / tau, ys, sample


def ref_supcr(
    features: torch.Tensor, labels: torch.Tensor, tau: float, variant: str, tol: float = TIE_TOLERANCE
) -> torch.Tensor:
    """The SupCR formula as written: a loop over anchors i, positives j != i and candidates k.

    Label distances |y_i - y_k| and thresholds |y_i - y_j| - tol are computed in the labels' dtype
    (float32 for training labels), then compared exactly; `tol` defaults to training's tolerance.
    """
    s, _, _ = _views(features, labels, tau)
    y = labels.repeat_interleave(features.shape[1])
    m = len(y)
    dist = (y[:, None] - y[None, :]).abs()
    threshold, dist = (dist - tol).tolist(), dist.tolist()
    total = features.sum() * 0.0
    for i in range(m):
        for j in range(m):
            if j == i:
                continue
            row = i if variant == "paper" else j
            den = [s[row, k] for k in range(m) if k != i and dist[i][k] >= threshold[i][j]]
            total = total + s[i, j] - torch.logsumexp(torch.stack(den), 0)
    return -total / (m * (m - 1)) if m > 1 else total


def ref_ntxent(features: torch.Tensor, tau: float) -> torch.Tensor:
    """Anchor i, positives = other views of its sample, denominator = all views but i."""
    s, _, sample = _views(features, torch.zeros(features.shape[0]), tau)
    m = len(sample)
    terms = []
    for i in range(m):
        den = torch.logsumexp(torch.stack([s[i, k] for k in range(m) if k != i]), 0)
        terms += [s[i, p] - den for p in range(m) if p != i and sample[p] == sample[i]]
    return -torch.stack(terms).mean()


def ref_supcon(features: torch.Tensor, labels: torch.Tensor, tau: float) -> torch.Tensor:
    """Class SupCon: classes round(clip(y, -3, 3)); anchors without a positive are skipped."""
    s, y, _ = _views(features, labels, tau)
    cls = [round(min(max(v, -3.0), 3.0)) for v in y]  # Python rounds halves to even, like torch
    m = len(y)
    per_anchor = []
    for i in range(m):
        positives = [p for p in range(m) if p != i and cls[p] == cls[i]]
        if positives:
            den = torch.logsumexp(torch.stack([s[i, k] for k in range(m) if k != i]), 0)
            per_anchor.append(torch.stack([s[i, p] - den for p in positives]).mean())
    return -torch.stack(per_anchor).mean() if per_anchor else features.sum() * 0.0


def random_case(gen: torch.Generator, b: int, v: int, d: int, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    features = torch.randn(b, v, d, generator=gen, dtype=DT)
    if kind == "continuous":
        labels = torch.rand(b, generator=gen, dtype=DT) * 6 - 3
    elif kind == "grid":  # many exact ties, including |y_i - y_j| == |y_i - y_k| on both sides of y_i
        labels = torch.randint(-6, 7, (b,), generator=gen).to(DT) / 2
    elif kind == "tenths":  # steps of 0.1: differences that tie or not only through rounding
        labels = torch.randint(-30, 31, (b,), generator=gen).to(DT) / 10
    else:
        labels = torch.full((b,), 0.7, dtype=DT)
    return features, labels


@pytest.fixture(params=["linear", "log"])
def scan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test through both ways of summing the SupCR denominators (log space forced by an empty table)."""
    if request.param == "log":
        monkeypatch.setattr(hscl.losses, "_LINEAR_RANGE", {})
    return request.param


def cubic_supcr(
    features: torch.Tensor, labels: torch.Tensor, tau: float, variant: str, tol: float = TIE_TOLERANCE
) -> torch.Tensor:
    """The formula vectorised with an explicit (M, M, M) membership mask [i, j, k] (for medium M)."""
    s, _, _ = _views(features, labels, tau)
    m = s.shape[0]
    y = labels.repeat_interleave(features.shape[1])
    d = (y[:, None] - y[None, :]).abs()
    eye = torch.eye(m, dtype=torch.bool)
    member = (d[:, None, :] >= (d - tol)[:, :, None]) & ~eye[:, None, :]
    rows = s[:, None, :].expand(m, m, m) if variant == "paper" else s[None, :, :].expand(m, m, m)
    den = rows.masked_fill(~member, float("-inf")).logsumexp(dim=2)
    return -(s - den)[~eye].mean()


CASES = [
    (b, v, kind)
    for b, v in [(1, 2), (1, 3), (2, 1), (2, 2), (3, 3), (5, 1), (6, 2), (7, 3), (12, 2)]
    for kind in ("continuous", "grid", "tenths", "equal")
]


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_matches_reference(variant: str, scan: str) -> None:
    gen = torch.Generator().manual_seed(0)
    for n, (b, v, kind) in enumerate(CASES):
        tau = [0.07, 0.5, 2.0][n % 3]
        features, labels = random_case(gen, b, v, 1 + n % 5, kind)
        got = supcr_loss(features, labels, tau, variant)
        want = ref_supcr(features, labels, tau, variant)
        assert got.item() == pytest.approx(want.item(), abs=1e-10, rel=1e-10), (b, v, kind)


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_gradients_match_reference(variant: str, scan: str) -> None:
    gen = torch.Generator().manual_seed(1)
    for b, v, kind in [(4, 2, "grid"), (6, 1, "tenths"), (3, 3, "continuous"), (5, 2, "equal"), (1, 2, "grid")]:
        features, labels = random_case(gen, b, v, 4, kind)
        fast = features.clone().requires_grad_()
        slow = features.clone().requires_grad_()
        supcr_loss(fast, labels, 0.3, variant).backward()
        ref_supcr(slow, labels, 0.3, variant).backward()
        torch.testing.assert_close(fast.grad, slow.grad, atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_gradcheck(variant: str, scan: str) -> None:
    gen = torch.Generator().manual_seed(2)
    features = torch.randn(5, 2, 3, generator=gen, dtype=DT, requires_grad=True)
    labels = torch.tensor([0.5, -1.0, 0.5, 2.0, 0.0], dtype=DT)  # ties and a mirrored distance
    assert torch.autograd.gradcheck(lambda f: supcr_loss(f, labels, 0.4, variant), (features,))


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_matches_cubic_form_at_medium_size(variant: str, scan: str) -> None:
    gen = torch.Generator().manual_seed(3)
    for b, v, kind, tau in [(60, 2, "grid", 0.1), (40, 3, "tenths", 0.5), (100, 1, "continuous", 1.0)]:
        features, labels = random_case(gen, b, v, 16, kind)
        got = supcr_loss(features, labels, tau, variant)
        torch.testing.assert_close(got, cubic_supcr(features, labels, tau, variant), atol=1e-10, rtol=1e-10)


def float32_grid(gen: torch.Generator, b: int, step: str) -> torch.Tensor:
    """Labels on the 0.2 or the 1/3 grid in [-3, 3], divided in float32 as real labels are stored."""
    steps = {"fifths": 5, "thirds": 3}[step]
    return torch.randint(-3 * steps, 3 * steps + 1, (b,), generator=gen).to(torch.float32) / steps


def test_float32_grids_split_decimal_ties() -> None:
    """The premise of tie_tolerance: in float32, 0.6 - 0.4 and 0.4 - 0.2 (or 1 - 2/3 and 2/3 - 1/3) differ."""
    fifths = torch.tensor([2, 3, 4], dtype=torch.float32) / 5
    thirds = torch.tensor([1, 2, 3], dtype=torch.float32) / 3
    for y in (fifths, thirds):
        assert (y[2] - y[1]).item() != (y[1] - y[0]).item()
        assert abs((y[2] - y[1]) - (y[1] - y[0])).item() < 1e-6


TOLERANCE_CASES = [
    (b, v, kind)
    for b, v in [(1, 2), (1, 3), (2, 2), (5, 1), (14, 1), (6, 3)]
    for kind in ("fifths", "thirds", "continuous", "equal")
]


def tolerance_case(gen: torch.Generator, b: int, v: int, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    features = torch.randn(b, v, 3, generator=gen, dtype=DT)
    if kind in ("fifths", "thirds"):
        return features, float32_grid(gen, b, kind)
    return features, random_case(gen, b, v, 3, kind)[1].to(torch.float32)


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_tie_tolerance_matches_reference(variant: str) -> None:
    """Fast path == loop reference at tolerance 0 (exact float32 comparison), 1e-5, and tolerances
    wider than some label distances (where every view joins A(i, j)); and on the float32 grids the
    tolerance changes the loss, so these cases do test it."""
    gen = torch.Generator().manual_seed(12)
    changed = set()
    for b, v, kind in TOLERANCE_CASES:
        features, labels = tolerance_case(gen, b, v, kind)
        losses = {}
        for tol in (0.0, 1e-5, 0.25, 10.0):
            got = supcr_loss(features, labels, 0.5, variant, tie_tolerance=tol)
            want = ref_supcr(features, labels, 0.5, variant, tol)
            assert got.item() == pytest.approx(want.item(), abs=1e-10, rel=1e-10), (b, v, kind, tol)
            losses[tol] = got.item()
        if losses[0.0] != pytest.approx(losses[1e-5], abs=1e-9):
            changed.add(kind)
    assert {"fifths", "thirds"} <= changed


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_tie_tolerance_gradients_and_medium_size(variant: str) -> None:
    gen = torch.Generator().manual_seed(13)
    features, labels = torch.randn(9, 2, 4, generator=gen, dtype=DT), float32_grid(gen, 9, "fifths")
    fast, slow = features.clone().requires_grad_(), features.clone().requires_grad_()
    supcr_loss(fast, labels, 0.3, variant, tie_tolerance=1e-5).backward()
    ref_supcr(slow, labels, 0.3, variant, 1e-5).backward()
    torch.testing.assert_close(fast.grad, slow.grad, atol=1e-10, rtol=1e-8)
    for kind in ("fifths", "thirds"):
        features, labels = torch.randn(48, 2, 8, generator=gen, dtype=DT), float32_grid(gen, 48, kind)
        for tol in (0.0, 1e-5):
            got = supcr_loss(features, labels, 0.2, variant, tie_tolerance=tol)
            torch.testing.assert_close(got, cubic_supcr(features, labels, 0.2, variant, tol), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_default_gives_the_exact_labels_loss_on_float32_grids(variant: str) -> None:
    """`supcr_loss` defaults to training's tolerance, so float32 labels on the 0.2 and 1/3 grids give the loss
    of their exact values (SupCR only compares distances, so the integer grid indices stand in for them);
    `tie_tolerance=0` compares the float32 distances as stored and does not."""
    import inspect

    assert inspect.signature(supcr_loss).parameters["tie_tolerance"].default == LossConfig().tie_tolerance > 0
    gen = torch.Generator().manual_seed(15)
    for steps in (5, 3):
        index = torch.randint(-3 * steps, 3 * steps + 1, (32,), generator=gen)
        labels = index.to(torch.float32) / steps
        features = torch.randn(32, 2, 8, generator=gen, dtype=DT)
        exact = cubic_supcr(features, index.to(DT), 0.5, variant, tol=0.0)
        torch.testing.assert_close(supcr_loss(features, labels, 0.5, variant), exact, atol=1e-10, rtol=1e-10)
        split = supcr_loss(features, labels, 0.5, variant, tie_tolerance=0.0)
        assert abs(split.item() - exact.item()) > 1e-6


def test_supcr_rejects_bad_tie_tolerance() -> None:
    features, labels = random_case(torch.Generator().manual_seed(14), 3, 2, 3, "grid")
    for tol in (-1e-6, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tie_tolerance"):
            supcr_loss(features, labels, tie_tolerance=tol)


def test_supcr_variants_differ() -> None:
    features, labels = random_case(torch.Generator().manual_seed(4), 6, 2, 3, "grid")
    assert abs(supcr_loss(features, labels, variant="paper") - supcr_loss(features, labels, variant="released")) > 1e-3


def test_supcr_is_invariant_to_sample_order() -> None:
    features, labels = random_case(torch.Generator().manual_seed(5), 9, 2, 4, "tenths")
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(6))
    for variant in ("paper", "released"):
        shuffled = supcr_loss(features[perm], labels[perm], 0.5, variant)
        torch.testing.assert_close(supcr_loss(features, labels, 0.5, variant), shuffled)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("tau", [1e-3, 1e3])
@pytest.mark.parametrize("variant", ["paper", "released"])
def test_supcr_extreme_temperatures_stay_finite(dtype: torch.dtype, tau: float, variant: str) -> None:
    gen = torch.Generator().manual_seed(7)
    features = torch.randn(16, 2, 8, generator=gen, dtype=dtype, requires_grad=True)
    labels = (torch.randint(-6, 7, (16,), generator=gen) / 2).to(dtype)
    loss = supcr_loss(features, labels, tau, variant)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(features.grad).all()
    if dtype == torch.float64:
        want = ref_supcr(features.detach(), labels, tau, variant)
        assert loss.item() == pytest.approx(want.item(), rel=1e-8)


def test_supcr_single_view_batch_is_zero_with_grad() -> None:
    features = torch.randn(1, 1, 4, requires_grad=True)
    loss = supcr_loss(features, torch.tensor([1.0]))
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(features.grad, torch.zeros_like(features))


def test_supcr_accepts_integer_labels() -> None:
    features, _labels = random_case(torch.Generator().manual_seed(8), 5, 2, 3, "grid")
    ints = torch.tensor([1, -2, 0, 1, 3])
    torch.testing.assert_close(supcr_loss(features, ints), ref_supcr(features, ints.to(DT), 0.5, "paper"))


@pytest.mark.parametrize(
    ("features", "labels", "match"),
    [
        (torch.randn(4, 8), torch.zeros(4), r"\(B, V, D\)"),
        (torch.randn(0, 2, 8), torch.zeros(0), r"\(B, V, D\)"),
        (torch.randn(4, 2, 8), torch.zeros(3), "labels must be"),
        (torch.randn(4, 2, 8), torch.zeros(4, 1), "labels must be"),
        (torch.randn(4, 2, 8), torch.tensor([0.0, float("nan"), 1.0, 2.0]), "NaN"),
        (torch.randn(4, 2, 8), torch.tensor([0.0, float("inf"), 1.0, 2.0]), "NaN or infinity"),
    ],
)
def test_bad_input_raises(features: torch.Tensor, labels: torch.Tensor, match: str) -> None:
    for loss in (supcr_loss, supcon_loss):
        with pytest.raises(ValueError, match=match):
            loss(features, labels)


def test_bad_temperature_and_variant_raise() -> None:
    features, labels = torch.randn(3, 2, 4), torch.zeros(3)
    for tau in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            supcr_loss(features, labels, tau)
    with pytest.raises(ValueError, match="variant"):
        supcr_loss(features, labels, variant="official")


def test_ntxent_matches_reference() -> None:
    gen = torch.Generator().manual_seed(9)
    for b, v, tau in [(1, 2, 0.5), (2, 2, 0.1), (5, 2, 1.0), (4, 3, 0.3), (7, 3, 0.05)]:
        features = torch.randn(b, v, 6, generator=gen, dtype=DT)
        fast = features.clone().requires_grad_()
        slow = features.clone().requires_grad_()
        got, want = ntxent_loss(fast, tau), ref_ntxent(slow, tau)
        assert got.item() == pytest.approx(want.item(), abs=1e-10)
        got.backward()
        want.backward()
        torch.testing.assert_close(fast.grad, slow.grad)


def test_ntxent_needs_two_views() -> None:
    with pytest.raises(ValueError, match="at least 2 views"):
        ntxent_loss(torch.randn(4, 1, 8))


def test_supcon_matches_reference() -> None:
    gen = torch.Generator().manual_seed(10)
    for n, (b, v, kind) in enumerate(CASES):
        features, labels = random_case(gen, b, v, 5, kind)
        labels = labels * 1.25  # pushes some labels past the +-3 clip and onto .5 rounding ties
        fast = features.clone().requires_grad_()
        slow = features.clone().requires_grad_()
        got, want = supcon_loss(fast, labels, 0.2 + 0.1 * n), ref_supcon(slow, labels, 0.2 + 0.1 * n)
        assert got.item() == pytest.approx(want.item(), abs=1e-10), (b, v, kind)
        got.backward()
        want.backward()
        torch.testing.assert_close(fast.grad, slow.grad)


def test_supcon_rounds_to_classes_unless_told_not_to() -> None:
    features = torch.randn(4, 1, 3, dtype=DT)
    labels = torch.tensor([0.4, -0.4, 2.6, 3.4], dtype=DT)  # classes 0, 0, 3, 3; four distinct raw values
    assert supcon_loss(features, labels).item() == pytest.approx(ref_supcon(features, labels, 0.5).item())
    unrounded = supcon_loss(features, labels, n_classes_round=False)
    assert unrounded.item() == 0.0 and unrounded.grad_fn is None  # no positives at all


def test_similarity_loss() -> None:
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    want = sum(float(((a[i] - b[i]) ** 2).sum()) for i in range(5)) / 5
    assert similarity_loss(a, b).item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="one shape"):
        similarity_loss(a, b[:4])


@dataclass
class FakeOutput:
    prediction: torch.Tensor
    z_t: torch.Tensor
    z_a: torch.Tensor | None
    z_v: torch.Tensor | None
    z_at: torch.Tensor | None
    z_vt: torch.Tensor | None


def fake_output(b: int = 6, p: int = 4, audio: bool = True, visual: bool = True) -> FakeOutput:
    gen = torch.Generator().manual_seed(11)

    def z() -> torch.Tensor:
        return torch.randn(b, p, generator=gen, dtype=DT)

    return FakeOutput(
        prediction=torch.randn(b, generator=gen, dtype=DT),
        z_t=z(),
        z_a=z() if audio else None,
        z_v=z() if visual else None,
        z_at=z() if audio else None,
        z_vt=z() if visual else None,
    )


LABELS = torch.tensor([0.0, 1.5, -1.5, 1.5, 3.0, -0.4], dtype=DT)


def test_hscl_total_is_the_weighted_sum() -> None:
    cfg = LossConfig(alpha=0.3, w1=0.2, w2=0.7, temperature=0.4)
    out = fake_output()
    terms = HSCLLoss(cfg)(out, LABELS)
    task = (out.prediction - LABELS).abs().mean()
    ta = supcr_loss(torch.stack([out.z_t, out.z_a], 1), LABELS, 0.4) + 0.3 * similarity_loss(out.z_t, out.z_a)
    tv = supcr_loss(torch.stack([out.z_t, out.z_v], 1), LABELS, 0.4) + 0.3 * similarity_loss(out.z_t, out.z_v)
    fusion = supcr_loss(torch.stack([out.z_at, out.z_vt], 1), LABELS, 0.4)
    assert set(terms) == {"total", "task", "ta", "tv", "fusion"}
    for name, want in [("task", task), ("ta", ta), ("tv", tv), ("fusion", fusion)]:
        torch.testing.assert_close(terms[name], want)
    torch.testing.assert_close(terms["total"], task + 0.2 * (ta + tv) + 0.7 * fusion)


@pytest.mark.parametrize(
    ("name", "loss"),
    [
        ("supcr", lambda f, y, t: supcr_loss(f, y, t, "paper")),
        ("supcr_released", lambda f, y, t: supcr_loss(f, y, t, "released")),
        ("ntxent", lambda f, y, t: ntxent_loss(f, t)),
        ("supcon", supcon_loss),
    ],
)
def test_hscl_dispatches_contrastive_by_name(name: str, loss) -> None:
    out = fake_output()
    terms = HSCLLoss(LossConfig(contrastive=name))(out, LABELS)
    torch.testing.assert_close(terms["fusion"], loss(torch.stack([out.z_at, out.z_vt], 1), LABELS, 0.5))


@pytest.mark.parametrize("name", ["supcr", "supcr_released"])
def test_hscl_passes_tie_tolerance_to_supcr(name: str) -> None:
    out = fake_output()
    labels = torch.tensor([0.2, 0.4, 0.6, 0.4, 0.8, 0.2], dtype=torch.float32)  # float32 0.2 grid: split ties
    variant = "paper" if name == "supcr" else "released"
    fused = torch.stack([out.z_at, out.z_vt], 1)
    by_tolerance = {}
    for tol in (0.0, 1e-5):
        terms = HSCLLoss(LossConfig(contrastive=name, tie_tolerance=tol))(out, labels)
        torch.testing.assert_close(terms["fusion"], supcr_loss(fused, labels, 0.5, variant, tie_tolerance=tol))
        by_tolerance[tol] = terms["fusion"].item()
    assert by_tolerance[0.0] != pytest.approx(by_tolerance[1e-5], abs=1e-9)


def test_hscl_disabled_levels_and_missing_modalities_drop_terms() -> None:
    out = fake_output()
    task = (out.prediction - LABELS).abs().mean()
    only_fusion = HSCLLoss(LossConfig(unimodal=False))(out, LABELS)
    assert set(only_fusion) == {"total", "task", "fusion"}
    torch.testing.assert_close(only_fusion["total"], task + 0.1 * only_fusion["fusion"])
    only_unimodal = HSCLLoss(LossConfig(fusion=False))(out, LABELS)
    assert set(only_unimodal) == {"total", "task", "ta", "tv"}
    torch.testing.assert_close(only_unimodal["total"], task + 0.01 * (only_unimodal["ta"] + only_unimodal["tv"]))
    neither = HSCLLoss(LossConfig(unimodal=False, fusion=False))(out, LABELS)
    assert set(neither) == {"total", "task"}
    torch.testing.assert_close(neither["total"], task)

    text_audio = fake_output(visual=False)
    terms = HSCLLoss(LossConfig())(text_audio, LABELS)
    assert set(terms) == {"total", "task", "ta", "fusion"}
    torch.testing.assert_close(terms["fusion"], supcr_loss(text_audio.z_at[:, None], LABELS, 0.5))
    torch.testing.assert_close(terms["total"], terms["task"] + 0.01 * terms["ta"] + 0.1 * terms["fusion"])

    text_only = HSCLLoss(LossConfig())(fake_output(audio=False, visual=False), LABELS)
    assert set(text_only) == {"total", "task"}


def test_hscl_ntxent_with_one_fusion_view_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ntxent"):
        HSCLLoss(LossConfig(contrastive="ntxent"))(fake_output(visual=False), LABELS)


def test_hscl_rejects_mismatched_prediction() -> None:
    out = fake_output()
    out.prediction = out.prediction[:, None]
    with pytest.raises(ValueError, match="must both be"):
        HSCLLoss(LossConfig())(out, LABELS)


@pytest.mark.parametrize(
    "overrides",
    [
        {"alpha": -0.1},
        {"w1": float("nan")},
        {"w2": float("inf")},
        {"w2": "0.1"},  # a quoted number is a string, not a weight
        {"alpha": True},
        {"temperature": 0.0},
        {"temperature": -1},
        {"contrastive": "infonce"},
        {"fusion": "no"},
        {"tie_tolerance": -1e-6},
        {"tie_tolerance": float("nan")},
        {"tie_tolerance": float("inf")},
    ],
)
def test_loss_config_validation(overrides: dict) -> None:
    name = next(iter(overrides))
    with pytest.raises(ConfigError, match=name):
        LossConfig(**overrides)
    assert LossConfig(w1=0, w2=1).w1 == 0  # integers and zero weights are fine
