"""The provider refresh seam, driven by an in-test catalog source (no network)."""

from dataclasses import dataclass, field

import pytest

from flashfusion.catalog.registry import get_catalog, refresh_from
from flashfusion.catalog.schemas import (
    Catalog,
    Money,
    PrintFile,
    Provider,
    ProviderProductData,
    ProviderVariantData,
)

BUNDLED = get_catalog()
# Two types keep the test small: the t-shirt (some variants with Printful ids, some without) and
# the 11 oz mug (one variant, id 1320).
SMALL = Catalog(
    version=BUNDLED.version,
    product_types={k: BUNDLED.product_types[k] for k in ("tshirt", "mug-11oz")},
)
REFRESHED = "printful GET /v2/catalog-products/71 (test, 2027-01-05)"


def usd(amount: int) -> Money:
    return Money(amount=amount, currency="USD")


def print_file(width: int, height: int) -> PrintFile:
    return PrintFile(
        width_px=width, height_px=height, dpi=150, fill_mode="fit", source=REFRESHED, printfile_id=9
    )


@dataclass
class FakeSource:
    products: dict[str, ProviderProductData | None]
    provider: Provider = "printful"
    calls: list[str] = field(default_factory=list)

    async def fetch_product(self, product_id: str) -> ProviderProductData | None:
        self.calls.append(product_id)
        return self.products.get(product_id)


def tee_data() -> ProviderProductData:
    return ProviderProductData(
        provider="printful",
        product_id="71",
        source=REFRESHED,
        variants=[
            # white-m: a new front print file, a full cost and shipping
            ProviderVariantData(
                variant_id="4012",
                print_files={"front": print_file(2000, 2600), "pocket": print_file(300, 300)},
                base_cost=usd(1129),
                shipping_first=usd(475),
                shipping_additional=usd(220),
            ),
            # white-l: a cost but no shipping, no print-file change
            ProviderVariantData(variant_id="4013", base_cost=usd(1129)),
            # black-m: out of stock
            ProviderVariantData(variant_id="4017", available=False),
            # a colour the catalog does not carry
            ProviderVariantData(variant_id="99999"),
        ],
    )


async def test_merge_updates_matched_variants_and_reports_the_rest() -> None:
    source = FakeSource({"71": tee_data(), "19": None})
    result = await refresh_from(source, SMALL)
    assert source.calls == ["19", "71"]

    tshirt = result.catalog.product_types["tshirt"]
    white_m = tshirt.variant("white-m")
    assert white_m is not None
    assert white_m.print_files["front"] == print_file(2000, 2600)
    assert "pocket" not in white_m.print_files  # not an area of this product type
    assert (
        white_m.print_files["back"] == SMALL.product_types["tshirt"].variants[1].print_files["back"]
    )
    offer = white_m.offers[0]
    assert (offer.base_cost, offer.shipping_first, offer.shipping_additional) == (
        usd(1129),
        usd(475),
        usd(220),
    )
    assert (offer.verified, offer.source, offer.available) == (True, REFRESHED, True)

    white_l = tshirt.variant("white-l")
    assert white_l is not None
    assert white_l.offers[0].base_cost == usd(1129)
    assert white_l.offers[0].verified is False  # shipping is still only the help-page example
    assert white_l.offers[0].source.endswith(f"; refreshed: {REFRESHED}")

    black_m = tshirt.variant("black-m")
    assert black_m is not None
    assert black_m.offers[0].available is False
    white_s = tshirt.variant("white-s")  # 4011: not returned by the provider any more
    assert white_s is not None
    assert white_s.offers[0].available is False

    mug = result.catalog.product_types["mug-11oz"]
    assert mug.variants[0].offers[0].available is False  # product 19 is gone

    report = result.report
    assert report.updated_print_files == ["product_types.tshirt.variants.white-m.print_files.front"]
    assert report.updated_offers == [
        "product_types.tshirt.variants.white-m.offers[0]",
        "product_types.tshirt.variants.white-l.offers[0]",
    ]
    assert report.unavailable == [
        "product_types.tshirt.variants.white-s.offers[0]",
        "product_types.tshirt.variants.white-xl.offers[0]",
        "product_types.tshirt.variants.black-s.offers[0]",
        "product_types.tshirt.variants.black-m.offers[0]",
        "product_types.tshirt.variants.black-l.offers[0]",
        "product_types.tshirt.variants.black-xl.offers[0]",
        "product_types.tshirt.variants.asphalt-2xl.offers[0]",
        "product_types.tshirt.variants.athletic-heather-l.offers[0]",
        "product_types.mug-11oz.variants.white.offers[0]",
    ]
    # The 15 t-shirt variants without a Printful id are reported, never guessed.
    assert len(report.unmapped_offers) == 15
    assert "product_types.tshirt.variants.white-2xl.offers[0]" in report.unmapped_offers
    assert report.missing_products == ["19"]
    assert report.new_provider_variants == ["71:99999"]
    # The input catalog is not modified.
    assert SMALL.product_types["tshirt"].variant("white-m") == BUNDLED.product_types[
        "tshirt"
    ].variant("white-m")


async def test_refresh_with_nothing_new_changes_nothing_but_availability() -> None:
    same = ProviderProductData(
        provider="printful",
        product_id="19",
        source=REFRESHED,
        variants=[ProviderVariantData(variant_id="1320")],
    )
    result = await refresh_from(FakeSource({"19": same}), SMALL)
    mug = result.catalog.product_types["mug-11oz"]
    assert mug.variants[0].offers[0].available is True
    assert (
        mug.variants[0].offers[0].source
        == SMALL.product_types["mug-11oz"].variants[0].offers[0].source
    )
    assert mug.variants[0].print_files == SMALL.product_types["mug-11oz"].variants[0].print_files
    assert result.report.updated_offers == []
    assert result.report.updated_print_files == []


async def test_a_source_for_another_provider_fetches_nothing() -> None:
    source = FakeSource({}, provider="printify")
    result = await refresh_from(source, SMALL)
    assert source.calls == []
    assert result.catalog == SMALL
    assert result.report.missing_products == []


async def test_the_bundled_catalog_is_the_default_and_each_product_is_fetched_once() -> None:
    source = FakeSource({})
    result = await refresh_from(source)
    product_ids = {
        o.product_id for t in BUNDLED.product_types.values() for v in t.variants for o in v.offers
    }
    assert sorted(source.calls) == sorted(product_ids)
    assert (
        len(source.calls) == len(set(source.calls)) == 36
    )  # 38 types; the 11, 15 and 20 oz mugs share product 19
    assert result.report.missing_products == sorted(product_ids)


async def test_a_source_answering_for_the_wrong_product_is_an_error() -> None:
    wrong = ProviderProductData(provider="printful", product_id="72", source=REFRESHED, variants=[])
    with pytest.raises(
        ValueError, match="returned printful product 72 when asked for printful product 19"
    ):
        await refresh_from(FakeSource({"19": wrong}), SMALL)
