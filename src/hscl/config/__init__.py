"""hscl's configuration: every setting of a run as strict pydantic models, validated when loaded.

Torch-free by design (like a Hugging Face configuration module beside its model): `hscl config show`,
`hscl config schema` and every check of a config run before torch, transformers or the data are touched.
One module per section (`data`, `model`, `loss`, `train`, `run`), one for files and presets (`files`),
one for finding the text model offline (`text_model`).
"""

from hscl.config.base import Settings
from hscl.config.data import DATA_FORMATS, READER_OPTIONS, DataConfig, SyntheticConfig
from hscl.config.files import (
    apply_overrides,
    config_from_dict,
    config_schema,
    config_yaml,
    load_config,
    load_yaml,
    preset_names,
    preset_summary,
    preset_values,
    save_config,
    upgrade_saved_config,
)
from hscl.config.loss import CONTRASTIVE_KINDS, LossConfig
from hscl.config.model import FUSION_KINDS, MODALITY_SETTINGS, HSCLConfig, SequenceEncoderConfig
from hscl.config.run import RunConfig
from hscl.config.text_model import PACKAGED_TEXT_MODELS, TextModelInfo, resolve_text_model, text_model_info
from hscl.config.train import TrainConfig

__all__ = [
    "CONTRASTIVE_KINDS",
    "DATA_FORMATS",
    "FUSION_KINDS",
    "MODALITY_SETTINGS",
    "PACKAGED_TEXT_MODELS",
    "READER_OPTIONS",
    "DataConfig",
    "HSCLConfig",
    "LossConfig",
    "RunConfig",
    "SequenceEncoderConfig",
    "Settings",
    "SyntheticConfig",
    "TextModelInfo",
    "TrainConfig",
    "apply_overrides",
    "config_from_dict",
    "config_schema",
    "config_yaml",
    "load_config",
    "load_yaml",
    "preset_names",
    "preset_summary",
    "preset_values",
    "resolve_text_model",
    "save_config",
    "text_model_info",
    "upgrade_saved_config",
]
