"""The scripted model server, driven in process through the real openai SDK."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from starlette.types import ASGIApp, Message

from chatfn.local.scripted_model import create_app


class _AppBody(httpx2.AsyncByteStream):
    def __init__(
        self,
        sent: asyncio.Queue[Message | None],
        closed: asyncio.Event,
        app_run: asyncio.Task[None],
    ) -> None:
        self.sent = sent
        self.closed = closed
        self.app_run = app_run

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (message := await self.sent.get()) is not None:
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return
        raise httpx2.ReadError("the server dropped the connection mid-body")

    async def aclose(self) -> None:
        self.closed.set()
        await self.app_run  # re-raises what the app raised


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """`httpx2.ASGITransport`, except that the body streams while the app sends it.

    The SDK of this project is typed on httpx2. Its `ASGITransport` (as httpx's) runs the app
    to the end before it answers and re-raises an app's exception instead of answering, so a
    stream breaking after N tokens would look like a request that never got an answer. Here
    a body the app leaves unfinished ends in `httpx2.ReadError`, as a dropped connection does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 123),
            "root_path": "",
        }
        sent: asyncio.Queue[Message | None] = asyncio.Queue()
        closed = asyncio.Event()
        requested = False

        async def receive() -> Message:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await closed.wait()
            return {"type": "http.disconnect"}

        async def run() -> None:
            try:
                await self.app(scope, receive, sent.put)
            finally:
                sent.put_nowait(None)

        app_run = asyncio.create_task(run())
        start = await sent.get()
        if start is None:
            await app_run
            raise httpx2.RemoteProtocolError("the app answered nothing", request=request)
        return httpx2.Response(
            start["status"],
            headers=start.get("headers", []),
            stream=_AppBody(sent, closed, app_run),
        )


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    transport = StreamingASGITransport(create_app())
    async with httpx2.AsyncClient(transport=transport, base_url="http://model") as client:
        yield client


@pytest.fixture
def model(http: httpx2.AsyncClient) -> AsyncOpenAI:
    return AsyncOpenAI(base_url="http://model/v1", api_key="any", http_client=http, max_retries=0)


def ask(directive: str, partial: str | None = None) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are scripted."},
        {"role": "user", "content": f"Say something. {directive}"},
    ]
    if partial is not None:
        messages.append({"role": "assistant", "content": partial})
    return messages


async def received(chunks: AsyncIterator[ChatCompletionChunk], into: list[str]) -> None:
    async for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            into.append(chunk.choices[0].delta.content)


async def cut_short(model: AsyncOpenAI, messages: list[ChatCompletionMessageParam]) -> list[str]:
    """The tokens a streamed answer sent before its connection dropped."""
    tokens: list[str] = []
    stream = await model.chat.completions.create(model="scripted", messages=messages, stream=True)
    with pytest.raises(openai.APIConnectionError):
        await received(stream, tokens)
    return tokens


async def answer(
    model: AsyncOpenAI,
    messages: list[ChatCompletionMessageParam],
    stream: bool,
    max_tokens: int | None = None,
) -> tuple[str, str | None]:
    """(text, finish_reason) of one answer, streamed or not."""
    if stream:
        chunks = await model.chat.completions.create(
            model="scripted", messages=messages, stream=True, max_tokens=max_tokens
        )
        parts = [chunk.choices[0] async for chunk in chunks]
        return "".join(part.delta.content or "" for part in parts), parts[-1].finish_reason
    completion = await model.chat.completions.create(
        model="scripted", messages=messages, max_tokens=max_tokens
    )
    return completion.choices[0].message.content or "", completion.choices[0].finish_reason


async def test_models_lists_the_scripted_model(model: AsyncOpenAI) -> None:
    assert [m.id async for m in model.models.list()] == ["scripted"]


async def test_a_streamed_answer_ends_with_stop_then_usage(model: AsyncOpenAI) -> None:
    stream = await model.chat.completions.create(
        model="scripted",
        messages=ask("[[script tokens=5]]"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "w0 w1 w2 w3 w4 "
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + 5 > 5


async def test_a_plain_answer_is_one_completion(model: AsyncOpenAI) -> None:
    completion = await model.chat.completions.create(model="scripted", messages=ask("[[script]]"))

    assert completion.choices[0].message.content == "w0 w1 w2 w3 w4 w5 w6 w7 "
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 8


@pytest.mark.parametrize("stream", [True, False])
async def test_max_tokens_cuts_the_answer_with_length(model: AsyncOpenAI, stream: bool) -> None:
    text, finish = await answer(model, ask("[[script tokens=10]]"), stream, max_tokens=4)

    assert text == "w0 w1 w2 w3 "
    assert finish == "length"


async def test_a_continuation_gets_exactly_the_rest(model: AsyncOpenAI) -> None:
    rest: list[str] = []
    stream = await model.chat.completions.create(
        model="scripted", messages=ask("[[script tokens=6]]", partial="w0 w1 "), stream=True
    )
    await received(stream, rest)

    assert rest == ["w2 ", "w3 ", "w4 ", "w5 "]


@pytest.mark.parametrize("partial", ["w0 w2 ", "w0 w1", "w0 w1 w2 w3 w4 w5 w6 "])
async def test_a_continuation_of_a_wrong_prefix_is_refused(
    model: AsyncOpenAI, partial: str
) -> None:
    with pytest.raises(openai.BadRequestError):
        await model.chat.completions.create(
            model="scripted", messages=ask("[[script tokens=6]]", partial=partial)
        )


@pytest.mark.parametrize(
    ("status", "error"), [(429, openai.RateLimitError), (503, openai.InternalServerError)]
)
async def test_a_scripted_status_answers_that_many_times(
    model: AsyncOpenAI, status: int, error: type[openai.APIStatusError]
) -> None:
    messages = ask(f"[[script id=busy status={status} status_times=2]]")
    for _ in range(2):
        with pytest.raises(error) as refused:
            await model.chat.completions.create(model="scripted", messages=messages)
        assert refused.value.status_code == status
        assert refused.value.response.headers["retry-after"] == "0"

    completion = await model.chat.completions.create(model="scripted", messages=messages)
    assert completion.choices[0].message.content == "w0 w1 w2 w3 w4 w5 w6 w7 "


async def test_a_disconnect_breaks_the_stream_after_n_tokens(model: AsyncOpenAI) -> None:
    directive = "[[script tokens=8 fail_after=3 fail=disconnect]]"
    tokens = await cut_short(model, ask(directive))
    assert tokens == ["w0 ", "w1 ", "w2 "]

    # Asked to continue what it got, the same script goes past the break.
    stream = await model.chat.completions.create(
        model="scripted", messages=ask(directive, partial="".join(tokens)), stream=True
    )
    await received(stream, tokens)
    assert "".join(tokens) == "w0 w1 w2 w3 w4 w5 w6 w7 "


async def test_with_fail_times_only_the_first_requests_break(model: AsyncOpenAI) -> None:
    directive = "[[script id=once tokens=8 fail_after=3 fail_times=1]]"
    first = await cut_short(model, ask(directive))

    # A continuation from before the break (as after tokens lost with the connection) and
    # a fresh request both go to the end: the one break is spent.
    continued = await model.chat.completions.create(
        model="scripted", messages=ask(directive, partial="w0 "), stream=True
    )
    rest: list[str] = []
    await received(continued, rest)
    whole = await model.chat.completions.create(model="scripted", messages=ask(directive))

    assert first == ["w0 ", "w1 ", "w2 "]
    assert "".join(rest) == "w1 w2 w3 w4 w5 w6 w7 "
    assert whole.choices[0].message.content == "w0 w1 w2 w3 w4 w5 w6 w7 "


async def test_an_end_after_n_tokens_closes_the_stream_without_a_finish_reason(
    model: AsyncOpenAI,
) -> None:
    stream = await model.chat.completions.create(
        model="scripted", messages=ask("[[script tokens=8 fail_after=3 fail=end]]"), stream=True
    )
    chunks = [chunk async for chunk in stream]  # no error: the stream ends as a whole one does

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "w0 w1 w2 "
    assert all(choice.finish_reason is None for c in chunks for choice in c.choices)


async def test_a_plain_answer_that_disconnects_fails_whole(model: AsyncOpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        await model.chat.completions.create(
            model="scripted", messages=ask("[[script fail=disconnect fail_after=3]]")
        )


async def test_an_error_event_after_n_tokens_raises(model: AsyncOpenAI) -> None:
    tokens: list[str] = []
    stream = await model.chat.completions.create(
        model="scripted", messages=ask("[[script fail_after=2 fail=error]]"), stream=True
    )
    with pytest.raises(openai.APIError) as failed:
        await received(stream, tokens)

    assert type(failed.value) is openai.APIError
    assert "scripted failure" in failed.value.message
    assert tokens == ["w0 ", "w1 "]


async def test_delay_ms_paces_the_tokens(model: AsyncOpenAI) -> None:
    started = time.monotonic()
    stream = await model.chat.completions.create(
        model="scripted", messages=ask("[[script tokens=4 delay_ms=25]]"), stream=True
    )
    await received(stream, [])

    assert time.monotonic() - started >= 0.09


async def test_a_malformed_request_or_directive_is_422(
    model: AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        await model.chat.completions.create(
            model="scripted", messages=ask("[[script tokens=many]]")
        )
    with pytest.raises(openai.UnprocessableEntityError):
        await model.chat.completions.create(model="scripted", messages=ask("[[script colour=red]]"))

    response = await http.post("/v1/chat/completions", json={"model": "scripted"})
    assert response.status_code == 422
    assert "messages" in response.json()["error"]["message"]


async def test_stats_count_requests_by_script_id_and_keep_each_id_s_latest_prompt(
    model: AsyncOpenAI, http: httpx2.AsyncClient
) -> None:
    for directive in ("[[script id=a]]", "[[script id=a tokens=1]]", "[[script id=b]]", "plain"):
        await model.chat.completions.create(model="scripted", messages=ask(directive))

    stats = (await http.get("/stats")).json()
    assert stats["calls"] == {"a": 2, "b": 1, "": 1}
    assert stats["prompts"]["a"] == [
        {"role": message["role"], "content": message["content"]}
        for message in ask("[[script id=a tokens=1]]")
    ]
    assert stats["prompts"].keys() == {"a", "b", ""}
    assert (await http.delete("/stats")).status_code == 204
    assert (await http.get("/stats")).json() == {"calls": {}, "prompts": {}}


MARKDOWN = (
    "# Title\n\nSome **bold** and `code`.\n\n"
    "```python\nprint('<b>')  # x\n```\n\n"
    "$$e^{i\\pi} + 1 = 0$$\n"
    "<script>alert(1)</script> <img src=x onerror=alert(1)>\n\n  end  "
)
MARKDOWN_TOKENS = [
    "# ", "Title\n\n", "Some ", "**bold** ", "and ", "`code`.\n\n",
    "```python\n", "print('<b>')  ", "# ", "x\n", "```\n\n",
    "$$e^{i\\pi} ", "+ ", "1 ", "= ", "0$$\n",
    "<script>alert(1)</script> ", "<img ", "src=x ", "onerror=alert(1)>\n\n  ", "end  ",
]  # fmt: skip


def echo(
    text: str, directive: str = "[[script echo]]", partial: str | None = None
) -> list[ChatCompletionMessageParam]:
    """A conversation whose last user message echoes `text`, after an earlier turn."""
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You are scripted."},
        {"role": "user", "content": "An earlier question. [[script tokens=2]]"},
        {"role": "assistant", "content": "w0 w1 "},
        {"role": "user", "content": f"Repeat this. {directive} \n\t {text}"},
    ]
    if partial is not None:
        messages.append({"role": "assistant", "content": partial})
    return messages


@pytest.mark.parametrize("directive", ["[[script echo]]", "[[script id=e echo=true delay_ms=0]]"])
async def test_echo_streams_the_text_after_the_directive_token_by_token(
    model: AsyncOpenAI, directive: str
) -> None:
    stream = await model.chat.completions.create(
        model="scripted",
        messages=echo(MARKDOWN, directive),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    tokens = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert tokens == MARKDOWN_TOKENS
    assert "".join(tokens) == MARKDOWN
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(MARKDOWN_TOKENS)


async def test_a_plain_echo_answer_is_the_exact_text(model: AsyncOpenAI) -> None:
    completion = await model.chat.completions.create(model="scripted", messages=echo(MARKDOWN))

    assert completion.choices[0].message.content == MARKDOWN
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == len(MARKDOWN_TOKENS)


@pytest.mark.parametrize("held", [0, 1, 7, len(MARKDOWN_TOKENS) - 1, len(MARKDOWN_TOKENS)])
async def test_an_echo_continuation_gets_exactly_the_rest(model: AsyncOpenAI, held: int) -> None:
    rest: list[str] = []
    stream = await model.chat.completions.create(
        model="scripted",
        messages=echo(MARKDOWN, partial="".join(MARKDOWN_TOKENS[:held])),
        stream=True,
    )
    await received(stream, rest)

    assert rest == MARKDOWN_TOKENS[held:]


@pytest.mark.parametrize(
    "partial",
    [
        "# Tit",  # part of a token
        "# Title\n",  # a token without all of its whitespace
        "# Title\n\nSome  ",  # more whitespace than the token has
        "#  Title\n\n",
        "w0 w1 ",  # the default answer, not the echo
        MARKDOWN + "more",
    ],
)
async def test_an_echo_continuation_of_a_wrong_prefix_is_refused(
    model: AsyncOpenAI, partial: str
) -> None:
    with pytest.raises(openai.BadRequestError):
        await model.chat.completions.create(
            model="scripted", messages=echo(MARKDOWN, partial=partial)
        )


async def test_an_echo_breaks_after_n_tokens_and_continues(model: AsyncOpenAI) -> None:
    directive = "[[script echo fail_after=5]]"
    tokens = await cut_short(model, echo(MARKDOWN, directive))
    assert tokens == MARKDOWN_TOKENS[:5]

    # Asked to continue what it got, the same script goes past the break.
    stream = await model.chat.completions.create(
        model="scripted", messages=echo(MARKDOWN, directive, partial="".join(tokens)), stream=True
    )
    await received(stream, tokens)
    assert "".join(tokens) == MARKDOWN


@pytest.mark.parametrize("stream", [True, False])
async def test_max_tokens_cuts_an_echo_with_length(model: AsyncOpenAI, stream: bool) -> None:
    text, finish = await answer(model, echo(MARKDOWN), stream, max_tokens=4)

    assert text == "# Title\n\nSome **bold** "
    assert finish == "length"


async def test_tokens_keeps_the_start_of_an_echo_as_the_whole_answer(model: AsyncOpenAI) -> None:
    completion = await model.chat.completions.create(
        model="scripted", messages=echo(MARKDOWN, "[[script tokens=3 echo]]")
    )

    assert completion.choices[0].message.content == "# Title\n\nSome "
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    "question", ["[[script echo]]", "[[script echo]] \n  ", "Repeat nothing. [[script echo]]"]
)
@pytest.mark.parametrize("stream", [True, False])
async def test_an_echo_of_no_text_is_an_empty_answer(
    model: AsyncOpenAI, question: str, stream: bool
) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": question}]
    text, finish = await answer(model, messages, stream)

    assert text == ""
    assert finish == "stop"


async def test_a_title_request_for_an_echo_message_answers(model: AsyncOpenAI) -> None:
    # What functions/titles.py asks: an instruction, then the first message as it was sent.
    completion = await model.chat.completions.create(
        model="scripted",
        messages=[
            {"role": "system", "content": "Write a title of at most six words."},
            {"role": "user", "content": f"[[script echo]] {MARKDOWN}"},
        ],
        max_tokens=3,
    )

    assert completion.choices[0].message.content == "# Title\n\nSome "
    assert completion.choices[0].finish_reason == "length"


async def test_a_bad_echo_value_is_422(model: AsyncOpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        await model.chat.completions.create(
            model="scripted", messages=echo("hi", "[[script echo=maybe]]")
        )
