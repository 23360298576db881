"""The local broker against real Tansu, with real HTTP subscribers."""

from __future__ import annotations

import asyncio
import base64
import random
from collections import defaultdict
from pathlib import Path
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaProducer
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from chatfn.db import create_engine
from chatfn.events.catalog import MessageSendRequested, MessageSent, new_event, parse_event
from chatfn.events.emit import publish
from chatfn.events.idempotency import first_delivery
from chatfn.local.broker import topics
from chatfn.local.broker.records import to_record
from chatfn.settings import Settings
from tests.utils.broker import (
    LocalBroker,
    Subscriber,
    conversations_on,
    eventually,
    partition_of,
    reply_with,
    trigger,
    write_eventing,
)
from tests.utils.events import send_requested


def in_conversation(conversation: UUID, content: str) -> CloudEvent:
    payload = send_requested(content).model_copy(update={"conversation_id": conversation})
    return new_event(payload, source="/tests")


def contents(subscriber: Subscriber) -> list[str]:
    return [event.data["content"] for event in subscriber.received]


async def post_all(broker: LocalBroker, events: list[CloudEvent]) -> None:
    async with httpx.AsyncClient() as client:
        for event in events:
            await publish(event, broker.url, client)


async def test_only_events_that_pass_a_triggers_filter_are_delivered(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    sent_events = Subscriber()
    everything = Subscriber()
    async with sent_events.running(), everything.running():
        folder = write_eventing(
            tmp_path,
            name,
            trigger(
                "on-sent",
                sent_events.url,
                filters=[{"exact": {"type": "io.chatfn.message.send.requested"}}],
            ),
            trigger("all", everything.url),
        )
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            wanted = new_event(send_requested(), source="/tests")
            other = new_event(send_requested(), source="/tests")
            other["type"] = "io.chatfn.other.happened"
            await post_all(broker, [wanted, other])
            await eventually(lambda: len(everything.received) == 2)
            await eventually(lambda: len(sent_events.received) == 1)
            await broker.settled("on-sent")  # it has seen the other event too, and let it be

    assert sent_events.ids() == [wanted["id"]]
    assert sorted(everything.ids()) == sorted([wanted["id"], other["id"]])
    assert sent_events.received[0].data == wanted.data


async def test_an_event_written_to_kafka_by_another_producer_is_delivered(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    # Dispatchers doze until their ingress writes an event for them; one written
    # straight to the topic must still arrive, by the dozing dispatcher's own check.
    subscriber = Subscriber()
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("all", subscriber.url))
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            await asyncio.sleep(0.5)  # the dispatcher has nothing to do, and dozes
            event = new_event(send_requested(), source="/tests")
            key, value, headers = to_record(event)
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
            await producer.start()
            try:
                await producer.send_and_wait(broker.eventing.topic, value, key=key, headers=headers)
            finally:
                await producer.stop()
            await eventually(lambda: len(subscriber.received) == 1, within=10)

    assert subscriber.ids() == [event["id"]]


async def test_an_ordered_trigger_delivers_each_conversation_in_order(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    async def slow_and_uneven(event: CloudEvent) -> Response:
        await asyncio.sleep(random.uniform(0, 0.01))  # noqa: S311 (jitter, not security)
        return Response(status_code=200)

    subscriber = Subscriber(slow_and_uneven)
    conversations = [uuid4() for _ in range(6)]
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("ordered", subscriber.url, ordered=True))
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            # Each conversation's producer sends in order; the six run concurrently.
            await asyncio.gather(
                *(
                    post_all(broker, [in_conversation(c, f"{i}") for i in range(15)])
                    for c in conversations
                )
            )
            await eventually(lambda: len(subscriber.received) == 90)

    seen: dict[str, list[str]] = defaultdict(list)
    for event in subscriber.received:
        seen[event["partitionkey"]].append(event.data["content"])
    assert set(seen) == {str(c) for c in conversations}
    for contents in seen.values():
        assert contents == [str(i) for i in range(15)]


async def test_a_transient_failure_is_retried_until_it_succeeds(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    statuses = [503, 429, 202]

    async def flaky(event: CloudEvent) -> Response:
        return Response(status_code=statuses.pop(0))

    subscriber = Subscriber(flaky)
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("flaky", subscriber.url))
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            event = new_event(send_requested(), source="/tests")
            await post_all(broker, [event])
            await eventually(lambda: len(subscriber.received) == 3)
            await broker.settled("flaky")  # any dead letter would be written by now
            dead_letters = await broker.dead_letter_count()

    assert subscriber.ids() == [event["id"]] * 3
    assert dead_letters == 0


async def test_a_400_goes_straight_to_the_dead_letter_sink_with_the_error(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    async def refuse(event: CloudEvent) -> Response:
        return JSONResponse({"title": "Malformed CloudEvent"}, status_code=400)

    subscriber = Subscriber(refuse)
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("refusing", subscriber.url))
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            event = new_event(send_requested(), source="/tests")
            await post_all(broker, [event])
            dead = await broker.dead_letters(expected=1)

    assert subscriber.ids() == [event["id"]]  # not retried
    assert [d["id"] for d in dead] == [event["id"]]
    assert dead[0]["knativeerrorcode"] == "400"
    assert dead[0]["knativeerrordest"] == subscriber.url
    assert base64.b64decode(dead[0]["knativeerrordata"]) == b'{"title":"Malformed CloudEvent"}'
    assert dead[0].data == event.data


async def test_retries_that_run_out_end_in_the_dead_letter_sink(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    async def broken(event: CloudEvent) -> Response:
        return Response(status_code=500)

    subscriber = Subscriber(broken)
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("broken", subscriber.url))
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            event = new_event(send_requested(), source="/tests")
            await post_all(broker, [event])
            dead = await broker.dead_letters(expected=1)

    assert subscriber.ids() == [event["id"]] * 3  # the first try and the broker's 2 retries
    assert dead[0]["knativeerrorcode"] == "500"


async def test_a_poison_event_does_not_stall_other_keys_on_an_unordered_trigger(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    poison = uuid4()

    async def poisoned(event: CloudEvent) -> Response:
        return Response(status_code=500 if event["partitionkey"] == str(poison) else 200)

    subscriber = Subscriber(poisoned)
    # The poison's retries come 10, 30 and 60 s after its first try.
    delivery = {"retry": 3, "backoffDelay": "PT10S", "backoffPolicy": "linear"}
    async with subscriber.running():
        folder = write_eventing(
            tmp_path, name, trigger("unordered", subscriber.url, delivery=delivery)
        )
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            poisonous = in_conversation(poison, "poison")
            await post_all(broker, [poisonous])
            await eventually(lambda: poisonous["id"] in subscriber.ids())
            # Sent while the poison waits out its backoff, with keys of its own partition:
            # the ones a stall would hold up.
            its_partition = partition_of(str(poison), broker.eventing.partitions)
            keys = conversations_on(broker.eventing.partitions, 20, its_partition.__eq__)
            healthy = [in_conversation(key, str(i)) for i, key in enumerate(keys)]
            await post_all(broker, healthy)
            await eventually(lambda: {e["id"] for e in healthy} <= set(subscriber.ids()), within=45)
            poison_tries = subscriber.ids().count(poisonous["id"])

    assert poison_tries < 4, "the others waited for the poison's retries to run out"


async def test_an_ordered_poison_event_stalls_only_its_own_partition_for_its_backoff(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    poison = uuid4()

    async def poisoned(event: CloudEvent) -> Response:
        return Response(status_code=500 if event.data["content"] == "poison" else 200)

    subscriber = Subscriber(poisoned)
    delivery = {"retry": 1, "backoffDelay": "PT8S", "backoffPolicy": "linear"}
    async with subscriber.running():
        folder = write_eventing(
            tmp_path, name, trigger("ordered", subscriber.url, delivery=delivery, ordered=True)
        )
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            stuck = [in_conversation(poison, "poison"), in_conversation(poison, "after")]
            await post_all(broker, stuck)
            await eventually(lambda: "poison" in contents(subscriber))
            # Sent while the poison waits out its 8 s backoff, to every other partition.
            its_partition = partition_of(str(poison), broker.eventing.partitions)
            keys = conversations_on(broker.eventing.partitions, 20, its_partition.__ne__)
            await post_all(broker, [in_conversation(key, "other") for key in keys])
            await eventually(lambda: contents(subscriber).count("other") == 20)
            poison_tries_meanwhile = contents(subscriber).count("poison")
            await eventually(lambda: "after" in contents(subscriber))
            dead = await broker.dead_letters(expected=1)

    assert poison_tries_meanwhile == 1, "the other partitions waited for the poison's backoff"
    assert [d.data["content"] for d in dead] == ["poison"]
    in_poisoned_conversation = [
        e.data["content"] for e in subscriber.received if e["partitionkey"] == str(poison)
    ]
    assert in_poisoned_conversation == ["poison", "poison", "after"]


async def test_a_reply_event_goes_back_through_the_broker(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    async def answer_with_a_fact(event: CloudEvent) -> Response:
        request = event.data
        fact = MessageSent(
            **{k: request[k] for k in ("user_id", "conversation_id", "message_id", "reply_id")},
            content=request["content"],
            model="test-model",
        )
        return reply_with(new_event(fact, source="/tests/send_message"))

    commands = Subscriber(answer_with_a_fact)
    facts = Subscriber()
    async with commands.running(), facts.running():
        folder = write_eventing(
            tmp_path,
            name,
            trigger(
                "commands",
                commands.url,
                filters=[{"exact": {"type": "io.chatfn.message.send.requested"}}],
            ),
            trigger("facts", facts.url, filters=[{"exact": {"type": "io.chatfn.message.sent"}}]),
        )
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            command = new_event(send_requested("hi"), source="/tests")
            await post_all(broker, [command])
            await eventually(lambda: len(facts.received) == 1)

    fact = facts.received[0]
    assert fact["type"] == "io.chatfn.message.sent"
    assert fact["source"] == "/tests/send_message"
    assert fact["partitionkey"] == command["partitionkey"]
    assert fact.data["content"] == "hi"


async def test_a_broker_killed_mid_delivery_loses_nothing_when_it_restarts(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    async def slow(event: CloudEvent) -> Response:
        await asyncio.sleep(0.02)
        return Response(status_code=200)

    subscriber = Subscriber(slow)
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("slow", subscriber.url, ordered=True))
        broker = LocalBroker(folder, settings.kafka_bootstrap_servers)
        await broker.create_topics()
        with broker.process(settings) as first:
            await broker.wait_ready()
            events = [in_conversation(uuid4(), str(i)) for i in range(200)]
            await post_all(broker, events)
            await eventually(lambda: len(subscriber.received) >= 30)
            first.kill()
        delivered_before_kill = len(set(subscriber.ids()))
        with broker.process(settings):
            await broker.wait_ready()
            await eventually(lambda: set(subscriber.ids()) >= {e["id"] for e in events}, within=60)

    assert delivered_before_kill < len(events), "the kill came too late to prove anything"
    assert set(subscriber.ids()) == {e["id"] for e in events}


async def test_dead_letters_are_listed_then_replayed_once_without_their_error(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    fixed = False

    async def refuse_until_fixed(event: CloudEvent) -> Response:
        return Response(status_code=202 if fixed else 400)

    subscriber = Subscriber(refuse_until_fixed)
    servers = settings.kafka_bootstrap_servers
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("refusing", subscriber.url))
        async with LocalBroker(folder, servers).running() as broker:
            event = new_event(send_requested(), source="/tests")
            await post_all(broker, [event])
            await broker.dead_letters(expected=1)

            pending = await topics.pending_dead_letters(servers, broker.eventing)
            fixed = True
            replayed = await topics.replay_dead_letters(servers, broker.eventing, broker.url)
            await eventually(lambda: len(subscriber.received) == 2)
            pending_after = await topics.pending_dead_letters(servers, broker.eventing)

    assert [letter.event["id"] for letter in pending] == [event["id"]]
    assert pending[0].event["knativeerrorcode"] == "400"
    assert [letter.event["id"] for letter in replayed] == [event["id"]]
    again = subscriber.received[1]
    assert again["id"] == event["id"]
    assert again.data == event.data
    assert not {"knativeerrorcode", "knativeerrordest"} & set(again.get_attributes())
    assert pending_after == []


async def test_tail_prints_the_log_from_the_beginning(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    folder = write_eventing(tmp_path, name)
    async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
        sent = [new_event(send_requested(str(i)), source="/tests") for i in range(3)]
        await post_all(broker, sent)
        seen: list[str] = []

        async def read_three() -> None:
            async for event in topics.tail(
                settings.kafka_bootstrap_servers, broker.eventing.topic, from_beginning=True
            ):
                seen.append(event["id"])
                if len(seen) == len(sent):
                    return

        await asyncio.wait_for(read_three(), timeout=30)

    assert sorted(seen) == sorted(e["id"] for e in sent)


async def test_an_event_delivered_twice_changes_the_database_once(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    table = name.replace("-", "_")
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE TABLE {table} (content text)"))

    async def idempotent(event: CloudEvent) -> Response:
        received = parse_event(*to_binary(event), MessageSendRequested)
        async with engine.begin() as conn:
            if await first_delivery(conn, received, consumer="test"):
                insert = text(f"INSERT INTO {table} VALUES (:content)")
                await conn.execute(insert, {"content": received.payload.content})
        return Response(status_code=200)

    subscriber = Subscriber(idempotent)
    try:
        async with subscriber.running():
            folder = write_eventing(tmp_path, name, trigger("idempotent", subscriber.url))
            async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
                event = new_event(send_requested("once"), source="/tests")
                await post_all(broker, [event, event])  # a producer's retry, say
                await eventually(lambda: len(subscriber.received) == 2)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT content FROM {table}"))).scalars().all()
    finally:
        await engine.dispose()

    assert subscriber.ids() == [event["id"], event["id"]]
    assert rows == ["once"]
