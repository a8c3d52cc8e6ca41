"""Embeddings and cached contents, as methods GeminiClient and AsyncGeminiClient inherit
(``ContentMixin``, ``AsyncContentMixin``), calling the clients' own send loop (same retries,
refresh-on-401 and quota project as every call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gemini_oauth._wire import (
    CachedContentPage,
    Contents,
    cached_content_page,
    duration,
    embed_request,
    list_params,
    model_path,
    normalize_contents,
    resource_path,
)

#: Most requests in one batchEmbedContents call (Google's limit); longer lists are split.
EMBED_BATCH = 100


def _cache_path(name: str) -> str:
    return resource_path("cachedContents", name)


def _cache_body(
    model: str,
    contents: Contents | None,
    system_instruction: str | dict[str, Any] | None,
    ttl: float | None,
    display_name: str | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model_path(model), **fields}
    if contents is not None:
        body["contents"] = normalize_contents(contents)
    if system_instruction is not None:
        body["systemInstruction"] = (
            {"parts": [{"text": system_instruction}]}
            if isinstance(system_instruction, str)
            else system_instruction
        )
    if ttl is not None:
        body["ttl"] = duration(ttl)
    if display_name:
        body["displayName"] = display_name
    return body


def _expiry_body(ttl: float | None, expire_time: str | None) -> tuple[dict[str, Any], str]:
    if (ttl is None) == (expire_time is None):
        raise ValueError("give exactly one of ttl and expire_time")
    if ttl is not None:
        return {"ttl": duration(ttl)}, "ttl"
    return {"expireTime": expire_time}, "expireTime"


class ContentMixin:
    """Embeddings and cached contents for GeminiClient."""

    if TYPE_CHECKING:

        def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...

    # -- embeddings ---------------------------------------------------------------------------

    def embed_content(
        self,
        model: str,
        content: str | dict[str, Any],
        *,
        task_type: str | None = None,
        title: str | None = None,
        output_dimensionality: int | None = None,
    ) -> list[float]:
        """``models.embedContent``: the embedding of one text (or Content) as a list of floats."""
        body = embed_request(
            model,
            content,
            task_type=task_type,
            title=title,
            output_dimensionality=output_dimensionality,
        )
        data = self._json("POST", f"{model_path(model)}:embedContent", body=body)
        return [float(v) for v in (data.get("embedding") or {}).get("values") or []]

    def batch_embed_contents(
        self,
        model: str,
        contents: Sequence[str | dict[str, Any]],
        *,
        task_type: str | None = None,
        output_dimensionality: int | None = None,
    ) -> list[list[float]]:
        """``models.batchEmbedContents``: one embedding per item, in order (100 per request)."""
        vectors: list[list[float]] = []
        for start in range(0, len(contents), EMBED_BATCH):
            requests = [
                embed_request(
                    model, c, task_type=task_type, output_dimensionality=output_dimensionality
                )
                for c in contents[start : start + EMBED_BATCH]
            ]
            path = f"{model_path(model)}:batchEmbedContents"
            data = self._json("POST", path, body={"requests": requests})
            vectors += [
                [float(v) for v in e.get("values") or []] for e in data.get("embeddings") or []
            ]
        return vectors

    # -- cached contents ----------------------------------------------------------------------

    def create_cached_content(
        self,
        model: str,
        contents: Contents | None = None,
        *,
        system_instruction: str | dict[str, Any] | None = None,
        ttl: float | None = None,
        display_name: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """``cachedContents.create``; ``ttl`` in seconds (Google's default: one hour)."""
        body = _cache_body(model, contents, system_instruction, ttl, display_name, fields)
        return self._json("POST", "cachedContents", body=body)

    def get_cached_content(self, name: str) -> dict[str, Any]:
        """One cached content (``cachedContents/abc`` or ``abc``)."""
        return self._json("GET", _cache_path(name))

    def list_cached_contents(
        self, page_size: int | None = None, page_token: str | None = None
    ) -> CachedContentPage:
        """One page of this project's cached contents."""
        params = list_params(page_size, page_token)
        return cached_content_page(self._json("GET", "cachedContents", params=params))

    def iter_cached_contents(self, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every cached content, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list_cached_contents(page_size, token)
            yield from page.cached_contents
            if not page.next_page_token or page.next_page_token in seen:
                return
            token = page.next_page_token
            seen.add(token)

    def update_cached_content(
        self, name: str, *, ttl: float | None = None, expire_time: str | None = None
    ) -> dict[str, Any]:
        """Give a cached content a new expiry: ``ttl`` seconds from now, or an RFC 3339 time."""
        body, mask = _expiry_body(ttl, expire_time)
        return self._json("PATCH", _cache_path(name), body=body, params={"updateMask": mask})

    def delete_cached_content(self, name: str) -> None:
        """Delete a cached content now."""
        self._json("DELETE", _cache_path(name))


class AsyncContentMixin:
    """The async twin of ContentMixin, for AsyncGeminiClient."""

    if TYPE_CHECKING:

        async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]: ...

    async def embed_content(
        self,
        model: str,
        content: str | dict[str, Any],
        *,
        task_type: str | None = None,
        title: str | None = None,
        output_dimensionality: int | None = None,
    ) -> list[float]:
        """``models.embedContent``: the embedding of one text (or Content)."""
        body = embed_request(
            model,
            content,
            task_type=task_type,
            title=title,
            output_dimensionality=output_dimensionality,
        )
        data = await self._json("POST", f"{model_path(model)}:embedContent", body=body)
        return [float(v) for v in (data.get("embedding") or {}).get("values") or []]

    async def batch_embed_contents(
        self,
        model: str,
        contents: Sequence[str | dict[str, Any]],
        *,
        task_type: str | None = None,
        output_dimensionality: int | None = None,
    ) -> list[list[float]]:
        """``models.batchEmbedContents``: one embedding per item, in order (100 per request)."""
        vectors: list[list[float]] = []
        for start in range(0, len(contents), EMBED_BATCH):
            requests = [
                embed_request(
                    model, c, task_type=task_type, output_dimensionality=output_dimensionality
                )
                for c in contents[start : start + EMBED_BATCH]
            ]
            path = f"{model_path(model)}:batchEmbedContents"
            data = await self._json("POST", path, body={"requests": requests})
            vectors += [
                [float(v) for v in e.get("values") or []] for e in data.get("embeddings") or []
            ]
        return vectors

    async def create_cached_content(
        self,
        model: str,
        contents: Contents | None = None,
        *,
        system_instruction: str | dict[str, Any] | None = None,
        ttl: float | None = None,
        display_name: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """``cachedContents.create``; ``ttl`` in seconds."""
        body = _cache_body(model, contents, system_instruction, ttl, display_name, fields)
        return await self._json("POST", "cachedContents", body=body)

    async def get_cached_content(self, name: str) -> dict[str, Any]:
        """One cached content."""
        return await self._json("GET", _cache_path(name))

    async def list_cached_contents(
        self, page_size: int | None = None, page_token: str | None = None
    ) -> CachedContentPage:
        """One page of this project's cached contents."""
        params = list_params(page_size, page_token)
        return cached_content_page(await self._json("GET", "cachedContents", params=params))

    async def iter_cached_contents(
        self, page_size: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every cached content, walking all pages."""
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = await self.list_cached_contents(page_size, token)
            for cache in page.cached_contents:
                yield cache
            if not page.next_page_token or page.next_page_token in seen:
                return
            token = page.next_page_token
            seen.add(token)

    async def update_cached_content(
        self, name: str, *, ttl: float | None = None, expire_time: str | None = None
    ) -> dict[str, Any]:
        """Give a cached content a new expiry."""
        body, mask = _expiry_body(ttl, expire_time)
        return await self._json("PATCH", _cache_path(name), body=body, params={"updateMask": mask})

    async def delete_cached_content(self, name: str) -> None:
        """Delete a cached content now."""
        await self._json("DELETE", _cache_path(name))


__all__ = ["EMBED_BATCH", "AsyncContentMixin", "ContentMixin"]
