"""The Helm chart: lint, Kubernetes schemas, probes, security, secrets, names per province."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_support import (
    CHART,
    CRD_SCHEMAS,
    KUBERNETES_VERSIONS,
    PROVINCES,
    REPO,
    VALUES_FILES,
    ChartTools,
    Helm,
    Rendered,
    documents,
    release_for,
    values_id,
)

from bridge.settings import Settings, load_settings

BY_FILE = pytest.mark.parametrize("values_file", VALUES_FILES, ids=values_id)
DEFAULT_CI = CHART / "ci" / "default-values.yaml"


def _schema_tool() -> Any:
    spec = importlib.util.spec_from_file_location(
        "values_schema", REPO / "deploy" / "helm" / "values_schema.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _validate(tools: ChartTools, *files: Path) -> subprocess.CompletedProcess[str]:
    versions = [arg for v in KUBERNETES_VERSIONS for arg in ("--kubernetes-version", v)]
    return subprocess.run(  # noqa: S603 - the pinned validator, our files
        [
            str(tools.validator_python),
            str(Path(__file__).with_name("validate_manifests.py")),
            *versions,
            "--crd-schemas",
            str(CRD_SCHEMAS),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


# ---------------------------------------------------------------- tools, lint and schemas


def test_helm_is_the_pinned_helm_3_release(helm):
    done = helm.run("version", "--short")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("v3.22.0")


@BY_FILE
def test_helm_lint_strict_passes(helm, values_file):
    done = helm.run("lint", "--strict", CHART, "--values", values_file)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def test_every_rendered_manifest_matches_the_kubernetes_and_crd_schemas(chart_tools, rendered):
    done = _validate(chart_tools, *(r.path for r in rendered.values()))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_the_schema_validation_catches_what_kubernetes_would_refuse(
    chart_tools, rendered, tmp_path
):
    keda = rendered[CHART / "ci" / "keda-values.yaml"]
    breakages = {  # kind -> a change the API server would refuse
        "Deployment": {"replicas": "two"},
        "ScaledObject": {"maxReplicaCount": "six"},
        "Service": {"selectorr": {}},
    }
    broken = [
        {**r, "spec": {**r["spec"], **breakages.get(r["kind"], {})}} if "spec" in r else r
        for r in keda.resources
    ]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(broken), encoding="utf-8")
    done = _validate(chart_tools, path)
    assert done.returncode == 1
    problems = [json.loads(line) for line in done.stdout.splitlines()]
    assert {p["resource"].split("/")[0] for p in problems} == {
        "Deployment",
        "ScaledObject",
        "Service",
    }


def test_values_schema_config_part_is_generated_from_the_settings():
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(REPO / "deploy" / "helm" / "values_schema.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_values_schema_has_no_place_for_secret_settings():
    config = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))["properties"][
        "config"
    ]
    secret_fields = {
        (section, key)
        for section, schema in Settings.model_json_schema()["$defs"].items()
        for key, field in schema["properties"].items()
        if any(o.get("format") == "password" for o in field.get("anyOf", [field]))
    }
    assert secret_fields  # the settings have secrets, and none of them can go in the ConfigMap
    by_class = {
        field.annotation.__name__: name
        for name, field in Settings.model_fields.items()
        if field.annotation is not None
    }
    announced = {  # secret settings other work adds (the chart's secret table maps them)
        ("kafka", "sasl_password"),
        ("zalo", "app_secret"),
        ("zalo", "token_encryption_key"),
        ("webhook", "oa_secret_key"),
    }
    for section, key in {(by_class[c], k) for c, k in secret_fields} | announced:
        assert key not in config["properties"].get(section, {}).get("properties", {}), key


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("replicaCount: two", "at '/replicaCount': got string, want integer"),
        ("replicaz: 2", "additional properties 'replicaz' not allowed"),
        ("config: {kafka: {input_topik: x}}", "at '/config/kafka': additional properties"),
        ("config: {kafka: {security_protocol: SASL}}", "/config/kafka/security_protocol"),
        ("config: {store: {url: 'postgresql://u:p@db/b'}}", "'url' not allowed"),
        ("config: {zalo: {access_token: t}}", "'access_token' not allowed"),
        ("image: {pullPolicy: Sometimes}", "/image/pullPolicy"),
        ("securityContext: {readOnlyRootFilesystem: false}", "/securityContext"),
        ("podSecurityContext: {runAsNonRoot: false}", "/podSecurityContext/runAsNonRoot"),
    ],
    ids=lambda value: value.split(":")[0] if ":" in value else value,
)
def test_bad_values_fail_helm_lint_with_a_message_naming_the_key(helm, tmp_path, override, message):
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(override, encoding="utf-8")
    done = helm.run("lint", "--strict", CHART, "--values", DEFAULT_CI, "--values", bad)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["autoscaling.enabled=true", "keda.enabled=true"], "are exclusive"),
        (["persistence.enabled=true", "replicaCount=2"], "one replica only"),
        (["terminationGracePeriodSeconds=20"], "shorter than"),
        (["secrets.values.databaseUrl="], "secrets.values.databaseUrl is required"),
    ],
    ids=["hpa-and-keda", "sqlite-two-replicas", "grace-too-short", "missing-secret"],
)
def test_inconsistent_values_fail_the_render(helm, sets, message):
    done = helm.try_template("r", DEFAULT_CI, sets=sets)
    assert done.returncode != 0
    assert message in done.stderr


# ---------------------------------------------------------------- what every release gets


@BY_FILE
def test_probes_use_the_health_endpoints_on_the_http_port(rendered, values_file):
    container = rendered[values_file].container
    paths = {
        probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {
        "startupProbe": ("/health/live", "http"),
        "livenessProbe": ("/health/live", "http"),
        "readinessProbe": ("/health/ready", "http"),
    }
    assert container["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
    ]


@BY_FILE
def test_pods_run_as_non_root_with_a_read_only_root_and_no_capabilities(rendered, values_file):
    release = rendered[values_file]
    pod, container = release.pod_spec, release.container
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {"/tmp", "/var/lib/zalo-bridge"}  # noqa: S108 - the pod's scratch volume


@BY_FILE
def test_no_secret_reaches_a_config_map(rendered, values_file):
    release = rendered[values_file]
    secret_paths = [
        tuple(part.lower() for part in env["name"].removeprefix("BRIDGE_").split("__"))
        for env in release.container["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    ]
    assert ("store", "url") in secret_paths
    settings = release.settings
    for section, key in secret_paths:
        assert key not in settings.get(section, {}), f"{section}.{key} in the ConfigMap"
    secret_values = [
        v for v in (release.values.get("secrets", {}).get("values") or {}).values() if v
    ]
    for config_map in release.of_kind("ConfigMap"):
        text = yaml.safe_dump(config_map["data"], allow_unicode=True)
        assert not [v for v in secret_values if v in text]
        assert not re.search(r"password|secret|token", text, re.IGNORECASE), text


@BY_FILE
def test_secret_environment_comes_from_the_release_secret(rendered, values_file):
    release = rendered[values_file]
    values = release.values.get("secrets", {})
    refs = {
        env["name"]: env["valueFrom"]["secretKeyRef"]
        for env in release.container["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    expected_name = (
        values.get("existingSecret") or f"{release.one('Deployment')['metadata']['name']}-secrets"
    )
    assert {ref["name"] for ref in refs.values()} == {expected_name}
    required = {name for name, ref in refs.items() if not ref.get("optional")}
    assert required == {
        "BRIDGE_ZALO__APP_SECRET",
        "BRIDGE_WEBHOOK__OA_SECRET_KEY",
        "BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY",
        "BRIDGE_STORE__URL",
    }
    secrets = release.of_kind("Secret")
    if values.get("existingSecret"):
        assert secrets == []
    else:
        (secret,) = secrets
        assert {ref["key"] for ref in refs.values()} == set(secret["data"])


def _secret_settings(release: Rendered) -> dict[str, dict[str, str]]:
    """Stand-ins for the secret variables the pod gets, for the settings this tree defines."""
    samples = {
        ("store", "url"): "sqlite:///ledger.sqlite3",
        ("zalo", "token_encryption_key"): "Y2ktdG9rZW4tZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
    }
    overrides: dict[str, dict[str, str]] = {}
    for env in release.container["env"]:
        if "secretKeyRef" not in env.get("valueFrom", {}):
            continue
        section, key = (p.lower() for p in env["name"].removeprefix("BRIDGE_").split("__"))
        model = Settings.model_fields.get(section)
        if model is not None and key in model.annotation.model_fields:
            overrides.setdefault(section, {})[key] = samples.get((section, key), "ci-secret")
    return overrides


@BY_FILE
def test_the_rendered_settings_file_is_accepted_by_bridge(rendered, values_file, tmp_path):
    settings = rendered[values_file].settings
    pending = _schema_tool().PENDING
    for section, spec in pending.items():
        known = (
            Settings.model_fields[section].annotation.model_fields
            if section in Settings.model_fields
            else {}
        )
        for key in spec["properties"]:
            if key not in known:
                settings.get(section, {}).pop(key, None)  # lands with other work; see values_schema
        if section in settings and not settings[section] and section not in Settings.model_fields:
            del settings[section]
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        mounted = settings.get("kafka", {}).get(key)
        if mounted:
            # The chart mounts these from a Secret; bridge checks the files exist at start.
            assert mounted.startswith("/etc/zalo-bridge/")
            stand_in = tmp_path / key
            stand_in.write_text("stand-in for " + mounted, encoding="utf-8")
            settings["kafka"][key] = str(stand_in)
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    loaded = load_settings(path, **_secret_settings(rendered[values_file]))
    assert loaded.kafka.consumer_group == settings.get("kafka", {}).get(
        "consumer_group", "zalo-bridge"
    )
    assert loaded.store.url.get_secret_value() == "sqlite:///ledger.sqlite3"


@BY_FILE
def test_shutdown_waits_longer_than_the_drain(rendered, values_file):
    release = rendered[values_file]
    lease = release.settings.get("delivery", {}).get("lease_seconds", 30)
    pre_stop = release.container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert release.pod_spec["terminationGracePeriodSeconds"] >= lease + int(pre_stop[1])


@BY_FILE
def test_service_pdb_and_network_policy_select_this_release_only(rendered, values_file):
    release = rendered[values_file]
    pod_labels = release.one("Deployment")["spec"]["template"]["metadata"]["labels"]
    selector = release.one("Deployment")["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "zalo-bridge",
        "app.kubernetes.io/instance": release.release,
    }
    assert selector.items() <= pod_labels.items()
    service = release.one("Service")
    assert service["spec"]["selector"] == selector
    assert {p["name"] for p in service["spec"]["ports"]} == {"http", "metrics"}
    assert release.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    policy = release.one("NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"] == selector
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


@BY_FILE
def test_egress_goes_only_to_dns_kafka_the_database_and_zalo(rendered, values_file):
    release = rendered[values_file]
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    overrides = release.values.get("networkPolicy", {})
    database = overrides.get("database", {}).get("to") or []
    ports = [
        sorted({(p["port"], p["protocol"]) for p in rule["ports"]})
        for rule in release.one("NetworkPolicy")["spec"]["egress"]
    ]
    kafka = sorted({(p, "TCP") for p in values["networkPolicy"]["kafka"]["ports"]})
    expected = [[(53, "TCP"), (53, "UDP")], kafka]
    expected += [[(5432, "TCP")]] if database else []
    expected += [[(443, "TCP")]]
    assert ports == expected
    zalo = release.one("NetworkPolicy")["spec"]["egress"][-1]["to"]
    assert all("10.0.0.0/8" in peer["ipBlock"]["except"] for peer in zalo)


# ---------------------------------------------------------------- provinces


def test_at_least_four_provinces_each_with_sasl_ssl_and_its_own_names(rendered):
    assert len(PROVINCES) >= 4
    for path in PROVINCES:
        settings = rendered[path].settings
        slug = path.stem
        assert settings["province"]["slug"] == slug
        assert settings["kafka"]["security_protocol"] == "SASL_SSL"
        assert settings["kafka"]["ssl_cafile"] == "/etc/zalo-bridge/kafka-ca/ca.crt"
        assert slug in settings["kafka"]["consumer_group"]
        assert slug in settings["kafka"]["input_topic"]
        assert settings["zalo"]["oa_id"].isdigit()
        assert set(settings["quiet_hours"]) == {"start", "end", "urgent_states"}
        assert settings["delivery"]["rate_limit_per_minute"] > 0
        assert rendered[path].values["secrets"]["existingSecret"].endswith(slug + "-credentials")


def test_two_provinces_in_one_namespace_do_not_collide(rendered):
    releases = [rendered[path] for path in PROVINCES]
    seen: dict[tuple[str, str], str] = {}
    for release in releases:
        for resource in release.resources:
            key = (resource["kind"], resource["metadata"]["name"])
            assert key not in seen, f"{key} in {seen.get(key)} and {release.release}"
            seen[key] = release.release
    for field in ("consumer_group", "client_id", "input_topic", "dead_letter_topic"):
        names = [r.settings["kafka"][field] for r in releases]
        assert len(set(names)) == len(names), field
    secrets = {r.values["secrets"]["existingSecret"] for r in releases}
    assert len(secrets) == len(releases)
    for release in releases:
        selector = release.one("Deployment")["spec"]["selector"]["matchLabels"]
        for other in releases:
            labels = other.one("Deployment")["spec"]["template"]["metadata"]["labels"]
            assert (selector.items() <= labels.items()) == (other is release)


def test_the_same_province_file_installed_twice_gets_two_sets_of_names(helm):
    first = documents(helm.template("bridge-thanh-hoa", PROVINCES[0]))
    second = documents(helm.template("bridge-thanh-hoa-canary", PROVINCES[0]))
    names = {(r["kind"], r["metadata"]["name"]) for r in first}
    assert not names & {(r["kind"], r["metadata"]["name"]) for r in second}


def test_message_templates_are_mounted_where_the_settings_say(rendered):
    with_templates = [p for p in PROVINCES if rendered[p].values.get("messageTemplates")]
    assert with_templates
    for path in with_templates:
        release = rendered[path]
        config_map = release.one("ConfigMap", "-templates")
        assert set(config_map["data"]) == set(release.values["messageTemplates"])
        directory = release.settings["templates"]["directory"]
        mounts = {m["name"]: m["mountPath"] for m in release.container["volumeMounts"]}
        assert mounts["templates"] == directory
        annotations = release.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
        assert {"checksum/config", "checksum/templates"} <= set(annotations)  # edits roll the pods


def test_keda_scales_on_the_lag_of_bridges_group_with_its_credentials(rendered):
    release = rendered[CHART / "provinces" / "ha-noi.yaml"]
    scaled = release.one("ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    kafka = release.settings["kafka"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == kafka["consumer_group"]
    assert trigger["metadata"]["topic"] == kafka["input_topic"]
    assert trigger["metadata"]["sasl"] == "scram_sha512"
    assert trigger["metadata"]["tls"] == "enable"
    auth = release.one("TriggerAuthentication")
    assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {
        "username",
        "password",
        "ca",
    }
    assert "replicas" not in release.one("Deployment")["spec"]
    assert release.of_kind("HorizontalPodAutoscaler") == []


def test_optional_resources_appear_only_when_switched_on(rendered):
    kinds = {path.name: {r["kind"] for r in rendered[path].resources} for path in VALUES_FILES}
    optional = {"Ingress", "HorizontalPodAutoscaler", "ScaledObject", "ServiceMonitor", "Pod"}
    assert not kinds["default-values.yaml"] & optional
    assert "Ingress" in kinds["webhook-ingress-values.yaml"]
    assert "HorizontalPodAutoscaler" in kinds["hpa-values.yaml"]
    assert "ServiceMonitor" in kinds["servicemonitor-values.yaml"]
    assert "PersistentVolumeClaim" in kinds["sqlite-persistence-values.yaml"]
    assert "Pod" in kinds["test-framework-values.yaml"]


def test_the_helm_test_pod_is_a_hook_the_service_does_not_select(rendered):
    release = rendered[CHART / "ci" / "test-framework-values.yaml"]
    pod = release.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test-success"
    selector = release.one("Service")["spec"]["selector"]
    assert not selector.items() <= pod["metadata"]["labels"].items()
    assert "/health/ready" in pod["spec"]["containers"][0]["args"][0]
    policy_from = release.one("NetworkPolicy")["spec"]["ingress"][0]["from"]
    assert {"app.kubernetes.io/component": "helm-test"}.items() <= policy_from[-1]["podSelector"][
        "matchLabels"
    ].items()


def test_ingress_publishes_only_the_webhook(rendered):
    ingress = rendered[CHART / "ci" / "webhook-ingress-values.yaml"].one("Ingress")
    (rule,) = ingress["spec"]["rules"]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/webhook/zalo"]


# ---------------------------------------------------------------- documentation


def _param_lines() -> list[str]:
    text = (CHART / "values.yaml").read_text(encoding="utf-8")
    return re.findall(r"^\s*## @param (\S+) ", text, re.MULTILINE)


def _leaf_paths(node: Any, prefix: str = "") -> list[str]:
    if not isinstance(node, dict) or not node:
        return [prefix.rstrip(".")]
    return [leaf for key, value in node.items() for leaf in _leaf_paths(value, f"{prefix}{key}.")]


def test_every_values_key_is_documented_and_in_the_schema():
    documented = _param_lines()
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    for path in _leaf_paths(values):
        parts = path.split(".")
        assert any(".".join(parts[:n]) in documented for n in range(1, len(parts) + 1)), path
    for path in documented:
        node = schema
        for part in path.split("."):
            node = node["properties"][part]
        assert node.get("description") or "$ref" in node, path


def test_the_readme_values_table_lists_every_parameter():
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    for path in _param_lines():
        assert f"| `{path}` |" in readme, path


def test_release_names_fit_kubernetes_limits(helm):
    long_release = "bridge-" + "x" * 45
    for resource in documents(helm.template(long_release, PROVINCES[0])):
        assert len(resource["metadata"]["name"]) <= 63
    assert release_for(PROVINCES[0]) == f"bridge-{PROVINCES[0].stem}"


def test_render_is_refused_for_a_kubernetes_older_than_supported(helm: Helm):
    done = helm.run("template", "r", CHART, "--values", DEFAULT_CI, "--kube-version", "1.27.0")
    assert done.returncode != 0
    assert "kubeVersion" in done.stderr


def test_rendered_fixture_covers_every_values_file(rendered: dict[Path, Rendered]):
    assert set(rendered) == set(VALUES_FILES)
