{{/* The target generator's pod spec, shared by the CronJob and the Deployment; `mode` is "once" or "run". */}}
{{- define "helios.targetgen.pod" -}}
{{- $t := .root.Values.targetgen -}}
serviceAccountName: {{ include "helios.fullname" .root }}-targetgen
securityContext:
  {{- include "helios.podSecurityContext" .root | nindent 2 }}
containers:
  - name: targetgen
    image: {{ include "helios.image" .root }}
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
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
      {{- if $t.webhook.secret.name }}
      - name: webhook-secret
        mountPath: /run/secrets/webhook
        readOnly: true
      {{- end }}
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
  - name: netbox-token
    secret:
      secretName: {{ $t.netbox.tokenSecret.name }}
      items:
        - key: {{ $t.netbox.tokenSecret.key }}
          path: {{ $t.netbox.tokenSecret.key }}
  {{- if $t.webhook.secret.name }}
  - name: webhook-secret
    secret:
      secretName: {{ $t.webhook.secret.name }}
      items:
        - key: {{ $t.webhook.secret.key }}
          path: {{ $t.webhook.secret.key }}
  {{- end }}
{{- end -}}
