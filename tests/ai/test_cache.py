from prometheus_client import REGISTRY

from flashfusion.ai import cache as cache_module
from flashfusion.ai.cache import AICache, LRUCache, request_key
from flashfusion.ai.types import AIRequest, AIResponse, Message, TaskType, Usage


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class FakeStore:
    """The persistent layer, in a dict keyed like the database table (workspace, key)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[str, AIResponse, int]] = {}
        self.gets: list[tuple[str, str]] = []

    async def get(self, organization_id: str, key: str) -> AIResponse | None:
        self.gets.append((organization_id, key))
        row = self.rows.get((organization_id, key))
        return row[1] if row else None

    async def put(
        self, organization_id: str, key: str, task: str, response: AIResponse, ttl_seconds: int
    ) -> None:
        self.rows[(organization_id, key)] = (task, response, ttl_seconds)


def lookups(layer: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "flashfusion_ai_cache_lookups_total", {"layer": layer, "result": result}
    )
    return value or 0.0


def make_request(user: str = "Write a title for a cat mug", **changes: object) -> AIRequest:
    request = AIRequest(
        task=TaskType.listing_copy,
        messages=[
            Message(role="system", content="You write product listings."),
            Message(role="user", content=user),
        ],
        model="gpt-5.4-nano",
        temperature=0.4,
        context={"language": "en", "channel": "etsy"},
    )
    return request.model_copy(update=changes)


def answer(text: str = '{"title": "Cat mug"}', **changes: object) -> AIResponse:
    response = AIResponse(
        text=text, provider="openai", model="gpt-5.4-nano", usage=Usage(input_tokens=12)
    )
    return response.model_copy(update=changes)


# --- key ------------------------------------------------------------------------------------


def test_key_ignores_whitespace_differences() -> None:
    plain = request_key(make_request(), organization_id="org-1", provider="openai")
    spaced = request_key(
        make_request("  Write a title\n\tfor a   cat mug \n"),
        organization_id="org-1",
        provider="openai",
    )
    assert plain == spaced
    assert len(plain) == 64
    assert int(plain, 16) >= 0


def test_key_differs_per_workspace() -> None:
    request = make_request()
    assert request_key(request, organization_id="org-1", provider=None) != request_key(
        request, organization_id="org-2", provider=None
    )


def test_key_differs_per_provider_unless_agnostic() -> None:
    request = make_request()
    openai = request_key(request, organization_id="org-1", provider="openai")
    anthropic = request_key(request, organization_id="org-1", provider="anthropic")
    agnostic = request_key(request, organization_id="org-1", provider=None)
    assert len({openai, anthropic, agnostic}) == 3
    other_model = make_request(model="claude-haiku-4-5")
    assert request_key(other_model, organization_id="org-1", provider=None) == agnostic
    assert request_key(other_model, organization_id="org-1", provider="openai") != openai


def test_key_covers_everything_that_changes_the_answer() -> None:
    base = request_key(make_request(), organization_id="o", provider="openai")
    variants = [
        make_request("Write a title for a dog mug"),
        make_request(task=TaskType.translation),
        make_request(temperature=0.9),
        make_request(max_output_tokens=300),
        make_request(json_schema={"type": "object"}),
        make_request(context={"language": "de", "channel": "etsy"}),
        make_request(messages=[Message(role="user", content="Write a title for a cat mug")]),
    ]
    keys = {request_key(v, organization_id="o", provider="openai") for v in variants}
    assert base not in keys
    assert len(keys) == len(variants)
    # The timeout does not change the answer, so it does not change the key.
    assert request_key(make_request(timeout_seconds=5), organization_id="o", provider="openai") == (
        base
    )


# --- LRU ------------------------------------------------------------------------------------


A, B, C = answer("A"), answer("B"), answer("C")


def test_lru_entries_expire_after_their_ttl() -> None:
    clock = FakeClock()
    lru = LRUCache(max_entries=10, ttl_seconds=60, clock=clock)
    lru.put("a", A)
    lru.put("b", B, ttl_seconds=10)
    clock.now += 9.9
    assert lru.get("a") == A
    assert lru.get("b") == B
    clock.now += 0.1
    assert lru.get("b") is None
    assert len(lru) == 1
    clock.now += 49.9
    assert lru.get("a") == A
    clock.now += 0.1
    assert lru.get("a") is None
    assert len(lru) == 0
    assert (lru.hits, lru.misses) == (3, 2)
    assert lru.hit_rate() == 0.6


def test_lru_evicts_the_least_recently_used() -> None:
    lru = LRUCache(max_entries=2, clock=FakeClock())
    lru.put("a", A)
    lru.put("b", B)
    assert lru.get("a") == A  # a is now the most recent
    lru.put("c", C)
    assert lru.get("b") is None
    assert lru.get("a") == A
    assert lru.get("c") == C
    assert len(lru) == 2
    lru.clear()
    assert len(lru) == 0
    assert LRUCache().max_entries == 2048
    assert LRUCache().ttl_seconds == 86400


# --- two layers -----------------------------------------------------------------------------


async def test_persistent_hit_is_promoted_to_memory() -> None:
    store = FakeStore()
    cache = AICache(LRUCache(clock=FakeClock()), store)
    stored = answer()
    await store.put("org-1", "k1", "listing_copy", stored, 3600)
    before = {
        (layer, result): lookups(layer, result)
        for layer in ("memory", "persistent")
        for result in ("hit", "miss")
    }

    first = await cache.get("org-1", "k1")
    assert first is not None
    assert first == (stored, "persistent")
    second = await cache.get("org-1", "k1")
    assert second is not None
    assert second[1] == "memory"
    assert second[0] == stored
    assert store.gets == [("org-1", "k1")]  # the second lookup never reached the store
    assert await cache.get("org-1", "missing") is None

    assert lookups("memory", "miss") - before[("memory", "miss")] == 2
    assert lookups("memory", "hit") - before[("memory", "hit")] == 1
    assert lookups("persistent", "hit") - before[("persistent", "hit")] == 1
    assert lookups("persistent", "miss") - before[("persistent", "miss")] == 1
    assert cache.hit_rate() == 2 / 3
    assert 0.0 < cache_module.hit_rate() <= 1.0
    assert 0.0 < cache_module.hit_rate("persistent") <= 1.0


async def test_put_writes_both_layers_and_workspaces_never_share() -> None:
    store = FakeStore()
    cache = AICache(LRUCache(ttl_seconds=120, clock=FakeClock()), store)
    assert await cache.put("org-1", "k", "listing_copy", answer()) is True
    assert store.rows[("org-1", "k")] == ("listing_copy", answer(), 120)
    hit = await cache.get("org-1", "k")
    assert hit is not None
    assert hit[1] == "memory"
    assert await cache.get("org-2", "k") is None
    assert store.gets == [("org-2", "k")]


async def test_cached_answers_are_copies() -> None:
    cache = AICache(LRUCache(clock=FakeClock()))
    original = answer()
    await cache.put("org-1", "k", "listing_copy", original)
    original.text = "changed by the caller"
    hit = await cache.get("org-1", "k")
    assert hit is not None
    hit[0].text = "changed again"
    again = await cache.get("org-1", "k")
    assert again is not None
    assert again[0].text == '{"title": "Cat mug"}'


async def test_refused_and_offline_answers_are_not_stored() -> None:
    store = FakeStore()
    cache = AICache(LRUCache(clock=FakeClock()), store)
    assert await cache.put("org-1", "r", "listing_copy", answer(refused=True)) is False
    assert await cache.put("org-1", "o", "listing_copy", answer(offline=True)) is False
    assert store.rows == {}
    assert await cache.get("org-1", "r") is None
    assert await cache.get("org-1", "o") is None


async def test_memory_only_cache_without_a_store() -> None:
    cache = AICache()
    assert cache.hit_rate() == 0.0
    assert await cache.get("org-1", "k") is None
    await cache.put("org-1", "k", "listing_copy", answer(), ttl_seconds=30)
    hit = await cache.get("org-1", "k")
    assert hit is not None
    assert hit[1] == "memory"
    assert cache.hit_rate() == 0.5


async def test_metrics_expose_the_hit_ratio_of_the_counters() -> None:
    from prometheus_client import REGISTRY

    from flashfusion.ai.cache import hit_rate

    assert REGISTRY.get_sample_value("flashfusion_ai_cache_hit_ratio") == hit_rate()
    # After one more hit in memory the gauge follows the counters.
    cache = AICache(LRUCache(), None)
    response = AIResponse(text="{}", provider="openai", model="gpt-5.4-nano")
    await cache.put("org-gauge", "k", "listing_copy", response, 60)
    assert await cache.get("org-gauge", "k") is not None
    assert REGISTRY.get_sample_value("flashfusion_ai_cache_hit_ratio") == hit_rate()
    assert hit_rate() > 0


# --- many at once (batch generation) --------------------------------------------------------------


class FakeBulkStore(FakeStore):
    """A store that reads and writes many entries per call, counting the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.get_calls: list[list[str]] = []
        self.put_calls: list[list[tuple[str, str]]] = []

    async def get_many(self, organization_id: str, keys: list[str]) -> dict[str, AIResponse]:
        self.get_calls.append(list(keys))
        return {
            k: self.rows[(organization_id, k)][1] for k in keys if (organization_id, k) in self.rows
        }

    async def put_many(self, entries: list[tuple[str, str, str, AIResponse, int]]) -> None:
        self.put_calls.append([(e[0], e[1]) for e in entries])
        for organization_id, key, task, response, ttl in entries:
            self.rows[(organization_id, key)] = (task, response, ttl)


async def test_get_many_reads_memory_then_the_store_once_and_counts_like_get() -> None:
    store = FakeBulkStore()
    cache = AICache(LRUCache(clock=FakeClock()), store)
    await cache.put("org-1", "in-memory", "listing_copy", answer("M"), 60)
    await store.put("org-1", "stored", "listing_copy", answer("S"), 60)
    await store.put("org-2", "elsewhere", "listing_copy", answer("E"), 60)
    before = {
        (layer, result): lookups(layer, result)
        for layer in ("memory", "persistent")
        for result in ("hit", "miss")
    }

    found = await cache.get_many("org-1", ["in-memory", "stored", "elsewhere", "stored"])

    assert found == {"in-memory": (answer("M"), "memory"), "stored": (answer("S"), "persistent")}
    assert store.get_calls == [["stored", "elsewhere"]]  # one read, for the memory misses
    assert store.gets == []
    delta = {key: lookups(*key) - value for key, value in before.items()}
    assert delta == {
        ("memory", "hit"): 1.0,
        ("memory", "miss"): 2.0,
        ("persistent", "hit"): 1.0,
        ("persistent", "miss"): 1.0,
    }
    assert (cache.lookups, cache.hits) == (3, 2)
    # The persistent hit is now in memory: the next read never reaches the store.
    assert await cache.get_many("org-1", ["stored"]) == {"stored": (answer("S"), "memory")}
    assert len(store.get_calls) == 1


async def test_get_many_falls_back_to_one_read_per_key_on_a_plain_store() -> None:
    store = FakeStore()
    cache = AICache(LRUCache(clock=FakeClock()), store)
    await store.put("org-1", "a", "listing_copy", answer("A"), 60)
    found = await cache.get_many("org-1", ["a", "b"])
    assert found == {"a": (answer("A"), "persistent")}
    assert store.gets == [("org-1", "a"), ("org-1", "b")]
    assert await AICache(LRUCache(clock=FakeClock())).get_many("org-1", ["a"]) == {}


async def test_put_many_skips_what_put_skips_and_keeps_the_last_answer_per_key() -> None:
    store = FakeBulkStore()
    cache = AICache(LRUCache(ttl_seconds=120, clock=FakeClock()), store)
    stored = await cache.put_many(
        [
            ("org-1", "k", "listing_copy", answer("first"), 30),
            ("org-1", "refused", "listing_copy", answer(refused=True), 30),
            ("org-1", "offline", "listing_copy", answer(offline=True), 30),
            ("org-2", "k", "listing_copy", answer("other workspace"), 30),
            ("org-1", "k", "listing_copy", answer("last"), 40),
        ]
    )
    assert stored == 2
    assert store.put_calls == [[("org-1", "k"), ("org-2", "k")]]
    assert store.rows == {
        ("org-1", "k"): ("listing_copy", answer("last"), 40),
        ("org-2", "k"): ("listing_copy", answer("other workspace"), 30),
    }
    assert await cache.get("org-1", "k") == (answer("last"), "memory")
    assert await cache.get("org-1", "refused") is None
    # A plain store is written one entry at a time.
    plain = FakeStore()
    assert (
        await AICache(LRUCache(clock=FakeClock()), plain).put_many(
            [("org-1", "k", "listing_copy", answer(), 30)]
        )
        == 1
    )
    assert plain.rows == {("org-1", "k"): ("listing_copy", answer(), 30)}
