"""One training run: fit on train, select on valid, evaluate the selected checkpoint on test once."""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoTokenizer

from hscl.config import RunConfig, resolve_text_model
from hscl.data.batching import EncodedSplit, encode_split, iter_batches
from hscl.data.loading import load_dataset
from hscl.data.types import MSADataset
from hscl.errors import ConfigError, HSCLError
from hscl.losses import HSCLLoss
from hscl.metrics import format_metrics
from hscl.model.hscl import HSCL, HSCLConfig
from hscl.training import run_dir as layout
from hscl.training.evaluation import evaluate_split, save_projections
from hscl.training.runtime import seed_everything, select_device

logger = logging.getLogger("hscl.train")
LOWER_IS_BETTER = {"mae"}


class NonFiniteLossError(HSCLError):
    """A loss term became NaN or infinite during training."""


@dataclass
class RunResult:
    """What a finished run reports."""

    run_dir: Path
    best_epoch: int
    valid_metrics: dict[str, float]
    test_metrics: dict[str, float]
    wall_seconds: float


def load_data(config: RunConfig) -> MSADataset:
    """The dataset a config names."""
    return load_dataset(config.data.path, config.data.format, **config.data.options)


def fit_model_config(model: HSCLConfig, dataset: MSADataset) -> HSCLConfig:
    """`model` with feature sizes taken from the data; a `ConfigError` if a modality is missing."""
    wanted = [m for m in model.modalities.split("+") if m != "text"]
    missing = [m for m in wanted if dataset.feature_dim(m) is None]
    if missing:
        raise ConfigError(
            f"model.modalities={model.modalities!r} needs {missing}, but {dataset.source or 'the data'} "
            f"has only {list(dataset.modalities) or 'text'}")
    return dataclasses.replace(model, audio_dim=dataset.feature_dim("audio"),
                               visual_dim=dataset.feature_dim("visual"))


def is_better(metric: str, value: float, best: float | None) -> bool:
    """Whether `value` improves on `best` for selection metric `metric`."""
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value < best if metric in LOWER_IS_BETTER else value > best


def build_optimizer(model: HSCL, config: RunConfig) -> tuple[torch.optim.Optimizer, object | None]:
    """Adam over two parameter groups (text encoder, the rest) and the StepLR schedule."""
    text_params, main_params = model.parameter_groups()
    train = config.train
    optimizer = torch.optim.Adam([
        {"params": [p for p in text_params if p.requires_grad], "lr": train.lr_bert,
         "weight_decay": train.weight_decay_bert, "name": "text"},
        {"params": [p for p in main_params if p.requires_grad], "lr": train.lr_main,
         "weight_decay": train.weight_decay_main, "name": "main"},
    ])
    scheduler = None
    if train.scheduler_step > 0:
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, train.scheduler_step, train.scheduler_gamma)
    return optimizer, scheduler


class Trainer:
    """Owns the model, optimiser, data and run directory of one run."""

    def __init__(self, config: RunConfig, run_dir: str | Path, dataset: MSADataset | None = None) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.generator = seed_everything(config.train.seed)
        self.device = select_device(config.train.device)
        self.dataset = dataset if dataset is not None else load_data(config)
        fitted = fit_model_config(config.model, self.dataset)
        self.config = dataclasses.replace(config, model=fitted)
        text_path = resolve_text_model(fitted.text_model)
        self.tokenizer = AutoTokenizer.from_pretrained(text_path)
        self.model = HSCL(dataclasses.replace(fitted, text_model=text_path)).to(self.device)
        self.loss_fn = HSCLLoss(config.loss)
        self.optimizer, self.scheduler = build_optimizer(self.model, config)
        self.encoded: dict[str, EncodedSplit] = {
            name: encode_split(split, self.tokenizer, config.data.max_text_len)
            for name, split in self.dataset.splits.items()
        }

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over train; returns the mean of every loss term."""
        train = self.config.train
        self.model.train()
        batches = list(iter_batches(self.encoded["train"], train.batch_size, shuffle=True,
                                    generator=self.generator))
        sums: dict[str, float] = {}
        amp = train.amp and self.device.type == "cuda"
        progress = tqdm(batches, desc=f"epoch {epoch}", leave=False, disable=not train.progress)
        self.optimizer.zero_grad(set_to_none=True)
        for step, batch in enumerate(progress, start=1):
            batch = batch.to(self.device, non_blocking=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
                terms = self.loss_fn(self.model(batch), batch.labels)
            self._check_finite(terms, epoch, step)
            (terms["total"] / train.grad_accum).backward()
            if step % train.grad_accum == 0 or step == len(batches):
                if train.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.grad_clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            progress.set_postfix({k: f"{v / step:.3f}" for k, v in sums.items()}, refresh=False)
        if self.scheduler is not None:
            self.scheduler.step()
        return {name: total / len(batches) for name, total in sums.items()}

    @staticmethod
    def _check_finite(terms: dict[str, torch.Tensor], epoch: int, step: int) -> None:
        """Stop with a message naming the first non-finite loss term."""
        if torch.isfinite(terms["total"]):
            return
        bad = [name for name, value in terms.items() if name != "total" and not torch.isfinite(value)]
        raise NonFiniteLossError(f"loss term {bad[0] if bad else 'total'} is not finite at epoch {epoch}, "
                                 f"step {step}; the best checkpoint so far is kept")

    def run(self) -> RunResult:
        """Train, select on valid, then evaluate the selected checkpoint once on test."""
        started = time.perf_counter()
        train = self.config.train
        self.run_dir.mkdir(parents=True, exist_ok=True)
        layout.save_run_config(self.run_dir, self.config)
        epochs_path = self.run_dir / layout.EPOCHS_FILE
        epochs_path.write_text("", encoding="utf-8")
        self._save_projections(layout.PROJECTIONS_INITIAL, self.model)
        best_value: float | None = None
        best_epoch, best_valid, since_best = 0, {}, 0
        for epoch in range(1, train.epochs + 1):
            epoch_start = time.perf_counter()
            train_terms = self.train_epoch(epoch)
            valid, _ = evaluate_split(self.model, self.encoded["valid"], train.eval_batch_size, self.device)
            value = valid[train.select_metric]
            improved = is_better(train.select_metric, value, best_value)
            if improved:
                best_value, best_epoch, best_valid, since_best = value, epoch, valid, 0
                self._save_checkpoint()
            else:
                since_best += 1
            record = {"epoch": epoch, "train": train_terms, "valid": valid,
                      "lr": {g["name"]: g["lr"] for g in self.optimizer.param_groups},
                      "seconds": round(time.perf_counter() - epoch_start, 3), "selected": improved}
            with epochs_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            terms = " ".join(f"{k} {v:.4f}" for k, v in train_terms.items())
            logger.info("epoch %d/%d  train %s | valid %s | %.1fs%s", epoch, train.epochs, terms,
                        format_metrics(valid), record["seconds"], "  *" if improved else "")
            if since_best >= train.patience:
                logger.info("early stop: no validation %s improvement for %d epochs", train.select_metric, since_best)
                break
        if best_epoch == 0:
            raise HSCLError(f"no epoch produced a finite validation {train.select_metric}; nothing selected")
        layout.write_json(self.run_dir / layout.SELECTION_FILE,
                          {"epoch": best_epoch, "metric": train.select_metric, "valid": best_valid})
        test = self._test_once()
        wall = time.perf_counter() - started
        logger.info("selected epoch %d (valid %s %.4f); test %s", best_epoch, train.select_metric,
                    best_valid[train.select_metric], format_metrics(test))
        return RunResult(self.run_dir, best_epoch, best_valid, test, wall)

    def _save_checkpoint(self) -> None:
        """Write the current weights as the selected checkpoint, atomically."""
        tmp = self.run_dir / (layout.MODEL_DIR + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        self.model.save_pretrained(tmp, tokenizer=self.tokenizer)
        layout.replace_dir(tmp, self.run_dir / layout.MODEL_DIR)

    def _test_once(self) -> dict[str, float]:
        """Reload the selected checkpoint from disk and evaluate it on test (what `hscl evaluate` does)."""
        model = HSCL.from_pretrained(self.run_dir / layout.MODEL_DIR).to(self.device)
        test, _ = evaluate_split(model, self.encoded["test"], self.config.train.eval_batch_size, self.device)
        layout.write_json(self.run_dir / layout.TEST_FILE, test)
        self._save_projections(layout.PROJECTIONS_FINAL, model)
        return test

    def _save_projections(self, name: str, model: HSCL) -> None:
        """Test-split projections of `model`, for the before/after embedding plots of `hscl report`."""
        save_projections(self.run_dir / name, model, self.encoded["test"], self.config.train.eval_batch_size,
                         self.device)


def train(config: RunConfig, run_dir: str | Path, dataset: MSADataset | None = None) -> RunResult:
    """Run one training run into `run_dir` and return its result."""
    return Trainer(config, run_dir, dataset).run()
