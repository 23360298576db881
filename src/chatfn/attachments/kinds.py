"""Which files a message may carry, and how the model sees each: as text in the prompt,
or (for a model that accepts images) as an image."""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath
from typing import Literal

Kind = Literal["text", "image"]

# What models that accept images take (OpenAI's image inputs); SVG is XML, read as text.
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PDF = "application/pdf"
# Besides text/*: text by another name.
TEXTUAL = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-yaml",
     "application/yaml", "application/toml", "application/x-sh", "application/sql",
     "application/x-httpd-php", "image/svg+xml", PDF}
)  # fmt: skip
# Code a browser gives no type (`File.type` is empty) and `mimetypes` does not know.
CODE_SUFFIXES = frozenset(
    {".md", ".markdown", ".py", ".ts", ".tsx", ".jsx", ".go", ".rs", ".rb", ".java", ".kt",
     ".swift", ".c", ".h", ".cpp", ".hpp", ".cs", ".php", ".sql", ".toml", ".yaml", ".yml",
     ".ini", ".cfg", ".conf", ".log", ".tex", ".r", ".scala", ".lua", ".dart", ".vue"}
)  # fmt: skip


def accepted_type(declared: str, name: str) -> str | None:
    """The content type the file is stored and read as, or None if a message cannot carry
    it. A browser's type is used when it gives one; otherwise the name's suffix decides."""
    content_type = declared.split(";")[0].strip().lower()
    if content_type in ("", "application/octet-stream"):
        suffix = PurePosixPath(name).suffix.lower()
        content_type = mimetypes.guess_type(f"file{suffix}")[0] or (
            "text/plain" if suffix in CODE_SUFFIXES else ""
        )
    if content_type.startswith("text/") or content_type in TEXTUAL | IMAGES:
        return content_type
    return None


def kind_of(content_type: str) -> Kind:
    return "image" if content_type in IMAGES else "text"
