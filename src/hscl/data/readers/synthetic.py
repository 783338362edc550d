"""A synthetic, MOSI-shaped multimodal sentiment dataset with real structure, for tests and demos.

Every sample has a label on MOSI's grid (-3..3 in steps of 0.2) and:

* a lower-case English utterance built from a small sentiment lexicon (adjectives and verbs with
  intensities, intensifiers such as "very", negation with "not" that flips and softens polarity,
  fillers and neutral remarks about movies) whose expressed sentiment follows the label;
* an audio and a visual sequence (lengths 1..max) whose informative frames move along label
  directions, under per-sample offsets and frame noise. Audio carries valence and arousal (|label|),
  visual mostly valence, each with its own noise, so the two add to each other and to the text.

A `misleading_fraction` of samples has text that is neutral or says the opposite of the label
(sarcasm); only audio and visual carry their sentiment, so text alone cannot solve the task.
Generation is deterministic per seed and each split has its own random stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from hscl.config.data import SyntheticConfig
from hscl.data.types import SPLITS, MSADataset, Sequences, SplitData

T = TypeVar("T")

LABEL_STEP = 0.2
LABEL_STD = 1.6
# Mean |label| of the clipped, gridded label distribution (about); centres the arousal signal.
MEAN_ABS_LABEL = 1.25

POSITIVE_ADJECTIVES = {
    "good": 1.0,
    "nice": 1.0,
    "fun": 1.2,
    "solid": 1.2,
    "enjoyable": 1.5,
    "funny": 1.5,
    "great": 2.0,
    "beautiful": 2.0,
    "brilliant": 2.5,
    "amazing": 2.5,
    "fantastic": 2.5,
    "wonderful": 2.5,
    "perfect": 3.0,
    "masterful": 3.0,
}
NEGATIVE_ADJECTIVES = {
    "slow": -0.8,
    "bad": -1.0,
    "weak": -1.0,
    "silly": -1.2,
    "boring": -1.5,
    "dull": -1.5,
    "disappointing": -2.0,
    "stupid": -2.0,
    "pointless": -2.0,
    "awful": -2.5,
    "terrible": -2.5,
    "horrible": -2.5,
    "unbearable": -3.0,
    "atrocious": -3.0,
}
NEUTRAL_ADJECTIVES = {"okay": 0.0, "alright": 0.0, "fine": 0.0, "average": 0.0, "long": 0.0}
INTENSIFIERS = {
    "": 1.0,
    "very": 1.3,
    "really": 1.25,
    "so": 1.3,
    "extremely": 1.5,
    "incredibly": 1.5,
    "pretty": 0.8,
    "kind of": 0.6,
    "somewhat": 0.6,
    "a bit": 0.6,
}
NEGATED_INTENSIFIERS = {"": 1.0, "very": 1.3, "really": 1.25, "that": 1.2}
NEGATIONS = ("not", "never")
SARCASTIC_SHARE = 0.35  # of misleading samples; the rest have neutral words only
SARCASM_FACTOR = -0.7  # sarcasm: milder words of the opposite polarity
NEGATION_FACTOR = -0.5  # "not great" is mildly negative, "not bad" mildly positive
VERBS = {
    "loved": 2.5,
    "adored": 2.8,
    "liked": 1.5,
    "enjoyed": 1.5,
    "appreciated": 1.2,
    "hated": -2.5,
    "despised": -2.8,
    "disliked": -1.5,
    "regretted watching": -2.0,
    "did not like": -1.2,
    "did not enjoy": -1.2,
    "did not hate": 0.6,
}
TOPICS = (
    "movie",
    "film",
    "plot",
    "acting",
    "ending",
    "soundtrack",
    "script",
    "story",
    "dialogue",
    "cinematography",
    "pacing",
    "humor",
    "cast",
    "director",
    "sequel",
    "lead actress",
    "villain",
)
FILLERS = ("um", "uh", "well", "so", "i mean", "honestly", "you know", "basically", "i think", "like", "anyway")
NEUTRAL_REMARKS = (
    "i saw the {topic} last weekend",
    "i watched it with my brother",
    "it came out last year",
    "the {topic} is about a family that moves to a new city",
    "it runs about two hours",
    "there is a scene in the middle with a car chase",
    "i went to the theater on a tuesday",
    "the {topic} is based on a book",
    "we talked about the {topic} afterwards",
    "it is rated pg thirteen",
    "the {topic} was filmed in canada",
    "i had popcorn",
    "the trailer came out in march",
)
ADJECTIVE_FRAMES = (
    "the {topic} was {phrase}",
    "it was {phrase}",
    "i thought the {topic} was {phrase}",
    "the {topic} is {phrase}",
)
NEGATED_FRAMES = ("the {topic} was {phrase}", "it was {phrase}", "the {topic} is {phrase}")
VERB_FRAMES = ("i {verb} the {topic}", "i {verb} it", "honestly i {verb} the {topic}")
CLAUSE_KINDS = {"plain": 0.6, "negated": 0.15, "verb": 0.25}  # kind -> how often a clause has it
CLAUSE_SPREAD = 0.35  # std of a clause's sentiment around the sentiment it was chosen for
JOINERS = ("and", "and", "and", "", "", "also")


@dataclass
class Phrases:
    """The clauses of one kind the generator can say, with the sentiment each expresses."""

    frames: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # `{topic}` filled in later
    values: list[float] = field(default_factory=list)


@dataclass
class ModalitySignal:
    """How one modality encodes the label: feature directions for valence and arousal."""

    valence: np.ndarray  # (d,) unit vector times its weight
    arousal: np.ndarray  # (d,)


def read(**options: object) -> MSADataset:
    """Generate the dataset from `SyntheticConfig(**options)`."""
    return generate(SyntheticConfig.from_values(options, "data.options of format 'synthetic'"))


def generate(config: SyntheticConfig) -> MSADataset:
    """The synthetic dataset for `config`: the same config always gives the same arrays and texts."""
    seeds = np.random.SeedSequence(config.seed).spawn(len(SPLITS) + 1)
    structure = np.random.default_rng(seeds[-1])
    audio = _modality_signal(structure, config.audio_dim, valence_weight=0.25, arousal_weight=0.45)
    visual = _modality_signal(structure, config.visual_dim, valence_weight=0.3, arousal_weight=0.1)
    phrases = _build_phrases()
    sizes = {"train": config.n_train, "valid": config.n_valid, "test": config.n_test}
    splits = {
        split: _generate_split(np.random.default_rng(seed), split, sizes[split], config, phrases, audio, visual)
        for split, seed in zip(SPLITS, seeds)
    }
    settings = ", ".join(f"{key}={value}" for key, value in config.to_dict().items())
    notes = [f"synthetic data ({settings}); not real sentiment data"]
    return MSADataset(splits=splits, source=f"synthetic(seed={config.seed})", format="synthetic", notes=notes)


def round_to_grid(values: np.ndarray) -> np.ndarray:
    """Labels clipped to [-3, 3] and rounded to MOSI's 0.2 grid, as float32."""
    steps = np.round(np.clip(values, -3.0, 3.0) / LABEL_STEP)
    return (steps * LABEL_STEP).astype(np.float32)


def _generate_split(
    rng: np.random.Generator,
    split: str,
    n: int,
    config: SyntheticConfig,
    phrases: dict[str, Phrases],
    audio: ModalitySignal,
    visual: ModalitySignal,
) -> SplitData:
    labels = round_to_grid(rng.normal(0.0, LABEL_STD, size=n))
    misleading = rng.random(n) < config.misleading_fraction
    texts = [
        _utterance(rng, float(label), bool(mislead), config.text_noise, phrases)
        for label, mislead in zip(labels, misleading)
    ]
    return SplitData(
        ids=[f"synth_{split}_{i}" for i in range(n)],
        texts=texts,
        labels=labels,
        audio=_sequences(rng, labels, audio, config.max_audio_len, config),
        visual=_sequences(rng, labels, visual, config.max_visual_len, config),
    )


def _modality_signal(
    rng: np.random.Generator, dim: int, valence_weight: float, arousal_weight: float
) -> ModalitySignal:
    """Random valence and arousal directions, orthogonal when `dim` allows."""
    if dim >= 2:
        basis, _ = np.linalg.qr(rng.standard_normal((dim, 2)))
        valence, arousal = basis[:, 0], basis[:, 1]
    else:
        valence = arousal = np.ones(1)
    return ModalitySignal(valence=valence_weight * valence, arousal=arousal_weight * arousal)


def _sequences(
    rng: np.random.Generator, labels: np.ndarray, signal: ModalitySignal, max_len: int, config: SyntheticConfig
) -> Sequences:
    """Right-padded frames: informative frames carry the label signal, all carry offset and noise."""
    n, dim = len(labels), signal.valence.shape[0]
    lengths = rng.integers(1, max_len + 1, size=n).astype(np.int64)
    target = labels.astype(np.float64)
    clean = target[:, None] * signal.valence + (np.abs(target)[:, None] - MEAN_ABS_LABEL) * signal.arousal
    informative = rng.random((n, max_len)) < config.informative_fraction
    offsets = 0.5 * config.noise * rng.standard_normal((n, 1, dim))
    frames = (
        informative[:, :, None] * clean[:, None, :] + offsets + config.noise * rng.standard_normal((n, max_len, dim))
    )
    frames[np.arange(max_len)[None, :] >= lengths[:, None]] = 0.0
    return Sequences(frames.astype(np.float32), lengths)


def _utterance(
    rng: np.random.Generator, label: float, misleading: bool, text_noise: float, phrases: dict[str, Phrases]
) -> str:
    """Words for one sample: sentiment clauses near the label, or neutral/sarcastic ones if misleading."""
    if misleading and rng.random() >= SARCASTIC_SHARE:
        clauses = [_neutral_remark(rng) for _ in range(int(rng.integers(1, 3)))]
    else:
        expressed = SARCASM_FACTOR * label if misleading else label
        n_clauses = 1 if rng.random() < 0.6 else 2
        clauses = [
            _sentiment_clause(rng, expressed + text_noise * rng.standard_normal(), phrases) for _ in range(n_clauses)
        ]
        if rng.random() < 0.3:
            clauses.insert(int(rng.integers(0, len(clauses) + 1)), _neutral_remark(rng))
    if rng.random() < 0.5:
        clauses[0] = f"{_pick(rng, FILLERS)} {clauses[0]}"
    words = [clauses[0]] + [f"{_pick(rng, JOINERS)} {clause}".strip() for clause in clauses[1:]]
    return " ".join(words)


def _sentiment_clause(rng: np.random.Generator, target: float, phrases: dict[str, Phrases]) -> str:
    """A clause of a random kind whose expressed sentiment is near `target` (Gaussian weights)."""
    kind = _pick(rng, tuple(CLAUSE_KINDS), weights=np.fromiter(CLAUSE_KINDS.values(), float))
    options = phrases[kind]
    log_weights = -0.5 * ((np.asarray(options.values) - target) / CLAUSE_SPREAD) ** 2
    frame, slots = _pick(rng, options.frames, weights=np.exp(log_weights - log_weights.max()))
    return frame.format(topic=_pick(rng, TOPICS), **slots)


def _neutral_remark(rng: np.random.Generator) -> str:
    return _pick(rng, NEUTRAL_REMARKS).format(topic=_pick(rng, TOPICS))


def _pick(rng: np.random.Generator, items: Sequence[T], weights: np.ndarray | None = None) -> T:
    """One item, uniformly or with probability proportional to `weights`."""
    if weights is None:
        return items[int(rng.integers(len(items)))]
    cumulative = np.cumsum(weights)
    return items[int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))]


def _build_phrases() -> dict[str, Phrases]:
    """All adjective, negated-adjective and verb clauses by kind, with their sentiment values."""
    phrases = {kind: Phrases() for kind in CLAUSE_KINDS}

    def add(kind: str, frame: str, slots: dict[str, str], value: float) -> None:
        phrases[kind].frames.append((frame, slots))
        phrases[kind].values.append(value)

    adjectives = {**POSITIVE_ADJECTIVES, **NEGATIVE_ADJECTIVES, **NEUTRAL_ADJECTIVES}
    for adjective, value in adjectives.items():
        for intensifier, factor in INTENSIFIERS.items():
            if value != 0.0 or not intensifier:
                for frame in ADJECTIVE_FRAMES:
                    add("plain", frame, {"phrase": f"{intensifier} {adjective}".strip()}, value * factor)
        for intensifier, factor in NEGATED_INTENSIFIERS.items() if value != 0.0 else ():
            for negation in NEGATIONS:
                for frame in NEGATED_FRAMES:
                    phrase = f"{negation} {intensifier} {adjective}".replace("  ", " ")
                    add("negated", frame, {"phrase": phrase}, NEGATION_FACTOR * value * factor)
    for verb, value in VERBS.items():
        for frame in VERB_FRAMES:
            add("verb", frame, {"verb": verb}, value)
    return phrases
