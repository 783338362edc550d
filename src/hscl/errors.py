"""Errors a user can act on. The command line prints them as one line and exits non-zero."""

from __future__ import annotations

from pathlib import Path


class HSCLError(Exception):
    """Base class for every error caused by input rather than by a bug."""


class DataError(HSCLError):
    """A data file is missing, malformed, unsafe or inconsistent."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        """Pickle by the constructor's arguments, so the error crosses process boundaries (parallel suites)."""
        return type(self), (self.path, self.problem)


class ConfigError(HSCLError, ValueError):
    """A configuration value or override is invalid."""
