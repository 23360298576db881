"""The local broker's hold on Kafka: sessions that end when Kafka goes away and start again
once it is back with the topics `eventing/` names.

Tansu, the local stack's Kafka, keeps everything in memory: a restart loses every topic,
offset and consumer group, and the first client that then asks for a missing topic gets it
auto-created with Tansu's default of 4 partitions. aiokafka's clients reconnect by
themselves, but into that state: the ingress would answer 202 for writes into topics no
consumer reads, and a dispatcher's commit retries forever. So the broker holds Kafka in
sessions. A session starts once Kafka answers and holds the topics (missing ones made,
ones it lost and a client auto-created since made again at the right size), with a new
producer for the ingress and a new consumer per Trigger; it ends as soon as Kafka goes
away (an idle connection to it closes: Tansu never writes unasked) or stops holding the
topics (checked every `CHECK_INTERVAL_S`). Its clients are closed before Kafka is asked
again, so none of them auto-creates a topic meanwhile. Between sessions the ingress
answers 503 (nothing written; senders retry), `/healthz` says why, and the broker logs a
line per change of state rather than each retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from chatfn.local import provision
from chatfn.local.broker.config import Eventing

log = logging.getLogger("chatfn.broker")


class Dispatcher(Protocol):
    """What a session drives: one Trigger's dispatcher (chatfn.local.broker.dispatcher)."""

    assigned: bool  # the consumer group has given it its partitions
    wake: asyncio.Event  # set to make a dozing dispatcher fetch now

    async def run(self, lost: asyncio.Event) -> None: ...


CHECK_INTERVAL_S = 2.0  # how often a session checks that Kafka still holds its topics
JOINING_CHECK_S = 0.2  # how soon "delivering" is noticed (and logged) once groups are joined
BACKOFF_FIRST_S = 0.1  # between attempts to reach Kafka: doubling up to BACKOFF_MAX_S
BACKOFF_MAX_S = 2.0
CLOSE_TIMEOUT_S = 15.0  # a producer flushes what it holds first, for its request timeout
DELIVERING = "delivering"


class KafkaUnavailable(KafkaError):  # type: ignore[misc]
    """No session: nothing was written."""


class Link:
    def __init__(
        self, bootstrap_servers: str, eventing: Eventing, producer_options: Mapping[str, Any]
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.eventing = eventing
        self.producer_options = producer_options
        self.producer: AIOKafkaProducer | None = None  # set while a session runs
        self.state = "connecting to Kafka"
        self.sizes: dict[str, int] = {}  # partitions of each topic when the session started
        self.held: set[str] = set()  # topics seen with eventing's partitions

    def status(self, dispatchers: Sequence[Dispatcher]) -> tuple[bool, str]:
        """Can the broker take and deliver events now, and if not, why."""
        if self.producer is None:
            return False, self.state
        if not all(dispatcher.assigned for dispatcher in dispatchers):
            return False, "dispatchers are joining their consumer groups"
        return True, DELIVERING

    def _now(self, state: str, level: int = logging.WARNING) -> None:
        """Log a change of state, once."""
        if state != self.state:
            log.log(level, "Kafka: %s", state)
            self.state = state

    async def run(self, dispatchers: Sequence[Dispatcher]) -> None:
        """Hold sessions until cancelled, waiting longer each time Kafka cannot be had."""
        delay = BACKOFF_FIRST_S
        while True:
            if await self._prepare() and await self._session(dispatchers):
                delay = BACKOFF_FIRST_S
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _prepare(self) -> bool:
        """Make the topics as `eventing/` says; False if Kafka cannot be had yet."""
        try:
            changes = await provision.ensure_topics(
                self.bootstrap_servers, self.eventing, remake=self.held
            )
            self.sizes = await provision.topic_partitions(self.bootstrap_servers)
        except (KafkaError, OSError) as exc:
            self._now(f"unreachable ({type(exc).__name__})")
            return False
        if changes.created or changes.remade:
            made = ", ".join(changes.created + changes.remade)
            log.warning("Kafka: made topics %s (%d partitions)", made, self.eventing.partitions)
        wrong = [
            name
            for name in self.eventing.topics
            if name not in self.sizes
            or (name in self.held and self.sizes[name] != self.eventing.partitions)
        ]
        if wrong:  # deleted, or auto-created again by a client, in between: try again
            self._now(f"topics {', '.join(wrong)} are not as eventing/ says")
            return False
        for name in self.eventing.topics:
            if self.sizes[name] == self.eventing.partitions:
                self.held.add(name)
            else:
                log.warning(
                    "Kafka: topic %s has %d partitions, eventing/ says %d",
                    name, self.sizes[name], self.eventing.partitions,
                )  # fmt: skip
        return True

    def _problem(self, sizes: Mapping[str, int]) -> str | None:
        """What is wrong with Kafka's topics, compared with the session's start."""
        missing = [name for name in self.eventing.topics if name not in sizes]
        if missing:
            return f"lost topics {', '.join(missing)}"
        replaced = [name for name in self.eventing.topics if sizes[name] != self.sizes[name]]
        if replaced:
            return f"topics {', '.join(replaced)} were made again with other partitions"
        return None

    async def _session(self, dispatchers: Sequence[Dispatcher]) -> bool:
        """Run the clients until Kafka goes; True if they got as far as delivering."""
        lost = asyncio.Event()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, **self.producer_options
        )
        try:
            await producer.start()
        except KafkaError as exc:
            self._now(f"producer cannot start ({type(exc).__name__})")
            await close_client(producer)
            return False
        self._now("joining consumer groups", logging.INFO)
        self.producer = producer
        runs = [asyncio.create_task(dispatcher.run(lost)) for dispatcher in dispatchers]
        watch = asyncio.create_task(self._watch(dispatchers))
        try:
            await asyncio.wait([watch, *runs], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            for run in runs:  # the broker stops: so do deliveries (see Dispatcher.run)
                run.cancel()
            raise
        finally:
            self.producer = None
            lost.set()
            for dispatcher in dispatchers:
                dispatcher.wake.set()  # a dozing one returns now
            watch.cancel()
            results = await asyncio.gather(watch, *runs, return_exceptions=True)
            await close_client(producer)
        for result in results[1:]:
            if isinstance(result, KafkaError):
                self._now(f"a consumer failed ({type(result).__name__})")
            elif isinstance(result, Exception):
                raise result  # not Kafka's doing: a bug, which must not be retried quietly
        return results[0] is True

    async def _watch(self, dispatchers: Sequence[Dispatcher]) -> bool:
        """Return once Kafka is gone or no longer holds the topics; True if the session got
        as far as delivering."""
        # One admin client for the session's checks: a new one each time (two connections,
        # their handshakes) cost the idle broker 1.2 ms of CPU per check, a held one 0.2.
        try:
            async with provision.kafka_admin(self.bootstrap_servers) as admin:
                return await self._watch_with(admin, dispatchers)
        except (KafkaError, OSError) as exc:
            self._now(f"unreachable ({type(exc).__name__})")
            return False

    async def _watch_with(
        self, admin: AIOKafkaAdminClient, dispatchers: Sequence[Dispatcher]
    ) -> bool:
        checked = time.monotonic()
        delivered = False
        while True:
            opened = time.monotonic()
            try:
                reader, writer = await self._tripwire()
            except OSError as exc:
                self._now(f"unreachable ({type(exc).__name__})")
                return delivered
            try:
                while True:
                    delivering = self.status(dispatchers)[0]
                    if delivering:
                        self._now(DELIVERING, logging.INFO)
                        delivered = True
                    try:
                        async with asyncio.timeout(
                            CHECK_INTERVAL_S if delivering else JOINING_CHECK_S
                        ):
                            await reader.read(1)  # Kafka never writes unasked: it closed
                        closed = True
                    except TimeoutError:
                        closed = False
                    except OSError:
                        closed = True
                    if closed or time.monotonic() - checked >= CHECK_INTERVAL_S:
                        if problem := await self._check(admin):
                            self._now(problem)
                            return delivered
                        checked = time.monotonic()
                    if closed:
                        break  # a Kafka that is fine closed an idle connection: open another
            finally:
                writer.close()
            # Not more than one a CHECK_INTERVAL_S, should Kafka close every one at once.
            await asyncio.sleep(max(0.0, opened + CHECK_INTERVAL_S - time.monotonic()))

    async def _tripwire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """An idle connection to the first Kafka server that takes one."""
        error: OSError = ConnectionRefusedError("no Kafka server")
        for server in self.bootstrap_servers.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                return await asyncio.open_connection(host, int(port))
            except OSError as exc:
                error = exc
        raise error

    async def _check(self, admin: AIOKafkaAdminClient) -> str | None:
        try:
            sizes = await provision.partitions(admin)
        except (KafkaError, OSError) as exc:
            return f"unreachable ({type(exc).__name__})"
        return self._problem(sizes)


async def close_client(client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    """Stop a Kafka client, for a bounded time, and make sure its connections are closed.

    aiokafka's consumer can raise a CancelledError of its own from `stop()` when a fetch
    was failing (aio-libs/aiokafka#647), before it closes its connections, which would
    then go on reconnecting (and auto-creating topics) forever.
    """
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await client.stop()
        return
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
    except TimeoutError:
        log.warning("Kafka: a %s did not stop in %.0f s", type(client).__name__, CLOSE_TIMEOUT_S)
    connections = client.client if isinstance(client, AIOKafkaProducer) else client._client
    await connections.close()


class QuietRepeats(logging.Filter):
    """Lets one record of each aiokafka message through per `window_s`: while Kafka is away
    its clients log every reconnection attempt (ten a second each), and the broker already
    logs each change of state."""

    def __init__(self, window_s: float = 60.0) -> None:
        super().__init__()
        self.window_s = window_s
        self.last: dict[tuple[str, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiokafka"):
            return True
        now = time.monotonic()
        key = (record.name, record.msg)
        if now - self.last.get(key, -self.window_s) < self.window_s:
            return False
        self.last[key] = now
        return True
