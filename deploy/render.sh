#!/usr/bin/env bash
# deploy/render.sh - fills the ${...} placeholders of deploy/ from the environment.
#
#   deploy/render.sh                 prints the Kubernetes manifests of deploy/k8s, ready for
#                                    `kubectl apply -f -`
#   deploy/render.sh --aws OUTDIR    writes the ECS, Scheduler, EventBridge, SQS and Application
#                                    Auto Scaling request inputs of deploy/ecs and deploy/events
#                                    to OUTDIR/ecs and OUTDIR/events (one file per API call, for
#                                    `aws ... --cli-input-json file://OUTDIR/...`), and the IAM
#                                    documents of deploy/iam that ECS uses to OUTDIR/iam
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
# envsubst (gettext-base); --aws needs only envsubst.
#
# --aws: CLUSTERS (comma or space separated cluster ids, the producer's CLUSTERS) may be empty
# (every cluster); it also gives the rule's EVENT_SOURCE_PREFIXES, one EventBridge
# {"prefix": "rds:<cluster>"} per cluster (just "rds:" when empty), computed here. MSK_CLUSTER_NAME
# may be unset when Kafka is not MSK: the copy stage's lag scaling files are then not written
# (nothing else publishes a consumer-lag metric, see README.md).
set -euo pipefail

RENDER_VARS=(ACCOUNT_ID ANALYTICS_ACCOUNT_ID REGION KAFKA_BOOTSTRAP_SERVERS
             EXPORT_BUCKET EXPORT_PREFIX EXPORT_KMS_KEY_ARN
             LAKE_BUCKET LAKE_PREFIX LAKE_KMS_KEY_ARN CRAWLER_NAME_PREFIX
             IMAGE_REPOSITORY IMAGE_TAG)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ "${1:-}" == --aws ]]; then
    out="${2:?usage: render.sh --aws OUTDIR}"
    AWS_VARS=(ACCOUNT_ID ANALYTICS_ACCOUNT_ID REGION KAFKA_BOOTSTRAP_SERVERS
              EXPORT_BUCKET EXPORT_PREFIX EXPORT_KMS_KEY_ARN
              LAKE_BUCKET LAKE_PREFIX LAKE_KMS_KEY_ARN CRAWLER_NAME_PREFIX
              IMAGE_REPOSITORY IMAGE_TAG ECR_REPOSITORY ECS_CLUSTER SUBNET_1 SUBNET_2
              SECURITY_GROUP_ID SECRET_ARN SECRETS_KMS_KEY_ARN)
    missing=()
    format='${CLUSTERS} ${EVENT_SOURCE_PREFIXES} ${MSK_CLUSTER_NAME} '
    for v in "${AWS_VARS[@]}"; do
        [[ -n "${!v:-}" ]] || missing+=("$v")
        format+="\${$v} "
    done
    if ((${#missing[@]})); then
        echo "render.sh: set these variables first: ${missing[*]}" >&2
        exit 1
    fi
    export CLUSTERS="${CLUSTERS:-}"
    prefixes=()
    for c in ${CLUSTERS//,/ }; do
        # Cluster identifiers are letters, digits and hyphens (RDS): nothing to escape inside
        # the rule's EventPattern, which is a JSON string holding JSON.
        if [[ ! "$c" =~ ^[A-Za-z][A-Za-z0-9-]{0,62}$ ]]; then
            echo "render.sh: CLUSTERS: '$c' is not an RDS cluster identifier" >&2
            exit 1
        fi
        prefixes+=("{\\\"prefix\\\":\\\"rds:$c\\\"}")
    done
    ((${#prefixes[@]})) || prefixes=("{\\\"prefix\\\":\\\"rds:\\\"}")
    EVENT_SOURCE_PREFIXES="$(IFS=,; echo "${prefixes[*]}")"
    export EVENT_SOURCE_PREFIXES
    mkdir -p "$out/ecs" "$out/events" "$out/iam"
    for f in "$here"/ecs/*.json "$here"/events/*.json; do
        d="$out/$(basename "$(dirname "$f")")/$(basename "$f")"
        if [[ -z "${MSK_CLUSTER_NAME:-}" && "$f" == */scaling-*-copy.json ]]; then
            echo "render.sh: MSK_CLUSTER_NAME unset, $(basename "$f") not written" >&2
            continue
        fi
        envsubst "$format" <"$f" >"$d"
    done
    for f in ecs-task-role-trust ecs-execution-role-policy scheduler-role-trust \
             scheduler-role-policy producer-sqs-policy producer-policy export-worker-policy \
             copy-worker-policy crawl-worker-policy; do
        envsubst "$format" <"$here/iam/$f.json" >"$out/iam/$f.json"
    done
    if grep -n '\${[A-Za-z_]*}' "$out"/*/*.json >&2; then
        echo "render.sh: placeholders above are not in AWS_VARS" >&2
        exit 1
    fi
    exit 0
fi

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
