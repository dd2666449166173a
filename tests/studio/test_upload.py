"""sanitise_image: sniffing, limits, decompression bombs, truncation, metadata, colour modes."""

import hashlib
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps

from flashfusion.exceptions import AppError
from flashfusion.studio.upload import (
    DEFAULT_LIMITS,
    SanitisedImage,
    UnsupportedImageType,
    UploadLimits,
    UploadRejected,
    UploadTooLarge,
    safe_filename,
    sanitise_image,
    sniff_format,
    srgb_icc_bytes,
)

ACCEPTED = "Accepted formats: PNG, JPEG and WebP."
CORRUPT = "file: The file is truncated or corrupt; re-export it from your design tool."


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def raw_png(width: int, height: int, depth: int, colour: int, rows: bytes, *extra: bytes) -> bytes:
    """A PNG written by hand: for headers Pillow would refuse to write (bombs, 16-bit RGB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_chunk_types(data: bytes) -> list[str]:
    types: list[str] = []
    position = 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8].decode()
        if not types or types[-1] != kind:
            types.append(kind)
        position += 12 + length
    return types


def pixels(image: Image.Image) -> list[object]:
    return list(image.get_flattened_data())


def checkerboard() -> Image.Image:
    image = Image.new("RGB", (3, 2))
    image.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (1, 2, 3), (250, 251, 252), (0, 0, 0)])
    return image


# --------------------------------------------------------------------------- accepted formats


def test_png_is_reencoded_pixel_for_pixel() -> None:
    source = checkerboard()
    result = sanitise_image(encode(source, "PNG"), filename="design.png")
    assert isinstance(result, SanitisedImage)
    assert (result.content_type, result.format, result.original_format) == (
        "image/png",
        "PNG",
        "PNG",
    )
    assert (result.width, result.height, result.has_alpha) == (3, 2, False)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.original_filename_safe == "design.png"
    out = decode(result.data)
    assert out.format == "PNG"
    assert out.mode == "RGB"
    assert pixels(out) == pixels(source)


def test_output_is_deterministic() -> None:
    data = encode(checkerboard(), "PNG")
    assert sanitise_image(data).sha256 == sanitise_image(data).sha256


def test_jpeg_is_accepted_and_decoded_losslessly_from_there() -> None:
    data = encode(Image.new("RGB", (16, 8), (200, 100, 50)), "JPEG", quality=95)
    result = sanitise_image(data, filename="photo.jpeg")
    assert (result.original_format, result.width, result.height, result.has_alpha) == (
        "JPEG",
        16,
        8,
        False,
    )
    assert pixels(decode(result.data)) == pixels(decode(data).convert("RGB"))


def test_webp_lossless_with_alpha_keeps_exact_rgba() -> None:
    source = Image.new("RGBA", (2, 2))
    source.putdata([(255, 0, 0, 255), (0, 255, 0, 128), (0, 0, 255, 0), (9, 8, 7, 1)])
    result = sanitise_image(encode(source, "WEBP", lossless=True, exact=True))
    assert (result.original_format, result.has_alpha) == ("WEBP", True)
    assert pixels(decode(result.data)) == pixels(source)


def test_webp_lossy_rgb() -> None:
    data = encode(Image.new("RGB", (8, 8), (10, 20, 30)), "WEBP", quality=90)
    result = sanitise_image(data)
    assert (result.original_format, result.has_alpha, decode(result.data).mode) == (
        "WEBP",
        False,
        "RGB",
    )
    assert pixels(decode(result.data)) == pixels(decode(data).convert("RGB"))


def test_png_renamed_jpg_is_still_png() -> None:
    result = sanitise_image(encode(checkerboard(), "PNG"), filename="holiday.jpg")
    assert result.original_format == "PNG"
    assert result.original_filename_safe == "holiday.jpg"


def test_animated_png_keeps_its_first_frame() -> None:
    frames = [Image.new("RGB", (2, 2), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert getattr(decode(data), "n_frames", 1) == 2
    out = decode(sanitise_image(data).data)
    assert getattr(out, "n_frames", 1) == 1
    assert pixels(out) == [(255, 0, 0)] * 4


# --------------------------------------------------------------------------- rejected types


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
HEIC_MIF1 = b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic" + b"\x00" * 64
AVIF = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
            "SVG",
            "The file is an SVG (vector) image; convert it to PNG at the size you will print.",
        ),
        (
            b'\xef\xbb\xbf  \n<svg width="10" height="10"></svg>',
            "SVG",
            "The file is an SVG (vector) image; convert it to PNG at the size you will print.",
        ),
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
            "PDF",
            "The file is a PDF document; export the artwork as a PNG image.",
        ),
        (
            HEIC,
            "HEIC",
            "The file is a HEIC/HEIF image (the iPhone camera format); export as PNG or JPEG "
            "and upload that.",
        ),
        (
            HEIC_MIF1,
            "HEIC",
            "The file is a HEIC/HEIF image (the iPhone camera format); export as PNG or JPEG "
            "and upload that.",
        ),
        (AVIF, "AVIF", "The file is an AVIF image; export as PNG or JPEG and upload that."),
        (
            MP4,
            "ISOBMFF",
            "The file is a video or other media container, not an image; upload a PNG.",
        ),
        (
            encode(Image.new("P", (2, 2)), "GIF"),
            "GIF",
            "The file is a GIF, which holds at most 256 colours; export the artwork as PNG.",
        ),
        (
            encode(Image.new("RGB", (2, 2)), "TIFF"),
            "TIFF",
            "The file is a TIFF image; export it as PNG (8-bit RGB or RGBA).",
        ),
        (
            encode(Image.new("RGB", (2, 2)), "BMP"),
            "BMP",
            "The file is a BMP image; convert it to PNG.",
        ),
        (
            b"8BPS\x00\x01" + b"\x00" * 40,
            "PSD",
            "The file is a Photoshop document; export it as PNG.",
        ),
        (
            b"PK\x03\x04" + b"\x00" * 40,
            "ZIP",
            "The file is a ZIP archive; upload the image inside it, not the archive.",
        ),
        (
            b"\x1f\x8b\x08\x00" + b"\x00" * 20,
            "GZIP",
            "The file is gzip-compressed (an .svgz?); upload a PNG image.",
        ),
        (
            b"<!DOCTYPE html><html><body>hi</body></html>",
            "HTML",
            "The file is a web page, not an image; upload the image file itself.",
        ),
        (
            b"name,price\nmug,12.99\n",
            "TEXT",
            "The file is text, not an image; upload a PNG, JPEG or WebP image.",
        ),
        (
            bytes(range(256)) * 4,
            "UNKNOWN",
            "The file is not an image format FlashFusion recognises.",
        ),
    ],
)
def test_non_images_are_rejected_by_content(data: bytes, kind: str, message: str) -> None:
    assert sniff_format(data) == kind
    with pytest.raises(UnsupportedImageType) as caught:
        sanitise_image(data, filename="looks-like.png")
    error = caught.value
    assert error.field == "file"
    assert error.message == f"{message} {ACCEPTED}"
    assert str(error) == f"file: {message} {ACCEPTED}"
    assert error.status_code == 415
    assert isinstance(error, UploadRejected)
    assert isinstance(error, AppError)
    assert error.body() == {
        "error": "UnsupportedImageType",
        "detail": f"file: {message} {ACCEPTED}",
    }


def test_text_cut_inside_a_multibyte_character_is_still_text() -> None:
    data = ("a" * 4095 + "é").encode()  # the 4096-byte window ends mid-character
    assert sniff_format(data) == "TEXT"


def test_empty_file() -> None:
    with pytest.raises(UploadRejected) as caught:
        sanitise_image(b"")
    assert str(caught.value) == "file: The file is empty; choose the image file again."
    assert caught.value.status_code == 422


# --------------------------------------------------------------------------- limits


def test_default_limits() -> None:
    assert DEFAULT_LIMITS == UploadLimits(
        max_bytes=50_000_000, max_pixels=150_000_000, max_side=30_000
    )
    # Printful's largest poster print file (36x24 in at 300 DPI) must fit.
    assert 10800 * 7200 <= DEFAULT_LIMITS.max_pixels


def test_over_max_bytes_is_rejected_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sniffing(data: bytes) -> str:
        raise AssertionError("sniffed an oversized upload")

    monkeypatch.setattr("flashfusion.studio.upload.sniff_format", no_sniffing)
    with pytest.raises(UploadTooLarge) as caught:
        sanitise_image(b"\x00" * 1_200_001, limits=UploadLimits(max_bytes=1_200_000))
    assert str(caught.value) == (
        "file: The file is 1.2 MB; the limit is 1.2 MB (Printful accepts print files up to "
        "50 MB). Save it with stronger compression or at a smaller size."
    )
    assert caught.value.status_code == 413


def test_exactly_max_bytes_is_accepted() -> None:
    data = encode(checkerboard(), "PNG")
    assert sanitise_image(data, limits=UploadLimits(max_bytes=len(data))).width == 3


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any pixel data is decoded."""

    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.usefixtures("no_decoding")
def test_decompression_bomb_is_rejected_from_the_header() -> None:
    # 50000 x 50000 RGB would be 7.5 GB decoded; the file is under 100 bytes.
    bomb = raw_png(50_000, 50_000, 8, 2, b"\x00" * 16)
    assert len(bomb) < 100
    with pytest.raises(UploadRejected) as caught:
        sanitise_image(bomb)
    assert str(caught.value) == (
        "file: The image is 50000×50000 px (2,500.0 megapixels); the limit is 150.0 megapixels. "
        "Scale it down and upload it again."
    )
    assert caught.value.status_code == 422


@pytest.mark.usefixtures("no_decoding")
def test_side_limit() -> None:
    with pytest.raises(UploadRejected) as caught:
        sanitise_image(raw_png(31_000, 10, 8, 2, b""))
    assert str(caught.value) == (
        "file: The image is 31000×10 px; no side may exceed 30,000 px. Scale it down and upload "
        "it again."
    )


@pytest.mark.usefixtures("no_decoding")
def test_pillows_process_wide_cap_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000_000)
    with pytest.raises(UploadRejected) as caught:
        sanitise_image(raw_png(4000, 3000, 8, 2, b""))
    assert "the limit is 10.0 megapixels" in str(caught.value)


def test_large_but_allowed_images_decode_without_a_pillow_warning(
    recwarn: pytest.WarningsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With Pillow's cap lowered below the image, Image.open would warn (warn-only band); the
    # sanitiser's own check is the one that decides, so nothing is emitted.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4)
    result = sanitise_image(encode(checkerboard(), "PNG"))
    assert result.width == 3
    assert [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)] == []


# --------------------------------------------------------------------------- corrupt files


def noisy(size: tuple[int, int] = (64, 64)) -> Image.Image:
    return Image.effect_noise(size, 60).convert("RGB")


@pytest.mark.parametrize(
    "data",
    [
        encode(noisy(), "PNG")[: len(encode(noisy(), "PNG")) // 2],
        encode(noisy(), "JPEG")[: len(encode(noisy(), "JPEG")) // 2],
        encode(noisy(), "PNG")[:30],  # inside IHDR
        encode(noisy(), "JPEG")[:200],  # inside the headers
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe0garbage",
        b"RIFF\x10\x00\x00\x00WEBPVP8 garbage",
        raw_png(0, 10, 8, 2, b""),
    ],
    ids=[
        "png-half",
        "jpeg-half",
        "png-ihdr",
        "jpeg-headers",
        "png-signature-only",
        "jpeg-garbage",
        "webp-garbage",
        "png-zero-width",
    ],
)
def test_truncated_or_corrupt_files(data: bytes) -> None:
    with pytest.raises(UploadRejected) as caught:
        sanitise_image(data)
    assert str(caught.value) == CORRUPT
    assert type(caught.value) is UploadRejected


def test_png_crc_damage_is_caught() -> None:
    data = bytearray(encode(noisy(), "PNG"))
    data[-20] ^= 0xFF  # inside the last IDAT's payload
    with pytest.raises(UploadRejected, match="truncated or corrupt"):
        sanitise_image(bytes(data))


def test_truncated_png_is_rejected_even_if_pillow_is_told_to_accept_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = encode(noisy(), "PNG")
    with pytest.raises(UploadRejected, match="truncated or corrupt"):
        sanitise_image(data[: len(data) // 2])


# --------------------------------------------------------------------------- metadata


def exif_with_gps(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}  # GPS IFD
    return exif


def two_halves() -> Image.Image:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))  # left red, right blue
    return image


def test_jpeg_exif_orientation_applied_and_all_metadata_dropped() -> None:
    data = encode(
        two_halves(),
        "JPEG",
        quality=95,
        exif=exif_with_gps(6),
        comment=b"shot at home",
        xmp=b"<x:xmpmeta>private-xmp-note</x:xmpmeta>",
    )
    source = decode(data)
    assert source.getexif().get_ifd(0x8825)[1] == "N"  # the input really carries GPS
    result = sanitise_image(data)
    # Orientation 6 = rotate 90° clockwise for display: 40x20 becomes 20x40, left half on top.
    assert (result.width, result.height) == (20, 40)
    out = decode(result.data)
    expected = ImageOps.exif_transpose(source)
    assert pixels(out) == pixels(expected.convert("RGB"))
    top, bottom = out.getpixel((10, 5)), out.getpixel((10, 35))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60
    assert png_chunk_types(result.data) == ["IHDR", "IDAT", "IEND"]
    assert dict(out.getexif()) == {}
    assert out.info == {}
    for secret in (b"SecretCam", b"shot at home", b"private-xmp-note", b"Exif"):
        assert secret not in result.data


def test_png_exif_orientation_exact_pixels() -> None:
    source = Image.new("RGB", (2, 1))
    source.putdata([(255, 0, 0), (0, 0, 255)])
    result = sanitise_image(encode(source, "PNG", exif=exif_with_gps(6)))
    out = decode(result.data)
    assert out.size == (1, 2)
    assert pixels(out) == [(255, 0, 0), (0, 0, 255)]  # left pixel now on top
    assert dict(out.getexif()) == {}


def test_png_text_dpi_and_exif_chunks_are_dropped() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Private")
    info.add_itxt("Comment", "gps 51.5,-0.1", zip=True)
    data = encode(checkerboard(), "PNG", pnginfo=info, dpi=(300, 300), exif=exif_with_gps(1))
    assert {"tEXt", "iTXt", "pHYs", "eXIf"} <= set(png_chunk_types(data))
    result = sanitise_image(data)
    assert png_chunk_types(result.data) == ["IHDR", "IDAT", "IEND"]
    assert b"Jane Private" not in result.data


# --------------------------------------------------------------------------- colour


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100)
    result = sanitise_image(data)
    out = decode(result.data)
    assert out.mode == "RGB"
    assert result.has_alpha is False
    assert out.getpixel((4, 4)) == (255, 0, 0)
    assert png_chunk_types(result.data) == ["IHDR", "IDAT", "IEND"]  # no profile: plain conversion


def test_embedded_profile_is_applied_and_srgb_is_written() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(Image.new("RGB", (4, 4), (10, 200, 30)), "PNG", icc_profile=srgb)
    result = sanitise_image(data)
    out = decode(result.data)
    assert png_chunk_types(result.data) == ["IHDR", "iCCP", "IDAT", "IEND"]
    assert out.info["icc_profile"] == srgb_icc_bytes()
    assert out.getpixel((0, 0)) == (10, 200, 30)


def test_embedded_profile_keeps_alpha() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = Image.new("RGBA", (2, 1))
    source.putdata([(10, 200, 30, 0), (10, 200, 30, 77)])
    out = decode(sanitise_image(encode(source, "PNG", icc_profile=srgb)).data)
    assert out.mode == "RGBA"
    assert [p[3] for p in pixels(out)] == [0, 77]  # type: ignore[index]


def test_broken_profile_is_ignored() -> None:
    data = encode(checkerboard(), "PNG", icc_profile=b"not an icc profile at all" * 8)
    result = sanitise_image(data)
    assert png_chunk_types(result.data) == ["IHDR", "IDAT", "IEND"]
    assert pixels(decode(result.data)) == pixels(checkerboard())


def test_16_bit_rgb_png_becomes_8_bit() -> None:
    rows = b"\x00" + struct.pack(">6H", 65535, 32768, 0, 257, 256, 255)
    result = sanitise_image(raw_png(2, 1, 16, 2, rows))
    out = decode(result.data)
    assert out.mode == "RGB"
    assert pixels(out) == [(255, 128, 0), (1, 1, 0)]  # the high byte of each sample


def test_16_bit_grey_png_becomes_8_bit_rgb() -> None:
    source = Image.fromarray(np.array([[0, 255, 256, 65535, 32768]], dtype=np.uint16))
    assert source.mode == "I;16"
    out = decode(sanitise_image(encode(source, "PNG")).data)
    assert out.mode == "RGB"
    assert pixels(out) == [(0, 0, 0), (0, 0, 0), (1, 1, 1), (255, 255, 255), (128, 128, 128)]


def test_16_bit_grey_with_transparent_key_becomes_rgba() -> None:
    source = Image.fromarray(np.array([[0, 256, 65535]], dtype=np.uint16))
    result = sanitise_image(encode(source, "PNG", transparency=256))
    assert result.has_alpha is True
    assert pixels(decode(result.data)) == [(0, 0, 0, 255), (1, 1, 1, 0), (255, 255, 255, 255)]


def test_palette_with_transparency_becomes_rgba() -> None:
    source = Image.new("P", (3, 1))
    source.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255])
    source.putdata([0, 1, 2])
    result = sanitise_image(encode(source, "PNG", transparency=1))
    assert result.has_alpha is True
    assert pixels(decode(result.data)) == [(255, 0, 0, 255), (0, 255, 0, 0), (0, 0, 255, 255)]


def test_palette_without_transparency_becomes_rgb() -> None:
    source = Image.new("P", (2, 1))
    source.putpalette([1, 2, 3, 4, 5, 6])
    source.putdata([1, 0])
    result = sanitise_image(encode(source, "PNG"))
    assert result.has_alpha is False
    assert pixels(decode(result.data)) == [(4, 5, 6), (1, 2, 3)]


@pytest.mark.parametrize(
    ("mode", "values", "expected", "alpha"),
    [
        ("L", [0, 128], [(0, 0, 0), (128, 128, 128)], False),
        ("LA", [(10, 0), (20, 255)], [(10, 10, 10, 0), (20, 20, 20, 255)], True),
        ("1", [0, 1], [(0, 0, 0), (255, 255, 255)], False),
    ],
)
def test_grey_and_bilevel_modes(
    mode: str, values: list[object], expected: list[object], alpha: bool
) -> None:
    source = Image.new(mode, (2, 1))
    source.putdata(values)  # type: ignore[arg-type]
    result = sanitise_image(encode(source, "PNG"))
    assert result.has_alpha is alpha
    assert pixels(decode(result.data)) == expected


def test_rgb_colour_key_transparency_becomes_rgba() -> None:
    source = Image.new("RGB", (2, 1))
    source.putdata([(1, 2, 3), (9, 9, 9)])
    result = sanitise_image(encode(source, "PNG", transparency=(9, 9, 9)))
    assert pixels(decode(result.data)) == [(1, 2, 3, 255), (9, 9, 9, 0)]


# --------------------------------------------------------------------------- filenames


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, None),
        ("", None),
        ("design.png", "design.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\jane\\Desktop\\logo final.png", "logo final.png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # right-to-left override removed
        ("line\nbreak\x00.png", "linebreak.png"),
        ("  many    spaces .png ", "many spaces .png"),
        (".hidden.png", "hidden.png"),
        ("...", None),
        ("dir/", None),
        ("a" * 150 + ".png", "a" * 96 + ".png"),
        ("b" * 150, "b" * 100),
        ("Cafe\u0301.png", "Café.png"),  # NFC
    ],
)
def test_safe_filename(name: str | None, expected: str | None) -> None:
    assert safe_filename(name) == expected
    if expected is not None:
        assert len(expected) <= 100


def test_sanitised_result_carries_the_safe_filename() -> None:
    result = sanitise_image(encode(checkerboard(), "PNG"), filename="/tmp/x/\x07bell.png")
    assert result.original_filename_safe == "bell.png"
