"""A citizen's photos and files: type by magic bytes, bombs refused, EXIF gone after re-encoding."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bridge.submissions.forms import DocumentSpec
from bridge.submissions.images import Cleaned, clean
from bridge_devkit.emulator import media

PIXELS = 40_000_000
PHOTOS = DocumentSpec(
    key="id_card", label="Căn cước", prompt="Gửi ảnh.", accepted=("image/jpeg", "image/png")
)
ANY = DocumentSpec(
    key="paper",
    label="Giấy tờ",
    prompt="Gửi ảnh hoặc PDF.",
    accepted=("image/jpeg", "image/png", "application/pdf"),
)


def test_a_photo_loses_its_exif_and_gps_and_stays_a_jpeg_of_the_same_size():
    original = media.jpeg(64, 48, exif_gps=True)
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif()  # the emulator's photo carries a GPS position
    cleaned = clean(original, name="cccd.jpg", document=PHOTOS, max_pixels=PIXELS)
    assert isinstance(cleaned, Cleaned)
    assert cleaned.content_type == "image/jpeg"
    assert b"Exif" not in cleaned.data
    with Image.open(io.BytesIO(cleaned.data)) as after:
        assert after.size == (64, 48)
        assert not after.getexif()
        assert "exif" not in after.info


def test_a_png_is_re_encoded_as_a_png_and_a_pdf_is_kept_as_it_is():
    cleaned = clean(media.png(32, 32), name=None, document=PHOTOS, max_pixels=PIXELS)
    assert isinstance(cleaned, Cleaned)
    assert cleaned.content_type == "image/png"
    document = media.pdf()
    assert clean(document, name="giay.pdf", document=ANY, max_pixels=PIXELS) == Cleaned(
        document, "application/pdf"
    )


def test_a_decompression_bomb_is_refused_from_its_header():
    refused = clean(media.png_bomb(), name="anh.png", document=PHOTOS, max_pixels=PIXELS)
    assert refused == "ảnh quá lớn, xin chụp lại với độ phân giải thấp hơn."
    below_pillows_own_limit = media.png_bomb(8_000, 8_000)
    refused = clean(below_pillows_own_limit, name=None, document=PHOTOS, max_pixels=PIXELS)
    assert refused == (
        "ảnh quá lớn (8000×8000 điểm ảnh, tối đa 40 triệu), xin chụp lại với độ phân giải thấp hơn."
    )


@pytest.mark.parametrize(
    ("data", "name", "document", "says"),
    [
        (media.docx(), "giay-chung-sinh.pdf", ANY, "tên tệp ghi là tệp PDF nhưng nội dung là"),
        (media.pdf(), "anh.jpg", ANY, "tên tệp ghi là ảnh JPEG nhưng nội dung là tệp PDF."),
        (media.pdf(), "giay.pdf", PHOTOS, "đây là tệp PDF; mục này chỉ nhận ảnh JPEG, ảnh PNG."),
        (media.docx(), "to-khai.docx", ANY, "không phải loại được nhận"),
        (media.gif(), None, PHOTOS, "mục này chỉ nhận ảnh JPEG, ảnh PNG."),
        (b"MZ\x90\x00" + bytes(200), "virus.exe", ANY, "không phải loại được nhận"),
        (media.jpeg(16, 16)[:40], "cut.jpg", PHOTOS, "không đọc được ảnh này"),
    ],
)
def test_other_content_is_refused_saying_why(data, name, document, says):
    refused = clean(data, name=name, document=document, max_pixels=PIXELS)
    assert isinstance(refused, str)
    assert says in refused


@given(st.binary(max_size=2_000), st.sampled_from([None, "a.jpg", "a.pdf", "a.png", "a"]))
def test_any_bytes_are_cleaned_or_refused_never_raised(data, name):
    result = clean(data, name=name, document=ANY, max_pixels=PIXELS)
    assert isinstance(result, Cleaned | str)


@given(st.binary(min_size=1, max_size=400))
def test_a_jpeg_header_with_garbage_after_it_never_raises(tail):
    data = media.jpeg(8, 8)[:200] + tail
    result = clean(data, name="x.jpg", document=PHOTOS, max_pixels=PIXELS)
    assert isinstance(result, Cleaned | str)
