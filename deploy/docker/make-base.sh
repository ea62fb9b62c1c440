#!/bin/sh
# Makes a Debian bookworm base image with Python 3.11 from Debian's packages, for machines that
# cannot pull python:3.11-slim from a registry: debootstrap a minimal root filesystem, import it.
#   deploy/docker/make-base.sh [IMAGE] [MIRROR]
# IMAGE defaults to a3t-base:bookworm; MIRROR to the first Debian mirror apt uses here.
# Needs root (debootstrap) and podman or docker. About 2 minutes and 300 MB.
set -eu
image="${1:-a3t-base:bookworm}"
# The first Debian archive apt uses (not a third-party repository, not the security archive).
mirror="${2:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
  | grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ')}"
mirror="${mirror:-http://deb.debian.org/debian}"
engine="${ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm from $mirror into $root ..."
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 20 "$root.log"; exit 1; }
rm -f "$root.log"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | "$engine" import - "$image" >/dev/null
echo "base image $image: $("$engine" image inspect --format '{{.Size}}' "$image") bytes"
