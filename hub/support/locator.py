"""Line numbers for keys of a TOML file, so mapping errors can point at the line to fix.

``tomllib`` returns plain dicts without positions. A data officer told "``[[person]] #2``:
unknown field ``colour``" still has to hunt for it; told "``kemensos.toml:41``" their editor
jumps there. This module re-reads the (already valid) TOML text with a small structural
scanner — strings, comments, brackets, keys — and records the line of every key path, e.g.::

    ("person", 1, "sex")            -> 41   # sex = … in the second [[person]]
    ("person", 1, "sex", "codes")   -> 41   # a key inside an inline table: the same line
    ("person", 1, "joins", 0)       -> 37   # the first element of an array
    ("codes", "jk", "1")            -> 88

It is not a TOML parser: it trusts that ``tomllib`` accepted the text, and only needs to
know where keys start. Unknown paths resolve to their nearest known ancestor, so a problem
about a missing key points at the table that should hold it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

PathItem = str | int
KeyPath = tuple[PathItem, ...]

_PUNCTUATION = frozenset("[]{}=,")
_BARE_STOP = frozenset(" \t\r\n[]{}=,\"'#")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "str", "bare", "nl", or the punctuation character itself
    value: str
    line: int


def _tokens(text: str) -> Iterator[_Token]:
    """Strings, bare words, punctuation and newlines of ``text``, with 1-based line numbers."""
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            yield _Token("nl", "", line)
            line += 1
            i += 1
        elif ch in " \t\r":
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in _PUNCTUATION:
            yield _Token(ch, ch, line)
            i += 1
        elif ch in "\"'":
            start_line = line
            triple = text.startswith(ch * 3, i)
            delimiter = ch * 3 if triple else ch
            j = i + len(delimiter)
            value: list[str] = []
            while j < n:
                if ch == '"' and text[j] == "\\":
                    value.append(text[j : j + 2])
                    if j + 1 < n and text[j + 1] == "\n":
                        line += 1
                    j += 2
                    continue
                if text.startswith(delimiter, j):
                    # A multi-line string may end with up to two extra quotes ("""a"""").
                    while triple and text.startswith(delimiter + ch, j):
                        value.append(ch)
                        j += 1
                    j += len(delimiter)
                    break
                if text[j] == "\n":
                    line += 1
                value.append(text[j])
                j += 1
            yield _Token("str", _unescape("".join(value)) if ch == '"' else "".join(value), start_line)
            i = j
        else:
            j = i
            while j < n and text[j] not in _BARE_STOP:
                j += 1
            yield _Token("bare", text[i:j], line)
            i = j


def _unescape(raw: str) -> str:
    """Basic-string escapes, enough for keys (``"a\\"b"``); unknown escapes are kept."""
    if "\\" not in raw:
        return raw
    try:
        return raw.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return raw


class TomlLocator:
    """The line of every key path of one TOML text (see the module docstring)."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._array_counts: dict[KeyPath, int] = {}
        self._tokens = [t for t in _tokens(text)]
        self._pos = 0
        self._scan()
        del self._tokens

    # --- lookup -----------------------------------------------------------------------------

    def line_of(self, path: Sequence[PathItem]) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one (None if none has).

        An array index on a plain table (``("case", 0, "key")`` when the file says ``[case]``)
        is skipped, so callers can address every entity section as an array.
        """
        full = tuple(path)
        variants = [full]
        if len(full) >= 2 and full[1] == 0:
            variants.append(full[:1] + full[2:])
        best: tuple[int, int] | None = None  # (unmatched tail length, line)
        for variant in variants:
            for end in range(len(variant), 0, -1):
                line = self._lines.get(variant[:end])
                if line is not None:
                    if best is None or len(variant) - end < best[0]:
                        best = (len(variant) - end, line)
                    break
        return best[1] if best is not None else None

    # --- scanning ---------------------------------------------------------------------------

    def _peek(self, offset: int = 0) -> _Token | None:
        index = self._pos + offset
        return self._tokens[index] if index < len(self._tokens) else None

    def _next(self) -> _Token:
        token = self._tokens[self._pos]
        self._pos += 1
        return token

    def _skip_newlines(self) -> None:
        while (token := self._peek()) is not None and token.kind == "nl":
            self._pos += 1

    def _record(self, path: KeyPath, line: int) -> None:
        self._lines.setdefault(path, line)

    def _key(self, stop: str) -> tuple[list[str], int]:
        """A (possibly dotted, possibly quoted) key up to the ``stop`` punctuation."""
        parts: list[str] = []
        line = 0
        while (token := self._peek()) is not None and token.kind != stop:
            self._pos += 1
            if not line:
                line = token.line
            if token.kind == "str":
                parts.append(token.value)
            elif token.kind == "bare":
                parts.extend(p for p in token.value.split(".") if p)
        return parts, line

    def _resolve(self, parts: Sequence[str]) -> list[PathItem]:
        """Insert the current index after every array of tables the path passes through."""
        resolved: list[PathItem] = []
        for part in parts:
            resolved.append(part)
            count = self._array_counts.get(tuple(resolved))
            if count is not None:
                resolved.append(count - 1)
        return resolved

    def _scan(self) -> None:
        current: KeyPath = ()
        while True:
            self._skip_newlines()
            token = self._peek()
            if token is None:
                return
            if token.kind == "[":
                self._pos += 1
                is_array = (after := self._peek()) is not None and after.kind == "["
                if is_array:
                    self._pos += 1
                parts, _ = self._key("]")
                self._pos += 2 if is_array else 1  # the closing bracket(s)
                if is_array:
                    parent = tuple(self._resolve(parts[:-1]))
                    array_path = (*parent, parts[-1])
                    self._array_counts[array_path] = self._array_counts.get(array_path, 0) + 1
                    self._record(array_path, token.line)
                    current = (*array_path, self._array_counts[array_path] - 1)
                else:
                    current = tuple(self._resolve(parts))
                for end in range(1, len(current) + 1):
                    self._record(current[:end], token.line)
                continue
            self._key_value(current)

    def _key_value(self, table: KeyPath) -> None:
        parts, line = self._key("=")
        if self._peek() is None:
            return
        self._pos += 1  # "="
        path = table
        for part in parts:
            path = (*path, part)
            self._record(path, line)
        self._value(path)

    def _value(self, path: KeyPath) -> None:
        token = self._peek()
        if token is None:
            return
        if token.kind == "[":
            self._pos += 1
            index = 0
            while True:
                self._skip_newlines()
                token = self._peek()
                if token is None or token.kind == "]":
                    self._pos += 1
                    return
                if token.kind == ",":
                    index += 1
                    self._pos += 1
                    continue
                self._record((*path, index), token.line)
                self._value((*path, index))
        elif token.kind == "{":
            self._pos += 1
            while True:
                self._skip_newlines()
                token = self._peek()
                if token is None or token.kind == "}":
                    self._pos += 1
                    return
                if token.kind == ",":
                    self._pos += 1
                    continue
                self._key_value(path)
        else:
            self._pos += 1  # a scalar: string, number, boolean or date
