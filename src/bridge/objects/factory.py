"""Builds the object store the settings describe: the local directory or the S3 bucket."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from bridge.objects.local import LocalObjectStore
from bridge.objects.signing import LinkSigner

if TYPE_CHECKING:
    from collections.abc import Callable

    from bridge.objects.settings import ObjectsSettings
    from bridge.objects.store import ObjectStore

__all__ = ["link_signer", "open_object_store"]


def link_signer(settings: ObjectsSettings) -> LinkSigner | None:
    """The local backend's link signer, or None when links are not configured."""
    if settings.local_signing_key is None or not settings.local_public_url:
        return None
    return LinkSigner(
        key=settings.local_signing_key.get_secret_value().encode(),
        base_url=f"{settings.local_public_url}{settings.local_url_path}",
    )


def open_object_store(
    settings: ObjectsSettings, *, clock: Callable[[], float] = time.time
) -> ObjectStore:
    """The store of ``settings.backend``; nothing is contacted until the first call.

    Args:
        settings: The ``objects`` section.
        clock: Wall-clock seconds, for the links' expiry (tests pass a fake).
    """
    expiry = timedelta(seconds=settings.presign_expiry_seconds)
    if settings.backend == "s3":
        # obstore (≈ 6 MB of memory) only for a bucket.
        from bridge.objects.s3 import S3ObjectStore, s3_store  # noqa: PLC0415 - S3 only

        return S3ObjectStore(
            s3_store(settings),
            max_object_bytes=settings.max_object_bytes,
            presign_expiry=expiry,
            clock=clock,
        )
    return LocalObjectStore(
        settings.local_directory,
        max_object_bytes=settings.max_object_bytes,
        presign_expiry=expiry,
        signer=link_signer(settings),
        clock=clock,
    )
