"""The composition root: the local backend's links on bridge's port, object metrics on /metrics."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bridge.app import create_app
from bridge.objects.factory import open_object_store
from bridge.settings import load_settings

KEY = "app-signing-key-" + "y" * 30


def _settings(tmp_path, **objects):
    return load_settings(
        kafka={"bootstrap_servers": "127.0.0.1:9"},  # never contacted: the app is not started
        store={"url": f"sqlite:///{tmp_path / 'ledger.sqlite3'}"},
        objects={"local_directory": str(tmp_path / "objects"), **objects},
    )


async def test_local_links_are_served_on_the_configured_path(tmp_path):
    settings = _settings(
        tmp_path,
        local_public_url="http://bridge.test:8080",
        local_signing_key=KEY,
        local_url_path="/files",
    )
    store = open_object_store(settings.objects)
    await store.put("sub/1/a.pdf", b"%PDF", content_type="application/pdf")
    link = urlsplit((await store.presigned_get_url("sub/1/a.pdf")).url)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        response = await client.get(f"{link.path}?{link.query}")
        body = (await client.get("/metrics")).text
    assert link.path == "/files"
    assert response.status_code == 200
    assert response.content == b"%PDF"
    counts = {
        (s.labels["operation"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name == "zalo_bridge_object_operations_total" and s.labels["backend"] == "local"
    }
    assert counts["get", "ok"] == 1  # the app's own store served the link
    assert counts["put", "ok"] == 0  # the test's store wrote it: another process's count


async def test_without_links_configured_the_path_is_not_served(tmp_path):
    app = create_app(_settings(tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as client:
        response = await client.get("/objects?key=a&expires=1&signature=x")
    assert response.status_code == 404
    assert b"not found" not in response.content  # faststream's 404, not the link endpoint's
