#!/usr/bin/env python3
"""deploy/validate_compose.py - the Dockerfile's base pin and docker-compose.yml, offline.

    validate_compose.py DOCKERFILE COMPOSE_FILE COMPOSE_SCHEMA WORKER PRODUCER [--self-test]

  dockerfile-pin   every base image (FROM, or the ARG it names) is pinned by a sha256 image
                   digest; a floating tag would change the image under the same Dockerfile
  compose-schema   the file against the Compose Specification's JSON schema (COMPOSE_SCHEMA,
                   schema/compose-spec.json of the compose-go module that `docker compose`
                   itself parses with; scripts/bootstrap.sh lays it out), and `docker compose
                   config -q` too where Docker Compose is installed
  compose-rules    what `config` cannot know, the trial's findings: every snaplake service has
                   each setting its binary requires (`--help`: "required"), in its environment
                   or in an env file it sources that a one-shot service it waits for writes;
                   a file it sources is made readable to the image's uid 65532; its
                   AWS_ENDPOINT_URL names a service of the file; every depends_on exists;
                   of a pair X / X_FILE whose help says "one of the two is required" (notify's
                   webhook) one is set; a *_FILE path it sets is mounted in the container
--self-test plants one error of each kind (PLANTED) and each must make its check fail.
"""
import copy
import json
import re
import shutil
import subprocess
import sys

import jsonschema
import yaml

IMAGE_UID = "65532"
# Env files the one-shot services write, and the names in them (tests/aws_setup.py,
# tests/compose_aws.py).
ENV_FILES = {
    "/stack/aws-keys.env": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
    "/stack/aws-resources.env": {"EXPORT_S3_BUCKET", "EXPORT_KMS_KEY_ID", "LAKE_BUCKET",
                                 "LAKE_PREFIX"},
}
WRITERS = {"/stack/aws-keys.env": "aws_setup.py", "/stack/aws-resources.env": "compose_aws.py"}
# Written mode 0600 (secrets), so only the owner reads them: the writer must hand them to the
# image's uid. compose_aws.py's file holds no secret and is 0644.
PRIVATE = {"/stack/aws-keys.env"}


def check_pin(text):
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, flags=re.M))
    stages = set(re.findall(r"^FROM .* AS (\w+)", text, flags=re.M | re.I))
    errs = []
    for ref in re.findall(r"^FROM\s+(?:--\S+\s+)*(\S+)", text, flags=re.M):
        if ref in stages:
            continue
        m = re.fullmatch(r"\$\{?(\w+)\}?", ref)
        image = args.get(m.group(1), "") if m else ref
        if not re.fullmatch(r"[\w./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}", image):
            errs.append(f"FROM {ref} ({image or 'no default'}) is not pinned by an image digest")
    return errs


def required(help_text):
    """{section title: set of required names} of a --help settings table. A name X_FILE whose
    help line says "one of the two is required" adds the pair "X|X_FILE": either will do."""
    out, title, name = {}, None, None
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Usage:") and i + 1 < len(lines):
            title = lines[i + 1].strip()
            out[title] = set()
        m = re.match(r"^  ([A-Z][A-Z0-9_]+)\s{2,}\S", line)
        if m:
            name = m.group(1)
        if m and title and re.search(r"\brequired\b", line):
            out[title].add(m.group(1))
        elif (not m and title and name and name.endswith("_FILE")
              and "one of the two is required" in line):
            out[title].add(f"{name[:-5]}|{name}")
    return out


def mounted(svc, path):
    """Whether a volume of svc puts something at path (or at a folder above it)."""
    for v in svc.get("volumes") or []:
        target = v.split(":")[1] if isinstance(v, str) and ":" in v else \
            (v.get("target", "") if isinstance(v, dict) else "")
        if target and (path == target or path.startswith(target.rstrip("/") + "/")):
            return True
    return False


def run_help(binary):
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL, env={"ASAN_OPTIONS": "detect_leaks=0"})
    return p.stdout + p.stderr


def waits_for(services, name, seen=None):
    """Services name waits for, transitively: {service: condition}."""
    seen = {} if seen is None else seen
    deps = services.get(name, {}).get("depends_on", {})
    if isinstance(deps, list):
        deps = {d: {"condition": "service_started"} for d in deps}
    for d, c in deps.items():
        if d not in seen:
            seen[d] = (c or {}).get("condition", "service_started")
            waits_for(services, d, seen)
    return seen


def check_rules(doc, worker_req, producer_req):
    errs = []
    services = doc.get("services", {})
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        for d in deps if isinstance(deps, (list, dict)) else []:
            if d not in services:
                errs.append(f"{name}: depends_on {d}, which is not a service")
        cmd = " ".join(svc.get("command") or []) if isinstance(svc.get("command"), list) \
            else str(svc.get("command") or "")
        m = re.search(r"exec (snaplake-worker|snaplake-producer)\s*(\w*)", cmd)
        if not m:
            continue
        binary, arg = m.groups()
        if binary == "snaplake-worker":
            need = set().union(*(v for k, v in worker_req.items()
                                 if k.startswith("runtime settings") or k.startswith(f"stage {arg}:")))
        else:
            need = set().union(*producer_req.values()) if producer_req else set()
        env = svc.get("environment") or {}
        have = set(env if isinstance(env, dict) else (e.split("=", 1)[0] for e in env))
        upstream = waits_for(services, name)
        for f in re.findall(r"\. (/stack/[\w.-]+)", cmd):
            have |= ENV_FILES.get(f, set())
            writer = [s for s, c in upstream.items() if c == "service_completed_successfully"
                      and WRITERS.get(f, "?") in json.dumps(services[s].get("command"))]
            if not writer:
                errs.append(f"{name}: sources {f}, which no service it waits for to complete writes")
            for s in writer if f in PRIVATE else []:
                wcmd = json.dumps(services[s].get("command"))
                if svc.get("user", IMAGE_UID).split(":")[0] != "0" and \
                        f"chown {IMAGE_UID}" not in wcmd and "chmod" not in wcmd:
                    errs.append(f"{name}: {f} is written by {s} as root, mode 0600: unreadable to "
                                f"uid {IMAGE_UID}")
        for n in sorted(need):
            if not any(alt in have for alt in n.split("|")):
                errs.append(f"{name} ({binary} {arg}): {n.replace('|', ' or ')} is required "
                            "and not set")
        for k, v in (env.items() if isinstance(env, dict) else []):
            if k.endswith("_FILE") and str(v).startswith("/") and not mounted(svc, str(v)):
                errs.append(f"{name}: {k}={v} is not mounted in the container")
        ep = env.get("AWS_ENDPOINT_URL", "") if isinstance(env, dict) else ""
        host = re.match(r"https?://([^:/]+)", ep)
        if ep and (not host or host.group(1) not in services):
            errs.append(f"{name}: AWS_ENDPOINT_URL {ep} names no service of the file")
        elif host and host.group(1) not in upstream:
            errs.append(f"{name}: does not wait for {host.group(1)}, its AWS endpoint")
    return errs


def check_schema(doc, schema, path):
    errs = [f"{'/'.join(map(str, e.path))}: {e.message}"
            for e in jsonschema.Draft202012Validator(schema).iter_errors(doc)]
    docker = shutil.which("docker")
    if path and docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        p = subprocess.run([docker, "compose", "-f", path, "config", "-q"], capture_output=True, text=True)
        if p.returncode:
            errs.append(f"docker compose config: {p.stderr.strip()}")
        check_schema.note = "and docker compose config"
    else:
        check_schema.note = "no Docker Compose here: schema only"
    return errs


def run_all(dockerfile, doc, schema, worker_req, producer_req, path=None):
    return [("dockerfile-pin", check_pin(dockerfile)),
            ("compose-schema", check_schema(doc, schema, path)),
            ("compose-rules", check_rules(doc, worker_req, producer_req))]


def svc(name, fn):
    def mutate(state):
        fn(state["doc"]["services"][name])
    return mutate


def cmd_sub(name, old, new):
    def fn(s):
        s["command"] = [c.replace(old, new) for c in s["command"]]
    return svc(name, fn)


def dockerfile_sub(old, new):
    def mutate(state):
        state["dockerfile"] = re.sub(old, new, state["dockerfile"], flags=re.M)
    return mutate


PLANTED = [
    ("a floating base tag (debian:bookworm-slim)", "dockerfile-pin",
     dockerfile_sub(r"^ARG DEBIAN_IMAGE=.*$", "ARG DEBIAN_IMAGE=debian:bookworm-slim")),
    ("a FROM with a tag and no digest", "dockerfile-pin",
     dockerfile_sub(r"^FROM \$\{DEBIAN_IMAGE\} AS build", "FROM debian:12-slim AS build")),
    ("unknown depends_on condition (service_complete)", "compose-schema",
     svc("aws-resources", lambda s: s["depends_on"]["standin"].update(condition="service_complete"))),
    ("wrong type (ports as a string)", "compose-schema",
     svc("moto", lambda s: s.update(ports="127.0.0.1:15000:5000"))),
    ("export without EXPORT_S3_BUCKET (the trial's finding)", "compose-rules",
     svc("export", lambda s: (s.update(environment={k: v for k, v in s["environment"].items()
                                                      if k != "EXPORT_S3_BUCKET"}),
                              s.update(command=[c.replace(". /stack/aws-resources.env && ", "")
                                                for c in s["command"]])))),
    ("the key file left root-owned 0600 (no chown)", "compose-rules",
     cmd_sub("aws-setup", "chown 65532:65532 /stack/aws-keys.env", "true")),
    ("no AWS set-up step before the workers", "compose-rules",
     lambda st: [st["doc"]["services"][n].update(depends_on={"kafka": {"condition": "service_healthy"}})
                 for n in ("export", "copy", "crawl", "producer")]),
    ("notify without its webhook (neither NOTIFY_WEBHOOK_URL nor _FILE)", "compose-rules",
     svc("notify", lambda s: s["environment"].pop("NOTIFY_WEBHOOK_URL"))),
    ("share without its policy file mounted", "compose-rules",
     svc("share", lambda s: s.update(volumes=["stack:/stack:ro"]))),
    ("share without SHARE_POLICY_FILE", "compose-rules",
     svc("share", lambda s: s["environment"].pop("SHARE_POLICY_FILE"))),
    ("AWS_ENDPOINT_URL at a service that is not there", "compose-rules",
     svc("crawl", lambda s: s["environment"].update(AWS_ENDPOINT_URL="http://standin-gone:5001"))),
]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dockerfile_path, compose_path, schema_path, worker, producer = args[:5]
    with open(dockerfile_path) as fh:
        dockerfile = fh.read()
    with open(compose_path) as fh:
        doc = yaml.safe_load(fh)
    with open(schema_path) as fh:
        schema = json.load(fh)
    worker_req, producer_req = required(run_help(worker)), required(run_help(producer))
    if not any(worker_req.values()) or not any(producer_req.values()):
        print("FAIL  compose-rules: no required settings read from the binaries' --help")
        sys.exit(1)
    res = run_all(dockerfile, doc, schema, worker_req, producer_req, compose_path)
    note = {"compose-schema": check_schema.note,
            "compose-rules": f"{len(doc.get('services', {}))} services"}
    if "--self-test" in sys.argv:
        for kind, check, mutate in PLANTED:
            state = {"dockerfile": dockerfile, "doc": copy.deepcopy(doc)}
            mutate(state)
            got = dict(run_all(state["dockerfile"], state["doc"], schema, worker_req, producer_req))
            res.append((f"self-test: {kind} -> {check}", [] if got[check] else ["not caught"]))
    for name, errs in res:
        if errs:
            print(f"FAIL  {name}: " + "; ".join(errs))
        else:
            print(f"PASS  {name}" + (f" ({note[name]})" if name in note else ""))
    sys.exit(1 if any(e for _, e in res) else 0)


if __name__ == "__main__":
    main()
