"""Result documents for tests and `make run`: PDF/JPEG/PNG-headed bytes and a loopback HTTP host."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from bridge.result_documents.kinds import DOCX

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"


def pdf_bytes(size: int, seed: int = 0) -> bytes:
    """A PDF-headed file of exactly ``size`` bytes (what the magic-byte checks look at)."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    tail = b"\n%%EOF\n"
    body = (f"{seed:08d}".encode() * (size // 8 + 1))[: max(0, size - len(head) - len(tail))]
    return (head + body + tail)[:size]


def jpeg_bytes(size: int, seed: int = 0) -> bytes:
    """A JFIF-headed file of exactly ``size`` bytes."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    tail = b"\xff\xd9"
    body = bytes((seed + i) % 251 for i in range(max(0, size - len(head) - len(tail))))
    return (head + body + tail)[:size]


def png_bytes(size: int) -> bytes:
    """A PNG-headed file of exactly ``size`` bytes."""
    head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    return (head + b"\x00" * size)[:size]


def document(url: str, content: bytes, content_type: str = PDF, **changes: Any) -> dict[str, Any]:
    """The ``result.documents[]`` entry describing ``content`` at ``url``."""
    return {
        "title": "Giấy chứng nhận đăng ký hộ kinh doanh",
        "url": url,
        "content_type": content_type,
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
        **changes,
    }


class DocumentHost:
    """Serves files over real HTTP on 127.0.0.1; counts downloads; can fail on request."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.downloads: dict[str, int] = {}
        self.fail_with: dict[str, list[int]] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path
                host.downloads[path] = host.downloads.get(path, 0) + 1
                failures = host.fail_with.get(path)
                if failures:
                    self.send_response(failures.pop(0))
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                if path not in host.files:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                content, content_type = host.files[path]
                self.send_response(200)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args: object) -> None:
                """Quiet: tests and the demo print what matters themselves."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        """Start serving (a daemon thread)."""
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def put(self, name: str, content: bytes, content_type: str = PDF) -> str:
        """Serve ``content`` at ``/name``; its URL."""
        self.files[f"/{name}"] = (content, content_type)
        return f"{self.base_url}/{name}"


__all__ = [
    "DOCX",
    "JPEG",
    "PDF",
    "PNG",
    "DocumentHost",
    "document",
    "jpeg_bytes",
    "pdf_bytes",
    "png_bytes",
]
