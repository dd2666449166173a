"""What a product looks like on a channel: the `PublishPayload` built from the product, its
variants, its newest listing copy for the channel and its rendered images, plus the hash that
says "this version of the listing".

The hash is SHA-256 over the payload's canonical JSON with each image's bytes replaced by the
stored file's SHA-256, so it is computed without reading any file and is the same in the
request that queues a publish and in the job that runs it.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flashfusion.catalog.service import catalog as catalog_service
from flashfusion.connector.base import ImagePayload, PublishPayload, VariantPayload
from flashfusion.exceptions import UnprocessableEntity
from flashfusion.models import MediaAsset, Product, RenderFileKind, RenderStatus
from flashfusion.models.platform_connection import PlatformConnection
from flashfusion.public_file.service import unreachable_reason
from flashfusion.public_file.service import url_for as public_file_url
from flashfusion.publishing.repository import PublishSourceRepository

# Print-on-demand items are made to order: there is no stock to count, but marketplaces want a
# quantity per offering. FlashFusion's default; a platform with a lower maximum caps it in its
# mapper.
MADE_TO_ORDER_QUANTITY = 999
# Platforms that sell the product (listing copy is written for them) as opposed to the print
# providers that make it.
PROVIDERS = frozenset({"printify", "printful"})
# Marketplaces whose listings need at least one photo (Etsy: "Setting a draft listing to active
# … requires that the listing have an image set", specs/etsy/baseline.json updateListing
# `state`).
NEEDS_PHOTO = frozenset({"etsy"})
# Platforms that take files by URL and download them themselves: Printful (v1 schema File `url`,
# "Source URL where the file is downloaded from"; tag "File Library API": a file added is
# "downloaded and processed later", specs/printful/printfulapi.json). Their images get a signed,
# expiring URL of this app (public_file/service.py); the others get the bytes.
NEEDS_FILE_URL = frozenset({"printful"})


class PayloadIncomplete(UnprocessableEntity):
    """The product lacks something the channel needs; the message says what to do."""


def _label(platform: str) -> str:
    from flashfusion.connector import registry

    connector = registry.all_connectors().get(platform)
    return connector.label if connector is not None else platform.replace("_", " ").title()


@dataclass
class BuiltPayload:
    payload: PublishPayload
    # SHA-256 of each image, in payload order (the image bytes are not part of the hash).
    image_hashes: list[str] = field(default_factory=list)
    # Stored files of the images, for the job to read their bytes.
    assets: list[MediaAsset] = field(default_factory=list)

    @property
    def hash(self) -> str:
        return payload_hash(self.payload, self.image_hashes)


def payload_hash(payload: PublishPayload, image_hashes: list[str]) -> str:
    data = asdict(payload)
    data["images"] = [
        {**{k: v for k, v in image.items() if k not in ("content", "url")}, "sha256": digest}
        for image, digest in zip(data["images"], image_hashes, strict=True)
    ]
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def copy_platform(connection: PlatformConnection, linked: PlatformConnection | None) -> str | None:
    """The platform whose listing copy this connection publishes: the channel itself, or a
    print provider's linked channel (None: a provider with no channel uses the title)."""
    if connection.platform not in PROVIDERS:
        return connection.platform
    return linked.platform if linked is not None else None


async def build_payload(
    session: AsyncSession,
    product: Product,
    connection: PlatformConnection,
    *,
    external_id: str,
    linked: PlatformConnection | None = None,
    with_content: bool = False,
) -> BuiltPayload:
    """The payload of `product` for `connection`; PayloadIncomplete names what is missing.
    `with_content` reads the images' bytes (the job does; a request needs only the hash)."""
    sources = PublishSourceRepository.from_session(session)
    channel = copy_platform(connection, linked)
    copy = await sources.newest_copy(product, channel) if channel else None
    if channel is not None and copy is None:
        raise PayloadIncomplete(
            f"Generate listing copy for {_label(channel)} first: product {product.title!r} "
            f"has none to publish on {_label(connection.platform)}."
        )
    if copy is not None:
        fields = copy[1].fields
        title = str(fields.get("title") or product.title)
        description = str(fields.get("description") or "")
        tags = [str(t) for t in fields.get("tags") or []]
        alt_text = str(fields.get("alt_text") or title)
    else:
        title = description = alt_text = product.title
        tags = []

    catalog = await catalog_service.effective(session, product.organization_id)
    product_type = catalog.product_types.get(product.product_type)
    rows = await sources.variants(product)
    if not rows:
        raise PayloadIncomplete(
            f"Choose at least one variant of product {product.title!r} before publishing it."
        )
    variants: list[VariantPayload] = []
    for row in rows:
        if row.price is None:
            raise PayloadIncomplete(
                f"Set a price for variant {row.sku} of product {product.title!r} first."
            )
        offer = None
        if product_type is not None:
            entry = product_type.variant(row.variant_key)
            if entry is not None:
                offer = next((o for o in entry.offers if o.provider == connection.platform), None)
        variants.append(
            VariantPayload(
                sku=row.sku,
                price=row.price,
                quantity=MADE_TO_ORDER_QUANTITY,
                size=row.size,
                colour=row.colour,
                catalog_variant_id=offer.variant_id if offer else None,
            )
        )

    render = await sources.render(product)
    files = (
        await sources.render_files(render, product.product_type)
        if render is not None and render.status == RenderStatus.succeeded
        else []
    )
    print_files = [(f, a) for f, a in files if f.kind == RenderFileKind.print_file]
    mockups = [(f, a) for f, a in files if f.kind == RenderFileKind.mockup]
    if not print_files:
        raise PayloadIncomplete(
            f"Render print files first: product {product.title!r} has no finished render."
        )
    if connection.platform in NEEDS_PHOTO and not mockups:
        raise PayloadIncomplete(
            f"Render mockups first: {_label(connection.platform)} needs at least one listing "
            f"photo of product {product.title!r}."
        )
    url_base = _file_url_base(connection) if connection.platform in NEEDS_FILE_URL else None
    images: list[ImagePayload] = []
    hashes: list[str] = []
    assets: list[MediaAsset] = []
    storage = None
    if with_content:
        from flashfusion.studio.media import get_storage

        storage = get_storage()
    for render_file, asset in [*print_files, *mockups]:
        content = await storage.get(asset.storage_key) if storage is not None else None
        images.append(
            ImagePayload(
                # Neither media storage (local files, S3 without public access) makes a URL a
                # platform could fetch: the app serves the file at a signed URL of its own.
                url=public_file_url(url_base, render_file.id) if url_base else None,
                content=content,
                filename=asset.filename or f"{render_file.label or render_file.id}.png",
                alt_text=alt_text[:500],
                role="print_file" if render_file.kind == RenderFileKind.print_file else "mockup",
                placement=render_file.area_key or "front",
            )
        )
        hashes.append(asset.sha256)
        assets.append(asset)

    options: dict[str, Any] = {}
    first_offer = next(
        (
            o
            for v in (product_type.variants if product_type else [])
            for o in v.offers
            if o.provider == connection.platform
        ),
        None,
    )
    if first_offer is not None:
        # The provider's catalog product (Printful catalog product / Printify blueprint id).
        options["catalog_product_id"] = first_offer.product_id
    if product_type is not None and product_type.platforms.etsy_taxonomy_id is not None:
        options["etsy_taxonomy_id"] = product_type.platforms.etsy_taxonomy_id
    # Per-account listing settings the creator chose when connecting (Etsy shipping and
    # processing profiles, Printify blueprint/print provider, …), kept on the connection.
    defaults = (connection.account or {}).get("listing_defaults")
    if isinstance(defaults, dict):
        options.update(defaults)

    payload = PublishPayload(
        external_id=external_id,
        title=title,
        description=description,
        tags=tags,
        currency=product.currency,
        product_type=product.product_type,
        variants=variants,
        images=images,
        options=options,
    )
    return BuiltPayload(payload=payload, image_hashes=hashes, assets=assets)


def _file_url_base(connection: PlatformConnection) -> str:
    """The base of the file URLs `connection`'s platform downloads from: the app's public URL
    (FLASHFUSION_BASE_URL). PayloadIncomplete, saying what to set, when a live platform could
    not reach it: unset (its default is this machine), or a local or private address while the
    connection talks to the real platform. A sandbox connection's twin fetches the file
    through the app itself (in-process or on this machine), so any base URL works for it."""
    from flashfusion.config import get_settings
    from flashfusion.connector import registry
    from flashfusion.connector.http import configured_base_url

    settings = get_settings()
    base = settings.BASE_URL.rstrip("/")
    if connection.sandbox:
        return base
    label = _label(connection.platform)
    # A platform base URL of the connection or the settings: a twin or proxy the operator runs,
    # which may well reach a private address; empty: the real platform, on the internet.
    connector = registry.get_connector(connection.platform)
    real_platform = not configured_base_url(connector, connection)
    if "BASE_URL" not in settings.model_fields_set:
        reason: str | None = f"is not set (it defaults to {base})"
    else:
        found = unreachable_reason(base) if real_platform else None
        reason = f"is {base}, which {found}" if found else None
    if reason is not None:
        raise PayloadIncomplete(
            f"Set FLASHFUSION_BASE_URL to the public address of this FlashFusion (for example "
            f"https://flashfusion.example.com), reachable from the internet, and restart it: "
            f"{label} downloads each print file from a signed link under that address "
            f"(/files/...), and FLASHFUSION_BASE_URL {reason}."
        )
    return base


def product_url(product: Product) -> str:
    """The product's page in FlashFusion (the handle of a provider listing with no channel)."""
    from flashfusion.config import get_settings

    base = get_settings().BASE_URL.rstrip("/")
    return f"{base}/orgs/{product.organization_id}/products/{product.id}"
