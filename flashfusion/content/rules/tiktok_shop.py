"""TikTok Shop product rules (Partner API Create Product, version 202309).

TikTok publishes no machine-readable spec; the field descriptions below are TikTok's API
reference text as carried in lywzx/tiktok-partner-api
packages/tk-origin-api/src/products/CreateProduct.ts@79921db8.
"""

from flashfusion.content.rules.base import Limit, PlatformRules

_CREATE = (
    "TikTok Shop Partner API 'Create Product' POST /product/202309/products (reference text in "
    "lywzx/tiktok-partner-api packages/tk-origin-api/src/products/CreateProduct.ts@79921db8)"
)

RULES = PlatformRules(
    platform="tiktok_shop",
    label="TikTok Shop",
    title_max=Limit(255, _CREATE + " title: 'no more than 255 characters'"),
    # 25 is the rule outside the US and UK (which allow 1); using the stricter one keeps a title
    # valid in every market.
    title_min=Limit(
        25,
        _CREATE + " title: 'For shops in other regions, the product name must have at least 25 "
        "characters' (US/UK: at least 1)",
    ),
    description_max=Limit(
        10000, _CREATE + " description: 'This field character limit needs to be within 10000'"
    ),
    fields=frozenset({"title", "description"}),
    notes=(
        "description is HTML on TikTok; the connector's <p> wrapping counts toward the 10000",
        "title: 'Chinese characters are not allowed in the product title' (same source); not "
        "enforced because Han ideographs are also Japanese kanji — unverified for JP shops",
        "no tag field exists on Create Product, so tags are not used",
    ),
)
