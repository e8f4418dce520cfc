"""Object storage: files kept by key in a local directory or an S3-compatible bucket.

Generic persistence: it knows keys, bytes, content types and metadata, never what the files
are. ``open_object_store`` builds the store the ``objects`` settings describe. The S3 adapter
(and obstore under it) is loaded only when asked for: a process on the local directory never pays
its memory.
"""

from __future__ import annotations

import typing

from bridge.objects.factory import link_signer, open_object_store
from bridge.objects.local import LocalObjectStore
from bridge.objects.metrics import watch_objects
from bridge.objects.serving import signed_link_endpoint
from bridge.objects.settings import ObjectsSettings
from bridge.objects.store import ObjectStore, PresignedUrl, StoredContent, StoredObject

if typing.TYPE_CHECKING:
    from bridge.objects.s3 import S3ObjectStore

__all__ = [
    "LocalObjectStore",
    "ObjectStore",
    "ObjectsSettings",
    "PresignedUrl",
    "S3ObjectStore",
    "StoredContent",
    "StoredObject",
    "link_signer",
    "open_object_store",
    "signed_link_endpoint",
    "watch_objects",
]


def __getattr__(name: str) -> typing.Any:
    """``S3ObjectStore`` on first use (PEP 562), so obstore loads only with a bucket."""
    if name == "S3ObjectStore":
        from bridge.objects.s3 import S3ObjectStore  # noqa: PLC0415 - S3 only

        return S3ObjectStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
