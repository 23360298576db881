"""CloudEvents as Kafka records, in the Kafka protocol binding's binary mode.

Attributes become `ce_<name>` headers, `datacontenttype` the `content-type` header,
`partitionkey` the record key, and the data its value, byte for byte as it arrived
over HTTP. (The SDK's `cloudevents.kafka` needs `datacontenttype`, re-encodes data
as JSON and hands the key back as bytes, so it is not used here.)
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent, from_http

Headers = list[tuple[str, bytes]]


def to_record(event: CloudEvent) -> tuple[bytes | None, bytes, Headers]:
    """(key, value, headers) for `event`."""
    http_headers, body = to_binary(event)
    headers = [
        (name.replace("ce-", "ce_", 1) if name.startswith("ce-") else name, value.encode())
        for name, value in http_headers.items()
    ]
    key = event.get("partitionkey")
    return (str(key).encode() if key is not None else None), body or b"", headers


def from_record(value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> CloudEvent:
    """The event a record holds; raises the SDK's errors if the headers are not an event."""
    http_headers = {
        (name.replace("ce_", "ce-", 1) if name.startswith("ce_") else name): raw.decode()
        for name, raw in headers
    }
    return from_http(http_headers, value or b"")
