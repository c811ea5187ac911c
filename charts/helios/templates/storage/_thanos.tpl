{{/* Thanos helpers. */}}

{{/* "true" when this DC runs the only Compactor (FR-032): it is the primary DC, and not the hub. */}}
{{- define "helios.compactorHere" -}}
{{- $g := .Values.global -}}
{{- if and (not .Values.thanos.hub.enabled) (or (not $g.primaryDc) (eq $g.primaryDc $g.dc)) -}}true{{- end -}}
{{- end -}}

{{/* "true" when the chart runs MinIO (single-dc-minio, multi-dc-minio, hybrid). */}}
{{- define "helios.minioHere" -}}
{{- if and (not .Values.thanos.hub.enabled) (has .Values.global.storageTopology (list "single-dc-minio" "multi-dc-minio" "hybrid")) -}}true{{- end -}}
{{- end -}}

{{/* A Thanos container's security context and the objstore volume, shared by Store and Compactor. */}}
{{- define "helios.thanosObjstoreVolume" -}}
- name: objstore
  secret:
    secretName: helios-thanos-objstore
{{- end -}}
