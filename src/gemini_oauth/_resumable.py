"""Google's resumable upload protocol (files.create), as headers and pieces; no HTTP of its own.

A session starts with ``X-Goog-Upload-Command: start`` and answers its URL; chunks follow with
``upload`` (and ``finalize`` on the last) at ``X-Goog-Upload-Offset``; after a dropped connection
``query`` tells how many bytes the server has (``X-Goog-Upload-Size-Received``), and the upload
goes on from there. Bytes are read from disk piece by piece, never whole.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: Bytes per upload request (a multiple of Google's 256 KiB granularity; google-genai's size).
CHUNK_SIZE = 8 * 1024 * 1024
#: Bytes read from disk at a time: what one chunk in flight costs in memory.
PIECE_SIZE = 256 * 1024
QUERY_HEADERS = {"X-Goog-Upload-Command": "query"}


def guess_mime_type(path: Path) -> str:
    """The file's MIME type from its name (``application/octet-stream`` when unknown)."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def start_headers(size: int, mime_type: str) -> dict[str, str]:
    return {
        "X-Goog-Upload-Protocol": "resumable",
        "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(size),
        "X-Goog-Upload-Header-Content-Type": mime_type,
    }


def start_body(mime_type: str, display_name: str | None, name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"mimeType": mime_type}
    if display_name:
        spec["displayName"] = display_name
    if name:
        spec["name"] = name if name.startswith("files/") else f"files/{name}"
    return {"file": spec}


def chunk_headers(offset: int, length: int, finalize: bool) -> dict[str, str]:
    return {
        "X-Goog-Upload-Command": "upload, finalize" if finalize else "upload",
        "X-Goog-Upload-Offset": str(offset),
        "Content-Length": str(length),
        "Content-Type": "application/octet-stream",
    }


@dataclass(frozen=True)
class UploadStatus:
    """``X-Goog-Upload-Status`` (active, final, cancelled; '' if absent) and the bytes received."""

    state: str
    received: int | None


def upload_status(headers: Mapping[str, str]) -> UploadStatus:
    received = headers.get("x-goog-upload-size-received", "")
    return UploadStatus(
        headers.get("x-goog-upload-status", "").strip().lower(),
        int(received) if received.isdigit() else None,
    )


def session_url(upload_url: str, base_url: str) -> str:
    """The session URL's path and query on the API's own origin.

    The URL comes from the server, and every request to it carries the bearer token: it must not
    be able to send the token elsewhere (google-genai rewrites the origin the same way).
    """
    given, base = urlsplit(upload_url), urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, given.path, given.query, ""))


def read_pieces(path: Path, offset: int, length: int) -> Generator[bytes, None, None]:
    """``length`` bytes of ``path`` from ``offset``, ``PIECE_SIZE`` at a time."""
    with open(path, "rb") as source:
        source.seek(offset)
        left = length
        while left > 0:
            piece = source.read(min(PIECE_SIZE, left))
            if not piece:
                raise OSError(f"{path} became shorter while it was being uploaded")
            left -= len(piece)
            yield piece


async def aread_pieces(path: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    """As :func:`read_pieces`, each disk read off the event loop."""
    pieces = read_pieces(path, offset, length)
    try:
        while True:
            piece = await asyncio.to_thread(next, pieces, b"")
            if not piece:
                return
            yield piece
    finally:
        pieces.close()


__all__ = [
    "CHUNK_SIZE",
    "QUERY_HEADERS",
    "UploadStatus",
    "aread_pieces",
    "chunk_headers",
    "guess_mime_type",
    "read_pieces",
    "session_url",
    "start_body",
    "start_headers",
    "upload_status",
]
