"""The preview's catalog and HTTP API (the page itself: test_preview_page.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bridge.errors import TemplateError
from bridge.templates.preview import PreviewServer, load_catalog, province_directories
from bridge.wording import MessageContext

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "templates"
CONTEXT = MessageContext(
    lookup_url_template="https://dvc.example.gov.vn/tra-cuu?ma={case_code}",
    timezone=ZoneInfo("Asia/Ho_Chi_Minh"),
)


def test_a_directory_is_a_province_or_holds_provinces():
    assert province_directories([EXAMPLES]) == [EXAMPLES / "da-nang", EXAMPLES / "thanh-hoa"]
    assert province_directories([EXAMPLES / "da-nang"]) == [EXAMPLES / "da-nang"]


def test_an_invalid_province_directory_is_refused(tmp_path):
    shutil.copytree(EXAMPLES / "da-nang", tmp_path / "da-nang")
    (tmp_path / "da-nang" / "messages.yaml").write_text("layout: '{{ nope }}'\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="unknown placeholder 'nope'"):
        load_catalog([tmp_path], CONTEXT)


@pytest.fixture(scope="module")
def server():
    started = PreviewServer(load_catalog([EXAMPLES], CONTEXT))
    started.start()
    try:
        yield started
    finally:
        started.stop()


def test_the_server_listens_on_loopback_only(server):
    assert server.url.startswith("http://127.0.0.1:")


def test_the_catalog_lists_provinces_procedures_and_templates(server):
    catalog = httpx.get(f"{server.url}api/catalog").json()
    assert [p["id"] for p in catalog["provinces"]] == ["package", "da-nang", "thanh-hoa"]
    assert catalog["provinces"][2]["procedures"] == [
        {"code": "1.000894", "label": "Đăng ký kết hôn"}
    ]
    # 10 dossier states, 44 states of complaints, denunciations and land disputes, 10 event types
    assert len(catalog["templates"]) == 64


def test_render_gives_every_template_for_the_sample_case(server):
    body = httpx.get(
        f"{server.url}api/render", params={"province": "thanh-hoa", "procedure": "1.000894"}
    ).json()
    by_name = {m["template"]: m for m in body["messages"]}
    ready = by_name["states.RESULT_READY"]
    assert "Giấy chứng nhận kết hôn" in ready["text"]
    assert ready["version"].startswith("thanh-hoa/1.000894:states.RESULT_READY@")
    assert ready["card"]["rows"][2] == {
        "key": "Trạng thái",
        "value": "Đã có Giấy chứng nhận kết hôn",
        "style": "green",
    }
    assert by_name["events.CORRECTION"] == {
        "template": "events.CORRECTION",
        "label": "Đính chính dữ liệu",
        "sent": False,
    }


def test_unknown_provinces_and_paths_are_404(server):
    assert httpx.get(f"{server.url}api/render", params={"province": "x"}).status_code == 404
    assert httpx.get(f"{server.url}nowhere").status_code == 404
    page = httpx.get(server.url)
    assert page.status_code == 200
    assert "Xem trước tin nhắn Zalo" in page.text
