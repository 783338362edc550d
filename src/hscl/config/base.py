"""The base of every hscl configuration: strict pydantic models whose errors are one line.

Every config class derives from `Settings`: unknown keys are refused (with the closest valid name),
values are not coerced across types (a string is not a number, 1.5 is not an int, 1 is not a bool),
NaN and infinity are refused, and cross-field rules run when the object is built.
"""

from __future__ import annotations

import difflib
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hscl.errors import ConfigError

S = TypeVar("S", bound="Settings")
_building: ContextVar[bool] = ContextVar("hscl_config_building", default=False)  # inside an outer validation


class Settings(BaseModel):
    """A strict, immutable configuration section."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        frozen=True,
        validate_default=True,
        use_attribute_docstrings=True,
    )

    def __init__(self, **values: Any) -> None:
        """Build from keyword arguments; a one-line `ConfigError` naming the first bad field otherwise."""
        if _building.get():  # a nested section: let the outer build report the error with its full path
            super().__init__(**values)
            return
        token = _building.set(True)
        try:
            super().__init__(**values)
        except ValidationError as err:
            raise ConfigError(describe_error(type(self), err)) from None
        finally:
            _building.reset(token)

    @classmethod
    def from_values(cls: type[S], values: Any, source: str = "") -> S:
        """Build and validate from a (nested) mapping; a one-line `ConfigError` naming the field otherwise.

        `source` (a file name, say) starts the message.
        """
        token = _building.set(True)
        try:
            return cls.model_validate(values)
        except ValidationError as err:
            raise ConfigError(describe_error(cls, err, source)) from None
        finally:
            _building.reset(token)

    def replace(self: S, **changes: Any) -> S:
        """A validated copy with `changes` applied; a section given (as an object or a mapping) replaces it whole."""
        values = self.model_dump()
        values.update(
            {key: value.model_dump() if isinstance(value, BaseModel) else value for key, value in changes.items()}
        )
        return type(self).from_values(values)

    def to_dict(self) -> dict[str, Any]:
        """A plain, YAML- and JSON-safe dictionary."""
        return self.model_dump(mode="json")


def describe_error(cls: type[BaseModel], err: ValidationError, source: str = "") -> str:
    """The first problem of a validation error as one line: where, the value, what is allowed."""
    errors = err.errors(include_url=False)
    first = errors[0]
    path, owner = _field_path(cls, first["loc"])
    where = ".".join(path)
    message = first["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if first["type"] == "extra_forbidden":
        known = list(owner.model_fields)
        close = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        message = f"unknown key; {hint}"
    elif first["type"] == "missing":
        message = "required, but missing"
    elif first["type"] not in ("value_error", "assertion_error"):
        message = f"{first['input']!r} is not allowed: {message[0].lower()}{message[1:]}"
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    prefix = f"{source}: " if source else ""
    return f"{prefix}{where + ': ' if where else ''}{message}{more}"


def _field_path(cls: type[BaseModel], loc: tuple[Any, ...]) -> tuple[list[str], type[BaseModel]]:
    """The field names in `loc`, without pydantic's union-member tags, and the model owning the last one."""
    path: list[str] = []
    owner: type[BaseModel] | None = cls
    last_owner: type[BaseModel] = cls
    for part in loc:
        if owner is None:
            break
        path.append(str(part))
        last_owner = owner
        field = owner.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        owner = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return path, last_owner
