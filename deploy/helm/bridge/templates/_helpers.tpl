{{/*
Expand the name of the chart.
*/}}
{{- define "bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name: the release name, plus the chart name unless the release
name already contains it (`helm install bridge-thanh-hoa` gives `bridge-thanh-hoa-zalo-bridge`,
`helm install zalo-bridge-thanh-hoa` gives `zalo-bridge-thanh-hoa`).
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming
spec); suffixed names ("-config", "-templates") truncate the base to 52 first.
*/}}
{{- define "bridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The namespace of every resource: the release's, unless namespaceOverride is set.
*/}}
{{- define "bridge.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels. helm.sh/chart never appears in selectors (it changes with every chart version).
*/}}
{{- define "bridge.labels" -}}
helm.sh/chart: {{ include "bridge.chart" . }}
{{ include "bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "bridge.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: zalo-bridge
{{- with (include "bridge.provinceSlug" .) }}
zalo-bridge.io/province: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
Selector labels: the release name keeps two provinces in one namespace apart.
*/}}
{{- define "bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The name of the service account to use.
*/}}
{{- define "bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "bridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository, then the digest if set, else the tag (default: appVersion).
*/}}
{{- define "bridge.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "bridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "bridge.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The province this release serves (config.province.slug), or "" when the settings default applies.
*/}}
{{- define "bridge.provinceSlug" -}}
{{- $province := (.Values.config.province | default dict) }}
{{- $province.slug | default "" }}
{{- end }}

{{/*
Name of the Secret holding the credentials: existingSecret, or the one this chart creates.
*/}}
{{- define "bridge.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "bridge.fullname" .) }}
{{- end }}
{{- end }}

{{/*
THE MAPPING between the chart and bridge's settings, in one place.

Secret keys → BRIDGE_<SECTION>__<KEY> environment variables (each secret setting of
bridge.settings.Settings the chart passes). Columns: environment variable, key in the Secret, key
under `secrets.values`, required. A required key must be in the Secret (the pod does not start
without it); an optional one is passed only when present. One Secret key may feed several
variables (the Zalo app secret). When the app gains or renames a secret setting, change this table.

What the chart always turns on:
- managed Zalo tokens (zalo.token_encryption_key; needs config.zalo.app_id and oa_id, and
  zalo.app_secret), so zalo.access_token is never passed (the app ignores it in managed mode);
- the webhook (webhook.oa_secret_key), which needs linking.hmac_key; the app secret reaches the
  webhook too when config.webhook.signature_variant checks with it (*_app_secret, any).
Kafka SASL credentials are passed, and required, only when config.kafka.security_protocol is
SASL_PLAINTEXT or SASL_SSL (bridge refuses sasl_* settings otherwise). Object storage: the S3 key
pair with config.objects.backend s3 (unless objectStorage.secretCredentials is false: the pod's
own identity, e.g. web identity), the local links' signing key when config.objects.local_public_url
is set. The survey's pseudonym key (config.feedback.enabled) is the one optional row: passed when
secrets.values.feedbackPseudonymKey is set, or as an optional reference into secrets.existingSecret;
without it the app keys the pseudonyms with linking.hmac_key, as it always has.
*/}}
{{- define "bridge.secretEnvTable" -}}
{{- $config := .Values.config | default dict }}
{{- $kafka := (get $config "kafka") | default dict }}
{{- $objects := (get $config "objects") | default dict }}
{{- $webhook := (get $config "webhook") | default dict }}
{{- $variant := (get $webhook "signature_variant") | default "app_id_oa_secret_key" }}
{{- $feedback := (get $config "feedback") | default dict }}
- env: BRIDGE_STORE__URL
  key: database-url
  value: databaseUrl
  required: true
- env: BRIDGE_ZALO__TOKEN_ENCRYPTION_KEY
  key: token-encryption-key
  value: tokenEncryptionKey
  required: true
- env: BRIDGE_ZALO__APP_SECRET
  key: zalo-app-secret
  value: zaloAppSecret
  required: true
- env: BRIDGE_WEBHOOK__OA_SECRET_KEY
  key: zalo-oa-secret-key
  value: zaloOaSecretKey
  required: true
- env: BRIDGE_LINKING__HMAC_KEY
  key: linking-hmac-key
  value: linkingHmacKey
  required: true
{{- if or (hasSuffix "_app_secret" $variant) (eq $variant "any") }}
- env: BRIDGE_WEBHOOK__APP_SECRET
  key: zalo-app-secret
  value: zaloAppSecret
  required: true
{{- end }}
{{- if hasPrefix "SASL_" ((get $kafka "security_protocol") | default "PLAINTEXT") }}
- env: BRIDGE_KAFKA__SASL_USERNAME
  key: kafka-sasl-username
  value: kafkaSaslUsername
  required: true
- env: BRIDGE_KAFKA__SASL_PASSWORD
  key: kafka-sasl-password
  value: kafkaSaslPassword
  required: true
{{- end }}
{{- if and (eq ((get $objects "backend") | default "local") "s3") .Values.objectStorage.secretCredentials }}
- env: BRIDGE_OBJECTS__ACCESS_KEY_ID
  key: objects-access-key-id
  value: objectsAccessKeyId
  required: true
- env: BRIDGE_OBJECTS__SECRET_ACCESS_KEY
  key: objects-secret-access-key
  value: objectsSecretAccessKey
  required: true
{{- end }}
{{- if get $feedback "enabled" }}
- env: BRIDGE_FEEDBACK__PSEUDONYM_KEY
  key: feedback-pseudonym-key
  value: feedbackPseudonymKey
  required: false
{{- end }}
{{- if get $objects "local_public_url" }}
- env: BRIDGE_OBJECTS__LOCAL_SIGNING_KEY
  key: objects-local-signing-key
  value: objectsLocalSigningKey
  required: true
{{- end }}
{{- end }}

{{/*
Where the chart mounts things in the container; the settings file names them.
*/}}
{{- define "bridge.configDir" -}}/etc/zalo-bridge{{- end }}
{{- define "bridge.templatesDir" -}}/etc/zalo-bridge/templates{{- end }}
{{- define "bridge.formsDir" -}}/etc/zalo-bridge/forms{{- end }}
{{- define "bridge.kafkaCaDir" -}}/etc/zalo-bridge/kafka-ca{{- end }}
{{- define "bridge.dataDir" -}}/var/lib/zalo-bridge{{- end }}

{{/*
The settings file (YAML) bridge reads through BRIDGE_CONFIG_FILE: `.Values.config` as given, plus
what the chart itself decides: the mounted template and form directories, the Kafka CA file, and
the webhook's app and OA ids, copied from config.zalo so that each id is configured once. Secrets
never go here (values.schema.json has no place for them under `config`).
*/}}
{{- define "bridge.settingsYaml" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- if gt (int .Values.workers) 1 }}
{{- $process := (get $config "process") | default dict }}
{{- if and (hasKey $process "workers") (ne (int (get $process "workers")) (int .Values.workers)) }}
{{- fail "config.process.workers differs from workers: set workers only (the chart copies it)" }}
{{- end }}
{{- $_ := set $process "workers" (int .Values.workers) }}
{{- $_ := set $config "process" $process }}
{{- end }}
{{- if .Values.messageTemplates }}
{{- $templates := (get $config "templates") | default dict }}
{{- $_ := set $templates "directory" (include "bridge.templatesDir" .) }}
{{- $_ := set $config "templates" $templates }}
{{- end }}
{{- if .Values.submissionForms }}
{{- $submissions := (get $config "submissions") | default dict }}
{{- $formsDir := include "bridge.formsDir" . }}
{{- if and (get $submissions "forms_directory") (ne (toString (get $submissions "forms_directory")) $formsDir) }}
{{- fail (printf "config.submissions.forms_directory is %v but submissionForms are mounted at %s: leave config.submissions.forms_directory unset (the chart sets it)" (get $submissions "forms_directory") $formsDir) }}
{{- end }}
{{- $_ := set $submissions "forms_directory" $formsDir }}
{{- $_ := set $config "submissions" $submissions }}
{{- end }}
{{- if .Values.kafkaCa.secretName }}
{{- $kafka := (get $config "kafka") | default dict }}
{{- if not (hasKey $kafka "ssl_cafile") }}
{{- $_ := set $kafka "ssl_cafile" (printf "%s/%s" (include "bridge.kafkaCaDir" .) .Values.kafkaCa.key) }}
{{- end }}
{{- $_ := set $config "kafka" $kafka }}
{{- end }}
{{- $zalo := (get $config "zalo") | default dict }}
{{- $webhook := (get $config "webhook") | default dict }}
{{- range $id := list "app_id" "oa_id" }}
{{- $value := required (printf "config.zalo.%s is required: the chart runs managed Zalo tokens (token-encryption-key) and the webhook, which both need it" $id) (get $zalo $id) }}
{{- if and (hasKey $webhook $id) (ne (toString (get $webhook $id)) (toString $value)) }}
{{- fail (printf "config.webhook.%s differs from config.zalo.%s: set config.zalo.%s only (the chart copies it to the webhook)" $id $id $id) }}
{{- end }}
{{- $_ := set $webhook $id $value }}
{{- end }}
{{- $_ := set $config "webhook" $webhook }}
{{- $objects := (get $config "objects") | default dict }}
{{- if and (include "bridge.persistent" .) (ne ((get $objects "backend") | default "local") "s3") (not (hasKey $objects "local_directory")) }}
{{- $_ := set $objects "local_directory" (printf "%s/objects" (include "bridge.dataDir" .)) }}
{{- $_ := set $config "objects" $objects }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/*
The webhook's HTTP path (config.webhook.path, default /webhook/zalo): the Ingress publishes it.
*/}}
{{- define "bridge.webhookPath" -}}
{{- $webhook := (.Values.config | default dict).webhook | default dict }}
{{- (get $webhook "path") | default "/webhook/zalo" }}
{{- end }}

{{/*
How long shutdown may take: the preStop pause, the drain (delivery.lease_seconds: in-flight sends
are settled or handed back), and 10 s for closing the producer, ledger and HTTP client.
An explicit terminationGracePeriodSeconds shorter than that fails the render.
*/}}
{{- define "bridge.terminationGracePeriodSeconds" -}}
{{- $delivery := (.Values.config.delivery | default dict) }}
{{- $lease := (get $delivery "lease_seconds") | default 30 | float64 | ceil | int }}
{{- $needed := add .Values.preStopSleepSeconds $lease 10 }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- $needed }}
{{- else if lt (int .Values.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds=%v is shorter than preStopSleepSeconds + config.delivery.lease_seconds + 10 = %v: in-flight sends would be cut off" .Values.terminationGracePeriodSeconds $needed) }}
{{- else }}
{{- .Values.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/*
Whether a persistent volume is mounted at the data directory: a new claim or an existing one.
*/}}
{{- define "bridge.persistent" -}}
{{- if or .Values.persistence.enabled .Values.persistence.existingClaim }}true{{ end }}
{{- end }}

{{/*
The database URL when the chart creates the Secret (it cannot read an existing one), else "".
*/}}
{{- define "bridge.knownDatabaseUrl" -}}
{{- if and .Values.secrets.create (not .Values.secrets.existingSecret) }}
{{- .Values.secrets.values.databaseUrl | default "" }}
{{- end }}
{{- end }}

{{/*
The database engine: database.engine, or what secrets.values.databaseUrl names. Fails when neither
tells (an existing Secret), or when they disagree.
*/}}
{{- define "bridge.databaseEngine" -}}
{{- $url := include "bridge.knownDatabaseUrl" . }}
{{- $fromUrl := "" }}
{{- if hasPrefix "sqlite:" $url }}{{ $fromUrl = "sqlite" }}
{{- else if or (hasPrefix "postgresql:" $url) (hasPrefix "postgres:" $url) }}{{ $fromUrl = "postgresql" }}
{{- end }}
{{- $declared := .Values.database.engine | default "" }}
{{- if and $declared $fromUrl (ne $declared $fromUrl) }}
{{- fail (printf "database.engine is %s but secrets.values.databaseUrl is a %s URL: make them agree" $declared $fromUrl) }}
{{- end }}
{{- $engine := $declared | default $fromUrl }}
{{- if not $engine }}
{{- fail "database.engine is required with secrets.existingSecret: the chart cannot read the Secret's database-url; set postgresql, or sqlite (which also needs persistence.enabled or persistence.existingClaim)" }}
{{- end }}
{{- $engine }}
{{- end }}

{{/*
Checks across values that the JSON schema cannot express.
*/}}
{{- define "bridge.validate" -}}
{{- if and .Values.autoscaling.enabled .Values.keda.enabled }}
{{- fail "autoscaling.enabled and keda.enabled are exclusive: KEDA creates its own HorizontalPodAutoscaler" }}
{{- end }}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.create) }}
{{- fail "set secrets.existingSecret, or secrets.create: true with secrets.values" }}
{{- end }}
{{- if and .Values.secrets.create (not .Values.secrets.existingSecret) }}
{{- range (include "bridge.secretEnvTable" . | fromYamlArray) }}
{{- if and .required (not (get $.Values.secrets.values .value)) }}
{{- fail (printf "secrets.values.%s is required when the chart creates the Secret (or set secrets.existingSecret)" .value) }}
{{- end }}
{{- end }}
{{- end }}
{{- $engine := include "bridge.databaseEngine" . }}
{{- $persistent := include "bridge.persistent" . }}
{{- if and (eq $engine "sqlite") (not $persistent) }}
{{- fail "the database is SQLite (database.engine, secrets.values.databaseUrl) but persistence.enabled is false and persistence.existingClaim is empty: on an emptyDir the ledger, the citizens' links and the OA tokens would vanish with the pod, and a restart would send every message again. Set persistence.enabled: true (or persistence.existingClaim), or use PostgreSQL" }}
{{- end }}
{{- if eq $engine "sqlite" }}
{{- $path := (include "bridge.knownDatabaseUrl" .) | trimPrefix "sqlite:///" }}
{{- if and $path (or (and (hasPrefix "/" $path) (not (hasPrefix (printf "%s/" (include "bridge.dataDir" .)) $path))) (contains ".." $path)) }}
{{- fail (printf "secrets.values.databaseUrl puts the SQLite file at %s, outside the persistent volume at %s: use sqlite:///%s/ledger.sqlite3" $path (include "bridge.dataDir" .) (include "bridge.dataDir" .)) }}
{{- end }}
{{- end }}
{{- $objects := (.Values.config | default dict).objects | default dict }}
{{- if and (ne ((get $objects "backend") | default "local") "s3") (get $objects "local_public_url") }}
{{- if not $persistent }}
{{- fail "config.objects.local_public_url hands out links to files in the local object directory, but no persistent volume is mounted (persistence.enabled or persistence.existingClaim): the files would vanish with the pod. Mount one, or use config.objects.backend: s3" }}
{{- end }}
{{- end }}
{{- $submissions := (.Values.config | default dict).submissions | default dict }}
{{- if and (get $submissions "enabled") (ne ((get $objects "backend") | default "local") "s3") (not $persistent) }}
{{- fail "config.submissions.enabled keeps citizens' attachments in object storage, but config.objects.backend is local and no persistent volume is mounted (persistence.enabled or persistence.existingClaim): the root filesystem is read-only and the files would vanish with the pod. Use config.objects.backend: s3 (several replicas), or mount a volume (one replica)" }}
{{- end }}
{{- if and (or $persistent (eq $engine "sqlite")) (or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled .Values.keda.enabled) }}
{{- fail "persistence and SQLite (one file on a ReadWriteOnce volume) allow one replica only: use PostgreSQL (secrets databaseUrl, database.engine: postgresql) for several, or set replicaCount: 1 without autoscaling" }}
{{- end }}
{{- end }}

{{/*
A number as PromQL reads it best: whole numbers without an exponent (YAML makes 1209600 a float).
*/}}
{{- define "bridge.number" -}}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}
