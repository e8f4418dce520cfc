"""Files a scripted citizen can send, made without any imaging library, and file-type sniffing.

* `jpeg`: a real baseline JPEG (YCbCr, one flat colour per 8×8 block, a gentle gradient), with an
  optional EXIF block carrying a camera make and a GPS position (to test that a receiver strips
  it). Every JPEG decoder reads it.
* `png`: an RGB PNG with the same gradient.
* `png_bomb`: a 1-bit greyscale PNG of huge dimensions (20,000 × 20,000 by default) that
  compresses to tens of kilobytes: a decompression bomb for a receiver's pixel limit.
* `pdf`: a one-page PDF with a line of text, padded to a requested size if asked.
* `docx`: a minimal Word document (a ZIP with the three parts Word needs).
* `bytes`: reproducible pseudo-random bytes of a given size (e.g. a 60 MB "file").

`sniff` names a file's type from its first bytes (magic numbers), as the upload checks do.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from typing import Final

__all__ = [
    "CONTENT_TYPES",
    "GENERATED_KINDS",
    "docx",
    "filler",
    "generate",
    "gif",
    "jpeg",
    "pdf",
    "png",
    "png_bomb",
    "sniff",
]

GENERATED_KINDS: Final = ("jpeg", "png", "png_bomb", "gif", "pdf", "docx", "bytes")
"""What `generate` can make."""

CONTENT_TYPES: Final = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "zip": "application/zip",
    "mp4": "video/mp4",
    "aac": "audio/aac",
    "txt": "text/plain",
}
"""The usual content type of each file extension (others: `application/octet-stream`)."""

_EXTENSIONS: Final = {
    "jpeg": "jpg",
    "png": "png",
    "png_bomb": "png",
    "gif": "gif",
    "pdf": "pdf",
    "docx": "docx",
    "bytes": "bin",
}

# JPEG: the standard luminance DC Huffman table (ITU T.81 Annex K.3) and an AC table holding only
# the end-of-block symbol, since every block is flat (DC only).
_DC_BITS: Final = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES: Final = tuple(range(12))
_AC_BITS: Final = (1, *([0] * 15))
_AC_VALUES: Final = (0x00,)


def generate(kind: str, **options: object) -> tuple[bytes, str]:
    """Make a file of `kind` (one of `GENERATED_KINDS`) and return its bytes and file extension.

    Options by kind: `width`, `height`, `exif_gps` (jpeg); `width`, `height` (png, png_bomb);
    `text`, `size` (pdf); `text` (docx); `size`, `seed` (bytes).

    Raises:
        ValueError: For an unknown kind or option.
    """
    makers = {"jpeg": jpeg, "png": png, "png_bomb": png_bomb, "gif": gif, "pdf": pdf, "docx": docx}
    if kind == "bytes":
        size = options.pop("size", 1024)
        seed = options.pop("seed", 0)
        if options or not isinstance(size, int) or not isinstance(seed, int):
            raise ValueError("bytes takes an integer size and seed")
        return filler(size, seed=seed), _EXTENSIONS[kind]
    maker = makers.get(kind)
    if maker is None:
        raise ValueError(f"kind must be one of {', '.join(GENERATED_KINDS)}")
    try:
        return maker(**options), _EXTENSIONS[kind]
    except TypeError as exc:
        raise ValueError(f"bad options for {kind}: {exc}") from exc


_MAGIC: Final = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"%PDF-", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "doc"),
)


def sniff(data: bytes) -> str | None:
    """Return the type the first bytes of `data` show, or None.

    The types: `jpg`, `png`, `gif`, `pdf`, `doc` (OLE), `docx` (a ZIP with `word/`), `zip`.
    """
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data.startswith(b"PK\x03\x04"):
        return "docx" if b"word/" in data[:65536] else "zip"
    return None


# ---------------------------------------------------------------- JPEG


def jpeg(width: int = 640, height: int = 480, *, exif_gps: bool = False) -> bytes:
    """Return a baseline JPEG of `width` × `height`; `exif_gps` adds EXIF with a GPS position."""
    _check_size(width, height)
    out = bytearray(b"\xff\xd8")
    out += _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if exif_gps:
        out += _segment(0xE1, b"Exif\x00\x00" + _exif_with_gps())
    out += _segment(0xDB, b"\x00" + bytes([1] * 64))
    components = b"".join(bytes([cid, 0x11, 0]) for cid in (1, 2, 3))
    out += _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components)
    out += _segment(0xC4, b"\x00" + bytes(_DC_BITS) + bytes(_DC_VALUES))
    out += _segment(0xC4, b"\x10" + bytes(_AC_BITS) + bytes(_AC_VALUES))
    out += _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00")
    out += _scan(width, height)
    out += b"\xff\xd9"
    return bytes(out)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _huffman_codes(bits: tuple[int, ...], values: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    index = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


class _BitWriter:
    __slots__ = ("_acc", "_n", "out")

    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._n = 0

    def write(self, value: int, length: int) -> None:
        for shift in range(length - 1, -1, -1):
            self._acc = (self._acc << 1) | ((value >> shift) & 1)
            self._n += 1
            if self._n == 8:  # noqa: PLR2004 - a byte
                self._emit(self._acc)
                self._acc = 0
                self._n = 0

    def flush(self) -> bytes:
        if self._n:
            self._emit((self._acc << (8 - self._n)) | ((1 << (8 - self._n)) - 1))
            self._acc = 0
            self._n = 0
        return bytes(self.out)

    def _emit(self, byte: int) -> None:
        self.out.append(byte)
        if byte == 0xFF:  # noqa: PLR2004 - byte stuffing
            self.out.append(0x00)


def _scan(width: int, height: int) -> bytes:
    dc_codes = _huffman_codes(_DC_BITS, _DC_VALUES)
    eob_code, eob_length = _huffman_codes(_AC_BITS, _AC_VALUES)[0]
    writer = _BitWriter()
    previous = [0, 0, 0]
    blocks_x = (width + 7) // 8
    blocks_y = (height + 7) // 8
    for by in range(blocks_y):
        for bx in range(blocks_x):
            red = 40 + (180 * bx) // max(blocks_x, 1)
            green = 90 + (120 * by) // max(blocks_y, 1)
            blue = 160
            for index, level in enumerate(_ycbcr(red, green, blue)):
                dc = 8 * (level - 128)  # the DCT of a flat block, quantised by 1
                diff = dc - previous[index]
                previous[index] = dc
                category = abs(diff).bit_length()
                code, length = dc_codes[category]
                writer.write(code, length)
                if category:
                    writer.write(diff if diff > 0 else diff + (1 << category) - 1, category)
                writer.write(eob_code, eob_length)
    return writer.flush()


def _ycbcr(red: int, green: int, blue: int) -> tuple[int, int, int]:
    y = 0.299 * red + 0.587 * green + 0.114 * blue
    cb = -0.168736 * red - 0.331264 * green + 0.5 * blue + 128
    cr = 0.5 * red - 0.418688 * green - 0.081312 * blue + 128
    return tuple(min(255, max(0, round(v))) for v in (y, cb, cr))  # type: ignore[return-value]


def _exif_with_gps() -> bytes:
    # A big-endian TIFF structure: IFD0 (Make, Model, GPS pointer) and a GPS IFD placing the
    # photo at Hoàn Kiếm Lake, Hà Nội (21°01'42"N 105°51'12"E).
    make = b"Emulator Camera\x00"
    model = b"Zalo OA emulator\x00"
    ifd0_at = 8
    ifd0_size = 2 + 3 * 12 + 4
    make_at = ifd0_at + ifd0_size
    model_at = make_at + len(make)
    gps_at = model_at + len(model)
    gps_at += gps_at % 2
    gps_size = 2 + 5 * 12 + 4
    lat_at = gps_at + gps_size
    lon_at = lat_at + 24

    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")

    ascii_type, long_type, byte_type, rational_type = 2, 4, 1, 5
    ifd0 = struct.pack(">H", 3)
    ifd0 += entry(0x010F, ascii_type, len(make), struct.pack(">I", make_at))
    ifd0 += entry(0x0110, ascii_type, len(model), struct.pack(">I", model_at))
    ifd0 += entry(0x8825, long_type, 1, struct.pack(">I", gps_at))
    ifd0 += struct.pack(">I", 0)
    gps = struct.pack(">H", 5)
    gps += entry(0x0000, byte_type, 4, b"\x02\x03\x00\x00")
    gps += entry(0x0001, ascii_type, 2, b"N\x00")
    gps += entry(0x0002, rational_type, 3, struct.pack(">I", lat_at))
    gps += entry(0x0003, ascii_type, 2, b"E\x00")
    gps += entry(0x0004, rational_type, 3, struct.pack(">I", lon_at))
    gps += struct.pack(">I", 0)
    latitude = struct.pack(">IIIIII", 21, 1, 1, 1, 42, 1)
    longitude = struct.pack(">IIIIII", 105, 1, 51, 1, 12, 1)
    body = b"MM\x00\x2a" + struct.pack(">I", ifd0_at) + ifd0 + make + model
    body = body.ljust(gps_at, b"\x00")
    return body + gps + latitude + longitude


# ---------------------------------------------------------------- PNG


def png(width: int = 640, height: int = 480) -> bytes:
    """Return an RGB PNG of `width` × `height` with a gradient."""
    _check_size(width, height)
    compressor = zlib.compressobj(6)
    chunks = []
    for y in range(height):
        green = 90 + (120 * y) // max(height, 1)
        row = bytearray(b"\x00")
        for x in range(width):
            row += bytes((40 + (180 * x) // max(width, 1), green, 160))
        chunks.append(compressor.compress(bytes(row)))
    chunks.append(compressor.flush())
    return _png_file(width, height, bit_depth=8, colour_type=2, idat=b"".join(chunks))


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """Return a 1-bit greyscale PNG of `width` × `height` (all black) that compresses very well."""
    if width < 1 or height < 1 or width * height > 10**10:
        raise ValueError("width and height must be >= 1 and their product <= 10**10")
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    chunks = [compressor.compress(row) for _ in range(height)]
    chunks.append(compressor.flush())
    return _png_file(width, height, bit_depth=1, colour_type=0, idat=b"".join(chunks))


def _png_file(width: int, height: int, *, bit_depth: int, colour_type: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


# ---------------------------------------------------------------- PDF, DOCX, bytes


def pdf(text: str = "Giay chung nhan ket hon", *, size: int = 0) -> bytes:
    """Return a one-page PDF showing `text` (ASCII; others become `?`), at least `size` bytes."""
    safe = text.encode("ascii", "replace").decode("ascii")
    safe = safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 18 Tf 72 770 Td ({safe}) Tj ET".encode("ascii")
    bare = _pdf_file(content, None)
    if len(bare) >= size:
        return bare
    overhead = len(_pdf_file(content, 0)) - len(bare)
    return _pdf_file(content, max(size - len(bare) - overhead, 0))


def _pdf_file(content: bytes, padding: int | None) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if padding is not None:  # an unreferenced stream object that only adds bytes
        fill = filler(padding)
        objects.append(b"<< /Length %010d >>\nstream\n%s\nendstream" % (len(fill), fill))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%010d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def docx(text: str = "Tờ khai đăng ký khai sinh") -> bytes:
    """Return a minimal Word document holding one paragraph of `text`."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>"
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            "<w:body><w:p><w:r><w:t>" + escaped + "</w:t></w:r></w:p></w:body></w:document>"
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), xml)
    return buffer.getvalue()


def gif() -> bytes:
    """Return a 1×1 GIF89a."""
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
        b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    )


def filler(size: int, *, seed: int = 0) -> bytes:
    """Return `size` reproducible pseudo-random bytes (the same for the same `seed`)."""
    if size < 0:
        raise ValueError("size must be >= 0")
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not crypto


def _check_size(width: int, height: int) -> None:
    if not 1 <= width <= 10_000 or not 1 <= height <= 10_000:  # noqa: PLR2004 - a sane cap
        raise ValueError("width and height must be between 1 and 10000")
