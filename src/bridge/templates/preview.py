"""`zalo-bridge preview`: a local page showing every template as the Zalo chat would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from bridge.case_kinds.lifecycles import CaseKind, Notice, lifecycle
from bridge.events import CaseState, EventType
from bridge.templates.builtin import package_registry
from bridge.templates.files import MESSAGES_FILE
from bridge.templates.renderer import load_registry
from bridge.templates.samples import Variant, entry_names, sample_event

if TYPE_CHECKING:
    from pathlib import Path

    from bridge.templates.registry import RenderedMessage, TemplateRegistry
    from bridge.templates.validation import CardLimits
    from bridge.wording import MessageContext

__all__ = ["PreviewCatalog", "PreviewServer", "Province", "load_catalog", "province_directories"]

DEFAULT_PROVINCE = "package"
"""The id of the package's defaults in the switcher."""

_SAMPLE_PROCEDURE = ("1.004616", "Đăng ký thành lập hộ kinh doanh")


@dataclass(frozen=True, slots=True)
class Province:
    """One choice of the province switcher: a validated registry."""

    id: str
    label: str
    registry: TemplateRegistry


def province_directories(paths: list[Path]) -> list[Path]:
    """Template directories among ``paths``: each one itself, or its subdirectories."""
    found: list[Path] = []
    for path in paths:
        if (path / MESSAGES_FILE).is_file() or any(path.glob("procedure-*.yaml")):
            found.append(path)
        else:
            found.extend(
                sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
            )
    return found


ExtraMessages = Callable[[str, str], list[dict[str, Any]]]
"""More messages for the page, given the sample's procedure code and name (e.g. the survey's)."""


def load_catalog(
    paths: list[Path],
    context: MessageContext,
    limits: CardLimits | None = None,
    *,
    more_messages: ExtraMessages | None = None,
) -> PreviewCatalog:
    """The package defaults and every province directory under ``paths``, each validated.

    ``more_messages`` adds messages that are not templates (the satisfaction survey's) after them.

    Raises:
        TemplateError: When a directory's templates are invalid.
    """
    provinces = [Province(DEFAULT_PROVINCE, "Mặc định (gói bridge)", package_registry())]
    for directory in province_directories(paths):
        registry = load_registry(directory, label=directory.name, context=context, limits=limits)
        provinces.append(Province(directory.name, registry.description or directory.name, registry))
    return PreviewCatalog(provinces, context, more_messages)


def _labels() -> dict[str, str]:
    labels = {f"states.{state.value}": f"{state.dvcqg_code}. {state.label}" for state in CaseState}
    labels |= {
        "events.TRANSFERRED": "Chuyển xử lý",
        "events.DUE_DATE_CHANGED": "Điều chỉnh ngày hẹn trả",
        "events.PAYMENT_COMPLETED": "Đã thanh toán",
        "events.SUPPLEMENT_SUBMITTED": "Đã bổ sung giấy tờ",
        "events.SUPPLEMENT_ACCEPTED": "Chấp nhận bổ sung",
        "events.INTERAGENCY_SENT": "Gửi liên thông",
        "events.INTERAGENCY_RETURNED": "Liên thông trả về",
        "events.RESULT_DISPATCHED_BY_POST": "Gửi kết quả qua bưu chính",
        "events.OVERDUE": "Quá hạn",
        "events.CORRECTION": "Đính chính dữ liệu",
    }
    for kind in CaseKind:
        if kind is CaseKind.ADMINISTRATIVE_PROCEDURE:
            continue
        for spec in lifecycle(kind).specs:
            told = "" if spec.notice is not Notice.NONE else " (nội bộ, không gửi)"
            labels[f"states.{kind.value}.{spec.name}"] = f"{kind.label}: {spec.label}{told}"
    return labels


def _message(name: str, label: str, rendered: RenderedMessage | None) -> dict[str, Any]:
    if rendered is None:
        return {"template": name, "label": label, "sent": False}
    card = rendered.card
    return {
        "template": name,
        "label": label,
        "sent": True,
        "text": rendered.text,
        "version": rendered.template_version,
        "style": rendered.style,
        "template_data": dict(rendered.template_data),
        "card": None
        if card is None
        else {
            "title": card.title,
            "rows": [{"key": r.key, "value": r.value, "style": r.style} for r in card.rows],
            "buttons": [{"title": t, "url": u} for t, u in card.buttons],
        },
    }


@dataclass(slots=True)
class PreviewCatalog:
    """What the page can show: provinces, their procedure overrides, every template."""

    provinces: list[Province]
    context: MessageContext
    more_messages: ExtraMessages | None = None
    _by_id: dict[str, Province] = field(init=False)

    def __post_init__(self) -> None:
        """Index the provinces by id."""
        self._by_id = {province.id: province for province in self.provinces}

    def describe(self) -> dict[str, Any]:
        """The switcher's choices."""
        labels = _labels()
        return {
            "provinces": [
                {
                    "id": p.id,
                    "label": p.label,
                    "procedures": [
                        {"code": code, "label": p.registry.descriptions.get(code, code)}
                        for code in p.registry.procedures
                    ],
                }
                for p in self.provinces
            ],
            "templates": [{"name": n, "label": labels.get(n, n)} for n in entry_names()],
            "event_types": [t.value for t in EventType],
        }

    def render(self, province_id: str, procedure: str | None) -> dict[str, Any]:
        """Every template rendered for the sample case of ``procedure`` in ``province_id``."""
        province = self._by_id.get(province_id)
        if province is None:
            raise KeyError(province_id)
        code, name = _SAMPLE_PROCEDURE
        if procedure:
            code = procedure
            name = province.registry.descriptions.get(procedure, name)
        labels = _labels()
        messages = []
        for template in entry_names():
            event = sample_event(
                template, Variant.REALISTIC, procedure_code=code, procedure_name=name
            )
            rendered = province.registry.render(event, self.context)
            messages.append(_message(template, labels.get(template, template), rendered))
        if self.more_messages is not None:
            messages += self.more_messages(code, name)
        return {"province": province.id, "procedure": code, "messages": messages}


def _page() -> bytes:
    return resources.files("bridge.templates").joinpath("preview.html").read_bytes()


class _Handler(BaseHTTPRequestHandler):
    catalog: PreviewCatalog

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if url.path == "/":
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", _page())
        elif url.path == "/api/catalog":
            self._json(HTTPStatus.OK, self.catalog.describe())
        elif url.path == "/api/render":
            try:
                body = self.catalog.render(
                    query.get("province", DEFAULT_PROVINCE), query.get("procedure")
                )
            except KeyError:
                self._json(HTTPStatus.NOT_FOUND, {"error": "unknown province"})
                return
            self._json(HTTPStatus.OK, body)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send(status, "application/json; charset=utf-8", data)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        """Quiet: the preview is a local tool."""


class PreviewServer:
    """The preview's HTTP server on 127.0.0.1, in a background thread."""

    def __init__(self, catalog: PreviewCatalog, port: int = 0) -> None:
        handler = type("PreviewHandler", (_Handler,), {"catalog": catalog})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the page is served."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="preview", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
