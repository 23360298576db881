"""The broker ingress: CloudEvents in over HTTP, onto the broker's Kafka topic.

`POST /{namespace}/{broker}` takes a binary- or structured-mode event and answers 202
only once Kafka has acknowledged the write (acks=all), so an accepted event is never
lost, and 503 while the broker holds no Kafka session (see `link`): nothing is written,
and senders retry. `POST /sinks/{namespace}/{name}` is a KafkaSink (the dead-letter
sink). A bad envelope is a 400 with a JSON problem body, as for every chatfn endpoint.
`GET /healthz` is 200 only while events are both taken and delivered.
"""

from __future__ import annotations

from collections.abc import Callable

import stamina
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from cloudevents.exceptions import GenericException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatfn.local.broker.config import Eventing
from chatfn.local.broker.link import KafkaUnavailable, Link
from chatfn.local.broker.records import Record, http_to_record
from chatfn.problems import Problem

REINGEST_TIMEOUT_S = 60.0  # a reply waits this long for Kafka to come back


class Ingress:
    def __init__(
        self,
        eventing: Eventing,
        link: Link,
        status: Callable[[], tuple[bool, str]],
        written: Callable[[Record, RecordMetadata], None] = lambda record, metadata: None,
    ) -> None:
        self.eventing = eventing
        self.link = link
        self.status = status  # can events be taken and delivered now, and if not, why
        self.written = written  # told of every accepted write (wakes dozing dispatchers)
        self.app = Starlette(
            routes=[
                Route("/{namespace}/{broker}", self.broker, methods=["POST"]),
                Route("/sinks/{namespace}/{name}", self.kafka_sink, methods=["POST"]),
                Route("/healthz", self.health),
            ]
        )

    async def broker(self, request: Request) -> Response:
        params = request.path_params
        if (params["namespace"], params["broker"]) != (
            self.eventing.namespace,
            self.eventing.broker,
        ):
            return Problem(
                404, f"{params['namespace']}/{params['broker']}", title="No such broker"
            ).response()
        return await self._write(request, self.eventing.topic)

    async def kafka_sink(self, request: Request) -> Response:
        topic = self.eventing.kafka_sinks.get(request.path_params["name"])
        if topic is None or request.path_params["namespace"] != self.eventing.namespace:
            return Problem(404, request.path_params["name"], title="No such KafkaSink").response()
        return await self._write(request, topic)

    async def _write(self, request: Request, topic: str) -> Response:
        try:
            record = http_to_record(request.headers, await request.body())
        except GenericException as exc:
            return Problem(
                400,
                f"not a readable CloudEvent ({type(exc).__name__})",
                title="Malformed CloudEvent",
            ).response()
        try:
            await self.write(topic, record)
        except KafkaError as exc:
            # 503 is retryable for every sender: nothing was written, nothing is lost.
            detail = str(exc) if isinstance(exc, KafkaUnavailable) else type(exc).__name__
            return Problem(503, detail, title="Kafka unavailable").response()
        return Response(status_code=202)

    async def write(self, topic: str, record: Record) -> None:
        producer = self.link.producer
        if producer is None:
            raise KafkaUnavailable(self.link.state)
        key, value, headers = record
        metadata = await producer.send_and_wait(topic, value, key=key, headers=headers)
        self.written(record, metadata)

    @stamina.retry(on=KafkaError, attempts=None, timeout=REINGEST_TIMEOUT_S, wait_max=2.0)
    async def reingest(self, record: Record) -> None:
        """A reply event from a delivery, onto the broker's topic. Knative's dispatcher
        POSTs it to the ingress; here both run in one process, so it skips the HTTP hop."""
        await self.write(self.eventing.topic, record)

    async def health(self, request: Request) -> Response:
        """Ready while Kafka takes events and every Trigger's consumer has its partitions."""
        ok, detail = self.status()
        if not ok:
            return Problem(503, detail, title="Not ready").response()
        return JSONResponse({"status": "ok", "detail": detail})
