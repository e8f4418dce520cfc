"""The naive baseline for the benchmark: a plain faststream subscriber, one event at a time."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from faststream.kafka import KafkaBroker

from bridge.errors import InvalidEventError
from bridge.events import parse_event
from bridge.templates import render_message
from bridge.wording import MessageContext, ProvinceSettings

if TYPE_CHECKING:
    from faststream.message import StreamMessage

__all__ = ["CS_MESSAGE_PATH", "build_parser", "main", "run"]

CS_MESSAGE_PATH = "/v3.0/oa/message/cs"
MAX_EVENT_BYTES = 64 * 1024

_log = logging.getLogger("bridge_devkit.naive")


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m bridge_devkit.naive",
        description="What a first implementation would be: consume case-state events with a "
        "plain faststream subscriber, word each one with bridge.mapping.render_message and POST "
        "it to the Zalo OA API with httpx, one event at a time. No ledger, no retries, no order "
        "guarantees beyond faststream's. A benchmark baseline, not for production.",
    )
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--zalo-url", required=True, help="the OA API base URL (the emulator)")
    parser.add_argument("--access-token", required=True)
    parser.add_argument(
        "--max-workers",
        type=int,
        default=1,
        help="faststream's handler concurrency (default 1: one event at a time)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds")
    return parser


def _context() -> MessageContext:
    province = ProvinceSettings()
    return MessageContext(
        lookup_url_template=province.lookup_url_template,
        timezone=ZoneInfo(province.timezone),
        signature=province.signature,
    )


async def _raw_body(message: StreamMessage[Any]) -> bytes:
    return bytes(message.body)


async def run(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """Consume and deliver until `stop` is set.

    Args:
        args: The parsed command line (see `build_parser`).
        stop: Set to stop (SIGTERM and SIGINT set it).
    """
    context = _context()
    headers = {"access_token": str(args.access_token)}
    topic, group, workers = str(args.topic), str(args.group), int(args.max_workers)
    broker = KafkaBroker(str(args.bootstrap_servers), client_id="naive-baseline")
    async with httpx.AsyncClient(base_url=args.zalo_url, timeout=args.timeout) as http:

        @broker.subscriber(
            topic,
            group_id=group,
            auto_offset_reset="earliest",
            decoder=_raw_body,
            max_workers=workers if workers > 1 else None,
        )
        async def deliver(body: bytes) -> None:
            try:
                event = parse_event(body, max_bytes=MAX_EVENT_BYTES)
            except InvalidEventError:
                return
            message = render_message(event, context)
            user_id = event.recipient.zalo_user_id
            if message is None or user_id is None:
                return
            payload = {"recipient": {"user_id": user_id}, "message": {"text": message.text}}
            try:
                response = await http.post(CS_MESSAGE_PATH, json=payload, headers=headers)
            except httpx.HTTPError as exc:
                _log.warning("send failed: %r", exc)
                return
            if response.status_code != 200:  # noqa: PLR2004 - Zalo answers 200 with an envelope
                _log.warning("Zalo answered HTTP %s", response.status_code)

        async with broker:
            await broker.start()
            await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Run the naive baseline until SIGTERM or SIGINT; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await run(args, stop)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
