"""Error messages for TOML files validated with msgspec: ``<file>:<line>: <field>: <reason>``.

tomllib keeps no positions, so when validation fails a small scanner reads the TOML text
once and maps each key path (``("items", 2, "price")``) to the line it is written on.
msgspec's path (``$.items[2].price``) then points at the line. Used by the scenario
loader; nothing here knows what a scenario is beyond the struct type it is given.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
import types
import typing
from typing import Any

import msgspec

#: A key path in a TOML document: table keys and array indices, e.g. ("items", 2, "price").
_KeyPath = tuple[str | int, ...]

_TOML_POSITION = re.compile(r"(.*) \(at line (\d+), column (\d+)\)", re.DOTALL)
_AT = re.compile(r" - at `\$([^`]*)`")
#: One step of a msgspec path: `.field`, `[index]`, or `[...]` for some value of a dict.
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_MISSING = re.compile(r"Object missing required field `(.+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(.+)`")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")


def describe_syntax_error(message: str, text: str, source: str) -> str:
    """Move tomllib's "(at line N, column M)" to the front, where editors look for it."""
    match = _TOML_POSITION.fullmatch(message)
    if match is None:
        # tomllib says "(at end of document)" when the text stops mid-value.
        return f"{source}:{len(text.splitlines()) or 1}: invalid TOML: {message}"
    reason, line, column = match.groups()
    return f"{source}:{line}: invalid TOML: {reason} (column {column})"


def describe_validation_error(
    message: str, raw: dict[str, Any], text: str, source: str, *, root: type[msgspec.Struct]
) -> str:
    """Say where in the file msgspec's ``message`` about ``raw`` points, and what is wrong."""
    reason = _AT.sub("", message)
    # A scenario-wide check names its own path; take the most precise path given.
    steps = max((_msgspec_steps(path) for path in _AT.findall(message)), key=len, default=())
    path = _name_dict_keys(steps, raw, root)
    lines = _KeyLineScanner(text).scan()
    at = path
    if missing := _MISSING.fullmatch(reason):
        reason = f"missing required field `{missing[1]}`"
    elif unknown := _UNKNOWN.fullmatch(reason):
        reason = f"unknown field `{unknown[1]}`"
        at = (*path, unknown[1])
    else:
        path = at = _follow_named_keys(path, reason, lines)
    line = _line_of(at, lines)
    where = source if line is None else f"{source}:{line}"
    field = _format_path(path) + _item_note(path, raw, reason)
    return f"{where}: {field}: {reason}" if field else f"{where}: {reason}"


def _msgspec_steps(path: str) -> tuple[str | int | None, ...]:
    """``.items[2].price`` as ("items", 2, "price"); ``None`` stands for msgspec's ``[...]``."""
    return tuple(name or (int(index) if index else None) for name, index in _STEP.findall(path))


def _name_dict_keys(
    steps: tuple[str | int | None, ...], raw: dict[str, Any], root: type[msgspec.Struct]
) -> _KeyPath:
    """Replace msgspec's ``[...]`` (some value of a dict) by the key whose value is invalid.

    msgspec decodes a dict's values in order and stops at the first bad one, so that is
    the first value that does not convert to the dict's value type on its own.
    """
    path: list[str | int] = []
    node: Any = raw
    kind: Any = root
    for step in steps:
        named = _first_invalid_key(node, _step_type(kind, step)) if step is None else step
        if named is None:
            break
        path.append(named)
        node = _step_value(node, named)
        kind = _step_type(kind, named)
    return tuple(path)


def _first_invalid_key(node: Any, value_type: Any) -> str | None:
    if not isinstance(node, dict):
        return None
    for key, value in node.items():
        try:
            msgspec.convert(value, value_type, str_keys=True)
        except msgspec.ValidationError:
            return str(key)
    return None


def _step_value(node: Any, step: str | int) -> Any:
    if isinstance(node, dict) and isinstance(step, str):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None


def _step_type(kind: Any, step: str | int | None) -> Any:
    """The type msgspec decodes ``step`` of a ``kind`` into; ``object`` when unknown."""
    args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
    if isinstance(kind, types.UnionType) and len(args) == 1:
        return _step_type(args[0], step)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        fields = {field.encode_name: field.type for field in msgspec.structs.fields(kind)}
        return fields.get(step, object) if isinstance(step, str) else object
    origin = typing.get_origin(kind)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is tuple and args and args[-1] is Ellipsis:
        return args[0]
    if origin is tuple and isinstance(step, int) and step < len(args):
        return args[step]
    return object


def _follow_named_keys(path: _KeyPath, reason: str, lines: dict[_KeyPath, int]) -> _KeyPath:
    """Follow the keys a check's message names below ``path``: ``days`` in "days must be"."""
    for word in _BARE_KEY.findall(reason):
        if (*path, word) in lines:
            path = (*path, word)
    return path


def _line_of(path: _KeyPath, lines: dict[_KeyPath, int]) -> int | None:
    """The line of ``path``, else of the nearest table or key above it that is written."""
    while path not in lines:
        if not path:
            return None
        path = path[:-1]
    return lines[path]


def _format_path(path: _KeyPath) -> str:
    """``items[2].price``; a key that is not bare is quoted, as in TOML."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
            continue
        key = step if _BARE_KEY.fullmatch(step) else json.dumps(step, ensure_ascii=False)
        text += f".{key}" if text else key
    return text


def _item_note(path: _KeyPath, raw: dict[str, Any], reason: str) -> str:
    """`` (item 'coffee')`` for a path into an item, unless the reason names it already."""
    if len(path) < 2 or path[0] != "items" or not isinstance(path[1], int):
        return ""
    item_id = _raw_item_id(raw, path[1])
    if item_id is None or repr(item_id) in reason:
        return ""
    return f" (item {item_id!r})"


def _raw_item_id(raw: dict[str, Any], index: int) -> str | None:
    items = raw.get("items")
    if not isinstance(items, list) or index >= len(items):
        return None
    entry = items[index]
    if not isinstance(entry, dict):
        return None
    item_id = entry.get("id")
    return item_id if isinstance(item_id, str) else None


class _KeyLineScanner:
    """Finds the line on which each key of a valid TOML text is written.

    tomllib reports no positions, so this walks the text once: table headers (counting
    the tables of each ``[[array]]``), dotted and quoted keys, inline tables, arrays and
    every kind of string. It relies on tomllib having accepted the text, and on text it
    does not follow it moves on rather than fail, since it only serves error messages.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._pos = 0
        self._newlines = [index for index, char in enumerate(text) if char == "\n"]
        #: The index of the last table of each array of tables, by the array's path.
        self._arrays: dict[_KeyPath, int] = {}
        self._lines: dict[_KeyPath, int] = {}

    def scan(self) -> dict[_KeyPath, int]:
        """Each key path written in the text (tables, keys, array elements) and its line."""
        table: _KeyPath = ()
        while self._skip(newlines=True):
            start = self._pos
            if self._text.startswith("[[", start):
                table = self._array_table()
            elif self._text.startswith("[", start):
                table = self._table()
            else:
                self._key_value(table)
            self._ensure_progress(start)
        return self._lines

    def _array_table(self) -> _KeyPath:
        line = self._line()
        keys = self._header("[[", "]]")
        array = (*self._concrete(keys[:-1]), *keys[-1:])
        index = self._arrays.get(array, -1) + 1
        self._arrays[array] = index
        self._record((*array, index), line)
        return (*array, index)

    def _table(self) -> _KeyPath:
        line = self._line()
        table = self._concrete(self._header("[", "]"))
        self._record(table, line)
        return table

    def _header(self, opening: str, closing: str) -> tuple[str, ...]:
        self._pos += len(opening)
        keys = self._key()
        self._skip(newlines=False)
        if self._text.startswith(closing, self._pos):
            self._pos += len(closing)
        return keys

    def _concrete(self, keys: tuple[str, ...]) -> _KeyPath:
        """A header's keys as a path: ``[[items]]`` tables stand for the latest one."""
        path: _KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self._arrays:
                path = (*path, self._arrays[path])
        return path

    def _key_value(self, table: _KeyPath) -> None:
        line = self._line()
        path = (*table, *self._key())
        self._record(path, line)
        self._skip(newlines=False)
        if self._peek() == "=":
            self._pos += 1
        self._skip(newlines=False)
        self._value(path)

    def _key(self) -> tuple[str, ...]:
        keys: list[str] = []
        while True:
            self._skip(newlines=False)
            keys.append(self._simple_key())
            self._skip(newlines=False)
            if self._peek() != ".":
                return tuple(keys)
            self._pos += 1

    def _simple_key(self) -> str:
        start = self._pos
        if self._peek() in ('"', "'"):
            self._skip_string()
            # The text is valid TOML, so tomllib can unescape the quoted key for us.
            return next(iter(tomllib.loads(f"{self._text[start : self._pos]} = 0")))
        match = _BARE_KEY.match(self._text, start)
        if match is None:
            return ""
        self._pos = match.end()
        return match.group()

    def _value(self, path: _KeyPath) -> None:
        char = self._peek()
        if char == "[":
            self._array(path)
        elif char == "{":
            self._inline_table(path)
        elif char in ('"', "'"):
            self._skip_string()
        else:
            end = _SCALAR_END.search(self._text, self._pos)
            self._pos = len(self._text) if end is None else end.start()

    def _array(self, path: _KeyPath) -> None:
        self._pos += 1
        index = 0
        while self._skip(newlines=True) and self._peek() != "]":
            start = self._pos
            self._record((*path, index), self._line())
            self._value((*path, index))
            self._skip(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            index += 1
            self._ensure_progress(start)
        self._pos += 1

    def _inline_table(self, path: _KeyPath) -> None:
        self._pos += 1
        while self._skip(newlines=True) and self._peek() != "}":
            start = self._pos
            self._key_value(path)
            self._skip(newlines=True)
            if self._peek() == ",":
                self._pos += 1
            self._ensure_progress(start)
        self._pos += 1

    def _skip_string(self) -> None:
        text = self._text
        quote = text[self._pos]
        delimiter = quote * 3 if text.startswith(quote * 3, self._pos) else quote
        pos = self._pos + len(delimiter)
        while pos < len(text) and not text.startswith(delimiter, pos):
            pos += 2 if quote == '"' and text[pos] == "\\" else 1
        pos += len(delimiter)
        # A multi-line string may end in one or two quotes of its own: """say "hi"""""
        for _ in range(2 if len(delimiter) == 3 else 0):
            if text.startswith(quote, pos):
                pos += 1
        self._pos = min(pos, len(text))

    def _skip(self, *, newlines: bool) -> bool:
        """Skip blanks and comments (and line breaks if ``newlines``); False at the end."""
        text = self._text
        while self._pos < len(text):
            char = text[self._pos]
            if char == "#":
                end = text.find("\n", self._pos)
                self._pos = len(text) if end < 0 else end
            elif char in " \t\r" or (newlines and char == "\n"):
                self._pos += 1
            else:
                break
        return self._pos < len(text)

    def _peek(self) -> str:
        return self._text[self._pos : self._pos + 1]

    def _line(self) -> int:
        return bisect.bisect_left(self._newlines, self._pos) + 1

    def _record(self, path: _KeyPath, line: int) -> None:
        """Note ``path``, and each table above it not yet seen, as written on ``line``."""
        for length in range(1, len(path) + 1):
            self._lines.setdefault(path[:length], line)

    def _ensure_progress(self, start: int) -> None:
        if self._pos == start:
            self._pos += 1
