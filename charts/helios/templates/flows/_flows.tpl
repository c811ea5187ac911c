{{/* Helpers of the flows namespace. */}}

{{/* "true" when the chart deploys its own Kafka cluster (flows through Kafka, no external brokers). */}}
{{- define "helios.kafkaDeployed" -}}
{{- $k := .Values.kafka -}}
{{- if and $k.enabled (not $k.external.bootstrap) (or (include "helios.viaKafka" .) .Values.flows.enrichedTopic) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the chart deploys its own ClickHouse. */}}
{{- define "helios.clickhouseDeployed" -}}
{{- if and .Values.clickhouse.enabled (not .Values.clickhouse.external.url) -}}true{{- end -}}
{{- end -}}

{{/* The ClickHouse section of a Helios service's configuration (no secret: a mounted password file). */}}
{{- define "helios.clickhouseConfig" -}}
{{- $ch := .Values.clickhouse -}}
url: {{ include "helios.clickhouseUrl" . | quote }}
database: {{ $ch.database | quote }}
user: {{ $ch.user | quote }}
password_file: /run/secrets/clickhouse/password
raw_ttl_days: {{ int $ch.retention.rawDays }}
ttl_1m_days: {{ int $ch.retention.minuteDays }}
ttl_1h_days: {{ int $ch.retention.hourDays }}
{{- end -}}

{{/* The Kafka section of a Helios service's configuration. */}}
{{- define "helios.kafkaConfig" -}}
brokers: {{ include "helios.kafkaBootstrap" . | quote }}
raw_topic: {{ .Values.kafka.topics.raw.name | quote }}
enriched_topic: {{ .Values.kafka.topics.enriched.name | quote }}
{{- end -}}

{{/* The enrichment section: NetBox read live, GeoIP from the mounted databases when a claim is set. */}}
{{- define "helios.enrichmentConfig" -}}
netbox_url: {{ .Values.netbox.url | quote }}
netbox_token_file: /run/secrets/netbox/token
{{- with .Values.flows.geoip.claimName }}
geoip_city: /data/geoip/{{ $.Values.flows.geoip.city }}
geoip_asn: /data/geoip/{{ $.Values.flows.geoip.asn }}
{{- end }}
{{- end -}}

{{/* Volumes every flow service mounts: its config, the NetBox token, the ClickHouse password, GeoIP. */}}
{{- define "helios.flowVolumes" -}}
- name: config
  configMap:
    name: {{ include "helios.fullname" .root }}-{{ .component }}
- name: netbox-token
  secret:
    secretName: helios-netbox
    items: [{key: token, path: token}]
- name: clickhouse-password
  secret:
    secretName: helios-clickhouse
    items: [{key: password, path: password}]
{{- with .root.Values.flows.geoip.claimName }}
- name: geoip
  persistentVolumeClaim:
    claimName: {{ . }}
    readOnly: true
{{- end }}
{{- end -}}

{{- define "helios.flowVolumeMounts" -}}
- name: config
  mountPath: /etc/helios
  readOnly: true
- name: netbox-token
  mountPath: /run/secrets/netbox
  readOnly: true
- name: clickhouse-password
  mountPath: /run/secrets/clickhouse
  readOnly: true
{{- if .root.Values.flows.geoip.claimName }}
- name: geoip
  mountPath: /data/geoip
  readOnly: true
{{- end }}
{{- end -}}

{{/* Readiness and liveness on a Helios service's HTTP port. */}}
{{- define "helios.probes" -}}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 5
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}
