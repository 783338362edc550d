"""Data parallel on CPU: 2 processes (gloo) give the losses, gradients and weights of 1 process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import yaml
from transformers import AutoTokenizer, BertConfig, BertModel

from hscl.config import DataConfig, HSCLConfig, LossConfig, RunConfig, SequenceEncoderConfig, TrainConfig
from hscl.data.batching import encode_split
from hscl.data.loading import load_dataset
from hscl.errors import ConfigError
from hscl.training import distributed
from hscl.training import run_records as layout
from hscl.training.checkpoint import load_checkpoint
from hscl.training.trainer import Trainer

# batch 15 over 2 processes: shards of 8 and 7, then a last batch of 10 (5 and 5); valid and test are odd too.
SIZES = {"n_train": 40, "n_valid": 23, "n_test": 21, "seed": 4, "max_audio_len": 12, "max_visual_len": 10}
WORLD = 2


@pytest.fixture(scope="module")
def no_dropout_bert(tiny_text_model_dir, tmp_path_factory) -> Path:
    """The tiny BERT with its dropout off, so that every process computes what one process would."""
    target = tmp_path_factory.mktemp("tiny_bert_no_dropout")
    config = BertConfig.from_pretrained(tiny_text_model_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    BertModel.from_pretrained(tiny_text_model_dir, config=config).save_pretrained(target)
    AutoTokenizer.from_pretrained(str(tiny_text_model_dir)).save_pretrained(target)
    return target


def run_config(text_model: Path, loss: LossConfig, **train) -> RunConfig:
    """A tiny run with every dropout at 0 and no gradient clipping (clipping would hide a wrong gradient scale)."""
    no_dropout = {"n_layers": 1, "dropout": 0.0}
    return RunConfig(
        name="ddp",
        data=DataConfig(format="synthetic", options=dict(SIZES), max_text_len=24),
        model=HSCLConfig(
            text_model=str(text_model),
            audio_encoder=SequenceEncoderConfig(n_heads=1, ff_dim=16, **no_dropout),
            visual_encoder=SequenceEncoderConfig(n_heads=2, ff_dim=16, **no_dropout),
            fusion_heads=4,
            d_prjh=16,
            fusion_dropout=0.0,
            dropout_prj=0.0,
        ),
        loss=loss,
        train=TrainConfig(
            **{
                "epochs": 2,
                "batch_size": 15,
                "eval_batch_size": 8,
                "lr_main": 1e-3,
                "lr_bert": 1e-4,
                "scheduler_step": 1,
                "grad_clip": 0.0,
                "progress_bar": False,
                "device": "cpu",
                "seed": 5,
                **train,
            }
        ),
    )


def scenarios(text_model: Path) -> dict[str, RunConfig]:
    """The full objective; and an ablation leaving outputs out of the loss, with gradient accumulation."""
    return {
        "full": run_config(text_model, LossConfig()),
        "ablation": run_config(text_model, LossConfig(unimodal=False), epochs=1, grad_accum=2),
    }


def instrumented_run(config: RunConfig, run_dir: Path) -> dict:
    """Train, recording the loss terms of every step and the gradient at every optimizer step."""
    trainer = Trainer(config, run_dir)
    losses, grads = [], []
    loss_fn = trainer.objective.loss_fn

    def record_loss(output, labels):
        terms = loss_fn(output, labels)
        losses.append({name: float(value.detach()) for name, value in terms.items()})
        return terms

    def record_step(optimizer, args, kwargs):  # a step pre-hook: replacing optimizer.step would unhook the scheduler
        grads.append({name: p.grad.clone() for name, p in trainer.model.named_parameters() if p.grad is not None})

    trainer.objective.loss_fn = record_loss
    trainer.optimizer.register_step_pre_hook(record_step)
    result = trainer.run()
    return {
        "losses": losses,
        "grads": grads,
        "best_epoch": result.best_epoch,
        "valid": result.valid_metrics,
        "test": result.test_metrics,
        "weights": {name: value.clone() for name, value in trainer.model.state_dict().items()},
    }


def without_key_biases(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights less the attention key biases, whose exact gradient is 0 (a shift shared by every key
    leaves the softmax unchanged): Adam turns each run's rounding noise there into full-size steps."""
    kept = {}
    for name, value in weights.items():
        if name.endswith("in_proj_bias"):  # nn.MultiheadAttention: query, key, value biases
            third = len(value) // 3
            kept[name] = torch.cat([value[:third], value[2 * third :]])
        elif not name.endswith("attention.self.key.bias"):  # BERT
            kept[name] = value
    return kept


def _worker(rank: int, port: int, configs: dict[str, RunConfig], out: Path) -> None:
    """One of the processes torchrun would start (its environment set by hand)."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD)
    )
    torch.set_num_threads(1)
    try:
        results = {name: instrumented_run(config, out / name) for name, config in configs.items()}
        torch.save(results, out / f"rank{rank}.pt")
    finally:
        distributed.teardown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def runs(no_dropout_bert, tmp_path_factory, one_thread) -> dict:
    """The scenarios run by 2 processes (per rank) and by 1 process."""
    configs = scenarios(no_dropout_bert)
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(free_port(), configs, out), nprocs=WORLD, join=True)
    single = tmp_path_factory.mktemp("single")
    return {
        "out": out,
        "ranks": [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)],
        "single": {name: instrumented_run(config, single / name) for name, config in configs.items()},
    }


@pytest.mark.parametrize("scenario", ["full", "ablation"])
def test_two_processes_match_one_on_the_global_batch(runs, scenario):
    ddp, single = runs["ranks"][0][scenario], runs["single"][scenario]
    assert len(ddp["losses"]) == len(single["losses"]) > 0
    for step, (got, want) in enumerate(zip(ddp["losses"], single["losses"])):
        assert got.keys() == want.keys()
        for term in want:
            assert got[term] == pytest.approx(want[term], rel=1e-5, abs=1e-6), (step, term)
    assert len(ddp["grads"]) == len(single["grads"]) > 0
    for got, want in zip(ddp["grads"], single["grads"]):
        assert got.keys() == want.keys()  # the same parameters got a gradient (none when unused by the loss)
        for name in want:
            torch.testing.assert_close(got[name], want[name], atol=1e-6, rtol=1e-4, msg=name)
    weights = without_key_biases(ddp["weights"])
    for name, value in without_key_biases(single["weights"]).items():
        torch.testing.assert_close(weights[name], value, atol=1e-5, rtol=1e-4, msg=name)
    assert ddp["best_epoch"] == single["best_epoch"]
    for split in ("valid", "test"):
        assert ddp[split] == pytest.approx(single[split], rel=1e-4, abs=1e-5)


def test_every_process_sees_the_same_global_step(runs):
    first, second = runs["ranks"]
    for scenario in first:
        assert first[scenario]["losses"] == second[scenario]["losses"]
        assert first[scenario]["test"] == second[scenario]["test"]
        for got, want in zip(second[scenario]["grads"], first[scenario]["grads"]):
            for name in want:
                torch.testing.assert_close(got[name], want[name], rtol=0, atol=0)


def test_only_the_main_process_writes_and_the_checkpoint_holds_every_rank(runs):
    run = runs["out"] / "full"
    records = [json.loads(line) for line in (run / layout.EPOCHS_FILE).read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    state = load_checkpoint(run / layout.CHECKPOINT_FILE)
    assert len(state.rng) == WORLD and state.state.epoch == 2
    assert not list(run.glob("*.tmp"))


def test_hscl_train_under_torchrun(no_dropout_bert, tmp_path):
    config = run_config(no_dropout_bert, LossConfig(), epochs=1).to_dict()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            str(WORLD),
            "--master-port",
            str(free_port()),
            "-m",
            "hscl.cli",
            "train",
            "--config",
            str(tmp_path / "config.yaml"),
            "--out",
            str(tmp_path / "run"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,  # a guard against a hang, never an expected time
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test (epoch 1 selected on valid)") == 1  # printed by the main process only
    assert (tmp_path / "run" / layout.TEST_METRICS_FILE).is_file()


def test_shards_are_contiguous_near_equal_and_cover_the_batch():
    for n in range(1, 12):
        index = torch.randperm(n)
        for world in range(1, min(n, 4) + 1):
            contexts = [distributed.Context(rank, rank, world) for rank in range(world)]
            parts = [distributed.shard(index, ctx) for ctx in contexts]
            assert torch.equal(torch.cat(parts), index)
            assert [len(p) for p in parts] == distributed.shard_sizes(n, contexts[0])
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_shard_split_holds_the_rows_of_its_shard(tiny_tokenizer):
    split = load_dataset(None, "synthetic", **SIZES)["valid"]
    encoded = encode_split(split, tiny_tokenizer, 24)
    rows = []
    for rank in range(3):
        part = distributed.shard_split(encoded, distributed.Context(rank, rank, 3))
        rows.append(part.labels)
        assert part.input_ids.shape[0] == part.audio.features.shape[0] == part.visual.lengths.shape[0] == len(part)
    assert torch.equal(torch.cat(rows), encoded.labels)


def test_one_process_needs_no_process_group(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    ctx, device = distributed.setup("cpu")
    assert ctx == distributed.Context() and ctx.is_main and not ctx.enabled and device.type == "cpu"
    tensor = torch.randn(3, 2, requires_grad=True)
    assert distributed.gather_rows(tensor, [3]) is tensor
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE must be integers"):
        distributed.context_from_env()
