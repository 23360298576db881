from __future__ import annotations

import json
import re
from uuid import UUID

import pytest
from cloudevents.conversion import to_binary, to_structured

from chatfn.events.catalog import (
    CATALOG,
    InvalidPayload,
    MalformedEvent,
    MessageSendRequested,
    MessageSent,
    new_event,
    parse_event,
)
from tests.utils.events import send_requested


def test_a_new_event_carries_the_catalog_attributes() -> None:
    payload = send_requested()
    event = new_event(payload, source="/chatfn/api")

    assert UUID(event["id"]).version == 7
    assert event["type"] == "io.chatfn.message.send.requested"
    assert event["source"] == "/chatfn/api"
    assert event["dataschema"] == "urn:chatfn:io.chatfn.message.send.requested:v1"
    assert event["partitionkey"] == str(payload.conversation_id)
    assert event["subject"] == str(payload.conversation_id)
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", event["traceparent"])
    assert event["time"].endswith("+00:00")


def test_ids_are_unique_and_sort_by_creation() -> None:
    ids = [new_event(send_requested(), source="/t")["id"] for _ in range(200)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_a_trace_is_continued_and_extensions_are_kept() -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    event = new_event(
        send_requested(), source="/t", traceparent=parent, extensions={"correlation": "abc"}
    )
    assert event["traceparent"] == parent
    assert event["correlation"] == "abc"


@pytest.mark.parametrize("encode", [to_binary, to_structured])
def test_binary_and_structured_events_read_back_to_the_same_payload(encode: object) -> None:
    payload = send_requested("Ünïcode ✓")
    event = new_event(payload, source="/chatfn/api")
    headers, body = encode(event)  # type: ignore[operator]

    received = parse_event(headers, body, MessageSendRequested)

    assert received.payload == payload
    assert received.key == ("/chatfn/api", event["id"])


def test_an_envelope_without_an_id_is_malformed() -> None:
    headers, body = to_binary(new_event(send_requested(), source="/t"))
    del headers["ce-id"]
    with pytest.raises(MalformedEvent) as error:
        parse_event(headers, body, MessageSendRequested)
    assert error.value.status == 400


def test_a_structured_body_that_is_not_json_is_malformed() -> None:
    headers = {"content-type": "application/cloudevents+json"}
    with pytest.raises(MalformedEvent):
        parse_event(headers, b"{not json", MessageSendRequested)


def test_a_type_the_consumer_does_not_take_is_malformed() -> None:
    headers, body = to_binary(new_event(send_requested(), source="/t"))
    with pytest.raises(MalformedEvent, match=re.escape("io.chatfn.message.send.requested")):
        parse_event(headers, body, MessageSent)


def test_a_bad_payload_is_a_422_naming_fields_without_echoing_values() -> None:
    event = new_event(send_requested("a secret message"), source="/t")
    headers, body = to_binary(event)
    data = json.loads(body)
    data["content"] = "a secret message\x00"  # unstorable
    del data["reply_id"]

    with pytest.raises(InvalidPayload) as error:
        parse_event(headers, json.dumps(data).encode(), MessageSendRequested)

    problem = error.value.body()
    assert problem["status"] == 422
    assert sorted(e["loc"][0] for e in problem["errors"]) == ["content", "reply_id"]
    assert "secret" not in json.dumps(problem)


def test_a_payload_version_the_consumer_cannot_read_is_a_422() -> None:
    event = new_event(send_requested(), source="/t")
    event["dataschema"] = "urn:chatfn:io.chatfn.message.send.requested:v2"
    headers, body = to_binary(event)
    with pytest.raises(InvalidPayload, match="v2"):
        parse_event(headers, body, MessageSendRequested)


def test_every_catalog_type_follows_the_naming_rule() -> None:
    for event_type, payload in CATALOG.items():
        # chatfn's own, or the type a Knative source sends (a PingSource's tick).
        assert re.fullmatch(
            r"io\.chatfn\.[a-z]+(\.[a-z]+)*\.[a-z]+|dev\.knative\.sources\.[a-z]+", event_type
        )
        assert payload.event_type == event_type
        assert payload.partition_field in payload.model_fields
