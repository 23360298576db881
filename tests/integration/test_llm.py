from __future__ import annotations

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
