"""`make run`: broker, Zalo OA emulator and bridge, fed sample events, shown as citizens see it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bridge.app import message_context
from bridge.feedback.preview import survey_messages
from bridge.settings import load_settings
from bridge.templates.preview import PreviewServer, load_catalog
from bridge_devkit.clock_settings import always_day_env
from bridge_devkit.document_host import DocumentHost, document
from bridge_devkit.emulator import EmulatorConfig
from bridge_devkit.kafka import LocalKafka, stop_broker_in
from bridge_devkit.processes import ProcessRecord
from bridge_devkit.samples import (
    LINKING_CITIZEN,
    encode,
    filed_dossier_event,
    linking_case_code,
    linking_result_returned,
    linking_sample_event,
    sample_case_events,
    sample_citizens,
    sample_events,
    sample_result_pdf,
)

__all__ = ["main"]

ACCESS_TOKEN = "make-run-access-token"  # noqa: S105 - the emulator's local development token
INPUT_TOPIC = "case-state-events"
DLQ_TOPIC = "case-state-events.dlq"
STATUS_TOPIC = "case-state-events.status"
V2_TOPIC = "case-state-events.v2"
V2_DLQ_TOPIC = "case-state-events.v2.dlq"
V2_STATUS_TOPIC = "case-state-events.v2.status"
FEEDBACK_TOPIC = "citizen-feedback"
SUBMISSION_TOPIC = "citizen-submission"
MALFORMED = b'{"event_id": "not-a-uuid", "state": "DONE"'
HMAC_KEY = "make-run-hmac-key"
"""The demo's linking key (receipt secrets); a real one is a secret."""
_WIDTH = 72
_VN = timezone(timedelta(hours=7), "ICT")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201 - this is the demo's terminal output


def _start_preview() -> PreviewServer:
    """`zalo-bridge preview` in this process: the package's and the example provinces' templates."""
    settings = load_settings()
    examples = Path(__file__).resolve().parents[3] / "examples" / "templates"
    catalog = load_catalog(
        [examples] if examples.is_dir() else [],
        message_context(settings),
        more_messages=survey_messages(settings.feedback),
    )
    try:
        server = PreviewServer(catalog, settings.templates.preview_port)
    except OSError:  # the usual port is taken: any free one
        server = PreviewServer(catalog)
    server.start()
    _say(f"• template preview: {server.url} (every state, as the Zalo chat shows it)")
    return server


def next_run_number(workdir: Path) -> int:
    """Count this run in ``workdir`` (1 for the first): its dossiers are new ones."""
    counter = workdir / "run-number"
    try:
        previous = int(counter.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        previous = 0
    counter.write_text(f"{previous + 1}\n", encoding="ascii")
    return previous + 1


class Demo:
    """Starts the three processes, stops exactly those, newest first.

    Each one is written down in ``processes.json`` as it starts: a run cut short (Ctrl-C twice,
    a closed terminal, SIGKILL) leaves them there, and the next run stops them by PID first.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.kafka: LocalKafka | None = None
        self.documents: DocumentHost | None = None
        self.record = ProcessRecord(workdir / "processes.json")

    def serve_result_pdf(self, run: int) -> dict[str, Any]:
        """Serve the marriage result's PDF on loopback; the ``result.documents[]`` entry."""
        self.documents = DocumentHost().__enter__()
        pdf = sample_result_pdf()
        url = self.documents.put(f"ket-qua-{run}.pdf", pdf)
        return document(url, pdf, title="Trích lục đăng ký kết hôn")

    def stop_leftovers(self) -> None:
        """Stop what an earlier, interrupted run in this directory left running."""
        for name, pid in self.record.stop_leftovers():
            _say(f"• stopped the {name} an earlier run left running (pid {pid})")
        broker = stop_broker_in(self.workdir / "kafka")
        if broker is not None:
            _say(f"• stopped the Kafka broker an earlier run left running (pid {broker})")

    def start_kafka(self) -> str:
        existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if existing:
            _say(f"• Kafka: using the existing cluster at {existing}")
            return existing
        _say("• Kafka: starting a local broker (Apache Kafka 4.0, KRaft, 127.0.0.1)…")
        started = time.monotonic()
        self.kafka = LocalKafka(self.workdir / "kafka")
        self.kafka.start()
        _say(f"  ready at {self.kafka.bootstrap_servers} in {time.monotonic() - started:.1f} s")
        return self.kafka.bootstrap_servers

    def spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        self.processes.append((name, process))
        self.record.add(name, process.pid)
        return process

    def start_emulator(self) -> str:
        followers = self.workdir / "followers.json"
        followers.write_text(
            json.dumps(
                [
                    {
                        "user_id": c.zalo_user_id,
                        "display_name": c.display_name,
                        "last_interaction_at": None,
                    }
                    for c in sample_citizens()
                ],
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        port_file = self.workdir / "emulator.port"
        port_file.unlink(missing_ok=True)
        self.spawn(
            "emulator",
            [
                sys.executable,
                "-m",
                "bridge_devkit.emulator",
                "--port-file",
                str(port_file),
                "--access-token",
                ACCESS_TOKEN,
                "--followers",
                str(followers),
                "--latency-ms",
                "30",
            ],
        )
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the emulator did not start; see {self.workdir / 'emulator.log'}"
                )
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        _say(f"• Zalo OA emulator: {url} (what it received: {url}/_emulator/messages)")
        return url

    def start_bridge(self, bootstrap: str, zalo_url: str) -> str:
        port = _free_port()
        env = {
            "BRIDGE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "BRIDGE_KAFKA__INPUT_TOPIC": INPUT_TOPIC,
            "BRIDGE_KAFKA__DEAD_LETTER_TOPIC": DLQ_TOPIC,
            "BRIDGE_KAFKA__STATUS_TOPIC": STATUS_TOPIC,
            "BRIDGE_KAFKA__CONSUMER_GROUP": "zalo-bridge-make-run",
            "BRIDGE_KAFKA__TRANSACTIONAL_ID": "zalo-bridge-make-run",
            "BRIDGE_STORE__URL": f"sqlite:///{self.workdir / 'ledger.sqlite3'}",
            "BRIDGE_ZALO__BASE_URL": zalo_url,
            "BRIDGE_ZALO__ACCESS_TOKEN": ACCESS_TOKEN,
            "BRIDGE_LOG__FORMAT": "json",
            **always_day_env(),  # the demo shows every message at once, at any hour
            **_citizen_env(),
            # The satisfaction survey, asked a second after the result is handed over.
            "BRIDGE_FEEDBACK__ENABLED": "true",
            "BRIDGE_FEEDBACK__TOPIC": FEEDBACK_TOPIC,
            "BRIDGE_FEEDBACK__DELAY_SECONDS": "1",
            "BRIDGE_FEEDBACK__POLL_SECONDS": "0.5",
            # Dossiers filed in the chat: photos and files kept in a local directory.
            "BRIDGE_SUBMISSIONS__ENABLED": "true",
            "BRIDGE_SUBMISSIONS__TOPIC": SUBMISSION_TOPIC,
            "BRIDGE_SUBMISSIONS__ATTACHMENT_HOSTS": '["127.0.0.1"]',  # the emulator's files
            "BRIDGE_OBJECTS__LOCAL_DIRECTORY": str(self.workdir / "objects"),
            # The result's PDF comes from a loopback host over plain HTTP (the contract: HTTPS).
            "BRIDGE_DOCUMENTS__ALLOW_HTTP": "true",
            # Complaints and land disputes (the v2 contract) on their own topics.
            "BRIDGE_KAFKA__V2_ENABLED": "true",
            "BRIDGE_KAFKA__V2_INPUT_TOPIC": V2_TOPIC,
            "BRIDGE_KAFKA__V2_DEAD_LETTER_TOPIC": V2_DLQ_TOPIC,
            "BRIDGE_KAFKA__V2_STATUS_TOPIC": V2_STATUS_TOPIC,
        }
        self.spawn(
            "bridge",
            [sys.executable, "-m", "bridge", "run", "--host", "127.0.0.1", "--port", str(port)],
            env,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 204:  # noqa: PLR2004
                    break
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the bridge did not become ready; see {self.workdir / 'bridge.log'}"
                )
            time.sleep(0.2)
        _say(f"• bridge: {url}/health/ready answers 204 (log: {self.workdir / 'bridge.log'})")
        return url

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}; see {self.workdir / (name + '.log')}"
                )

    def stop(self) -> None:
        """Stop what this run started; a second Ctrl-C meanwhile does not cut it short."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            while self.processes:
                name, process = self.processes.pop()
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                self.record.remove(process.pid)
                _say(f"  stopped {name} (pid {process.pid})")
            if self.kafka is not None:
                self.kafka.stop()
                _say("  stopped the local Kafka broker")
                self.kafka = None
            if self.documents is not None:
                self.documents.__exit__(None, None, None)
                self.documents = None
        finally:
            signal.signal(signal.SIGINT, previous)


async def _create_topics(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for topic, partitions in (
            (INPUT_TOPIC, 3),
            (DLQ_TOPIC, 1),
            (STATUS_TOPIC, 1),
            (FEEDBACK_TOPIC, 1),
            (SUBMISSION_TOPIC, 1),
            (V2_TOPIC, 3),
            (V2_DLQ_TOPIC, 1),
            (V2_STATUS_TOPIC, 1),
        ):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
                )
    finally:
        await admin.close()


async def _publish(
    bootstrap: str, events: list[dict[str, Any]], cases: list[dict[str, Any]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                INPUT_TOPIC, encode(event), key=event["case"]["code"].encode()
            )
        await producer.send_and_wait(INPUT_TOPIC, MALFORMED, key=b"khong-hop-le")
        for event in cases:
            await producer.send_and_wait(
                V2_TOPIC, encode(event), key=event["case"]["code"].encode()
            )
    finally:
        await producer.stop()


def _bubble(message: dict[str, Any], names: dict[str, str]) -> str:
    user = message.get("user_id") or "?"
    who = names.get(user, user)
    received = datetime.fromisoformat(str(message["received_at"])).astimezone(_VN)
    header = f"┌─ Zalo · OA Tỉnh Thanh Hóa → {who} · {received:%H:%M:%S} "
    lines = [header + "─" * max(0, _WIDTH - len(header))]
    for paragraph in str(message.get("text", "")).split("\n"):
        wrapped = textwrap.wrap(
            paragraph, _WIDTH - 4, break_long_words=False, break_on_hyphens=False
        )
        lines.extend(f"│ {line}" for line in wrapped or [""])
    attachment = message.get("attachment")
    if attachment == "file":
        lines.append("│ 📎 Tệp đính kèm (văn bản kết quả)")
    elif attachment == "image":
        lines.append("│ 🖼  Ảnh đính kèm")
    buttons = message.get("buttons") or []
    if buttons:
        lines.append("│ " + "  ".join(f"[{b.get('title', '')}]" for b in buttons))
    lines.append("└" + "─" * (_WIDTH - 1))
    return "\n".join(lines)


class Watcher:
    """Prints, once each, the messages the emulator has accepted; counts this run's.

    A message of this run names one of its dossiers. A notification about another dossier (an
    event an interrupted earlier run published but did not see delivered) is shown too, marked,
    and not counted.
    """

    def __init__(self, zalo_url: str, codes: set[str]) -> None:
        self.http = httpx.Client(base_url=zalo_url, timeout=5)
        self.names = {c.zalo_user_id: c.display_name for c in sample_citizens()}
        self.names[LINKING_CITIZEN.zalo_user_id] = LINKING_CITIZEN.display_name
        self.codes = codes
        self.notified = {c.zalo_user_id for c in sample_citizens()}
        self.shown = 0
        self.messages: list[dict[str, Any]] = []

    def ours(self, message: dict[str, Any]) -> bool:
        """Whether ``message`` is about one of this run's dossiers (or is a result document)."""
        if message.get("attachment") in {"file", "image"}:
            return message.get("user_id") in self.notified
        text = str(message.get("text") or "")
        return any(code in text for code in self.codes)

    def earlier(self, message: dict[str, Any]) -> bool:
        """Whether ``message`` notifies about a dossier of an earlier run (not an example)."""
        if message.get("user_id") not in self.notified:
            return False  # the chat scene's answers name example codes
        return not self.ours(message)

    def show_new(self) -> int:
        """Print the messages not shown yet; the number of this run's messages so far."""
        messages = self.http.get("/_emulator/messages").json()["messages"]
        for message in messages[self.shown :]:
            bubble = _bubble(message, self.names)
            if self.earlier(message):
                bubble = "(an earlier run's dossier, delivered now)\n" + bubble
            _say(bubble)
        self.shown = max(self.shown, len(messages))
        self.messages = messages
        return sum(1 for m in messages if self.ours(m))

    def wait_for(self, expected: int, timeout: float) -> int:
        """Wait until ``expected`` messages of this run arrived; how many did."""
        deadline = time.monotonic() + timeout
        while (ours := self.show_new()) < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        return ours

    def wait_for_reply(self, user: str, after: int, naming: str | None, timeout: float) -> bool:
        """Wait for a message to ``user`` past the first ``after`` that contains ``naming``.

        With ``naming`` None, any message to ``user`` will do.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.show_new()
            for message in self.messages[after:]:
                text = str(message.get("text") or "")
                if message.get("user_id") == user and (naming is None or naming in text):
                    return True
            time.sleep(0.1)
        return False


def _citizen_env() -> dict[str, str]:
    """The bridge's webhook and linking settings, matching the emulator's default ids."""
    emulator = EmulatorConfig()
    return {
        "BRIDGE_WEBHOOK__APP_ID": emulator.app_id,
        "BRIDGE_WEBHOOK__OA_ID": emulator.oa_id,
        "BRIDGE_WEBHOOK__OA_SECRET_KEY": emulator.oa_secret_key,
        "BRIDGE_LINKING__HMAC_KEY": HMAC_KEY,
    }


def _citizen_says(text: str) -> None:
    header = f"┌─ {LINKING_CITIZEN.display_name} → OA "
    _say(header + "─" * max(0, _WIDTH - len(header)))
    _say(f"│ {text}")
    _say("└" + "─" * (_WIDTH - 1))


def _citizen_scene(  # noqa: PLR0913 - where everything runs, and the run's number
    workdir: Path, bootstrap: str, zalo_url: str, bridge_url: str, watcher: Watcher, *, run: int
) -> bool:
    """A citizen links her dossier in the chat, is notified, looks it up and unsubscribes."""
    code = linking_case_code(run=run)
    qr_file = workdir / f"receipt-{code}.png"
    printed = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "bridge", "qr", code, "--out", str(qr_file)],
        env={**os.environ, **_citizen_env()},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    secret = next(
        line.split(":", 1)[1].strip() for line in printed.splitlines() if line.startswith("Mã bí")
    )
    admin = httpx.Client(base_url=zalo_url, timeout=10)
    admin.put("/_emulator/webhook", json={"url": f"{bridge_url}/webhook/zalo"}).raise_for_status()
    _say(
        f"\nIn the OA chat: {LINKING_CITIZEN.display_name}'s receipt for {code} carries a QR code "
        f"({qr_file.name}) and the secret {secret}.\n"
    )
    user = LINKING_CITIZEN.zalo_user_id

    # What she says, and what the OA's answer to her names (None: any answer, the welcome).
    steps: list[tuple[str | None, dict[str, Any] | None, str | None]] = [
        (
            "(quét mã QR, bấm Quan tâm)",
            {"event_name": "follow", "display_name": LINKING_CITIZEN.display_name},
            None,
        ),
        (f"{code} {secret}", {"event_name": "user_send_text", "text": f"{code} {secret}"}, code),
        (None, None, code),  # the dossier moves on: a case event on Kafka
        ("Tra cứu", {"event_name": "user_send_text", "text": "Tra cứu"}, code),
        # The result is handed over: a case event, then (after feedback.delay_seconds) the
        # satisfaction survey, answered with a tap on its "Hài lòng" button.
        (None, {"publish": "result_returned"}, "có hài lòng"),
        ("[bấm nút] Hài lòng", {"tap": "Hài lòng"}, "Cảm ơn Ông/Bà"),
        (f"HUY {code}", {"event_name": "user_send_text", "text": f"HUY {code}"}, code),
        *_submission_steps(),
    ]
    for index, (said, event, answer_names) in enumerate(steps):
        before = watcher.shown
        if event is None:
            asyncio.run(_publish_one(bootstrap, linking_sample_event(run=run)))
        elif event.get("publish") == "result_returned":
            asyncio.run(_publish_one(bootstrap, linking_result_returned(run=run)))
        elif "tap" in event:
            _citizen_says(str(said))
            tap = {"user_id": user, "title": event["tap"]}
            admin.post("/_emulator/taps", json=tap).raise_for_status()
        else:
            _citizen_says(str(said))
            admin.post("/_emulator/events", json={"user_id": user, **event}).raise_for_status()
        if not watcher.wait_for_reply(user, before, answer_names, 20):
            return False
        if not (
            _in_her_chat(event) and index + 1 < len(steps) and _in_her_chat(steps[index + 1][1])
        ):
            # The latest-state row (or her link) follows the message by a moment. Between two
            # things she says no wait is needed: the webhook inbox handles a citizen's events
            # one after another, each once the one before it is done.
            time.sleep(0.5)
    admin.close()
    return _centre_opens_the_filed_dossier(bootstrap, watcher, run=run)


def _in_her_chat(event: dict[str, Any] | None) -> bool:
    """Whether a scene step is something she says in the chat (through the webhook inbox)."""
    return event is not None and "event_name" in event


_SUBMISSION_ID = re.compile(r"Mã nộp hồ sơ:\s*(\S+)")


def _centre_opens_the_filed_dossier(bootstrap: str, watcher: Watcher, *, run: int) -> bool:
    """The centre takes her submission off Kafka and opens a dossier; its first event reaches her.

    The submission is the one whose id the OA's acknowledgement gave her; the centre's event
    names it, and bridge links her to the new dossier by itself.
    """
    user = LINKING_CITIZEN.zalo_user_id
    acknowledged = [
        match.group(1)
        for message in watcher.messages
        if message.get("user_id") == user
        and (match := _SUBMISSION_ID.search(str(message.get("text") or "")))
    ]
    if not acknowledged:
        return False
    submission_id = acknowledged[-1].rstrip(".,;")
    submission = asyncio.run(_read_submission(bootstrap, submission_id))
    if submission is None:
        _say(f"make run: submission {submission_id} is not on {SUBMISSION_TOPIC}")
        return False
    attachments = submission.get("attachments") or []
    _say(
        f"\nThe centre reads {submission_id} from {SUBMISSION_TOPIC}: procedure "
        f"{submission.get('procedure_code')}, {len(submission.get('fields') or {})} answers, "
        f"{len(attachments)} files in object storage ("
        + ", ".join(f"{a.get('content_type')} {a.get('size')} B" for a in attachments)
        + "); it opens a dossier.\n"
    )
    event = filed_dossier_event(submission_id, run=run)
    before = watcher.shown
    asyncio.run(_publish_one(bootstrap, event))
    return watcher.wait_for_reply(user, before, event["case"]["code"], 30)


async def _read_submission(bootstrap: str, submission_id: str) -> dict[str, Any] | None:
    """The submission event keyed ``submission_id`` (read from the start of the topic)."""
    consumer = AIOKafkaConsumer(
        SUBMISSION_TOPIC,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key == submission_id.encode() and record.value:
                        found: dict[str, Any] = json.loads(record.value)
                        return found
        return None
    finally:
        await consumer.stop()


def _birth_date() -> str:
    """The child's birth date she types: about a year before today, whatever the clock says."""
    return f"{datetime.now(_VN).date() - timedelta(days=400):%d/%m/%Y}"


_BIRTH_ANSWERS = (
    ("Nguyễn Thị Minh Anh", "(2/10)"),
    (None, "(3/10)"),  # the birth date: `_birth_date()`
    ("Nữ", "(4/10)"),
    ("Bệnh viện Phụ sản, 123 Lê Lợi, Hải Châu, Đà Nẵng", "(5/10)"),
    ("Trần Thị Bình", "(6/10)"),
    ("1", "(7/10)"),
    ("001203004567", "(8/10)"),
    ("0905123456", "(9/10)"),
    ("12 Lê Lợi, Hải Châu, Đà Nẵng", "(10/10)"),
    ("BO QUA", "Giấy chứng sinh"),
)


def _submission_steps() -> list[tuple[str | None, dict[str, Any] | None, str | None]]:
    """She files a birth registration in the chat: a PDF, two photos of her ID card, XAC NHAN."""

    def text(said: str, answer: str) -> tuple[str, dict[str, Any], str]:
        return said, {"event_name": "user_send_text", "text": said}, answer

    photo = {"generate": {"kind": "jpeg", "width": 320, "height": 200, "exif_gps": True}}
    pdf = {"generate": {"kind": "pdf", "size": 4000}, "name": "giay-chung-sinh.pdf"}
    return [
        text("Nộp hồ sơ", "1. Đăng ký khai sinh"),
        text("1", "(1/10)"),
        *(text(said or _birth_date(), answer) for said, answer in _BIRTH_ANSWERS),
        ("[tệp] giay-chung-sinh.pdf", {"event_name": "user_send_file", "attachment": pdf}, "1/2"),
        text("XONG", "căn cước"),
        (
            "[ảnh] căn cước, mặt trước",
            {"event_name": "user_send_image", "attachment": photo},
            "1/2",
        ),
        (
            "[ảnh] căn cước, mặt sau",
            {"event_name": "user_send_image", "attachment": photo},
            "kết hôn",
        ),
        text("BO QUA", "XAC NHAN"),
        text("XAC NHAN", "Mã nộp hồ sơ"),
    ]


async def _publish_one(bootstrap: str, event: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(INPUT_TOPIC, encode(event), key=event["case"]["code"].encode())
    finally:
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the demo; with ``--once`` it stops by itself after showing the messages."""
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path(".run"), help="logs and broker data")
    parser.add_argument("--once", action="store_true", help="stop after the messages are shown")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to wait for deliveries"
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(args.workdir.resolve())

    def on_signal(_signo: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a background job of a
    # non-interactive shell inherits that, and Python then installs no handler of its own).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    demo.stop_leftovers()
    run = next_run_number(demo.workdir)
    preview = _start_preview()
    try:
        result_pdf = demo.serve_result_pdf(run)
        bootstrap = demo.start_kafka()
        asyncio.run(_create_topics(bootstrap))
        zalo_url = demo.start_emulator()
        bridge_url = demo.start_bridge(bootstrap, zalo_url)
        events = sample_events(run=run, result_documents=[result_pdf])
        cases = sample_case_events(run=run)
        codes = {event["case"]["code"] for event in events + cases}
        # The marriage result's PDF follows its text; a complaint and a land dispute (v2).
        expected = len(events) + 1 + len(cases)
        asyncio.run(_publish(bootstrap, events, cases))
        _say(
            f"• run {run} in {args.workdir}: published {len(events)} sample case events of "
            f"{len(codes) - 2} new dossiers, and 1 malformed record; {len(cases)} events of a "
            f"complaint and a land dispute on {V2_TOPIC}\n"
        )
        _say("What the citizens received on Zalo:\n")
        watcher = Watcher(zalo_url, codes | {linking_case_code(run=run)})
        shown = watcher.wait_for(expected, args.timeout)
        _say(
            f"\n{shown} of {expected} messages delivered (one of them the result's PDF, "
            f"{len(cases)} about a complaint and a land dispute); "
            f"the malformed record went to {DLQ_TOPIC}."
        )
        if shown < expected:
            _say(f"Not everything arrived: see {args.workdir / 'bridge.log'}")
            return 1
        if not _citizen_scene(demo.workdir, bootstrap, zalo_url, bridge_url, watcher, run=run):
            _say(f"The chat scene did not complete: see {args.workdir / 'bridge.log'}")
            return 1
        if not args.once:
            _say(
                f"Everything keeps running: publish more to {INPUT_TOPIC} at {bootstrap} "
                "and the messages show up here. Press Ctrl-C to stop."
            )
            while True:
                time.sleep(0.5)
                demo.check_alive()
                watcher.show_new()
    except KeyboardInterrupt:
        _say("\nStopping…")
    except RuntimeError as exc:
        _say(f"make run: {exc}")
        return 1
    finally:
        demo.stop()
        preview.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
