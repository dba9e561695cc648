"""deploy/validate_aws.py - checks the AWS request inputs of deploy/ecs and deploy/events (as
rendered by `deploy/render.sh --aws DIR`) against botocore's own service models and against
our own rules; run by deploy/validate.sh, not by hand:

    validate_aws.py RENDERED_DIR WORKER_BIN PRODUCER_BIN [--self-test]

Prints "PASS name ..." / "FAIL name: ..." lines, one per check (and, with --self-test, one per
planted error), and exits 1 when any failed. The caller counts the lines.

Every file maps to exactly one API operation by its name (OPERATIONS below); a file that maps
to none fails, so a new file cannot slip past the model check.
"""

import copy
import fnmatch
import json
import os
import re
import subprocess
import sys

import botocore.session
import botocore.validate

# (glob under the rendered dir, service, operation), first match wins.
OPERATIONS = [
    ("ecs/taskdef-*.json", "ecs", "RegisterTaskDefinition"),
    ("ecs/service-*.json", "ecs", "CreateService"),
    ("ecs/schedule-*.json", "scheduler", "CreateSchedule"),
    ("ecs/scaling-target-*.json", "application-autoscaling", "RegisterScalableTarget"),
    ("ecs/scaling-policy-*.json", "application-autoscaling", "PutScalingPolicy"),
    ("events/rule.json", "events", "PutRule"),
    ("events/targets.json", "events", "PutTargets"),
    ("events/queue-policy.json", "sqs", "SetQueueAttributes"),
    ("events/queue-dlq-attributes.json", "sqs", "SetQueueAttributes"),
    ("events/queue*.json", "sqs", "CreateQueue"),
]

# Fargate's task sizes: cpu units -> the memory values (MiB) allowed with it.
FARGATE_SIZES = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}

# The task role of each task definition, and the policy file under iam/ it gets.
TASK_ROLE_POLICY = {
    "snaplake-export": "export-worker-policy.json",
    "snaplake-copy": "copy-worker-policy.json",
    "snaplake-crawl": "crawl-worker-policy.json",
    "snaplake-producer": "producer-policy.json",
    "snaplake-producer-sqs": "producer-sqs-policy.json",
}
EXECUTION_ROLE = "snaplake-ecs-execution"

# Environment names that hold secrets, or AWS keys that must never be in a task definition
# (the task role's credentials come through AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, which the
# ECS agent sets).
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|CREDENTIAL|ACCESS_KEY|PRIVATE|DATABASE_URL|_KEY$")
SECRET_VALUE = re.compile(r"://[^/@\s]*:[^/@\s]*@|-----BEGIN|\bAKIA[0-9A-Z]{16}\b")

# KAFKA_* names kafka.h maps to librdkafka properties, minus those it skips.
KAFKA_SKIPPED = re.compile(r"^KAFKA_(SERVICE_.*|PORT(_.*)?|HOME|OPTS|.*_OPTS)$")

# ---- the binaries' settings, from --help ------------------------------------------------------
def read_help(binary):
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    text = p.stdout + p.stderr
    if "Configured by environment variables" not in text:
        raise RuntimeError(f"{binary} --help printed no settings table (exit {p.returncode})")
    return text


def parse_help(text):
    """{section title: set of names}, and the modes of the usage line."""
    sections = {}
    title = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Usage:") and i + 1 < len(lines):
            title = lines[i + 1].strip()
            sections[title] = set()
            continue
        m = re.match(r"^  ([A-Z][A-Z0-9_]+)\s{2,}\S", line)
        if m and title is not None:
            sections[title].add(m.group(1))
    usage = re.search(r"[<\[]([a-z|]+)[>\]]", lines[0] if lines else "")
    modes = set(usage.group(1).split("|")) if usage else set()
    return sections, modes


class Help:
    def __init__(self, worker_text, producer_text):
        self.worker, self.stages = parse_help(worker_text)
        self.producer, self.modes = parse_help(producer_text)
        self.has_health = "HEALTH" in worker_text
        self.producer_health = "HEALTH" in producer_text

    def known(self, binary, arg):
        """Names the binary reads when started with this argument."""
        if binary.endswith("snaplake-worker"):
            names = set()
            for title, s in self.worker.items():
                if title.startswith("runtime settings") or title.startswith(f"stage {arg}:"):
                    names |= s
            return names
        return set().union(*self.producer.values()) if self.producer else set()

    def args(self, binary):
        if binary.endswith("snaplake-worker"):
            return self.stages
        return self.modes


def kafka_passthrough(name):
    return name.startswith("KAFKA_") and len(name) > 6 and not KAFKA_SKIPPED.match(name)


# ---- loading --------------------------------------------------------------------------------
def operation_of(rel):
    for pattern, service, op in OPERATIONS:
        if fnmatch.fnmatch(rel, pattern):
            return service, op
    return None


def load(d):
    files = {}
    for sub in ("ecs", "events", "iam"):
        for f in sorted(os.listdir(os.path.join(d, sub))):
            if f.endswith(".json"):
                with open(os.path.join(d, sub, f)) as fh:
                    files[f"{sub}/{f}"] = json.load(fh)
    return files


def by_glob(files, pattern):
    return {k: v for k, v in files.items() if fnmatch.fnmatch(k, pattern)}


def one(files, rel):
    if rel not in files:
        raise KeyError(f"{rel} missing")
    return files[rel]


def role_name(arn):
    return (arn or "").rsplit("/", 1)[-1]


# ---- EventBridge pattern matching (exact values and prefix, the two forms the rule uses) ----
def pattern_matches(pattern, event):
    """EventBridge semantics for the forms used here: a pattern object's every field must match
    (AND); a field's array matches when any element matches (OR); a string/number element
    matches by equality, {"prefix": s} matches a string starting with s; a nested object
    matches a nested object. An event value that is an array matches when any element does.
    Any other operator is refused, so the rule cannot use one this matcher would misjudge."""
    if not isinstance(event, dict):
        return False
    for key, want in pattern.items():
        if key not in event:
            return False
        got = event[key]
        if isinstance(want, dict):
            if not pattern_matches(want, got):
                return False
            continue
        if not isinstance(want, list):
            raise ValueError(f"pattern field {key}: must be an array or an object")
        values = got if isinstance(got, list) else [got]
        if not any(element_matches(w, v) for w in want for v in values):
            return False
    return True


def element_matches(w, v):
    if isinstance(w, dict):
        if set(w) != {"prefix"}:
            raise ValueError(f"operator {sorted(w)} not supported by this matcher")
        return isinstance(v, str) and v.startswith(w["prefix"])
    return w == v and type(w) is type(v)


def rds_event(source_id, message="Automated cluster snapshot created", source="aws.rds",
              detail_type="RDS DB Cluster Snapshot Event"):
    arn = f"arn:aws:rds:us-east-1:111122223333:cluster-snapshot:{source_id}"
    return {"version": "0", "id": "844e2571-85d4-695f-b930-0153b71dcb42", "detail-type": detail_type,
            "source": source, "account": "111122223333", "time": "2024-02-29T03:10:11Z",
            "region": "us-east-1", "resources": [arn],
            "detail": {"EventCategories": ["backup"], "SourceType": "CLUSTER_SNAPSHOT",
                       "SourceArn": arn, "Date": "2024-02-29T03:10:11.123Z", "Message": message,
                       "SourceIdentifier": source_id, "EventID": "RDS-EVENT-0169"}}


# ---- the checks: each returns a list of error strings ----------------------------------------
def check_models(files):
    session = botocore.session.get_session()
    validator = botocore.validate.ParamValidator()
    errs = []
    n = 0
    for rel, doc in files.items():
        if rel.startswith("iam/"):
            continue
        op = operation_of(rel)
        if op is None:
            errs.append(f"{rel}: no API operation is known for this file name")
            continue
        shape = session.get_service_model(op[0]).operation_model(op[1]).input_shape
        report = validator.validate(doc, shape)
        if report.has_errors():
            errs.append(f"{rel} ({op[0]} {op[1]}): {report.generate_report()}")
        n += 1
    return errs, f"{n} inputs"


def check_taskdefs(files, helpinfo, ctx):
    errs = []
    for rel, td in by_glob(files, "ecs/taskdef-*.json").items():
        if td.get("requiresCompatibilities") != ["FARGATE"] or td.get("networkMode") != "awsvpc":
            errs.append(f"{rel}: Fargate with awsvpc only")
        try:
            cpu, mem = int(td.get("cpu")), int(td.get("memory"))
            if mem not in FARGATE_SIZES.get(cpu, []):
                errs.append(f"{rel}: cpu {cpu} / memory {mem} is not a Fargate size")
        except (TypeError, ValueError):
            errs.append(f"{rel}: task-level cpu and memory must be set (Fargate)")
        if role_name(td.get("taskRoleArn")) not in TASK_ROLE_POLICY:
            errs.append(f"{rel}: task role {td.get('taskRoleArn')} has no policy in TASK_ROLE_POLICY")
        elif TASK_ROLE_POLICY[role_name(td["taskRoleArn"])] not in {k[4:] for k in files if k.startswith("iam/")}:
            errs.append(f"{rel}: policy of {td['taskRoleArn']} missing")
        if role_name(td.get("executionRoleArn")) != EXECUTION_ROLE:
            errs.append(f"{rel}: execution role must be {EXECUTION_ROLE}")
        cds = td.get("containerDefinitions") or []
        if len(cds) != 1:
            errs.append(f"{rel}: one container")
        for c in cds:
            who = f"{rel}/{c.get('name')}"
            if c.get("readonlyRootFilesystem") is not True:
                errs.append(f"{who}: readonlyRootFilesystem must be true")
            user = str(c.get("user", ""))
            uid = user.split(":", 1)[0]
            if not uid.isdigit() or int(uid) == 0:
                errs.append(f"{who}: user must be a numeric non-root uid (the image's 65532), not {user!r}")
            # A long-running binary's health check is its own probe of the liveness endpoint
            # it serves on METRICS_ADDR (the image has no shell or curl); anything else would
            # fake one. Workers and the producer's sqs mode run long; the producer's other
            # modes are scheduled runs that serve nothing, so they have none.
            binary = (c.get("entryPoint") or [""])[0]
            probe = ["CMD", binary, "--probe", "/healthz"]
            env_names = {e.get("name") for e in c.get("environment") or []}
            is_worker = binary.endswith("snaplake-worker")
            long_producer = (binary.endswith("snaplake-producer")
                             and (c.get("command") or [""])[0] in ("sqs", "event"))
            hc = c.get("healthCheck")
            if (is_worker and helpinfo.has_health) or (long_producer and helpinfo.producer_health):
                if not hc or hc.get("command") != probe:
                    errs.append(f"{who}: healthCheck must be {probe}")
                if "METRICS_ADDR" not in env_names:
                    errs.append(f"{who}: METRICS_ADDR must be set for the health check to reach")
                # The producer serves its endpoint between blocking ReceiveMessage long polls
                # (README "Metrics and health"): a probe must outwait one.
                envmap = {e.get("name"): str(e.get("value", "")) for e in c.get("environment") or []}
                wait = int(envmap.get("SQS_WAIT_SECONDS", "5") or 5)
                if long_producer and hc and int(hc.get("timeout", 5)) <= wait:
                    errs.append(f"{who}: healthCheck timeout {hc.get('timeout', 5)} s must exceed "
                                f"SQS_WAIT_SECONDS ({wait} s)")
            elif hc:
                errs.append(f"{who}: healthCheck, but this binary serves no health endpoint")
            if c.get("privileged"):
                errs.append(f"{who}: privileged")
            lc = c.get("logConfiguration") or {}
            opts = lc.get("options") or {}
            if lc.get("logDriver") != "awslogs" or not all(
                    opts.get(k) for k in ("awslogs-group", "awslogs-region", "awslogs-stream-prefix")):
                errs.append(f"{who}: logs must go to the awslogs driver with group, region, stream prefix")
            ep = c.get("entryPoint") or []
            cmd = c.get("command") or []
            if len(ep) != 1 or ep[0] not in ("/usr/local/bin/snaplake-worker", "/usr/local/bin/snaplake-producer"):
                errs.append(f"{who}: entryPoint must be one snaplake binary")
                continue
            arg = cmd[0] if cmd else ""
            if arg not in helpinfo.args(ep[0]):
                errs.append(f"{who}: {ep[0]} has no mode/stage {arg!r} ({sorted(helpinfo.args(ep[0]))})")
            known = helpinfo.known(ep[0], arg)
            env = c.get("environment") or []
            sec = c.get("secrets") or []
            for e in env:
                name, value = e.get("name", ""), str(e.get("value", ""))
                if SECRET_NAME.search(name) or SECRET_VALUE.search(value):
                    errs.append(f"{who}: {name} looks like a secret; it belongs in `secrets`")
                # Any of these would come before (or replace) the container step of the chain.
                if name.startswith("AWS_") and any(k in name for k in (
                        "KEY", "CONTAINER_", "SESSION", "PROFILE", "ROLE_ARN", "WEB_IDENTITY")):
                    errs.append(f"{who}: {name}: credentials come from the task role only")
                if name not in known and not kafka_passthrough(name):
                    errs.append(f"{who}: {name} is not a setting of {os.path.basename(ep[0])} {arg}")
            for s in sec:
                name = s.get("name", "")
                if name not in known and not kafka_passthrough(name):
                    errs.append(f"{who}: secret {name} is not a setting of {os.path.basename(ep[0])} {arg}")
                ctx.setdefault("secret_refs", set()).add(re.sub(r":[^:]*::$", "", s.get("valueFrom", "")))
            if "DATABASE_URL" not in {s.get("name") for s in sec}:
                errs.append(f"{who}: DATABASE_URL must come from `secrets`")
            names = [e.get("name") for e in env] + [s.get("name") for s in sec]
            if len(names) != len(set(names)):
                errs.append(f"{who}: a name is set twice")
    return errs, f"{len(by_glob(files, 'ecs/taskdef-*.json'))} task definitions"


def check_kafka_props(files):
    """The KAFKA_* names become librdkafka properties: librdkafka itself (confluent-kafka's)
    must accept each of them (a client is configured, never connected)."""
    try:
        import confluent_kafka
    except ImportError:
        return None, "confluent_kafka not importable"
    errs = []
    for rel, td in by_glob(files, "ecs/taskdef-*.json").items():
        for c in td.get("containerDefinitions") or []:
            conf = {}
            for e in (c.get("environment") or []) + (c.get("secrets") or []):
                name = e.get("name", "")
                if kafka_passthrough(name) and name != "KAFKA_TOPIC_PREFIX":
                    conf[name[6:].lower().replace("_", ".")] = e.get("value", "x")
            # An empty bootstrap list keeps the client from connecting anywhere (and logging
            # it); the property name is still checked.
            if "bootstrap.servers" in conf:
                conf["bootstrap.servers"] = ""
            try:
                confluent_kafka.Producer(dict(conf, log_level=0))
            except Exception as ex:  # KafkaException, TypeError, ValueError
                errs.append(f"{rel}: librdkafka refuses {sorted(conf)}: {ex}")
    return errs, "every KAFKA_* name is a librdkafka property"


def check_execution_policy(files, ctx):
    doc = one(files, "iam/ecs-execution-role-policy.json")
    errs = []
    granted = set()
    for st in doc["Statement"]:
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if any(a.startswith("secretsmanager:") or a.startswith("ssm:") for a in acts):
            if set(acts) - {"secretsmanager:GetSecretValue", "ssm:GetParameters"}:
                errs.append(f"execution policy: secret actions {acts}")
            granted |= set(res)
        if "*" in res and acts != ["ecr:GetAuthorizationToken"]:
            errs.append(f"execution policy: {acts} on *")
    refs = ctx.get("secret_refs", set())
    if granted != refs:
        errs.append(f"execution policy grants secrets {sorted(granted)}, task definitions reference {sorted(refs)}")
    return errs, f"exactly the {len(refs)} referenced secret(s)"


def check_services(files):
    errs = []
    families = {td.get("family") for td in by_glob(files, "ecs/taskdef-*.json").values()}
    for rel, s in by_glob(files, "ecs/service-*.json").items():
        if s.get("launchType") != "FARGATE":
            errs.append(f"{rel}: launchType FARGATE")
        if not (s.get("networkConfiguration") or {}).get("awsvpcConfiguration", {}).get("subnets"):
            errs.append(f"{rel}: awsvpc network configuration")
        if (s.get("networkConfiguration") or {}).get("awsvpcConfiguration", {}).get("assignPublicIp") != "DISABLED":
            errs.append(f"{rel}: assignPublicIp DISABLED")
        dc = s.get("deploymentConfiguration") or {}
        if dc.get("deploymentCircuitBreaker") != {"enable": True, "rollback": True}:
            errs.append(f"{rel}: deployment circuit breaker with rollback")
        # At-least-once consumers: a rollout must not drop below the desired count (the new task
        # joins the group before an old one leaves; overlap only costs a rebalance, and a
        # redelivered message is deduplicated by the ledger).
        if dc.get("minimumHealthyPercent", 100) < 100 or dc.get("maximumPercent", 200) < 200:
            errs.append(f"{rel}: minimumHealthyPercent 100 / maximumPercent 200")
        if s.get("taskDefinition") not in families:
            errs.append(f"{rel}: task definition {s.get('taskDefinition')} is not one of {sorted(families)}")
        if s.get("taskDefinition") == "snaplake-producer-discover":
            errs.append(f"{rel}: discover mode runs on the schedule, not as a service")
    return errs, f"{len(by_glob(files, 'ecs/service-*.json'))} services"


def check_schedule(files):
    errs = []
    sch = one(files, "ecs/schedule-producer-discover.json")
    td = one(files, "ecs/taskdef-producer-discover.json")
    t = sch.get("Target") or {}
    ep = t.get("EcsParameters") or {}
    if not re.fullmatch(r"cron\(\d+ \d+ \* \* \? \*\)", sch.get("ScheduleExpression", "")):
        errs.append("schedule: a daily cron(m h * * ? *)")
    arn = ep.get("TaskDefinitionArn", "")
    if not re.fullmatch(r"arn:aws:ecs:[^:]+:\d{12}:task-definition/" + re.escape(td["family"]) + r"(:\d+)?", arn):
        errs.append(f"schedule: TaskDefinitionArn {arn} is not the {td['family']} family")
    if td["containerDefinitions"][0].get("command") != ["discover"]:
        errs.append("schedule: the scheduled task must run discover mode")
    if ep.get("LaunchType") != "FARGATE" or not ep.get("NetworkConfiguration"):
        errs.append("schedule: Fargate with a network configuration")
    pol = one(files, "iam/scheduler-role-policy.json")
    passed, runtask = set(), set()
    for st in pol["Statement"]:
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if "iam:PassRole" in acts:
            passed |= set(res)
        if "ecs:RunTask" in acts:
            runtask |= set(res)
    if passed != {td["taskRoleArn"], td["executionRoleArn"]}:
        errs.append(f"scheduler policy passes {sorted(passed)}, the task needs its task and execution roles")
    if not any(fnmatch.fnmatch(arn, r) for r in runtask) or any(
            not r.split("/", 1)[-1].startswith(td["family"]) for r in runtask):
        errs.append(f"scheduler policy: ecs:RunTask on {sorted(runtask)} must be the {td['family']} family only")
    if role_name(t.get("RoleArn")) != "snaplake-scheduler":
        errs.append("schedule: RoleArn must be snaplake-scheduler")
    return errs, f"{sch['ScheduleExpression']} {sch.get('ScheduleExpressionTimezone', 'UTC')}"


def check_scaling(files):
    errs = []
    services = {s.get("serviceName") for s in by_glob(files, "ecs/service-*.json").values()}
    targets = {t["ResourceId"]: t for t in by_glob(files, "ecs/scaling-target-*.json").values()}
    queue = one(files, "events/queue.json")["QueueName"]
    for rid, t in targets.items():
        if rid.rsplit("/", 1)[-1] not in services:
            errs.append(f"scaling target {rid}: no such service")
        if not 1 <= t.get("MinCapacity", 0) <= t.get("MaxCapacity", 0):
            errs.append(f"scaling target {rid}: 1 <= MinCapacity <= MaxCapacity")
        if rid.endswith("/snaplake-copy") and t.get("MaxCapacity", 0) > 12:
            errs.append(f"scaling target {rid}: more copy tasks than the 12 partitions sit idle")
    for rel, p in by_glob(files, "ecs/scaling-policy-*.json").items():
        if p.get("ResourceId") not in targets:
            errs.append(f"{rel}: no scalable target for {p.get('ResourceId')}")
        m = (p.get("TargetTrackingScalingPolicyConfiguration") or {}).get("CustomizedMetricSpecification") or {}
        dims = {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
        if p.get("ResourceId", "").endswith("/snaplake-producer-sqs"):
            if (m.get("Namespace"), m.get("MetricName")) != ("AWS/SQS", "ApproximateNumberOfMessagesVisible") \
                    or dims.get("QueueName") != queue:
                errs.append(f"{rel}: must track ApproximateNumberOfMessagesVisible of {queue}")
        if p.get("ResourceId", "").endswith("/snaplake-copy"):
            if (m.get("Namespace"), m.get("MetricName")) != ("AWS/Kafka", "SumOffsetLag") or \
                    dims.get("Consumer Group") != "snaplake-copy" or dims.get("Topic") != "snaplake.exports":
                errs.append(f"{rel}: must track MSK's SumOffsetLag of group snaplake-copy on snaplake.exports")
    return errs, f"{len(targets)} targets"


def check_rule(files):
    rule = one(files, "events/rule.json")
    errs = []
    try:
        pattern = json.loads(rule["EventPattern"])
    except (KeyError, ValueError) as ex:
        return [f"rule: EventPattern is not JSON: {ex}"], ""
    cases = [
        (rds_event("rds:orders-db-2024-02-29-03-05"), True, "automated snapshot of orders-db"),
        (rds_event("rds:billing-db-2024-02-29-03-05"), True, "automated snapshot of billing-db"),
        (rds_event("rds:orders-db-2024-02-29-03-05", message="Manual cluster snapshot created"), False,
         "manual snapshot"),
        (rds_event("rds:other-db-2024-02-29-03-05"), False, "a cluster not in CLUSTERS"),
        (rds_event("orders-db-manual"), False, "a SourceIdentifier without rds:"),
        (rds_event("rds:orders-db-2024-02-29-03-05", source="aws.ec2"), False, "another source"),
        (rds_event("rds:orders-db-2024-02-29-03-05", detail_type="RDS DB Snapshot Event"), False,
         "an instance snapshot"),
    ]
    moto_pattern = None
    try:
        from moto.events.models import EventPattern
        moto_pattern = EventPattern.load(rule["EventPattern"])
    except ImportError:
        pass
    for event, want, what in cases:
        try:
            got = pattern_matches(pattern, event)
        except ValueError as ex:
            return [f"rule: {ex}"], ""
        if got != want:
            errs.append(f"rule: {what}: matched={got}, want {want}")
        if moto_pattern is not None and moto_pattern.matches_event(event) != want:
            errs.append(f"rule: {what}: moto's matcher says {not want}, want {want}")
    return errs, f"{len(cases)} sample events{' (and moto agrees)' if moto_pattern else ''}"


def check_moto_routing(files):
    """The rule, its target, the queues and their attributes applied to moto's EventBridge and
    SQS (in process, nothing listens), then PutEvents of matching and non-matching events: only
    the matching ones may arrive in the queue, and a message received maxReceiveCount times
    without a delete must move to the DLQ."""
    try:
        import boto3
        from moto import mock_aws
    except ImportError:
        return None, "moto or boto3 not importable"
    url = one(files, "events/queue-policy.json")["QueueUrl"]
    m = re.fullmatch(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/.+", url)
    if not m:
        return [f"queue-policy: QueueUrl {url!r}"], ""
    region, account = m.groups()
    # moto keeps its resources under this account, so that the rendered ARNs resolve. Whatever
    # the caller's environment points at (make test has sourced the local stack's endpoints
    # and keys), these clients talk to the in-process mock only.
    os.environ["MOTO_ACCOUNT_ID"] = account
    for k in [k for k in os.environ if k.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE",
                                                     "AWS_SHARED_CREDENTIALS_FILE", "AWS_SESSION_TOKEN"))]:
        del os.environ[k]
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    errs = []
    with mock_aws():
        sqs = boto3.client("sqs", region_name=region)
        ev = boto3.client("events", region_name=region)
        for rel in ("events/queue-dlq.json", "events/queue.json"):
            sqs.create_queue(**one(files, rel))
        for rel in ("events/queue-dlq-attributes.json", "events/queue-policy.json"):
            sqs.set_queue_attributes(**one(files, rel))
        ev.put_rule(**one(files, "events/rule.json"))
        r = ev.put_targets(**one(files, "events/targets.json"))
        if r.get("FailedEntryCount"):
            errs.append(f"PutTargets: {r.get('FailedEntries')}")
        sent = [("rds:orders-db-2024-02-29-03-05", "Automated cluster snapshot created", True),
                ("rds:billing-db-2024-02-29-03-05", "Automated cluster snapshot created", True),
                ("rds:other-db-2024-02-29-03-05", "Automated cluster snapshot created", False),
                ("rds:orders-db-2024-02-29-03-05", "Manual cluster snapshot created", False)]
        entries = []
        for sid, msg, _ in sent:
            e = rds_event(sid, message=msg)
            entries.append({"Source": e["source"], "DetailType": e["detail-type"],
                            "Detail": json.dumps(e["detail"]), "Resources": e["resources"],
                            "EventBusName": one(files, "events/rule.json").get("EventBusName", "default")})
        r = ev.put_events(Entries=entries)
        if r.get("FailedEntryCount"):
            errs.append(f"PutEvents: {r.get('Entries')}")
        got = []
        while True:
            resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                       VisibilityTimeout=0, MessageSystemAttributeNames=["All"])
            msgs = resp.get("Messages", [])
            if not msgs:
                break
            for msg in msgs:
                body = json.loads(msg["Body"])
                got.append((body["detail"]["SourceIdentifier"], body["detail"]["Message"]))
            if len(got) > 4 * len(sent) * 10:
                break
        want = {(sid, msg) for sid, msg, match in sent if match}
        if set(got) != want:
            errs.append(f"delivered {sorted(set(got))}, want {sorted(want)}")
        dlq_url = url.rsplit("/", 1)[0] + "/" + one(files, "events/queue-dlq.json")["QueueName"]
        moved = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        if want and int(moved["Attributes"]["ApproximateNumberOfMessages"]) != len(want):
            errs.append(f"after maxReceiveCount receives without a delete, the DLQ holds "
                        f"{moved['Attributes']['ApproximateNumberOfMessages']} messages, want {len(want)}")
    return errs, f"{len(want)} of {len(sent)} events delivered, undeleted ones redriven to the DLQ"



def check_queue(files):
    errs = []
    rule = one(files, "events/rule.json")
    targets = one(files, "events/targets.json")
    td = one(files, "ecs/taskdef-producer-sqs.json")
    env = {e["name"]: e["value"] for e in td["containerDefinitions"][0].get("environment", [])}
    url = env.get("SQS_QUEUE_URL", "")
    m = re.fullmatch(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/([A-Za-z0-9_-]+)", url)
    if not m:
        return [f"producer-sqs: SQS_QUEUE_URL {url!r} is not a queue URL"], ""
    region, account, qname = m.groups()
    q = one(files, "events/queue.json")
    dlq = one(files, "events/queue-dlq.json")
    qarn = f"arn:aws:sqs:{region}:{account}:{q['QueueName']}"
    dlqarn = f"arn:aws:sqs:{region}:{account}:{dlq['QueueName']}"
    rulearn = f"arn:aws:events:{region}:{account}:rule/{rule['Name']}"
    if qname != q["QueueName"]:
        errs.append(f"producer-sqs reads {qname}, the queue is {q['QueueName']}")
    try:
        rp = json.loads(q["Attributes"]["RedrivePolicy"])
        if rp.get("deadLetterTargetArn") != dlqarn or not 1 <= int(rp.get("maxReceiveCount", 0)) <= 1000:
            errs.append(f"queue: RedrivePolicy must send to {dlqarn} after 1..1000 receives")
    except (KeyError, ValueError):
        errs.append("queue: no RedrivePolicy")
    # The producer extends the visibility while a publish is slow, but it must start above
    # PUBLISH_TIMEOUT (30 s) so one slow publish does not redeliver by itself.
    if int(q["Attributes"].get("VisibilityTimeout", 30)) <= 30:
        errs.append("queue: VisibilityTimeout must exceed PUBLISH_TIMEOUT (30 s)")
    for t in targets["Targets"]:
        if t["Arn"] != qarn:
            errs.append(f"targets: {t['Arn']} is not {qarn}")
        if (t.get("DeadLetterConfig") or {}).get("Arn") not in (None, dlqarn):
            errs.append("targets: DeadLetterConfig must be the queue's DLQ")
    if targets.get("Rule") != rule["Name"]:
        errs.append("targets: Rule is not the rule")
    for rel, arn, sid in (("events/queue-policy.json", qarn, "queue"), ("events/queue-dlq-attributes.json", dlqarn, "dlq")):
        sa = one(files, rel)
        if not sa["QueueUrl"].endswith("/" + arn.rsplit(":", 1)[-1]):
            errs.append(f"{rel}: QueueUrl is not {arn}")
        try:
            pol = json.loads(sa["Attributes"]["Policy"])
        except (KeyError, ValueError):
            errs.append(f"{rel}: no Policy")
            continue
        for st in pol.get("Statement", []):
            cond = st.get("Condition", {})
            src = cond.get("ArnEquals", {}).get("aws:SourceArn") or cond.get("StringEquals", {}).get("aws:SourceArn")
            if (st.get("Effect") != "Allow" or st.get("Principal") != {"Service": "events.amazonaws.com"}
                    or st.get("Action") not in ("sqs:SendMessage", ["sqs:SendMessage"]) or st.get("Resource") != arn
                    or src != rulearn):
                errs.append(f"{rel}: only {rulearn} may sqs:SendMessage to {arn}: {json.dumps(st)}")
    ra = one(files, "events/queue-dlq-attributes.json")["Attributes"].get("RedriveAllowPolicy")
    if not ra or json.loads(ra) != {"redrivePermission": "byQueue", "sourceQueueArns": [qarn]}:
        errs.append("dlq: RedriveAllowPolicy must admit only the snapshot queue")
    pol = one(files, "iam/producer-sqs-policy.json")
    acts, res = set(), set()
    for st in pol["Statement"]:
        acts |= set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        res |= set(st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    want = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"}
    if acts != want or res != {qarn}:
        errs.append(f"producer-sqs-policy: {sorted(acts)} on {sorted(res)}, want {sorted(want)} on {qarn}")
    return errs, f"{q['QueueName']} -> {dlq['QueueName']}, policy names {rule['Name']}"


def check_trust(files):
    errs = []
    for rel, service in (("iam/ecs-task-role-trust.json", "ecs-tasks.amazonaws.com"),
                         ("iam/scheduler-role-trust.json", "scheduler.amazonaws.com")):
        for st in one(files, rel)["Statement"]:
            if st.get("Principal") != {"Service": service} or st.get("Action") != "sts:AssumeRole" \
                    or "aws:SourceAccount" not in json.dumps(st.get("Condition", {})):
                errs.append(f"{rel}: {service}, sts:AssumeRole, an aws:SourceAccount condition")
    return errs, "ECS tasks and Scheduler, own account only"


def run_checks(d, helpinfo):
    """[(name, errors or None for skipped, detail)] in a fixed order."""
    files = load(d)
    ctx = {}
    out = []
    for name, fn in (("aws-models", lambda: check_models(files)),
                     ("ecs-taskdefs", lambda: check_taskdefs(files, helpinfo, ctx)),
                     ("ecs-kafka-props", lambda: check_kafka_props(files)),
                     ("ecs-execution-role", lambda: check_execution_policy(files, ctx)),
                     ("ecs-services", lambda: check_services(files)),
                     ("ecs-schedule", lambda: check_schedule(files)),
                     ("ecs-scaling", lambda: check_scaling(files)),
                     ("events-pattern", lambda: check_rule(files)),
                     ("events-queue", lambda: check_queue(files)),
                     ("events-moto", lambda: check_moto_routing(files)),
                     ("ecs-trust", lambda: check_trust(files))):
        try:
            errs, detail = fn()
        except Exception as ex:  # a check that cannot even read its input has failed
            errs, detail = [f"{type(ex).__name__}: {ex}"], ""
        out.append((name, errs, detail))
    return out, ctx


# ---- planted errors -------------------------------------------------------------------------
def edit(rel, fn):
    def apply(d):
        p = os.path.join(d, rel)
        with open(p) as fh:
            doc = json.load(fh)
        fn(doc)
        with open(p, "w") as fh:
            json.dump(doc, fh)
    return apply


def container(doc):
    return doc["containerDefinitions"][0]


def set_rule_pattern(doc, fn):
    p = json.loads(doc["EventPattern"])
    fn(p)
    doc["EventPattern"] = json.dumps(p)


PLANTED = [
    # (kind, check that must catch it, mutation)
    ("wrong type (desiredCount \"2\")", "aws-models",
     edit("ecs/service-copy.json", lambda d: d.update(desiredCount="2"))),
    ("wrong type (readonlyRootFilesystem \"true\")", "aws-models",
     edit("ecs/taskdef-export.json", lambda d: container(d).update(readonlyRootFilesystem="true"))),
    ("missing required member (schedule FlexibleTimeWindow)", "aws-models",
     edit("ecs/schedule-producer-discover.json", lambda d: d.pop("FlexibleTimeWindow"))),
    ("missing required member (task definition family)", "aws-models",
     edit("ecs/taskdef-crawl.json", lambda d: d.pop("family"))),
    ("unknown member (Kubernetes' readOnlyRootFilesystem spelling)", "aws-models",
     edit("ecs/taskdef-copy.json", lambda d: container(d).update(readOnlyRootFilesystem=True))),
    ("unknown member (PutScalingPolicy TargetTrackingConfiguration)", "aws-models",
     edit("ecs/scaling-policy-producer-sqs.json",
          lambda d: d.update(TargetTrackingConfiguration=d.pop("TargetTrackingScalingPolicyConfiguration")))),
    ("secret in environment (KAFKA_SASL_PASSWORD)", "ecs-taskdefs",
     edit("ecs/taskdef-export.json",
          lambda d: container(d)["environment"].append({"name": "KAFKA_SASL_PASSWORD", "value": "hunter2"}))),
    ("secret in environment (a password inside DATABASE-like URL)", "ecs-taskdefs",
     edit("ecs/taskdef-crawl.json", lambda d: container(d)["environment"].append(
         {"name": "PGSERVICEFILE", "value": "postgresql://snaplake:hunter2@db:5432/snaplake"}))),
    ("bad cpu/memory combination (256 / 4096)", "ecs-taskdefs",
     edit("ecs/taskdef-crawl.json", lambda d: d.update(memory="4096"))),
    ("a faked health check", "ecs-taskdefs",
     edit("ecs/taskdef-crawl.json", lambda d: container(d).update(
         healthCheck={"command": ["CMD", "/usr/local/bin/snaplake-worker", "--help"]}))),
    ("a worker without its health check", "ecs-taskdefs",
     edit("ecs/taskdef-copy.json", lambda d: container(d).pop("healthCheck"))),
    ("a health check on the scheduled producer, which serves no endpoint", "ecs-taskdefs",
     edit("ecs/taskdef-producer-discover.json", lambda d: container(d).update(
         healthCheck={"command": ["CMD", "/usr/local/bin/snaplake-producer", "--probe", "/healthz"]}))),
    ("the sqs producer without its health check", "ecs-taskdefs",
     edit("ecs/taskdef-producer-sqs.json", lambda d: container(d).pop("healthCheck"))),
    ("a producer health check shorter than its long poll", "ecs-taskdefs",
     edit("ecs/taskdef-producer-sqs.json", lambda d: container(d)["healthCheck"].update(timeout=5))),
    ("root user", "ecs-taskdefs", edit("ecs/taskdef-copy.json", lambda d: container(d).update(user="0:0"))),
    ("writable root filesystem", "ecs-taskdefs",
     edit("ecs/taskdef-producer-discover.json", lambda d: container(d).update(readonlyRootFilesystem=False))),
    ("no awslogs", "ecs-taskdefs",
     edit("ecs/taskdef-export.json", lambda d: container(d)["logConfiguration"].update(logDriver="json-file"))),
    ("environment name the binary does not read (EXPORT_BUCKET)", "ecs-taskdefs",
     edit("ecs/taskdef-export.json",
          lambda d: container(d)["environment"].append({"name": "EXPORT_BUCKET", "value": "b"}))),
    ("copy-stage setting in the crawl task (LAKE_BUCKET)", "ecs-taskdefs",
     edit("ecs/taskdef-crawl.json",
          lambda d: container(d)["environment"].append({"name": "LAKE_BUCKET", "value": "b"}))),
    ("AWS keys in environment", "ecs-taskdefs",
     edit("ecs/taskdef-copy.json",
          lambda d: container(d)["environment"].append({"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"}))),
    ("unknown librdkafka property (KAFKA_BOOTSTRAP_SERVER)", "ecs-kafka-props",
     edit("ecs/taskdef-copy.json",
          lambda d: container(d)["environment"].append({"name": "KAFKA_BOOTSTRAP_SERVER", "value": "b:9092"}))),
    ("execution role reads a secret no task references", "ecs-execution-role",
     edit("iam/ecs-execution-role-policy.json",
          lambda d: [s.update(Resource="*") for s in d["Statement"] if s["Sid"] == "TheReferencedSecret"])),
    ("service without circuit-breaker rollback", "ecs-services",
     edit("ecs/service-export.json",
          lambda d: d["deploymentConfiguration"]["deploymentCircuitBreaker"].update(rollback=False))),
    ("service that stops old tasks first (minimumHealthyPercent 50)", "ecs-services",
     edit("ecs/service-copy.json", lambda d: d["deploymentConfiguration"].update(minimumHealthyPercent=50))),
    ("scheduler passes a role the task does not use", "ecs-schedule",
     edit("iam/scheduler-role-policy.json", lambda d: d["Statement"][2].update(
         Resource=d["Statement"][2]["Resource"] + ["arn:aws:iam::111122223333:role/snaplake-export"]))),
    ("pattern without the Message filter (manual snapshots match)", "events-pattern",
     edit("events/rule.json", lambda d: set_rule_pattern(d, lambda p: p["detail"].pop("Message")))),
    ("pattern prefix that admits every cluster", "events-pattern",
     edit("events/rule.json", lambda d: set_rule_pattern(
         d, lambda p: p["detail"].update(SourceIdentifier=[{"prefix": "rds:"}])))),
    ("queue policy without aws:SourceArn", "events-queue",
     edit("events/queue-policy.json", lambda d: d["Attributes"].update(Policy=json.dumps(
         {"Version": "2012-10-17", "Statement": [dict(json.loads(d["Attributes"]["Policy"])["Statement"][0],
                                                      Condition={})]})))),
    ("rule target that is the DLQ, not the queue", "events-moto",
     edit("events/targets.json", lambda d: d["Targets"][0].update(Arn=d["Targets"][0]["Arn"] + "-dlq"))),
    ("queue without a redrive policy", "events-queue",
     edit("events/queue.json", lambda d: d["Attributes"].pop("RedrivePolicy"))),
    ("producer SQS policy with sqs:SendMessage", "events-queue",
     edit("iam/producer-sqs-policy.json", lambda d: d["Statement"][0]["Action"].append("sqs:SendMessage"))),
    ("SQS scaling on another metric", "ecs-scaling",
     edit("ecs/scaling-policy-producer-sqs.json", lambda d: d["TargetTrackingScalingPolicyConfiguration"][
         "CustomizedMetricSpecification"].update(MetricName="NumberOfMessagesSent"))),
    ("file that maps to no API operation", "aws-models",
     lambda d: open(os.path.join(d, "ecs", "cluster.json"), "w").write("{}")),
]


def self_test(d, helpinfo):
    import shutil
    import tempfile
    results = []
    for kind, check, mutate in PLANTED:
        with tempfile.TemporaryDirectory(prefix="snaplake-deploy-plant.") as tmp:
            work = os.path.join(tmp, "r")
            shutil.copytree(d, work)
            mutate(work)
            out, _ = run_checks(work, helpinfo)
        errs = {name: e for name, e, _ in out}
        caught = errs.get(check)
        if caught:
            results.append((f"self-test: {kind}", [], f"{check}: {caught[0][:110]}"))
        else:
            results.append((f"self-test: {kind}", [f"not caught by {check}"], ""))
    return results


def main():
    d, worker, producer = sys.argv[1:4]
    try:
        helpinfo = Help(read_help(worker), read_help(producer))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as ex:
        print(f"FAIL  ecs-help: {ex}")
        return 1
    results, ctx = run_checks(d, helpinfo)
    if "--self-test" in sys.argv[4:]:
        if any(e for _, e, _ in results):
            results.append(("self-test", ["the unplanted files must pass first"], ""))
        else:
            results += self_test(d, helpinfo)
    failed = 0
    for name, errs, detail in results:
        if errs is None:
            print(f"SKIP  {name}: {detail}")
        elif errs:
            failed += 1
            print(f"FAIL  {name}: " + "\n      ".join(errs))
        else:
            print(f"PASS  {name}{f' ({detail})' if detail else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
