"""PingSources as the local broker reads and fires them: fire times, the event, refusals."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.errors import KafkaConnectionError

from chatfn.events.catalog import PingTick, parse_event
from chatfn.local.broker.config import Eventing, PingSource, load_eventing
from chatfn.local.broker.pings import Pings, next_fire, tick
from chatfn.local.broker.records import Record, http_headers
from chatfn.local.provision import PROJECT_ROOT

BROKER = {
    "kind": "Broker",
    "metadata": {"name": "default", "namespace": "chatfn"},
}
BROKER_SINK = {
    "ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}
}


def ping_source(name: str = "tick", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": name, "namespace": "chatfn"},
        "spec": {"sink": BROKER_SINK, **spec},
    }


def load(folder: Path, *documents: dict[str, Any]) -> Eventing:
    (folder / "100-all.yaml").write_text(yaml.safe_dump_all([BROKER, *documents]))
    return load_eventing(folder)


def one_ping(folder: Path, **spec: Any) -> PingSource:
    (ping,) = load(folder, ping_source(**spec)).pings
    return ping


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fires(ping: PingSource, after: datetime, count: int) -> list[str]:
    times = []
    for _ in range(count):
        after = next_fire(ping, after)
        times.append(after.astimezone(UTC).isoformat())
    return times


def test_every_minute_fires_on_each_minute_after_the_moment(tmp_path: Path) -> None:
    ping = one_ping(tmp_path, schedule="* * * * *")

    assert fires(ping, at("2026-03-01T12:00:30+00:00"), 3) == [
        "2026-03-01T12:01:00+00:00",
        "2026-03-01T12:02:00+00:00",
        "2026-03-01T12:03:00+00:00",
    ]
    # A fire time is never given twice: strictly after, even from the very minute.
    assert next_fire(ping, at("2026-03-01T12:01:00+00:00")) == at("2026-03-01T12:02:00+00:00")


def test_every_five_minutes_fires_on_the_multiples_of_five(tmp_path: Path) -> None:
    ping = one_ping(tmp_path, schedule="*/5 * * * *")

    assert fires(ping, at("2026-03-01T23:53:10+00:00"), 3) == [
        "2026-03-01T23:55:00+00:00",
        "2026-03-02T00:00:00+00:00",
        "2026-03-02T00:05:00+00:00",
    ]


def test_a_timezone_moves_the_schedule_with_its_offset(tmp_path: Path) -> None:
    ping = one_ping(tmp_path, schedule="0 9 * * *", timezone="Europe/Paris")

    # 09:00 in Paris: 08:00 UTC in winter (CET), 07:00 UTC in summer (CEST).
    assert fires(ping, at("2026-03-27T12:00:00+00:00"), 3) == [
        "2026-03-28T08:00:00+00:00",
        "2026-03-29T07:00:00+00:00",  # the clocks went forward that night
        "2026-03-30T07:00:00+00:00",
    ]
    assert next_fire(ping, at("2026-03-28T00:00:00+00:00")).tzname() == "CET"


def test_without_a_timezone_the_schedule_is_in_utc(tmp_path: Path) -> None:
    ping = one_ping(tmp_path, schedule="0 9 * * *")

    # 10:00 in Paris is 08:00 UTC: 09:00 comes an hour later, not the next day.
    assert next_fire(ping, at("2026-07-01T10:00:00+02:00")) == at("2026-07-01T09:00:00+00:00")


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("@hourly", "2026-03-01T12:00:30+00:00", "2026-03-01T13:00:00+00:00"),
        ("@daily", "2026-03-01T12:00:30+00:00", "2026-03-02T00:00:00+00:00"),
        ("@weekly", "2026-03-02T12:00:00+00:00", "2026-03-08T00:00:00+00:00"),  # a Sunday
        # robfig/cron's optional leading seconds field, as Knative's parser takes it.
        ("*/15 * * * * *", "2026-03-01T12:00:31+00:00", "2026-03-01T12:00:45+00:00"),
        # Both day fields restricted: either one matches (1 March 2026 is a Sunday).
        ("0 0 1 * 1", "2026-02-27T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
    ],
)
def test_knatives_schedule_dialect(
    tmp_path: Path, schedule: str, after: str, expected: str
) -> None:
    assert next_fire(one_ping(tmp_path, schedule=schedule), at(after)) == at(expected)


def test_the_projects_webhooks_sweep_ticks_every_minute_onto_the_broker() -> None:
    eventing = load_eventing(PROJECT_ROOT / "eventing")
    (sweep,) = (ping for ping in eventing.pings if ping.name == "webhooks-sweep")
    written: list[tuple[str, Record]] = []

    async def write(topic: str, record: Record) -> None:
        written.append((topic, record))

    (topic,) = (topic for ping, topic in Pings(eventing, write).pings if ping is sweep)
    assert topic == eventing.topic
    assert sweep.schedule == "* * * * *"
    assert json.loads(sweep.data) == {"sweep": "webhooks"}


def test_a_tick_is_the_event_knatives_ping_source_sends(tmp_path: Path) -> None:
    ping = one_ping(
        tmp_path,
        contentType="application/json",
        data='{"sweep": "webhooks"}',
        ceOverrides={"extensions": {"partitionkey": "tick"}},
    )
    key, value, headers = tick(ping, at("2026-03-01T13:00:00+01:00"))
    http, attributes = http_headers(headers)

    assert key == b"tick"
    assert value == b'{"sweep": "webhooks"}'
    assert set(attributes) == {
        "specversion", "id", "source", "type", "time", "partitionkey", "datacontenttype",
    }  # fmt: skip
    assert attributes["type"] == "dev.knative.sources.ping"
    assert attributes["source"] == "/apis/v1/namespaces/chatfn/pingsources/tick"
    assert attributes["time"] == "2026-03-01T12:00:00Z"
    assert attributes["datacontenttype"] == "application/json"
    assert tick(ping, at("2026-03-01T13:00:00+01:00"))[2] != headers  # a fresh id each time
    # What a function's consumes(PingTick) reads from the delivery.
    assert parse_event(http, value, PingTick).payload == PingTick(sweep="webhooks")


def test_data_base64_is_sent_decoded_and_without_a_content_type_none_is_given(
    tmp_path: Path,
) -> None:
    ping = one_ping(tmp_path, dataBase64=base64.b64encode(b"\x00binary").decode())
    _, value, headers = tick(ping, datetime.now(UTC))

    assert value == b"\x00binary"
    assert "datacontenttype" not in http_headers(headers)[1]


@pytest.mark.parametrize(
    ("spec", "refusal"),
    [
        ({"data": "a", "dataBase64": "YQ=="}, "mutually exclusive"),
        ({"dataBase64": "not base64!"}, "not base64"),
        ({"contentType": "application/json", "data": "{not json"}, "PingSource tick"),
        ({"contentType": "application/json", "data": "[1, 2]"}, "an object"),
        ({"ceOverrides": {"extensions": {"partition-key": "x"}}}, "pattern"),
    ],
)
def test_what_knatives_webhook_refuses_is_refused(
    tmp_path: Path, spec: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        load(tmp_path, ping_source(**spec))


async def _nothing(topic: str, record: Record) -> None:
    raise AssertionError("nothing is written")


@pytest.mark.parametrize(
    ("spec", "refusal"),
    [
        ({"schedule": "61 * * * *"}, "PingSource tick"),
        ({"schedule": "@every 1m"}, "PingSource tick"),
        ({"timezone": "Mars/Olympus_Mons"}, "PingSource tick"),
        ({"sink": {"ref": {"kind": "Broker", "name": "other"}}}, "does not run"),
        ({"sink": {"uri": "http://example.com/"}}, "does not run"),
    ],
)
def test_a_broker_refuses_to_start_with_a_ping_source_it_cannot_run(
    tmp_path: Path, spec: dict[str, Any], refusal: str
) -> None:
    eventing = load(tmp_path, ping_source(**spec))
    with pytest.raises(ValueError, match=refusal):
        Pings(eventing, _nothing)


async def test_fast_ticks_come_every_few_moments_and_survive_a_kafka_hiccup(
    tmp_path: Path,
) -> None:
    eventing = load(tmp_path, ping_source(data="x"))
    written: list[Record] = []
    three = asyncio.Event()
    failures = iter([True, True, False] * 10)

    async def write(topic: str, record: Record) -> None:
        assert topic == eventing.topic
        if next(failures):
            raise KafkaConnectionError()
        written.append(record)
        if len(written) == 3:
            three.set()

    task = asyncio.create_task(Pings(eventing, write, every_s=0.05).run())
    async with asyncio.timeout(5):
        await three.wait()
    task.cancel()

    times = [dict(headers)["ce_time"] for _, _, headers in written]
    assert times == sorted(set(times))  # each tick once, in order, though retried
    assert len({dict(headers)["ce_id"] for _, _, headers in written}) == 3
