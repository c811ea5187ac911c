{{/* helios-enricher's configuration file (no secret values: the paths where Secrets are mounted). */}}
{{- define "helios.enricher.config" -}}
{{- $f := .Values.flows -}}
http: 0.0.0.0:9103
outputs:
  clickhouse: true
  kafka: {{ $f.enrichedTopic }}
clickhouse:
  {{- include "helios.clickhouseConfig" . | nindent 2 }}
kafka:
  {{- include "helios.kafkaConfig" . | nindent 2 }}
  group: helios-enricher
enrichment:
  {{- include "helios.enrichmentConfig" . | nindent 2 }}
{{- end -}}
