"""Extraction settings: what `hscl extract` computes, recorded with the dataset, reused by `hscl predict --media`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from typing import Any

from hscl.errors import ConfigError

AUDIO_SETS: tuple[str, ...] = ("egemaps", "compare", "none")
FACE_SETS: tuple[str, ...] = ("geometry", "landmarks", "none")
LLD_RATE = 100  # openSMILE's low-level descriptors: one frame every 10 ms
AUDIO_RATES: tuple[int, ...] = tuple(rate for rate in range(1, LLD_RATE + 1) if LLD_RATE % rate == 0)
SAMPLE_RATE = 16000  # audio is decoded to mono at this rate before openSMILE
# The packages whose versions decide the feature values; a prediction refuses other versions.
FEATURE_PACKAGES: dict[str, tuple[str, ...]] = {"audio": ("opensmile",), "visual": ("mediapipe",)}
RECORDED_PACKAGES: tuple[str, ...] = ("hscl", "av", "opensmile", "mediapipe")


@dataclass(frozen=True)
class ExtractSettings:
    """Which features to compute and at what rate.

    `audio_rate` frames per second (openSMILE's 100 Hz descriptors averaged in groups of 100 / rate);
    `fps` video frames per second sampled for the face; sequences longer than `max_frames` are cut.
    """

    audio_set: str = "egemaps"
    audio_rate: int = 25
    face_set: str = "geometry"
    fps: float = 10.0
    max_frames: int = 500

    def __post_init__(self) -> None:
        if self.audio_set not in AUDIO_SETS:
            raise ConfigError(f"audio set {self.audio_set!r} is unknown; choose one of {', '.join(AUDIO_SETS)}")
        if self.face_set not in FACE_SETS:
            raise ConfigError(f"face set {self.face_set!r} is unknown; choose one of {', '.join(FACE_SETS)}")
        if self.audio_set == "none" and self.face_set == "none":
            raise ConfigError("audio set and face set are both 'none'; keep at least one")
        if isinstance(self.audio_rate, bool) or self.audio_rate not in AUDIO_RATES:
            raise ConfigError(f"audio rate {self.audio_rate!r} must divide {LLD_RATE}: one of {list(AUDIO_RATES)}")
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, float)) or not 0 < self.fps <= 60:
            raise ConfigError(f"fps {self.fps!r} must be a number in (0, 60]")
        if isinstance(self.max_frames, bool) or not isinstance(self.max_frames, int) or self.max_frames < 1:
            raise ConfigError(f"max frames {self.max_frames!r} must be a positive integer")

    @property
    def modalities(self) -> tuple[str, ...]:
        """The non-text modalities these settings produce."""
        return tuple(m for m, on in (("audio", self.audio_set != "none"), ("visual", self.face_set != "none")) if on)

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> ExtractSettings:
        """Settings read back from a manifest; a `ConfigError` naming `where` if they are malformed."""
        names = {f.name for f in fields(cls)}
        if not isinstance(raw, dict) or set(raw) != names:
            raise ConfigError(
                f"{where}: extraction settings must have exactly the fields {sorted(names)}, found {raw!r}"
            )
        return cls(**raw)

    def key(self) -> str:
        """A short digest of the settings and the feature packages' versions (the cache key of a file's features)."""
        text = json.dumps([self.to_dict(), package_versions()], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages recorded with extracted data (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
