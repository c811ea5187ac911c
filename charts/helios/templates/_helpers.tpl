{{/* Names, labels, namespaces, images and pod hardening shared by every template. */}}

{{- define "helios.fullname" -}}
{{- printf "%s" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "helios.labels" -}}
app.kubernetes.io/name: helios
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: helios
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
helios.io/tier: {{ .Values.global.tier }}
{{- end -}}

{{/* Labels of one component: (dict "root" $ "component" "flowd"). */}}
{{- define "helios.componentLabels" -}}
{{ include "helios.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The selector of one component's pods: (dict "root" $ "component" "flowd"). */}}
{{- define "helios.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
The namespace of one of the six groups of FR-027: (list $ "flows").
Group keys: integration, collection, storage, visualization, automation, flows.
*/}}
{{- define "helios.ns" -}}
{{- $root := index . 0 -}}
{{- $group := index . 1 -}}
{{- $ns := index $root.Values.global.namespaces $group -}}
{{- if not $ns -}}
{{- fail (printf "global.namespaces.%s is not set" $group) -}}
{{- end -}}
{{- $ns -}}
{{- end -}}

{{/*
"true" when a group's resources are rendered: global.scope is empty (everything, one `helm install`)
or names that group (one Argo CD Application per namespace renders only its own part).
*/}}
{{- define "helios.inScope" -}}
{{- $root := index . 0 -}}
{{- $group := index . 1 -}}
{{- if or (not $root.Values.global.scope) (eq $root.Values.global.scope $group) -}}true{{- end -}}
{{- end -}}

{{/*
"true" when the cluster serves a custom resource's API: (list $ "kafka.strimzi.io/v1/Kafka").
The operators come from charts/helios-operators (scripts/install.sh installs them first; the GitOps
ApplicationSet syncs them first). When an API is missing the render fails and says so, unless
global.requireOperators is false: then the resource is left out (helm lint, which cannot be given the
cluster's APIs, and partial installs).
*/}}
{{- define "helios.hasAPI" -}}
{{- $root := index . 0 -}}
{{- $api := index . 1 -}}
{{- if $root.Capabilities.APIVersions.Has $api -}}
true
{{- else if $root.Values.global.requireOperators -}}
{{- fail (printf "this cluster does not serve %s: install the operators first (scripts/install.sh installs them, then Helios; or helm install helios-operators charts/helios-operators), turn the component off, or set global.requireOperators=false to leave it out" $api) -}}
{{- end -}}
{{- end -}}

{{/* A Helios image, `registry/helios-<name>:tag` or `@digest` when one is pinned: (list $ "flowd"). */}}
{{- define "helios.image" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $i := $root.Values.images -}}
{{- $digest := index $i.digests $name | default "" -}}
{{- if $digest -}}
{{ $i.registry }}/helios-{{ $name }}@{{ $digest }}
{{- else -}}
{{ $i.registry }}/helios-{{ $name }}:{{ $i.tag | default $root.Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* A third-party image from values ({repository, tag}); the tag is required (no implicit latest). */}}
{{- define "helios.thirdPartyImage" -}}
{{- if or (not .tag) (eq (toString .tag) "latest") -}}
{{- fail (printf "image %s needs a pinned tag (not empty, not latest)" .repository) -}}
{{- end -}}
{{ .repository }}:{{ .tag }}
{{- end -}}

{{/* Pod Security Standard "restricted", pod level (every Helios pod). */}}
{{- define "helios.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod Security Standard "restricted", container level. */}}
{{- define "helios.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Argo CD sync wave of a resource (namespaces and secret stores first, workloads last). */}}
{{- define "helios.wave" -}}
argocd.argoproj.io/sync-wave: {{ . | quote }}
{{- end -}}

{{/* Annotations of a custom resource whose CRD an operator installs. */}}
{{- define "helios.crAnnotations" -}}
argocd.argoproj.io/sync-wave: "0"
argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
{{- end -}}

{{/* The ClickHouse HTTP URL Helios's services and Grafana use. */}}
{{- define "helios.clickhouseUrl" -}}
{{- $ch := .Values.clickhouse -}}
{{- if $ch.external.url -}}
{{ $ch.external.url }}
{{- else -}}
http://clickhouse-{{ include "helios.fullname" . }}.{{ include "helios.ns" (list . "flows") }}.svc:8123
{{- end -}}
{{- end -}}

{{/* Kafka bootstrap servers (the Strimzi cluster's SCRAM listener, or external brokers). */}}
{{- define "helios.kafkaBootstrap" -}}
{{- if .Values.kafka.external.bootstrap -}}
{{ .Values.kafka.external.bootstrap }}
{{- else -}}
{{ include "helios.fullname" . }}-kafka-bootstrap.{{ include "helios.ns" (list . "flows") }}.svc:9092
{{- end -}}
{{- end -}}

{{/* True when flows go through Kafka (FR-008) rather than from helios-flowd straight to ClickHouse. */}}
{{- define "helios.viaKafka" -}}
{{- if or .Values.flows.viaKafka (eq .Values.flows.collector "goflow2") -}}true{{- end -}}
{{- end -}}

{{/* A component's ClusterIP Service on its HTTP port: (dict "root" $ "component" "flowd" "group" "flows" "port" 9102). */}}
{{- define "helios.httpService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "helios.fullname" .root }}-{{ .component }}
  namespace: {{ include "helios.ns" (list .root .group) }}
  labels:
    {{- include "helios.componentLabels" . | nindent 4 }}
spec:
  selector:
    {{- include "helios.selector" . | nindent 4 }}
  ports:
    - {name: http, port: {{ .port }}, targetPort: http}
{{- end -}}

{{/* At most one pod of a component down for maintenance: (dict "root" $ "component" "flowd" "group" "flows"). */}}
{{- define "helios.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "helios.fullname" .root }}-{{ .component }}
  namespace: {{ include "helios.ns" (list .root .group) }}
  labels:
    {{- include "helios.componentLabels" . | nindent 4 }}
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      {{- include "helios.selector" . | nindent 6 }}
{{- end -}}
