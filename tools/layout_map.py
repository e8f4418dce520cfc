"""Where each module of bridge's flat layout went when ``src/bridge/`` became wings (issue 12).

Data only, read by ``tools/relayout.py``: run that script over a branch written against the old
layout to rewrite its imports (``python tools/relayout.py rewrite PATH…``). Delete both files
once no branch of the old layout is left.
"""

from __future__ import annotations

# Old dotted module -> new dotted module. A module not named here kept its path.
MODULES: dict[str, str] = {
    # the contract and the composition root stay at the root; the pure message model is named
    # for what it holds
    "bridge.mapping": "bridge.wording",
    # Kafka plumbing shared by every wing that reads or writes a topic
    "bridge.kafka_security": "bridge.kafka.security",
    # delivery: consume, dispatch, deliver, cascade, ledger, flow, pacing, outbox, DLQ, replay
    "bridge.consumer": "bridge.delivery.consumer",
    "bridge.dispatch": "bridge.delivery.dispatch",
    "bridge.delivery": "bridge.delivery.deliverer",
    "bridge.cascade": "bridge.delivery.cascade",
    "bridge.ledger": "bridge.delivery.ledger",
    "bridge.store.sqlite": "bridge.delivery.sqlite_ledger",
    "bridge.store.postgres": "bridge.delivery.postgres_ledger",
    "bridge.flow": "bridge.delivery.flow",
    "bridge.pacing": "bridge.delivery.pacing",
    "bridge.outbox": "bridge.delivery.outbox",
    "bridge.dead_letter": "bridge.delivery.dead_letter",
    "bridge.faults": "bridge.delivery.faults",
    "bridge.settling": "bridge.delivery.settling",
    "bridge.replay": "bridge.delivery.replay",
    "bridge.breaker_probe": "bridge.delivery.breaker_probe",
    "bridge.watchdog": "bridge.delivery.watchdog",
    # citizens: the store, the chat desk, linking, replies, dossiers' latest state
    "bridge.citizen_store": "bridge.citizens.store",
    "bridge.citizen_desk": "bridge.citizens.desk",
    "bridge.citizen_services": "bridge.citizens.services",
    "bridge.citizen_text": "bridge.citizens.text",
    "bridge.second_factor": "bridge.citizens.second_factor",
    "bridge.receipt_qr": "bridge.citizens.receipt_qr",
    "bridge.replies": "bridge.citizens.replies",
    "bridge.dossiers": "bridge.citizens.dossiers",
    "bridge.state_recorder": "bridge.citizens.state_recorder",
    "bridge.link_guard": "bridge.citizens.link_guard",
    # webhook: the endpoint, the OA events, the durable inbox
    "bridge.webhook": "bridge.webhook.endpoint",
    "bridge.webhook_events": "bridge.webhook.events",
    "bridge.webhook_inbox_store": "bridge.webhook.inbox",
    # quiet hours: the window (pure), holding and releasing, the store of held records
    "bridge.quiet_hours": "bridge.quiet_hours.window",
    "bridge.holding": "bridge.quiet_hours.holding",
    "bridge.hold_store": "bridge.quiet_hours.store",
    # templates, with their preview
    "bridge.preview": "bridge.templates.preview",
    # zalo: the OA's tokens are Zalo's business, not generic persistence
    "bridge.store.tokens": "bridge.zalo.token_store",
    "bridge.store.token_cipher": "bridge.zalo.token_cipher",
    # the command line, one module per command group
    "bridge.cli": "bridge.cli.main",
    "bridge.cli_announce": "bridge.cli.announce",
    "bridge.cli_citizens": "bridge.cli.citizens",
    "bridge.cli_dlq": "bridge.cli.dlq",
    "bridge.cli_options": "bridge.cli.options",
    "bridge.cli_templates": "bridge.cli.templates",
    "bridge.cli_zalo": "bridge.cli.zalo",
    # observability: logs, masking, metrics
    "bridge.logs": "bridge.observability.logs",
    "bridge.masking": "bridge.observability.masking",
    "bridge.metrics": "bridge.observability.metrics",
}

# Data files that moved with their module (paths under src/).
FILES: dict[str, str] = {
    "bridge/preview.html": "bridge/templates/preview.html",
}

# Packages the move creates, with the docstring of their ``__init__``.
PACKAGES: dict[str, str] = {
    "bridge.kafka": '"""Kafka plumbing every wing shares: connection settings and security."""\n',
    "bridge.delivery": (
        '"""Case-state events to citizens: consume, dispatch, deliver once, settle, dead-letter."""'
        "\n"
    ),
    "bridge.citizens": (
        '"""Citizens in the OA chat: links to dossiers, lookups, replies, receipts, retention."""\n'
    ),
    "bridge.webhook": (
        '"""The OA webhook: verified events stored durably, then handed to the chat desk."""\n'
    ),
    "bridge.quiet_hours": (
        '"""Quiet hours: hold non-urgent notifications at night, release them in the morning."""\n'
    ),
    "bridge.cli": (
        '"""The ``zalo-bridge`` command line, one module per command group."""\n\n'
        "from bridge.cli.main import main\n\n"
        '__all__ = ["main"]\n'
    ),
    "bridge.observability": (
        '"""What operators see of a running bridge: logs, masked personal data, metrics."""\n'
    ),
}

# Test files, into the folders of their wings (one-time; ``relayout.py move-tests``).
_UNIT = {
    "announcements": ["test_announcement_contract"],
    "delivery": [
        "test_cascade",
        "test_cascade_settings_and_status",
        "test_dead_letter",
        "test_delivery",
        "test_delivery_cascade",
        "test_dispatch",
        "test_flow",
        "test_pacing",
        "test_replay_selection",
    ],
    "citizens": [
        "test_citizen_desk",
        "test_citizen_settings",
        "test_citizen_text",
        "test_purge_loop",
        "test_replies",
        "test_second_factor",
        "test_state_recorder",
    ],
    "cli": ["test_cli", "test_cli_citizens", "test_cli_zalo"],
    "kafka": ["test_kafka_security"],
    "observability": ["test_masking", "test_metrics"],
    "quiet_hours": ["test_quiet_hours"],
    "store": ["test_sqlite_lock_waits", "test_sqlite_reads", "test_store_errors"],
    "templates": ["test_mapping", "test_preview", "test_templates"],
    "webhook": ["test_webhook_events", "test_webhook_inbox"],
    "zalo": ["test_tokens", "test_zalo_client", "test_zalo_client_templates"],
    "": [
        "test_events",
        "test_feature_metrics",
        "test_runtime_drain",
        "test_schemas",
        "test_settings",
    ],
}
_INTEGRATION = {
    "announcements": ["test_announcement_fanout", "test_announcements_on_kafka"],
    "delivery": [
        "test_cascade_ledgers",
        "test_cascade_on_kafka",
        "test_delivery_on_kafka",
        "test_dlq_replay",
        "test_guarantees_on_kafka",
        "test_ledger",
    ],
    "citizens": ["test_citizen_flow", "test_citizen_store"],
    "kafka": ["test_kafka_sasl"],
    "observability": ["test_metrics_endpoint"],
    "quiet_hours": ["test_holds", "test_quiet_hours_on_kafka"],
    "webhook": ["test_webhook_durability", "test_webhook_http", "test_webhook_inbox_store"],
    "zalo": ["test_token_lifecycle"],
}
TESTS: dict[str, str] = {
    **{
        f"tests/unit/{name}.py": f"tests/{wing}/{name}.py".replace("//", "/")
        for wing, names in _UNIT.items()
        for name in names
    },
    **{
        f"tests/integration/{name}.py": f"tests/{wing}/{name}.py"
        for wing, names in _INTEGRATION.items()
        for name in names
    },
    "tests/preview/test_preview_page.py": "tests/templates/test_preview_page.py",
    # the fixtures of both folders, shared by every wing (tests/conftest.py loads them)
    "tests/unit/conftest.py": "tests/use_case_fixtures.py",
    "tests/integration/conftest.py": "tests/service_fixtures.py",
}

# Names that left their module in the re-cut after the move: (new module, name) -> new module.
# Applied after MODULES, to ``from MODULE import NAME`` lines.
NAMES: dict[tuple[str, str], str] = {
    # the circle wording (mapping) <-> templates: the package's renderer lives with the templates
    ("bridge.wording", "BuiltinRenderer"): "bridge.templates",
    ("bridge.wording", "render_message"): "bridge.templates",
    ("bridge.templates.registry", "load_registry"): "bridge.templates.renderer",
    # store/ keeps generic persistence only: the ledger's factory goes to delivery
    ("bridge.store", "open_ledger"): "bridge.delivery.ledger_stores",
    ("bridge.delivery.sqlite_ledger", "LOCK_WAIT_SECONDS"): "bridge.store.sqlite_locks",
    ("bridge.delivery.sqlite_ledger", "is_busy"): "bridge.store.sqlite_locks",
    # the record types delivery takes and gives, apart from the use case
    ("bridge.delivery.deliverer", "DeliveryOutcome"): "bridge.delivery.records",
    ("bridge.delivery.deliverer", "InboundRecord"): "bridge.delivery.records",
    # each wing owns its settings section; bridge.settings composes them
    ("bridge.settings", "AnnouncementSettings"): "bridge.announcements.settings",
    ("bridge.settings", "CascadeChannel"): "bridge.delivery.settings",
    ("bridge.settings", "CascadeRoute"): "bridge.delivery.settings",
    ("bridge.settings", "CascadeSettings"): "bridge.delivery.settings",
    ("bridge.settings", "DeliverySettings"): "bridge.delivery.settings",
    ("bridge.settings", "KafkaSettings"): "bridge.kafka.settings",
    ("bridge.settings", "LinkingSettings"): "bridge.citizens.settings",
    ("bridge.settings", "LogSettings"): "bridge.observability.settings",
    ("bridge.settings", "ProvinceSettings"): "bridge.wording",
    ("bridge.settings", "QuietHoursSettings"): "bridge.quiet_hours.settings",
    ("bridge.settings", "RetentionSettings"): "bridge.citizens.settings",
    ("bridge.settings", "StoreSettings"): "bridge.store.settings",
    ("bridge.settings", "TemplateSettings"): "bridge.templates.settings",
    ("bridge.settings", "WebhookSettings"): "bridge.webhook.settings",
    ("bridge.settings", "ZaloSettings"): "bridge.zalo.settings",
}

# Modules of the old layout that were cut up after the move (no single new home):
# bridge.feature_metrics: watch_features became one watcher per wing, called by app.py
# (zalo.metrics.watch_tokens, quiet_hours.metrics.watch_quiet_hours,
# announcements.metrics.watch_announcements, citizens.metrics.watch_citizens); its helpers are
# observability.metrics.with_zeros, flag and Snapshot.
