"""Config files: YAML in and out, `--set a.b=value` overrides, the shipped presets, the JSON Schema."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hscl.config.data import READER_OPTIONS
from hscl.config.run import RunConfig
from hscl.errors import ConfigError
from hscl.files import write_text

PRESET_PACKAGE = "hscl.presets"
YAML_12_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


MAX_YAML_BYTES = 1 << 20  # a config or space file is a few kB; anything past 1 MiB is refused unread


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, reading floats as YAML 1.2 does (`1e-4` is a number, not the string YAML 1.1 makes it),
    refusing aliases (`*name`: an alias can expand a small file into gigabytes, as a pickle can) and keys given
    twice in one mapping (YAML would silently keep the last)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"alias *{event.anchor} is not allowed (hscl config and space files take no anchors or aliases: "
                "write each value out)",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # an unhashable key: the base class names it
                continue
            line = key_node.start_mark.line + 1
            if key in seen:
                problem = f"key {key!r} is given twice (lines {seen[key]} and {line}); give it once"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", YAML_12_FLOAT, list("-+0123456789."))


def parse_yaml(text: str) -> Any:
    """The value of a YAML document (safe: plain data only; floats as in YAML 1.2; no aliases, no repeated keys)."""
    return yaml.load(text, Loader=_Loader)


def read_yaml_file(path: str | Path, what: str = "config file") -> Any:
    """The value of the YAML file at `path`, read with `parse_yaml`; a one-line `ConfigError` naming the file (and
    line) if it is missing, too large (over `MAX_YAML_BYTES`, refused before it is read), not text or not YAML."""
    from hscl.files import file_problem

    path = Path(path)
    problem = file_problem(path, what)
    if problem is not None:
        raise ConfigError(f"{path}: {problem}")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a {what} may hold at most {MAX_YAML_BYTES:,} (it is a few kB)")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: over {MAX_YAML_BYTES:,} bytes; a {what} is a few kB")
        return parse_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; a {what} is YAML (see `hscl config show`)") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: invalid YAML{where}: {getattr(err, 'problem', None) or err}") from None


SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def apply_overrides(values: dict[str, Any], overrides: list[str], flag: str = "--set") -> dict[str, Any]:
    """Apply `section.key=value` overrides (values parsed as YAML) to a nested mapping, in place. `flag` is the
    command-line option they came from, named in errors (`--set`; `--option` for `hscl data`)."""
    example = "train.lr_main=2e-4" if flag == "--set" else "audio_file=audio.npy"
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            dotted = "a dotted key" if flag == "--set" else "a key"
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE with {dotted}, e.g. {flag} {example}")
        node = values
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{flag} {item!r}: {'.'.join(parts[: depth + 1])} is a value, not a section")
        try:
            node[parts[-1]] = parse_yaml(raw) if raw.strip() else None
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return values


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a YAML file; a one-line `ConfigError` naming the file otherwise."""
    path = Path(path)
    values = read_yaml_file(path, "config file")
    if values is None:
        raise ConfigError(
            f"{path}: the file is empty; a config needs at least its data and model sections "
            "(`hscl config show --preset demo` prints a complete one)"
        )
    if not isinstance(values, dict):
        raise ConfigError(
            f"{path}: expected a mapping of sections (data, model, loss, train) at the top level, "
            f"got {type(values).__name__}"
        )
    return values


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    return sorted(p.name[:-5] for p in resources.files(PRESET_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def preset_values(name: str) -> dict[str, Any]:
    """The raw mapping of a shipped preset."""
    if name not in preset_names():
        raise ConfigError(f"unknown preset {name!r}; available: {', '.join(preset_names())}")
    return parse_yaml(resources.files(PRESET_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8"))


def preset_summary(name: str) -> str:
    """A preset's one-line description."""
    return str(preset_values(name).get("description", ""))


def config_from_dict(values: dict[str, Any], source: str = "") -> RunConfig:
    """A validated `RunConfig` from a nested mapping (`source`, e.g. a file name, starts any error)."""
    return RunConfig.from_values(values, source)


def load_config(
    preset: str | None = None, path: str | Path | None = None, overrides: list[str] | None = None
) -> RunConfig:
    """A validated `RunConfig` from a preset, a YAML file or (neither) the defaults, with overrides applied."""
    if preset is not None and path is not None:
        raise ConfigError("give a preset or a config file, not both")
    if preset is not None:
        values, source = preset_values(preset), f"preset {preset}"
    elif path is not None:
        values, source = load_yaml(path), str(path)
    else:
        values, source = {}, "defaults"
    overrides = list(overrides or [])
    apply_overrides(values, overrides)
    try:
        return config_from_dict(values, source)
    except ConfigError as err:
        from_preset = preset is not None and (preset_values(preset).get("data") or {}).get("options")
        cleared = any(item.split("=", 1)[0].strip() == "data.options" for item in overrides)
        if from_preset and not cleared and "options of format" in str(err):
            raise ConfigError(
                f"{err}; data.options {from_preset} came from preset {preset}: --set 'data.options={{}}' clears them"
            ) from None
        raise


class _Dumper(yaml.SafeDumper):
    """YAML's safe dumper, writing every value out: never an anchor and alias, which `parse_yaml` refuses."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def config_yaml(config: RunConfig) -> str:
    """The config as YAML, every field written out (what `hscl train --config` reads back to an equal config)."""
    return yaml.dump(config.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def save_config(config: RunConfig, path: str | Path) -> None:
    """Write the resolved config as YAML, atomically."""
    write_text(Path(path), config_yaml(config))


def upgrade_saved_config(values: dict[str, Any]) -> dict[str, Any]:
    """A config saved by an older hscl in today's names (run directories outlive releases): train.progress is
    now train.progress_bar."""
    train = values.get("train")
    if isinstance(train, dict) and "progress" in train and "progress_bar" not in train:
        values = {
            **values,
            "train": {("progress_bar" if key == "progress" else key): value for key, value in train.items()},
        }
    return values


def config_schema() -> dict[str, Any]:
    """The JSON Schema of a config file, with each data format's reader options tied to `data.format`."""
    schema = RunConfig.model_json_schema()
    definitions = schema.setdefault("$defs", {})
    rules = []
    for format, options in READER_OPTIONS.items():
        option_schema = options.model_json_schema()
        definitions.update(option_schema.pop("$defs", {}))
        definitions[options.__name__] = option_schema
        rules.append(
            {
                "if": {"properties": {"format": {"const": format}}, "required": ["format"]},
                "then": {"properties": {"options": {"$ref": f"#/$defs/{options.__name__}"}}},
            }
        )
    definitions["DataConfig"]["allOf"] = rules
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "hscl run config"}
