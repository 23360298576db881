from __future__ import annotations

from typing import Any

import pytest

from chatfn.local.broker.filters import compile_filters

EVENT = {"type": "io.chatfn.message.sent", "source": "/chatfn/send_message", "subject": "c-1"}


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ([{"exact": {"type": "io.chatfn.message.sent"}}], True),
        ([{"exact": {"type": "io.chatfn.message"}}], False),
        ([{"exact": {"missing": "x"}}], False),
        ([{"prefix": {"type": "io.chatfn.message."}}], True),
        ([{"prefix": {"type": "io.chatfn.user."}}], False),
        ([{"suffix": {"source": "/send_message"}}], True),
        ([{"suffix": {"source": "/titles"}}], False),
        ([{"all": [{"prefix": {"type": "io."}}, {"exact": {"subject": "c-1"}}]}], True),
        ([{"all": [{"prefix": {"type": "io."}}, {"exact": {"subject": "c-2"}}]}], False),
        ([{"any": [{"exact": {"subject": "c-2"}}, {"exact": {"subject": "c-1"}}]}], True),
        ([{"any": [{"exact": {"subject": "c-2"}}, {"exact": {"subject": "c-3"}}]}], False),
        ([{"not": {"exact": {"type": "io.chatfn.message.sent"}}}], False),
        ([{"not": {"exact": {"type": "io.chatfn.reply.completed"}}}], True),
        # The top-level list is a conjunction.
        ([{"prefix": {"type": "io.chatfn."}}, {"exact": {"subject": "c-9"}}], False),
        ([{"exact": {"type": "io.chatfn.message.sent", "subject": "c-1"}}], True),
    ],
)
def test_subscriptions_api_dialects(filters: list[dict[str, Any]], matches: bool) -> None:
    assert compile_filters(filters, None)(EVENT) is matches


@pytest.mark.parametrize(
    ("attributes", "matches"),
    [
        ({"type": "io.chatfn.message.sent"}, True),
        ({"type": "io.chatfn.message.sent", "subject": "c-2"}, False),
        ({"type": "io.chatfn.message.sent", "subject": ""}, True),  # empty matches any value
        ({}, True),
    ],
)
def test_legacy_attribute_filter(attributes: dict[str, str], matches: bool) -> None:
    assert compile_filters(None, {"attributes": attributes})(EVENT) is matches


def test_new_filters_win_over_the_legacy_filter() -> None:
    legacy = {"attributes": {"type": "something.else"}}
    assert compile_filters([{"exact": {"subject": "c-1"}}], legacy)(EVENT) is True


@pytest.mark.parametrize(
    "filters",
    [
        [{"cesql": "type = 'x'"}],
        [{"exact": {}}],
        [{"exact": {"type": "a"}, "prefix": {"type": "b"}}],
    ],
)
def test_filters_the_local_broker_cannot_honour_are_refused(filters: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the messages vary by case)
        compile_filters(filters, None)
