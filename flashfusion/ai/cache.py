"""The AI answer cache: an in-process LRU in front of a persistent store (the database).

The key is a SHA-256 over the normalised request and the workspace's id, so two workspaces never
share an entry, and a prompt that differs only in whitespace hits the same entry. A key made with
`provider=None` is provider-agnostic: any provider's answer to the same request may be reused.

Refused and offline answers are not stored: a refusal should be retried, and an offline draft
must not keep being served once the workspace adds a real provider.
"""

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

from prometheus_client import Counter, Gauge

from flashfusion.ai.types import AIRequest, AIResponse

KEY_VERSION = 1  # bump when the normalisation changes, so old entries stop matching

CACHE_LOOKUPS = Counter(
    "flashfusion_ai_cache_lookups_total",
    "AI cache lookups by layer (memory, persistent) and result (hit, miss).",
    ["layer", "result"],
)

Layer = Literal["memory", "persistent"]


def _normalise(text: str) -> str:
    return " ".join(text.split())


def request_key(request: AIRequest, *, organization_id: str, provider: str | None) -> str:
    """The cache key of `request` for one workspace; pass provider=None for a key any provider's
    answer may fill (the model is then left out too, as it names a provider's model)."""
    document: dict[str, Any] = {
        "v": KEY_VERSION,
        "organization_id": organization_id,
        "task": request.task.value,
        "messages": [
            {"role": message.role, "content": _normalise(message.content)}
            for message in request.messages
        ],
        "json_schema": request.json_schema,
        "temperature": request.temperature,
        "max_output_tokens": request.max_output_tokens,
        "context": request.context,
    }
    if provider is not None:
        document["provider"] = provider
        document["model"] = request.model
    canonical = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class LRUCache:
    """At most `max_entries` answers, each for `ttl_seconds`; the least recently used goes first."""

    def __init__(
        self,
        max_entries: int = 2048,
        ttl_seconds: float = 86400,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, AIResponse]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> AIResponse | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] <= self._clock():
            del self._entries[key]
            entry = None
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: str, value: AIResponse, ttl_seconds: float | None = None) -> None:
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        now = self._clock()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        return len(self._entries)

    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


class PersistentStore(Protocol):
    """The second layer; the application implements it on its database."""

    async def get(self, organization_id: str, key: str) -> AIResponse | None: ...

    async def put(
        self, organization_id: str, key: str, task: str, response: AIResponse, ttl_seconds: int
    ) -> None: ...


@runtime_checkable
class BulkStore(PersistentStore, Protocol):
    """A persistent layer that also reads and writes many entries in one round trip each
    (batch generation); entries are (organization_id, key, task, response, ttl_seconds)."""

    async def get_many(self, organization_id: str, keys: list[str]) -> dict[str, AIResponse]: ...

    async def put_many(self, entries: list[tuple[str, str, str, AIResponse, int]]) -> None: ...


def cacheable(response: AIResponse) -> bool:
    return not response.refused and not response.offline


class AICache:
    def __init__(self, lru: LRUCache | None = None, store: PersistentStore | None = None) -> None:
        self.lru = lru if lru is not None else LRUCache()
        self.store = store
        self.lookups = 0
        self.hits = 0

    @staticmethod
    def _memory_key(organization_id: str, key: str) -> str:
        # The key already covers the workspace; scoping the memory key too means a key computed
        # for one workspace can never read another's entry, whoever passes it.
        return f"{organization_id}:{key}"

    async def get(self, organization_id: str, key: str) -> tuple[AIResponse, Layer] | None:
        """The cached answer and the layer it came from; a persistent hit is kept in memory."""
        self.lookups += 1
        memory_key = self._memory_key(organization_id, key)
        response = self.lru.get(memory_key)
        if response is not None:
            CACHE_LOOKUPS.labels(layer="memory", result="hit").inc()
            self.hits += 1
            return response.model_copy(deep=True), "memory"
        CACHE_LOOKUPS.labels(layer="memory", result="miss").inc()
        if self.store is None:
            return None
        response = await self.store.get(organization_id, key)
        if response is None:
            CACHE_LOOKUPS.labels(layer="persistent", result="miss").inc()
            return None
        CACHE_LOOKUPS.labels(layer="persistent", result="hit").inc()
        self.hits += 1
        self.lru.put(memory_key, response.model_copy(deep=True))
        return response, "persistent"

    async def get_many(
        self, organization_id: str, keys: list[str]
    ) -> dict[str, tuple[AIResponse, Layer]]:
        """`get` for many keys of one workspace: the memory misses are read from the store in
        one query when it can (a BulkStore), else one by one. Counted exactly like `get`."""
        found: dict[str, tuple[AIResponse, Layer]] = {}
        missed: list[str] = []
        for key in dict.fromkeys(keys):
            self.lookups += 1
            response = self.lru.get(self._memory_key(organization_id, key))
            if response is None:
                CACHE_LOOKUPS.labels(layer="memory", result="miss").inc()
                missed.append(key)
                continue
            CACHE_LOOKUPS.labels(layer="memory", result="hit").inc()
            self.hits += 1
            found[key] = (response.model_copy(deep=True), "memory")
        if self.store is None or not missed:
            return found
        if isinstance(self.store, BulkStore):
            stored = await self.store.get_many(organization_id, missed)
        else:
            stored = {}
            for key in missed:
                hit = await self.store.get(organization_id, key)
                if hit is not None:
                    stored[key] = hit
        for key in missed:
            response = stored.get(key)
            if response is None:
                CACHE_LOOKUPS.labels(layer="persistent", result="miss").inc()
                continue
            CACHE_LOOKUPS.labels(layer="persistent", result="hit").inc()
            self.hits += 1
            self.lru.put(self._memory_key(organization_id, key), response.model_copy(deep=True))
            found[key] = (response, "persistent")
        return found

    async def put_many(self, entries: list[tuple[str, str, str, AIResponse, int]]) -> int:
        """`put` for many (organization_id, key, task, response, ttl_seconds) entries, written to
        the store in one statement when it can; how many were stored. A key given twice keeps
        its last answer, as two `put`s would."""
        kept: dict[tuple[str, str], tuple[str, str, str, AIResponse, int]] = {}
        for entry in entries:
            if cacheable(entry[3]):
                kept[(entry[0], entry[1])] = entry
        for organization_id, key, _, response, ttl in kept.values():
            self.lru.put(
                self._memory_key(organization_id, key), response.model_copy(deep=True), ttl
            )
        if self.store is not None and kept:
            if isinstance(self.store, BulkStore):
                await self.store.put_many(list(kept.values()))
            else:
                for entry in kept.values():
                    await self.store.put(*entry)
        return len(kept)

    async def put(
        self,
        organization_id: str,
        key: str,
        task: str,
        response: AIResponse,
        ttl_seconds: int | None = None,
    ) -> bool:
        """Store `response` in both layers; False (nothing stored) for refused/offline answers."""
        if not cacheable(response):
            return False
        ttl = int(self.lru.ttl_seconds) if ttl_seconds is None else ttl_seconds
        self.lru.put(self._memory_key(organization_id, key), response.model_copy(deep=True), ttl)
        if self.store is not None:
            await self.store.put(organization_id, key, task, response, ttl)
        return True

    def hit_rate(self) -> float:
        """Share of this cache's lookups answered by either layer (0.0 before any lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0


def hit_rate(layer: Layer | None = None) -> float:
    """Process-wide hit rate from the Prometheus counter: one layer's own rate, or (None) the
    share of all lookups answered by any layer."""

    # From the counter itself, not the registry: the hit-ratio gauge below calls this while
    # the registry is being collected.
    samples = {
        (sample.labels["layer"], sample.labels["result"]): sample.value
        for metric in CACHE_LOOKUPS.collect()
        for sample in metric.samples
        if sample.name == "flashfusion_ai_cache_lookups_total"
    }

    def count(layer_name: str, result: str) -> float:
        return samples.get((layer_name, result), 0.0)

    if layer is not None:
        hits, misses = count(layer, "hit"), count(layer, "miss")
        return hits / (hits + misses) if hits + misses else 0.0
    # Every lookup reaches memory first; persistent hits are the memory misses it saved.
    lookups = count("memory", "hit") + count("memory", "miss")
    hits = count("memory", "hit") + count("persistent", "hit")
    return hits / lookups if lookups else 0.0


# The hit rate itself on /metrics (computed from the counters at scrape time).
CACHE_HIT_RATIO = Gauge(
    "flashfusion_ai_cache_hit_ratio",
    "Share of AI cache lookups in this process answered by the cache (memory or persistent).",
)
CACHE_HIT_RATIO.set_function(hit_rate)
