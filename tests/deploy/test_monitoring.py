"""What operators see: the chart's Grafana dashboard and PrometheusRule, checked by promtool."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import CHART, NAMESPACE, ChartTools, Rendered, documents

MONITORING = CHART / "ci" / "monitoring-values.yaml"
PROMTOOL_TESTS = Path(__file__).resolve().parent / "promtool" / "alerts.test.yaml"
DASHBOARD = CHART / "dashboards" / "zalo-bridge.json"
PROMETHEUS_VERSION = "3.16.0"
ALERTS = {
    "ZaloBridgeConsumerLagGrowing",
    "ZaloBridgeDeliveryStalled",
    "ZaloBridgeRecordStuck",
    "ZaloBridgeDeadLettersSpike",
    "ZaloBridgeCircuitBreakerOpen",
    "ZaloBridgeTokenExpiring",
    "ZaloBridgeTokenRefreshFailing",
    "ZaloBridgeTokenUnusable",
    "ZaloBridgeWebhookFailing",
    "ZaloBridgeWebhookEventsFailed",
}


def _promtool(tools: ChartTools, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the pinned promtool, our files
        [str(tools.promtool), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def _rules(resources: list[dict[str, Any]]) -> dict[str, Any]:
    (rule,) = [r for r in resources if r["kind"] == "PrometheusRule"]
    return {"groups": copy.deepcopy(rule["spec"]["groups"])}  # never the shared render's


def _alerts(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for group in rules["groups"] for r in group["rules"]}


def _write_rules(rules: dict[str, Any], directory: Path) -> Path:
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def monitoring(rendered: dict[Path, Rendered]) -> Rendered:
    return rendered[MONITORING]


# ---------------------------------------------------------------- promtool


def test_promtool_is_the_pinned_release(chart_tools):
    done = _promtool(chart_tools, "--version", cwd=Path.cwd())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"promtool, version {PROMETHEUS_VERSION} ")


def test_the_rendered_rules_pass_promtool_check(chart_tools, monitoring, tmp_path):
    rules = _rules(monitoring.resources)
    assert set(_alerts(rules)) == ALERTS
    path = _write_rules(rules, tmp_path)
    done = _promtool(chart_tools, "check", "rules", path, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in done.stdout


def test_promtool_catches_a_broken_rule(chart_tools, monitoring, tmp_path):
    """The check is real: a rule promtool must refuse is refused."""
    rules = _rules(monitoring.resources)
    rules["groups"][0]["rules"][0]["expr"] = "sum by (topic (zalo_bridge_consumer_lag)"
    done = _promtool(chart_tools, "check", "rules", _write_rules(rules, tmp_path), cwd=tmp_path)
    assert done.returncode != 0
    assert "parse error" in done.stdout + done.stderr


def test_each_alert_fires_and_stays_silent_in_promtool_unit_tests(
    chart_tools, monitoring, tmp_path
):
    _write_rules(_rules(monitoring.resources), tmp_path)
    shutil.copy(PROMTOOL_TESTS, tmp_path / PROMTOOL_TESTS.name)
    done = _promtool(chart_tools, "test", "rules", PROMTOOL_TESTS.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    cases = yaml.safe_load(PROMTOOL_TESTS.read_text(encoding="utf-8"))["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    firing = {c["alertname"] for c in checks if c["exp_alerts"]}
    silent = {c["alertname"] for c in checks if not c["exp_alerts"]}
    assert firing == ALERTS
    assert silent == ALERTS


def test_the_unit_tests_fail_when_a_threshold_changes(chart_tools, helm, tmp_path):
    """promtool's tests hold the default thresholds: rendering another one breaks them."""
    text = helm.template(
        "ci-monitoring", MONITORING, sets=["prometheusRule.thresholds.deadLetters=20"]
    )
    _write_rules(_rules(documents(text)), tmp_path)
    shutil.copy(PROMTOOL_TESTS, tmp_path / PROMTOOL_TESTS.name)
    done = _promtool(chart_tools, "test", "rules", PROMTOOL_TESTS.name, cwd=tmp_path)
    assert done.returncode != 0
    assert "ZaloBridgeDeadLettersSpike" in done.stdout + done.stderr


# ---------------------------------------------------------------- the rule's values


THRESHOLDS = {
    "lagRecords": ("2500", "ZaloBridgeConsumerLagGrowing", "> 2500"),
    "lagGrowingFor": ("30m", "ZaloBridgeConsumerLagGrowing", "[30m]"),
    "stuckRecordSeconds": ("1800", "ZaloBridgeRecordStuck", "> 1800"),
    "breakerOpenFor": ("25m", "ZaloBridgeCircuitBreakerOpen", None),
    "accessTokenExpirySeconds": ("7200", "ZaloBridgeTokenExpiring", "< 7200"),
    "refreshTokenExpirySeconds": ("2592000", "ZaloBridgeTokenExpiring", "< 2592000"),
    "tokenRefreshFailingFor": ("45m", "ZaloBridgeTokenRefreshFailing", None),
    "deadLetters": ("3", "ZaloBridgeDeadLettersSpike", "> 3"),
    "deadLetterWindow": ("1h", "ZaloBridgeDeadLettersSpike", "[1h]"),
    "webhookFailures": ("50", "ZaloBridgeWebhookFailing", "> 50"),
    "webhookWindow": ("30m", "ZaloBridgeWebhookFailing", "[30m]"),
}


def test_every_threshold_is_a_value_that_reaches_its_rule(chart_tools, helm, tmp_path):
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert set(values["prometheusRule"]["thresholds"]) == set(THRESHOLDS)
    sets = [f"prometheusRule.thresholds.{k}={v}" for k, (v, _, _) in THRESHOLDS.items()]
    alerts = _alerts(_rules(documents(helm.template("ci-monitoring", MONITORING, sets=sets))))
    for key, (value, alert, in_expr) in THRESHOLDS.items():
        rule = alerts[alert]
        if in_expr is None:
            assert rule["for"] == value, key
        else:
            assert in_expr in rule["expr"], key
    rules = _rules(documents(helm.template("ci-monitoring", MONITORING, sets=sets)))
    done = _promtool(chart_tools, "check", "rules", _write_rules(rules, tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rules_select_only_this_releases_series(helm, monitoring):
    for alert, rule in _alerts(_rules(monitoring.resources)).items():
        for selector in re.findall(r"zalo_bridge_\w+\{([^}]*)\}", rule["expr"]):
            assert selector.startswith(
                f'namespace="{NAMESPACE}",job="ci-monitoring-zalo-bridge"'
            ), alert
    custom = 'namespace="bridge",service="bridge-metrics"'
    escaped = custom.replace(",", "\\,")  # --set splits at commas
    text = helm.template("r", MONITORING, sets=[f"prometheusRule.metricSelector={escaped}"])
    for rule in _alerts(_rules(documents(text))).values():
        assert all(s.startswith(custom) for s in re.findall(r"\{([^}]*)\}", rule["expr"]))


def test_the_rule_object_carries_the_selector_labels_and_each_alert_its_severity(monitoring):
    (rule,) = monitoring.of_kind("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for alert in _alerts(_rules(monitoring.resources)).values():
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["labels"]["team"] == "one-stop-shop"
        assert alert["annotations"]["summary"]
        assert alert["annotations"]["description"]


def test_two_releases_in_one_namespace_get_groups_of_their_own(helm):
    names = [
        {g["name"] for g in _rules(documents(helm.template(release, MONITORING)))["groups"]}
        for release in ("bridge-thanh-hoa", "bridge-ha-noi")
    ]
    assert not names[0] & names[1]


# ---------------------------------------------------------------- the dashboard


def test_the_dashboard_is_a_config_map_for_the_grafana_sidecar(monitoring):
    (config_map,) = [
        r for r in monitoring.of_kind("ConfigMap") if r["metadata"]["name"].endswith("-dashboard")
    ]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "One-stop-shop"}
    (name,) = config_map["data"]
    assert name.endswith(".json")
    shipped = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert json.loads(config_map["data"][name]) == shipped


def test_the_dashboard_label_and_namespace_are_values(helm):
    text = helm.template(
        "r",
        MONITORING,
        sets=[
            "grafanaDashboard.labels.grafana_dashboard=null",
            "grafanaDashboard.labels.dashboards=bridge",
            "grafanaDashboard.namespace=monitoring",
        ],
    )
    (config_map,) = [
        r
        for r in documents(text)
        if r["kind"] == "ConfigMap" and r["metadata"]["name"].endswith("-dashboard")
    ]
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["dashboards"] == "bridge"
    assert "grafana_dashboard" not in config_map["metadata"]["labels"]


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_the_dashboard_shows_what_operators_asked_for():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for p in _panels(dashboard) for t in p["targets"])
    for metric in (
        "zalo_bridge_consumer_lag",  # lag per partition
        "zalo_bridge_outcomes_total",  # outcomes by status and reason, DLQ rate
        "zalo_bridge_zalo_request_duration_seconds_bucket",  # Zalo latency
        "zalo_bridge_zalo_errors_total",  # Zalo errors
        "zalo_bridge_circuit_breaker_state",  # breaker
        "zalo_bridge_token_expiry_seconds",  # token expiry
        "zalo_bridge_held_records",  # held records
        "zalo_bridge_in_flight",  # replicas
    ):
        assert metric in exprs, metric
    assert 'status="dead_lettered"' in exprs
    assert "by (status, reason)" in exprs
    assert "by (topic, partition)" in exprs


def test_every_dashboard_query_uses_the_variables_and_the_data_source():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    names = {v["name"] for v in dashboard["templating"]["list"]}
    assert names == {"datasource", "namespace", "job"}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            for selector in re.findall(r"zalo_bridge_\w+\{([^}]*)\}", target["expr"]):
                assert selector.startswith('namespace="$namespace",job="$job"'), panel["title"]


def test_panels_do_not_overlap():
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    taken: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        box = panel["gridPos"]
        cells = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert box["x"] + box["w"] <= 24
        assert not cells & taken, panel["title"]
        taken |= cells


def test_the_crd_schema_refuses_what_the_operator_would(chart_tools, monitoring, tmp_path):
    (rule,) = copy.deepcopy(monitoring.of_kind("PrometheusRule"))
    first = rule["spec"]["groups"][0]["rules"][0]
    first["record"] = "zalo_bridge:lag:sum"  # a rule is an alert or a recording, not both
    rule["spec"]["groups"][1]["rules"][0]["for"] = "ten minutes"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(rule), encoding="utf-8")
    done = subprocess.run(  # noqa: S603 - the pinned validator, our files
        [
            str(chart_tools.validator_python),
            str(Path(__file__).with_name("validate_manifests.py")),
            "--kubernetes-version",
            "1.29",
            "--crd-schemas",
            str(Path(__file__).with_name("crd-schemas")),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    problems = [json.loads(line) for line in done.stdout.splitlines()]
    assert {p["against"] for p in problems} == {"prometheusrule-monitoring-v1.json"}
    assert len(problems) == 2
