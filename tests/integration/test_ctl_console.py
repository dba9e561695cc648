"""snaplakectl's execution console on the local stack: runs filters and --json, show's attempts
and timeline, redo of a failed export (a new task generation, the run ends succeeded), replay
of a consumer group through the Kafka Admin API (refused with live members, --force), stale
runs after a SIGKILLed worker, and the exit statuses of bad flags and unknown ids.

The read-only commands run as a role that may only SELECT the ledger tables.

    .venv/bin/pytest -q tests/integration/test_ctl_console.py
"""

import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from test_ctl import ctl, psql, ro_role, ledger  # noqa: E402,F401  (fixtures)
from test_export import ctx, start_worker  # noqa: E402,F401  (ctx: a fixture)

CAUSE = "The IAM role does not have kms:GenerateDataKey on the export key (test)"


@pytest.fixture(scope="module")
def ro(ro_role):
    """The SELECT-only role of test_ctl (it may read the four ledger tables, nothing else)."""
    return ro_role["role"]


def ctl_ro(role, *args):
    return ctl(*args, PGUSER=role)


def q(s):
    return "'%s'" % s.replace("'", "''")


def seed_run(run_id, cluster, created="now()"):
    psql("INSERT INTO snaplake_runs (run_id, cluster, mode, date, created_at) VALUES "
         "(%s, %s, 'cluster', '2024-01-02', %s);" % (q(run_id), q(cluster), created))


def seed_stage(run_id, stage, status, attempt=1, owner=None, extra=""):
    psql("INSERT INTO snaplake_stage_runs (run_id, stage, status, attempt, started_at, "
         "finished_at, owner_id, owner_host, error_code, error_message) VALUES "
         "(%s, %s, %s, %d, now() - interval '40 seconds', %s, %s, %s, %s, %s);%s"
         % (q(run_id), q(stage), q(status), attempt,
            "now()" if status in ("succeeded", "failed") else "NULL",
            q(owner) if owner else "NULL", q("host-" + owner) if owner else "NULL",
            "'ExportFailed'" if status == "failed" else "NULL",
            q(CAUSE) if status == "failed" else "NULL", extra))


def seed_worker(worker_id, age_s, heartbeat_ms=500):
    psql("INSERT INTO snaplake_workers (worker_id, host, stage, pid, heartbeat_ms, heartbeat_at)"
         " VALUES (%s, %s, 'export', 1, %d, now() - make_interval(secs => %d));"
         % (q(worker_id), q("host-" + worker_id), heartbeat_ms, age_s))


@pytest.fixture(scope="module")
def seeded(ledger, ro):
    """Five runs of one cluster (and one of another): failed, running (live owner), stale
    (owner silent), succeeded, three days old; plus an adopted export's history."""
    u = h.uid(8)
    cl, other = "sl-con-%s" % u, "sl-con-other-%s" % u
    ids = {k: "%s-%s-2024-01-02-03-04" % (cl, k) for k in
           ("failed", "running", "stale", "ok", "old", "adopted")}
    live, dead = "export@live-%s:1-aa" % u, "export@dead-%s:2-bb" % u
    seed_worker(live, 0, heartbeat_ms=60000)
    seed_worker(dead, 120)
    for k, rid in ids.items():
        seed_run(rid, cl, "now() - interval '3 days'" if k == "old" else "now()")
    seed_stage(ids["failed"], "export", "failed")
    msg = {"v": 1, "type": "snapshot", "run_id": ids["failed"], "cluster": cl, "mode": "cluster",
           "date": "2024-01-02", "produced_at": h.now_rfc3339(), "source": "cluster",
           "source_arn": "arn:aws:rds:us-east-1:%s:cluster:%s" % (h.ACCOUNT, cl)}
    psql("UPDATE snaplake_stage_runs SET input_msg = %s WHERE run_id = %s;"
         % (q(json.dumps(msg)), q(ids["failed"])))
    seed_stage(ids["running"], "export", "running", owner=live)
    seed_stage(ids["stale"], "export", "running", owner=dead)
    seed_stage(ids["ok"], "export", "succeeded")
    seed_stage(ids["old"], "export", "succeeded")
    # The adopted export: attempt 1 began 30 s ago and never finished (its worker crashed);
    # attempt 2 adopted the task 0.4 s before it completed.
    rid = ids["adopted"]
    seed_stage(rid, "export", "succeeded", attempt=2)
    psql("INSERT INTO snaplake_stage_events (run_id, stage, status, attempt, at, details) VALUES"
         " (%s, 'export', 'running', 1, now() - interval '30 seconds', '{\"worker_id\": \"w1\","
         " \"host\": \"h1\"}'),"
         " (%s, 'export', 'running', 2, now() - interval '0.4 seconds', NULL),"
         " (%s, 'export', 'succeeded', 2, now(), NULL);"
         "UPDATE snaplake_stage_runs SET started_at = now() - interval '0.4 seconds',"
         " aws_ids = '{\"export_task_id\": \"%s\"}', input_msg = '{\"v\":1}'"
         " WHERE run_id = %s;" % (q(rid), q(rid), q(rid), rid, q(rid)))
    other_id = "%s-x-2024-01-02-03-04" % other
    seed_run(other_id, other)
    seed_stage(other_id, "export", "failed")
    yield {"cluster": cl, "other": other, "ids": ids, "other_id": other_id, "role": ro,
           "dead": dead}
    psql("DELETE FROM snaplake_runs WHERE cluster IN (%s, %s);"
         "DELETE FROM snaplake_workers WHERE worker_id IN (%s, %s);"
         % (q(cl), q(other), q(live), q(dead)))


def runs_json(role, *args):
    rc, out, err = ctl_ro(role, "runs", "--json", *args)
    assert rc == 0, err
    return json.loads(out)


def test_runs_filters_and_json(seeded):
    ids, role, cl = seeded["ids"], seeded["role"], seeded["cluster"]
    every = {r["run_id"]: r for r in runs_json(role, "--cluster", cl)}
    # The default window is 24 h: the three-day-old run is not there.
    assert set(every) == set(ids.values()) - {ids["old"]}, sorted(every)
    assert every[ids["failed"]]["status"] == "failed"
    assert every[ids["running"]]["status"] == "running"
    assert every[ids["stale"]]["status"] == "stale"
    assert every[ids["ok"]]["status"] == "succeeded"
    st = every[ids["stale"]]["stages"][0]
    assert st["stale"] is True and st["owner_id"] == seeded["dead"], st
    assert st["owner_host"] == "host-" + seeded["dead"]
    assert every[ids["running"]]["stages"][0]["stale"] is False
    e = every[ids["failed"]]["stages"][0]
    assert e["error_code"] == "ExportFailed" and e["error_message"] == CAUSE

    assert [r["run_id"] for r in runs_json(role, "--cluster", cl, "--failed")] == [ids["failed"]]
    assert ({r["run_id"] for r in runs_json(role, "--cluster", cl, "--running")}
            == {ids["running"], ids["stale"]})
    # --since: a span and an ISO date reach the old run; the other cluster stays out.
    for since in ("4d", time.strftime("%Y-%m-%d", time.gmtime(time.time() - 5 * 86400))):
        got = {r["run_id"] for r in runs_json(role, "--cluster", cl, "--since", since)}
        assert ids["old"] in got and seeded["other_id"] not in got, (since, got)
    got = {r["run_id"] for r in runs_json(role, "--failed")}
    assert {ids["failed"], seeded["other_id"]} <= got and ids["ok"] not in got

    # The human view says the same, with the stale stage's last owner.
    rc, out, err = ctl_ro(role, "runs", "--cluster", cl, "--running")
    assert rc == 0, err
    assert "stale" in out and seeded["dead"] in out and ids["failed"] not in out, out


def test_show_attempts_and_timeline(seeded):
    rid = seeded["ids"]["adopted"]
    rc, out, err = ctl_ro(seeded["role"], "show", rid)
    assert rc == 0, err
    lines = out.splitlines()
    stage = [ln for ln in lines if ln.strip().startswith("export ")][0]
    # The stage's duration covers both attempts (30 s), not the adopter's 0.4 s.
    secs = float(stage.split("attempt")[1].split()[1].rstrip("s"))
    assert 29.0 <= secs < 120, stage
    att = [ln for ln in lines if ln.strip().startswith("attempt ")]
    assert len(att) == 2, out
    assert "superseded" in att[0] and "by w1 on h1" in att[0], att
    assert "succeeded" in att[1], att
    assert "aws ids: " in out and rid in out
    assert 'input:  {"v":1}' in out
    tl = [ln for ln in lines if ln.strip().startswith("export ") and "|" in ln]
    assert tl and "~" in tl[0] and "#" in tl[0], out


@pytest.mark.parametrize("args,code", [
    (["show"], 2), (["show", "--json"], 2), (["show", "a", "b"], 2),
    (["redo"], 2), (["redo", "x", "--bogus"], 2), (["redo", "x", "--stage"], 2),
    (["replay"], 2), (["replay", "--stage", "export"], 2),
    (["replay", "--stage", "nope", "--from-offset", "0:1"], 2),
    (["replay", "--stage", "export", "--from-offset", "x:1"], 2),
    (["replay", "--stage", "export", "--from-time", "yesterday"], 2),
    (["replay", "--stage", "export", "--from-time", "1h", "--from-offset", "0:1"], 2),
    (["runs", "--since", "2024-02-30"], 2), (["runs", "--since", "5x"], 2),
    (["runs", "--cluster"], 2), (["runs", "--failed", "--bogus"], 2),
])
def test_bad_flags_exit_2(args, code):
    h.require_stack()
    rc, out, err = ctl(*args)
    assert rc == code and "snaplakectl" in err, (rc, out, err)


def test_unknown_ids_exit_1(seeded):
    role = seeded["role"]
    for args in (["show", "no-such-run-%s" % h.uid()], ["runs", "--failed", "nope-%s" % h.uid()]):
        rc, out, err = ctl_ro(role, *args)
        assert rc == 1 and "no run" in err, (args, rc, out, err)
    rc, out, err = ctl("redo", "no-such-run-%s" % h.uid())
    assert rc == 1 and "no run" in err, (rc, out, err)
    # A read-only role cannot redo: the ledger refuses the write, and nothing is published.
    rc, out, err = ctl_ro(role, "redo", seeded["ids"]["failed"])
    assert rc == 1 and "permission denied" in err, (rc, out, err)
    rc, out, err = ctl("redo", seeded["ids"]["ok"], "--stage", "export")
    assert rc == 1 and "not repeated" in err, (rc, out, err)
    rc, out, err = ctl("redo", seeded["ids"]["running"])
    assert rc == 1 and "no failed or stale stage" in err, (rc, out, err)


# ----------------------------------------------------------------------- on the local stack

def start_export(c, name):
    """test_export's worker, heartbeating every 0.5 s (the stale bound is then 3 s)."""
    return start_worker(c, name, EXPORT_POLL_INTERVAL="500ms", WORKER_HEARTBEAT="500ms")


def stage_row(run_id, stage="export"):
    rows = h.psql_json("SELECT * FROM snaplake_stage_runs WHERE run_id = :'p1' AND stage = :'p2'",
                       run_id, stage)
    return rows[0] if rows else None


def test_redo_failed_export_gets_a_new_generation(ctx):
    cl = h.create_cluster()
    h.standin_config(export_seconds=1.0, fail_sources={cl["cluster"]: CAUSE})
    w = start_export(ctx, "w1")
    w.wait_ready()
    h.produce(ctx["prefix"] + "snapshots", h.snapshot_message(cl), key=cl["cluster"])
    h.wait_for(lambda: (stage_row(cl["run_id"]) or {}).get("status") == "failed", 90,
               what="the export to fail")
    row = stage_row(cl["run_id"])
    assert CAUSE in row["error_message"]
    # The ledger knows the AWS ids, the owner and the input now.
    assert row["aws_ids"]["export_task_id"] == cl["run_id"], row["aws_ids"]
    assert row["owner_id"].startswith("export@") and row["owner_host"], row
    assert json.loads(row["input_msg"])["run_id"] == cl["run_id"]

    env = {"KAFKA_TOPIC_PREFIX": ctx["prefix"]}
    rc, out, err = ctl("show", cl["run_id"], **env)
    assert rc == 0 and "failed" in out and CAUSE in out and "attempt 1" in out, out + err
    assert cl["snapshot_id"] in out, out   # the input message

    # Fix the cause (the stand-in's fault), then redo: generation 2 starts and completes.
    h.standin_config(fail_sources={cl["cluster"]: None})
    rc, out, err = ctl("redo", cl["run_id"], **env)
    assert rc == 0, err
    assert "republished" in out and "generation 2" in out, out
    h.wait_for(lambda: (stage_row(cl["run_id"]) or {}).get("status") == "succeeded", 90,
               what="the redone export to succeed")
    row = stage_row(cl["run_id"])
    assert row["generation"] == 2 and row["export_task_id"] == cl["run_id"] + "-g2", row
    assert row["attempt"] == 2 and json.loads(row["output_msg"])["type"] == "exported"
    assert row["details"].get("output") == "exported", row["details"]
    tasks = {t["ExportTaskIdentifier"]: t["Status"] for t in h.standin_state()["tasks"]}
    assert tasks.get(cl["run_id"]) == "FAILED" and tasks.get(cl["run_id"] + "-g2") == "COMPLETE"
    events = [e["status"] for e in h.psql_json(
        "SELECT status FROM snaplake_stage_events WHERE run_id = :'p1' ORDER BY id",
        cl["run_id"])]
    after = events[len(events) - 1 - events[::-1].index("queued"):]
    assert after[0] == "queued" and after[1] == "running" and after[-1] == "succeeded", events
    # Done is done: a second redo is refused.
    rc, out, err = ctl("redo", cl["run_id"], **env)
    assert rc == 1 and "no failed or stale stage" in err, (rc, out, err)
    assert w.stop() == 0


def test_stale_after_sigkill(ctx, ro):
    cl = h.create_cluster()
    h.standin_config(export_seconds=120.0)
    w = start_export(ctx, "w1")
    w.wait_ready()
    h.produce(ctx["prefix"] + "snapshots", h.snapshot_message(cl), key=cl["cluster"])
    h.wait_for(lambda: (stage_row(cl["run_id"]) or {}).get("owner_id"), 60,
               what="the export to be owned")
    owner = stage_row(cl["run_id"])["owner_id"]

    def status():
        r = runs_json(ro, cl["run_id"])
        return r[0]["status"], r[0]["stages"][0]
    # Alive: heartbeats (every 0.5 s; the bound is 3 s) keep it running.
    h.wait_for(lambda: status()[0] == "running", 30, what="a running, not stale, export")
    w.kill()
    st = h.wait_for(lambda: status()[0] == "stale" and status()[1], 60,
                    what="the killed worker's export to show stale")
    assert st["owner_id"] == owner and st["owner_host"], st
    rc, out, err = ctl_ro(ro, "show", cl["run_id"])
    assert rc == 0 and "stale" in out and owner in out, out + err
    # A stale stage may be redone: another worker adopts the task the dead one started.
    rc, out, err = ctl("redo", cl["run_id"], KAFKA_TOPIC_PREFIX=ctx["prefix"])
    assert rc == 0 and "republished" in out, err
    assert stage_row(cl["run_id"])["status"] == "queued"


# ------------------------------------------------------------------------------------ replay

def committed(group, topic, parts):
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient
    a = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    f = a.list_consumer_group_offsets([ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in parts])])
    res = f[group].result(30)
    return {tp.partition: tp.offset for tp in res.topic_partitions}


def commit(group, topic, offsets):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"], "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
             asynchronous=False)
    c.close()


def test_replay_moves_the_group(ctx):
    from confluent_kafka import Consumer, Producer
    topic = ctx["prefix"] + "exports"          # the copy stage's input
    group = "snaplake-copy-" + h.uid(8)
    base = 1704067200000                       # 2024-01-01T00:00:00Z
    p = Producer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"]})
    for i in range(5):
        p.produce(topic, value=b"{}", partition=0, timestamp=base + i * 3600 * 1000)
    assert p.flush(30) == 0
    commit(group, topic, {0: 5, 1: 0})
    env = {"KAFKA_TOPIC_PREFIX": ctx["prefix"]}

    rc, out, err = ctl("replay", "--stage", "copy", "--group", group, "--from-offset", "0:1",
                       **env)
    assert rc == 0, err
    assert "partition 0: 5 -> 1" in out, out
    assert committed(group, topic, [0])[0] == 1

    rc, out, err = ctl("replay", "--stage", "copy", "--group", group,
                       "--from-time", "2024-01-01T01:30:00Z", **env)
    assert rc == 0, err
    got = committed(group, topic, [0, 1])
    assert got[0] == 2 and got[1] == 0, got  # 02:00 is the first at or after 01:30

    rc, out, err = ctl("replay", "--stage", "copy", "--group", group, "--from-offset", "0:9",
                       **env)
    assert rc == 1 and "holds offsets 0..5" in err, (rc, out, err)

    # A live member: refused, offsets unchanged.
    c = Consumer({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"], "group.id": group,
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    try:
        h.wait_for(lambda: c.poll(0.2) is None and c.assignment(), 60, what="group join")
        rc, out, err = ctl("replay", "--stage", "copy", "--group", group, "--from-offset",
                           "0:0", **env)
        assert rc == 1 and "live member" in err, (rc, out, err)
        assert committed(group, topic, [0])[0] == 2
        # --force waits for the member to leave, then resets.
        cmd = [h.binary("snaplakectl", "SNAPLAKECTL_BIN"), "replay", "--stage", "copy",
               "--group", group, "--from-offset", "0:0", "--force", "--wait", "90s"]
        pr = subprocess.Popen(cmd, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        out_lines = []
        h.wait_for(lambda: pr.poll() is not None or
                   (out_lines.append(pr.stdout.readline().decode()) or
                    "waiting for" in "".join(out_lines)), 60, what="replay --force waiting")
        assert committed(group, topic, [0])[0] == 2
    finally:
        c.close()
    o, e = pr.communicate(timeout=120)
    assert pr.returncode == 0, "".join(out_lines) + o.decode() + e.decode()
    assert committed(group, topic, [0])[0] == 0
