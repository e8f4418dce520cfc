"""A citizen's photo or file checked: its type by magic bytes, images bounded and re-encoded."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from bridge.submissions.forms import DocumentSpec

__all__ = ["Cleaned", "clean"]

_NAMES = {
    "image/jpeg": "ảnh JPEG",
    "image/png": "ảnh PNG",
    "image/webp": "ảnh WebP",
    "application/pdf": "tệp PDF",
}
_EXTENSIONS = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
}
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_JPEG_QUALITY = 90


@dataclass(frozen=True, slots=True)
class Cleaned:
    """The bytes to store and their type (images re-encoded, without EXIF or other metadata)."""

    data: bytes
    content_type: str


def _sniffed(data: bytes) -> str | None:
    kind = filetype.guess(data[:8192])
    return None if kind is None else str(kind.mime)


def clean(
    data: bytes, *, name: str | None, document: DocumentSpec, max_pixels: int
) -> Cleaned | str:
    """The checked (and for images re-encoded) content, or why it is refused, in Vietnamese.

    The type is read from the bytes, never the name; a name that claims another type is
    refused (a renamed executable or document). Images with more than ``max_pixels`` pixels
    are refused from their header, before any pixel is decoded (decompression bombs); the
    others are decoded, turned upright (EXIF orientation) and saved again, which leaves EXIF
    (GPS position, camera), XMP and comments behind.
    """
    sniffed = _sniffed(data)
    accepted = ", ".join(_NAMES[kind] for kind in document.accepted)
    claimed = _EXTENSIONS.get(PurePosixPath(name).suffix.lower()) if name else None
    if name and claimed is None and PurePosixPath(name).suffix:
        return f"tên tệp «{name[:60]}» không phải loại được nhận ({accepted})."
    if claimed is not None and sniffed != claimed:
        actual = _NAMES.get(sniffed or "", "một loại tệp khác")
        return f"tên tệp ghi là {_NAMES[claimed]} nhưng nội dung là {actual}."
    if sniffed not in document.accepted:
        actual = _NAMES.get(sniffed or "", "một loại tệp không nhận")
        return f"đây là {actual}; mục này chỉ nhận {accepted}."
    if sniffed == "application/pdf":
        return Cleaned(data, sniffed)
    return _image(data, sniffed, max_pixels)


def _image(data: bytes, content_type: str, max_pixels: int) -> Cleaned | str:
    unreadable = "không đọc được ảnh này, xin chụp và gửi lại."
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > max_pixels:
                    return (
                        f"ảnh quá lớn ({width}×{height} điểm ảnh, tối đa "
                        f"{max_pixels // 1_000_000} triệu), xin chụp lại với độ phân giải thấp hơn."
                    )
                opened.load()
                upright = ImageOps.exif_transpose(opened)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return "ảnh quá lớn, xin chụp lại với độ phân giải thấp hơn."
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return unreadable
    fresh = Image.new(upright.mode, upright.size)
    fresh.paste(upright)  # pixels only: no info, EXIF, XMP or ICC carried over
    target = _FORMATS[content_type]
    if target == "JPEG" and fresh.mode not in {"RGB", "L"}:
        fresh = fresh.convert("RGB")
    out = io.BytesIO()
    options = {"quality": _JPEG_QUALITY} if target in {"JPEG", "WEBP"} else {}
    fresh.save(out, format=target, **options)
    return Cleaned(out.getvalue(), content_type)
