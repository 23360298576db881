"""The dispatcher of one Trigger: Kafka records in, HTTP deliveries out, exactly as Knative does.

One consumer group per Trigger. Each event that passes the filter is POSTed to the
subscriber in binary mode. 5xx, 404, 408, 409, 429, timeouts and connection errors
are retried with the Trigger's backoff (Knative's exact formula, hence no retry
library); any other 4xx, or retries run out, sends the event to the dead-letter sink
with `knativeerrordest`, `knativeerrorcode` and `knativeerrordata`. A reply event in
a 2xx response goes back to the broker ingress.

Ordered Triggers handle one event at a time per partition (a stuck partition is
paused, the others go on); unordered ones run up to `UNORDERED_CONCURRENCY` events at
once. An offset is committed only when it and every offset before it are settled, so
a dispatcher killed at any point redelivers, and loses nothing, when it restarts.
Settled offsets are committed every `COMMIT_INTERVAL_S`, as Knative's dispatcher does
(`auto.commit.interval.ms`), when idle, and on rebalance and shutdown: a commit per fetch
cost a Kafka round trip per batch on the hot path.

A dispatcher consumes for one of the broker's Kafka sessions at a time (see `link`): when
Kafka goes away its consumer is closed, deliveries under way go on (Tansu lost their
records with its memory, so they would not come again), and the next session starts
with a new consumer and no offsets of the old one. A commit Kafka cannot take is given
up after `COMMIT_TIMEOUT_S` (aiokafka's own retries it forever) and logged once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from cloudevents.exceptions import GenericException
from opentelemetry.trace import SpanKind

from chatfn.events.emit import SinkRefused, forward
from chatfn.local.broker.config import Destination, Trigger
from chatfn.local.broker.link import close_client
from chatfn.local.broker.records import Record, http_headers, http_to_record
from chatfn.telemetry.tracing import context_of, current_traceparent, tracer

log = logging.getLogger("chatfn.broker")

RETRYABLE_STATUSES = frozenset({404, 408, 409, 429})
UNORDERED_CONCURRENCY = 64
ORDERED_BUFFER = 256  # records held per partition before it is paused
FETCH_MAX_WAIT_MS = 5
# Polling every 5 ms costs CPU in the dispatcher and in Kafka, and there is one per
# Trigger. So a dispatcher that has read past every record the ingress told it of
# (`expect`) dozes, its partitions paused, until told of the next one, or until
# `DOZE_CHECK_S` passes (the check catches records written by anyone else), or, while
# an offset is unsettled or uncommitted, `COMMIT_INTERVAL_S` (to commit it). Once resumed,
# a fetch finds records already written at once (Tansu holds a fetch only while there is
# nothing to return), so a hop costs no polling interval. Only writers other than the
# ingress (none in the local stack) wait for the check. Checking every 5 s rather than
# every second, with the fetcher's timeout below, took an idle stack's broker from 0.60%
# of a core to 0.28% and Tansu, which answers those fetches, from 0.43% to 0.17%
# (bench.idle).
DOZE_CHECK_S = 5.0
COMMIT_INTERVAL_S = 1.0
# aiokafka's fetcher wakes this often to look for work even with every partition paused
# (200 ms by default: 5 wakes a second per Trigger); a fetch's answer, a resume and a
# consumed batch wake it at once anyway.
FETCHER_TIMEOUT_MS = round(DOZE_CHECK_S * 1000)
COMMIT_TIMEOUT_S = 5.0
ERROR_DATA_LIMIT = 1024  # bytes of the subscriber's answer kept in knativeerrordata


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no answer (timeout, connection error)
    body: bytes = b""
    reply: Record | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUSES


@dataclass
class PartitionProgress:
    """Which offsets of one partition are still being handled, for safe commits."""

    pending: set[int] = field(default_factory=set)
    next_offset: int | None = None  # one past the highest offset started

    def start(self, offset: int) -> None:
        self.pending.add(offset)
        self.next_offset = max(self.next_offset or 0, offset + 1)

    def committable(self) -> int | None:
        return min(self.pending) if self.pending else self.next_offset


class Dispatcher:
    def __init__(
        self,
        trigger: Trigger,
        *,
        topic: str,
        bootstrap_servers: str,
        resolve: Callable[[Destination], str],
        reingest: Callable[[Record], Awaitable[None]],
        session: aiohttp.ClientSession,
        client: httpx.AsyncClient,
    ) -> None:
        self.trigger = trigger
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.subscriber = resolve(trigger.subscriber)
        sink = trigger.delivery.dead_letter_sink
        self.dead_letter_sink = resolve(sink) if sink else None
        self.reingest = reingest
        self.session = session
        self.client = client
        self.consumer: AIOKafkaConsumer | None = None  # this session's
        self.progress: dict[TopicPartition, PartitionProgress] = {}
        # Ordered records waiting, each with the progress of the session that read it.
        self.queues: dict[TopicPartition, deque[tuple[PartitionProgress, ConsumerRecord]]] = {}
        self.workers: dict[TopicPartition, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(UNORDERED_CONCURRENCY)
        self.tasks: set[asyncio.Task[None]] = set()
        self.committed: dict[TopicPartition, int] = {}
        self.commits_failing = False
        self.assigned = False  # the group has given this dispatcher its partitions
        self.wake = asyncio.Event()  # set when there is something to fetch (`_doze`)
        self.expected: dict[TopicPartition, int] = {}  # offsets told of, not yet read

    async def run(self, lost: asyncio.Event) -> None:
        """Deliver this Trigger's events until `lost` is set: the broker's Kafka session is
        over."""
        self.progress, self.committed, self.expected = {}, {}, {}  # the old session's
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.trigger.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Tansu answers a fetch only when its max wait is over, even with data ready:
            # a short wait keeps a hop in milliseconds at the price of idle polls.
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            consumer_timeout_ms=FETCHER_TIMEOUT_MS,
        )
        consumer.subscribe([self.topic], listener=_CommitOnRevoke(self, consumer))
        self.consumer = consumer
        try:
            await consumer.start()
            committed_at = time.monotonic()
            while not lost.is_set():
                self.wake.clear()
                batches = await consumer.getmany(timeout_ms=FETCH_MAX_WAIT_MS, max_records=500)
                for partition, records in batches.items():
                    for record in records:
                        await self._schedule(consumer, partition, record)
                if time.monotonic() - committed_at > COMMIT_INTERVAL_S:
                    await self.commit(consumer)
                    committed_at = time.monotonic()
                if not batches and not self._behind(consumer) and not lost.is_set():
                    await self._doze(consumer)
        except asyncio.CancelledError:
            # The broker stops: what is under way is delivered again after it starts.
            for task in [*self.tasks, *self.workers.values()]:
                task.cancel()
            await self.commit(consumer)
            raise
        finally:
            self.assigned = False
            self.consumer = None
            await close_client(consumer)

    def expect(self, partition: TopicPartition, offset: int) -> None:
        """The ingress wrote a record this Trigger will deliver."""
        self.expected[partition] = max(offset, self.expected.get(partition, -1))
        self.wake.set()

    def _behind(self, consumer: AIOKafkaConsumer) -> bool:
        """Is a record we were told of still unread? (A fetch can take longer than one
        `getmany`, under load: dozing then would leave it until the next check.)"""
        return not _fetching(consumer).isdisjoint(self.expected)

    async def _doze(self, consumer: AIOKafkaConsumer) -> None:
        """Stop fetching until woken, or for `DOZE_CHECK_S` at most (`COMMIT_INTERVAL_S`
        while there is something to commit, now or once deliveries under way settle)."""
        dozing = _fetching(consumer)
        consumer.pause(*dozing)
        settling = any(progress.pending for progress in self.progress.values())
        try:
            async with asyncio.timeout(
                COMMIT_INTERVAL_S if settling or self._committable() else DOZE_CHECK_S
            ):
                await self.wake.wait()
        except TimeoutError:
            await self.commit(consumer)  # idle a while: what is settled shows as no lag
        consumer.resume(*dozing)

    async def _schedule(
        self, consumer: AIOKafkaConsumer, partition: TopicPartition, record: ConsumerRecord
    ) -> None:
        progress = self.progress.setdefault(partition, PartitionProgress())
        progress.start(record.offset)
        if self.expected.get(partition, -1) <= record.offset:
            self.expected.pop(partition, None)
        if self.trigger.ordered:
            queue = self.queues.setdefault(partition, deque())
            queue.append((progress, record))
            if len(queue) >= ORDERED_BUFFER:
                consumer.pause(partition)
            worker = self.workers.get(partition)
            if worker is None or worker.done():
                self.workers[partition] = asyncio.create_task(self._drain(partition, queue))
            return
        await self.slots.acquire()
        task = asyncio.create_task(self._handle(progress, partition, record))
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.slots.release()

    async def _drain(
        self, partition: TopicPartition, queue: deque[tuple[PartitionProgress, ConsumerRecord]]
    ) -> None:
        while queue:
            progress, record = queue[0]
            await self._handle(progress, partition, record)
            queue.popleft()
            consumer = self.consumer  # the queue may outlive the session that filled it
            if (
                consumer is not None
                and len(queue) < ORDERED_BUFFER // 2
                and partition in consumer.paused()
            ):
                consumer.resume(partition)
                self.wake.set()  # the rest of the partition waits in Kafka: fetch it now

    async def _handle(
        self, progress: PartitionProgress, partition: TopicPartition, record: ConsumerRecord
    ) -> None:
        try:
            await self.deliver(record)
        except Exception:  # one event must never stop the dispatcher; it is logged and settled
            log.exception("%s: event at %s@%d failed", self.trigger.name, partition, record.offset)
        # Not in `finally`: a cancelled delivery stays pending, so its offset is not committed.
        progress.pending.discard(record.offset)

    async def deliver(self, record: ConsumerRecord) -> None:
        headers, attributes = http_headers(record.headers)
        if not self.trigger.filter(attributes):
            return
        # A span of the event's trace, from the moment the record was written: the time it
        # spent in the log is this hop's. The subscriber continues it (`traceparent`).
        with tracer.start_as_current_span(
            f"deliver {attributes.get('type')}",
            context_of(attributes.get("traceparent")),
            kind=SpanKind.CLIENT,
            start_time=record.timestamp * 1_000_000,
            attributes={
                "chatfn.trigger": self.trigger.name,
                "cloudevents.event_id": attributes.get("id", ""),
                "cloudevents.event_type": attributes.get("type", ""),
            },
        ) as span:
            if traceparent := current_traceparent():
                headers = headers | {"traceparent": traceparent}
            outcome = await self._deliver(headers, record.value or b"")
            span.set_attribute("http.response.status_code", outcome.status or 0)

    async def _deliver(self, headers: dict[str, str], body: bytes) -> Outcome:
        delivery = self.trigger.delivery
        outcome = await self._post(headers, body)
        for retry_number in range(1, delivery.retry + 1):
            if outcome.delivered or not outcome.retryable:
                break
            await asyncio.sleep(delivery.backoff_s(retry_number))
            outcome = await self._post(headers, body)
        if outcome.delivered:
            if outcome.reply is not None:
                await self.reingest(outcome.reply)
        else:
            await self._dead_letter(headers, body, outcome)
        return outcome

    async def _post(self, headers: dict[str, str], body: bytes) -> Outcome:
        timeout = aiohttp.ClientTimeout(total=self.trigger.delivery.timeout_s)
        try:
            async with self.session.post(
                self.subscriber, data=body, headers=headers, timeout=timeout
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("%s: %s: %s", self.trigger.name, self.subscriber, type(exc).__name__)
            return Outcome(status=None)
        reply = None
        if 200 <= response.status < 300 and (
            "ce-id" in response.headers
            or response.headers.get("content-type", "").startswith("application/cloudevents")
        ):
            try:
                reply = http_to_record(response.headers, content)
            except GenericException:
                log.error("%s: the reply is not a valid CloudEvent; dropped", self.trigger.name)
        return Outcome(status=response.status, body=content, reply=reply)

    async def _dead_letter(self, headers: dict[str, str], body: bytes, outcome: Outcome) -> None:
        """The event as it was written, byte for byte (its data may be exactly why it
        failed: not JSON, not its type's), with Knative's error extensions added."""
        event_id = headers.get("ce-id", "?")
        if self.dead_letter_sink is None:
            log.error(
                "%s: event %s undeliverable and no dead-letter sink", self.trigger.name, event_id
            )
            return
        errors = {"ce-knativeerrordest": self.subscriber}
        if outcome.status is not None:
            errors["ce-knativeerrorcode"] = str(outcome.status)
        if outcome.body:
            errors["ce-knativeerrordata"] = base64.b64encode(
                outcome.body[:ERROR_DATA_LIMIT]
            ).decode()
        try:
            await forward(headers | errors, body, self.dead_letter_sink, self.client)
        except (SinkRefused, httpx.HTTPError) as exc:
            log.error(
                "%s: the dead-letter sink refused event %s (%s)",
                self.trigger.name, event_id, type(exc).__name__,
            )  # fmt: skip

    def _committable(self) -> dict[TopicPartition, int]:
        """The offsets settled since the last commit, by partition."""
        offsets = {}
        for partition, progress in self.progress.items():
            offset = progress.committable()
            if offset is not None and self.committed.get(partition) != offset:
                offsets[partition] = offset
        return offsets

    async def commit(self, consumer: AIOKafkaConsumer) -> None:
        offsets = self._committable()
        if not offsets:
            return
        try:
            async with asyncio.timeout(COMMIT_TIMEOUT_S):
                await consumer.commit(offsets)
        except (KafkaError, TimeoutError) as exc:
            # Kafka is away or lost the group: the next commit, or session, tries again.
            if not self.commits_failing:
                log.warning("%s: commits fail (%s)", self.trigger.name, type(exc).__name__)
            self.commits_failing = True
            return
        if self.commits_failing:
            log.info("%s: commits succeed again", self.trigger.name)
        self.commits_failing = False
        self.committed.update(offsets)

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Partitions handed to another member: their in-flight events may be redelivered there."""
        for partition in partitions:
            self.expected.pop(partition, None)
            self.progress.pop(partition, None)
            self.committed.pop(partition, None)
            self.queues.pop(partition, None)
            worker = self.workers.pop(partition, None)
            if worker is not None:
                worker.cancel()


def _fetching(consumer: AIOKafkaConsumer) -> set[TopicPartition]:
    """The partitions this consumer fetches: assigned and not paused."""
    return set(consumer.assignment() - consumer.paused())


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, dispatcher: Dispatcher, consumer: AIOKafkaConsumer) -> None:
        self.dispatcher = dispatcher
        self.consumer = consumer

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.dispatcher.assigned = False
        await self.dispatcher.commit(self.consumer)
        self.dispatcher.forget(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # No partitions when the topic is missing: nothing to deliver from, so not ready.
        self.dispatcher.assigned = bool(assigned)
