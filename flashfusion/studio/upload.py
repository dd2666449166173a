"""Image uploads: sniff the type from the bytes, enforce size limits, re-encode as a clean PNG.

What `sanitise_image` guarantees about its output, whatever arrives:

- The type was read from the file's magic numbers, never from its name or declared content type.
  Accepted: PNG, JPEG, WebP. GIF and TIFF are refused with advice to export PNG: GIF holds at
  most 256 colours (useless for print) and TIFF's many modes and codecs are a large decoder attack
  surface for little gain, since every design tool exports PNG.
- Byte size is checked before anything is parsed; pixel count and side length are read from the
  header (Pillow's `open` is lazy) and checked before a single pixel is decoded, so a small file
  that declares 50000×50000 px is refused without allocating it. Pillow's own process-wide cap
  (`Image.MAX_IMAGE_PIXELS`, hard error at twice its value) is honoured as a ceiling too, but is
  not changed here: other parts of the app legitimately open print files larger than uploads.
  The plugin classes are instantiated directly so Pillow's warn-only band never applies: the
  check here is the one that decides, and it always rejects.
- Truncated or corrupt files (decoder errors, PNG CRC failures) are refused.
- EXIF orientation is applied to the pixels, then every piece of metadata is dropped (EXIF with
  GPS, XMP, comments, text chunks, DPI). An embedded ICC profile is used to convert the pixels to
  sRGB, and then the sRGB profile is the only metadata written.
- Pixels are 8-bit RGB, or RGBA when the source has any transparency information (an alpha
  channel, a palette or colour-key `tRNS`). CMYK becomes RGB (through its ICC profile when it has
  one), 16-bit becomes 8-bit (high byte, as Pillow does for 16-bit RGB PNGs), palette and
  grey-scale become RGB(A).
- Output is always PNG: print files are lossless PNGs, and one lossless format means the
  renderer decodes one thing and no upload loses quality to a second JPEG generation. The cost is
  size: a photo saved as JPEG grows several times as PNG (a 2.3 MB 24 MP JPEG became 20 MB).
- It is CPU-bound: about 2-4 s for a 24 MP photo on this machine. Call it from a worker thread
  (`anyio.to_thread.run_sync`) or a background job, never on the event loop.

Animated PNG/WebP keep their first frame only.
"""

import io
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from typing import ClassVar

import numpy as np
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin, PngImagePlugin, WebPImagePlugin
from PIL.ImageFile import ImageFile

from flashfusion.exceptions import AppError

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
_ACCEPTED_TEXT = "Accepted formats: PNG, JPEG and WebP."
_FILENAME_MAX = 100
# zlib level 1: on a 24 MP photo (this machine, Pillow 13) level 1 encoded in 2.1 s to 20.1 MB,
# level 3 in 3.5 s to 17.7 MB, the default 6 in 11.5 s to 15.6 MB. Upload latency matters more
# than 25% of storage; print files are rendered (and compressed) separately.
PNG_COMPRESS_LEVEL = 1
_PLUGINS: dict[str, type[ImageFile]] = {
    "PNG": PngImagePlugin.PngImageFile,
    "JPEG": JpegImagePlugin.JpegImageFile,
    "WEBP": WebPImagePlugin.WebPImageFile,
}


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may be. The defaults and their sources:

    - `max_bytes` 50,000,000: Printful's print-file upload limit is 50 MB
      (`shared/research/platform-apis.md` §10, "print-file upload ≤ 50 MB"; the unit is not
      stated, so the smaller reading, 10^6 bytes per MB, is used: anything accepted here is
      within the limit under either reading).
    - `max_pixels` 150 megapixels: above Printful's 36×24 in poster print file, 10800×7200 =
      77.8 MP (§10), and its 12600×9000 canvas (113.4 MP); 150 MP decoded as RGBA is 600 MB,
      about as much as one upload should ever hold in memory. Some Printful print files are larger
      still (canvas 18900×12900 = 243.8 MP, product 761 at 21900×23100 in
      `shared/specs/printful/printful-printfiles.json`); an upload is a layer in a design, not the
      print file itself, and the renderer scales it.
    - `max_side` 30,000 px: the longest side of any Printful print file in that data is 28,800 px
      (product 873, 6100×28800 @ 200 DPI).
    """

    max_bytes: int = 50_000_000
    max_pixels: int = 150_000_000
    max_side: int = 30_000


DEFAULT_LIMITS = UploadLimits()


class UploadRejected(AppError):
    """The upload is not an image FlashFusion can use; `message` says why and what to do."""

    status_code: ClassVar[int] = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UploadTooLarge(UploadRejected):
    """The upload is bigger than the byte limit."""

    status_code: ClassVar[int] = 413


class UnsupportedImageType(UploadRejected):
    """The bytes are not PNG, JPEG or WebP."""

    status_code: ClassVar[int] = 415


@dataclass(frozen=True)
class SanitisedImage:
    data: bytes  # the clean PNG
    content_type: str  # always image/png
    format: str  # always PNG
    width: int
    height: int
    has_alpha: bool  # mode is RGBA
    sha256: str  # hex digest of `data`
    original_format: str  # what was sniffed: PNG, JPEG or WEBP
    original_filename_safe: str | None  # for display only; never use it as a path


# --------------------------------------------------------------------------- sniffing

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_BRANDS |= {b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

_REJECTIONS: dict[str, str] = {
    "SVG": "The file is an SVG (vector) image; convert it to PNG at the size you will print.",
    "PDF": "The file is a PDF document; export the artwork as a PNG image.",
    "HEIC": (
        "The file is a HEIC/HEIF image (the iPhone camera format); export as PNG or JPEG "
        "and upload that."
    ),
    "AVIF": "The file is an AVIF image; export as PNG or JPEG and upload that.",
    "GIF": "The file is a GIF, which holds at most 256 colours; export the artwork as PNG.",
    "TIFF": "The file is a TIFF image; export it as PNG (8-bit RGB or RGBA).",
    "BMP": "The file is a BMP image; convert it to PNG.",
    "PSD": "The file is a Photoshop document; export it as PNG.",
    "JXL": "The file is a JPEG XL image; export it as PNG or JPEG.",
    "ICO": "The file is an icon (.ico); upload the artwork as PNG.",
    "ZIP": "The file is a ZIP archive; upload the image inside it, not the archive.",
    "GZIP": "The file is gzip-compressed (an .svgz?); upload a PNG image.",
    "ISOBMFF": "The file is a video or other media container, not an image; upload a PNG.",
    "HTML": "The file is a web page, not an image; upload the image file itself.",
    "TEXT": "The file is text, not an image; upload a PNG, JPEG or WebP image.",
    "UNKNOWN": "The file is not an image format FlashFusion recognises.",
}


def sniff_format(data: bytes) -> str:
    """What the bytes are, from their magic numbers: `PNG`, `JPEG`, `WEBP`, or a rejection key
    (`SVG`, `PDF`, `HEIC`, `AVIF`, `GIF`, `TIFF`, `BMP`, `PSD`, `TEXT`, …, `UNKNOWN`)."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[0:4], "big")
        brands = {head[8:12]}
        box = data[16 : max(16, min(box_size, 256))]
        brands |= {box[i : i + 4] for i in range(0, len(box) - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF"
        if brands & _HEIF_BRANDS:
            return "HEIC"
        return "ISOBMFF"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "JXL"
    if head.startswith(b"8BPS"):
        return "PSD"
    if head.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    if head.startswith(b"PK\x03\x04"):
        return "ZIP"
    if head.startswith(b"\x1f\x8b"):
        return "GZIP"
    return _sniff_text(data[:4096])


def _sniff_text(head: bytes) -> str:
    if b"\x00" in head:
        return "UNKNOWN"
    try:
        # The cut at 4096 bytes may split a multi-byte character: ignore an incomplete tail.
        text = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return "UNKNOWN"
        text = head[: exc.start].decode("utf-8")
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith("<svg") or (lowered.startswith("<") and "<svg" in lowered):
        return "SVG"
    if lowered.startswith(("<!doctype html", "<html")):
        return "HTML"
    return "TEXT"


# --------------------------------------------------------------------------- filenames

_WHITESPACE = re.compile(r"\s+")


def safe_filename(filename: str | None) -> str | None:
    """The name for display: no directories, no control or format characters (bidi overrides
    included), collapsed whitespace, at most 100 characters keeping the extension."""
    if not filename:
        return None
    name = unicodedata.normalize("NFC", filename).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _WHITESPACE.sub(" ", name).strip().lstrip(".").strip()
    if not name:
        return None
    if len(name) > _FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            name = stem[: _FILENAME_MAX - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:_FILENAME_MAX].rstrip()
    return name


# --------------------------------------------------------------------------- the pipeline


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _reject_corrupt() -> UploadRejected:
    return UploadRejected(
        "file", "The file is truncated or corrupt; re-export it from your design tool."
    )


def _open_lazily(data: bytes, kind: str) -> ImageFile:
    try:
        return _PLUGINS[kind](io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise UploadRejected("file", f"The image is too large to process: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise _reject_corrupt() from exc


def _check_dimensions(width: int, height: int, limits: UploadLimits) -> None:
    if width <= 0 or height <= 0:
        raise _reject_corrupt()
    max_pixels = limits.max_pixels
    if Image.MAX_IMAGE_PIXELS is not None:
        max_pixels = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS)
    pixels = width * height
    if pixels > max_pixels:
        raise UploadRejected(
            "file",
            f"The image is {width}×{height} px ({pixels / 1e6:,.1f} megapixels); the limit is "
            f"{max_pixels / 1e6:,.1f} megapixels. Scale it down and upload it again.",
        )
    if max(width, height) > limits.max_side:
        raise UploadRejected(
            "file",
            f"The image is {width}×{height} px; no side may exceed {limits.max_side:,} px. "
            "Scale it down and upload it again.",
        )


def _decode(image: ImageFile, data: bytes, kind: str) -> None:
    try:
        if kind == "PNG":
            # Checks every chunk's CRC through IEND without decompressing, which catches
            # truncation even if something set ImageFile.LOAD_TRUNCATED_IMAGES.
            PngImagePlugin.PngImageFile(io.BytesIO(data)).verify()
        image.load()
    except Image.DecompressionBombError as exc:
        raise UploadRejected("file", f"The image is too large to process: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise _reject_corrupt() from exc


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        transposed = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        # Unreadable EXIF: there is no orientation to trust, keep the pixels as stored.
        return image
    return transposed if transposed is not None else image


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def srgb_icc_bytes() -> bytes:
    """The sRGB ICC profile written into uploads whose pixels were colour-managed."""
    return _srgb_profile().tobytes()


def _to_8bit(image: Image.Image) -> Image.Image:
    """16/32-bit grey to 8-bit `L` (or `LA` when a tRNS grey key marks transparent pixels)."""
    values = np.asarray(image)
    if values.dtype != np.uint16:  # mode "I" (32-bit): clip into the 16-bit range first
        values = np.clip(values, 0, 65535).astype(np.uint16)
    grey = Image.fromarray((values >> 8).astype(np.uint8), "L")
    key = image.info.get("transparency")
    if isinstance(key, int):
        alpha = Image.fromarray(np.where(values == key, 0, 255).astype(np.uint8), "L")
        grey = Image.merge("LA", (grey, alpha))
    return grey


def _plain_rgb(image: Image.Image) -> Image.Image:
    """Any mode to RGB or RGBA without colour management."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        image = _to_8bit(image)
        mode = image.mode
    if mode == "F":
        image = image.convert("L")  # not produced by PNG/JPEG/WebP; clipped, never crashes
        mode = "L"
    if mode == "RGBA":
        return image
    if mode in ("LA", "La", "PA", "RGBa"):
        return image.convert("RGBA")
    if mode in ("P", "L", "RGB", "1") and image.has_transparency_data:
        return image.convert("RGBA")
    return image.convert("RGB")


def _colour_manage(image: Image.Image) -> tuple[Image.Image, bool]:
    """Pixels in sRGB and whether an embedded profile was used to get there."""
    icc = image.info.get("icc_profile")
    if not icc:
        return _plain_rgb(image), False
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (OSError, ImageCms.PyCMSError):
        return _plain_rgb(image), False  # a broken profile says nothing reliable
    try:
        if image.mode == "CMYK":
            converted = ImageCms.profileToProfile(
                image,
                source,
                _srgb_profile(),
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                outputMode="RGB",
                flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
            )
            assert converted is not None  # inPlace=False always returns an image
            return converted, True
        rgb = _plain_rgb(image)
        alpha = rgb.getchannel("A") if rgb.mode == "RGBA" else None
        managed = ImageCms.profileToProfile(
            rgb.convert("RGB"),
            source,
            _srgb_profile(),
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            outputMode="RGB",
            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
        )
        assert managed is not None
        if alpha is not None:
            managed.putalpha(alpha)
        return managed, True
    except ImageCms.PyCMSError:
        # A profile for another colour space than the pixels (an RGB profile on a grey image,
        # say): it cannot describe them, so convert without it.
        return _plain_rgb(image), False


def sanitise_image(
    data: bytes, *, filename: str | None = None, limits: UploadLimits = DEFAULT_LIMITS
) -> SanitisedImage:
    """Check an uploaded image and re-encode it as a metadata-free PNG (see the module docs).

    Raises UploadRejected (413 UploadTooLarge, 415 UnsupportedImageType, 422 otherwise) with
    `field="file"` and a message that says what was found and what to do.
    """
    size = len(data)
    if size == 0:
        raise UploadRejected("file", "The file is empty; choose the image file again.")
    if size > limits.max_bytes:
        raise UploadTooLarge(
            "file",
            f"The file is {_megabytes(size)}; the limit is {_megabytes(limits.max_bytes)} "
            "(Printful accepts print files up to 50 MB). Save it with stronger compression "
            "or at a smaller size.",
        )
    kind = sniff_format(data)
    if kind not in ACCEPTED_FORMATS:
        raise UnsupportedImageType("file", f"{_REJECTIONS[kind]} {_ACCEPTED_TEXT}")

    image = _open_lazily(data, kind)
    _check_dimensions(image.width, image.height, limits)  # header only: nothing decoded yet
    _decode(image, data, kind)

    oriented = _apply_orientation(image)
    clean, managed = _colour_manage(oriented)
    # Drop everything but pixels: EXIF/GPS, XMP, comments, text chunks, dpi, transparency keys.
    clean.info.clear()
    out = io.BytesIO()
    if managed:
        clean.save(
            out, format="PNG", compress_level=PNG_COMPRESS_LEVEL, icc_profile=srgb_icc_bytes()
        )
    else:
        clean.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    png = out.getvalue()
    return SanitisedImage(
        data=png,
        content_type="image/png",
        format="PNG",
        width=clean.width,
        height=clean.height,
        has_alpha=clean.mode == "RGBA",
        sha256=sha256(png).hexdigest(),
        original_format=kind,
        original_filename_safe=safe_filename(filename),
    )
