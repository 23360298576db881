"""PingSources fired by the local broker against real Tansu, delivered through a Trigger."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cloudevents.http import CloudEvent
from starlette.applications import Starlette
from starlette.routing import Route

from chatfn.events.catalog import PingTick, ReceivedEvent
from chatfn.events.consumer import consumes
from chatfn.settings import Settings
from tests.utils.broker import LocalBroker, eventually, serving, trigger, write_eventing

FAST_S = 0.5  # CHATFN_PING_EVERY_S for the fast test


def eventing_with_ping(folder: Path, namespace: str, subscriber: str, **spec: Any) -> Path:
    """The test's eventing folder: a Trigger for the ticks of PingSource `sweep`, and it."""
    source = f"/apis/v1/namespaces/{namespace}/pingsources/sweep"
    filters = [{"exact": {"type": "dev.knative.sources.ping", "source": source}}]
    write_eventing(folder, namespace, trigger("on-tick", subscriber, filters=filters))
    ping_source = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": "sweep", "namespace": namespace},
        "spec": {
            "contentType": "application/json",
            "data": '{"sweep": "webhooks"}',
            "ceOverrides": {"extensions": {"partitionkey": "sweep"}},
            "sink": {"ref": {"kind": "Broker", "name": "default"}},
            **spec,
        },
    }
    (folder / "300-pingsource.yaml").write_text(yaml.safe_dump(ping_source))
    return folder


class TickSubscriber:
    """A subscriber that reads ticks as a function does: through `consumes(PingTick)`."""

    def __init__(self) -> None:
        self.received: list[ReceivedEvent[PingTick]] = []

        @consumes(PingTick)
        async def on_tick(received: ReceivedEvent[PingTick]) -> CloudEvent | None:
            self.received.append(received)
            return None

        self.app = Starlette(routes=[Route("/", on_tick, methods=["POST"])])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        async with serving(self.app) as url:
            yield url

    def times(self) -> list[datetime]:
        return [datetime.fromisoformat(r.event["time"]) for r in self.received]


async def test_fast_ticks_reach_a_function_through_a_trigger(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    subscriber = TickSubscriber()
    async with subscriber.running() as url:
        broker = LocalBroker(
            eventing_with_ping(tmp_path, name, url), settings.kafka_bootstrap_servers
        )
        await broker.create_topics()
        # The broker as the stack runs it, given the setting as the stack passes it on.
        with broker.process(settings.model_copy(update={"ping_every_s": FAST_S})):
            await broker.wait_ready()
            await eventually(lambda: len(subscriber.received) >= 4, within=30)

    ticks = subscriber.received
    assert {tick.payload for tick in ticks} == {PingTick(sweep="webhooks")}
    for tick in ticks:
        attributes = tick.event.get_attributes()
        assert attributes["type"] == "dev.knative.sources.ping"
        assert attributes["source"] == f"/apis/v1/namespaces/{name}/pingsources/sweep"
        assert attributes["datacontenttype"] == "application/json"
        assert attributes["partitionkey"] == "sweep"
        assert "traceparent" not in attributes
        assert "dataschema" not in attributes
    assert len({tick.event["id"] for tick in ticks}) == len(ticks)
    times = sorted(subscriber.times())  # an unordered Trigger may deliver two out of order
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    # Never sooner than asked; some as soon (a tick Kafka refused at the start is missing).
    assert FAST_S <= min(gaps) < 2 * FAST_S, gaps


async def test_a_schedule_fires_on_its_own_times(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    subscriber = TickSubscriber()
    async with subscriber.running() as url:
        # Knative's optional seconds field: every second, so the test takes seconds.
        folder = eventing_with_ping(tmp_path, name, url, schedule="* * * * * *")
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running():
            await eventually(lambda: len(subscriber.received) >= 3, within=30)

    times = sorted(subscriber.times())
    assert len(set(times)) == len(times)
    assert all(time.microsecond == 0 for time in times)  # the scheduled second, exactly
    assert all(time.utcoffset() == timedelta(0) for time in times)
