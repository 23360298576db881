"""The local broker's PingSources: at each time a PingSource's cron schedule fires, the event
Knative's PingSource adapter (mtping) would send goes onto its sink's topic.

The event is Knative's: type `dev.knative.sources.ping`, source
`/apis/v1/namespaces/<ns>/pingsources/<name>`, a fresh UUID id, `datacontenttype` the
`contentType`, the data as given (`dataBase64` decoded), and `ceOverrides.extensions` (the
`partitionkey` that eventing/ gives there keys the ticks in production too). Nothing else:
no traceparent, no dataschema. `time` is the scheduled time; Knative's adapter stamps the
send instead, which it delays by a random 0-500 ms to spread many sources' load. The sink
is the Broker or a KafkaSink, written to through the ingress's producer as a reply is, so
the dispatchers are woken as for any event; a tick Kafka does not take is retried as the
adapter retries a send (5 times, from 50 ms doubling), then logged and lost, as there.

Schedules are read as Knative reads them (robfig/cron: five fields, an optional leading
seconds field, the @hourly-style descriptors; @every is refused by its webhook), in
`spec.timezone`, else in UTC, the zone of Knative's adapter pod. cronsim computes the fire
times: it is maintained (Healthchecks.io's cron engine), typed, has no dependencies, works
in zoneinfo zones with Debian cron's handling of DST, and takes the same optional leading
seconds field and day-of-month/day-of-week "or" rule as robfig/cron. croniter was archived
by its author in 2025 (pallets-eco's revival is untyped and pulls in python-dateutil),
python-crontab edits crontab files and leans on croniter for schedules, and APScheduler is
a scheduler framework whose 3.x CronTrigger.from_crontab counts weekdays from Monday.

`CHATFN_PING_EVERY_S` above 0 makes every PingSource fire that often instead (for tests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import stamina
from aiokafka.errors import KafkaError
from cronsim import CronSim, CronSimError

from chatfn.local.broker.config import Eventing, PingSource
from chatfn.local.broker.records import Record, http_to_record

log = logging.getLogger("chatfn.broker")

Write = Callable[[str, Record], Awaitable[None]]  # topic, record: the ingress's write

# robfig/cron's descriptors, as its parser expands them.
DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
SEND_ATTEMPTS = 6  # the adapter's first send and its 5 retries
SEND_BACKOFF_S = 0.05


def next_fire(ping: PingSource, after: datetime) -> datetime:
    """The first time after `after` at which `ping`'s schedule fires (aware, in its zone)."""
    zone = ZoneInfo(ping.timezone) if ping.timezone else UTC
    expression = DESCRIPTORS.get(ping.schedule.strip(), ping.schedule)
    return next(CronSim(expression, after.astimezone(zone)))


def tick(ping: PingSource, at: datetime) -> Record:
    """The record of `ping`'s event for the time `at`."""
    headers = {
        "ce-specversion": "1.0",
        "ce-id": str(uuid4()),
        "ce-source": ping.source,
        "ce-type": "dev.knative.sources.ping",
        "ce-time": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        **{f"ce-{name.lower()}": value for name, value in ping.extensions.items()},
    }
    if ping.content_type:
        headers["content-type"] = ping.content_type
    return http_to_record(headers, ping.data)


def sink_topic(eventing: Eventing, ping: PingSource) -> str:
    """The topic behind `ping`'s sink: this Broker's, or one of its KafkaSinks'."""
    ref = ping.sink.ref
    namespace = (ref.namespace if ref else None) or ping.namespace
    if ref is not None and not ping.sink.uri and namespace == eventing.namespace:
        if ref.kind == "Broker" and ref.name == eventing.broker:
            return eventing.topic
        if ref.kind == "KafkaSink" and ref.name in eventing.kafka_sinks:
            return eventing.kafka_sinks[ref.name]
    raise ValueError(f"PingSource {ping.name}: its sink does not run in the local broker")


class Pings:
    """Runs every PingSource of `eventing`. Schedules and sinks are checked here, so a
    broker given one it cannot run fails at its start, as Knative's webhook refuses it."""

    def __init__(self, eventing: Eventing, write: Write, every_s: float = 0.0) -> None:
        self.write = write
        self.every_s = every_s
        self.pings = [(ping, sink_topic(eventing, ping)) for ping in eventing.pings]
        now = datetime.now(UTC)
        for ping in eventing.pings:
            try:
                next_fire(ping, now)
            except (CronSimError, ValueError, KeyError) as exc:  # KeyError: an unknown zone
                raise ValueError(f"PingSource {ping.name}: {exc!r}") from exc

    async def run(self) -> None:
        """Fire every PingSource until cancelled."""
        async with asyncio.TaskGroup() as group:
            for ping, topic in self.pings:
                group.create_task(self._run(ping, topic))

    def _next(self, ping: PingSource, after: datetime) -> datetime:
        if self.every_s > 0:
            return after + timedelta(seconds=self.every_s)
        return next_fire(ping, after)

    async def _run(self, ping: PingSource, topic: str) -> None:
        fired = datetime.now(UTC)
        while True:
            # Never the same time twice: the loop's clock may wake us a little early.
            at = self._next(ping, max(fired, datetime.now(UTC)))
            await asyncio.sleep((at - datetime.now(UTC)).total_seconds())
            fired = at
            await self._send(ping, topic, at)

    async def _send(self, ping: PingSource, topic: str, at: datetime) -> None:
        record = tick(ping, at)
        try:
            async for attempt in stamina.retry_context(
                on=KafkaError,
                attempts=SEND_ATTEMPTS,
                timeout=None,
                wait_initial=SEND_BACKOFF_S,
                wait_jitter=0.0,
            ):
                with attempt:
                    await self.write(topic, record)
        except KafkaError as exc:
            log.error(
                "PingSource %s: the tick of %s is lost (%s)",
                ping.name, at.isoformat(), type(exc).__name__,
            )  # fmt: skip
