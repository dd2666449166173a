import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from flashfusion.kit.schemas import ReadSchema, Schema, TimestampedSchema

# Input bounds of a sane request; the platform limits (much tighter) are checked by the rules,
# and copy that breaks them is saved as a draft with its violations rather than refused.
MAX_TEXT = 20_000
MAX_LINE = 1_000
MAX_LIST = 100

OptionalID = Annotated[uuid.UUID | None, Field(strict=False)]
LooseID = Annotated[uuid.UUID, Field(strict=False)]

PLATFORMS_DOC = "etsy, amazon, shopify, tiktok_shop, pinterest, instagram, facebook"
LANGUAGES_DOC = "en, es, fr, de, it, pt, nl, ja, ko, zh"


# --- listing copy --------------------------------------------------------------------------


class ListingFields(ReadSchema):
    title: str = Field(description="The listing title.")
    description: str = Field(description="The description (the caption on social platforms).")
    tags: list[str] = Field(description="Search tags (Etsy, Shopify, TikTok Shop).")
    bullets: list[str] = Field(description="Key feature bullet points (Amazon).")
    seo_title: str | None = Field(description="Search-engine title (Shopify).")
    meta_description: str | None = Field(description="Search-engine meta description (Shopify).")
    hashtags: list[str] = Field(description="Hashtags without '#' (social captions).")
    alt_text: str | None = Field(description="Alt text for the main mockup image.")


class Violation(ReadSchema):
    field: str = Field(description="The field that breaks the rule, e.g. `title`, `tags[3]`.")
    code: str = Field(description="too_long, too_short, too_many, forbidden_characters, …")
    message: str = Field(description="What is wrong and how to fix it.")
    limit: int | None = Field(description="The platform's limit, where there is one.")
    source: str | None = Field(description="Where the limit comes from.")


class AutoFix(ReadSchema):
    field: str = Field(description="The field that was changed.")
    code: str = Field(description="Which rule the change satisfies.")
    before: str = Field(description="The text before.")
    after: str = Field(description="The text after.")


class ListingCopyVersion(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    listing_copy_id: uuid.UUID = Field(description="The listing copy this is a version of.")
    version: int = Field(description="Version number, from 1.")
    fields: ListingFields = Field(description="The copy.")
    source: str = Field(description="`generated`, `edited` or `reverted`.")
    violations: list[Violation] = Field(
        description="Platform rules the copy breaks; empty means ready to publish."
    )
    fixes: list[AutoFix] = Field(description="Changes the auto-fixer made to generated copy.")
    seo_score: int | None = Field(description="SEO score, 0–100.")
    voice_score: int | None = Field(
        description="Brand voice consistency, 0–100; null without a brand voice."
    )
    provider: str | None = Field(description="AI provider that wrote it; null for edits.")
    generation_id: uuid.UUID | None = Field(description="Its row in the AI cost ledger.")
    note: str | None = Field(description="Why this version was saved.")


class ListingCopy(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    product_id: uuid.UUID | None = Field(description="Product; null for copy from a bare idea.")
    idea: str = Field(description="The phrase or idea the copy is about.")
    product_type: str = Field(description="Catalog product type key.")
    platform: str = Field(description=f"Platform: {PLATFORMS_DOC}.")
    language: str = Field(description="ISO 639-1 language code.")
    status: str = Field(
        description="`ready` (obeys every platform limit) or `draft` (see the violations)."
    )
    latest_version: int = Field(description="Number of the newest version.")
    brand_voice_id: uuid.UUID | None = Field(description="Brand voice it is written in.")


class ListingCopyDetail(ListingCopy):
    latest: ListingCopyVersion = Field(description="The newest version.")


class GeneratedListing(ListingCopyDetail):
    cost_microusd: int | None = Field(
        description="What the generation cost, micro-USD; null when a price was unknown."
    )
    cache_hit: bool = Field(description="Answered from the cache (nothing spent).")
    budget_warning: str | None = Field(description="The monthly AI budget's warning, if any.")


class ListingGenerate(Schema):
    organization_id: OptionalID = Field(
        default=None,
        description="Workspace (defaults to the API key's; a product's own workspace wins).",
    )
    product_id: OptionalID = Field(
        default=None, description="Write for this product (its design's phrase and type)."
    )
    idea: str | None = Field(
        default=None,
        max_length=MAX_LINE,
        description="The phrase or idea (1–200 characters); required without product_id.",
    )
    product_type: str | None = Field(
        default=None,
        max_length=64,
        description="Catalog product type key, e.g. `tshirt`; required with an idea.",
    )
    platforms: list[str] = Field(
        max_length=MAX_LIST, description=f"Platforms to write for: {PLATFORMS_DOC}."
    )
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        max_length=MAX_LIST,
        description=f"Languages ({LANGUAGES_DOC}); at most 40 platform × language pairs.",
    )
    brand_voice_id: OptionalID = Field(
        default=None, description="Brand voice; default: the workspace's default voice."
    )
    keywords: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list, max_length=MAX_LIST, description="Target keywords, best first."
    )
    audience: str | None = Field(
        default=None, max_length=100, description="Who it is for, e.g. `teachers`."
    )
    occasion: str | None = Field(
        default=None, max_length=100, description="Occasion, e.g. `christmas`."
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Variation: the same seed gives the same offline copy; others differ.",
    )


class ListingCopyUpdate(Schema):
    title: str | None = Field(default=None, max_length=MAX_LINE, description="New title.")
    description: str | None = Field(
        default=None, max_length=MAX_TEXT, description="New description."
    )
    tags: list[Annotated[str, Field(max_length=MAX_LINE)]] | None = Field(
        default=None, max_length=MAX_LIST, description="New tags."
    )
    bullets: list[Annotated[str, Field(max_length=MAX_LINE)]] | None = Field(
        default=None, max_length=MAX_LIST, description="New bullet points."
    )
    seo_title: str | None = Field(default=None, max_length=MAX_LINE, description="New SEO title.")
    meta_description: str | None = Field(
        default=None, max_length=MAX_LINE, description="New meta description."
    )
    hashtags: list[Annotated[str, Field(max_length=MAX_LINE)]] | None = Field(
        default=None, max_length=MAX_LIST, description="New hashtags (without '#')."
    )
    alt_text: str | None = Field(default=None, max_length=MAX_LINE, description="New alt text.")
    note: str | None = Field(
        default=None, max_length=500, description="Why you changed it (kept with the version)."
    )


class ListingRevert(Schema):
    version: int = Field(ge=1, description="The version to save again as the newest.")


class ListingTranslate(Schema):
    languages: list[str] = Field(
        min_length=1, max_length=20, description=f"Languages to write it in: {LANGUAGES_DOC}."
    )


class FieldDiff(ReadSchema):
    field: str = Field(description="The field that changed.")
    before: Any = Field(description="Its value in version `a`.")
    after: Any = Field(description="Its value in version `b`.")
    diff: list[str] = Field(description="Unified diff lines (`-` removed, `+` added).")


class ListingDiff(ReadSchema):
    listing_copy_id: uuid.UUID = Field(description="The listing copy.")
    a: int = Field(description="The older version compared.")
    b: int = Field(description="The newer version compared.")
    changes: list[FieldDiff] = Field(description="Every field that differs; empty: identical.")


class SeoRequest(Schema):
    keywords: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None,
        max_length=MAX_LIST,
        description="Target keywords, best first; default: the copy's tags (or its idea).",
    )


class SeoCheck(ReadSchema):
    name: str = Field(description="Check identifier, e.g. `keyword_in_title`.")
    passed: bool = Field(description="Whether the copy passes it.")
    weight: int = Field(description="Points it carries; 0 when it does not apply.")
    detail: str = Field(description="What was measured.")


class SeoReport(ReadSchema):
    listing_copy_id: uuid.UUID = Field(description="The listing copy.")
    version: int = Field(description="The version analysed (the newest).")
    keywords: list[str] = Field(description="The keywords it was checked against.")
    score: int = Field(description="Weighted share of passed checks, 0–100.")
    checks: list[SeoCheck] = Field(description="Every check, passed or not.")
    suggestions: list[str] = Field(description="Edits that would raise the score.")


# --- scripts -------------------------------------------------------------------------------


class ScriptRequest(Schema):
    organization_id: OptionalID = Field(
        default=None, description="Workspace (defaults to the API key's)."
    )
    product_id: OptionalID = Field(default=None, description="Write for this product.")
    idea: str | None = Field(
        default=None, max_length=MAX_LINE, description="The idea; required without product_id."
    )
    product_type: str | None = Field(
        default=None, max_length=64, description="Catalog product type key (with an idea)."
    )
    platform: str = Field(
        default="tiktok",
        max_length=32,
        description="Video platform: tiktok, youtube_shorts or instagram_reels.",
    )
    seconds: int = Field(default=30, description="Length of the video, 10–180 seconds.")
    language: str = Field(default="en", max_length=8, description=f"Language: {LANGUAGES_DOC}.")
    brand_voice_id: OptionalID = Field(
        default=None, description="Brand voice; default: the workspace's default voice."
    )


class Scene(ReadSchema):
    seconds: int = Field(description="How long the scene runs.")
    shot: str = Field(description="What the camera shows.")
    voice_over: str = Field(description="What is said over the scene.")
    on_screen_text: str = Field(description="Text overlaid on the scene.")


class VideoScript(ReadSchema):
    script_id: uuid.UUID = Field(
        description="The script in the content library (`/content/scripts/{id}`)."
    )
    version: int = Field(description="The version this generation was saved as.")
    status: str = Field(description="`ready`, or `draft` when a script rule is broken.")
    violations: list[Violation] = Field(description="Script rules it breaks; empty: ready.")
    organization_id: uuid.UUID = Field(description="Workspace.")
    product_id: uuid.UUID | None = Field(description="Product it was written for, if any.")
    platform: str = Field(description="Video platform.")
    language: str = Field(description="Language code.")
    seconds: int = Field(description="Total length, seconds (the scenes add up to it).")
    hook: str = Field(description="The opening line.")
    scenes: list[Scene] = Field(description="The scenes in order.")
    call_to_action: str = Field(description="What the viewer should do next.")
    hashtags: list[str] = Field(description="Hashtags without '#'.")
    provider: str = Field(description="AI provider that wrote it.")
    generation_id: uuid.UUID = Field(description="Its row in the AI cost ledger.")
    cost_microusd: int | None = Field(description="What it cost, micro-USD; null if unknown.")
    cache_hit: bool = Field(description="Answered from the cache.")
    budget_warning: str | None = Field(description="The monthly AI budget's warning, if any.")


# --- the script library --------------------------------------------------------------------


class SceneInput(Schema):
    seconds: int = Field(ge=1, le=180, description="How long the scene runs, 1–180 seconds.")
    shot: str = Field(max_length=MAX_LINE, description="What the camera shows.")
    voice_over: str = Field(max_length=MAX_LINE, description="What is said over the scene.")
    on_screen_text: str = Field(max_length=MAX_LINE, description="Text overlaid on the scene.")


class ScriptFields(ReadSchema):
    hook: str = Field(description="The opening line.")
    scenes: list[Scene] = Field(description="The scenes in order.")
    call_to_action: str = Field(description="What the viewer should do next.")
    hashtags: list[str] = Field(description="Hashtags without '#'.")


class ScriptVersion(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    script_id: uuid.UUID = Field(description="The script this is a version of.")
    version: int = Field(description="Version number, from 1.")
    fields: ScriptFields = Field(description="The script.")
    seconds: int = Field(description="Total length, seconds (the scenes' sum).")
    source: str = Field(description="`generated`, `edited` or `reverted`.")
    violations: list[Violation] = Field(description="Script rules it breaks; empty: ready.")
    provider: str | None = Field(description="AI provider that wrote it; null for edits.")
    generation_id: uuid.UUID | None = Field(description="Its row in the AI cost ledger.")
    note: str | None = Field(description="Why this version was saved.")


class Script(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    product_id: uuid.UUID | None = Field(description="Product; null for a script from an idea.")
    idea: str = Field(description="The phrase or idea the script is about.")
    product_type: str = Field(description="Catalog product type key.")
    platform: str = Field(description="Video platform: tiktok, youtube_shorts, instagram_reels.")
    language: str = Field(description="ISO 639-1 language code.")
    status: str = Field(description="`ready`, or `draft` when the newest version breaks a rule.")
    latest_version: int = Field(description="Number of the newest version.")
    brand_voice_id: uuid.UUID | None = Field(description="Brand voice it is written in.")


class ScriptDetail(Script):
    latest: ScriptVersion = Field(description="The newest version.")


class ScriptUpdate(Schema):
    hook: str | None = Field(default=None, max_length=MAX_LINE, description="New hook.")
    scenes: list[SceneInput] | None = Field(
        default=None, min_length=1, max_length=20, description="New scenes (all of them)."
    )
    call_to_action: str | None = Field(
        default=None, max_length=MAX_LINE, description="New call to action."
    )
    hashtags: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, max_length=30, description="New hashtags, without '#'."
    )
    note: str | None = Field(default=None, max_length=500, description="Why you changed it.")


class ScriptDiff(ReadSchema):
    script_id: uuid.UUID = Field(description="The script.")
    a: int = Field(description="The older version compared.")
    b: int = Field(description="The newer version compared.")
    changes: list[FieldDiff] = Field(description="Every field that differs; empty: identical.")


# --- brand voices --------------------------------------------------------------------------


class BrandVoice(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    name: str = Field(description="Name, e.g. `Playful shop voice`.")
    tone: list[str] = Field(description="Tone words, e.g. `playful`, `warm`.")
    audience: str = Field(description="Who the copy speaks to.")
    vocabulary: list[str] = Field(description="Words the brand likes to use.")
    banned_words: list[str] = Field(description="Words never to use in any copy.")
    example_copy: str = Field(description="Copy in the brand's voice, as an example.")
    is_default: bool = Field(description="Used when a generation names no brand voice.")


class BrandVoiceCreate(Schema):
    organization_id: OptionalID = Field(
        default=None, description="Workspace (defaults to the API key's)."
    )
    name: str = Field(description="Name, 1–100 characters.")
    tone: list[str] = Field(
        default_factory=list, description="Up to 8 tone words, each up to 30 characters."
    )
    audience: str = Field(default="", description="Who the copy speaks to (up to 300 characters).")
    vocabulary: list[str] = Field(
        default_factory=list, description="Up to 100 words to use, each up to 40 characters."
    )
    banned_words: list[str] = Field(
        default_factory=list, description="Up to 100 words never to use, each up to 40 characters."
    )
    example_copy: str = Field(default="", description="Example copy, up to 5000 characters.")
    is_default: bool = Field(
        default=False, description="Make it the workspace's default (the previous one stops being)."
    )


class BrandVoiceUpdate(Schema):
    name: str | None = Field(default=None, description="Name, 1–100 characters.")
    tone: list[str] | None = Field(default=None, description="Up to 8 tone words.")
    audience: str | None = Field(default=None, description="Who the copy speaks to.")
    vocabulary: list[str] | None = Field(default=None, description="Up to 100 words to use.")
    banned_words: list[str] | None = Field(
        default=None, description="Up to 100 words never to use."
    )
    example_copy: str | None = Field(default=None, description="Example copy.")
    is_default: bool | None = Field(default=None, description="Make it the default.")


# --- experiments ---------------------------------------------------------------------------


class ExperimentVariant(ReadSchema):
    key: str = Field(description="Variant key: A, B, C or D.")
    version: int = Field(description="The listing copy version it shows.")
    text: str = Field(description="The title or description it shows.")
    traffic_percent: int = Field(description="Share of traffic, percent.")
    impressions: int | None = Field(description="Times shown (null until analytics reports).")
    clicks: int | None = Field(description="Clicks (null until analytics reports).")
    orders: int | None = Field(description="Orders (null until analytics reports).")


class Experiment(TimestampedSchema):
    organization_id: uuid.UUID = Field(description="Workspace.")
    listing_copy_id: uuid.UUID = Field(description="The listing copy under test.")
    field: str = Field(description="What is tested: `title` or `description`.")
    variants: list[ExperimentVariant] = Field(description="The variants, A first.")
    status: str = Field(description="`draft`, `running` or `stopped`.")
    winner: str | None = Field(description="The winning variant's key, once stopped.")
    started_at: datetime | None = Field(description="When it started (UTC).")
    ended_at: datetime | None = Field(description="When it stopped (UTC).")


class ExperimentCreate(Schema):
    listing_copy_id: LooseID = Field(description="The listing copy to test.")
    field: Literal["title", "description"] = Field(description="What to test.")
    versions: list[int] = Field(
        max_length=MAX_LIST,
        description="2–4 distinct version numbers of the listing copy: variants A, B, ….",
    )
    traffic: list[int] | None = Field(
        default=None,
        max_length=MAX_LIST,
        description="Percent of traffic per variant, adding up to 100; default: an even split.",
    )


class ExperimentStop(Schema):
    winner: str | None = Field(default=None, max_length=8, description="The winning variant's key.")


class ExperimentOutcome(Schema):
    variant: str = Field(max_length=8, description="Variant key: A, B, C or D.")
    impressions: int = Field(description="Times shown so far (a total, 0 or more).")
    clicks: int = Field(description="Clicks so far (a total, 0 or more).")
    orders: int = Field(description="Orders so far (a total, 0 or more).")
