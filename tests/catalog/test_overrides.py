"""Per-organization override documents: what they change, and every way they can be wrong."""

from typing import Any

import pytest

from flashfusion.catalog.registry import CatalogOverrideError, apply_overrides, get_catalog
from flashfusion.catalog.schemas import MAX_OVERRIDE_AMOUNT

CATALOG = get_catalog()


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def errors_of(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(CatalogOverrideError) as caught:
        apply_overrides(CATALOG, document)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == "; ".join(f"{p}: {m}" for p, m in caught.value.errors)
    return caught.value.errors


def test_empty_document_changes_nothing() -> None:
    assert apply_overrides(CATALOG, {}) == CATALOG
    assert apply_overrides(CATALOG, {"product_types": {}}) == CATALOG


def test_own_cost_and_shipping_make_the_offer_verified() -> None:
    result = apply_overrides(
        CATALOG,
        {
            "product_types": {
                "tshirt": {
                    "variants": {
                        "white-m": {
                            "offers": [
                                {
                                    "provider": "printful",
                                    "base_cost": usd(1195),
                                    "shipping_first": usd(499),
                                    "shipping_additional": usd(220),
                                }
                            ]
                        }
                    }
                }
            }
        },
    )
    variant = result.product_types["tshirt"].variant("white-m")
    assert variant is not None
    (offer,) = variant.offers
    assert offer.base_cost is not None
    assert offer.shipping_first is not None
    assert (offer.base_cost.amount, offer.shipping_first.amount) == (1195, 499)
    assert offer.shipping_additional is not None
    assert offer.shipping_additional.amount == 220
    assert offer.verified is True
    assert offer.source.endswith(
        "; organization override: base_cost, shipping_additional, shipping_first"
    )
    assert offer.variant_id == "4012"
    # Only that variant changed; the bundled catalog itself is untouched.
    untouched = CATALOG.product_types["tshirt"].variant("white-m")
    assert untouched is not None
    assert untouched.offers[0].base_cost is None
    assert result.product_types["tshirt"].variant("white-l") == CATALOG.product_types[
        "tshirt"
    ].variant("white-l")


def test_own_cost_alone_stays_unverified_while_shipping_is_unconfirmed() -> None:
    result = apply_overrides(
        CATALOG,
        {
            "product_types": {
                "tshirt": {
                    "variants": {
                        "white-m": {"offers": [{"provider": "printful", "base_cost": usd(1195)}]}
                    }
                }
            }
        },
    )
    variant = result.product_types["tshirt"].variant("white-m")
    assert variant is not None
    offer = variant.offers[0]
    assert offer.base_cost is not None
    assert offer.base_cost.amount == 1195
    assert offer.shipping_first is not None
    assert offer.shipping_first.amount == 475
    assert offer.verified is False


def test_disable_variants_and_types_change_margins_and_mappings_by_alias() -> None:
    result = apply_overrides(
        CATALOG,
        {
            "product_types": {
                "tshirt": {
                    "variants": {"white-s": {"enabled": False}, "black-s": {"enabled": False}},
                    "print_areas": {"front": {"safe_margin_px": 60, "bleed_px": 5}},
                    "platforms": {"etsy_taxonomy_id": 482, "google_product_category": 5322},
                },
                "mug": {"platforms": {"amazon_product_type": "DRINKING_CUP"}},
                "hoodie": {"enabled": False},
            }
        },
    )
    tshirt = result.product_types["tshirt"]
    assert [v.key for v in tshirt.variants][:4] == ["white-m", "white-l", "white-xl", "white-2xl"]
    assert len(tshirt.variants) == 23
    front = tshirt.print_area("front")
    assert front is not None
    assert (front.safe_margin_px, front.bleed_px) == (60, 5)
    assert front.source.endswith("; organization override")
    assert tshirt.print_area("back") == CATALOG.product_types["tshirt"].print_area("back")
    assert (tshirt.platforms.etsy_taxonomy_id, tshirt.platforms.google_product_category) == (
        482,
        5322,
    )
    assert tshirt.platforms.shopify_product_type == "T-Shirt"
    assert tshirt.platforms.source.endswith(
        "; organization override: etsy_taxonomy_id, google_product_category"
    )
    assert result.product_types["mug-11oz"].platforms.amazon_product_type == "DRINKING_CUP"
    assert "hoodie" not in result.product_types
    assert len(result.product_types) == len(CATALOG.product_types) - 1
    assert result.version == CATALOG.version


def test_empty_platform_override_keeps_the_mappings() -> None:
    result = apply_overrides(CATALOG, {"product_types": {"poster": {"platforms": {}}}})
    assert result.product_types["poster"].platforms == CATALOG.product_types["poster"].platforms


def test_document_must_be_an_object() -> None:
    assert errors_of([]) == [("(document)", 'must be an object like {"product_types": {...}}')]


def test_schema_errors_name_the_path() -> None:
    path = "product_types.tshirt.variants.white-m.offers[0]"
    doc: dict[str, Any] = {
        "product_types": {
            "tshirt": {
                "variants": {
                    "white-m": {
                        "offers": [
                            {"provider": "printful", "base_cost": {"amount": -1, "currency": "USD"}}
                        ]
                    }
                }
            }
        }
    }
    assert errors_of(doc) == [
        (f"{path}.base_cost.amount", "Input should be greater than or equal to 0")
    ]
    doc["product_types"]["tshirt"]["variants"]["white-m"]["offers"][0]["base_cost"] = {
        "amount": MAX_OVERRIDE_AMOUNT + 1,
        "currency": "usd",
    }
    assert errors_of(doc) == [
        (
            f"{path}.base_cost.amount",
            f"Input should be less than or equal to {MAX_OVERRIDE_AMOUNT}",
        ),
        (f"{path}.base_cost.currency", "String should match pattern '^[A-Z]{3}$'"),
    ]
    assert errors_of({"product_types": {"tshirt": {"colour": "red"}}}) == [
        ("product_types.tshirt.colour", "Extra inputs are not permitted")
    ]
    assert errors_of(
        {"product_types": {"tshirt": {"print_areas": {"front": {"bleed_px": -2}}}}}
    ) == [
        (
            "product_types.tshirt.print_areas.front.bleed_px",
            "Input should be greater than or equal to 0",
        )
    ]
    assert errors_of(
        {
            "product_types": {
                "tshirt": {"variants": {"white-m": {"offers": [{"provider": "gelato"}]}}}
            }
        }
    ) == [(f"{path}.provider", "Input should be 'printful' or 'printify'")]


def test_unknown_keys_name_the_path_and_suggest() -> None:
    assert errors_of({"product_types": {"tshrt": {}}}) == [
        (
            "product_types.tshrt",
            "unknown product type 'tshrt'; did you mean 'tshirt', 'sweatshirt'?",
        )
    ]
    assert errors_of({"product_types": {"tshirt": {"variants": {"white-xxl": {}}}}}) == [
        (
            "product_types.tshirt.variants.white-xxl",
            "unknown variant; did you mean white-xl, white-2xl, white-l?",
        )
    ]
    assert errors_of({"product_types": {"tshirt": {"print_areas": {"frontt": {}}}}}) == [
        ("product_types.tshirt.print_areas.frontt", "unknown print area; did you mean front?")
    ]


def test_business_rule_errors_name_the_path() -> None:
    no_printify = {
        "product_types": {
            "poster": {
                "variants": {"18x24": {"offers": [{"provider": "printify", "base_cost": usd(900)}]}}
            }
        }
    }
    assert errors_of(no_printify) == [
        (
            "product_types.poster.variants.18x24.offers[0].provider",
            "this variant has no printify offer; offers: printful",
        )
    ]
    mixed = {
        "product_types": {
            "poster": {
                "variants": {
                    "18x24": {
                        "offers": [
                            {
                                "provider": "printful",
                                "base_cost": usd(900),
                                "shipping_first": {"amount": 500, "currency": "EUR"},
                            }
                        ]
                    }
                }
            }
        }
    }
    assert errors_of(mixed) == [
        ("product_types.poster.variants.18x24.offers[0]", "mixes currencies ['EUR', 'USD']")
    ]
    assert errors_of(
        {"product_types": {"mug-11oz": {"variants": {"white": {"enabled": False}}}}}
    ) == [("product_types.mug-11oz.variants", "disables every variant; keep at least one enabled")]
    assert errors_of(
        {"product_types": {"tshirt": {"print_areas": {"sleeve_left": {"safe_margin_px": 300}}}}}
    ) == [
        (
            "product_types.tshirt.print_areas.sleeve_left.safe_margin_px",
            "300 px leaves no safe area in a 525 px side; use less than 262",
        )
    ]
    assert errors_of(
        {"product_types": {"tshirt": {"print_areas": {"sleeve_left": {"bleed_px": 263}}}}}
    ) == [
        (
            "product_types.tshirt.print_areas.sleeve_left.bleed_px",
            "263 px leaves no safe area in a 525 px side; use less than 262",
        )
    ]
    assert errors_of({"product_types": {"mug": {}, "mug-11oz": {}}}) == [
        ("product_types.mug-11oz", "names the same product type as 'mug'; merge them")
    ]
    everything = {"product_types": {key: {"enabled": False} for key in CATALOG.product_types}}
    assert errors_of(everything) == [("product_types", "disables every product type")]


def test_every_problem_is_reported_at_once() -> None:
    doc: dict[str, Any] = {
        "product_types": {
            "tshrt": {},
            "poster": {"variants": {"19x25": {}}},
        }
    }
    assert [path for path, _ in errors_of(doc)] == [
        "product_types.tshrt",
        "product_types.poster.variants.19x25",
    ]
    assert errors_of({"product_types": {"mug-11oz": {"variants": {"zz": {}}}}}) == [
        ("product_types.mug-11oz.variants.zz", "unknown variant; valid: white")
    ]
    many = errors_of({"product_types": {"tshirt": {"variants": {"zz": {}}}}})
    assert many == [
        (
            "product_types.tshirt.variants.zz",
            "unknown variant; valid: white-s, white-m, white-l, white-xl, white-2xl, black-s, "
            "black-m, black-l, …",
        )
    ]
