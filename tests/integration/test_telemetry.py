"""What an operator sees of one chat: its trace across every hop, and the metrics it moves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import httpx
from prometheus_client.parser import text_string_to_metric_families

from chatfn.local.stack import Stack
from chatfn.local.traces import Span, Trace, TraceNotFound, trace_of
from chatfn.settings import Settings
from tests.utils.accounts import browser, sign_up
from tests.utils.chat import (
    conversation_when,
    new_conversation,
    read_stream,
    script,
    send,
)
from tests.utils.stack import until_serving
from tests.utils.waiting import until

SEND = "POST /api/conversations/{conversation_id}/messages"
# The chat's path, each hop the child of the one before it.
CHAIN = (
    SEND,
    "deliver io.chatfn.message.send.requested",
    "send_message io.chatfn.message.send.requested",
    "deliver io.chatfn.message.sent",
    "generate_reply io.chatfn.message.sent",
    "chat scripted",
    "redis XADD first delta",
)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def chat(settings: Settings, name: str, content: str) -> str:
    """One chat through the gateway, read to its end and persisted; its reply id."""
    async with browser(settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, content)
        await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        await conversation_when(client, user, conversation, settled=1)
    return str(accepted["reply_id"])


async def whole_trace(settings: Settings, reply_id: str, *names: str) -> Trace:
    """The reply's trace once every span named has been written and they hang together
    (each process writes its spans in batches, a parent's after its children's)."""
    found: list[Trace] = []

    async def written() -> bool:
        try:
            found[:] = [trace_of(settings.home, reply_id)]
        except TraceNotFound:
            return False
        trace = found[0]
        return set(names) <= {span.name for span in trace.spans} and len(trace.roots) == 1

    with contextlib.suppress(TimeoutError):  # the assertions say what is missing
        await until(written, within=20)
    assert found, f"no span of reply {reply_id} was written"
    return found[0]


def ancestry(trace: Trace, span: Span) -> list[Span]:
    """`span`, its parent, its parent's parent ... as far as they were recorded."""
    by_id = {each.span_id: each for each in trace.spans}
    line = [span]
    while line[-1].parent_id in by_id:
        line.append(by_id[str(line[-1].parent_id)])
    return line


def named(trace: Trace, name: str) -> list[Span]:
    return [span for span in trace.spans if span.name == name]


async def test_one_chat_is_one_trace_with_a_span_for_every_hop_in_order(
    stack_settings: Settings, name: str
) -> None:
    reply_id = await chat(stack_settings, name, f"{script(tokens=6)} Hello")
    names = (*CHAIN, "publish io.chatfn.message.send.requested", "db decide", "db prompt",
             "sse reply", "persist_history io.chatfn.reply.completed")  # fmt: skip
    trace = await whole_trace(stack_settings, reply_id, *names)

    assert [root.name for root in trace.roots] == [SEND]
    [root] = trace.roots
    assert root.attributes["chatfn.reply_id"] == reply_id
    [first_delta] = named(trace, CHAIN[-1])
    chain = ancestry(trace, first_delta)[::-1]
    assert [span.name for span in chain] == list(CHAIN)
    starts = [span.start_time for span in chain]
    assert starts == sorted(starts)
    parents = {
        "db decide": chain[2],
        "db prompt": chain[4],
        "publish io.chatfn.message.send.requested": root,
        "sse reply": root,
    }
    for name_, parent in parents.items():
        [span] = named(trace, name_)
        assert span.parent_id == parent.span_id, name_
    assert chain[5].attributes["gen_ai.usage.output_tokens"] == 6
    [stream] = named(trace, "sse reply")
    assert stream.attributes["chatfn.reply_id"] == reply_id
    assert stream.end_time >= chain[-1].end_time  # it carried the reply to its end
    # No unexplained time: each span starts while one of its ancestors is still open, or
    # after a gap shorter than itself. Not the stream: it starts when the browser connects,
    # whenever after the 202 that is, and no server sees the time in between.
    for span in trace.spans:
        if span is stream:
            continue
        if ancestors := ancestry(trace, span)[1:]:
            latest_end = max(ancestor.end_time for ancestor in ancestors)
            gap = (span.start_time - latest_end).total_seconds() * 1000
            assert gap <= span.duration_ms, f"{span.name} starts {gap:.1f} ms after its ancestors"


async def scrape(stack: Stack) -> Samples:
    """Every chatfn_* sample of every process of the stack, summed over processes."""
    samples: Samples = {}
    async with httpx.AsyncClient(timeout=10) as client:
        pages = await asyncio.gather(*(client.get(url) for url in stack.metrics_urls().values()))
    for page in pages:
        for family in text_string_to_metric_families(page.text):
            for sample in family.samples:
                if sample.name.startswith("chatfn_") and "le" not in sample.labels:
                    labels = frozenset(
                        (k, v) for k, v in sample.labels.items() if not k.startswith("otel_")
                    )
                    key = (sample.name, labels)
                    samples[key] = samples.get(key, 0) + sample.value
    return samples


def moved(before: Samples, after: Samples, metric: str, **labels: str) -> float:
    """How much the samples of `metric` with these labels grew."""
    wanted = set(labels.items())
    return sum(
        value - before.get(key, 0)
        for key, value in after.items()
        if key[0] == metric and wanted <= key[1]
    )


async def test_one_chat_moves_each_counter_by_exactly_one(
    destructive_stack: Settings, name: str
) -> None:
    stack = Stack(destructive_stack)
    await until_serving(destructive_stack, name)  # after a test that restarted a server
    await until(lambda: _settled(stack, {}), within=20)  # that chat's titles included
    before = await scrape(stack)
    await chat(destructive_stack, name, f"{script(tokens=6)} Hello")
    # A process's counts include a request still being answered: titles ends last.
    await until(lambda: _settled(stack, before), within=20)
    after = await scrape(stack)

    assert moved(before, after, "chatfn_replies_total", state="done", code="") == 1
    assert moved(before, after, "chatfn_reply_time_to_first_token_seconds_count") == 1
    assert moved(before, after, "chatfn_reply_tokens_per_second_count") == 1
    assert moved(before, after, "chatfn_reply_time_to_first_token_seconds_sum") > 0
    for function, event in (
        ("send_message", "io.chatfn.message.send.requested"),
        ("generate_reply", "io.chatfn.message.sent"),
        ("titles", "io.chatfn.reply.completed"),
    ):
        assert moved(before, after, "chatfn_handler_duration_seconds_count",
                     function=function, kind="event", name=event, outcome="ok") == 1  # fmt: skip
    assert moved(before, after, "chatfn_handler_duration_seconds_count",
                 function="api", kind="http", name=f"{SEND}") == 1  # fmt: skip
    assert moved(before, after, "chatfn_handler_duration_seconds_count", outcome="error") == 0
    assert moved(before, after, "chatfn_sse_open_streams") == 0  # opened, then closed


async def _settled(stack: Stack, before: Samples) -> bool:
    after = await scrape(stack)
    return moved(before, after, "chatfn_handler_duration_seconds_count", function="titles") >= 1


async def test_a_model_failure_counts_its_error_code(
    destructive_stack: Settings, name: str
) -> None:
    stack = Stack(destructive_stack)
    await until_serving(destructive_stack, name)  # after a test that restarted a server
    before = await scrape(stack)
    await chat(destructive_stack, name, f"{script(id=name, status=400)} Hello")
    after = await scrape(stack)

    assert moved(before, after, "chatfn_replies_total", state="error", code="model_refused") == 1
    assert moved(before, after, "chatfn_replies_total", state="done") == 0
    assert moved(before, after, "chatfn_reply_time_to_first_token_seconds_count") == 0


async def test_the_local_prometheus_scrapes_the_functions_and_status_shows_figures(
    stack_settings: Settings, name: str
) -> None:
    prometheus = Stack(stack_settings).prometheus_url()
    assert prometheus, "the test stack runs Prometheus (CHATFN_PROMETHEUS=1 in Taskfile's test)"
    await chat(stack_settings, name, f"{script(tokens=3)} Hello")

    async def scraped() -> bool:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(
                f"{prometheus}/api/v1/query",
                params={"query": 'chatfn_replies_total{job="generate_reply"}'},
            )
        return bool(answer.json()["data"]["result"])

    await until(scraped, within=30)
    status = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatfn.local", "status",
        env=os.environ | {"CHATFN_HOME": str(stack_settings.home), "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    shown = (await asyncio.wait_for(status.communicate(), 60))[0].decode()
    assert "time to first token" in shown, shown
