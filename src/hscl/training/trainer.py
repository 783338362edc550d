"""One training run: fit on train, select on valid, evaluate the selected checkpoint on test once.

The same code runs as one process or as several under torchrun (data parallel, see `distributed`);
`train.batch_size` is the global batch either way. The resumable state is checkpointed at epoch ends
(`checkpoint`), so `resume` carries an interrupted run on exactly as if it had never stopped.
"""

from __future__ import annotations

import logging
import math
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm
from transformers import AutoTokenizer

from hscl.config import RunConfig, TextModelInfo
from hscl.data.batching import EncodedSplit, batch_indices, encode_split
from hscl.data.loading import load_data
from hscl.data.types import MODALITIES, Batch, MSADataset
from hscl.errors import ConfigError, HSCLError
from hscl.files import FolderLock
from hscl.losses import HSCLLoss
from hscl.metrics import LOWER_IS_BETTER, format_metrics
from hscl.model.hscl import HSCL
from hscl.provenance import code_version, machine_description
from hscl.training import distributed
from hscl.training.checkpoint import (
    Checkpoint,
    TrainingState,
    capture_rng,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from hscl.training.evaluation import evaluate_split, split_projections
from hscl.training.monitor import TensorBoardLog, check_log
from hscl.training.run_records import (
    PROJECTIONS_FINAL,
    PROJECTIONS_INITIAL,
    RUN_CONFIG_FILE,
    EpochRecord,
    RunDir,
    Selection,
    Session,
)
from hscl.training.runtime import seed_everything, show_progress_logs

logger = logging.getLogger("hscl.train")
RESUME_RUNTIME_FIELDS = ("device", "progress_bar", "log", "checkpoint_every", "keep_checkpoint")  # a resume may change


class NonFiniteLossError(HSCLError):
    """A loss term or the gradient became NaN or infinite during training."""


@dataclass
class RunResult:
    """What a finished run reports."""

    run_dir: Path
    best_epoch: int
    valid_metrics: dict[str, float]
    test_metrics: dict[str, float] | None  # None when trained with score_test=False
    wall_seconds: float


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
    fused = next(model.parameters()).device.type in ("cpu", "cuda")  # one kernel per step (benchmarks/step.txt)
    optimizer = torch.optim.Adam(
        [
            {
                "params": [p for p in text_params if p.requires_grad],
                "lr": train.lr_bert,
                "weight_decay": train.weight_decay_bert,
                "name": "text",
            },
            {
                "params": [p for p in main_params if p.requires_grad],
                "lr": train.lr_main,
                "weight_decay": train.weight_decay_main,
                "name": "main",
            },
        ],
        fused=fused,
    )
    scheduler = None
    if train.scheduler_step > 0:
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, train.scheduler_step, train.scheduler_gamma)
    return optimizer, scheduler


class Objective(nn.Module):
    """The model, the gather of its outputs from every process, and the loss, as one module.

    This is the forward that DistributedDataParallel wraps: it returns only the loss terms, so the
    parameters it finds unused are exactly those the loss does not reach (e.g. z_t under loss.unimodal=false).
    """

    def __init__(self, model: HSCL, loss_fn: HSCLLoss) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Batch, sizes: list[int]) -> dict[str, torch.Tensor]:
        """Loss terms of the global batch; `batch` is this process's part, `sizes` every process's row count."""
        return self.loss_fn(
            distributed.gather_fields(self.model(batch), sizes), distributed.gather_rows(batch.labels, sizes)
        )


class Trainer:
    """Owns the model, optimiser, data and run directory of one run (in one process of several, under torchrun).

    Building it runs every check (config, data, text model) and writes nothing; `run` then starts writing.
    `resume`: carry on from the checkpoint in `run_dir` instead of starting afresh. `overwrite`: replace a
    run already in `run_dir` (refused otherwise), clearing it only when `run` starts. `train.log`:
    "files" (metrics.jsonl only) or "tensorboard" (also TensorBoard event files). A checkpoint is
    written every `train.checkpoint_every` epochs, after every epoch that improves the selection
    metric, and at the end; once the run has finished it is dropped unless `train.keep_checkpoint`.

    `score_test=False` trains without the test split: it is never encoded, projected or scored (tuning).
    `on_epoch(epoch, valid_metrics)` is called after each epoch is recorded; what it raises stops the run.
    `command` (what started the run, recorded with the thread count in sessions.json): the command line, or
    by default the Python entry point and script.
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        dataset: MSADataset | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
        score_test: bool = True,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
        command: str | None = None,
    ) -> None:
        check_log(config.train.log)
        self.command = command or python_command()
        text = config.check_text_model()
        self.config = config
        self.run_dir = RunDir(run_dir)
        self.inputs = [config.data.path, text.path]  # what the run reads: never inside the folder it clears
        if not resume:
            self.run_dir.check_new(overwrite, self.inputs)
        self.resume = resume
        self.score_test = score_test
        self.on_epoch = on_epoch
        self.generator = seed_everything(config.train.seed)
        self.ctx, self.device = distributed.setup(config.train.device)
        self.lock = FolderLock(self.run_dir.path)
        if self.ctx.is_main:  # one writer per run directory; checked again now that no other can start
            self.lock.acquire()
            try:
                self._build(config, text, dataset, resume, overwrite, score_test)
            except BaseException:
                self.lock.release()
                raise
        else:
            self._build(config, text, dataset, resume, overwrite, score_test)

    def _build(
        self,
        config: RunConfig,
        text: TextModelInfo,
        dataset: MSADataset | None,
        resume: bool,
        overwrite: bool,
        score_test: bool,
    ) -> None:
        """Everything but the run directory: data, model, optimiser, encoded splits (nothing written)."""
        if not resume:
            self.run_dir.check_new(overwrite, self.inputs)
        self.dataset = dataset if dataset is not None else load_data(config.data)
        dims = {modality: self.dataset.feature_dim(modality) for modality in MODALITIES}
        fitted = config.model.with_feature_dims(dims, self.dataset.source or "the data")
        self.config = config.replace(model=fitted)
        self.tokenizer = AutoTokenizer.from_pretrained(text.path)
        self.model = HSCL(fitted.replace(text_model=text.path)).to(self.device)
        if self.ctx.enabled:  # one data order for all (self.generator), but each process its own dropout masks
            torch.manual_seed(config.train.seed + self.ctx.rank)
        self.objective = Objective(self.model, HSCLLoss(config.loss))
        self.train_step = distributed.wrap(self.objective, self.ctx)
        self.optimizer, self.scheduler = build_optimizer(self.model, config)
        self.encoded: dict[str, EncodedSplit] = {
            name: encode_split(split, self.tokenizer, config.data.max_text_len)
            for name, split in self.dataset.splits.items()
            if score_test or name != "test"
        }
        self.state = TrainingState()
        self.checkpointed = 0  # the epoch of the last checkpoint written (or resumed from); 0: none yet
        self._check_batch_size()

    def _check_batch_size(self) -> None:
        """Every process needs a sample of each global batch; a last batch too small for that is skipped."""
        batch_size, processes = self.config.train.batch_size, self.ctx.world_size
        if batch_size < processes:
            raise ConfigError(
                f"train.batch_size={batch_size} is the global batch; it must be at least the "
                f"number of processes ({processes})"
            )
        remainder = len(self.encoded["train"]) % batch_size
        if 0 < remainder < processes:
            logger.warning(
                "the last batch of each epoch (%d samples) is smaller than the number of processes (%d) and is skipped",
                remainder,
                processes,
            )

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over train; returns the mean of every loss term over the global batches."""
        train = self.config.train
        self.model.train()
        encoded = self.encoded["train"]
        batches = [
            index
            for index in batch_indices(len(encoded), train.batch_size, shuffle=True, generator=self.generator)
            if len(index) >= self.ctx.world_size
        ]
        sums: dict[str, float] = {}
        shown = train.progress_bar and self.ctx.is_main
        bar = tqdm(batches, desc=f"epoch {epoch}/{train.epochs}", leave=False, disable=not shown)
        self.optimizer.zero_grad(set_to_none=True)
        for step, index in enumerate(bar, start=1):
            update = step % train.grad_accum == 0 or step == len(batches)
            with distributed.no_sync(self.train_step, skip=not update):
                terms = self._loss(encoded, index)
                self._check_finite(terms, epoch, step)
                (terms["total"] / train.grad_accum).backward()
            if update:
                self._optimizer_step(epoch, step)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach())
            bar.set_postfix({k: f"{v / step:.3f}" for k, v in sums.items()}, refresh=False)
        if self.scheduler is not None:
            self.scheduler.step()
        return {name: total / len(batches) for name, total in sums.items()}

    def _loss(self, encoded: EncodedSplit, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The loss terms of global batch `index`: this process runs the model on its shard, the loss sees all."""
        batch = encoded.batch(distributed.shard(index, self.ctx)).to(self.device, non_blocking=True)
        amp = self.config.train.amp and self.device.type == "cuda"
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=amp):
            return self.train_step(batch, distributed.shard_sizes(len(index), self.ctx))

    def _optimizer_step(self, epoch: int, step: int) -> None:
        """Clip the gradient (when train.grad_clip > 0), refuse a non-finite one, step and zero."""
        clip = self.config.train.grad_clip
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip if clip > 0 else math.inf)
        if not torch.isfinite(norm):
            raise NonFiniteLossError(
                f"the gradient norm is not finite at epoch {epoch}, step {step}; training stopped, {self._kept()}"
            )
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _check_finite(self, terms: dict[str, torch.Tensor], epoch: int, step: int) -> None:
        """Stop with a message naming the first non-finite loss term."""
        if torch.isfinite(terms["total"]):
            return
        bad = [name for name, value in terms.items() if name != "total" and not torch.isfinite(value)]
        raise NonFiniteLossError(
            f"loss term {bad[0] if bad else 'total'} is not finite at epoch {epoch}, "
            f"step {step}; training stopped, {self._kept()}"
        )

    def _kept(self) -> str:
        """What a stopped run leaves behind, in words: its last checkpoint and selected model, if any."""
        state = self.state
        if self.checkpointed == 0:
            return "before its first checkpoint: no checkpoint or model was saved, nothing can be resumed"
        return (
            f"the checkpoint of epoch {self.checkpointed} is kept"
            + (f" and the model selected at epoch {state.best_epoch}" if state.best_epoch else ", no model selected")
            + "; nothing non-finite was saved"
        )

    def run(self) -> RunResult:
        """Train (or carry on training), select on valid, then evaluate the selected checkpoint once on test;
        the run directory's lock is released at the end, however the run ends."""
        try:
            return self._run()
        finally:
            self.lock.release()

    def _run(self) -> RunResult:
        started = time.perf_counter()
        distributed.barrier(self.ctx)  # every process has checked the run directory before the main one writes
        if self.resume:
            self._resume()
        else:
            self._start()
        tensorboard = None
        if self.config.train.log == "tensorboard" and self.ctx.is_main:
            tensorboard = TensorBoardLog(self.run_dir.tensorboard_dir, self.state.epoch + 1)
        try:
            while not self._finished():
                self._epoch(self.state.epoch + 1, tensorboard)
        finally:
            if tensorboard is not None:
                tensorboard.close()
        best = self.state
        metric = self.config.train.select_metric
        if best.best_epoch == 0:
            raise HSCLError(f"no epoch produced a finite validation {metric}; nothing selected")
        test = self._test_once() if self.score_test else None
        if not self.config.train.keep_checkpoint and self.ctx.is_main:
            self.run_dir.drop_checkpoint()
        wall = time.perf_counter() - started
        logger.info(
            "selected epoch %d (valid %s %.4f); test %s",
            best.best_epoch,
            metric,
            best.best_valid[metric],
            "not scored" if test is None else format_metrics(test),
        )
        return RunResult(self.run_dir.path, best.best_epoch, best.best_valid, test, wall)

    def _finished(self) -> bool:
        """Whether the epochs are used up or early stopping has triggered."""
        train = self.config.train
        return self.state.epoch >= train.epochs or self.state.since_best >= train.patience

    def _epoch(self, epoch: int, tensorboard: TensorBoardLog | None) -> None:
        """Train one epoch, validate, record it, then checkpoint and export the selected model as due."""
        train, state = self.config.train, self.state
        epoch_start = time.perf_counter()
        train_terms = self.train_epoch(epoch)
        valid = self._evaluate(self.model, "valid")
        improved = is_better(train.select_metric, valid[train.select_metric], state.best_value)
        state.epoch = epoch
        if improved:
            state.best_epoch, state.best_value, state.best_valid = epoch, valid[train.select_metric], valid
            state.since_best = 0
        else:
            state.since_best += 1
        record = EpochRecord(
            epoch,
            train_terms,
            valid,
            {g["name"]: g["lr"] for g in self.optimizer.param_groups},
            round(time.perf_counter() - epoch_start, 3),
            improved,
        )
        if self.ctx.is_main:
            self.run_dir.append_epoch(record)
            if tensorboard is not None:
                tensorboard.write(record)
        terms = " ".join(f"{k} {v:.4f}" for k, v in train_terms.items())
        logger.info(
            "epoch %d/%d  train %s | valid %s | %.1fs%s",
            epoch,
            train.epochs,
            terms,
            format_metrics(valid),
            record.seconds,
            "  *" if improved else "",
        )
        # Order matters for resuming: record, then checkpoint, then the export of an improving epoch.
        if improved or epoch % self.config.train.checkpoint_every == 0 or self._finished():
            self._save_checkpoint()
        if improved and self.ctx.is_main:
            self._export_best()
        if state.since_best >= train.patience:
            logger.info("early stop: no validation %s improvement for %d epochs", train.select_metric, state.since_best)
        if self.on_epoch is not None:
            self.on_epoch(epoch, valid)

    def _evaluate(self, model: HSCL, split: str) -> dict[str, float]:
        """Metrics of `model` on a whole split (shared by the processes, if several)."""
        return evaluate_split(model, self.encoded[split], self.config.train.eval_batch_size, self.device, self.ctx)

    def _start(self) -> None:
        """A fresh run directory (emptied first): the config, an empty epoch log, projections before training."""
        if not self.ctx.is_main:
            return
        self.run_dir.start(self.config, self.dataset.extraction)
        self._record_session()
        if self.score_test:
            self._save_projections(PROJECTIONS_INITIAL, self.model)

    def _resume(self) -> None:
        """Restore the run directory's checkpoint and put the run directory back in step with it."""
        path = self.run_dir.checkpoint_file
        checkpoint = load_checkpoint(path)
        fix = (
            f"was {RUN_CONFIG_FILE} edited, or the checkpoint copied from another run? Restore them, or train "
            "afresh with --overwrite"
        )
        if checkpoint.config is not None and checkpoint.config != self._resumable_config():
            changed = _differences(checkpoint.config, self._resumable_config())
            saved = self.run_dir.path / RUN_CONFIG_FILE
            raise HSCLError(
                f"{path}: was written with {changed[0][0]}={changed[0][1]!r}, but {saved} has {changed[0][2]!r}"
                + (f" (and {len(changed) - 1} more difference{'s' if len(changed) > 2 else ''})" if changed[1:] else "")
                + f"; {fix}"
            )
        try:
            self.model.load_state_dict(checkpoint.model)
            self.optimizer.load_state_dict(checkpoint.optimizer)
            if self.scheduler is not None:
                if checkpoint.scheduler is None:
                    raise ValueError("the checkpoint has no learning-rate schedule, the config has one")
                self.scheduler.load_state_dict(checkpoint.scheduler)
        except (RuntimeError, ValueError, KeyError, TypeError) as err:
            detail = next(
                (line.strip() for line in str(err).splitlines()[1:] if line.strip()), str(err).splitlines()[0]
            )
            raise HSCLError(
                f"{path}: does not fit the model that {self.run_dir.path / RUN_CONFIG_FILE} describes "
                f"({detail[:200]}); {fix}"
            ) from None
        if len(checkpoint.rng) != self.ctx.world_size:
            logger.warning(
                "the checkpoint was written by %d processes and is resumed by %d: training carries on "
                "correctly, but not bit for bit as it would have",
                len(checkpoint.rng),
                self.ctx.world_size,
            )
        restore_rng(checkpoint.rng[self.ctx.rank % len(checkpoint.rng)], self.generator)
        self.state = state = checkpoint.state
        self.checkpointed = state.epoch
        if self.ctx.is_main:
            self.run_dir.keep_epochs(state.epoch)
            selected = self.run_dir.selected_epoch()
            if state.best_epoch and selected != state.best_epoch:
                if state.best_epoch != state.epoch:
                    raise HSCLError(
                        f"{self.run_dir}: the model directory holds epoch {selected}, but the checkpoint "
                        f"selected epoch {state.best_epoch}"
                    )
                self._export_best()  # stopped between the checkpoint of an improving epoch and its export
            self._record_session()
        distributed.barrier(self.ctx)
        logger.info(
            "resuming %s after epoch %d (selected so far: epoch %d)", self.run_dir, state.epoch, state.best_epoch
        )

    def _record_session(self) -> None:
        """sessions.json: this command, the torch thread count, machine and code version; logged once too."""
        session = Session(
            self.command,
            torch.get_num_threads(),
            self.ctx.world_size,
            machine_description(),
            code_version(),
            time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        self.run_dir.add_session(session)
        logger.info(
            "training %s on %s, %d torch CPU thread%s, code %s",
            self.run_dir,
            self.device,
            session.threads,
            "" if session.threads == 1 else "s",
            session.code_version,
        )

    def _save_checkpoint(self) -> None:
        """Write the resumable state; every process contributes its random states, the main process writes."""
        rng = distributed.gather_objects(capture_rng(self.generator), self.ctx)
        if self.ctx.is_main:
            scheduler = None if self.scheduler is None else self.scheduler.state_dict()
            save_checkpoint(
                self.run_dir.checkpoint_file,
                Checkpoint(
                    self.model.state_dict(),
                    self.optimizer.state_dict(),
                    scheduler,
                    self.state,
                    rng,
                    self._resumable_config(),
                ),
            )
        self.checkpointed = self.state.epoch

    def _resumable_config(self) -> dict:
        """The config as a checkpoint records it: all but how the run runs (what `resume` may change)."""
        values = self.config.to_dict()
        for key in RESUME_RUNTIME_FIELDS:
            values["train"].pop(key, None)
        return values

    def _export_best(self) -> None:
        """Write the current weights as the selected model (atomically), then record which epoch they are."""
        selection = Selection(self.state.best_epoch, self.config.train.select_metric, self.state.best_valid)
        with self.run_dir.writing_model(selection) as folder:
            self.model.save_pretrained(folder, tokenizer=self.tokenizer)

    def _test_once(self) -> dict[str, float]:
        """Reload the selected checkpoint from disk and evaluate it on test (what `hscl evaluate` does)."""
        distributed.barrier(self.ctx)  # the main process may still be exporting it
        model = HSCL.from_pretrained(self.run_dir.model_dir).to(self.device)
        test = self._evaluate(model, "test")
        if self.ctx.is_main:
            self.run_dir.write_test_metrics(test)
            self._save_projections(PROJECTIONS_FINAL, model)
        return test

    def _save_projections(self, name: str, model: HSCL) -> None:
        """Test-split projections of `model`, for the before/after embedding plots of `hscl report`."""
        self.run_dir.write_projections(
            name, split_projections(model, self.encoded["test"], self.config.train.eval_batch_size, self.device)
        )


def _differences(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, old value, new value) of every leaf where two nested mappings differ."""
    found = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append((f"{prefix}{key}", a, b))
    return found


def python_command() -> str:
    """What started a run from Python: the entry point and the command line of the calling script."""
    return f"hscl Python API, in: python {shlex.join(sys.argv)}"


def train(
    config: RunConfig,
    run_dir: str | Path,
    dataset: MSADataset | None = None,
    *,
    overwrite: bool = False,
    command: str | None = None,
) -> RunResult:
    """Run one training run into `run_dir` (new or empty, or replaced when `overwrite`) and return its result.

    Logs one line per epoch and the result (on stdout, unless the application set up logging itself).
    `command`: what to record as having started the run (default: `python_command()`)."""
    show_progress_logs()
    return Trainer(config, run_dir, dataset, overwrite=overwrite, command=command).run()


def resume(
    run_dir: str | Path,
    *,
    device: str | None = None,
    progress_bar: bool | None = None,
    log: str | None = None,
    checkpoint_every: int | None = None,
    keep_checkpoint: bool | None = None,
    command: str | None = None,
) -> RunResult:
    """Carry on an interrupted run from its last checkpoint, with the config saved in `run_dir`.

    Only how it runs may change, where given: `device`, `progress_bar`, `log`, `checkpoint_every` and
    `keep_checkpoint`.
    """
    config = RunDir(run_dir).read_config()
    runtime = {
        key: value
        for key, value in (
            ("device", device),
            ("progress_bar", progress_bar),
            ("log", log),
            ("checkpoint_every", checkpoint_every),
            ("keep_checkpoint", keep_checkpoint),
        )
        if value is not None
    }
    config = config.replace(train=config.train.replace(**runtime))
    show_progress_logs()
    return Trainer(config, run_dir, resume=True, command=command).run()
