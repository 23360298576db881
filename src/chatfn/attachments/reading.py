"""What the prompt reads of a message's files: their text, cut to share what the model's
context leaves after the system prompt, the question and room for some history.

The cut is decided once, when the message is sent, and travels in its facts: the prompt
is then the same on every retry and regeneration, and the UI can say what was left out.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from uuid import UUID

from minio import Minio
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from chatfn.attachments import files
from chatfn.attachments.kinds import PDF, kind_of
from chatfn.chat.prompt import BYTES_PER_TOKEN, IMAGE_TOKENS, estimate_tokens
from chatfn.events.catalog import ATTACHMENT_TEXT, SentAttachment
from chatfn.settings import Settings

HISTORY_RESERVE = 1 / 8  # of the context, kept for the conversation before the question

# Files a message carries share at most this much text (a fact stays well inside a record).
MAX_TEXT_BYTES = 96 * 1024


class Unreadable(ValueError):
    """A file whose text cannot be read (a damaged or encrypted PDF)."""


def text_budget(settings: Settings, question: str, images: int) -> int:
    """Bytes of file text the prompt has room for, all files together."""
    tokens = (
        settings.llm_context_tokens * (1 - HISTORY_RESERVE)
        - settings.llm_max_tokens
        - estimate_tokens(settings.system_prompt)
        - estimate_tokens(question)
        - images * IMAGE_TOKENS
    )
    return max(0, min(int(tokens) * BYTES_PER_TOKEN, MAX_TEXT_BYTES))


def shares(lengths: Sequence[int], budget: int) -> list[int]:
    """Each file's share of `budget`: equal shares, a short file's unused part going to
    the longer ones (so nothing is cut that could have fit)."""
    given = [0] * len(lengths)
    waiting = sorted(range(len(lengths)), key=lambda i: lengths[i])
    left = budget
    while waiting:
        share = left // len(waiting)
        index = waiting.pop(0)
        given[index] = min(lengths[index], share)
        left -= given[index]
    return given


async def excerpts(
    client: Minio, settings: Settings, user_id: UUID, uploads: Sequence[files.Upload], question: str
) -> list[SentAttachment]:
    """The files as a message's facts carry them: each text file's text within its share."""
    images = sum(kind_of(upload.content_type) == "image" for upload in uploads)
    budget = text_budget(settings, question, images)
    texts = {}
    for upload in uploads:
        if kind_of(upload.content_type) == "text":
            key = files.object_key(user_id, upload.id)
            texts[upload.id] = await _text(client, settings, key, upload.content_type, budget + 1)
    lengths = [len(text.encode()) for text in texts.values()]
    given = dict(zip(texts, shares(lengths, budget), strict=True))
    return [_sent(upload, texts.get(upload.id, ""), given.get(upload.id, 0)) for upload in uploads]


def _sent(upload: files.Upload, text: str, share: int) -> SentAttachment:
    kept = _cut(text, min(share, ATTACHMENT_TEXT))
    return SentAttachment(
        id=upload.id,
        name=upload.name,
        content_type=upload.content_type,
        size_bytes=upload.size_bytes,
        kind=kind_of(upload.content_type),
        text=kept,
        cut=len(kept) < len(text),
    )


async def _text(client: Minio, settings: Settings, key: str, content_type: str, limit: int) -> str:
    """The file's text, as far as `limit` bytes of it (a PDF's from as many pages)."""
    if content_type != PDF:
        data = await files.read(client, settings, key, limit)
        return data.decode("utf-8", errors="replace").removeprefix("\ufeff").replace("\x00", "")
    data = await files.read(client, settings, key)
    # Parsing is CPU work: in a thread, so other requests go on meanwhile.
    return await asyncio.to_thread(_pdf_text, data, limit)


def _pdf_text(data: bytes, limit: int) -> str:
    """The text of the PDF's pages, from the first, until `limit` bytes are read."""
    text = ""
    try:
        for page in PdfReader(io.BytesIO(data)).pages:
            if len(text.encode()) >= limit:
                break
            text += page.extract_text() + "\n\n"
    except (PyPdfError, ValueError, KeyError) as exc:
        raise Unreadable("its text cannot be read (is the PDF damaged or encrypted?)") from exc
    return text.replace("\x00", "")


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` bytes of UTF-8, never splitting a character."""
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[:limit].decode(errors="ignore")
