"""Trigger filters: Knative's subscriptions API dialects and the legacy attribute filter.

`spec.filters` is a list of dialect expressions that must all match: `exact`,
`prefix`, `suffix` (attribute -> value), `all` and `any` (lists of expressions) and
`not` (one expression). `cesql` is refused when the YAML is loaded rather than
silently matching everything. Without `filters`, the legacy `spec.filter.attributes`
applies: each attribute must equal its value, and an empty value matches any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Attributes = Mapping[str, Any]
Filter = Callable[[Attributes], bool]

_COMPARISONS: dict[str, Callable[[str, str], bool]] = {
    "exact": lambda actual, wanted: actual == wanted,
    "prefix": str.startswith,
    "suffix": str.endswith,
}


def _compare(dialect: str, wanted: Mapping[str, str]) -> Filter:
    if not wanted:
        raise ValueError(f"{dialect} needs at least one attribute")
    compare = _COMPARISONS[dialect]

    def matches(attributes: Attributes) -> bool:
        return all(
            name in attributes and compare(str(attributes[name]), value)
            for name, value in wanted.items()
        )

    return matches


def _expression(expression: Mapping[str, Any]) -> Filter:
    if len(expression) != 1:
        raise ValueError(f"a filter expression has exactly one dialect, got {sorted(expression)}")
    ((dialect, argument),) = expression.items()
    if dialect in _COMPARISONS:
        return _compare(dialect, argument)
    if dialect in ("all", "any"):
        parts = [_expression(part) for part in argument]
        combine = all if dialect == "all" else any
        return lambda attributes: combine(part(attributes) for part in parts)
    if dialect == "not":
        inner = _expression(argument)
        return lambda attributes: not inner(attributes)
    raise ValueError(f"filter dialect {dialect!r} is not supported by the local broker")


def compile_filters(
    filters: list[dict[str, Any]] | None, legacy: Mapping[str, Any] | None
) -> Filter:
    """One predicate for a Trigger: the new `filters` win over the legacy `filter`."""
    if filters:
        parts = [_expression(expression) for expression in filters]
        return lambda attributes: all(part(attributes) for part in parts)
    wanted = (legacy or {}).get("attributes") or {}
    return lambda attributes: all(
        value == "" or attributes.get(name) == value for name, value in wanted.items()
    )
