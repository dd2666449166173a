"""What a platform allows in a listing: hard limits, each with the source it was read from.

A limit of None means the platform states none that we could source (and the field is then only
checked for sanity, never cut); `source` says where each number comes from, or "unverified".
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    value: int
    source: str


@dataclass(frozen=True)
class PlatformRules:
    platform: str
    label: str
    title_max: Limit | None = None
    title_min: Limit | None = None
    description_max: Limit | None = None
    description_min: Limit | None = None
    tags_max: Limit | None = None  # how many tags
    tag_max_length: Limit | None = None
    # Characters a tag may not contain, as a regex character class (Etsy publishes one).
    tag_forbidden_pattern: str | None = None
    tag_forbidden_source: str | None = None
    title_forbidden_pattern: str | None = None
    title_forbidden_source: str | None = None
    bullets_max: Limit | None = None
    bullet_max_length: Limit | None = None
    seo_title_max: Limit | None = None
    meta_description_max: Limit | None = None
    hashtags_max: Limit | None = None
    alt_text_max: Limit | None = None
    # Which draft fields this platform uses; the others are emptied before saving.
    fields: frozenset[str] = field(default_factory=lambda: frozenset({"title", "description"}))
    # Lengths are counted in: "chars" (code points) or "bytes" (UTF-8), as the platform counts.
    length_unit: str = "chars"
    notes: tuple[str, ...] = ()
