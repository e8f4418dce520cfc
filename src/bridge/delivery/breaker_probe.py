"""Probe Zalo in the background while the circuit breaker holds delivery back."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bridge.errors import (
    AccountError,
    DeliveryError,
    DeliveryInDoubtError,
    RetryableDeliveryError,
    TokenError,
)
from bridge.observability.logs import get_logger
from bridge.zalo.codes import ACCOUNT_WIDE_CODES

if TYPE_CHECKING:
    from bridge.delivery.deliverer import RateLimiter
    from bridge.delivery.flow import CircuitBreaker
    from bridge.zalo.client import OaProfile

__all__ = ["BreakerProber", "OaProfileReader"]

_log = get_logger("bridge.breaker_probe")


@runtime_checkable
class OaProfileReader(Protocol):
    """The cheap Zalo call of the probe (``bridge.zalo.ZaloClient.oa_profile`` fits)."""

    async def oa_profile(self) -> OaProfile:
        """Read the OA's profile, or raise a ``DeliveryError``."""
        ...


class BreakerProber:
    """Takes the breaker's probe slot as soon as a probe is due, and asks Zalo for the OA profile.

    While the breaker is open the consumer's partitions are paused, so no record may come to
    probe (after a rebalance, or once the records in flight were given back): without this,
    delivery would wait for a record that cannot arrive. A record waiting to send may take the
    slot first; then this waits for the next one.

    The verdict, reported to the breaker:

    - the profile → ``success`` (closes it; the partitions resume);
    - no answer, HTTP 5xx or 429, ``-32`` and the other transient codes → ``failure`` (open
      again, for twice as long up to the maximum);
    - a refused token, or an account code about the whole OA or app (``-204``, ``-205``,
      ``-219``) → ``trip`` (only an administrator fixes it; the probe tells when);
    - any other Zalo answer (e.g. ``-223``, this app may not read the OA profile) → ``success``:
      Zalo answered and took the token, which is what the probe asks; the next send tells the
      rest, and trips the breaker again if it must.

    The slot is handed back whatever happens (cancellation included). The call is bounded by
    ``timeout`` on top of the client's own timeouts, and paced by ``limiter`` like every call.

    Args:
        breaker: The breaker to probe for.
        zalo: The Zalo client.
        timeout: Longest wait for the answer; counts as no answer.
        limiter: The OA's rate limiter (None: no limit).
    """

    def __init__(
        self,
        *,
        breaker: CircuitBreaker,
        zalo: OaProfileReader,
        timeout: float,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._breaker = breaker
        self._zalo = zalo
        self._timeout = timeout
        self._limiter = limiter
        self.probes = 0
        """Probes made since start (for tests and logs)."""

    async def run(self) -> None:
        """Probe whenever a probe is due, until cancelled."""
        while True:
            probe = await self._breaker.next_probe()
            try:
                await self.probe_once()
            finally:
                self._breaker.release_probe(probe)

    async def probe_once(self) -> None:
        """Make one probe call and report its verdict to the breaker."""
        breaker = self._breaker
        self.probes += 1
        try:
            async with asyncio.timeout(self._timeout):
                if self._limiter is not None:
                    await self._limiter.acquire()
                profile = await self._zalo.oa_profile()
        except TimeoutError:
            self._verdict("failure", f"probe: no answer within {self._timeout:g} s")
            breaker.failure("probe: no answer from Zalo")
        except TokenError as error:
            self._verdict("trip", f"probe: {error}")
            breaker.trip(f"probe: Zalo error {error.code}: {error}")
        except AccountError as error:
            if error.code in ACCOUNT_WIDE_CODES:
                self._verdict("trip", f"probe: {error}")
                breaker.trip(f"probe: Zalo error {error.code}: {error}")
            else:
                self._verdict("answered", f"probe: {error}")
                breaker.success()
        except (RetryableDeliveryError, DeliveryInDoubtError) as error:
            self._verdict("failure", f"probe: {error}")
            breaker.failure(f"probe: {error}")
        except DeliveryError as error:
            self._verdict("answered", f"probe: {error}")
            breaker.success()
        except Exception as error:  # noqa: BLE001 - the prober must outlive any bug of a probe
            _log.exception("circuit breaker probe failed unexpectedly")
            breaker.failure(f"probe: {type(error).__name__}")
        else:
            self._verdict("ok", None, oa_type=profile.oa_type)
            breaker.success()

    def _verdict(self, outcome: str, detail: str | None, **extra: object) -> None:
        log = _log.info if outcome in {"ok", "answered"} else _log.warning
        log("circuit breaker probe", outcome=outcome, detail=detail, **extra)
