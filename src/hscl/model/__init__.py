"""The HSCL model: encoders, fusion, heads and typed output; its configuration lives in `hscl.config`."""

from hscl.config.model import HSCLConfig, SequenceEncoderConfig
from hscl.model.hscl import HSCL, HSCLOutput, load_tokenizer

__all__ = ["HSCL", "HSCLConfig", "HSCLOutput", "SequenceEncoderConfig", "load_tokenizer"]
