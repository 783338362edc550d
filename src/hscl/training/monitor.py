"""Optional TensorBoard logging of the per-epoch records (metrics.jsonl stays the record of a run)."""

from __future__ import annotations

from pathlib import Path

from hscl.errors import ConfigError, HSCLError
from hscl.training.run_records import EpochRecord

LOG_CHOICES: tuple[str, ...] = ("files", "tensorboard")


def check_log(log: str) -> None:
    """A `ConfigError` unless `log` is one of `LOG_CHOICES`; an `HSCLError` if it needs a missing package."""
    if log not in LOG_CHOICES:
        raise ConfigError(f"log must be one of {LOG_CHOICES}; got {log!r}")
    if log == "tensorboard":
        _summary_writer()


def _summary_writer() -> type:
    """torch's TensorBoard writer, which needs the optional tensorboard package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise HSCLError(
            "--log tensorboard needs the tensorboard package: pip install tensorboard "
            "(or pip install 'hscl[tensorboard]')"
        ) from err
    return SummaryWriter


class TensorBoardLog:
    """Every loss term, learning rate and validation metric of each epoch, as scalars against the epoch."""

    def __init__(self, directory: Path, first_epoch: int = 1) -> None:
        # purge_step drops events a killed run wrote after the checkpoint being resumed.
        self.writer = _summary_writer()(str(directory), purge_step=first_epoch)

    def write(self, record: EpochRecord) -> None:
        """Log one epoch's record: `train/<term>`, `lr/<group>` and `valid/<metric>`."""
        for section, values in (("train", record.train), ("lr", record.lr), ("valid", record.valid)):
            for name, value in values.items():
                self.writer.add_scalar(f"{section}/{name}", value, record.epoch)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
