"""CloudEvents as Kafka records, in the Kafka protocol binding's binary mode.

Attributes become `ce_<name>` headers, `datacontenttype` the `content-type` header,
`partitionkey` the record key, and the data its value, byte for byte as it arrived
over HTTP. (The SDK's `cloudevents.kafka` needs `datacontenttype`, re-encodes data
as JSON and hands the key back as bytes, so it is not used here.)

Binary-mode events, which is what every chatfn sender and the broker itself emit,
take a fast path that only renames headers: building and re-serialising SDK event
objects was the largest cost of a hop in `bench/broker_hop.py`. Anything else
(structured mode) goes through the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloudevents.conversion import to_binary
from cloudevents.exceptions import MissingRequiredFields
from cloudevents.http import CloudEvent, from_http

Headers = list[tuple[str, bytes]]
Record = tuple[bytes | None, bytes, Headers]  # key, value, headers
REQUIRED = ("ce-specversion", "ce-id", "ce-source", "ce-type")


def to_record(event: CloudEvent) -> Record:
    """(key, value, headers) for `event`."""
    http_headers, body = to_binary(event)
    key, headers = record_headers(http_headers)
    return key, body or b"", headers


def record_headers(http_headers: Mapping[str, str]) -> tuple[bytes | None, Headers]:
    """The record key and headers of a binary-mode HTTP event; raises if one is not."""
    lowered = {name.lower(): value for name, value in http_headers.items()}
    missing = [name for name in REQUIRED if not lowered.get(name)]
    if missing:
        raise MissingRequiredFields(f"missing required attributes: {', '.join(missing)}")
    if lowered["ce-specversion"] != "1.0":
        raise MissingRequiredFields(f"specversion {lowered['ce-specversion']!r} is not 1.0")
    headers = [
        ("ce_" + name[3:], value.encode())
        for name, value in lowered.items()
        if name.startswith("ce-")
    ]
    if "content-type" in lowered:
        headers.append(("content-type", lowered["content-type"].encode()))
    key = lowered.get("ce-partitionkey")
    return (key.encode() if key else None), headers


def is_binary_mode(http_headers: Mapping[str, str]) -> bool:
    return "ce-specversion" in {name.lower() for name in http_headers}


def http_to_record(http_headers: Mapping[str, str], body: bytes) -> Record:
    """The record of an event sent over HTTP in either mode; raises the SDK's errors if it
    is not one."""
    if is_binary_mode(http_headers):
        key, headers = record_headers(http_headers)
        return key, body, headers
    return to_record(from_http(dict(http_headers), body))


def http_headers(headers: Sequence[tuple[str, bytes]]) -> tuple[dict[str, str], dict[str, str]]:
    """A record's HTTP headers for delivery, and its attributes (for filters)."""
    http: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for name, raw in headers:
        value = raw.decode()
        if name.startswith("ce_"):
            http["ce-" + name[3:]] = value
            attributes[name[3:]] = value
        else:
            http[name] = value
            if name == "content-type":
                attributes["datacontenttype"] = value
    return http, attributes


def from_record(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> CloudEvent:
    """The event a record holds; raises the SDK's errors if the headers are not an event."""
    return from_http(http_headers(headers)[0], value or b"")
