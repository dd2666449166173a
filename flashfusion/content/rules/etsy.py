"""Etsy listing rules (Open API v3 createDraftListing / updateListing / uploadListingImage)."""

from flashfusion.content.rules.base import Limit, PlatformRules

_SPEC = "specs/etsy/baseline.json"
_CREATE = (
    _SPEC + " paths./v3/application/shops/{shop_id}/listings.post.requestBody.content"
    ".application/x-www-form-urlencoded.schema.properties"
)
# Etsy's own help pages are not in the stored corpus; these two pages restate them and agree.
_THIRD_PARTY_LIMITS = (
    "https://www.skills.sh/jacob-balslev/skills/etsy ('Title — hard cap 140 characters', "
    "'the 13 tags'); https://apify.com/autoaugeo/listing-seo-length-auditor-for-online-se-8a73 "
    "('Etsy titles (140 characters), tags (13 tags, 20 characters each)') — third-party"
)

# The spec's title description: "You can only use the %, :, & and + characters once each."
TITLE_SINGLE_USE_CHARACTERS = "%:&+"
TITLE_SINGLE_USE_SOURCE = _CREATE + ".title.description"

RULES = PlatformRules(
    platform="etsy",
    label="Etsy",
    title_max=Limit(140, _THIRD_PARTY_LIMITS),
    tags_max=Limit(13, _THIRD_PARTY_LIMITS),
    tag_max_length=Limit(20, _THIRD_PARTY_LIMITS),
    # Verbatim from the spec; Python's `re` has no \p{..}, so rules/__init__ evaluates it with
    # unicodedata categories.
    tag_forbidden_pattern=r"[^\p{L}\p{Nd}\p{Zs}\-'™©®]",
    tag_forbidden_source=_CREATE + ".tags.description (same text on updateListing)",
    title_forbidden_pattern=r"[^\p{L}\p{Nd}\p{P}\p{Sm}\p{Zs}™©®]",
    title_forbidden_source=_CREATE + ".title.description (same text on updateListing)",
    alt_text_max=Limit(
        500,
        _SPEC + " paths./v3/application/shops/{shop_id}/listings/{listing_id}/images.post"
        ".requestBody.content.multipart/form-data.schema.properties.alt_text.description "
        "('Max length 500 characters.')",
    ),
    fields=frozenset({"title", "description", "tags", "alt_text"}),
    notes=(
        "description: no maximum in the spec or any source found — unverified",
        "title: %, :, & and + may each be used only once (" + TITLE_SINGLE_USE_SOURCE + ")",
    ),
)
