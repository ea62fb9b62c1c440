#!/bin/sh
# `make images`: builds the shared a3t-runtime:<version> from deploy/docker/Dockerfile, then
# a3t-<service>:<version> for the six services, each one layer on it (ENV A3T_SERVICE=<service>).
#   deploy/docker/build.sh [SERVICE ...]          (default: all six)
# Settings (environment):
#   ENGINE       podman or docker (default: podman when installed)
#   BASE_IMAGE   the base (default: python:3.11.13-slim-bookworm when it can be pulled, else an
#                a3t-base:bookworm made here by make-base.sh from Debian's packages)
#   WHEELS       a wheel directory mounted into the build, for torch (podman only; default
#                /opt/wheels when it exists)
#   TORCH_INDEX_URL  where torch comes from otherwise (default: the CPU index)
#   CA_BUNDLE    a CA bundle pip trusts inside the build, for networks whose proxy re-signs TLS
#                (default: $PIP_CERT when set; podman only)
#   VERSION      the tag (default: the chart's appVersion)
set -eu
cd "$(dirname "$0")/../.."
engine="${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}"
version="${VERSION:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' deploy/helm/a3t/Chart.yaml)}"
services="${*:-env policy actre critic trainer controller}"
base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  if timeout 60 "$engine" pull -q python:3.11.13-slim-bookworm >/dev/null 2>&1; then
    base=python:3.11.13-slim-bookworm
  else
    base=a3t-base:bookworm
    if ! "$engine" image exists "$base" 2>/dev/null; then
      echo "python:3.11.13-slim-bookworm cannot be pulled: making $base from Debian's packages"
      deploy/docker/make-base.sh "$base"
    fi
  fi
fi
set -- --network host --build-arg "BASE_IMAGE=$base"
[ -n "${TORCH_INDEX_URL:-}" ] && set -- "$@" --build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL"
ca="${CA_BUNDLE:-${PIP_CERT:-}}"
if [ "$engine" = podman ] && [ -n "$ca" ] && [ -f "$ca" ]; then
  set -- "$@" --volume "$ca:/run/a3t-ca.crt:ro" --build-arg PIP_CERT=/run/a3t-ca.crt
fi
wheels="${WHEELS:-/opt/wheels}"
if [ "$engine" = podman ] && [ -d "$wheels" ]; then
  set -- "$@" --volume "$(cd "$wheels" && pwd):/wheels:ro"
fi
mkdir -p var/images
start=$(date +%s)
echo "building a3t-runtime:$version (base $base, $engine; log var/images/runtime.log) ..."
"$engine" build -f deploy/docker/Dockerfile "$@" -t "a3t-runtime:$version" . \
  >var/images/runtime.log 2>&1 \
  || { tail -n 30 var/images/runtime.log; echo "runtime build failed; log: var/images/runtime.log"; exit 1; }
echo "  a3t-runtime:$version built in $(( $(date +%s) - start )) s"
# One layer per service on the shared runtime: the service the entry point starts.
empty="$(mktemp -d)"
trap 'rm -rf "$empty"' EXIT
for service in $services; do
  printf 'FROM a3t-runtime:%s\nENV A3T_SERVICE=%s\nLABEL org.opencontainers.image.title=a3t-%s\n' \
    "$version" "$service" "$service" >"$empty/Containerfile"
  "$engine" build -q -f "$empty/Containerfile" -t "a3t-$service:$version" "$empty" >/dev/null
  echo "  a3t-$service:$version"
done
"$engine" images --filter "reference=a3t-*" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
