"""Schema-extension hooks entered without re-inspecting every extension on every request.

For each operation strawberry builds four hook stacks (operation, parsing, validation,
execution) and, for each of them, asks every extension whether it has the hook, whether that
is a generator, an async generator or a plain function (``inspect``), and wraps it in a fresh
``contextlib.contextmanager`` decorator (``functools.update_wrapper``): 32 such inspections per
request for the hub's eight extensions, about a quarter of the CPU of a trivial operation
(issue 13, cProfile of ``{ __typename }``).

What a class's hook is never changes, so it is decided once per (class, hook) here; each
request then only makes the context managers themselves, the very objects strawberry's wrapper
would make (``contextlib``'s generator context managers over the same functions), entered in
the same order and left in reverse by strawberry's own exit stacks. Hooks that are plain
functions (not generators) keep strawberry's own wrapping.
"""

from __future__ import annotations

import contextlib
import inspect
from functools import lru_cache, partial
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
    WrappedHook,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

#: Kinds of hook: a generator function, an async generator function, another callable.
SYNC, ASYNC, CALLABLE = "sync", "async", "callable"


@lru_cache(maxsize=256)
def hook_of(cls: type[SchemaExtension], name: str) -> tuple[str, Any] | None:
    """The kind and function of ``cls``'s hook ``name``; None if it keeps the default (no hook)."""
    function = getattr(cls, name)
    if function is getattr(SchemaExtension, name):
        return None
    if inspect.isgeneratorfunction(function):
        return SYNC, function
    if inspect.isasyncgenfunction(function):
        return ASYNC, function
    return CALLABLE, function


class _Cached(ExtensionContextManagerBase):
    """Strawberry's hook stack, with each extension's hook looked up in :func:`hook_of`."""

    __slots__ = ()

    def get_hook(self, extension: SchemaExtension) -> WrappedHook | None:
        found = hook_of(type(extension), self.HOOK_NAME)
        if found is None:
            return None
        kind, function = found
        if kind == SYNC:
            return WrappedHook(
                extension, partial(contextlib._GeneratorContextManager, function, (extension,), {}), False
            )
        if kind == ASYNC:
            return WrappedHook(
                extension, partial(contextlib._AsyncGeneratorContextManager, function, (extension,), {}), True
            )
        return super().get_hook(extension)  # strawberry's own wrapping (and its errors)


class _Operation(_Cached, OperationContextManager):
    __slots__ = ()


class _Parsing(_Cached, ParsingContextManager):
    __slots__ = ()


class _Validation(_Cached, ValidationContextManager):
    __slots__ = ()


class _Executing(_Cached, ExecutingContextManager):
    __slots__ = ()


class CachedHooksRunner(SchemaExtensionsRunner):
    """Strawberry's extensions runner with hooks decided once per extension class."""

    def operation(self) -> OperationContextManager:
        return _Operation(self.extensions)

    def validation(self) -> ValidationContextManager:
        return _Validation(self.extensions)

    def parsing(self) -> ParsingContextManager:
        return _Parsing(self.extensions)

    def executing(self) -> ExecutingContextManager:
        return _Executing(self.extensions)
