{{/*
The shared token and TLS of every a3t pod (values `auth` and `tls`; a3t.rpc.security reads the
files these variables name). Servers and clients read the same variables, so each a3t pod and
the experiment Job get all of them. Called with the root context.
*/}}

{{- define "a3t.securityEnv" -}}
{{- if .Values.auth.tokenSecret }}
- name: A3T_AUTH_TOKEN_FILE
  value: /etc/a3t/auth/token
{{- end }}
{{- if .Values.tls.secret }}
- name: A3T_TLS_CERT_FILE
  value: /etc/a3t/tls/tls.crt
- name: A3T_TLS_KEY_FILE
  value: /etc/a3t/tls/tls.key
- name: A3T_TLS_CA_FILE
  value: /etc/a3t/tls/ca.crt
{{- end }}
{{- end }}

{{- define "a3t.securityMounts" -}}
{{- if .Values.auth.tokenSecret }}
- name: auth
  mountPath: /etc/a3t/auth
  readOnly: true
{{- end }}
{{- if .Values.tls.secret }}
- name: tls
  mountPath: /etc/a3t/tls
  readOnly: true
{{- end }}
{{- end }}

{{- define "a3t.securityVolumes" -}}
{{- /* 0440: readable by the pod's fsGroup (10001), not by others. */}}
{{- if .Values.auth.tokenSecret }}
- name: auth
  secret:
    secretName: {{ .Values.auth.tokenSecret }}
    defaultMode: 288
    items:
      - key: token
        path: token
{{- end }}
{{- if .Values.tls.secret }}
- name: tls
  secret:
    secretName: {{ .Values.tls.secret }}
    defaultMode: 288
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}

{{/*
How the kubelet checks one a3t port: grpc.health.v1 with the service's name, or with TLS on (the
kubelet's gRPC probe cannot speak TLS) whether the port accepts connections. Called with
(dict "root" $ "port" <port> "health" <service name>).
*/}}
{{- define "a3t.probeCheck" -}}
{{- if .root.Values.tls.secret }}
tcpSocket:
  port: {{ .port }}
{{- else }}
grpc:
  port: {{ .port }}
  service: {{ .health }}
{{- end }}
{{- end }}
