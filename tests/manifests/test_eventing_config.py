from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from chatfn.local.broker.config import load_eventing
from chatfn.local.provision import PROJECT_ROOT

BROKER: dict[str, object] = {
    "apiVersion": "eventing.knative.dev/v1",
    "kind": "Broker",
    "metadata": {"name": "default", "namespace": "chatfn"},
    "spec": {
        "delivery": {
            "retry": 3,
            "backoffPolicy": "exponential",
            "backoffDelay": "PT0.5S",
            "deadLetterSink": {"ref": {"kind": "KafkaSink", "name": "dead-letter"}},
        }
    },
}


def trigger(name: str, **spec: object) -> dict[str, object]:
    metadata: dict[str, object] = {"name": name, "namespace": "chatfn"}
    if spec.pop("ordered", False):
        metadata["annotations"] = {"kafka.eventing.knative.dev/delivery.order": "ordered"}
    return {
        "kind": "Trigger",
        "metadata": metadata,
        "spec": {"broker": "default", "subscriber": {"uri": "http://x/"}, **spec},
    }


def write(folder: Path, *documents: Mapping[str, object]) -> Path:
    (folder / "100-all.yaml").write_text(yaml.safe_dump_all(documents))
    return folder


def test_the_projects_eventing_folder_loads() -> None:
    eventing = load_eventing(PROJECT_ROOT / "eventing")
    assert eventing.topic == "knative-broker-chatfn-default"
    assert eventing.kafka_sinks == {"dead-letter": "knative-broker-chatfn-dead-letter"}
    assert eventing.partitions == 8


def test_trigger_delivery_falls_back_field_by_field_to_the_broker(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        BROKER,
        trigger("plain"),
        trigger("own", delivery={"retry": 1, "backoffPolicy": "linear", "timeout": "PT10M"}),
        trigger("ordered", ordered=True),
    )
    triggers = {t.name: t for t in load_eventing(folder).triggers}

    plain, own = triggers["plain"].delivery, triggers["own"].delivery
    assert (plain.retry, plain.backoff_policy, plain.timeout_s) == (3, "exponential", 600.0)
    assert [plain.backoff_s(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert (own.retry, own.backoff_policy, own.timeout_s) == (1, "linear", 600.0)
    assert [own.backoff_s(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    assert own.dead_letter_sink is not None
    assert triggers["ordered"].ordered is True
    assert triggers["plain"].ordered is False
    assert triggers["plain"].consumer_group == "knative-trigger-chatfn-plain"


def test_triggers_of_other_brokers_are_not_ours(tmp_path: Path) -> None:
    other = trigger("elsewhere")
    other["spec"]["broker"] = "other"  # type: ignore[index]
    assert load_eventing(write(tmp_path, BROKER, other)).triggers == []


def test_a_folder_without_exactly_one_broker_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one Broker"):
        load_eventing(write(tmp_path, trigger("orphan")))


# Its answer is only wanted while a sign-up waits (REGISTER_TIMEOUT_S): later is too late.
SHORT_BUDGET = {"api-on-user-register-result"}


def test_every_triggers_retries_outlast_a_restart_of_its_subscriber() -> None:
    """A function restarting (a deploy, a crash, a cold start on a busy node) takes tens of
    seconds: retries that give up sooner dead-letter events nothing was wrong with."""
    eventing = load_eventing(PROJECT_ROOT / "eventing")
    budgets = {
        trigger.name: sum(
            trigger.delivery.backoff_s(n) for n in range(1, trigger.delivery.retry + 1)
        )
        for trigger in eventing.triggers
        if trigger.name not in SHORT_BUDGET
    }

    assert {name: s for name, s in budgets.items() if s < 60} == {}
    assert {trigger.name for trigger in eventing.triggers} >= SHORT_BUDGET


def test_a_reply_is_never_left_waiting_on_an_event_given_up_on() -> None:
    """The Triggers on a reply's way dead-letter through `api`, which ends the reply."""
    eventing = load_eventing(PROJECT_ROOT / "eventing")
    on_the_way = {"send-message-on-message-requests", "generate-reply-on-message-sent"}
    sinks = {
        trigger.name: trigger.delivery.dead_letter_sink
        for trigger in eventing.triggers
        if trigger.name in on_the_way
    }

    assert set(sinks) == on_the_way
    for sink in sinks.values():
        assert sink is not None
        assert sink.ref is not None
        assert (sink.ref.kind, sink.ref.name, sink.uri) == ("Service", "api", "/events/dead-letter")
