"""What each sales channel wants from listing images: sizes, aspect ratios, format, count.

Every figure carries its source in `sources`. A figure counts as confirmed only when a first-party
source (the platform's own docs or API spec, or the API's own error message) says it; anything
resting on third-party summaries or on a copy of a platform page, or where first-party sources
disagree, is named in `unverified` with the reason. Output sizes that no platform prescribes (our
choice inside the platform's limits) say so in their source.
"""

from dataclasses import dataclass, field

JPEG = "image/jpeg"

ISSUE_3 = "FlashFusion issue #3, 'Mockups': 'Etsy 2000 px+, square and 4:5; at most 10 images'"
ETSY_SPEC = (
    "Etsy Open API v3 spec (/work/shared/specs/etsy/baseline.json, Etsy 3.0.0 via "
    "amitray007/etsy-python-sdk@5d11cbb): createDraftListing / updateListing `image_ids` "
    "'can include up to 20 images'"
)
ETSY_API_10 = (
    "Etsy API error 'Listings are only allowed 10 images. Please delete a ListingImage before "
    "trying to upload another.' (github.com/etsy/open-api issues #558, 2022-08-14, and #606, "
    "2022-09-28); Etsy Seller Handbook article 541206486344 ('the maximum number of photos you "
    "can add is 10'), quoted in etsy/open-api #340 (2022-01-20)"
)
ETSY_THIRD_PARTY = (
    "hauld.app/blog/etsy-listing-photo-checklist (2026): 2000 px, 2000×2000 recommended, "
    "up to 10 photos, 10 MB; etsyshop.ai: Etsy thumbnails show 5:4, 4:3 and square crops"
)
SHOPIFY_MEDIA = (
    "shopify.dev 'Manage media for products' (help.shopify.com/api/guides/media): 'MediaImage: "
    "PNG, GIF, or JPG. The maximum image size is 4472 x 4472 px, or 20 megapixels. For square "
    "images, 2048 x 2048 px …'"
)
SHOPIFY_THIRD_PARTY = (
    "pixfocal.com/guides/shopify-product-image-size and isopeel.com (2026): 20 MB per file, "
    "250 images per product"
)
AMAZON_GUIDE = (
    "Amazon seller guide 'Adding Images' (copy at m.renrendoc.com/p-42271683.html): 'Images "
    "should be 1000 pixels or larger in either height or width, as this will enable zoom … The "
    "smallest your file should be is 500 pixels on the longest side. … JPEG is preferred'; 'one "
    "main product image and up to eight alternate image views'; MAIN: 'pure white background "
    "(RGB 255, 255, 255)', 'The product must fill 85% or more of the image'"
)
AMAZON_THIRD_PARTY = (
    "mercatuslab.com/blog/amazon-product-image-requirements, imagewand.app (2026): longest side "
    "≤ 10,000 px, 10 MB per file; MAIN must be a photograph, not a render, for most categories"
)
TIKTOK_CREATE = (
    "TikTok Shop Partner API 'Create Product' (202309) `main_images`: 'Upload 1 to 9 images in "
    "png, jpg or jpeg format with file size not more than 5 MB', 'resolution … not lower than "
    "300*300px, and not higher than 4000px*4000px', 'We recommend using a white background image "
    "as the first image' (docs as mirrored in github.com/lywzx/tiktok-partner-api "
    "packages/tk-origin-api/src/products/CreateProduct.ts @79921db)"
)
TIKTOK_UPLOAD = (
    "TikTok Shop Partner API 'Upload Product Image' (202309): MAIN_IMAGE 'Aspect ratios "
    "exceeding 3:4-4:3 will be cropped to fit within the range of 3:4-4:3'; 'Max size of "
    "original image: 5MB' (same mirror, UploadProductImage.ts @79921db)"
)
OUR_CHOICE = "FlashFusion's choice within the platform's limits (no platform figure prescribes it)"


@dataclass(frozen=True)
class ImageOutput:
    """One image shape in a platform's set: a label and exact pixel size."""

    label: str
    width: int
    height: int


@dataclass(frozen=True)
class PlatformImageSpec:
    """A channel's listing-image set: shapes per colour and view, limits, and their sources."""

    key: str
    name: str
    outputs: tuple[ImageOutput, ...]  # per colour and view, in listing order
    max_images: int | None
    content_type: str
    max_file_bytes: int | None
    min_side_px: int | None
    max_side_px: int | None
    backdrop: str  # behind every image but the first
    hero_backdrop: str  # behind the first (main) image
    hero_fill: float | None  # the product's share of the main image's frame, where required
    sources: dict[str, str] = field(default_factory=dict, hash=False)
    unverified: dict[str, str] = field(default_factory=dict, hash=False)
    notes: str = ""


PLATFORM_IMAGE_SPECS: dict[str, PlatformImageSpec] = {
    "etsy": PlatformImageSpec(
        key="etsy",
        name="Etsy",
        outputs=(ImageOutput("square", 2000, 2000), ImageOutput("4x5", 2000, 2500)),
        max_images=10,
        content_type=JPEG,
        max_file_bytes=10 * 1024 * 1024,
        min_side_px=2000,
        max_side_px=None,
        backdrop="studio",
        hero_backdrop="studio",
        hero_fill=None,
        sources={
            "outputs": f"{ISSUE_3}; {ETSY_THIRD_PARTY}",
            "min_side_px": f"{ISSUE_3}; {ETSY_THIRD_PARTY}",
            "max_images": f"{ISSUE_3}; {ETSY_API_10}; conflicting: {ETSY_SPEC}",
            "max_file_bytes": ETSY_THIRD_PARTY,
            "content_type": "Etsy accepts JPEG (uploadListingImage takes an image file); "
            + ETSY_THIRD_PARTY,
        },
        unverified={
            "outputs": "Etsy's own photo-size help page is not in the sources searched; the "
            "2000 px shortest side and the 4:5 shape come from issue #3 and third-party guides",
            "min_side_px": "as outputs",
            "max_images": "Etsy's API returned 'only allowed 10 images' (2022) but the current "
            "v3 spec says listings take up to 20 image_ids; 10 is kept (valid under both) until "
            "a live upload confirms the higher limit",
            "max_file_bytes": "third-party figure only",
        },
        notes="Etsy's policy allows production-partner imagery that accurately depicts the item "
        "(etsy.com/legal/policy/listing-image-requirements).",
    ),
    "shopify": PlatformImageSpec(
        key="shopify",
        name="Shopify",
        outputs=(ImageOutput("square", 2048, 2048),),
        max_images=250,
        content_type=JPEG,
        max_file_bytes=20 * 1024 * 1024,
        min_side_px=None,
        max_side_px=4472,
        backdrop="studio",
        hero_backdrop="studio",
        hero_fill=None,
        sources={
            "outputs": SHOPIFY_MEDIA,
            "max_side_px": SHOPIFY_MEDIA,
            "content_type": SHOPIFY_MEDIA,
            "max_file_bytes": SHOPIFY_THIRD_PARTY,
            "max_images": SHOPIFY_THIRD_PARTY,
        },
        unverified={
            "max_file_bytes": "third-party figure only",
            "max_images": "third-party figure only",
        },
    ),
    "amazon": PlatformImageSpec(
        key="amazon",
        name="Amazon",
        outputs=(ImageOutput("square", 2000, 2000),),
        max_images=9,
        content_type=JPEG,
        max_file_bytes=10 * 1024 * 1024,
        min_side_px=1000,
        max_side_px=10000,
        backdrop="studio",
        hero_backdrop="white",
        hero_fill=0.85,
        sources={
            "outputs": f"{OUR_CHOICE}: square, above the 1000 px zoom threshold ({AMAZON_GUIDE})",
            "min_side_px": AMAZON_GUIDE,
            "max_images": AMAZON_GUIDE,
            "hero_backdrop": AMAZON_GUIDE,
            "hero_fill": AMAZON_GUIDE,
            "content_type": AMAZON_GUIDE,
            "max_side_px": AMAZON_THIRD_PARTY,
            "max_file_bytes": AMAZON_THIRD_PARTY,
        },
        unverified={
            "min_side_px": "from a copy of Amazon's seller guide, not the live Seller Central page",
            "max_images": "as min_side_px (category style guides may allow more)",
            "hero_backdrop": "as min_side_px",
            "hero_fill": "as min_side_px",
            "max_side_px": "third-party figure only",
            "max_file_bytes": "third-party figure only",
        },
        notes="Amazon's MAIN image rules call for a photograph of the actual product; rendered "
        "mockups risk suppression as the main image (third-party reading, unverified). Prefer "
        "these as alternate images, or check the category style guide.",
    ),
    "tiktok_shop": PlatformImageSpec(
        key="tiktok_shop",
        name="TikTok Shop",
        outputs=(ImageOutput("square", 2000, 2000), ImageOutput("3x4", 1500, 2000)),
        max_images=9,
        content_type=JPEG,
        max_file_bytes=5 * 1024 * 1024,
        min_side_px=300,
        max_side_px=4000,
        backdrop="studio",
        hero_backdrop="white",
        hero_fill=None,
        sources={
            "outputs": f"{OUR_CHOICE}: square and 3:4, the tallest shape the main-image upload "
            f"keeps uncropped ({TIKTOK_UPLOAD})",
            "max_images": TIKTOK_CREATE,
            "max_file_bytes": f"{TIKTOK_CREATE}; {TIKTOK_UPLOAD}",
            "min_side_px": TIKTOK_CREATE,
            "max_side_px": TIKTOK_CREATE,
            "content_type": TIKTOK_CREATE,
            "hero_backdrop": TIKTOK_CREATE,
        },
        unverified={},
    ),
}
