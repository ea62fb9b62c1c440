#!/bin/sh
# Starts the a3t service this image is for (A3T_SERVICE): python -m a3t_<service> ARGS.
# It listens on all interfaces unless A3T_<SERVICE>_HOST says otherwise: the code's default,
# 127.0.0.1, cannot be reached from outside a container.
set -eu
case "${A3T_SERVICE:-}" in
  env | policy | actre | critic | trainer | controller) ;;
  *)
    echo "a3t-entrypoint: A3T_SERVICE must be env, policy, actre, critic, trainer or" \
      "controller; got '${A3T_SERVICE:-}' (build with --build-arg SERVICE=...)" >&2
    exit 2
    ;;
esac
upper=$(printf '%s' "$A3T_SERVICE" | tr '[:lower:]' '[:upper:]')
eval "export A3T_${upper}_HOST=\"\${A3T_${upper}_HOST:-0.0.0.0}\""
exec python -m "a3t_${A3T_SERVICE}" "$@"
