{{/*
Prometheus's scrape jobs for the metrics platform, handed to the Prometheus Operator as
additionalScrapeConfigs (the same text the tests give a real Prometheus). Every series carries the
FR-018 labels: the target files' labels (device, site, region, vendor, platform, role, tier) for SNMP
and probes, gnmic's event-tags for gNMI, the pod's own labels for Helios's services.
*/}}
{{- define "helios.scrapeConfigs" -}}
{{- $targets := printf "/etc/prometheus/configmaps/%s" .Values.targetgen.targetsConfigMap -}}
{{- $collection := include "helios.ns" (list . "collection") -}}
{{- $full := include "helios.fullname" . -}}
{{- if .Values.snmpExporter.enabled }}
- job_name: snmp
  scrape_interval: {{ .Values.snmpExporter.scrapeInterval }}
  scrape_timeout: {{ .Values.snmpExporter.scrapeTimeout }}
  metrics_path: /snmp
  file_sd_configs:
    - files: [{{ $targets }}/snmp-targets.json]
      refresh_interval: 1m
  relabel_configs:
    # The device is the target; module and auth come from the file (__param_module, __param_auth).
    - {source_labels: [__address__], target_label: __param_target}
    - {source_labels: [__param_target], target_label: instance}
    - {source_labels: [__param_module], target_label: module}
    - {target_label: __address__, replacement: "{{ $full }}-snmp-exporter.{{ $collection }}.svc:9116"}
{{- end }}
{{- if .Values.blackboxExporter.enabled }}
- job_name: blackbox
  scrape_interval: {{ .Values.blackboxExporter.scrapeInterval }}
  metrics_path: /probe
  file_sd_configs:
    - files: [{{ $targets }}/blackbox-targets.json]
      refresh_interval: 1m
  relabel_configs:
    - {source_labels: [__address__], target_label: __param_target}
    - {source_labels: [__param_target], target_label: instance}
    - {source_labels: [__param_module], target_label: module}
    - {target_label: __address__, replacement: "{{ $full }}-blackbox-exporter.{{ $collection }}.svc:9115"}
{{- end }}
{{- if .Values.gnmic.enabled }}
- job_name: gnmic
  # Streamed samples wait in gnmic for the next scrape: every 10 s keeps emission-to-query well
  # under SC-002's 30 s.
  scrape_interval: 10s
  # gnmic's series already carry the device's labels (its targets' event-tags): keep them.
  honor_labels: true
  kubernetes_sd_configs:
    - role: pod
      namespaces: {names: [{{ $collection }}]}
  relabel_configs:
    - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component], regex: gnmic, action: keep}
    # Device series on the output port (9804); per-target connection state on the API port (7890).
    - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: metrics|api, action: keep}
    - {source_labels: [__meta_kubernetes_pod_name], target_label: collector}
{{- end }}
- job_name: helios
  kubernetes_sd_configs:
    - role: pod
      namespaces:
        names:
          {{- range $group := list "flows" "integration" "automation" "visualization" }}
          - {{ include "helios.ns" (list $ $group) }}
          {{- end }}
  relabel_configs:
    - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_part_of], regex: helios, action: keep}
    - {source_labels: [__meta_kubernetes_pod_container_port_name], regex: http, action: keep}
    - {source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_component], target_label: component}
    - {source_labels: [__meta_kubernetes_namespace], target_label: namespace}
    - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
# The target generator's CronJob runs push their outcome here (a pod gone before a scrape).
- job_name: pushgateway
  honor_labels: true
  static_configs:
    - targets: ["{{ $full }}-pushgateway.{{ include "helios.ns" (list . "storage") }}.svc:9091"]
{{- end -}}
