r"""Signed links of the local backend: an HMAC-SHA256 over the key and the expiry, like S3's.

A link is ``<public_url><path>?key=<key>&expires=<unix seconds>&signature=<hex>``; bridge's own
HTTP port serves it (``bridge.objects.serving``) while ``expires`` has not passed and the
signature matches ``HMAC-SHA256(signing_key, "GET\n<key>\n<expires>")``. Nothing else is
needed to read the object, so the link is a credential, as an S3 pre-signed URL is.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

from bridge.errors import InvalidObjectError, ObjectNotFoundError
from bridge.objects.keys import check_key

__all__ = ["LinkSigner"]

_HEX_DIGEST = 64


@dataclass(frozen=True)
class LinkSigner:
    """Makes and checks the local backend's signed links.

    Args:
        key: The HMAC key (``objects.local_signing_key``).
        base_url: ``<local_public_url><local_url_path>``.
    """

    key: bytes
    base_url: str

    def _signature(self, object_key: str, expires: int) -> str:
        message = f"GET\n{object_key}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def link(self, object_key: str, expires: int) -> str:
        """The link to ``object_key`` valid until ``expires`` (Unix seconds)."""
        query = urlencode(
            {
                "key": check_key(object_key),
                "expires": str(expires),
                "signature": self._signature(object_key, expires),
            }
        )
        return f"{self.base_url}?{query}"

    def verify(self, query: dict[str, list[str]], now: float) -> str:
        """The key a link's parsed query grants, if it is genuine and not expired.

        Raises:
            ObjectNotFoundError: For anything else (forged, altered, expired, malformed): the
                caller answers each the same way, so a prober learns nothing.
        """
        try:
            (object_key,) = query["key"]
            (expires_text,) = query["expires"]
            (signature,) = query["signature"]
            check_key(object_key)
            expires = int(expires_text) if expires_text.isascii() else -1
        except (KeyError, ValueError, InvalidObjectError) as exc:
            raise ObjectNotFoundError("malformed link") from exc
        if len(signature) != _HEX_DIGEST or not hmac.compare_digest(
            signature.encode("ascii", "replace"),
            self._signature(object_key, expires).encode(),
        ):
            raise ObjectNotFoundError("link signature does not match")
        if expires < now:
            raise ObjectNotFoundError("link expired")
        return object_key
