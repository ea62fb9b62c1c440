{{/*
Names, labels and the values every template derives the same way. Templates that take a service
are called with (dict "root" $ "name" "<service>").
*/}}

{{- define "a3t.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-a3t" (or the release name when it already contains the chart name). */}}
{{- define "a3t.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's resources: "<fullname>-<component>". Takes (dict "root" $ "name" c). */}}
{{- define "a3t.componentName" -}}
{{- printf "%s-%s" (include "a3t.fullname" .root | trunc 50 | trimSuffix "-") .name }}
{{- end }}

{{- define "a3t.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Recommended labels of one component. Takes (dict "root" $ "name" c). */}}
{{- define "a3t.labels" -}}
helm.sh/chart: {{ include "a3t.chart" .root }}
{{ include "a3t.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: a3t
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Labels a component's Deployment, Service and NetworkPolicies select on. */}}
{{- define "a3t.selectorLabels" -}}
app.kubernetes.io/name: {{ include "a3t.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{- define "a3t.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "a3t.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Full gRPC service name a component registers with grpc.health.v1 (its proto's service). */}}
{{- define "a3t.healthService" -}}
{{- $names := dict
  "env" "a3t.env.v1.EnvService"
  "policy" "a3t.policy.v1.PolicyService"
  "actre" "a3t.actre.v1.ActReService"
  "critic" "a3t.critic.v1.CriticService"
  "trainer" "a3t.trainer.v1.TrainerService"
  "controller" "a3t.controller.v1.ControllerService" }}
{{- index $names .name }}
{{- end }}

{{/* Image of an a3t component: [<registry>/]<repository>:<tag>. */}}
{{- define "a3t.image" -}}
{{- $svc := index .root.Values.services .name }}
{{- $tag := $svc.image.tag | default .root.Values.image.tag }}
{{- if eq (toString $tag) "latest" }}
{{- fail (printf "services.%s.image.tag: pin a version instead of \"latest\"" .name) }}
{{- end }}
{{- if .root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) $svc.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" $svc.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Components whose model runs through an inference engine. */}}
{{- define "a3t.isModelService" -}}
{{- if has .name (list "policy" "actre" "critic") }}true{{ end }}
{{- end }}

{{/* Engine of a model service: its `engine`, else tgi when tgi.enabled, else local. */}}
{{- define "a3t.engine" -}}
{{- $svc := index .root.Values.services .name }}
{{- $svc.engine | default (ternary "tgi" "local" .root.Values.tgi.enabled) }}
{{- end }}

{{/* GPUs a component requests; fails where a GPU would sit idle (a remote engine). */}}
{{- define "a3t.gpus" -}}
{{- $svc := index .root.Values.services .name }}
{{- $gpus := int ($svc.gpus | default 0) }}
{{- if and (gt $gpus 0) (include "a3t.isModelService" .) (ne (include "a3t.engine" .) "local") }}
{{- fail (printf "services.%s.gpus is %d but its engine is %s, which runs no model in the pod: set services.%s.gpus to 0 (TGI gets its GPU from tgi.gpus)" .name $gpus (include "a3t.engine" .) .name) }}
{{- end }}
{{- $gpus }}
{{- end }}

{{/* host:port of a component's Service, as the controller dials it. */}}
{{- define "a3t.target" -}}
{{- $svc := index .root.Values.services .name }}
{{- printf "%s:%d" (include "a3t.componentName" .) (int $svc.port) }}
{{- end }}

{{/* A value as an env var string: whole numbers without an exponent, lists comma-joined. */}}
{{- define "a3t.envValue" -}}
{{- if kindIs "slice" . }}
{{- $items := list }}
{{- range . }}{{ $items = append $items (include "a3t.envValue" .) }}{{ end }}
{{- join "," $items }}
{{- else if and (kindIs "float64" .) (eq . (floor .)) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}

{{/*
The service's settings as A3T_<SERVICE>_<FIELD> env vars: what the chart decides (listen address,
ports, paths on the volumes, engine, device, peers), overridden by the service's `settings`.
*/}}
{{- define "a3t.settingsEnv" -}}
{{- $root := .root }}
{{- $name := .name }}
{{- $svc := index $root.Values.services $name }}
{{- $shared := $root.Values.persistence.shared.mountPath }}
{{- $s := dict "host" "0.0.0.0" "port" $svc.port "metrics_port" $svc.metricsPort }}
{{- if eq $name "env" }}
{{- $_ := set $s "data_root" $shared }}
{{- $_ := set $s "workers" $svc.workers }}
{{- $_ := set $s "recycle_after_loads" $svc.recycleAfterLoads }}
{{- $_ := set $s "recycle_above_rss_mib" $svc.recycleAboveRssMib }}
{{- $_ := set $s "max_opens_per_worker" $svc.maxOpensPerWorker }}
{{- else if include "a3t.isModelService" . }}
{{- $engine := include "a3t.engine" . }}
{{- $_ := set $s "engine" $engine }}
{{- /* LoadAdapter's uri must lie under the controller's artifacts (a3t.artifacts.resolve_under). */}}
{{- $_ := set $s "artifact_root" (printf "%s/artifacts" $shared) }}
{{- if eq $engine "local" }}
{{- $_ := set $s "model" ($svc.model | default "smollm2") }}
{{- $_ := set $s "device" (ternary "cuda" "cpu" (gt (int (include "a3t.gpus" .)) 0)) }}
{{- $_ := set $s "threads" $svc.threads }}
{{- else if eq $engine "tgi" }}
{{- if and (not $svc.endpoint) (not $root.Values.tgi.enabled) }}
{{- fail (printf "services.%s: the tgi engine needs tgi.enabled=true or services.%s.endpoint" $name $name) }}
{{- end }}
{{- $_ := set $s "model" ($svc.model | default $root.Values.tgi.modelId) }}
{{- $_ := set $s "endpoint" ($svc.endpoint | default (printf "http://%s" (include "a3t.componentName" (dict "root" $root "name" "tgi")))) }}
{{- if not $svc.endpoint }}
{{- /* Wait for the chart's TGI as long as its startup probe does (10 s per failure). */}}
{{- $_ := set $s "engine_timeout_seconds" (max 300 (mul 10 $root.Values.tgi.startupFailureThreshold)) }}
{{- end }}
{{- else }}
{{- if or (not $svc.endpoint) (not $svc.model) }}
{{- fail (printf "services.%s: the %s engine needs services.%s.endpoint and services.%s.model" $name $engine $name $name) }}
{{- end }}
{{- $_ := set $s "model" $svc.model }}
{{- $_ := set $s "endpoint" $svc.endpoint }}
{{- end }}
{{- else if eq $name "trainer" }}
{{- $_ := set $s "state_dir" (printf "%s/trainer" $shared) }}
{{- /* A run's dataset, output and init adapter must lie under the controller's artifacts. */}}
{{- $_ := set $s "artifact_root" (printf "%s/artifacts" $shared) }}
{{- $_ := set $s "device" (ternary "cuda" "cpu" (gt (int (include "a3t.gpus" .)) 0)) }}
{{- $_ := set $s "torch_threads" $svc.threads }}
{{- else if eq $name "controller" }}
{{- $_ := set $s "db_path" (printf "%s/a3t.sqlite" $root.Values.persistence.controller.mountPath) }}
{{- $_ := set $s "artifacts_dir" (printf "%s/artifacts" $shared) }}
{{- range $peer := list "env" "policy" "actre" "critic" "trainer" }}
{{- $target := "" }}
{{- if include "a3t.enabled" (dict "root" $root "name" $peer) }}
{{- $target = include "a3t.target" (dict "root" $root "name" $peer) }}
{{- end }}
{{- $_ := set $s (printf "%s_target" $peer) $target }}
{{- end }}
{{- end }}
{{- range $key := list "host" "port" "metrics_port" }}
{{- if hasKey ($svc.settings | default dict) $key }}
{{- fail (printf "services.%s.settings.%s: the chart sets it (ports: services.%s.port and .metricsPort, which the Service and probes use too)" $name $key $name) }}
{{- end }}
{{- end }}
{{- $s = mergeOverwrite $s (deepCopy ($svc.settings | default dict)) }}
{{- range $key := keys $s | sortAlpha }}
- name: {{ printf "A3T_%s_%s" ($name | upper) ($key | upper) }}
  value: {{ include "a3t.envValue" (index $s $key) | quote }}
{{- end }}
{{- end }}

{{/* Container resources with the GPU request added. */}}
{{- define "a3t.resources" -}}
{{- $res := deepCopy (.resources | default dict) }}
{{- if gt (int .gpus) 0 }}
{{- $limits := $res.limits | default dict }}
{{- $requests := $res.requests | default dict }}
{{- $_ := set $limits .gpuResource (int .gpus) }}
{{- $_ := set $requests .gpuResource (int .gpus) }}
{{- $_ := set $res "limits" $limits }}
{{- $_ := set $res "requests" $requests }}
{{- end }}
{{- toYaml $res }}
{{- end }}

{{/* Pod placement (nodeSelector, tolerations, affinity, runtimeClassName) with GPU placement added. */}}
{{- define "a3t.placement" -}}
{{- $gpu := .root.Values.gpu }}
{{- $nodeSelector := deepCopy (.nodeSelector | default dict) }}
{{- $tolerations := .tolerations | default list }}
{{- if gt (int .gpus) 0 }}
{{- $nodeSelector = mergeOverwrite $nodeSelector (deepCopy ($gpu.nodeSelector | default dict)) }}
{{- $tolerations = concat $tolerations ($gpu.tolerations | default list) }}
{{- if $gpu.runtimeClassName }}
runtimeClassName: {{ $gpu.runtimeClassName }}
{{- end }}
{{- end }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Name of the shared claim and of the controller's claim. */}}
{{- define "a3t.sharedClaim" -}}
{{- .Values.persistence.shared.existingClaim | default (include "a3t.componentName" (dict "root" . "name" "shared")) }}
{{- end }}

{{- define "a3t.controllerClaim" -}}
{{- .Values.persistence.controller.existingClaim | default (include "a3t.componentName" (dict "root" . "name" "controller-state")) }}
{{- end }}

{{/* Hash of the experiment (config + splits to generate): the Job's name suffix and request id. */}}
{{- define "a3t.experimentHash" -}}
{{- printf "%s\n%s" (toYaml .Values.experiment.config) (toYaml .Values.experiment.generate) | sha256sum }}
{{- end }}

{{/*
Hash of everything in the experiment Job's template that is not the experiment itself (image and
labels, which carry the chart version): a Job's template is immutable, so a `helm upgrade` that
changes either must make a new Job (a new name), not patch the old one.
*/}}
{{- define "a3t.experimentJobHash" -}}
{{- $ctx := dict "root" . "name" "experiment" }}
{{- $controller := dict "root" . "name" "controller" }}
{{- printf "%s\n%s\n%s" (include "a3t.experimentHash" .) (include "a3t.image" $controller) (include "a3t.labels" $ctx) | sha256sum }}
{{- end }}

{{/* "true" when a component is deployed: actre and critic have `enabled`; the others always are. */}}
{{- define "a3t.enabled" -}}
{{- $svc := index .root.Values.services .name }}
{{- if or (not (hasKey $svc "enabled")) $svc.enabled }}true{{ end }}
{{- end }}

{{/* The model the policy serves, as its settings will say (see a3t.settingsEnv). */}}
{{- define "a3t.policyModel" -}}
{{- $ctx := dict "root" . "name" "policy" }}
{{- $svc := .Values.services.policy }}
{{- $engine := include "a3t.engine" $ctx }}
{{- if eq $engine "local" }}{{ $svc.model | default "smollm2" }}
{{- else if eq $engine "tgi" }}{{ $svc.model | default .Values.tgi.modelId }}
{{- else }}{{ $svc.model }}
{{- end }}
{{- end }}

{{/* A model name with the packaged default's alias resolved (a3t.inference.remote). */}}
{{- define "a3t.canonicalModel" -}}
{{- if eq . "smollm2" }}HuggingFaceTB/SmolLM2-135M-Instruct{{ else }}{{ . }}{{ end }}
{{- end }}
