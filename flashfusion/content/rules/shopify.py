"""Shopify product rules (Admin GraphQL 2025-04 schema, Shopify Help Center)."""

from flashfusion.content.rules.base import Limit, PlatformRules

_SCHEMA = "specs/shopify/schema.graphql"

RULES = PlatformRules(
    platform="shopify",
    label="Shopify",
    title_max=Limit(
        255,
        _SCHEMA + " enum CombinedListingUpdateUserErrorCode.TITLE_TOO_LONG ('The title cannot be "
        "longer than 255 characters.'); https://lettercounter.org/blog/shopify-product-"
        "description-length ('Product titles are capped at 255 characters')",
    ),
    tags_max=Limit(
        250,
        "https://shopify.dev/changelog/product-tags-now-have-a-limit-of-250-per-product ('Products "
        "can no longer have more than 250 tags'; 2019-03-04, plans up to Advanced Shopify)",
    ),
    # ProductCreateInput.tags: "A comma-separated list of searchable keywords", so a comma would
    # split one tag into two.
    tag_forbidden_pattern="[,]",
    tag_forbidden_source=_SCHEMA + " input ProductCreateInput.tags description",
    seo_title_max=Limit(
        70,
        "Shopify Help Center 'Adding keywords for SEO' https://help.shopify.com/manual/"
        "promoting-marketing/seo/adding-keywords ('You can enter up to 70 characters in the "
        "title'), as quoted by https://shopifyranked.com/shopify-seo/title-tags/",
    ),
    meta_description_max=Limit(
        320,
        "https://lettercounter.org/blog/shopify-product-description-length ('Meta descriptions "
        "allow 320 characters') — third-party",
    ),
    alt_text_max=Limit(
        512,
        _SCHEMA + " enum FilesErrorCode.ALT_VALUE_LIMIT_EXCEEDED ('The alt value exceeds the "
        "maximum limit of 512 characters.')",
    ),
    fields=frozenset({"title", "description", "tags", "seo_title", "meta_description", "alt_text"}),
    notes=(
        "description: no hard limit found — unverified",
        "tags: the length of one product tag is not in the schema or the changelog — unverified",
    ),
)
