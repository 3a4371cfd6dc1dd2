{{/* Names and labels. */}}
{{- define "gmg-dbupdate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gmg-dbupdate.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "gmg-dbupdate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gmg-dbupdate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: migration
{{- end }}

{{- define "gmg-dbupdate.labels" -}}
{{ include "gmg-dbupdate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "gmg-dbupdate.image" -}}
{{- $image := .Values.image }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/*
The Job's name. hook: fixed (Helm deletes the previous one first). job: the fullname and a hash
of the whole pod template, so a new image or any changed value makes a new Job (a Job's template
is immutable) and an unchanged one keeps the Job that already ran.
*/}}
{{- define "gmg-dbupdate.jobName" -}}
{{- if eq .Values.mode "job" }}
{{- $hash := include "gmg-dbupdate.podTemplate" . | sha256sum | trunc 10 }}
{{- printf "%s-%s" (include "gmg-dbupdate.fullname" . | trunc 52 | trimSuffix "-") $hash }}
{{- else }}
{{- include "gmg-dbupdate.fullname" . }}
{{- end }}
{{- end }}

{{/* Where the database Secret's keys appear as files. */}}
{{- define "gmg-dbupdate.secretDir" -}}
/var/run/secrets/gmg-dbupdate
{{- end }}

{{/* Where MediaGoblin's mediagoblin.ini (mediagoblinConfig) is mounted. */}}
{{- define "gmg-dbupdate.configDir" -}}
/etc/mediagoblin
{{- end }}

{{- define "gmg-dbupdate.appConfig" -}}
{{- or .Values.mediagoblinConfig.existingConfigMap .Values.mediagoblinConfig.existingSecret }}
{{- end }}

{{/*
The database Secret, when one is named. Without one (mediagoblinConfig only), no DATABASE_*
variable is set and the URL is the ini's [mediagoblin] sql_engine (flag > env > config file).
*/}}
{{- define "gmg-dbupdate.dbSecret" -}}
{{- $db := .Values.database }}
{{- if $db.existingSecret }}{{ $db.existingSecret }}
{{- else if not (include "gmg-dbupdate.appConfig" .) }}
{{- fail "database.existingSecret may be left empty only with mediagoblinConfig (the URL then comes from its sql_engine)" }}
{{- end }}
{{- end }}

{{/* Environment shared by the Job and the dbcheck initContainer: connection and settings. */}}
{{- define "gmg-dbupdate.env" -}}
{{- $db := .Values.database }}
{{- if not (include "gmg-dbupdate.dbSecret" .) }}
{{- else if eq $db.secretAs "env" }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $db.existingSecret }}
      key: {{ $db.urlKey }}
{{- else if $db.urlKey }}
- name: DATABASE_URL_FILE
  value: {{ include "gmg-dbupdate.secretDir" . }}/url
{{- else }}
- name: DATABASE_URL
  value: {{ $db.url | quote }}
- name: DATABASE_PASSWORD_FILE
  value: {{ include "gmg-dbupdate.secretDir" . }}/password
{{- end }}
{{- if include "gmg-dbupdate.appConfig" . }}
- name: GMG_CONFIG
  value: {{ include "gmg-dbupdate.configDir" . }}/mediagoblin.ini
{{- end }}
{{- if .Values.plugins }}
- name: GMG_PLUGINS
  value: {{ .Values.plugins | quote }}
{{- end }}
- name: GMG_LOG_FORMAT
  value: json
- name: GMG_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "gmg-dbupdate.volumeMounts" -}}
- name: gmg-dbupdate-tmp
  mountPath: /tmp
{{- if and (include "gmg-dbupdate.dbSecret" .) (eq .Values.database.secretAs "file") }}
- name: gmg-dbupdate-secret
  mountPath: {{ include "gmg-dbupdate.secretDir" . }}
  readOnly: true
{{- end }}
{{- if include "gmg-dbupdate.appConfig" . }}
- name: gmg-dbupdate-app-config
  mountPath: {{ include "gmg-dbupdate.configDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/* volumes: (root context, file mode of the Secret's files) */}}
{{- define "gmg-dbupdate.volumes" -}}
{{- $ := index . 0 }}
{{- $db := $.Values.database }}
- name: gmg-dbupdate-tmp
  emptyDir:
    sizeLimit: {{ $.Values.tmpSizeLimit }}
{{- if and (include "gmg-dbupdate.dbSecret" $) (eq $db.secretAs "file") }}
- name: gmg-dbupdate-secret
  secret:
    secretName: {{ $db.existingSecret }}
    defaultMode: {{ index . 1 }}
    items:
      {{- if $db.urlKey }}
      - key: {{ $db.urlKey }}
        path: url
      {{- else }}
      - key: {{ $db.passwordKey }}
        path: password
      {{- end }}
{{- end }}
{{- $mode := index . 1 }}
{{- with $.Values.mediagoblinConfig }}
{{- if .existingConfigMap }}
- name: gmg-dbupdate-app-config
  configMap:
    name: {{ .existingConfigMap }}
    defaultMode: {{ $mode }}
    items:
      - key: {{ .key }}
        path: mediagoblin.ini
{{- else if .existingSecret }}
- name: gmg-dbupdate-app-config
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: {{ $mode }}
    items:
      - key: {{ .key }}
        path: mediagoblin.ini
{{- end }}
{{- end }}
{{- end }}

{{/* The restricted Pod Security Standard, container side. */}}
{{- define "gmg-dbupdate.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "gmg-dbupdate.podTemplate" -}}
metadata:
  labels:
    {{- include "gmg-dbupdate.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with .Values.serviceAccountName }}
  serviceAccountName: {{ . }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ .Values.runAsUser }}
    runAsGroup: {{ .Values.runAsGroup }}
    fsGroup: {{ .Values.runAsGroup }}
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: dbupdate
      image: {{ include "gmg-dbupdate.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - dbupdate
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      env:
        - name: GMG_WAIT_TIMEOUT
          value: {{ .Values.waitTimeout | quote }}
        - name: GMG_LOCK_TIMEOUT
          value: {{ .Values.lockTimeout | quote }}
        - name: GMG_DDL_LOCK_TIMEOUT
          value: {{ .Values.ddlLockTimeout | quote }}
        {{- include "gmg-dbupdate.env" . | trim | nindent 8 }}
      securityContext:
        {{- include "gmg-dbupdate.containerSecurityContext" . | nindent 8 }}
      terminationMessagePolicy: FallbackToLogsOnError
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        {{- include "gmg-dbupdate.volumeMounts" . | trim | nindent 8 }}
  volumes:
    {{- include "gmg-dbupdate.volumes" (list . "0440") | trim | nindent 4 }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The app side: an initContainer that waits, read-only, until the schema is current (exit 0), or
exits 69 at its deadline and is started again by the kubelet. Its Secret files are mode 0444
because the app's pod may not run with fsGroup 10001.
*/}}
{{- define "gmg-dbupdate.dbcheckSnippet" -}}
initContainers:
  - name: wait-for-schema
    image: {{ include "gmg-dbupdate.image" . }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    args: ["dbcheck", "--wait"]
    env:
      - name: GMG_WAIT_TIMEOUT
        value: {{ .Values.dbcheckSnippet.waitTimeout | quote }}
      {{- include "gmg-dbupdate.env" . | trim | nindent 6 }}
    securityContext:
      {{- include "gmg-dbupdate.containerSecurityContext" . | nindent 6 }}
    terminationMessagePolicy: FallbackToLogsOnError
    resources:
      requests:
        cpu: 10m
        memory: 64Mi
      limits:
        memory: 128Mi
    volumeMounts:
      {{- include "gmg-dbupdate.volumeMounts" . | trim | nindent 6 }}
volumes:
  {{- include "gmg-dbupdate.volumes" (list . "0444") | trim | nindent 2 }}
{{- end }}
