#!/bin/sh
# `make images`: builds a3t-<service>:<version> for the six services from deploy/docker/Dockerfile.
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
mkdir -p var
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
for service in $services; do
  start=$(date +%s)
  echo "building a3t-$service:$version (base $base, $engine) ..."
  "$engine" build -f deploy/docker/Dockerfile --target service --build-arg "SERVICE=$service" \
    "$@" -t "a3t-$service:$version" . >"var/images-$service.log" 2>&1 \
    || { tail -n 30 "var/images-$service.log"; echo "build of $service failed; log: var/images-$service.log"; exit 1; }
  echo "  a3t-$service:$version built in $(( $(date +%s) - start )) s"
done
"$engine" images --filter "reference=a3t-*" --format '{{.Repository}}:{{.Tag}} {{.Size}}'
