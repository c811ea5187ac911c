{{/* helios-flowd's configuration file (no secret values: the paths where Secrets are mounted). */}}
{{- define "helios.flowd.config" -}}
{{- $f := .Values.flows -}}
{{- $via := eq (include "helios.viaKafka" .) "true" -}}
listen: ["0.0.0.0:{{ $f.ports.netflow }}", "0.0.0.0:{{ $f.ports.sflow }}"]
workers: {{ int $f.flowd.workers }}
http: 0.0.0.0:9102
outputs:
  clickhouse: {{ not $via }}
  kafka_raw: {{ $via }}
  kafka_enriched: {{ and (not $via) $f.enrichedTopic }}
clickhouse:
  {{- include "helios.clickhouseConfig" . | nindent 2 }}
kafka:
  {{- include "helios.kafkaConfig" . | nindent 2 }}
{{- if not $via }}
enrichment:
  {{- include "helios.enrichmentConfig" . | nindent 2 }}
{{- end }}
{{- end -}}
