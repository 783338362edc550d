"""The HSCL model: encoders, fusion, heads, configuration and typed output."""
from hscl.model.encoders import SequenceEncoderConfig
from hscl.model.hscl import HSCL, HSCLConfig, HSCLOutput, load_tokenizer

__all__ = ["HSCL", "HSCLConfig", "HSCLOutput", "SequenceEncoderConfig", "load_tokenizer"]
