"""The Knative resources in `eventing/` that the local broker obeys.

Only the fields a Kafka Broker's data plane (and a PingSource's adapter) acts on are
modelled; everything else in the YAML (labels, annotations we do not use) is ignored.
Trigger delivery settings fall back field by field to the Broker's, as Knative does.
A PingSource's data is checked as Knative's webhook checks it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import isodate
import yaml
from pydantic import BaseModel, ConfigDict, Field

from chatfn.local.broker.filters import Filter, compile_filters

ORDERED_ANNOTATION = "kafka.eventing.knative.dev/delivery.order"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Metadata(_Spec):
    name: str
    namespace: str = "default"
    annotations: dict[str, str] = Field(default_factory=dict)


class Ref(_Spec):
    kind: str
    name: str
    namespace: str | None = None


class Destination(_Spec):
    ref: Ref | None = None
    uri: str | None = None


class DeliverySpec(_Spec):
    retry: int | None = Field(None, ge=0)
    backoff_policy: Literal["exponential", "linear"] | None = Field(None, alias="backoffPolicy")
    backoff_delay: str | None = Field(None, alias="backoffDelay")
    timeout: str | None = None
    dead_letter_sink: Destination | None = Field(None, alias="deadLetterSink")


class BrokerSpec(_Spec):
    delivery: DeliverySpec = Field(default_factory=DeliverySpec)


class TriggerSpec(_Spec):
    broker: str
    filter: dict[str, Any] | None = None
    filters: list[dict[str, Any]] | None = None
    subscriber: Destination
    delivery: DeliverySpec = Field(default_factory=DeliverySpec)


class CeOverrides(_Spec):
    # Knative's rule for extension names (knative.dev/pkg duck/v1 CloudEventOverrides).
    extensions: dict[Annotated[str, Field(pattern="^[a-zA-Z0-9]+$")], str] = Field(
        default_factory=dict
    )


class PingSourceSpec(_Spec):
    schedule: str = "* * * * *"  # Knative's default
    timezone: str | None = None
    content_type: str | None = Field(None, alias="contentType")
    data: str | None = None
    data_base64: str | None = Field(None, alias="dataBase64")
    sink: Destination
    ce_overrides: CeOverrides = Field(default_factory=CeOverrides, alias="ceOverrides")

    def body(self) -> bytes:
        """The event's data as the adapter sends it: `data` as given, `dataBase64` decoded;
        refused where Knative's webhook refuses the resource."""
        if self.data and self.data_base64:
            raise ValueError("data and dataBase64 are mutually exclusive")
        if self.data_base64:
            try:
                body = base64.b64decode(self.data_base64, validate=True)
            except binascii.Error as exc:
                raise ValueError(f"dataBase64 is not base64: {exc}") from exc
        else:
            body = (self.data or "").encode()
        json_data = body and self.content_type == "application/json"
        if json_data and not isinstance(json.loads(body), dict):
            raise ValueError("JSON data must be an object")
        return body


def _seconds(duration: str | None, default: float) -> float:
    if duration is None:
        return default
    parsed = isodate.parse_duration(duration)
    if not isinstance(parsed, timedelta):
        raise ValueError(f"duration {duration!r} must not use years or months")
    return float(parsed.total_seconds())


@dataclass(frozen=True)
class Delivery:
    retry: int
    backoff_policy: Literal["exponential", "linear"]
    backoff_delay_s: float
    timeout_s: float
    dead_letter_sink: Destination | None

    def backoff_s(self, retry_number: int) -> float:
        """Knative's delay before retry `retry_number` (1-based)."""
        if self.backoff_policy == "linear":
            return self.backoff_delay_s * retry_number
        return self.backoff_delay_s * 2.0 ** (retry_number - 1)

    @classmethod
    def merged(cls, trigger: DeliverySpec, broker: DeliverySpec) -> Delivery:
        def pick(name: str) -> Any:
            value = getattr(trigger, name)
            return getattr(broker, name) if value is None else value

        return cls(
            retry=pick("retry") or 0,
            backoff_policy=pick("backoff_policy") or "exponential",
            backoff_delay_s=_seconds(pick("backoff_delay"), 0.2),
            # Knative leaves it unbounded; a model reply can take minutes, so be generous.
            timeout_s=_seconds(pick("timeout"), 600.0),
            dead_letter_sink=pick("dead_letter_sink"),
        )


@dataclass(frozen=True)
class Trigger:
    name: str
    namespace: str
    subscriber: Destination
    filter: Filter
    delivery: Delivery
    ordered: bool

    @property
    def consumer_group(self) -> str:
        return f"knative-trigger-{self.namespace}-{self.name}"


@dataclass(frozen=True)
class PingSource:
    name: str
    namespace: str
    schedule: str
    timezone: str | None
    content_type: str | None
    data: bytes
    sink: Destination
    extensions: Mapping[str, str]

    @property
    def source(self) -> str:
        """The `source` of its events, as Knative names it."""
        return f"/apis/v1/namespaces/{self.namespace}/pingsources/{self.name}"


@dataclass(frozen=True)
class Eventing:
    namespace: str
    broker: str
    partitions: int
    triggers: list[Trigger]
    kafka_sinks: dict[str, str]  # KafkaSink name -> topic
    pings: list[PingSource]

    @property
    def topic(self) -> str:
        """The Kafka Broker's naming: one topic per broker."""
        return f"knative-broker-{self.namespace}-{self.broker}"

    @property
    def topics(self) -> list[str]:
        return [self.topic, *self.kafka_sinks.values()]


def _documents(folder: Path) -> Iterator[dict[str, Any]]:
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                yield document


def load_eventing(folder: Path) -> Eventing:
    """Read the Broker, its Triggers and KafkaSinks from the Knative YAML in `folder`."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for document in _documents(folder):
        by_kind.setdefault(document.get("kind", ""), []).append(document)
    brokers = by_kind.get("Broker", [])
    if len(brokers) != 1:
        raise ValueError(f"{folder}: expected one Broker, found {len(brokers)}")
    broker_meta = Metadata.model_validate(brokers[0]["metadata"])
    broker_spec = BrokerSpec.model_validate(brokers[0].get("spec", {}))
    config_maps = {
        Metadata.model_validate(c["metadata"]).name: c.get("data", {})
        for c in by_kind.get("ConfigMap", [])
    }
    partitions = int(config_maps.get("kafka-broker-config", {}).get("default.topic.partitions", 8))

    triggers = []
    for document in by_kind.get("Trigger", []):
        meta = Metadata.model_validate(document["metadata"])
        spec = TriggerSpec.model_validate(document["spec"])
        if spec.broker != broker_meta.name:
            continue
        triggers.append(
            Trigger(
                name=meta.name,
                namespace=meta.namespace,
                subscriber=spec.subscriber,
                filter=compile_filters(spec.filters, spec.filter),
                delivery=Delivery.merged(spec.delivery, broker_spec.delivery),
                ordered=meta.annotations.get(ORDERED_ANNOTATION) == "ordered",
            )
        )
    sinks = {
        Metadata.model_validate(s["metadata"]).name: str(s["spec"]["topic"])
        for s in by_kind.get("KafkaSink", [])
    }
    return Eventing(
        namespace=broker_meta.namespace,
        broker=broker_meta.name,
        partitions=partitions,
        triggers=triggers,
        kafka_sinks=sinks,
        pings=[_ping_source(document) for document in by_kind.get("PingSource", [])],
    )


def _ping_source(document: dict[str, Any]) -> PingSource:
    meta = Metadata.model_validate(document["metadata"])
    spec = PingSourceSpec.model_validate(document["spec"])
    try:
        data = spec.body()
    except ValueError as exc:
        raise ValueError(f"PingSource {meta.name}: {exc}") from exc
    return PingSource(
        name=meta.name,
        namespace=meta.namespace,
        schedule=spec.schedule,
        timezone=spec.timezone,
        content_type=spec.content_type,
        data=data,
        sink=spec.sink,
        extensions=spec.ce_overrides.extensions,
    )
