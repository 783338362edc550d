"""`hscl data audit`: find leaked or broken features with a linear probe and label-free statistics.

Every feature source becomes one matrix per split (sequences mean-pooled over their real frames,
per-utterance vectors as they are) and gets

* **a linear probe**: ridge regression on features standardised on train and clipped to +-`CLIP_Z`,
  its penalty chosen on validation MAE from `ALPHAS`, scored with `hscl.metrics.regression_metrics`
  and `sign_auc` on valid, on test, and by `CV_FOLDS`-fold cross-validation within train (folds
  keep a video's rows together; see `train_groups`);
* **label-free statistics**: constant and all-NaN columns, non-finite values, missing rows (all NaN
  or all zero), values beyond `EXTREME_Z` train standard deviations, and exact duplicate rows
  across splits.

A source is flagged (`flag_reasons`; the evidence for each threshold is in the README's data
section) when it is empty, all NaN or constant on train; when its validation Acc-2 non0 or Pearson r
is at least `NEAR_PERFECT` (above the human performance reported for MOSI, Acc-2 0.857 and r 0.82);
when two of its three scores (train cross-validation, valid, test) differ in sign AUC, in either
direction, by at least `GAP_MIN` *and* by `GAP_Z` standard errors (rows that behave unlike the rows
the probe was fit on, as when features were fit on some split's labels); or when at least
`DUPLICATE_FRACTION` of a split's rows repeat another split's rows.

Sources: the utterance format audits **every** `.npy` file beside `segments.csv`, read with the
reader's own row and split logic but without its list of known leaky files, so leaks are found from
the data alone; other formats audit their `audio` and `visual` modalities. Text is probed through a
TF-IDF bag of words of the transcripts (vocabulary fit on train transcripts; label-free and offline),
a control that shows what an honest modality scores; it gets no feature statistics. Non-finite values
are counted where the source shows them (utterance `.npy` files; other loaders have already replaced
them with 0 and say so in the dataset notes), then set to 0 for the probe.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from hscl.data.loading import detect_format, load_dataset
from hscl.data.readers import utterance
from hscl.data.types import SPLITS, MSADataset, Sequences, row_chunks
from hscl.errors import DataError
from hscl.metrics import format_metrics, regression_metrics

ALPHAS: tuple[float, ...] = tuple(10.0**k for k in range(-2, 6))  # ridge penalties tried on validation
CV_FOLDS = 5
NEAR_PERFECT = 0.90  # valid Acc-2 non0 or r at or above this; humans on MOSI: Acc-2 85.7 %, r 0.82
GAP_Z = 4.0  # a gap between two of a probe's sign AUCs: |difference| / standard error >= this ...
GAP_MIN = 0.05  # ... and |difference| >= this
CLIP_Z = 5.0  # the probe clips standardised features to +-CLIP_Z, so a few wild values cannot dominate it
DUPLICATE_FRACTION = 0.01  # flag when this share of a split's rows exactly repeats another split's rows
SMALL_SPLIT = 30  # below this many rows a split's probe scores and AUC standard errors say little: the report says so
EXTREME_Z = 10.0  # |value - train mean| / train std beyond this counts as extreme (a statistic, not a flag)
TEXT_VOCABULARY = 500  # TF-IDF terms kept for the text control (most frequent in train, in >= 2 transcripts)
TEXT_SOURCE = "text (tf-idf of transcripts)"
PROBE_SCORES = ("train_cv", "valid", "test")


@dataclass
class FeatureStats:
    """Label-free statistics of one feature source (counts per split where keyed by split)."""

    dim: int
    train_varying_columns: int  # what the probe can learn from
    constant_columns: int  # one value (NaN aside) across every row of every split
    nan_columns: int  # NaN in every row
    nonfinite_values: dict[str, int]  # NaN or +-inf (treated as NaN by the other statistics)
    missing_rows: dict[str, int]  # all NaN or all zero
    extreme_values: dict[str, int]  # |z| > EXTREME_Z against train mean and std
    max_abs_z: dict[str, float]
    duplicate_rows: dict[str, int]  # "train-test": rows of the second split equal to a row of the first


@dataclass
class ProbeResult:
    """The ridge probe of one source: its penalty and the metrics of each score."""

    alpha: float
    columns_used: int
    rows: dict[str, int]  # PROBE_SCORES -> rows scored
    sign_auc: dict[str, tuple[float, float]]  # PROBE_SCORES -> (sign_auc, its standard error)
    metrics: dict[str, dict[str, float]]  # PROBE_SCORES -> regression_metrics


@dataclass
class SourceAudit:
    """Everything the audit says about one feature source."""

    name: str
    stats: FeatureStats | None
    probe: ProbeResult | None
    flags: list[str] = field(default_factory=list)


@dataclass
class AuditReport:
    """The audit of one dataset."""

    source: str
    format: str
    split_sizes: dict[str, int]
    notes: list[str]
    sources: list[SourceAudit]
    warnings: list[str] = field(default_factory=list)  # why the flags may mean little (splits too small)

    @property
    def flagged(self) -> bool:
        """True when any source has a flag."""
        return any(audit.flags for audit in self.sources)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN and infinities as null)."""
        return _json_ready({**asdict(self), "flagged": self.flagged})


@dataclass
class AuditInputs:
    """What the audit reads: labels and transcripts per split, train groups, and the feature sources."""

    dataset: MSADataset
    train_groups: np.ndarray
    features: dict[str, dict[str, np.ndarray]]  # source name -> split -> (n, d) float64, NaN kept
    unreadable: dict[str, str]  # source name -> why it could not be read


def audit_dataset(path: str | Path | None = None, format: str | None = None, **options: Any) -> AuditReport:
    """Audit a dataset that `load_dataset(path, format, **options)` reads; see the module docstring."""
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    inputs = load_audit_inputs(path, format, **options)
    ds = inputs.dataset
    if len(ds["train"]) < 2 * CV_FOLDS:
        raise DataError(
            ds.source, f"train has {len(ds['train'])} rows; the audit's probe needs at least {2 * CV_FOLDS}"
        )
    labels = {split: ds[split].labels.astype(np.float64) for split in SPLITS}
    sizes = {split: len(labels[split]) for split in SPLITS}
    audits = [SourceAudit(name, None, None, [f"unreadable: {why}"]) for name, why in inputs.unreadable.items()]
    # The matrices are small: one BLAS thread is as fast alone and far faster on a shared machine.
    with threadpool_limits(limits=1):
        for name, matrices in inputs.features.items():
            stats = feature_stats(matrices)
            probe = None
            if stats.train_varying_columns > 0 and (_finite(matrices)["train"].std(axis=0) > 0).any():
                probe = ridge_probe(_finite(matrices), labels, inputs.train_groups)
            audits.append(SourceAudit(name, stats, probe, flag_reasons(stats, probe, sizes)))
        audits.append(_text_control(ds, labels, inputs.train_groups))
    return AuditReport(
        source=ds.source,
        format=ds.format,
        split_sizes=sizes,
        notes=list(ds.notes),
        sources=sorted(audits, key=lambda audit: audit.name),
        warnings=small_split_warnings(sizes),
    )


def small_split_warnings(sizes: dict[str, int]) -> list[str]:
    """One line per split under `SMALL_SPLIT` rows: its scores, and the flags drawn from them, mean little."""
    return [
        f"{split} has {n} rows, fewer than {SMALL_SPLIT}: its probe scores and the flags drawn from them "
        "(near-perfect, gap, duplicates) mean little; audit a larger dataset"
        for split, n in sizes.items()
        if n < SMALL_SPLIT
    ]


def load_audit_inputs(path: str | Path | None, format: str | None = None, **options: Any) -> AuditInputs:
    """The dataset and its feature sources; for the utterance format, every `.npy` file in the folder."""
    if format is None and path is not None:
        format = detect_format(path)
    if format != "utterance":
        ds = load_dataset(path, format, **options)
        features = {name: {split: pool(ds[split].modality(name)) for split in SPLITS} for name in ds.modalities}
        return AuditInputs(ds, train_groups(ds["train"].ids), features, {})
    file_options = ("audio_file", "visual_file", "allow_leaky_features")
    ignored = [f"{key}={options.pop(key)!r}" for key in file_options if key in options]
    ds = load_dataset(path, format, audio_file=None, visual_file=None, **options)
    if ignored:
        ds.notes.append(f"ignored {', '.join(ignored)}: the audit reads every .npy file of the folder")
    folder = Path(path)  # type: ignore[arg-type]
    split_column = options.get("split_column", utterance.STANDARD_SPLIT_COLUMN)
    text_column = options.get("text_column", "text")
    segments = utterance.read_segments(folder / utterance.SEGMENTS_FILE, split_column, text_column)
    row_of = {sample_id: row for row, sample_id in enumerate(segments.ids)}
    rows = {split: np.array([row_of[i] for i in ds[split].ids], dtype=np.int64) for split in SPLITS}
    features: dict[str, dict[str, np.ndarray]] = {}
    unreadable: dict[str, str] = {}
    for npy in sorted(folder.glob("*.npy")):
        try:
            matrix = utterance.read_vectors(npy, len(segments.ids)).astype(np.float64)  # NaN kept
        except DataError as error:
            unreadable[npy.name] = error.problem
            continue
        features[npy.name] = {split: matrix[index] for split, index in rows.items()}
    if segments.video_ids is None:
        groups = train_groups(ds["train"].ids)
    else:
        groups = np.unique([segments.video_ids[row] for row in rows["train"]], return_inverse=True)[1]
    return AuditInputs(ds, groups, features, unreadable)


def pool(sequences: Sequences) -> np.ndarray:
    """`(N, d)` float64 means over each sample's real frames (zeros for length 0)."""
    out = np.zeros((len(sequences.lengths), sequences.dim), dtype=np.float64)
    for rows in row_chunks(len(out)):
        lengths = sequences.lengths[rows]
        real = np.arange(sequences.max_len)[None, :] < lengths[:, None]
        sums = np.einsum("nl,nld->nd", real.astype(np.float64), sequences.features[rows].astype(np.float64))
        out[rows] = sums / np.maximum(lengths, 1)[:, None]
    return out


def train_groups(ids: list[str]) -> np.ndarray:
    """Cross-validation groups of train rows: the `<video>` part of ids that read `<video>_<clip number>` or
    `<video>[<segment number>]` (the CMU-MultimodalSDK's form, read by the csd format).

    Rows of one video share a speaker, so folds that split a video would score train too kindly.
    With fewer than `CV_FOLDS` groups the probe folds rows instead.
    """
    return np.unique([re.sub(r"(_\d+|\[\d+\])$", "", sample_id) for sample_id in ids], return_inverse=True)[1]


def feature_stats(matrices: dict[str, np.ndarray]) -> FeatureStats:
    """Label-free statistics of one source given its `(n, d)` matrix per split."""
    nonfinite = {s: int(np.count_nonzero(~np.isfinite(matrices[s]))) for s in SPLITS}
    matrices = {s: np.where(np.isinf(m), np.nan, m) for s, m in matrices.items()}
    every = np.concatenate([matrices[s] for s in SPLITS])
    dim = every.shape[1]
    nan = np.isnan(every)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        spread = np.nanmax(every, axis=0) - np.nanmin(every, axis=0) if len(every) else np.zeros(dim)
        train = matrices["train"]
        mean, std = np.nanmean(train, axis=0), np.nanstd(train, axis=0)
    varies = std > 0
    extreme, max_z = {}, {}
    for split in SPLITS:
        z = np.abs((matrices[split][:, varies] - mean[varies]) / std[varies])
        extreme[split] = int(np.count_nonzero(z > EXTREME_Z))
        max_z[split] = float(np.nanmax(z)) if z.size and not np.isnan(z).all() else 0.0
    return FeatureStats(
        dim=dim,
        train_varying_columns=int(np.count_nonzero(varies)),
        constant_columns=int(np.count_nonzero((spread == 0) & ~nan.all(axis=0))),
        nan_columns=int(np.count_nonzero(nan.all(axis=0))) if len(every) else 0,
        nonfinite_values=nonfinite,
        missing_rows={s: int(np.count_nonzero(_missing_rows(matrices[s]))) for s in SPLITS},
        extreme_values=extreme,
        max_abs_z=max_z,
        duplicate_rows={f"{a}-{b}": _count_duplicates(matrices[a], matrices[b]) for a, b in combinations(SPLITS, 2)},
    )


def _missing_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows that are all NaN or all zero (NaN counting as zero)."""
    return np.all(np.isnan(matrix) | (matrix == 0), axis=1)


def _count_duplicates(first: np.ndarray, second: np.ndarray) -> int:
    """Rows of `second` exactly equal to some row of `first`, missing rows left out."""
    seen = {row.tobytes() for row in first[~_missing_rows(first)]}
    return sum(row.tobytes() in seen for row in second[~_missing_rows(second)])


def _finite(matrices: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Copies with NaN and infinities set to 0, as the loaders do."""
    return {split: np.where(np.isfinite(m), m, 0.0) for split, m in matrices.items()}


def ridge_probe(features: dict[str, np.ndarray], labels: dict[str, np.ndarray], groups: np.ndarray) -> ProbeResult:
    """Ridge on train-standardised features (columns constant on train dropped), penalty chosen on valid MAE.

    Returns the metrics on valid and test of the model fit on all of train, and on train of the
    out-of-fold predictions of `CV_FOLDS` group folds fit with the same penalty. The train_cv sign
    AUC is the mean of the folds' AUCs: each fold has its own intercept, which pooled out-of-fold
    predictions would rank by when a large penalty leaves little else.
    """
    from sklearn.model_selection import GroupKFold

    keep = features["train"].std(axis=0) > 0
    if not keep.any():
        raise ValueError("no feature column varies over train")
    train, y_train = features["train"][:, keep], labels["train"]
    held_out = ridge_predictions(train, y_train, {s: features[s][:, keep] for s in ("valid", "test")}, ALPHAS)
    best = int(np.argmin(np.mean(np.abs(held_out["valid"] - labels["valid"]), axis=1)))
    out_of_fold, fold_aucs = np.empty(len(train)), []
    if len(np.unique(groups)) < CV_FOLDS:
        groups = np.arange(len(train))
    for fit_rows, held_rows in GroupKFold(CV_FOLDS).split(train, groups=groups):
        fold = ridge_predictions(train[fit_rows], y_train[fit_rows], {"held": train[held_rows]}, (ALPHAS[best],))
        out_of_fold[held_rows] = fold["held"][0]
        fold_aucs.append(sign_auc(out_of_fold[held_rows], y_train[held_rows]))
    predictions = {"train_cv": out_of_fold, "valid": held_out["valid"][best], "test": held_out["test"][best]}
    truth = {"train_cv": y_train, "valid": labels["valid"], "test": labels["test"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant predictions: r is NaN and reported as such
        metrics = {score: regression_metrics(predictions[score], truth[score]) for score in PROBE_SCORES}
    return ProbeResult(
        alpha=ALPHAS[best],
        columns_used=int(keep.sum()),
        rows={s: len(truth[s]) for s in PROBE_SCORES},
        sign_auc={
            "train_cv": _mean_auc(fold_aucs),
            **{s: sign_auc(predictions[s], truth[s]) for s in ("valid", "test")},
        },
        metrics=metrics,
    )


def _mean_auc(aucs: list[tuple[float, float]]) -> tuple[float, float]:
    """The mean of independent (AUC, standard error) pairs and its standard error; NaN pairs left out."""
    usable = [(value, se) for value, se in aucs if math.isfinite(value)]
    if not usable:
        return math.nan, math.nan
    return sum(v for v, _ in usable) / len(usable), math.sqrt(sum(se * se for _, se in usable)) / len(usable)


def ridge_predictions(
    x_fit: np.ndarray, y_fit: np.ndarray, x_new: dict[str, np.ndarray], alphas: tuple[float, ...]
) -> dict[str, np.ndarray]:
    """`(len(alphas), n)` predictions for each of `x_new` of ridge regressions with an intercept, fit on `x_fit`.

    Features are standardised with `x_fit`'s mean and std (zero std left unscaled) and clipped to
    +-CLIP_Z, so that a few wild values cannot dominate. One eigendecomposition, of the smaller of the
    two Gram matrices, serves every penalty.
    """
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    z_fit = np.clip((x_fit - mean) / std, -CLIP_Z, CLIP_Z)
    centre, y_mean = z_fit.mean(axis=0), float(y_fit.mean())
    a, penalties = z_fit - centre, np.asarray(alphas)[:, None]
    if a.shape[1] <= a.shape[0]:  # w = (A'A + alpha I)^-1 A'y
        eigenvalues, basis = np.linalg.eigh(a.T @ a)
        weights = (basis.T @ (a.T @ (y_fit - y_mean)) / (np.maximum(eigenvalues, 0) + penalties)) @ basis.T
    else:  # w = A'(AA' + alpha I)^-1 y, the same weights
        eigenvalues, basis = np.linalg.eigh(a @ a.T)
        weights = ((basis.T @ (y_fit - y_mean) / (np.maximum(eigenvalues, 0) + penalties)) @ basis.T) @ a
    return {
        name: weights @ (np.clip((x - mean) / std, -CLIP_Z, CLIP_Z) - centre).T + y_mean for name, x in x_new.items()
    }


def flag_reasons(stats: FeatureStats, probe: ProbeResult | None, split_sizes: dict[str, int]) -> list[str]:
    """One line per reason to distrust this source (empty when none)."""
    if stats.dim == 0:
        return ["empty: the source has no feature columns"]
    if stats.nan_columns == stats.dim:
        return ["empty: every value is NaN"]
    if all(stats.missing_rows[s] == split_sizes[s] for s in SPLITS):
        return ["empty: every row is all zero or NaN"]
    if stats.train_varying_columns == 0:  # then rows repeat each other by construction: no duplicate flags
        return ["constant: no column varies over the train rows, so nothing can be learnt from it"]
    flags = []
    for pair, count in stats.duplicate_rows.items():
        second = pair.split("-")[1]
        if count >= max(1, DUPLICATE_FRACTION * split_sizes[second]):
            flags.append(
                f"duplicates: {count} of {split_sizes[second]} {second} rows exactly repeat a "
                f"{pair.split('-')[0]} row (flag at >= {DUPLICATE_FRACTION:.0%})"
            )
    if probe is not None:
        flags.extend(_probe_flags(probe))
    return flags


def _probe_flags(probe: ProbeResult) -> list[str]:
    """The near-perfect and gap flags of one probe."""
    flags = []
    valid = probe.metrics["valid"]
    for key, label in (("acc2_non0", "Acc-2 non0"), ("corr", "r")):
        if valid[key] >= NEAR_PERFECT:
            flags.append(
                f"near-perfect validation: {label} {valid[key]:.3f} >= {NEAR_PERFECT} "
                "(humans reach Acc-2 0.857 / r 0.82 on MOSI)"
            )
    for first, second in combinations(PROBE_SCORES, 2):
        (v1, se1), (v2, se2) = probe.sign_auc[first], probe.sign_auc[second]
        z = gap_z(v1 - v2, math.hypot(se1, se2))
        if abs(v1 - v2) >= GAP_MIN and abs(z) >= GAP_Z:
            flags.append(
                f"gap: sign AUC {v1:.3f} on {first} vs {v2:.3f} on {second} (|difference| "
                f"{abs(v1 - v2):.3f} >= {GAP_MIN}, |z| {abs(z):.1f} >= {GAP_Z:g}): "
                "these rows do not behave alike"
            )
    return flags


def sign_auc(preds: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The probability that a positive-label row is predicted above a negative-label row (ties count
    half; zero labels left out) and its Hanley-McNeil standard error; (NaN, NaN) without both signs.

    Unlike Acc-2 it needs no threshold, so neither a split's share of positive labels nor a penalty
    that shrinks every prediction to one side of 0 moves it.
    """
    from sklearn.metrics import roc_auc_score

    nonzero = labels != 0
    n_positive, n_negative = int(np.count_nonzero(labels > 0)), int(np.count_nonzero(labels < 0))
    if n_positive == 0 or n_negative == 0:
        return math.nan, math.nan
    auc = float(roc_auc_score(labels[nonzero] > 0, preds[nonzero]))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc * auc) + (n_negative - 1) * (q2 - auc * auc)) / (
        n_positive * n_negative
    )
    return auc, math.sqrt(max(variance, 0.0))


def gap_z(difference: float, se: float) -> float:
    """difference / se; 0 when undefined, +-inf for a difference with no sampling error."""
    if not math.isfinite(difference) or not math.isfinite(se):
        return 0.0
    if se == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / se


def _text_control(ds: MSADataset, labels: dict[str, np.ndarray], groups: np.ndarray) -> SourceAudit:
    """The TF-IDF ridge probe of the transcripts; flagged like any source, no feature statistics."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(min_df=2, max_features=TEXT_VOCABULARY)
    try:
        vectorizer.fit(ds["train"].texts)
    except ValueError:
        return SourceAudit(TEXT_SOURCE, None, None, ["empty: no word occurs in two train transcripts"])
    features = {split: vectorizer.transform(ds[split].texts).toarray() for split in SPLITS}
    if not (features["train"].std(axis=0) > 0).any():
        return SourceAudit(TEXT_SOURCE, None, None, ["constant: every train transcript gives the same bag of words"])
    return SourceAudit(TEXT_SOURCE, None, probe := ridge_probe(features, labels, groups), _probe_flags(probe))


def format_report(report: AuditReport) -> str:
    """The readable report: one block per source with its probe scores, statistics and flags."""
    sizes = ", ".join(f"{split} {n}" for split, n in report.split_sizes.items())
    lines = [f"audit of {report.source} (format: {report.format}; {sizes})"]
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"WARNING {warning}" for warning in report.warnings]
    for audit in report.sources:
        lines += ["", f"== {audit.name}"]
        if audit.probe is not None:
            lines.append(f"  ridge probe: alpha {audit.probe.alpha:g}, {audit.probe.columns_used} columns")
            lines += [
                f"  {score:8s} {format_metrics(audit.probe.metrics[score])} | sign AUC "
                f"{audit.probe.sign_auc[score][0]:.3f}"
                for score in PROBE_SCORES
            ]
        if audit.stats is not None:
            s = audit.stats
            lines.append(f"  columns: {s.dim}, constant {s.constant_columns}, all-NaN {s.nan_columns}")
            for split in SPLITS:
                lines.append(
                    f"  {split:8s} non-finite values {s.nonfinite_values[split]}, "
                    f"missing rows {s.missing_rows[split]}, |z|>{EXTREME_Z:g}: {s.extreme_values[split]} "
                    f"(max |z| {s.max_abs_z[split]:.1f})"
                )
            lines.append("  duplicate rows: " + ", ".join(f"{pair} {n}" for pair, n in s.duplicate_rows.items()))
        lines += [f"  FLAG {flag}" for flag in audit.flags] or ["  ok: nothing flagged"]
    flagged = [audit.name for audit in report.sources if audit.flags]
    lines += ["", f"flagged: {', '.join(flagged)}" if flagged else "flagged: nothing"]
    small = [f"{split} {n}" for split, n in report.split_sizes.items() if n < SMALL_SPLIT]
    if small:
        lines.append(f"(splits under {SMALL_SPLIT} rows: {', '.join(small)}; these flags mean little)")
    return "\n".join(lines)


def _json_ready(value: Any) -> Any:
    """`value` with tuples as lists and non-finite floats as None, all the way down."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value
