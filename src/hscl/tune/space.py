"""Search spaces as data: a YAML file mapping config field paths to distributions, validated up front.

A space file looks like this (one entry per searched field, `log` and `step` optional):

    description: what this space is for
    params:
      train.lr_main: {type: float, low: 3.0e-4, high: 3.0e-3, log: true}
      train.epochs: {type: int, low: 6, high: 20}
      model.d_prjh: {type: categorical, choices: [64, 128, 256]}

Every path and bound (every choice of a categorical) is checked by building the config with that value
through `load_config`, so a space is exactly as valid as the config schema says, before any trial runs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hscl.config import load_config
from hscl.config.files import parse_yaml, read_yaml_file
from hscl.errors import ConfigError

if TYPE_CHECKING:
    import optuna

    from hscl.config import RunConfig

SPACE_PACKAGE = "hscl.tune.spaces"
KINDS = ("float", "int", "categorical")
SPEC_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


@dataclass(frozen=True)
class Param:
    """One searched config field and its distribution."""

    path: str  # dotted config path, e.g. train.lr_main; also the Optuna parameter name
    kind: str  # float, int or categorical
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def values_to_check(self) -> tuple[Any, ...]:
        """The values that must each make a valid config: both bounds, or every choice."""
        return self.choices if self.kind == "categorical" else (self.low, self.high)

    def suggest(self, trial: optuna.Trial) -> Any:
        """Draw this parameter's value for `trial`."""
        if self.kind == "float":
            return trial.suggest_float(self.path, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(self.path, self.low, self.high, log=self.log, step=self.step or 1)
        return trial.suggest_categorical(self.path, list(self.choices))

    def to_dict(self) -> dict[str, Any]:
        """The YAML entry of this parameter (as a space file writes it)."""
        if self.kind == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        entry = {"type": self.kind, "low": self.low, "high": self.high}
        if self.log:
            entry["log"] = True
        if self.step is not None:
            entry["step"] = self.step
        return entry


@dataclass(frozen=True)
class SearchSpace:
    """The searched parameters of a study, in file order, and where they came from."""

    params: tuple[Param, ...]
    source: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The `params` mapping of a space file."""
        return {param.path: param.to_dict() for param in self.params}

    def without(self, paths: set[str]) -> SearchSpace:
        """This space less the parameters at `paths`."""
        return SearchSpace(tuple(p for p in self.params if p.path not in paths), self.source, self.description)


def override(path: str, value: Any) -> str:
    """A `--set` style override that sets `path` to `value` exactly (JSON is valid YAML)."""
    return f"{path}={json.dumps(value)}"


def shipped_spaces() -> list[str]:
    """Names of the search spaces shipped with hscl."""
    return sorted(p.name[:-5] for p in resources.files(SPACE_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def read_space(name_or_path: str | Path) -> SearchSpace:
    """A search space from a YAML file, or a shipped one by name; a `ConfigError` for anything malformed."""
    path = Path(name_or_path)
    if path.exists() or path.is_symlink():
        source = str(path)
        values = read_yaml_file(path, "search-space file")
    elif str(name_or_path) in shipped_spaces():
        source = f"{name_or_path} (shipped space)"
        values = parse_yaml(resources.files(SPACE_PACKAGE).joinpath(f"{name_or_path}.yaml").read_text(encoding="utf-8"))
    else:
        raise ConfigError(
            f"{name_or_path}: no such space file, and not a shipped space ({', '.join(shipped_spaces())})"
        )
    if not isinstance(values, dict) or set(values) - {"description", "params"} or not values.get("params"):
        raise ConfigError(
            f"{source}: expected a mapping with a non-empty `params` mapping (and an optional `description`)"
        )
    if not isinstance(values["params"], dict):
        raise ConfigError(f"{source}: `params` must map config paths to distributions")
    params = tuple(_param(f"{source}: {path}", str(path), spec) for path, spec in values["params"].items())
    return SearchSpace(params, source, str(values.get("description", "")))


def _param(where: str, path: str, spec: Any) -> Param:
    """One entry of a space file, checked for shape, types and bounds (not yet against the config)."""
    if not isinstance(spec, dict) or spec.get("type") not in KINDS:
        raise ConfigError(f"{where}: expected a mapping with type one of {', '.join(KINDS)}; got {spec!r}")
    kind = spec["type"]
    unknown = sorted(set(spec) - SPEC_KEYS[kind])
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} for type {kind}; allowed: {sorted(SPEC_KEYS[kind])}")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list; got {choices!r}")
        if any(c is not None and not isinstance(c, (bool, int, float, str)) for c in choices):
            raise ConfigError(f"{where}: choices must be scalars (numbers, strings, true/false, null); got {choices!r}")
        if len({json.dumps(c) for c in choices}) != len(choices):
            raise ConfigError(f"{where}: choices must be distinct; got {choices!r}")
        return Param(path, kind, choices=tuple(choices))
    number = int if kind == "int" else (int, float)
    low, high, log, step = spec.get("low"), spec.get("high"), spec.get("log", False), spec.get("step")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, number) or not math.isfinite(value):
            raise ConfigError(
                f"{where}: {name} must be {'an integer' if kind == 'int' else 'a finite number'}; got {value!r}"
            )
    if low >= high:
        raise ConfigError(f"{where}: low must be below high; got low={low!r}, high={high!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: log must be true or false; got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0; got low={low!r}")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, number) or not step > 0:
            raise ConfigError(
                f"{where}: step must be a positive {'integer' if kind == 'int' else 'number'}; got {step!r}"
            )
        if log:
            raise ConfigError(f"{where}: step and log cannot be combined; got step={step!r}, log=true")
    if kind == "float":
        low, high = float(low), float(high)
    return Param(path, kind, low, high, log, step)


def check_space(space: SearchSpace, preset: str | None, path: str | Path | None, overrides: list[str]) -> None:
    """Build the base config with every bound (every choice) of every parameter; a `ConfigError` names the first
    bad one."""
    for param in space.params:
        for value in param.values_to_check():
            try:
                load_config(preset=preset, path=path, overrides=[*overrides, override(param.path, value)])
            except ConfigError as err:
                raise ConfigError(
                    f"{space.source}: {param.path}={json.dumps(value)} does not make a valid config: {err}"
                ) from err


def trial_config(
    preset: str | None, path: str | Path | None, overrides: list[str], values: dict[str, Any]
) -> RunConfig:
    """The config of a trial: the base config with the searched `values` (path -> value) set."""
    return load_config(
        preset=preset, path=path, overrides=[*overrides, *(override(key, value) for key, value in values.items())]
    )
