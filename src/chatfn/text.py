"""Text chatfn keeps: what PostgreSQL's `text` can store.

PostgreSQL refuses NUL (U+0000) in text, and a lone UTF-16 surrogate (which JSON's
`\\ud800` escape lets through into a Python str) cannot be encoded as UTF-8 at all.
Both are refused where text enters (the API's schemas, the event catalog), so no write
fails later, deep inside a function, with the user left waiting.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> str:
    found = _UNSTORABLE.search(value)
    if found is None:
        return value
    if found.group() == "\x00":
        raise ValueError("must not contain the NUL character (U+0000)")
    raise ValueError("must be valid Unicode (it holds a lone surrogate)")


StoredText = Annotated[str, AfterValidator(storable)]
