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
from hypothesis import given
from hypothesis import strategies as st

from bridge.app import message_context
from bridge.errors import TemplateError
from bridge.settings import Settings, load_settings
from bridge.submissions import FormError, load_forms
from bridge.submissions import forms as form_files
from bridge.templates.renderer import template_renderer

BY_FILE = pytest.mark.parametrize("values_file", VALUES_FILES, ids=values_id)
DEFAULT_CI = CHART / "ci" / "default-values.yaml"
WITHOUT_FORMS = [
    path
    for path in VALUES_FILES
    if not (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("submissionForms")
]


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
        for key, field in schema.get("properties", {}).items()
        if any(o.get("format") == "password" for o in field.get("anyOf", [field]))
    }
    assert secret_fields  # the settings have secrets, and none of them can go in the ConfigMap
    by_class = {
        field.annotation.__name__: name
        for name, field in Settings.model_fields.items()
        if field.annotation is not None
    }
    mapped = {  # the secret settings the chart's secret table passes
        ("kafka", "sasl_password"),
        ("zalo", "app_secret"),
        ("zalo", "token_encryption_key"),
        ("webhook", "oa_secret_key"),
        ("webhook", "app_secret"),
        ("linking", "hmac_key"),
        ("store", "url"),
        ("objects", "access_key_id"),
        ("objects", "secret_access_key"),
        ("objects", "local_signing_key"),
    }
    assert mapped <= {(by_class[c], k) for c, k in secret_fields}
    for section, key in {(by_class[c], k) for c, k in secret_fields}:
        assert key not in config["properties"].get(section, {}).get("properties", {}), key


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("replicaCount: two", "at '/replicaCount': got string, want integer"),
        ("workers: 0", "at '/workers': minimum: got 0, want 1"),
        ("replicaz: 2", "additional properties 'replicaz' not allowed"),
        ("config: {kafka: {input_topik: x}}", "at '/config/kafka': additional properties"),
        ("config: {kafka: {security_protocol: SASL}}", "/config/kafka/security_protocol"),
        ("config: {store: {url: 'postgresql://u:p@db/b'}}", "'url' not allowed"),
        ("config: {zalo: {access_token: t}}", "'access_token' not allowed"),
        ("config: {linking: {hmac_key: k}}", "'hmac_key' not allowed"),
        ("config: {webhook: {oa_secret_key: k}}", "'oa_secret_key' not allowed"),
        ("config: {objects: {secret_access_key: k}}", "'secret_access_key' not allowed"),
        ("prometheusRule: {thresholds: {lagGrowingFor: soon}}", "/prometheusRule/thresholds"),
        ("grafanaDashboard: {enabled: yes-please}", "/grafanaDashboard/enabled"),
        ("messageTemplates: {footer.txt.j2: x}", "does not match pattern '^(messages|procedure-"),
        ("submissionForms: {khai-sinh.yaml: x}", "does not match pattern '^form-"),
        ("submissionForms: {form-1.001193.yaml.bak: x}", "does not match pattern '^form-"),
        ("submissionForms: {form-1.001193.yaml: ''}", "/submissionForms/form-1.001193.yaml"),
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
        (["persistence.existingClaim=data", "keda.enabled=true"], "one replica only"),
        (["terminationGracePeriodSeconds=20"], "shorter than"),
        (["secrets.values.databaseUrl="], "secrets.values.databaseUrl is required"),
        (["secrets.values.linkingHmacKey="], "secrets.values.linkingHmacKey is required"),
        (["config.zalo.app_id=null"], "config.zalo.app_id is required"),
        (["config.zalo.oa_id=null"], "config.zalo.oa_id is required"),
        (["config.webhook.oa_id=oa999"], "set config.zalo.oa_id only"),
        (
            ["config.kafka.security_protocol=SASL_SSL", "config.kafka.sasl_mechanism=PLAIN"],
            "secrets.values.kafkaSaslUsername is required",
        ),
        (["config.submissions.enabled=true"], "config.submissions.enabled keeps citizens'"),
        (
            [
                r"submissionForms.form-1\.001193\.yaml=code: x",
                "config.submissions.forms_directory=/srv/forms",
            ],
            "leave config.submissions.forms_directory unset",
        ),
    ],
    ids=[
        "hpa-and-keda",
        "sqlite-two-replicas",
        "existing-claim-with-keda",
        "grace-too-short",
        "missing-secret",
        "missing-hmac-key",
        "managed-tokens-without-app-id",
        "managed-tokens-without-oa-id",
        "webhook-oa-id-configured-twice",
        "sasl-without-credentials",
        "submissions-with-attachments-on-the-read-only-root",
        "forms-directory-configured-twice",
    ],
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
    persistent = release.values.get("persistence", {})
    # The data directory is writable only where it persists (a SQLite file elsewhere is lost).
    data = (
        {"/var/lib/zalo-bridge"}
        if persistent.get("enabled") or persistent.get("existingClaim")
        else set()
    )
    assert writable == {"/tmp"} | data  # noqa: S108 - the pod's scratch volume


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
        if config_map["metadata"]["name"].endswith("-dashboard"):
            continue  # queries only: its panels name the token metrics, never a value
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
    # One optional key: the survey's pseudonyms fall back to the linking key without it.
    assert [name for name, ref in refs.items() if ref.get("optional")] == (
        ["BRIDGE_FEEDBACK__PSEUDONYM_KEY"] if "BRIDGE_FEEDBACK__PSEUDONYM_KEY" in refs else []
    )
    expected = {
        "BRIDGE_STORE__URL": "database-url",
        "BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY": "token-encryption-key",
        "BRIDGE_ZALO__APP_SECRET": "zalo-app-secret",
        "BRIDGE_WEBHOOK__OA_SECRET_KEY": "zalo-oa-secret-key",
        "BRIDGE_LINKING__HMAC_KEY": "linking-hmac-key",
    }
    settings = release.settings
    if settings["webhook"].get("signature_variant", "app_id_oa_secret_key") in {
        "app_id_app_secret",
        "oa_id_app_secret",
        "any",
    }:
        expected["BRIDGE_WEBHOOK__APP_SECRET"] = "zalo-app-secret"  # one Secret key, two settings
    if settings.get("kafka", {}).get("security_protocol", "PLAINTEXT").startswith("SASL_"):
        expected["BRIDGE_KAFKA__SASL_USERNAME"] = "kafka-sasl-username"
        expected["BRIDGE_KAFKA__SASL_PASSWORD"] = "kafka-sasl-password"
    objects = settings.get("objects", {})
    if objects.get("backend") == "s3":
        expected["BRIDGE_OBJECTS__ACCESS_KEY_ID"] = "objects-access-key-id"
        expected["BRIDGE_OBJECTS__SECRET_ACCESS_KEY"] = "objects-secret-access-key"
    if objects.get("local_public_url"):
        expected["BRIDGE_OBJECTS__LOCAL_SIGNING_KEY"] = "objects-local-signing-key"
    if settings.get("feedback", {}).get("enabled") and (
        values.get("existingSecret") or (values.get("values") or {}).get("feedbackPseudonymKey")
    ):
        expected["BRIDGE_FEEDBACK__PSEUDONYM_KEY"] = "feedback-pseudonym-key"
    assert {name: ref["key"] for name, ref in refs.items()} == expected
    secrets = release.of_kind("Secret")
    if values.get("existingSecret"):
        assert secrets == []
    else:
        (secret,) = secrets
        assert {ref["key"] for ref in refs.values()} == set(secret["data"])


def _secret_settings(release: Rendered) -> dict[str, dict[str, str]]:
    """Stand-ins for the secret variables the pod gets (every one must be a real setting)."""
    samples = {
        ("store", "url"): "sqlite:///ledger.sqlite3",
        ("zalo", "token_encryption_key"): "Y2ktdG9rZW4tZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
        ("objects", "local_signing_key"): "ci-local-signing-key-of-at-least-32-chars",
    }
    overrides: dict[str, dict[str, str]] = {}
    for env in release.container["env"]:
        if "secretKeyRef" not in env.get("valueFrom", {}):
            continue
        section, key = (p.lower() for p in env["name"].removeprefix("BRIDGE_").split("__"))
        model = Settings.model_fields[section].annotation
        assert model is not None
        assert key in model.model_fields, env["name"]
        overrides.setdefault(section, {})[key] = samples.get((section, key), "ci-secret")
    return overrides


def _pod_settings(
    release: Rendered,
    tmp_path: Path,
    templates: Path | None = None,
    forms: Path | None = None,
) -> Settings:
    """The settings the pod starts with: its settings file, its secrets, stand-in mounted files."""
    settings = release.settings
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        mounted = settings.get("kafka", {}).get(key)
        if mounted:
            # The chart mounts these from a Secret; bridge checks the files exist at start.
            assert mounted.startswith("/etc/zalo-bridge/")
            stand_in = tmp_path / key
            stand_in.write_text("stand-in for " + mounted, encoding="utf-8")
            settings["kafka"][key] = str(stand_in)
    if templates is not None:
        settings["templates"]["directory"] = str(templates)
    if forms is not None:
        settings["submissions"]["forms_directory"] = str(forms)
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return load_settings(path, **_secret_settings(release))


@BY_FILE
def test_the_rendered_settings_file_is_accepted_by_bridge(rendered, values_file, tmp_path):
    release = rendered[values_file]
    settings = release.settings
    loaded = _pod_settings(release, tmp_path)
    assert loaded.kafka.consumer_group == settings.get("kafka", {}).get(
        "consumer_group", "zalo-bridge"
    )
    assert loaded.store.url.get_secret_value() == "sqlite:///ledger.sqlite3"
    # Managed tokens and the webhook are on; what they need is there, each id configured once.
    assert loaded.zalo.token_encryption_key is not None
    assert loaded.zalo.app_secret is not None
    assert loaded.webhook.enabled
    assert loaded.linking.hmac_key is not None
    assert (loaded.webhook.app_id, loaded.webhook.oa_id) == (loaded.zalo.app_id, loaded.zalo.oa_id)
    assert release.values["config"]["zalo"]["oa_id"] == loaded.zalo.oa_id
    assert not {"app_id", "oa_id"} & set(release.values["config"].get("webhook", {}))  # once only


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
    service = release.one("Service", "-zalo-bridge")
    assert service["spec"]["selector"] == selector
    assert {p["name"] for p in service["spec"]["ports"]} == {"http", "metrics"}
    assert release.one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    policy = release.one("NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"] == selector
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}


@BY_FILE
def test_egress_goes_only_to_dns_kafka_the_database_object_storage_and_zalo(rendered, values_file):
    release = rendered[values_file]
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    overrides = release.values.get("networkPolicy", {})
    database = overrides.get("database", {}).get("to") or []
    objects = overrides.get("objectStorage", {})
    ports = [
        sorted({(p["port"], p["protocol"]) for p in rule["ports"]})
        for rule in release.one("NetworkPolicy")["spec"]["egress"]
    ]
    kafka = sorted({(p, "TCP") for p in values["networkPolicy"]["kafka"]["ports"]})
    expected = [[(53, "TCP"), (53, "UDP")], kafka]
    expected += [[(5432, "TCP")]] if database else []
    if objects.get("to"):
        expected += [sorted({(p, "TCP") for p in objects.get("ports", [443])})]
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
        assert slug in settings["announcements"]["topic"]
        assert slug in settings["announcements"]["consumer_group"]
        quiet = settings["quiet_hours"]
        announcements = settings["announcements"]
        assert (announcements["quiet_start"], announcements["quiet_end"]) == (
            quiet["start"],
            quiet["end"],
        )
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
    for field in ("topic", "dead_letter_topic", "consumer_group"):
        names = [r.settings["announcements"][field] for r in releases]
        assert len(set(names)) == len(names), f"announcements.{field}"
    kafka_names = {
        r.settings["kafka"][f] for r in releases for f in ("input_topic", "consumer_group")
    }
    assert not kafka_names & {r.settings["announcements"]["topic"] for r in releases}
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


@pytest.mark.parametrize("values_file", PROVINCES, ids=values_id)
def test_province_templates_pass_the_apps_validation(rendered, values_file, tmp_path):
    """Each province's templates ConfigMap, written out as mounted, is what `run` accepts."""
    release = rendered[values_file]
    templates = tmp_path / "templates"
    templates.mkdir()
    files = release.values.get("messageTemplates") or {}
    if files:
        for name, text in release.one("ConfigMap", "-templates")["data"].items():
            (templates / name).write_text(text, encoding="utf-8")
    settings = _pod_settings(release, tmp_path, templates if files else None)
    registry = template_renderer(settings, message_context(settings)).registry
    assert registry.label == (settings.province.slug if files else "package")
    procedures = {
        name.removeprefix("procedure-").removesuffix(".yaml")
        for name in files
        if name.startswith("procedure-")
    }
    assert set(registry.procedures) == procedures


def test_a_bad_province_template_is_refused_by_the_apps_validation(rendered, tmp_path):
    """The check above has teeth: a misspelt placeholder fails it, naming the file."""
    release = rendered[CHART / "provinces" / "thanh-hoa.yaml"]
    templates = tmp_path / "templates"
    templates.mkdir()
    text = release.one("ConfigMap", "-templates")["data"]["messages.yaml"]
    (templates / "messages.yaml").write_text(
        text.replace("{{ subject }}", "{{ case.cod }}"),
        encoding="utf-8",
    )
    settings = _pod_settings(release, tmp_path, templates)
    with pytest.raises(TemplateError, match=r"messages\.yaml.*unknown placeholder"):
        template_renderer(settings, message_context(settings))


def test_submission_forms_are_mounted_where_the_settings_say(rendered):
    with_forms = [p for p in PROVINCES if rendered[p].values.get("submissionForms")]
    assert with_forms
    for path in with_forms:
        release = rendered[path]
        config_map = release.one("ConfigMap", "-forms")
        assert set(config_map["data"]) == set(release.values["submissionForms"])
        directory = release.settings["submissions"]["forms_directory"]
        assert directory == "/etc/zalo-bridge/forms"
        mounts = {m["name"]: m for m in release.container["volumeMounts"]}
        assert mounts["forms"]["mountPath"] == directory
        assert mounts["forms"]["readOnly"] is True
        volumes = {v["name"]: v for v in release.pod_spec["volumes"]}
        assert volumes["forms"]["configMap"]["name"] == config_map["metadata"]["name"]
        annotations = release.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
        assert {"checksum/config", "checksum/forms"} <= set(annotations)  # edits roll the pods


@pytest.mark.parametrize("values_file", WITHOUT_FORMS, ids=values_id)
def test_without_submission_forms_nothing_is_mounted_and_the_package_forms_apply(
    rendered, values_file
):
    release = rendered[values_file]
    assert not [r for r in release.of_kind("ConfigMap") if r["metadata"]["name"].endswith("-forms")]
    assert "forms" not in {m["name"] for m in release.container["volumeMounts"]}
    assert "forms_directory" not in release.settings.get("submissions", {})
    annotations = release.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/forms" not in annotations


def test_a_changed_form_changes_the_pods_checksum(helm):
    """Editing a form rolls the pods: the forms checksum follows the ConfigMap's content."""
    province = CHART / "provinces" / "ha-noi.yaml"
    sets = [r"submissionForms.form-1\.004616\.yaml=code: '1.004616'"]

    def checksum(*assignments: str) -> str:
        resources = documents(helm.template("bridge-ha-noi", province, sets=assignments))
        (deployment,) = [r for r in resources if r["kind"] == "Deployment"]
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/forms"])

    assert checksum() != checksum(*sets)


def _schema_form_pattern() -> re.Pattern[str]:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    return re.compile(schema["properties"]["submissionForms"]["propertyNames"]["pattern"])


_NAME_PARTS = st.sampled_from(["form-", "form", "1.001193", ".yaml", ".yml", ".YAML", "-", "_"])


@given(
    st.one_of(
        st.from_regex(_schema_form_pattern(), fullmatch=True),
        st.from_regex(form_files._FORM_FILE, fullmatch=True),
        st.lists(_NAME_PARTS | st.text("fo-rm.yamlY1_/ đ", max_size=4), max_size=6).map("".join),
        st.text(max_size=70),
    )
)
def test_the_schema_accepts_exactly_the_form_file_names_bridge_reads(name):
    """The chart refuses at `helm lint` every name bridge would refuse at start, and no other."""
    schema_accepts = _schema_form_pattern().search(name) is not None
    bridge_accepts = form_files._FORM_FILE.match(name) is not None
    assert schema_accepts == bridge_accepts


@pytest.mark.parametrize("values_file", PROVINCES, ids=values_id)
def test_province_forms_pass_the_apps_validation(rendered, values_file, tmp_path):
    """Each province's forms ConfigMap, written out as mounted, is what `run` accepts."""
    release = rendered[values_file]
    forms = tmp_path / "forms"
    forms.mkdir()
    files = release.values.get("submissionForms") or {}
    for name, text in (release.one("ConfigMap", "-forms")["data"] if files else {}).items():
        (forms / name).write_text(text, encoding="utf-8")
    settings = _pod_settings(release, tmp_path, forms=forms if files else None)
    assert settings.submissions.enabled == bool(
        release.values["config"].get("submissions", {}).get("enabled")
    )
    catalogue = load_forms(settings.submissions)
    assert catalogue.forms
    from_province = {
        code: source for code, source in catalogue.sources.items() if source.startswith(str(forms))
    }
    overridden = {name.removeprefix("form-").rsplit(".", 1)[0] for name in files}
    withdrawn = {code for code in overridden if code not in catalogue.sources}
    assert set(from_province) | withdrawn == overridden
    assert all(
        source.startswith("package:")
        for code, source in catalogue.sources.items()
        if code not in overridden
    )


def test_submissions_turned_on_in_a_province_use_its_own_topic_and_a_shared_bucket(rendered):
    """Several replicas share the attachments; the dossiers go to the province's own topic."""
    enabled = [
        rendered[p] for p in PROVINCES if rendered[p].settings.get("submissions", {}).get("enabled")
    ]
    assert enabled
    for release in enabled:
        settings = release.settings
        slug = settings["province"]["slug"]
        assert slug in settings["submissions"]["topic"]
        assert settings["objects"]["backend"] == "s3"
        assert slug in settings["objects"]["prefix"]
        env = {e["name"] for e in release.container["env"]}
        assert {"BRIDGE_OBJECTS__ACCESS_KEY_ID", "BRIDGE_OBJECTS__SECRET_ACCESS_KEY"} <= env
        assert release.values["networkPolicy"]["objectStorage"]["to"]


def test_a_bad_province_form_is_refused_by_the_apps_validation(rendered, tmp_path):
    """The check above has teeth: a form with an unknown field kind fails it, naming the file."""
    release = rendered[CHART / "provinces" / "ha-noi.yaml"]
    forms = tmp_path / "forms"
    forms.mkdir()
    text = release.one("ConfigMap", "-forms")["data"]["form-1.001193.yaml"]
    assert "kind: citizen_id" in text
    (forms / "form-1.001193.yaml").write_text(
        text.replace("kind: citizen_id", "kind: cmnd", 1), encoding="utf-8"
    )
    settings = _pod_settings(release, tmp_path, forms=forms)
    with pytest.raises(FormError, match=r"form-1\.001193\.yaml: form 1\.001193, field applicant"):
        load_forms(settings.submissions)


def test_submissions_render_with_local_objects_on_a_persistent_volume(helm):
    """One replica with a persistent volume keeps attachments in the local object directory."""
    text = helm.template(
        "r",
        CHART / "ci" / "sqlite-persistence-values.yaml",
        sets=["config.submissions.enabled=true"],
    )
    (config_map,) = [
        r
        for r in documents(text)
        if r["kind"] == "ConfigMap" and r["metadata"]["name"].endswith("-config")
    ]
    settings = yaml.safe_load(config_map["data"]["settings.yaml"])
    assert settings["submissions"]["enabled"] is True
    assert settings["objects"]["local_directory"] == "/var/lib/zalo-bridge/objects"


@BY_FILE
def test_the_webhook_and_metrics_reach_the_http_port(rendered, values_file):
    """Service, NetworkPolicy, Ingress and ServiceMonitor lead to the container's port 8080."""
    release = rendered[values_file]
    (port,) = release.container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8080)
    assert "--port" in release.container["args"]
    assert release.container["args"][release.container["args"].index("--port") + 1] == "8080"
    service_ports = {p["name"]: p for p in release.one("Service", "-zalo-bridge")["spec"]["ports"]}
    assert service_ports["http"]["port"] == 8080
    assert {p["targetPort"] for p in service_ports.values()} == {"http"}  # webhook and /metrics
    (allowed,) = release.one("NetworkPolicy")["spec"]["ingress"]
    assert allowed["ports"] == [{"port": "http", "protocol": "TCP"}]
    webhook_path = release.settings.get("webhook", {}).get("path", "/webhook/zalo")
    for ingress in release.of_kind("Ingress"):
        (rule,) = ingress["spec"]["rules"]
        (path,) = rule["http"]["paths"]
        assert path["path"] == webhook_path == "/webhook/zalo"
        assert path["backend"]["service"]["port"] == {"name": "http"}
    for monitor in release.of_kind("ServiceMonitor"):
        (endpoint,) = monitor["spec"]["endpoints"]
        assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")


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
    optional = {
        "Ingress",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "ServiceMonitor",
        "PrometheusRule",
        "Pod",
    }
    assert not kinds["default-values.yaml"] & optional
    assert "Ingress" in kinds["webhook-ingress-values.yaml"]
    assert "HorizontalPodAutoscaler" in kinds["hpa-values.yaml"]
    assert "ServiceMonitor" in kinds["servicemonitor-values.yaml"]
    assert "PrometheusRule" in kinds["monitoring-values.yaml"]
    dashboards = {
        path.name
        for path in VALUES_FILES
        for r in rendered[path].of_kind("ConfigMap")
        if r["metadata"]["name"].endswith("-dashboard")
    }
    assert dashboards == {"monitoring-values.yaml"}
    assert "PersistentVolumeClaim" in kinds["sqlite-persistence-values.yaml"]
    assert "Pod" in kinds["test-framework-values.yaml"]


def test_the_helm_test_pod_is_a_hook_the_service_does_not_select(rendered):
    release = rendered[CHART / "ci" / "test-framework-values.yaml"]
    pod = release.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test-success"
    selector = release.one("Service", "-zalo-bridge")["spec"]["selector"]
    assert not selector.items() <= pod["metadata"]["labels"].items()
    assert "/health/ready" in pod["spec"]["containers"][0]["args"][0]
    policy_from = release.one("NetworkPolicy")["spec"]["ingress"][0]["from"]
    assert {"app.kubernetes.io/component": "helm-test"}.items() <= policy_from[-1]["podSelector"][
        "matchLabels"
    ].items()


@BY_FILE
def test_the_webhook_stays_reachable_while_delivery_is_unready(rendered, values_file):
    """Readiness is delivery health; the webhook's Service publishes not-ready pods too."""
    release = rendered[values_file]
    main = release.one("Service", "-zalo-bridge")
    webhook = release.one("Service", "-zalo-bridge-webhook")
    assert webhook["spec"]["publishNotReadyAddresses"] is True
    assert not main["spec"].get("publishNotReadyAddresses", False)
    assert webhook["spec"]["selector"] == main["spec"]["selector"]
    assert [p["targetPort"] for p in webhook["spec"]["ports"]] == ["http"]
    probe = release.container["readinessProbe"]["httpGet"]
    assert probe["path"] == "/health/ready"
    for ingress in release.of_kind("Ingress"):
        (rule,) = ingress["spec"]["rules"]
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"]["name"] == webhook["metadata"]["name"]


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


def test_the_readme_values_table_is_generated_from_values_yaml():
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(REPO / "deploy" / "helm" / "values_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


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


# ------------------------------------------------------- SQLite only on a persistent volume

SQLITE_URL = "secrets.values.databaseUrl=sqlite:////var/lib/zalo-bridge/ledger.sqlite3"
EXISTING_SECRET = ["secrets.existingSecret=bridge-credentials", "secrets.create=false"]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        # The hazard: the ledger, links and OA tokens on an emptyDir, gone at the next restart.
        ([SQLITE_URL], "persistence.enabled is false and persistence.existingClaim is empty"),
        (
            [*EXISTING_SECRET, "database.engine=sqlite"],
            "persistence.enabled is false and persistence.existingClaim is empty",
        ),
        # The chart cannot read an existing Secret: it must be told what the URL is.
        (EXISTING_SECRET, "database.engine is required with secrets.existingSecret"),
        (
            [SQLITE_URL, "database.engine=postgresql", "persistence.enabled=true"],
            "database.engine is postgresql but secrets.values.databaseUrl is a sqlite URL",
        ),
        # On the volume, or it is lost all the same.
        (
            [
                "secrets.values.databaseUrl=sqlite:////tmp/ledger.sqlite3",
                "persistence.enabled=true",
            ],
            "secrets.values.databaseUrl puts the SQLite file at /tmp/ledger.sqlite3, outside",
        ),
        (
            [
                "secrets.values.databaseUrl=sqlite:///../tmp/ledger.sqlite3",
                "persistence.enabled=true",
            ],
            "outside the persistent volume",
        ),
        ([SQLITE_URL, "persistence.enabled=true", "replicaCount=2"], "one replica only"),
    ],
    ids=[
        "sqlite-on-empty-dir",
        "declared-sqlite-on-empty-dir",
        "existing-secret-without-engine",
        "engine-and-url-disagree",
        "sqlite-file-outside-the-volume",
        "sqlite-file-climbing-out",
        "sqlite-two-replicas",
    ],
)
def test_sqlite_without_a_persistent_volume_fails_the_render_naming_the_value(helm, sets, message):
    done = helm.try_template("r", DEFAULT_CI, sets=sets)
    assert done.returncode != 0
    assert message in done.stderr


@pytest.mark.parametrize(
    ("sets", "claim"),
    [
        ([SQLITE_URL, "persistence.enabled=true"], "r-zalo-bridge-data"),
        (
            ["secrets.values.databaseUrl=sqlite:///ledger.sqlite3", "persistence.enabled=true"],
            "r-zalo-bridge-data",
        ),
        ([SQLITE_URL, "persistence.existingClaim=bridge-ledger"], "bridge-ledger"),
        (
            [*EXISTING_SECRET, "database.engine=sqlite", "persistence.existingClaim=bridge-ledger"],
            "bridge-ledger",
        ),
    ],
    ids=[
        "new-claim",
        "relative-path-in-the-workdir",
        "existing-claim",
        "existing-secret-and-claim",
    ],
)
def test_sqlite_on_a_persistent_volume_renders_with_that_volume_mounted(helm, sets, claim):
    resources = documents(helm.template("r", DEFAULT_CI, sets=sets))
    deployment = next(r for r in resources if r["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["data"] == "/var/lib/zalo-bridge"
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # one writer of the file
    claims = [r["metadata"]["name"] for r in resources if r["kind"] == "PersistentVolumeClaim"]
    assert claims == ([] if claim == "bridge-ledger" else [claim])


def test_postgresql_needs_no_volume_and_gets_no_writable_data_directory(helm):
    resources = documents(helm.template("r", DEFAULT_CI))
    deployment = next(r for r in resources if r["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert "data" not in {v["name"] for v in pod["volumes"]}
    assert not [r for r in resources if r["kind"] == "PersistentVolumeClaim"]
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"


def test_the_workers_value_becomes_the_process_setting_the_pod_reads(helm):
    text = helm.template("r", DEFAULT_CI, sets=["workers=3"])
    [config] = [
        doc
        for doc in yaml.safe_load_all(text)
        if doc and doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-config")
    ]
    settings = yaml.safe_load(config["data"]["settings.yaml"])
    assert settings["process"]["workers"] == 3
    assert Settings.model_validate(settings | {"store": {}}).process.workers == 3


def test_one_worker_writes_nothing_and_a_second_place_for_it_is_refused(helm):
    text = helm.template("r", DEFAULT_CI)
    assert "workers" not in text.split("settings.yaml: |", 1)[1].split("---", 1)[0]
    done = helm.try_template("r", DEFAULT_CI, sets=["workers=2", "config.process.workers=4"])
    assert done.returncode != 0
    assert "set workers only" in done.stderr
