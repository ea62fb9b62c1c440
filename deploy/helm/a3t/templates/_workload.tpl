{{/*
The Deployment and the Service of one a3t component, shared by the per-component template files
(templates/<component>-deployment.yaml and -service.yaml: one resource per file).
Called with (dict "root" $ "name" "<component>").
*/}}

{{- define "a3t.deployment" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $svc := index $root.Values.services $name }}
{{- $gpus := int (include "a3t.gpus" .) }}
{{- $shared := $root.Values.persistence.shared }}
{{- $probes := $root.Values.probes }}
{{- $health := include "a3t.healthService" . }}
{{- $replicas := int $svc.replicas }}
{{- if and (has $name (list "trainer" "controller")) (ne $replicas 1) }}
{{- fail (printf "services.%s.replicas must be 1 (it owns its run records / store)" $name) }}
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "a3t.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "a3t.labels" . | nindent 4 }}
spec:
  replicas: {{ $replicas }}
  revisionHistoryLimit: 3
  {{- if or (gt $gpus 0) (has $name (list "trainer" "controller")) }}
  # One writer (trainer runs, the controller's store) or a GPU that a surge pod could not get.
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      {{- include "a3t.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "a3t.labels" . | nindent 8 }}
      {{- $annotations := deepCopy ($svc.podAnnotations | default dict) }}
      {{- if eq $name "controller" }}
      {{- $_ := set $annotations "checksum/experiment" (include "a3t.experimentHash" $root) }}
      {{- end }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "a3t.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "a3t.placement" (dict "root" $root "gpus" $gpus "nodeSelector" $svc.nodeSelector "tolerations" $svc.tolerations "affinity" $svc.affinity) }}
      {{- . | trim | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ $name }}
          image: {{ include "a3t.image" . }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          env:
            {{- include "a3t.settingsEnv" . | trim | nindent 12 }}
            # Caches and scratch files go to the /tmp emptyDir (the root filesystem is read-only).
            - name: HOME
              value: /tmp
            {{- if hasKey $svc "threads" }}
            - name: OMP_NUM_THREADS
              value: {{ $svc.threads | quote }}
            {{- end }}
            {{- if or (include "a3t.isModelService" .) (eq $name "trainer") }}
            # Converted checkpoints (SmolLM2) and hub downloads, shared by every model pod.
            - name: A3T_MODEL_CACHE
              value: {{ printf "%s/models" $shared.mountPath }}
            - name: HF_HOME
              value: {{ printf "%s/huggingface" $shared.mountPath }}
            {{- if $root.Values.tgi.hfTokenSecret.name }}
            # Gated models: the tgi engine loads the tokenizer (chat template) from the hub, and
            # the trainer loads the base model's weights from it.
            - name: HF_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.tgi.hfTokenSecret.name }}
                  key: {{ $root.Values.tgi.hfTokenSecret.key }}
            {{- end }}
            {{- end }}
            {{- if eq $name "env" }}
            # alfworld creates $ALFWORLD_DATA on import; playing games never reads it.
            - name: ALFWORLD_DATA
              value: /tmp/alfworld
            {{- end }}
            {{- with include "a3t.securityEnv" $root }}
            {{- . | trim | nindent 12 }}
            {{- end }}
            {{- with $svc.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: grpc
              containerPort: {{ $svc.port }}
              protocol: TCP
            - name: metrics
              containerPort: {{ $svc.metricsPort }}
              protocol: TCP
          # grpc.health.v1 with the service's full name: SERVING once its model/simulator loaded
          # (with TLS on, a TCP check: a3t.probeCheck).
          startupProbe:
            {{- include "a3t.probeCheck" (dict "root" $root "port" $svc.port "health" $health) | nindent 12 }}
            {{- toYaml $probes.startup | nindent 12 }}
          readinessProbe:
            {{- include "a3t.probeCheck" (dict "root" $root "port" $svc.port "health" $health) | nindent 12 }}
            {{- toYaml $probes.readiness | nindent 12 }}
          livenessProbe:
            {{- include "a3t.probeCheck" (dict "root" $root "port" $svc.port "health" $health) | nindent 12 }}
            {{- toYaml $probes.liveness | nindent 12 }}
          resources:
            {{- include "a3t.resources" (dict "resources" $svc.resources "gpus" $gpus "gpuResource" $root.Values.gpu.resourceName) | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: shared
              mountPath: {{ $shared.mountPath }}
            {{- if eq $name "controller" }}
            - name: state
              mountPath: {{ $root.Values.persistence.controller.mountPath }}
            - name: experiment
              mountPath: /etc/a3t/experiment
              readOnly: true
            {{- end }}
            {{- with include "a3t.securityMounts" $root }}
            {{- . | trim | nindent 12 }}
            {{- end }}
            {{- with $svc.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        - name: shared
          persistentVolumeClaim:
            claimName: {{ include "a3t.sharedClaim" $root }}
        {{- if eq $name "controller" }}
        - name: state
          persistentVolumeClaim:
            claimName: {{ include "a3t.controllerClaim" $root }}
        - name: experiment
          configMap:
            name: {{ include "a3t.componentName" (dict "root" $root "name" "experiment") }}
        {{- end }}
        {{- with include "a3t.securityVolumes" $root }}
        {{- . | trim | nindent 8 }}
        {{- end }}
        {{- with $svc.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end }}

{{- define "a3t.service" -}}
{{- $svc := index .root.Values.services .name }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "a3t.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "a3t.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "a3t.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $svc.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
    - name: metrics
      port: {{ $svc.metricsPort }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
{{- end }}
