{{/*
Names, labels, images and the values every component shares. Cross-field checks that JSON Schema cannot
word clearly are here too (modelplane.validate), so a bad combination fails at install with one sentence.
*/}}

{{- define "modelplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelplane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Object name of a component: <fullname>-<component>. */}}
{{- define "modelplane.componentName" -}}
{{- printf "%s-%s" (include "modelplane.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "modelplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "modelplane.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "modelplane.labels" -}}
{{ include "modelplane.selectorLabels" . }}
app.kubernetes.io/part-of: modelplane
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image reference: registry/repository@digest or :tag (the chart's appVersion by default). */}}
{{- define "modelplane.image" -}}
{{- $image := index .root.Values.images .component -}}
{{- $ref := printf "%s/%s" (trimSuffix "/" .root.Values.images.registry) $image.repository -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $ref $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .root.Chart.AppVersion .root.Values.images.tag) -}}
{{- end -}}
{{- end -}}

{{- define "modelplane.operatorServiceAccount" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "modelplane.componentName" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The control plane's in-cluster URL (what the operator and the jobs call). */}}
{{- define "modelplane.apiUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "modelplane.componentName" (dict "root" . "component" "api")) .Release.Namespace (int .Values.api.service.port) -}}
{{- end -}}

{{- define "modelplane.adminTokenSecret" -}}
{{- default (include "modelplane.componentName" (dict "root" . "component" "admin-token")) .Values.auth.adminToken.existingSecret -}}
{{- end -}}

{{/*
A random value kept across upgrades: the existing Secret's key when the release already has it (lookup; empty
under `helm template` and Argo CD, where a fresh value is drawn each time: use existingSecret there).
*/}}
{{- define "modelplane.keptRandom" -}}
{{- $secret := lookup "v1" "Secret" .root.Release.Namespace .name -}}
{{- if and $secret (hasKey ($secret.data | default dict) .key) -}}
{{- index $secret.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum (int (default 32 .length)) -}}
{{- end -}}
{{- end -}}

{{/* Names and keys of the database URL and the S3 credentials, wherever they come from. */}}
{{- define "modelplane.databaseSecret" -}}
{{- if .Values.database.existingSecret.name -}}
{{- .Values.database.existingSecret.name -}}
{{- else -}}
{{- include "modelplane.componentName" (dict "root" . "component" "database") -}}
{{- end -}}
{{- end -}}

{{- define "modelplane.postgresSecret" -}}
{{- default (include "modelplane.componentName" (dict "root" . "component" "postgres")) .Values.trial.postgres.existingSecret -}}
{{- end -}}

{{- define "modelplane.minioSecret" -}}
{{- default (include "modelplane.componentName" (dict "root" . "component" "minio")) .Values.trial.s3.existingSecret -}}
{{- end -}}

{{/* The database URL environment of the control plane and the migrations Job. */}}
{{- define "modelplane.databaseEnv" -}}
{{- if .Values.trial.postgres.enabled }}
- name: MODELPLANE_TRIAL_POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "modelplane.postgresSecret" . }}
      key: password
- name: MODELPLANE_API_DB__URL
  value: {{ printf "postgresql+psycopg://modelplane:$(MODELPLANE_TRIAL_POSTGRES_PASSWORD)@%s:5432/modelplane" (include "modelplane.componentName" (dict "root" . "component" "postgres")) | quote }}
{{- else }}
- name: MODELPLANE_API_DB__URL
  valueFrom:
    secretKeyRef:
      name: {{ include "modelplane.databaseSecret" . }}
      key: {{ if .Values.database.existingSecret.name }}{{ .Values.database.existingSecret.key }}{{ else }}url{{ end }}
{{- end }}
{{- end -}}

{{/* The S3 endpoint (host:port) and whether it is HTTPS. */}}
{{- define "modelplane.s3Endpoint" -}}
{{- if .Values.trial.s3.enabled -}}
{{- printf "%s.%s.svc:9000" (include "modelplane.componentName" (dict "root" . "component" "minio")) .Release.Namespace -}}
{{- else -}}
{{- .Values.s3.endpoint -}}
{{- end -}}
{{- end -}}

{{- define "modelplane.s3Secure" -}}
{{- if .Values.trial.s3.enabled -}}false{{- else -}}{{ .Values.s3.secure }}{{- end -}}
{{- end -}}

{{- define "modelplane.s3Env" -}}
- name: MODELPLANE_API_ARTIFACTS__BACKEND
  value: s3
- name: MODELPLANE_API_S3__ENDPOINT
  value: {{ include "modelplane.s3Endpoint" . | quote }}
- name: MODELPLANE_API_S3__SECURE
  value: {{ include "modelplane.s3Secure" . | quote }}
- name: MODELPLANE_API_S3__REGION
  value: {{ .Values.s3.region | quote }}
- name: MODELPLANE_API_S3__BUCKET
  value: {{ .Values.s3.bucket | quote }}
- name: MODELPLANE_API_S3__PREFIX
  value: {{ .Values.s3.prefix | quote }}
{{- if .Values.trial.s3.enabled }}
- name: MODELPLANE_API_S3__ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "modelplane.minioSecret" . }}
      key: accessKey
- name: MODELPLANE_API_S3__SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "modelplane.minioSecret" . }}
      key: secretKey
{{- else }}
{{- $name := default (include "modelplane.componentName" (dict "root" . "component" "s3")) .Values.s3.existingSecret.name }}
- name: MODELPLANE_API_S3__ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ if .Values.s3.existingSecret.name }}{{ .Values.s3.existingSecret.accessKeyKey }}{{ else }}accessKey{{ end }}
- name: MODELPLANE_API_S3__SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ if .Values.s3.existingSecret.name }}{{ .Values.s3.existingSecret.secretKeyKey }}{{ else }}secretKey{{ end }}
{{- end }}
{{- end -}}

{{/* A writable /tmp for read-only root filesystems. */}}
{{- define "modelplane.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- end -}}

{{/*
Cross-field rules, each failing with one sentence. JSON Schema (values.schema.json) checks types, enums and
unknown keys first.
*/}}
{{- define "modelplane.validate" -}}
{{- $db := .Values.database -}}
{{- $s3 := .Values.s3 -}}
{{- if .Values.trial.postgres.enabled -}}
{{- if or $db.url $db.existingSecret.name -}}
{{- fail "database: an external database is configured (database.url or database.existingSecret.name) while the trial PostgreSQL is on: set trial.postgres.enabled=false to use it" -}}
{{- end -}}
{{- else -}}
{{- if and $db.url $db.existingSecret.name -}}
{{- fail "database: set database.url or database.existingSecret.name, not both" -}}
{{- end -}}
{{- if not (or $db.url $db.existingSecret.name) -}}
{{- fail "database: trial.postgres.enabled is false, so set database.existingSecret.name (a Secret with the SQLAlchemy URL) or database.url" -}}
{{- end -}}
{{- if and $db.url (not (regexMatch "^postgresql(\\+psycopg)?://" $db.url)) -}}
{{- fail "database.url: expected a PostgreSQL URL, postgresql+psycopg://USER:PASSWORD@HOST:5432/DB" -}}
{{- end -}}
{{- end -}}
{{- if .Values.trial.s3.enabled -}}
{{- if or $s3.endpoint $s3.accessKey $s3.secretKey $s3.existingSecret.name -}}
{{- fail "s3: an external S3 endpoint or credentials are configured while the trial S3 server is on: set trial.s3.enabled=false to use them" -}}
{{- end -}}
{{- else -}}
{{- if not $s3.endpoint -}}
{{- fail "s3.endpoint: trial.s3.enabled is false, so set the S3 endpoint (host[:port])" -}}
{{- end -}}
{{- if and $s3.existingSecret.name (or $s3.accessKey $s3.secretKey) -}}
{{- fail "s3: set s3.existingSecret.name or s3.accessKey/s3.secretKey, not both" -}}
{{- end -}}
{{- if and (not $s3.existingSecret.name) (not (and $s3.accessKey $s3.secretKey)) -}}
{{- fail "s3: set s3.existingSecret.name (a Secret with the access and secret keys) or both s3.accessKey and s3.secretKey" -}}
{{- end -}}
{{- end -}}
{{- end -}}
