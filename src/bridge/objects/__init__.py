"""Object storage: files kept by key in a local directory or an S3-compatible bucket.

Generic persistence: it knows keys, bytes, content types and metadata, never what the files
are. ``open_object_store`` builds the store the ``objects`` settings describe.
"""

from bridge.objects.factory import link_signer, open_object_store
from bridge.objects.local import LocalObjectStore
from bridge.objects.metrics import watch_objects
from bridge.objects.s3 import S3ObjectStore
from bridge.objects.serving import signed_link_endpoint
from bridge.objects.settings import ObjectsSettings
from bridge.objects.store import ObjectStore, PresignedUrl, StoredContent, StoredObject

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
