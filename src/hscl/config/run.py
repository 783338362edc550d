"""Everything one training run needs: the data, model, loss and train sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from hscl.config.base import Settings
from hscl.config.data import DataConfig
from hscl.config.loss import LossConfig
from hscl.config.model import HSCLConfig
from hscl.config.text_model import TextModelInfo, text_model_info
from hscl.config.train import TrainConfig
from hscl.errors import ConfigError

RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _run_name(name: str) -> str:
    if not RUN_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not a run name: use letters, digits, '.', '_' and '-', starting with a letter or digit"
        )
    return name


class RunConfig(Settings):
    """A training run: `hscl train --config FILE` reads one, every run directory keeps its resolved copy."""

    name: Annotated[str, AfterValidator(_run_name)] = Field(
        "run", description="run name, the start of the default run directory's name"
    )
    description: str = Field("", description="free text, e.g. what a preset is for")
    data: DataConfig = Field(default_factory=DataConfig, description="where the data is and how to read it")
    model: HSCLConfig = Field(default_factory=HSCLConfig, description="the architecture")
    loss: LossConfig = Field(default_factory=LossConfig, description="the objective's kind and weights")
    train: TrainConfig = Field(default_factory=TrainConfig, description="optimisation, selection, run time")

    def check_text_model(self) -> TextModelInfo:
        """Find the text model offline and check the sizes that depend on it; a one-line `ConfigError` if not.

        Reads only the model's config.json, so it runs in milliseconds, before any data is loaded.
        """
        info = text_model_info(self.model.text_model)
        self.model.check_text_hidden_size(info.hidden_size)
        if info.max_positions is not None and self.data.max_text_len > info.max_positions:
            raise ConfigError(
                f"data.max_text_len={self.data.max_text_len} is longer than the {info.max_positions} "
                f"positions the text model {self.model.text_model!r} takes"
            )
        return info
