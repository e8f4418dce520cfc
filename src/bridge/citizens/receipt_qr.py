"""The receipt's QR code: a link that opens the OA chat, and the secret printed beside it."""

from __future__ import annotations

import io
import re
from typing import Literal
from urllib.parse import quote

__all__ = ["is_case_code", "oa_chat_link", "render_qr"]

_CASE_CODE = re.compile(r"^[0-9A-Za-z.\-]{8,40}$")


def is_case_code(code: str) -> bool:
    """Whether ``code`` has the form events accept for a dossier code."""
    return _CASE_CODE.fullmatch(code) is not None


def oa_chat_link(template: str, *, oa_id: str | None, case_code: str) -> str:
    """The link in the QR code: ``template`` with ``{oa_id}`` and ``{case_code}`` filled in.

    The default ``https://zalo.me/{oa_id}`` opens the OA's profile and chat; Zalo documents no
    parameter that pre-fills a message or carries the dossier code (zalo-oa-api.md §7.3,
    UNCERTAIN), so the citizen types the code and the secret printed beside the QR code.

    Raises:
        ValueError: When the template needs ``oa_id`` and none is configured.
    """
    if "{oa_id}" in template and not oa_id:
        raise ValueError("webhook.oa_id is not set")
    return template.replace("{oa_id}", quote(oa_id or "", safe="")).replace(
        "{case_code}", quote(case_code, safe="")
    )


def render_qr(link: str, kind: Literal["png", "svg"], *, scale: int = 8) -> bytes:
    """The QR code of ``link`` as a PNG or SVG document."""
    import segno  # noqa: PLC0415 - ≈ 2 MB, loaded for the first receipt, not with the process

    buffer = io.BytesIO()
    segno.make(link, error="m").save(buffer, kind=kind, scale=scale, border=4)
    return buffer.getvalue()
