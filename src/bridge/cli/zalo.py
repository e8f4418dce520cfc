"""The ``zalo-bridge zalo`` commands: the OA admin's consent, and the stored OA tokens."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer

from bridge.cli.options import ConfigOption  # noqa: TC001 - typer reads annotations at run time
from bridge.cli.output import JsonOption, emit_json
from bridge.errors import BridgeError, ConfigurationError
from bridge.settings import Settings, load_settings
from bridge.zalo.managed_token import ManagedToken, describe_error, refresh_due_at
from bridge.zalo.oauth import Pkce, consent_url
from bridge.zalo.token_cipher import new_key
from bridge.zalo.token_setup import open_oauth, open_token_store

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from bridge.zalo.token_store import StoredTokens, TokenStore

__all__ = ["zalo_cli"]

zalo_cli = typer.Typer(
    help="The Zalo OA's tokens: the admin's consent, import, status, refresh.",
    no_args_is_help=True,
)
token_cli = typer.Typer(
    help="The OA tokens kept (encrypted) in the bridge's store.", no_args_is_help=True
)
zalo_cli.add_typer(token_cli, name="token")


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"zalo-bridge: {message}", err=True)
    return typer.Exit(code=code)


def _settings(config: Path | None) -> Settings:
    try:
        settings = load_settings(config)
    except ConfigurationError as exc:
        raise _fail(str(exc), 2) from exc
    zalo = settings.zalo
    if zalo.token_encryption_key is None or not zalo.oa_id:
        raise _fail(
            "managed tokens are off: set zalo.token_encryption_key, app_id, app_secret and oa_id",
            2,
        )
    return settings


def _who() -> str:
    return f"cli@{socket.gethostname()}"


def _iso(moment: float | None) -> str | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()


def _summary(stored: StoredTokens, fraction: float, now: float) -> dict[str, Any]:
    """What may be shown of a stored pair: never the tokens."""
    pair = stored.pair
    return {
        "oa_id": stored.oa_id,
        "generation": stored.generation,
        "source": stored.source,
        "updated_by": stored.updated_by,
        "updated_at": _iso(stored.updated_at),
        "access_expires_at": _iso(pair.access_expires_at),
        "access_expires_in_s": round(pair.access_expires_at - now),
        "refresh_due_at": _iso(refresh_due_at(pair, fraction)),
        "refresh_expires_at": _iso(pair.refresh_expires_at),
    }


def _run(settings: Settings, work: Callable[[TokenStore], Awaitable[None]]) -> None:
    async def main() -> None:
        store = await open_token_store(settings)
        try:
            await work(store)
        finally:
            await store.close()

    try:
        asyncio.run(main())
    except BridgeError as exc:
        raise _fail(describe_error(exc)) from exc


def _code_from(answer: str, *, state: str | None, oa_id: str) -> str:
    """The code typed in, or taken from the whole callback URL (whose state and OA are checked)."""
    answer = answer.strip()
    if "code=" not in answer:
        return answer
    query = parse_qs(urlsplit(answer).query or answer.lstrip("?"))
    returned_state = query.get("state", [None])[0]
    if state is not None and returned_state is not None and returned_state != state:
        raise _fail("the callback's state does not match this consent request")
    returned_oa = query.get("oa_id", [None])[0]
    if returned_oa is not None and returned_oa != oa_id:
        raise _fail(f"the consent was given for OA {returned_oa}, not zalo.oa_id {oa_id}")
    return query.get("code", [""])[0]


@zalo_cli.command("authorize")
def authorize(
    config: ConfigOption = None,
    redirect_uri: Annotated[
        str | None,
        typer.Option(help="Where Zalo redirects after consent (default zalo.oauth_redirect_uri)."),
    ] = None,
    code: Annotated[
        str | None,
        typer.Option(help="The code of an earlier `--no-wait` run (with --code-verifier)."),
    ] = None,
    code_verifier: Annotated[
        str | None, typer.Option(help="The verifier printed by the `--no-wait` run.")
    ] = None,
    *,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait", help="Print the consent URL and verifier, then exit (two-step flow)."
        ),
    ] = False,
) -> None:
    """Get a first token pair: the OA admin consents in a browser, the code is exchanged."""
    settings = _settings(config)
    zalo = settings.zalo
    oa_id = zalo.oa_id or ""
    state: str | None = None
    if code is None:
        uri = redirect_uri or (str(zalo.oauth_redirect_uri) if zalo.oauth_redirect_uri else None)
        if not uri:
            raise _fail("give --redirect-uri or set zalo.oauth_redirect_uri", 2)
        pkce = Pkce.create()
        state = secrets.token_urlsafe(16)
        url = consent_url(
            str(zalo.oauth_base_url),
            app_id=zalo.app_id or "",
            redirect_uri=uri,
            code_challenge=pkce.challenge,
            state=state,
        )
        typer.echo("Open this URL as an admin of the OA and consent:", err=True)
        typer.echo(url)
        code_verifier = pkce.verifier
        if no_wait:
            typer.echo(f"code_verifier: {pkce.verifier}")
            typer.echo(
                "Then run: zalo-bridge zalo authorize --code CODE --code-verifier VERIFIER",
                err=True,
            )
            return
        code = typer.prompt("The code (or the whole URL Zalo redirected to)")
    if not code_verifier:
        raise _fail("--code needs the --code-verifier of the run that printed the URL", 2)
    value = _code_from(code, state=state, oa_id=oa_id)
    if not value:
        raise _fail("no code given", 2)

    async def exchange(store: TokenStore) -> None:
        oauth, http = open_oauth(zalo)
        try:
            pair = await oauth.exchange_code(value, code_verifier or "", now=time.time())
        finally:
            await http.aclose()
        stored = await store.put(oa_id, pair, source="authorize", by=_who(), now=time.time())
        _print(stored, settings)

    _run(settings, exchange)


def _print(stored: StoredTokens, settings: Settings, *, as_json: bool = False) -> None:
    summary = _summary(stored, settings.zalo.token_refresh_at_fraction, time.time())
    if as_json:
        emit_json(summary)
    else:
        typer.echo(json.dumps(summary, indent=2))


@token_cli.command("import")
def import_tokens(  # noqa: PLR0913 - one option per value of the pair
    config: ConfigOption = None,
    access_token: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            envvar="ZALO_ACCESS_TOKEN",
            help="Prompted for (hidden) when not given; ZALO_ACCESS_TOKEN also gives it.",
        ),
    ] = "",
    refresh_token: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            envvar="ZALO_REFRESH_TOKEN",
            help="Prompted for (hidden) when not given; ZALO_REFRESH_TOKEN also gives it.",
        ),
    ] = "",
    expires_in: Annotated[
        float | None,
        typer.Option(
            help="Seconds the access token has left (default zalo.access_token_lifetime_seconds)."
        ),
    ] = None,
    refresh_expires_in: Annotated[
        float | None,
        typer.Option(
            help="Seconds the refresh token has left (default zalo.refresh_token_lifetime_seconds)."
        ),
    ] = None,
    *,
    as_json: JsonOption = False,
) -> None:
    """Store a token pair obtained elsewhere (API Explorer, another deployment)."""
    from bridge.zalo.token_store import TokenPair  # noqa: PLC0415 - only this command builds one

    settings = _settings(config)
    zalo = settings.zalo
    if not access_token.strip() or not refresh_token.strip():
        raise _fail("both tokens are needed; nothing was stored", 2)
    now = time.time()
    pair = TokenPair(
        access_token=access_token.strip(),
        refresh_token=refresh_token.strip(),
        access_issued_at=now,
        access_expires_at=now + (expires_in or zalo.access_token_lifetime_seconds),
        refresh_expires_at=now + (refresh_expires_in or zalo.refresh_token_lifetime_seconds),
    )

    async def store_pair(store: TokenStore) -> None:
        stored = await store.put(zalo.oa_id or "", pair, source="import", by=_who(), now=now)
        _print(stored, settings, as_json=as_json)

    _run(settings, store_pair)


@token_cli.command("status")
def status(config: ConfigOption = None, *, as_json: JsonOption = False) -> None:
    """Print the stored pair's generation, times and origin (never the tokens); exit 1 if none."""
    settings = _settings(config)
    oa_id = settings.zalo.oa_id or ""
    found: list[StoredTokens] = []

    async def show(store: TokenStore) -> None:
        stored = await store.load(oa_id)
        if stored is not None:
            found.append(stored)
            _print(stored, settings, as_json=as_json)

    _run(settings, show)
    if not found:
        raise _fail(f"no tokens stored for OA {oa_id}")


@token_cli.command("refresh")
def refresh(config: ConfigOption = None, *, as_json: JsonOption = False) -> None:
    """Refresh the stored pair now (under the same lock as the running replicas)."""
    settings = _settings(config)
    zalo = settings.zalo

    async def renew(store: TokenStore) -> None:
        oauth, http = open_oauth(zalo)
        try:
            tokens = ManagedToken(store, oauth, oa_id=zalo.oa_id or "", owner=_who())
            _print(await tokens.refresh_now(), settings, as_json=as_json)
        finally:
            await http.aclose()

    _run(settings, renew)


@token_cli.command("rekey")
def rekey(config: ConfigOption = None, *, as_json: JsonOption = False) -> None:
    """Re-encrypt the stored tokens with the first key of zalo.token_encryption_key."""
    settings = _settings(config)
    counted: list[int] = []

    async def rotate(store: TokenStore) -> None:
        counted.append(await store.rekey())

    _run(settings, rotate)
    if as_json:
        emit_json({"reencrypted": counted[0]})
    else:
        typer.echo(f"re-encrypted {counted[0]} token pair(s) with the newest key")


@token_cli.command("generate-key")
def generate_key() -> None:
    """Print a new encryption key for zalo.token_encryption_key (keep it in a secret)."""
    typer.echo(new_key())
