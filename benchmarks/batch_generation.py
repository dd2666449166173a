"""Batch listing generation against a sandbox provider: wall time against the ideal.

A fresh FLASHFUSION_HOME (SQLite), or the empty database given with --database-url (PostgreSQL),
is migrated and seeded with one workspace whose listing-copy chain is OpenAI only, with a
workspace key for the OpenAI sandbox twin (served in-process through httpx.ASGITransport, with
300 ms latency per request). A batch of N ideas (default 200) is run
through the batch job's own steps with at most 8 provider calls in flight.

    ideal  = N × latency / concurrency          (200 × 0.3 s / 8 = 7.5 s)
    ratio  = ideal / wall                       target ≥ 0.85

Then the same ideas run again as a new batch: every answer comes from the cache, and the figure
is wall time per item (target < 2 ms). Both runs write the same copies, so afterwards each has
versions 1 and 2 (checked: the exit status is 1 otherwise). The mean cost per listing is the
ledger's total over N, priced with the price table (the twin's token counts are its own, see
sandbox/ai_common.py).

    .venv/bin/python benchmarks/batch_generation.py [--items 200] [--latency 0.3]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/ffbench]
        [--profile /tmp/batch]   # cProfile of each run: /tmp/batch-first.prof, -cached.prof

The time spent preparing chunks and saving groups of each run is printed too (the rest of the
wall time is the provider calls).
"""

import argparse
import asyncio
import cProfile
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

IDEAS = [
    ("Coffee first", "mug-11oz"),
    ("Plant mom", "tshirt"),
    ("Stay wild", "hoodie"),
    ("Book club", "tote"),
    ("Cat nap champion", "sticker-kiss-cut"),
    ("Good vibes only", "poster"),
    ("Dog dad", "hat"),
    ("Adventure awaits", "water-bottle"),
]


class Phases:
    """Wall time inside the batch job's prepare and save steps, per run."""

    def __init__(self) -> None:
        self.prepare = 0.0
        self.save = 0.0
        self.groups = 0

    def wrap(self, tasks: Any) -> None:
        prepare, save = tasks._prepare, tasks._save

        async def timed_prepare(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return await prepare(*args)
            finally:
                self.prepare += time.perf_counter() - started

        async def timed_save(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return await save(*args)
            finally:
                self.save += time.perf_counter() - started
                self.groups += 1

        tasks._prepare, tasks._save = timed_prepare, timed_save

    def reset(self) -> dict[str, float]:
        taken = {"prepare": self.prepare, "save": self.save, "groups": self.groups}
        self.prepare = self.save = 0.0
        self.groups = 0
        return taken


async def _run(items: int, latency: float, profile: str | None) -> dict[str, Any]:
    import httpx
    from sqlalchemy import func, select

    from flashfusion.ai.service import ai as ai_service
    from flashfusion.auth.models import AuthSubject
    from flashfusion.content import tasks as content_tasks
    from flashfusion.content.batch_service import BatchItemInput, content_batch
    from flashfusion.db import dispose_engines, unit_of_work
    from flashfusion.kit import encryption
    from flashfusion.models import (
        AICredential,
        AIGeneration,
        AISettings,
        BatchStatus,
        ContentBatch,
        ListingCopy,
        ListingCopyVersion,
    )
    from flashfusion.organization.service import organization as organization_service
    from flashfusion.sandbox import openai_api
    from flashfusion.user.service import user as user_service

    key = "sk-bench-" + secrets.token_hex(12)
    twin = openai_api.create_app(api_keys={key})
    twin.state.sandbox.faults.latency = latency
    ai_service.http_client_factory = lambda name: httpx.AsyncClient(
        transport=httpx.ASGITransport(app=twin), base_url="http://openai.sandbox"
    )
    ai_service.lru.clear()
    try:
        async with unit_of_work() as session:
            owner = await user_service.create(
                session,
                email=f"bench-{secrets.token_hex(4)}@bench.example.com",
                password=secrets.token_urlsafe(18),
                verified=True,
            )
            organization = await organization_service.create(
                session, AuthSubject(owner), name="Bench"
            )
            session.add(
                AISettings(
                    organization_id=organization.id,
                    chains={"listing_copy": ["openai"]},
                    models={},
                    plan_tier="business",
                    soft_warning_percent=80,
                    hard_stop=True,
                    offline_fallback=True,
                    cache_ttl_seconds=86400,
                )
            )
            credential = AICredential(
                organization_id=organization.id,
                provider="openai",
                base_url="http://openai.sandbox/v1",
                key_hint=key[-4:],
            )
            session.add(credential)
            await session.flush()
            credential.encrypted_api_key = encryption.encrypt(
                key,
                aad=encryption.bound_to("ai_credentials", "encrypted_api_key", credential.id),
            )
        ideas = [
            BatchItemInput(
                idea=f"{IDEAS[i % len(IDEAS)][0]} {i // len(IDEAS) + 1}",
                product_type=IDEAS[i % len(IDEAS)][1],
            )
            for i in range(items)
        ]

        phases = Phases()
        phases.wrap(content_tasks)

        async def batch_run(ideas: list[Any], name: str | None = None) -> tuple[float, Any]:
            async with unit_of_work() as session:
                batch = await content_batch.create(
                    session,
                    AuthSubject(owner),
                    organization_id=organization.id,
                    items=ideas,
                    platforms=["etsy"],
                    languages=["en"],
                    brand_voice_id=None,
                )
                batch_id = str(batch.id)
            profiler = cProfile.Profile() if profile and name else None
            phases.reset()
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            for chunk in await content_tasks.start(batch_id):
                await content_tasks.run_chunk(batch_id, chunk)
            await content_tasks.finish(batch_id, None)
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(f"{profile}-{name}.prof")
            wall = time.perf_counter() - started
            taken = phases.reset()
            async with unit_of_work() as session:
                done = await session.get(ContentBatch, batch.id)
                assert done is not None
                return wall, (done.status, done.done, done.failed, taken)

        # Warm-up (SDK import, provider construction, first connection): one other idea.
        await batch_run([BatchItemInput(idea="Warm up", product_type="mug-11oz")])
        warm_requests = twin.state.sandbox.requests["chat.completions"]
        first_wall, first = await batch_run(ideas, "first")
        async with unit_of_work() as session:
            total_cost, generations = (
                await session.execute(
                    select(func.sum(AIGeneration.cost_microusd), func.count()).where(
                        AIGeneration.organization_id == organization.id,
                        AIGeneration.cache_hit.is_(False),
                    )
                )
            ).one()
        requests = twin.state.sandbox.requests["chat.completions"] - warm_requests
        second_wall, second = await batch_run(ideas, "cached")
        # Both runs wrote the same copies: each has versions 1 and 2.
        async with unit_of_work() as session:
            copies = (
                await session.execute(
                    select(ListingCopy.latest_version, func.count())
                    .where(ListingCopy.organization_id == organization.id)
                    .group_by(ListingCopy.latest_version)
                )
            ).all()
            versions = (
                await session.execute(
                    select(func.count()).where(
                        ListingCopyVersion.organization_id == organization.id
                    )
                )
            ).scalar_one()
        # The AI layer alone on a repeat: request → cache key → in-memory hit (no database).
        from flashfusion.ai.cache import AICache
        from flashfusion.ai.types import AIRequest, AIResponse, Message, TaskType
        from flashfusion.content.draft import ListingDraft

        async with unit_of_work() as session:
            resolved = await ai_service.resolve(session, organization.id, TaskType.listing_copy)
        hits = 0
        started = time.perf_counter()
        for i in range(items):
            prepared = ai_service.prepared(
                resolved,
                organization_id=organization.id,
                user_id=None,
                request=AIRequest(
                    task=TaskType.listing_copy,
                    messages=[Message(role="user", content=f"repeat {i % 4}")],
                ),
                output=ListingDraft,
                prompt=None,
                product_id=None,
                listing_copy_id=None,
                use_cache=True,
            )
            if i >= 4:
                await ai_service.lookup(None, prepared)
                hits += prepared.cached is not None
            else:
                await AICache(ai_service.lru, None).put(
                    str(organization.id),
                    prepared.key,
                    "listing_copy",
                    AIResponse(
                        text=ListingDraft(title="t", description="d").model_dump_json(),
                        provider="openai",
                        model="gpt-5.4-nano",
                    ),
                    3600,
                )
        layer_ms = (time.perf_counter() - started) / items * 1000
        return {
            "first_wall": first_wall,
            "first": first,
            "second_wall": second_wall,
            "second": second,
            "requests": requests,
            "layer_ms": layer_ms,
            "layer_hits": hits,
            "cost": total_cost,
            "generations": generations,
            "copies": dict(copies),
            "versions": versions,
            "ok": first[0] == BatchStatus.succeeded
            and second[0] == BatchStatus.succeeded
            and dict(copies) == {1: 1, 2: items}
            and versions == 2 * items + 1,
        }
    finally:
        await dispose_engines()


def _phases(taken: dict[str, float], items: int) -> str:
    return (
        f"            prepare {taken['prepare'] * 1000:.0f} ms "
        f"({taken['prepare'] / items * 1000:.2f} ms/item), save {taken['save'] * 1000:.0f} ms "
        f"in {taken['groups']:.0f} groups ({taken['save'] / items * 1000:.2f} ms/item)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument(
        "--database-url",
        default="",
        help="an empty database to migrate and use (e.g. PostgreSQL); default: a new SQLite file",
    )
    parser.add_argument(
        "--profile", metavar="PREFIX", help="write cProfile stats to PREFIX-first/-cached.prof"
    )
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="ff-bench-batch-"))
    for name in list(os.environ):
        if name.startswith("FLASHFUSION_"):
            del os.environ[name]
    os.environ["FLASHFUSION_HOME"] = str(home)
    if args.database_url:
        os.environ["FLASHFUSION_DATABASE_URL"] = args.database_url
    os.environ["FLASHFUSION_SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ["FLASHFUSION_LOG_LEVEL"] = "WARNING"

    from flashfusion import migrate
    from flashfusion.config import get_settings
    from flashfusion.content.tasks import CONCURRENCY
    from flashfusion.logging import configure

    configure(get_settings())

    migrate.upgrade()
    result = asyncio.run(_run(args.items, args.latency, args.profile))
    dialect = "SQLite" if get_settings().is_sqlite else "PostgreSQL"
    ideal = args.items * args.latency / CONCURRENCY
    ratio = ideal / result["first_wall"]
    per_item_ms = result["second_wall"] / args.items * 1000
    print(
        f"batch_generation: {args.items} listings, sandbox latency {args.latency * 1000:.0f} ms, "
        f"concurrency {CONCURRENCY}, {dialect}"
    )
    print(
        f"  first run   wall {result['first_wall']:.2f} s  ideal {ideal:.2f} s  "
        f"ratio {ratio:.3f} (target >= 0.85)  provider requests {result['requests']}  "
        f"status {result['first'][0].value} done {result['first'][1]} failed {result['first'][2]}"
    )
    print("  " + _phases(result["first"][3], args.items))
    print(
        f"  cached run  wall {result['second_wall']:.3f} s  {per_item_ms:.2f} ms/item "
        f"(target < 2 ms)  status {result['second'][0].value} done {result['second'][1]}"
    )
    print("  " + _phases(result["second"][3], args.items))
    print(
        f"  AI layer cache hit {result['layer_ms']:.3f} ms/request over {args.items} requests "
        f"({result['layer_hits']} hits; target < 2 ms)"
    )
    cost = result["cost"]
    mean = "unpriced" if cost is None else f"${int(cost) / result['generations'] / 1e6:.6f}"
    print(f"  mean cost per listing {mean} over {result['generations']} generations")
    print(
        f"  copies by latest version {result['copies']}, versions {result['versions']} "
        f"(expected {{1: 1, 2: {args.items}}} and {2 * args.items + 1})"
    )
    if args.profile:
        print(f"  profiles: {args.profile}-first.prof, {args.profile}-cached.prof")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
