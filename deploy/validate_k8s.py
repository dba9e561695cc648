#!/usr/bin/env python3
"""deploy/validate_k8s.py - the Kubernetes checks of `deploy/validate.sh --fast`: offline, seconds.

    validate_k8s.py RENDERED_DIR TOOLS_DIR WORKER PRODUCER CTL [--self-test] [--stale FILE]

RENDERED_DIR holds deploy/k8s/*.yaml with the placeholders filled (validate.sh renders them);
TOOLS_DIR is scripts/bootstrap.sh's $SL_K8S_TOOLS (bin/kubeconform, schemas/). Checks, one
PASS/FAIL line each:

  k8s-kubeconform   kubeconform -strict, every resource against the Kubernetes API schemas of
                    each version in schemas/kubernetes, and the ScaledObject,
                    TriggerAuthentication, PodMonitor and PrometheusRule against the KEDA and
                    Prometheus Operator CRD schemas; a resource without a schema is an error
  k8s-stale-recipe  (--stale FILE: `kubectl kustomize | envsubst`, the recipe configmap.yaml
                    once gave) must be refused: the account id becomes a YAML integer
  k8s-keda          one ScaledObject per worker Deployment, on that stage's own input topic(s)
                    (KAFKA_TOPIC_PREFIX + the stage's topic from `snaplake-worker --help`) and
                    consumer group (snaplake-<stage>, the worker's default); the export stage's
                    maxReplicaCount at most EXPORT_TASK_LIMIT
  k8s-settings      every env name a worker Deployment sets is one its stage reads
                    (`snaplake-worker --help`), and the stage exists
  k8s-metrics       every snaplake_* series the alerts and the Grafana dashboard use is a metric
                    family of worker/worker_metrics.c or common/aws_metrics.c (histograms
                    with _bucket/_sum/_count)
  k8s-promql        every expression of the alerts and the dashboard parses (promql-parser, a
                    port of Prometheus's own parser, from TOOLS_DIR/py)
  k8s-exit-codes    the CronJobs' podFailurePolicy FailJob codes are what the binaries return for
                    a configuration error: run with a bad setting, nothing reachable, they must
                    exit with a listed code (2)
--self-test plants one error of each kind in a copy (PLANTED) and each must make its check fail.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DASHBOARD = os.path.join(HERE, "grafana", "snaplake.json")
# The workers' metric families: their runtime's, and the AWS counters they share with the
# producer.
METRICS_C = [os.path.join(ROOT, "worker", "worker_metrics.c"),
             os.path.join(ROOT, "common", "aws_metrics.c")]
def load_dir(d):
    docs = []
    for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
        with open(f) as fh:
            docs += [(os.path.basename(f), x) for x in yaml.safe_load_all(fh) if x]
    return docs


def kinds(docs, kind):
    return [d for _, d in docs if d.get("kind") == kind]


def run_help(binary):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, env=env)
    return p.stdout + p.stderr


def worker_stages(text):
    """{stage: (input topics, set of setting names)} from `snaplake-worker --help`, whose stage
    lines read "stage copy: exports -> copies" or "stage notify: failures + dlq -> (none)"."""
    common, stages, cur = set(), {}, None
    for line in text.splitlines():
        m = re.match(r"^stage (\w+): (\S+(?: \+ \S+)*) -> ", line)
        if m:
            cur = m.group(1)
            stages[cur] = (m.group(2).split(" + "), set())
            continue
        m = re.match(r"^  ([A-Z][A-Z0-9_]+)\s{2,}\S", line)
        if m:
            (stages[cur][1] if cur else common).add(m.group(1))
    return common, stages


# ---- checks: each returns a list of errors ---------------------------------------------------
def check_kubeconform(d, tools, files=None):
    errs = []
    kc = os.path.join(tools, "bin", "kubeconform")
    schemas = os.path.join(tools, "schemas")
    versions = sorted(v[1:].split("-")[0] for v in os.listdir(os.path.join(schemas, "kubernetes")))
    s = {}
    for v in versions:
        p = subprocess.run(
            [kc, "-strict", "-summary", "-output", "json", "-kubernetes-version", v,
             "-schema-location", os.path.join(schemas, "kubernetes"),
             "-schema-location",
             os.path.join(schemas, "crds", "{{ .Group }}", "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"),
             *(files or sorted(glob.glob(os.path.join(d, "*.yaml"))))],
            capture_output=True, text=True, timeout=120)
        try:
            out = json.loads(p.stdout)
        except ValueError:
            return [f"kubeconform {v}: {p.stdout[-500:]} {p.stderr[-500:]}"]
        for r in out.get("resources", []):
            if r.get("status") != "statusValid":
                errs.append(f"[{v}] {os.path.basename(r['filename'])} {r['kind']} {r['name']}: "
                            f"{r.get('msg', r.get('status'))}")
        s = out.get("summary", {})
        if not errs and (p.returncode != 0 or s.get("valid", 0) == 0):
            errs.append(f"[{v}] kubeconform exit {p.returncode}: {p.stdout[-300:]} {p.stderr[-300:]}")
    if files is None:
        check_kubeconform.summary = f"{s.get('valid', 0)} resources, Kubernetes {', '.join(versions)}"
    return errs


def check_stale(d, tools, stale):
    """The old recipe's output must be refused, for its ConfigMap."""
    if not os.path.isfile(stale) or "kind: ConfigMap" not in open(stale).read():
        return [f"{stale}: no rendered ConfigMap to try"]
    errs = check_kubeconform(d, tools, [stale])
    if not any("ConfigMap snaplake-config" in e and "string" in e for e in errs):
        return ["`kubectl kustomize | envsubst` gave a ConfigMap kubeconform accepts: " + "; ".join(errs)]
    return []


def deployments(docs):
    out = {}
    for dep in kinds(docs, "Deployment"):
        c = dep["spec"]["template"]["spec"]["containers"][0]
        out[c["args"][0]] = (dep, c)
    return out


def check_keda(docs, helpinfo):
    common, stages = helpinfo
    errs = []
    cm = {k: v for m in kinds(docs, "ConfigMap") for k, v in (m.get("data") or {}).items()}
    prefix = cm.get("KAFKA_TOPIC_PREFIX", "snaplake.")
    sos = {s["spec"]["scaleTargetRef"]["name"]: s for s in kinds(docs, "ScaledObject")}
    for stage, (dep, c) in sorted(deployments(docs).items()):
        name = dep["metadata"]["name"]
        so = sos.pop(name, None)
        if not so:
            errs.append(f"Deployment {name}: no ScaledObject scales it")
            continue
        if "replicas" in dep["spec"]:
            errs.append(f"Deployment {name}: sets replicas, which its ScaledObject owns")
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        group = env.get("KAFKA_GROUP_ID") or f"snaplake-{stage}"
        topics = stages[stage][0] if stage in stages else []
        want = sorted(prefix + t for t in topics)
        trig = [t["metadata"] for t in so["spec"]["triggers"] if t["type"] == "kafka"]
        if sorted(t.get("topic", "") for t in trig) != want:
            errs.append(f"ScaledObject {name}: topics {sorted(t.get('topic') for t in trig)}, "
                        f"the stage reads {want}")
        for t in trig:
            if t.get("consumerGroup") != group:
                errs.append(f"ScaledObject {name}: group {t.get('consumerGroup')}, the worker's is {group}")
            if t.get("bootstrapServers") != cm.get("KAFKA_BOOTSTRAP_SERVERS"):
                errs.append(f"ScaledObject {name}: bootstrapServers differ from the ConfigMap's")
        if stage == "export":
            limit = int(cm.get("EXPORT_TASK_LIMIT", "5"))
            if so["spec"].get("maxReplicaCount", 100) > limit:
                errs.append(f"ScaledObject {name}: maxReplicaCount {so['spec'].get('maxReplicaCount')}"
                            f" above EXPORT_TASK_LIMIT {limit}: pods that can never hold a slot")
    errs += [f"ScaledObject {n}: scales no worker Deployment" for n in sorted(sos)]
    return errs


def check_settings(docs, helpinfo):
    common, stages = helpinfo
    errs = []
    for stage, (dep, c) in sorted(deployments(docs).items()):
        if stage not in stages:
            errs.append(f"Deployment {dep['metadata']['name']}: snaplake-worker has no stage {stage}")
            continue
        known = common | stages[stage][1]
        for e in c.get("env", []):
            if e["name"] not in known and not e["name"].startswith("KAFKA_"):
                errs.append(f"Deployment {dep['metadata']['name']}: {e['name']} is read by no "
                            f"table of stage {stage}")
    return errs


def metric_families():
    src = ""
    for path in METRICS_C:
        with open(path) as fh:
            src += fh.read()
    fams = {}
    for m in re.finditer(r'SL_METRIC_(\w+),\s*"(snaplake_\w+)"', src):
        fams[m.group(2)] = m.group(1)
    return fams


def expressions(docs, dashboard):
    """[(where, PromQL)] of the alert rules and the dashboard's panels."""
    out = [(f"alert {r.get('alert', r.get('record'))}", r["expr"])
           for pr in kinds(docs, "PrometheusRule") for g in pr["spec"]["groups"] for r in g["rules"]]
    with open(dashboard) as fh:
        dash = json.load(fh)
    for p in dash.get("panels", []):
        out += [(f"panel {p.get('title')}", t["expr"]) for t in p.get("targets", []) if t.get("expr")]
    return out


def used_metrics(docs, dashboard):
    texts = [e for _, e in expressions(docs, dashboard)]
    return set(re.findall(r"\bsnaplake_[a-z0-9_]+", "\n".join(texts))), len(texts)


def check_promql(docs, tools, dashboard=DASHBOARD):
    sys.path.insert(0, os.path.join(tools, "py"))
    try:
        import promql_parser
    except ImportError as e:
        return [f"no promql-parser in {tools}/py ({e}; scripts/bootstrap.sh installs it)"]
    errs = []
    for where, expr in expressions(docs, dashboard):
        try:
            promql_parser.parse(expr)
        except ValueError as e:
            errs.append(f"{where}: {e}")
    return errs


def check_metrics(docs, dashboard=DASHBOARD):
    fams = metric_families()
    names, n = used_metrics(docs, dashboard)
    errs = []
    for name in sorted(names):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if name in fams or (fams.get(base) == "HISTOGRAM"):
            continue
        errs.append(f"{name}: no worker exports it (worker/worker_metrics.c)")
    if not names:
        errs.append("no snaplake_* series found in the alerts or the dashboard")
    check_metrics.summary = f"{len(names)} series in {n} expressions, all exported"
    return errs


def check_exit_codes(docs, producer, ctl):
    """The config-error exit of each CronJob's binary, against its FailJob codes."""
    errs = []
    env = {"PATH": os.environ.get("PATH", ""), "ASAN_OPTIONS": "detect_leaks=0",
           # A bad value and nothing reachable: only the configuration check can answer.
           "PRODUCER_MAX_ATTEMPTS": "not-a-number", "LAKE_RETENTION_DAYS": "not-a-number",
           "AWS_REGION": "us-east-1", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "PGPORT": "1",
           "LAKE_BUCKET": "b", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    binaries = {"/usr/local/bin/snaplake-producer": producer, "/usr/local/bin/snaplakectl": ctl}
    for cj in kinds(docs, "CronJob"):
        js = cj["spec"]["jobTemplate"]["spec"]
        c = js["template"]["spec"]["containers"][0]
        codes = set()
        for r in js.get("podFailurePolicy", {}).get("rules", []):
            oe = r.get("onExitCodes", {})
            if r.get("action") == "FailJob" and oe.get("operator") == "In":
                codes |= set(oe.get("values", []))
        b = binaries.get(c["command"][0])
        if not b:
            errs.append(f"CronJob {cj['metadata']['name']}: unknown binary {c['command'][0]}")
            continue
        p = subprocess.run([b, *c.get("args", [])], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env=env)
        if p.returncode not in codes:
            errs.append(f"CronJob {cj['metadata']['name']}: a configuration error exits "
                        f"{p.returncode}, FailJob lists {sorted(codes)} ({p.stderr.strip()[:200]})")
    return errs


def run_checks(d, tools, bins, stale=None, dashboard=DASHBOARD, only=None):
    """[(check, errors)]; only: run just that check (the self-test, to stay fast)."""
    docs = load_dir(d)
    worker, producer, ctl = bins
    helpinfo = worker_stages(run_help(worker)) if only in (None, "k8s-keda", "k8s-settings") else None
    checks = [("k8s-kubeconform", lambda: check_kubeconform(d, tools)),
              ("k8s-stale-recipe", lambda: check_stale(d, tools, stale)),
              ("k8s-keda", lambda: check_keda(docs, helpinfo)),
              ("k8s-settings", lambda: check_settings(docs, helpinfo)),
              ("k8s-metrics", lambda: check_metrics(docs, dashboard)),
              ("k8s-promql", lambda: check_promql(docs, tools, dashboard)),
              ("k8s-exit-codes", lambda: check_exit_codes(docs, producer, ctl))]
    return [(name, fn()) for name, fn in checks
            if (only is None or name == only) and (name != "k8s-stale-recipe" or stale)]


# ---- self-test ----------------------------------------------------------------------------
def edit(fname, kind, fn):
    """A mutation of the first `kind` object in fname."""
    def mutate(d):
        p = os.path.join(d, fname)
        with open(p) as fh:
            docs = [x for x in yaml.safe_load_all(fh) if x]
        fn(next(x for x in docs if x["kind"] == kind))
        with open(p, "w") as fh:
            yaml.safe_dump_all(docs, fh, sort_keys=False)
    return mutate


def container(dep):
    return dep["spec"]["template"]["spec"]["containers"][0]


def trigger(so):
    return so["spec"]["triggers"][0]["metadata"]


def dash_edit(d):
    """A dashboard that queries a metric no worker exports."""
    with open(DASHBOARD) as fh:
        dash = json.load(fh)
    dash["panels"][-1]["targets"][0]["expr"] = "sum(rate(snaplake_export_bytes_total[5m]))"
    with open(os.path.join(d, "dashboard.json"), "w") as fh:
        json.dump(dash, fh)


PLANTED = [
    # (kind, check that must catch it, mutation of the copy)
    ("wrong type (ConfigMap value 444455556666, a number)", "k8s-kubeconform",
     edit("configmap.yaml", "ConfigMap", lambda m: m["data"].update(LAKE_EXPECTED_BUCKET_OWNER=444455556666))),
    ("unknown field, strict (readOnlyRootFileSystem)", "k8s-kubeconform",
     edit("worker-copy.yaml", "Deployment",
          lambda d: container(d)["securityContext"].update(readOnlyRootFileSystem=True))),
    ("wrong type (KEDA lagThreshold 8, metadata is strings)", "k8s-kubeconform",
     edit("keda.yaml", "ScaledObject", lambda s: trigger(s).update(lagThreshold=8))),
    ("wrong type (ScaledObject maxReplicaCount \"5\")", "k8s-kubeconform",
     edit("keda.yaml", "ScaledObject", lambda s: s["spec"].update(maxReplicaCount="5"))),
    ("unknown field, strict (PrometheusRule rule `expression`)", "k8s-kubeconform",
     edit("alerts.yaml", "PrometheusRule",
          lambda r: r["spec"]["groups"][0]["rules"][0].update(expression=r["spec"]["groups"][0]["rules"][0].pop("expr")))),
    ("missing required field (PodMonitor selector)", "k8s-kubeconform",
     edit("monitoring.yaml", "PodMonitor", lambda p: p["spec"].pop("selector"))),
    ("unknown field, strict (PodMonitor podMetricsEndpoints[0].portName)", "k8s-kubeconform",
     edit("monitoring.yaml", "PodMonitor",
          lambda p: p["spec"]["podMetricsEndpoints"][0].update(portName="metrics"))),
    ("ScaledObject on another stage's topic", "k8s-keda",
     edit("keda.yaml", "ScaledObject", lambda s: trigger(s).update(topic="snaplake.exports"))),
    ("ScaledObject on a group the worker does not use", "k8s-keda",
     edit("keda.yaml", "ScaledObject", lambda s: trigger(s).update(consumerGroup="snaplake-exports"))),
    ("export scaled past its slots (maxReplicaCount 12)", "k8s-keda",
     edit("keda.yaml", "ScaledObject", lambda s: s["spec"].update(maxReplicaCount=12))),
    ("a Deployment setting replicas its ScaledObject owns", "k8s-keda",
     edit("worker-crawl.yaml", "Deployment", lambda d: d["spec"].update(replicas=1))),
    ("a setting the stage does not read (SHARE_POLICY_PATH)", "k8s-settings",
     edit("worker-share.yaml", "Deployment",
          lambda d: container(d)["env"].append({"name": "SHARE_POLICY_PATH", "value": "/x"}))),
    ("an alert on a metric no worker exports", "k8s-metrics",
     edit("alerts.yaml", "PrometheusRule",
          lambda r: r["spec"]["groups"][0]["rules"][0].update(expr="sum(snaplake_runs_failed_total) > 0"))),
    ("a dashboard panel on a metric no worker exports", "k8s-metrics", dash_edit),
    ("an alert expression that does not parse (unclosed parenthesis)", "k8s-promql",
     edit("alerts.yaml", "PrometheusRule",
          lambda r: r["spec"]["groups"][1]["rules"][0].update(expr="sum(rate(snaplake_consumer_lag[5m]) > 0"))),
    ("CronJob FailJob on an exit code the producer never returns (3)", "k8s-exit-codes",
     edit("producer-cronjob.yaml", "CronJob",
          lambda c: c["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"].update(values=[3]))),
]


def control(d):
    """Every file the mutations touch, re-written unchanged: so a planted error is caught for
    itself, not for what the YAML round trip does."""
    for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
        for kind in {x["kind"] for x in yaml.safe_load_all(open(f)) if x}:
            edit(os.path.basename(f), kind, lambda x: None)(d)


def self_test(d, tools, bins):
    res = []
    for kind, check, mutate in [("control: every file re-written unchanged", None, control)] + PLANTED:
        tmp = tempfile.mkdtemp(prefix="snaplake-k8s-planted.")
        try:
            work = os.path.join(tmp, "k8s")
            shutil.copytree(d, work)
            mutate(work)
            dash = os.path.join(work, "dashboard.json")
            got = run_checks(work, tools, bins, only=check,
                             dashboard=dash if os.path.exists(dash) else DASHBOARD)
            if check is None:
                res.append((f"self-test: {kind}", [f"{n}: {e}" for n, e in got if e]))
                continue
            caught = bool(dict(got).get(check))
            res.append((f"self-test: {kind} -> {check}", [] if caught else ["not caught"]))
        finally:
            shutil.rmtree(tmp)
    return res


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    d, tools, worker, producer, ctl = args[:5]
    stale = sys.argv[sys.argv.index("--stale") + 1] if "--stale" in sys.argv else None
    bins = (worker, producer, ctl)
    res = run_checks(d, tools, bins, stale)
    if "--self-test" in sys.argv:
        res += self_test(d, tools, bins)
    for name, errs in res:
        if errs:
            print(f"FAIL  {name}: " + "; ".join(errs))
        else:
            extra = {"k8s-kubeconform": getattr(check_kubeconform, "summary", ""),
                     "k8s-metrics": getattr(check_metrics, "summary", "")}.get(name, "")
            print(f"PASS  {name}" + (f" ({extra})" if extra else ""))
    sys.exit(1 if any(e for _, e in res) else 0)


if __name__ == "__main__":
    main()
