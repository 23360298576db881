"""The local broker's Kafka figures, named as Strimzi's Kafka Exporter names them.

In production the Kafka Exporter reports each consumer group's lag and each topic's
latest offsets; the local broker reports the same series for its own groups and
topics, so one dashboard and one set of alerts (observability/) serve both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aiokafka.structs import RecordMetadata
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from chatfn.local.broker.dispatcher import Dispatcher


class KafkaFigures:
    def __init__(self, dispatchers: Sequence[Dispatcher]) -> None:
        self.dispatchers = dispatchers
        self.ends: dict[
            tuple[str, int], int
        ] = {}  # (topic, partition): offset after the last write
        meter = metrics.get_meter("chatfn.broker")
        meter.create_observable_gauge(
            "kafka_topic_partition_current_offset",
            callbacks=[self._ends],
            description="The offset after the last record the broker wrote, per partition",
        )
        meter.create_observable_gauge(
            "kafka_consumergroup_lag",
            callbacks=[self._lags],
            description="Records a Trigger's consumer group has not committed yet",
        )

    def written(self, metadata: RecordMetadata) -> None:
        where = (metadata.topic, metadata.partition)
        self.ends[where] = max(self.ends.get(where, 0), metadata.offset + 1)

    def _ends(self, options: CallbackOptions) -> Iterable[Observation]:
        for (topic, partition), end in self.ends.items():
            yield Observation(end, {"topic": topic, "partition": str(partition)})

    def _lags(self, options: CallbackOptions) -> Iterable[Observation]:
        for dispatcher in self.dispatchers:
            consumer = dispatcher.consumer
            if consumer is None:  # between Kafka sessions
                continue
            for partition, committed in dispatcher.committed.items():
                end = consumer.highwater(partition)
                if end is not None:
                    yield Observation(
                        max(0, end - committed),
                        {
                            "consumergroup": dispatcher.trigger.consumer_group,
                            "topic": partition.topic,
                            "partition": str(partition.partition),
                        },
                    )
