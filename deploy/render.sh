#!/usr/bin/env bash
# deploy/render.sh - prints the Kubernetes manifests of deploy/k8s with their ${...}
# placeholders filled in from the environment, ready for `kubectl apply -f -`:
#
#     export ACCOUNT_ID=... ANALYTICS_ACCOUNT_ID=... REGION=... (all of RENDER_VARS below)
#     deploy/render.sh | kubectl apply -f -
#
# The placeholders are substituted in a copy of the YAML *before* kustomize reads it, not in
# kustomize's output: kustomize drops the quotes of "${ANALYTICS_ACCOUNT_ID}", and a bare
# 444455556666 after substitution would be a YAML integer that a ConfigMap refuses.
# Only the variables listed here are substituted (envsubst with an explicit list), so any
# other `$` in the manifests is left alone. A variable that is unset or empty, or a
# placeholder that is not in the list, is an error. Needs kubectl (kustomize built in) and
# envsubst (gettext-base).
set -euo pipefail

RENDER_VARS=(ACCOUNT_ID ANALYTICS_ACCOUNT_ID REGION KAFKA_BOOTSTRAP_SERVERS
             EXPORT_BUCKET EXPORT_PREFIX EXPORT_KMS_KEY_ARN
             LAKE_BUCKET LAKE_PREFIX LAKE_KMS_KEY_ARN CRAWLER_NAME_PREFIX
             IMAGE_REPOSITORY IMAGE_TAG)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
missing=()
format=""
for v in "${RENDER_VARS[@]}"; do
    [[ -n "${!v:-}" ]] || missing+=("$v")
    format+="\${$v} "
done
if ((${#missing[@]})); then
    echo "render.sh: set these variables first: ${missing[*]}" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for f in "$here"/k8s/*.yaml; do
    envsubst "$format" <"$f" >"$tmp/$(basename "$f")"
done
if grep -n '\${[A-Za-z_]*}' "$tmp"/*.yaml >&2; then
    echo "render.sh: placeholders above are not in RENDER_VARS" >&2
    exit 1
fi
kubectl kustomize "$tmp"
