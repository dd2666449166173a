"""Amazon listing rules (Seller Central title policy; bullet count from seller guides).

The per-product-type JSON Schemas that hold Amazon's exact attribute lengths are served at run
time from a pre-signed link and are not public (specs/amazon-sp-api/SOURCE.md), so only the
numbers Amazon states for all categories are used here.
"""

from flashfusion.content.rules.base import Limit, PlatformRules

_TITLE_POLICY = (
    "Amazon Seller Central 'Product title requirements and guidelines' "
    "https://sellercentral-europe.amazon.com/help/hub/reference/external/201100890 "
    "('Titles must not exceed 200 characters, including spaces'); also 'Product detail page "
    "rules' https://sellercentral.amazon.com/gp/help/external/200390640"
)

RULES = PlatformRules(
    platform="amazon",
    label="Amazon",
    title_max=Limit(200, _TITLE_POLICY),
    title_forbidden_pattern="[!$?_{}^¬¦]",
    title_forbidden_source=(
        "Amazon Seller Central 'Product title requirements and guidelines' "
        "https://sellercentral-europe.amazon.com/help/hub/reference/external/201100890 "
        "('Titles must not use the following special characters: !, $, ?, _, {, }, ^, ¬, ¦')"
    ),
    bullets_max=Limit(
        5,
        "https://www.amalytix.com/en/knowledge/seo/amazon-bullet-points/ ('As an Amazon Seller, "
        "you have a maximum of 5 Bullet Points'); https://www.amazonlistingaudit.com/policy/"
        "bullet-point-guidelines ('Up to five bullet points per listing') — third-party",
    ),
    fields=frozenset({"title", "description", "bullets"}),
    notes=(
        "bullet length: unverified — sources disagree (250 vs 500 characters) and the "
        "product-type schema that defines it is not public",
        "description length: unverified — set per product type in the non-public schema",
        "title: other symbols (~ # < > *) are allowed only in specific contexts; not enforced",
    ),
)
