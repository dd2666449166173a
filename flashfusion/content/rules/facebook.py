"""Facebook Shop rules (Meta commerce catalog item fields)."""

from flashfusion.content.rules.base import Limit, PlatformRules

_FIELDS = (
    "Meta 'Catalog Fields' (updated 2025-01-13) https://developers.facebook.com/documentation/"
    "ads-commerce/commerce-platform/catalog/fields/product-visibility-per-channel"
)

RULES = PlatformRules(
    platform="facebook",
    label="Facebook",
    title_max=Limit(200, _FIELDS + " title: 'Character limit: 200'"),
    description_max=Limit(9999, _FIELDS + " description: 'Max character limit: 9999'"),
    fields=frozenset({"title", "description"}),
    notes=(
        "specs/meta/*.json (Graph codegen specs) carry no length limits",
        "title: Meta recommends at most 65 characters to avoid cut-off (same source); not a limit",
    ),
)
