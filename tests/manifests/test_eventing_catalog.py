"""eventing/ and the event catalog must agree: a Trigger can only name a type that exists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from chatfn.events.catalog import CATALOG, TERMINAL
from chatfn.local.provision import PROJECT_ROOT


def named_types(expression: Any) -> Iterator[str]:
    """Every `type` that an `exact` expression or a legacy attribute filter names."""
    if isinstance(expression, dict):
        for key, value in expression.items():
            if key in ("exact", "attributes") and isinstance(value, dict) and "type" in value:
                yield value["type"]
            else:
                yield from named_types(value)
    elif isinstance(expression, list):
        for item in expression:
            yield from named_types(item)


def trigger_types() -> dict[str, set[str]]:
    types: dict[str, set[str]] = {}
    for path in sorted((PROJECT_ROOT / "eventing").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "Trigger":
                spec = document["spec"]
                named = set(named_types([spec.get("filters"), spec.get("filter")]))
                types[document["metadata"]["name"]] = named
    return types


def test_every_type_a_trigger_names_is_in_the_catalog() -> None:
    unknown = {name: types - set(CATALOG) for name, types in trigger_types().items()}
    assert {name: types for name, types in unknown.items() if types} == {}


def test_every_catalog_type_has_a_consumer_or_is_a_documented_terminal_fact() -> None:
    consumed = set().union(*trigger_types().values())

    assert set(CATALOG) - consumed == set(TERMINAL)
    assert all(reason for reason in TERMINAL.values())


def test_the_type_finder_sees_every_dialect() -> None:
    filters = [
        {"exact": {"type": "a"}},
        {"any": [{"exact": {"type": "b"}}, {"not": {"exact": {"type": "c"}}}]},
        {"attributes": {"type": "d", "source": "x"}},
    ]
    assert set(named_types(filters)) == {"a", "b", "c", "d"}
