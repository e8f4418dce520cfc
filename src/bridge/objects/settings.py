"""The objects section of the settings: where stored files (citizens' attachments) live."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from bridge.objects.keys import check_prefix

__all__ = ["ObjectsSettings"]

_SEVEN_DAYS = 7 * 24 * 3600  # the longest a SigV4 pre-signed URL may live


class ObjectsSettings(BaseModel):
    """Object storage: a local directory (one replica) or an S3-compatible bucket (any number)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "s3"] = Field(
        default="local",
        description=(
            "local: files in objects.local_directory (one replica; links served by bridge "
            "itself); s3: an S3-compatible bucket (several replicas)."
        ),
    )
    local_directory: Path = Field(
        default=Path("zalo-bridge-objects"),
        description=(
            "backend local: the directory the files are kept in (on a persistent volume in "
            "Kubernetes, e.g. /var/lib/zalo-bridge/objects)."
        ),
    )
    local_public_url: str = Field(
        default="",
        description=(
            "backend local: bridge's own address as the one-stop-shop reaches it (e.g. "
            "http://bridge.one-stop-shop.svc:8080); signed links point at "
            "<local_public_url><local_url_path>. Empty: no links are handed out."
        ),
    )
    local_url_path: str = Field(
        default="/objects",
        pattern=r"^/[A-Za-z0-9._/-]{1,100}$",
        description="backend local: the HTTP path on which bridge serves signed links.",
    )
    local_signing_key: SecretStr | None = Field(
        default=None,
        description=(
            "backend local: HMAC-SHA256 key of the signed links (at least 32 characters); "
            "changing it invalidates every link handed out."
        ),
    )
    endpoint_url: str = Field(
        default="",
        description=(
            "backend s3: the S3 endpoint (https://s3.example.vn; http only on a private "
            "network). Empty: AWS S3 in objects.region."
        ),
    )
    bucket: str = Field(
        default="",
        pattern=r"^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="backend s3: the bucket (it must exist; bridge never creates it).",
    )
    prefix: str = Field(
        default="",
        description=(
            "backend s3: a key prefix inside the bucket (e.g. thanh-hoa/), so that several "
            "deployments can share a bucket."
        ),
    )
    region: str = Field(
        default="us-east-1",
        pattern=r"^[a-z0-9-]{1,32}$",
        description="backend s3: the region the requests and links are signed for.",
    )
    path_style: bool = Field(
        default=True,
        description=(
            "backend s3: path-style addressing (endpoint/bucket/key), which every "
            "S3-compatible server accepts; false for virtual-hosted style (bucket.endpoint/key)."
        ),
    )
    access_key_id: SecretStr | None = Field(
        default=None,
        description=(
            "backend s3: the access key id; with the secret, or neither (then the "
            "environment's credentials: AWS_* variables, web identity)."
        ),
    )
    secret_access_key: SecretStr | None = Field(
        default=None, description="backend s3: the secret access key."
    )
    presign_expiry_seconds: int = Field(
        default=3600,
        ge=60,
        le=_SEVEN_DAYS,
        description="How long a pre-signed (or signed local) link stays valid by default.",
    )
    max_object_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        le=5 * 1024 * 1024 * 1024,
        description="The largest object stored or read back (bytes).",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="backend s3: limit of one request."
    )
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="backend s3: limit of opening a connection."
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="backend s3: retries of a request that failed on the way (5xx, network).",
    )

    @field_validator("prefix")
    @classmethod
    def _valid_prefix(cls, value: str) -> str:
        return check_prefix(value)

    @field_validator("endpoint_url", "local_public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must have no query, fragment or credentials")
        return value.rstrip("/")

    @field_validator("local_signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:  # noqa: PLR2004 - documented
            raise ValueError("must be at least 32 characters")
        return value

    @model_validator(mode="after")
    def _complete(self) -> ObjectsSettings:
        if self.backend == "s3" and not self.bucket:
            raise ValueError("objects.bucket is required with objects.backend s3")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError(
                "objects.access_key_id and objects.secret_access_key go together: set both, "
                "or neither (the environment's credentials)"
            )
        if self.local_public_url and self.local_signing_key is None:
            raise ValueError("objects.local_public_url needs objects.local_signing_key")
        return self
