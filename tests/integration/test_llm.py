from __future__ import annotations

import asyncio

import pytest

from chatfn.llm import llm_client
from chatfn.settings import Settings


@pytest.mark.model
async def test_streamed_chat_completion_from_the_local_model(settings: Settings) -> None:
    client = llm_client(settings)
    try:
        stream = await client.chat.completions.create(
            model=settings.llm_model,
            messages=[{"role": "user", "content": "Say hello in one short sentence."}],
            max_tokens=24,
            temperature=0,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    finally:
        await client.close()

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(chunks) > 2, "the answer arrived in one piece: it was not streamed"
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason in {"stop", "length"}


@pytest.mark.model
async def test_two_streams_at_once_are_both_answered_whole(settings: Settings) -> None:
    """llama-cpp-python's server ends a stream when another request waits, unless told not
    to (`interrupt_requests`): a title asked for mid-reply cut the reply to nothing."""
    client = llm_client(settings)

    async def finish_reason(question: str) -> str | None:
        stream = await client.chat.completions.create(
            model=settings.llm_model,
            messages=[{"role": "user", "content": question}],
            max_tokens=16,
            temperature=0,
            stream=True,
        )
        reasons = [c.choices[0].finish_reason async for c in stream if c.choices]
        return reasons[-1]

    try:
        reasons = await asyncio.gather(
            finish_reason("Count from one to ten."), finish_reason("Name three colours.")
        )
    finally:
        await client.close()

    assert set(reasons) <= {"stop", "length"}, reasons
