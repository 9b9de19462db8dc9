"""Typed TOML files: one pydantic model per file shape, errors that name the file and line.

Every configuration shape of the hub (``hub.toml``, mapping files, indicator files) is declared
once as a pydantic model with ``extra="forbid"``. This module turns the model's validation errors
into what an operator can act on: ``hub.toml:12: [http].cors_origin: unknown setting (did you
mean 'cors_origins'?)``. Line numbers come from :class:`~hub.support.locator.TomlLocator`; the
suggestions from the model's own field names, so a new setting is suggested as soon as it exists.
The editors' JSON Schema of a file comes from the same model (``model_json_schema()``).
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hub.support.locator import TomlLocator

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file, where it is, and what to do."""

    file: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{place}: {self.where}: {self.message}" if self.where else f"{place}: {self.message}"


class TomlFileError(ValueError):
    """A file that cannot be used; ``problems`` lists every problem found, each with its line."""

    def __init__(self, file: str, problems: Sequence[Problem], heading: str | None = None) -> None:
        self.file = file
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{heading or f'invalid {file}'}:\n{lines}")


def read_toml(path: Path) -> tuple[dict[str, Any], TomlLocator]:
    """The parsed file and a locator of its keys; a missing or malformed file is a TomlFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TomlFileError(path.name, [Problem(str(path), None, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        problem = Problem(path.name, None, "", f"not UTF-8 text ({exc.reason})")
        raise TomlFileError(path.name, [problem]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise TomlFileError(path.name, [Problem(path.name, line, "", f"not valid TOML: {exc}")]) from None
    return raw, TomlLocator(text)


def validate(
    model: type[M],
    raw: dict[str, Any],
    *,
    file: str,
    locator: TomlLocator | None = None,
    context: dict[str, Any] | None = None,
    heading: str | None = None,
) -> M:
    """``raw`` checked against ``model``; every problem at once, with lines and suggestions."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        problems = [_problem(model, error, file, locator) for error in exc.errors(include_url=False)]
        problems.sort(key=lambda p: p.line or 0)
        raise TomlFileError(file, problems, heading) from None


def located(file: str, locator: TomlLocator | None, loc: Sequence[str | int], message: str) -> Problem:
    """A problem found after validation (e.g. a variable not set) at the line of key ``loc``."""
    line = locator.line_of(loc) if locator is not None and loc else None
    return Problem(file, line, _where(loc), message)


def _problem(model: type[BaseModel], error: Any, file: str, locator: TomlLocator | None) -> Problem:
    loc = tuple(item for item in error["loc"] if not (isinstance(item, str) and item.startswith("function-")))
    line = locator.line_of(loc) if locator is not None and loc else None
    where = _where(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        known = _field_names(model, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        message = "unknown setting" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        if not hint and known:
            message += f"; known: {', '.join(sorted(known))}"
        return Problem(file, line, where, message)
    if kind == "missing":
        return Problem(file, line, where, "required")
    message = str(error["msg"]).removeprefix("Value error, ")
    return Problem(file, line, where, message)


def _where(loc: Sequence[str | int]) -> str:
    """``("sources", 1, "url")`` → ``[[sources]] #2 .url``; ``("http", "tracing")`` → ``[http].tracing``."""
    if not loc:
        return ""
    head, rest = loc[0], list(loc[1:])
    text = f"[[{head}]] #{rest.pop(0) + 1}" if rest and isinstance(rest[0], int) else f"[{head}]"
    for item in rest:
        text += f"[{item}]" if isinstance(item, int) else f".{item}"
    return text


def _field_names(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The keys allowed at ``loc`` inside ``model`` (for "did you mean" suggestions)."""
    current: Any = model
    for item in loc:
        target = _model_in(current)
        if target is None:
            return []
        if isinstance(item, int):
            current = target
            continue
        field = _field_by_key(target, item)
        if field is None:
            return []
        current = field.annotation
    target = _model_in(current)
    if target is None:
        return []
    return [f.alias or name for name, f in target.model_fields.items()]


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``annotation`` (itself, or in Optional/list/tuple/dict arguments)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
