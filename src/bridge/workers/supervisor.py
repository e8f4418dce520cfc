"""Start N worker processes, answer health and metrics for all of them, stop them together."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

from bridge.observability.logs import get_logger
from bridge.workers.metrics_merge import merged_metrics

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence
    from pathlib import Path

    from bridge.settings import Settings

__all__ = ["Supervisor", "WorkerSpec", "worker_specs"]

_log = get_logger("bridge.workers")

MAX_FORWARDED_BYTES = 1024 * 1024
"""Largest request body forwarded to worker 0 (its webhook takes 256 KiB; the rest is refused)."""

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}
)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """One worker: its index, the loopback port of its own endpoints, its environment."""

    index: int
    port: int
    env: Mapping[str, str]


def loopback_port() -> int:
    """A port free on 127.0.0.1 now, chosen by the system (a worker binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_specs(
    settings: Settings,
    *,
    environ: Mapping[str, str],
    ports: Callable[[], int] = loopback_port,
) -> list[WorkerSpec]:
    """The workers of ``settings.process.workers``: a loopback port and a transactional id each.

    The ports are the system's free ones, not the pod's port plus one: a port next to it may be
    held by an outgoing connection, and a worker that cannot bind would stop the pod.

    Each worker is a replica of its own (its own consumer in the group, its own Kafka
    transactional id ``<id>-w<n>``, so a restarted pod fences its predecessor's workers one by
    one); they share the store only. Worker 0 also answers the webhook (the supervisor forwards
    it), so Zalo's calls keep one address.
    """
    kafka = settings.kafka
    base_id = kafka.transactional_id or f"{kafka.client_id}-{socket.gethostname()}"
    return [
        WorkerSpec(
            index=index,
            port=ports(),
            env={
                **environ,
                "BRIDGE_PROCESS__WORKERS": "1",
                "BRIDGE_KAFKA__TRANSACTIONAL_ID": f"{base_id}-w{index}",
            },
        )
        for index in range(settings.process.workers)
    ]


class Supervisor:
    """The pod's process when ``process.workers`` > 1: it runs no consumer itself.

    It starts each worker (``zalo-bridge run`` on a loopback port), serves the pod's port:
    ``/health/ready`` (204 when every worker is ready), ``/health/live`` (204 while every
    worker lives and answers live), ``/metrics`` (every worker's series with a ``worker``
    label, and ``zalo_bridge_worker_up``), and forwards anything else (the OA webhook, signed
    links) to worker 0. A worker that exits stops the pod (status 1), so Kubernetes restarts
    it whole; SIGTERM stops every worker gracefully and exits 0 when they all did.

    Args:
        specs: The workers.
        host, port: Where the pod's endpoints listen.
        config: The settings file the workers read (``--config``), if any.
        grace: How long stopping workers may take before they are killed.
    """

    def __init__(  # noqa: PLR0913 - the workers and where the pod answers, keyword-only
        self,
        specs: Sequence[WorkerSpec],
        *,
        host: str,
        port: int,
        config: Path | None,
        grace: float,
        on_serving: Callable[[], None] = lambda: None,
    ) -> None:
        self._specs = list(specs)
        self._host = host
        self._port = port
        self._config = config
        self._grace = grace
        self._on_serving = on_serving
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._http: httpx.AsyncClient | None = None

    async def run(self) -> int:
        """Run until SIGTERM (0 when every worker stopped cleanly) or a worker's exit (1)."""
        self._http = httpx.AsyncClient(timeout=5.0)
        server = uvicorn.Server(
            uvicorn.Config(
                self._asgi,
                host=self._host,
                port=self._port,
                log_level="warning",
                access_log=False,
                lifespan="off",
                interface="asgi3",
            )
        )
        try:
            for spec in self._specs:
                self._processes[spec.index] = await self._start(spec)
            serving = asyncio.create_task(server.serve(), name="supervisor-http")
            exits = [
                asyncio.create_task(p.wait(), name=f"worker-{i}")
                for i, p in self._processes.items()
            ]
            # One turn of the loop: the server's first step takes SIGTERM over (uvicorn's
            # handler), so that from ``on_serving`` on a SIGTERM always stops the pod gracefully.
            await asyncio.sleep(0)
            self._on_serving()
            done, _ = await asyncio.wait([serving, *exits], return_when=asyncio.FIRST_COMPLETED)
            if serving in done:
                return await self._stop_all()
            lost = [i for i, p in self._processes.items() if p.returncode is not None]
            _log.error("a worker exited; the pod stops so that it restarts whole", workers=lost)
            server.should_exit = True
            await self._stop_all()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            return 1
        finally:
            await self._kill_leftovers()
            await self._http.aclose()

    async def _start(self, spec: WorkerSpec) -> asyncio.subprocess.Process:
        argv = [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1"]
        argv += ["--port", str(spec.port)]
        if self._config is not None:
            argv += ["--config", str(self._config)]
        process = await asyncio.create_subprocess_exec(*argv, env=dict(spec.env))
        _log.info("worker started", worker=spec.index, pid=process.pid, port=spec.port)
        return process

    async def _stop_all(self) -> int:
        """SIGTERM every worker still running, wait ``grace``; 0 when all exited 0."""
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        waits = [p.wait() for p in self._processes.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), self._grace)
        codes = {i: p.returncode for i, p in self._processes.items()}
        _log.info("workers stopped", exit_codes=codes)
        return 0 if all(code == 0 for code in codes.values()) else 1

    async def _kill_leftovers(self) -> None:
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()

    # ------------------------------------------------------------------ the pod's endpoints

    async def _asgi(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path in {"/health/ready", "/health/live"}:
            status = 204 if await self._all_answer(path) else 503
            await _respond(send, status, b"")
        elif path == "/metrics":
            expositions = await self._scrape()
            body = merged_metrics(expositions, len(self._specs))
            await _respond(send, 200, body, b"text/plain; version=0.0.4; charset=utf-8")
        else:
            await self._forward(scope, receive, send)

    async def _get(self, spec: WorkerSpec, path: str) -> httpx.Response | None:
        assert self._http is not None  # noqa: S101 - set by run
        try:
            return await self._http.get(f"http://127.0.0.1:{spec.port}{path}")
        except httpx.HTTPError:
            return None

    async def _all_answer(self, path: str) -> bool:
        answers = await asyncio.gather(*(self._get(spec, path) for spec in self._specs))
        alive = all(p.returncode is None for p in self._processes.values())
        return alive and all(a is not None and a.status_code == 204 for a in answers)  # noqa: PLR2004

    async def _scrape(self) -> dict[int, str]:
        answers = await asyncio.gather(*(self._get(spec, "/metrics") for spec in self._specs))
        return {
            spec.index: answer.text
            for spec, answer in zip(self._specs, answers, strict=True)
            if answer is not None and answer.status_code == 200  # noqa: PLR2004 - HTTP OK
        }

    async def _forward(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """Forward a request to worker 0 (the OA webhook, signed links), body and all."""
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_FORWARDED_BYTES:
                await _respond(send, 413, b"")  # never held in memory whole
                return
            if not message.get("more_body"):
                break
        assert self._http is not None  # noqa: S101 - set by run
        target = f"http://127.0.0.1:{self._specs[0].port}{scope['path']}"
        query = scope.get("query_string", b"").decode("latin-1")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope.get("headers", [])
            if k.decode("latin-1").lower() not in _HOP_BY_HOP
        ]
        try:
            answer = await self._http.request(
                scope["method"],
                target + (f"?{query}" if query else ""),
                content=bytes(body),
                headers=headers,
            )
        except httpx.HTTPError:
            await _respond(send, 503, b"")
            return
        kept = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.items()
            if k.lower() not in _HOP_BY_HOP
        ]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": answer.content})


async def _respond(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    body: bytes,
    content_type: bytes | None = None,
) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
