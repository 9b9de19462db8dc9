"""Typed TOML files: one pydantic model per file shape, errors that name the file and line.

Every configuration shape of the hub (``hub.toml``, mapping files, indicator files) is declared
once as a pydantic model with ``extra="forbid"``. This module turns the model's validation errors
into what an operator can act on: ``hub.toml:12: [http].cors_origin: unknown setting (did you
mean 'cors_origins'?)``. Line numbers come from :class:`~hub.support.locator.TomlLocator`; the
suggestions from the model's own field names, so a new setting is suggested as soon as it exists.
The editors' JSON Schema of a file comes from the same model (``model_json_schema()``;
:class:`TomlJsonSchema` renders it as a TOML file can be written: no nulls, no titles per key).

:func:`issues` is the layer beneath :func:`validate` for files that phrase their own messages
(mapping files keep the wording their guide documents): each pydantic error becomes an
:class:`Issue` at its key path in the file — union tags and validator names removed, so the
locator finds the line — with the keys allowed where an unknown key was found.
"""

from __future__ import annotations

import difflib
import enum
import tomllib
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from hub.support.locator import KeyPath, TomlLocator

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
    return Problem(file, line, where_of(loc), message)


def _problem(model: type[BaseModel], error: Any, file: str, locator: TomlLocator | None) -> Problem:
    issue = _issue(model, error)
    loc = issue.path
    line = locator.line_of(loc) if locator is not None and loc else None
    where = where_of(loc)
    if issue.kind == "extra_forbidden":
        close = suggestion(str(loc[-1]), issue.known)
        message = "unknown setting" + (f" (did you mean {close!r}?)" if close else "")
        if not close and issue.known:
            message += f"; known: {', '.join(sorted(issue.known))}"
        return Problem(file, line, where, message)
    if issue.kind == "missing":
        return Problem(file, line, where, "required")
    return Problem(file, line, where, issue.message)


# --- the layer beneath: issues at their key path ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation error, at the key path of the file it is about.

    ``path`` addresses the file as :class:`~hub.support.locator.TomlLocator` does (keys and
    array indices only); ``known`` lists the keys the table holding ``path[-1]`` may have, over
    every form a union allows there (for "did you mean" and "valid: …" lists).
    """

    path: KeyPath
    kind: str
    message: str
    value: Any
    context: dict[str, Any] = field(default_factory=dict)
    known: tuple[str, ...] = ()


def issues(model: type[BaseModel], error: ValidationError) -> list[Issue]:
    """Every error of ``error`` (raised validating ``model``) as an :class:`Issue`."""
    return [_issue(model, e) for e in error.errors(include_url=False)]


def _issue(model: type[BaseModel], error: Any) -> Issue:
    path = file_path(model, error["loc"])
    known = tuple(keys_at(model, path[:-1])) if error["type"] == "extra_forbidden" else ()
    message = str(error["msg"]).removeprefix("Value error, ")
    return Issue(path, error["type"], message, error.get("input"), dict(error.get("ctx") or {}), known)


def suggestion(word: str, choices: Sequence[str]) -> str | None:
    """The choice closest to ``word`` (a misspelling of it), if any is close enough."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.65)
    return close[0] if close else None


def type_name(value: Any) -> str:
    """How a TOML value's type is named to the person who wrote it ("an integer")."""
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def member(enum_cls: type[enum.Enum]) -> Any:
    """A value holding a member of ``enum_cls`` by name, with a "did you mean" on a wrong one.

    The JSON Schema is the enum's (its members' values, which are their names in the hub's
    vocabulary).
    """
    names = [m.name for m in enum_cls]

    def check(value: Any) -> Any:
        if isinstance(value, enum_cls):
            return value
        if isinstance(value, str) and value in names:
            return enum_cls[value]
        close = suggestion(str(value), names)
        suffix = f" (did you mean {close!r}?)" if close else f" (valid: {', '.join(names)})"
        raise ValueError(f"{value!r} is not a {enum_cls.__name__}{suffix}")

    return Annotated[enum_cls, BeforeValidator(check)]


def one_or_many(item: Any, *, min_items: int = 1) -> Any:
    """``item``, or an array of at least ``min_items`` of them (``format = "…"`` or ``[…]``).

    A tagged union: an error names the item (or the array element) it is about, never both
    readings of the value.
    """
    return Annotated[
        Annotated[item, Tag("one")] | Annotated[list[item], Field(min_length=min_items), Tag("many")],
        Discriminator(lambda v: "many" if isinstance(v, list) else "one"),
    ]


def file_path(model: type[BaseModel], loc: Sequence[str | int]) -> KeyPath:
    """``loc`` of a pydantic error as a key path of the file: union tags and validator names out."""
    nodes = _flatten(model)
    path: list[str | int] = []
    for item in loc:
        if isinstance(item, str) and item.startswith("function-"):
            continue
        tagged = [m for n in nodes if n.tags for m in n.tags.get(str(item), ())]
        if tagged:
            nodes = [n for m in tagged for n in _flatten(m)]
            continue
        path.append(item)
        nodes = [c for n in nodes for c in _children(n, item)]
    return tuple(path)


def keys_at(model: type[BaseModel], path: Sequence[str | int]) -> list[str]:
    """The keys allowed in the table at ``path`` (a file path), over every form of a union."""
    nodes = _flatten(model)
    for item in path:
        nodes = [c for n in nodes for c in _children(n, item)]
    keys: list[str] = []
    for node in _expanded(nodes):
        if isinstance(node.annotation, type) and issubclass(node.annotation, BaseModel):
            keys.extend(f.alias or name for name, f in node.annotation.model_fields.items())
    return list(dict.fromkeys(keys))


@dataclass(frozen=True, slots=True)
class _Node:
    """A type a value may be validated against; ``tags`` when it is a tagged union."""

    annotation: Any
    tags: dict[str, tuple[Any, ...]] | None = None


def _flatten(annotation: Any, metadata: Sequence[Any] = ()) -> list[_Node]:
    """``annotation`` without ``Annotated`` wrappers; plain unions (``X | None``) spread out.

    ``metadata`` is what pydantic took off a model field's annotation (its ``Discriminator``).
    """
    discriminated = _discriminates(metadata)
    while typing.get_origin(annotation) is Annotated:
        annotation, *inner = typing.get_args(annotation)
        discriminated = discriminated or _discriminates(inner)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if discriminated:
            tags: dict[str, tuple[Any, ...]] = {}
            for m in members:
                for tag in _tags(m):
                    tags[tag] = (*tags.get(tag, ()), m)
            return [_Node(annotation, tags)]
        return [n for m in members for n in _flatten(m)]
    return [_Node(annotation)]


def _discriminates(metadata: Sequence[Any]) -> bool:
    return any(
        isinstance(m, Discriminator) or (isinstance(m, FieldInfo) and m.discriminator is not None)
        for m in metadata
    )


def _tags(annotation: Any) -> Iterator[str]:
    if typing.get_origin(annotation) is Annotated:
        yield from (m.tag for m in typing.get_args(annotation)[1:] if isinstance(m, Tag))


def _expanded(nodes: list[_Node]) -> list[_Node]:
    """Tagged unions replaced by their members (for listing what may be written there)."""
    out: list[_Node] = []
    for node in nodes:
        if node.tags is None:
            out.append(node)
        else:
            out.extend(n for members in node.tags.values() for m in members for n in _flatten(m))
    return out


def _children(node: _Node, item: str | int) -> list[_Node]:
    """The types of the value at ``item`` inside a value of ``node``'s type."""
    out: list[_Node] = []
    for form in _expanded([node]):
        annotation = form.annotation
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(item, str):
            info = _field_by_key(annotation, item)
            if info is not None:
                metadata = [*info.metadata, info] if info.discriminator is not None else info.metadata
                out.extend(_flatten(info.annotation, metadata))
        elif origin in (list, tuple, set, frozenset) and isinstance(item, int):
            element = [a for a in typing.get_args(annotation) if a is not Ellipsis][:1]
            out.extend(inner for a in element for inner in _flatten(a))
        elif origin is dict and isinstance(item, str):
            out.extend(_flatten(typing.get_args(annotation)[1]))
    return out


class TomlJsonSchema(GenerateJsonSchema):
    """JSON Schema of a TOML file: TOML has no null, and keys need no generated titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default", ...) is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def where_of(loc: Sequence[str | int]) -> str:
    """``("sources", 1, "url")`` → ``[[sources]] #2 .url``; ``("http", "tracing")`` → ``[http].tracing``."""
    if not loc:
        return ""
    head, rest = loc[0], list(loc[1:])
    text = f"[[{head}]] #{rest.pop(0) + 1}" if rest and isinstance(rest[0], int) else f"[{head}]"
    for item in rest:
        text += f"[{item}]" if isinstance(item, int) else f".{item}"
    return text


def _field_by_key(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None
