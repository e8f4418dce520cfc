"""The `zalo-oa-emulator` command: run the Zalo OA emulator as a process until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bridge_devkit.emulator.access_admin_models import TemplatesIn
from bridge_devkit.emulator.admin_models import FollowersIn
from bridge_devkit.emulator.citizen_cli import citizen_main
from bridge_devkit.emulator.config import DEV_ACCESS_TOKEN, EmulatorConfig
from bridge_devkit.emulator.oauth_store import OAuthConfig
from bridge_devkit.emulator.runner import start_emulator
from bridge_devkit.emulator.template_store import ZbsConfig
from bridge_devkit.emulator.webhook import WebhookConfig

if TYPE_CHECKING:
    from bridge_devkit.emulator.followers import Follower
    from bridge_devkit.emulator.template_store import Template

__all__ = ["build_parser", "is_loopback", "main"]

_LOG = logging.getLogger("bridge_devkit.emulator")
_DEFAULTS = EmulatorConfig()
_USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="zalo-oa-emulator",
        description="Emulate the Zalo OA Open API (consultation and template messages, "
        "conversation reads, OAuth v4, webhooks) on a local port, with an admin API under "
        "/_emulator/. Development only.",
    )
    net = parser.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    net.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow binding an address that is not loopback (the admin API is unauthenticated)",
    )
    net.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    net.add_argument(
        "--port-file",
        type=Path,
        metavar="PATH",
        help="write the bound port to this file once listening (removed on exit)",
    )
    net.add_argument("--access-log", action="store_true", help="log every request")

    ident = parser.add_argument_group("app and OA")
    ident.add_argument(
        "--access-token",
        action="append",
        dest="access_tokens",
        metavar="TOKEN",
        help=f"an accepted access token, never expiring; repeatable (default: {DEV_ACCESS_TOKEN})",
    )
    ident.add_argument("--app-id", default=_DEFAULTS.app_id)
    ident.add_argument("--oa-id", default=_DEFAULTS.oa_id)
    ident.add_argument("--app-secret", default=_DEFAULTS.app_secret)
    ident.add_argument("--oa-secret-key", default=_DEFAULTS.oa_secret_key)
    ident.add_argument(
        "--followers",
        type=Path,
        metavar="FILE",
        help='JSON list of {"user_id", "display_name", "last_interaction_at" (ISO or null = '
        'now), "is_follower"}',
    )
    ident.add_argument(
        "--refresh-token",
        action="append",
        dest="refresh_tokens",
        metavar="TOKEN",
        help="a refresh token valid (once) for 3 months from start-up; repeatable",
    )
    ident.add_argument(
        "--templates",
        type=Path,
        metavar="FILE",
        help='JSON list of approved templates {"template_id", "params": [{"name", '
        '"max_length", "required"}], "allow_uid"}',
    )
    ident.add_argument(
        "--webhook-url", metavar="URL", help="POST signed OA events to this URL (default: none)"
    )
    ident.add_argument(
        "--webhook-auto-receipts",
        action="store_true",
        help="follow each accepted message with a user_received_message event",
    )

    knobs = parser.add_argument_group("behaviour")
    knobs.add_argument("--latency-ms", type=_non_negative_float, default=0.0)
    knobs.add_argument(
        "--latency-jitter-ms",
        type=_non_negative_float,
        default=0.0,
        help="add a uniform random 0..J ms to the latency",
    )
    knobs.add_argument(
        "--rate-limit-per-minute",
        type=_non_negative_int,
        default=_DEFAULTS.rate_limit_per_minute,
        help="per-app calls per calendar minute before -32; 0 disables (default: 4000)",
    )
    knobs.add_argument(
        "--interaction-window-days",
        type=_positive_float,
        default=_DEFAULTS.interaction_window_days,
        help="how recent the last interaction must be for a CS message (default: 7)",
    )
    knobs.add_argument(
        "--include-quota",
        action="store_true",
        help="return the legacy data.quota object on success (Zalo dropped it in 2026)",
    )
    knobs.add_argument(
        "--max-log-entries",
        type=_non_negative_int,
        default=0,
        help="keep only the newest N message records; 0 keeps all",
    )
    knobs.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the random generator behind jitter and probabilistic faults",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    return parser


def is_loopback(host: str) -> bool:
    """Return whether `host` is `localhost` or a loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM (or a subcommand); return the exit code.

    `zalo-oa-emulator citizen run SCRIPT --url URL` plays a scripted citizen on a running
    emulator instead (`citizen_cli`); `serve` may be given before the serving options.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["citizen"]:
        return citizen_main(argv[1:])
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.allow_non_loopback and not is_loopback(args.host):
        _LOG.error(
            "refusing to bind %s: not a loopback address (see --allow-non-loopback)", args.host
        )
        return _USAGE_ERROR
    try:
        followers = _load_followers(args.followers) if args.followers else ()
    except (OSError, ValidationError) as exc:
        _LOG.error("cannot load followers from %s: %s", args.followers, exc)
        return _USAGE_ERROR
    try:
        templates = _load_templates(args.templates) if args.templates else ()
    except (OSError, ValidationError) as exc:
        _LOG.error("cannot load templates from %s: %s", args.templates, exc)
        return _USAGE_ERROR
    config = EmulatorConfig(
        app_id=args.app_id,
        oa_id=args.oa_id,
        app_secret=args.app_secret,
        oa_secret_key=args.oa_secret_key,
        access_tokens=tuple(args.access_tokens or (DEV_ACCESS_TOKEN,)),
        followers=followers,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        rate_limit_per_minute=args.rate_limit_per_minute,
        interaction_window_days=args.interaction_window_days,
        include_quota=args.include_quota,
        max_log_entries=args.max_log_entries or None,
        oauth=OAuthConfig(refresh_tokens=tuple(args.refresh_tokens or ())),
        zbs=ZbsConfig(templates=templates),
        webhook=WebhookConfig(url=args.webhook_url, auto_receipts=args.webhook_auto_receipts),
    )
    try:
        return asyncio.run(_serve(config, args))
    except OSError as exc:  # e.g. the port is taken
        _LOG.error("cannot serve: %s", exc)
        return 1
    finally:
        if args.port_file is not None:
            with contextlib.suppress(FileNotFoundError):
                args.port_file.unlink()


async def _serve(config: EmulatorConfig, args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    rng = None if args.seed is None else random.Random(args.seed)  # noqa: S311 - not crypto
    emulator = await start_emulator(
        config, args.host, args.port, rng=rng, access_log=args.access_log
    )
    port_file: Path | None = args.port_file
    try:
        if port_file is not None:
            _write_atomically(port_file, f"{emulator.port}\n")
        _LOG.info(
            "Zalo OA emulator listening on %s (admin API under /_emulator/)", emulator.base_url
        )
        await stop.wait()
        _LOG.info("stopping")
    finally:
        await emulator.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def _load_followers(path: Path) -> tuple[Follower, ...]:
    parsed = FollowersIn.model_validate_json(path.read_bytes())
    now = time.time()
    return tuple(item.to_follower(now) for item in parsed.root)


def _load_templates(path: Path) -> tuple[Template, ...]:
    parsed = TemplatesIn.model_validate_json(path.read_bytes())
    return tuple(item.to_template() for item in parsed.root)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value
