{{/*
One ExternalSecret: a Kubernetes Secret `name` in namespace `ns` whose keys come from the secret
manager (secrets.remote.<credential>). Arguments: (dict "root" $ "name" "helios-clickhouse"
"group" "flows" "keys" (dict "password" "clickhousePassword")); a key may also name its place in the
secret manager directly ({key, property}). With "files" (file name -> ESO
template text, which reads the keys as {{ .key }}), the Secret holds those rendered files instead.
*/}}
{{- define "helios.externalSecret" -}}
{{- $root := .root -}}
{{- $s := $root.Values.secrets -}}
{{- if and (include "helios.inScope" (list $root .group)) (include "helios.hasAPI" (list $root "external-secrets.io/v1/ExternalSecret")) }}
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: {{ .name }}
  namespace: {{ include "helios.ns" (list $root .group) }}
  labels:
    {{- include "helios.labels" $root | nindent 4 }}
  annotations:
    {{- include "helios.wave" "-5" | nindent 4 }}
    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true
spec:
  refreshInterval: {{ $s.refreshInterval }}
  secretStoreRef:
    kind: {{ $s.store.kind }}
    name: {{ $s.store.name }}
  target:
    name: {{ .name }}
    creationPolicy: Owner
    {{- with .files }}
    template:
      engineVersion: v2
      data:
        {{- toYaml . | nindent 8 }}
    {{- end }}
  data:
    {{- range $secretKey, $credential := .keys }}
    {{- $remote := $credential }}
    {{- if kindIs "string" $credential }}{{ $remote = index $s.remote $credential }}{{ end }}
    - secretKey: {{ $secretKey }}
      remoteRef:
        key: {{ $remote.key }}
        property: {{ $remote.property }}
    {{- end }}
---
{{- end }}
{{- end -}}
