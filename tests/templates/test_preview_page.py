"""The preview page in headless Chromium (Debian's): it loads, shows every state, switches."""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bridge.events import CaseState
from bridge.templates.preview import PreviewServer, load_catalog
from bridge.wording import MessageContext

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
CONTEXT = MessageContext(
    lookup_url_template="https://dichvucong.thanhhoa.gov.vn/tra-cuu-ho-so?ma={case_code}",
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
    signature="Trung tâm Phục vụ hành chính công tỉnh Thanh Hóa",
)
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def preview_url() -> Iterator[str]:
    server = PreviewServer(load_catalog([EXAMPLES], CONTEXT), port=0)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, preview_url: str) -> Iterator[Page]:
    opened = browser.new_page(viewport=VIEWPORT)
    opened.goto(preview_url)
    expect(opened.locator("body")).to_have_attribute("data-ready", "package||")
    try:
        yield opened
    finally:
        opened.close()


def chat(page: Page, template: str):
    return page.locator(f'section.chat[data-template="{template}"]')


def test_the_page_shows_every_state_as_a_text_bubble_and_a_template_card(page):
    expect(page).to_have_title("bridge · Xem trước mẫu tin nhắn Zalo")
    for state in CaseState:
        bubble = chat(page, f"states.{state.value}").locator(".bubble")
        expect(bubble).to_contain_text("Kính gửi Ông/Bà,")
        expect(bubble).to_contain_text(f"• Trạng thái: {state.label}")
        card = chat(page, f"states.{state.value}").locator(".card")
        expect(card.locator(".pill")).to_have_text(state.label)
        expect(card.locator(".buttons a")).to_have_text("Tra cứu hồ sơ")
    # 15 dossier wordings and the 44 steps of complaints, denunciations and land disputes (the
    # internal ones are worded too, and labelled "nội bộ, không gửi")
    expect(page.locator('section.chat[data-sent="true"]')).to_have_count(59)
    expect(page.locator('section.chat[data-sent="false"]')).to_have_count(5)


def test_the_status_row_takes_the_colour_of_the_state(page):
    pill = chat(page, "states.RESULT_READY").locator(".pill")
    expect(pill).to_have_class("pill green")
    color = pill.evaluate("node => getComputedStyle(node).backgroundColor")
    assert color == "rgb(18, 161, 80)"
    expect(chat(page, "states.STOPPED").locator(".pill")).to_have_class("pill red")


def test_the_switcher_changes_province_procedure_and_state(page):
    received = chat(page, "states.RECEIVED").locator(".bubble")
    expect(received).not_to_contain_text("thông báo qua Zalo")

    page.select_option("#province", "thanh-hoa")
    expect(page.locator("body")).to_have_attribute("data-ready", "thanh-hoa||")
    expect(received).to_contain_text("Ông/Bà sẽ được thông báo qua Zalo")

    page.select_option("#procedure", "1.000894")
    expect(page.locator("body")).to_have_attribute("data-ready", "thanh-hoa|1.000894|")
    ready = chat(page, "states.RESULT_READY")
    expect(ready.locator(".bubble")).to_contain_text("Hai bên nam, nữ vui lòng cùng có mặt")
    expect(ready.locator(".pill")).to_have_text("Đã có Giấy chứng nhận kết hôn")

    page.select_option("#template", "states.RESULT_READY")
    expect(page.locator("section.chat")).to_have_count(1)

    page.select_option("#province", "da-nang")
    expect(page.locator("body")).to_have_attribute("data-ready", "da-nang||states.RESULT_READY")
    expect(page.locator("section.chat .bubble")).to_contain_text("Tổng đài hỗ trợ: 1022")


def _inflated_png(png: bytes) -> tuple[int, int, bytes]:
    """Width, height and the inflated image data of a PNG (filtered scanlines)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, width, height, data = 8, 0, 0, b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        body = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            data += body
        offset += 12 + length
    return width, height, zlib.decompress(data)


def test_a_screenshot_is_not_blank(page, browser):
    shot = page.screenshot()
    width, height, pixels = _inflated_png(shot)
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])
    blank_page = browser.new_page(viewport=VIEWPORT)
    try:
        blank = blank_page.screenshot()
    finally:
        blank_page.close()
    _, _, blank_pixels = _inflated_png(blank)
    # A blank page is one colour: its scanlines hold a handful of byte values and compress to
    # almost nothing. The preview has text, a blue header and coloured pills.
    assert len(set(blank_pixels)) < 8
    assert len(set(pixels)) > 64
    assert len(shot) > 10 * len(blank)


def test_a_denunciation_names_nobody_and_links_nothing(page):
    bubble = chat(page, "states.DENUNCIATION.ACCEPTED").locator(".bubble")
    expect(bubble).to_contain_text("Đơn tố cáo số KN-2026-000042 đã được thụ lý giải quyết.")
    expect(bubble).to_contain_text("• Loại vụ việc: Tố cáo")
    expect(bubble).not_to_contain_text("Nội dung:")
    expect(bubble).not_to_contain_text("Tra cứu")


def test_a_complaint_decision_shows_the_statutory_time_beside_the_step(page):
    bubble = chat(page, "states.COMPLAINT.FIRST_DECISION").locator(".bubble")
    expect(bubble).to_contain_text("quyết định giải quyết khiếu nại lần đầu số 125/QĐ-UBND")
    expect(bubble).to_contain_text("• Thời hạn để Ông/Bà khiếu nại, khởi kiện: 30 ngày")
