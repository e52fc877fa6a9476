"""The shape of a JSON document: its keys and value types, recursively.

A *schema* is learnt from documented examples of one kind of notification. It allows a
key, with a value type, where one of the examples has that key with that type, and it
requires a key that every example has. A list's items are all held to the merged shape of
every item of that list in the examples. Values themselves (ids, codes, names) are not
compared: only which keys there are and what type each value has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def type_name(value: Any) -> str:
    """Return a JSON value's type: object, array, string, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


@dataclass
class Schema:
    """What the examples show at one place in the document."""

    types: set[str] = field(default_factory=set)
    # Objects: each key's schema, and the keys every example object had.
    keys: dict[str, Schema] = field(default_factory=dict)
    required: set[str] | None = None
    # Arrays: the merged schema of their items.
    items: Schema | None = None

    def learn(self, value: Any) -> None:
        """Widen the schema to allow ``value``'s shape."""
        kind = type_name(value)
        self.types.add(kind)
        if kind == "object":
            present = set(value)
            self.required = present if self.required is None else self.required & present
            for key, child in value.items():
                self.keys.setdefault(key, Schema()).learn(child)
        elif kind == "array":
            if self.items is None:
                self.items = Schema()
            for item in value:
                self.items.learn(item)

    def problems(self, value: Any, where: str = "$") -> list[str]:
        """Return how ``value`` differs from the schema (empty when it fits)."""
        kind = type_name(value)
        if kind not in self.types:
            return [f"{where}: {kind}, documented as {' or '.join(sorted(self.types))}"]
        found: list[str] = []
        if kind == "object":
            for key in sorted(set(value) - set(self.keys)):
                found.append(f"{where}.{key}: not in any documented example")
            for key in sorted((self.required or set()) - set(value)):
                found.append(f"{where}.{key}: missing, every documented example has it")
            for key, child in value.items():
                if key in self.keys:
                    found.extend(self.keys[key].problems(child, f"{where}.{key}"))
        elif kind == "array" and self.items is not None and self.items.types:
            for index, item in enumerate(value):
                found.extend(self.items.problems(item, f"{where}[{index}]"))
        return found


def schema_of(examples: Iterable[Any]) -> Schema:
    """Return the schema the examples show together."""
    schema = Schema()
    for example in examples:
        schema.learn(example)
    return schema
