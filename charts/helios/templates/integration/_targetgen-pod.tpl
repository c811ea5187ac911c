{{/* The target generator's pod spec, shared by the CronJob and the Deployment; `mode` is "once" or "run". */}}
{{- define "helios.targetgen.pod" -}}
{{- $t := .root.Values.targetgen -}}
serviceAccountName: {{ include "helios.fullname" .root }}-targetgen
securityContext:
  {{- include "helios.podSecurityContext" .root | nindent 2 }}
containers:
  - name: targetgen
    image: {{ include "helios.image" (list .root "targetgen") }}
    imagePullPolicy: {{ .root.Values.images.pullPolicy }}
    command: ["helios-targetgen"]
    args: [{{ .mode | quote }}, "--config", "/etc/helios/targetgen.yaml"]
    securityContext:
      {{- include "helios.containerSecurityContext" .root | nindent 6 }}
    resources:
      {{- toYaml $t.resources | nindent 6 }}
    volumeMounts:
      - name: config
        mountPath: /etc/helios
        readOnly: true
      - name: netbox-token
        mountPath: /run/secrets/netbox
        readOnly: true

    {{- if eq .mode "run" }}
    ports:
      - name: http
        containerPort: 9104
    readinessProbe:
      httpGet:
        path: /readyz
        port: http
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
    {{- end }}
volumes:
  - name: config
    configMap:
      name: {{ include "helios.fullname" .root }}-targetgen
  # The NetBox token (and, in deployment mode, the webhook's shared secret), kept by External Secrets.
  - name: netbox-token
    secret:
      secretName: helios-netbox
{{- end -}}
