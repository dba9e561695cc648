"""The share stage (issue 12): `snaplake-worker share` and `snaplakectl share plan|apply`
against the stand-in's Lake Formation (botocore-validated requests, tests/standin/README.md).

  - a run through the whole pipeline (export, copy, crawl with the stand-in's crawler, share)
    ends in `shared`, and ListPermissions (boto3) shows exactly the policy's grants; the
    tables carry the policy's tags and the filter withholds `email`;
  - a replay of the `crawled` message plans nothing and writes nothing (the stand-in's call
    counts), and `snaplakectl share plan` says "No changes." with exit 0;
  - a grant added outside snaplake shows as drift in plan and is revoked by apply only with
    --prune; the policy's own prune revokes a grant snaplake made (its key in the ledger) and
    leaves an outsider's;
  - a new sensitive column in a tag-shared table holds the table back: the failure names the
    table and the column;
  - injected ConcurrentModificationException and transient per-entry failures converge; a
    permanent per-entry failure fails the run with the entry's own code and message;
  - a bad policy is a configuration error: exit 2, every error with its JSON path.

    .venv/bin/pytest -q tests/integration/test_share.py
"""

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness as h  # noqa: E402
from test_pipeline import assert_clean_exit  # noqa: E402

ANALYTICS = "444455556666"
OUTSIDER = "999988887777"
SENSITIVE = ["*email*", "*phone*", "*password*", "*token*"]
WRITE_OPS = ("CreateLFTag", "UpdateLFTag", "AddLFTagsToResource", "RemoveLFTagsFromResource",
             "CreateDataCellsFilter", "UpdateDataCellsFilter", "DeleteDataCellsFilter",
             "BatchGrantPermissions", "BatchRevokePermissions", "GrantPermissions",
             "RevokePermissions")


def policy(database, private="*.public_audit_log", filtered="*.public_users",
           include=("id", "name", "country")):
    return {
        "version": 1,
        "tags": {"confidential": ["sensitive", "private", "public"]},
        "database": {"name": database, "tags": {"confidential": "private"}},
        "tables": [
            {"match": private, "private": True},
            {"match": filtered, "filter": {"name": "snaplake_{table}_no_email",
                                           "include": list(include)}},
            {"match": "*", "tags": {"confidential": "public"}},
        ],
        "grants": [
            {"principal": ANALYTICS, "tags": {"confidential": ["public"]},
             "permissions": ["SELECT", "DESCRIBE"]},
            {"principal": ANALYTICS, "filters": ["*"], "permissions": ["SELECT"],
             "grant_option": True},
        ],
        "sensitive_columns": SENSITIVE,
    }


def write_policy(tmp_path, doc, name="policy.json"):
    f = tmp_path / name
    f.write_text(json.dumps(doc))
    return str(f)


def lf_state():
    return h.standin("GET", "/_standin/lakeformation")


def writes():
    calls = lf_state()["calls"]
    return {op: calls.get(op, 0) for op in WRITE_OPS}


def permissions():
    lf = h.aws("lakeformation")
    out, tok = [], None
    while True:
        kw = {"MaxResults": 2}   # small pages: the listing pages too
        if tok:
            kw["NextToken"] = tok
        r = lf.list_permissions(**kw)
        out += r["PrincipalResourcePermissions"]
        tok = r.get("NextToken")
        if not tok:
            return out


def grant_set(perms):
    """{(principal, resource kind, what, perms, grantable)} of ListPermissions entries."""
    s = set()
    for p in perms:
        res = p["Resource"]
        kind = next(iter(res))
        r = res[kind]
        if kind == "LFTagPolicy":
            what = (r["ResourceType"], tuple((e["TagKey"], tuple(sorted(e["TagValues"])))
                                             for e in r["Expression"]))
        elif kind == "DataCellsFilter":
            what = (r["DatabaseName"], r["TableName"], r["Name"])
        elif kind == "Table":
            what = (r["DatabaseName"], r.get("Name"))
        else:
            what = json.dumps(r, sort_keys=True)
        s.add((p["Principal"]["DataLakePrincipalIdentifier"], kind, what,
               tuple(sorted(p["Permissions"])),
               tuple(sorted(p.get("PermissionsWithGrantOption") or []))))
    return s


def policy_grants(db, filtered_table):
    return {(ANALYTICS, "LFTagPolicy", ("TABLE", (("confidential", ("public",)),)),
             ("DESCRIBE", "SELECT"), ()),
            (ANALYTICS, "DataCellsFilter",
             (db, filtered_table, "snaplake_%s_no_email" % filtered_table), ("SELECT",),
             ("SELECT",))}


def assigned_tags(db, table=None):
    lf = h.aws("lakeformation")
    res = {"Table": {"DatabaseName": db, "Name": table}} if table else \
        {"Database": {"Name": db}}
    r = lf.get_resource_lf_tags(Resource=res, ShowAssignedLFTags=True)
    tags = r.get("LFTagsOnTable") if table else r.get("LFTagOnDatabase")
    return {t["TagKey"]: t["TagValues"] for t in tags or []}


def ctl(args, policy_file, **env):
    e = dict(os.environ)
    e.update({"AWS_ENDPOINT_URL": os.environ["STANDIN_ENDPOINT"],
              "SHARE_POLICY_FILE": policy_file,
              "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0"})
    e.update(env)
    r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN"), "share"] + args, env=e,
                       capture_output=True, text=True, timeout=120, cwd=h.ROOT)
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, \
        r.stderr
    assert "LeakSanitizer" not in r.stderr, r.stderr
    return r


def glue_tables(db, tables):
    """Creates Glue database db with tables {name: [columns]} (partition key date)."""
    g = h.aws("glue")
    g.create_database(DatabaseInput={"Name": db})
    for name, cols in tables.items():
        g.create_table(DatabaseName=db, TableInput={
            "Name": name, "PartitionKeys": [{"Name": "date", "Type": "string"}],
            "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in cols],
                                  "Location": "s3://sl-lake/%s/%s/" % (db, name)}})


def crawled(cluster, run_id):
    """A `crawled` message (crawler mode: no glue_database) as the crawl stage writes it."""
    t = h.now_rfc3339()
    return {"v": 1, "type": "crawled", "run_id": run_id, "cluster": cluster,
            "mode": "snapshot", "snapshot_id": "rds:" + run_id,
            "source_arn": "arn:aws:rds:us-east-1:%s:cluster-snapshot:rds:%s" % (h.ACCOUNT,
                                                                                run_id),
            "date": "2024-01-02", "source": "event", "produced_at": t,
            "export_task_id": run_id, "s3_bucket": "sl-exp", "s3_prefix": "",
            "lake_bucket": "sl-lake", "lake_prefix": "lake", "objects": 1, "bytes": 1,
            "removed": 0, "tables": [], "failed_tables": [], "copied_at": t,
            "crawler": "snaplake-" + cluster, "crawl_started_at": t,
            "crawl_status": "SUCCEEDED"}


# ------------------------------------------------------------------ the whole pipeline

LAYOUT = {"convention": "current",
          "databases": {"appdb": {
              "public.users": {"files": 2, "partitions": 1, "columns": [
                  "id:bigint", "name:varchar(64)", "email:varchar(128)",
                  "country:varchar(2)"]},
              "public.orders": {"files": 1, "partitions": 1},
              "public.audit_log": {"files": 1, "partitions": 1, "columns": [
                  "id:bigint", "what:varchar(64)"]}}}}




def test_pipeline_ends_in_shared_replay_writes_nothing(pipeline, tmp_path):
    p = pipeline()
    h.standin_config(export_seconds=1.0, crawler_seconds=0.5)
    c = p.add_cluster(LAYOUT, prefix="sh")
    pol = write_policy(tmp_path, policy(p.db))
    p.start_workers()
    p.workers["share"] = h.Worker("share", h.worker_env(
        p.prefix, SHARE_POLICY_FILE=pol, KAFKA_GROUP_ID="g-%sshare" % p.prefix,
        STAGE_RETRY_BASE="200ms", STAGE_RETRY_MAX="2s", SHARE_RETRY_BASE="50ms"),
        tmp_path / "share.log")
    p.workers["share"].wait_ready(90)
    p.readers["shares"] = h.KafkaReader(p.prefix + "shares")
    p.produce_events([p.event(c)])

    crawls = p.read("crawls", 1, 120)
    shared = p.read("shares", 1, 90)
    m = shared[0].value
    assert shared[0].key == c["cluster"]
    assert m["type"] == "shared" and m["run_id"] == c["run_id"]
    assert m["glue_database"] == p.db and m["crawl_status"] == "SUCCEEDED"
    assert m["shared_tables"] == ["public_orders", "public_users"]
    assert m["tables_shared"] == 2 and m["tables_private"] == 1
    # the LF-Tag, the filter and the two grants; the database and orders tagged
    assert (m["share_created"], m["share_updated"], m["share_removed"]) == (4, 2, 0), m
    assert any(x.startswith("+ create data cells filter %s.public_users/" % p.db)
               for x in m["share_changes"]), m["share_changes"]

    # ListPermissions shows exactly the policy's grants, and the tags are the policy's.
    assert grant_set(permissions()) == policy_grants(p.db, "public_users")
    assert assigned_tags(p.db) == {"confidential": ["private"]}
    assert assigned_tags(p.db, "public_orders") == {"confidential": ["public"]}
    assert assigned_tags(p.db, "public_audit_log") == {}
    filters = lf_state()["data_cells_filters"]
    assert len(filters) == 1 and sorted(filters[0]["ColumnNames"]) == ["country", "id", "name"]
    rows = h.ledger_stage([c["run_id"]], "share")
    assert rows[c["run_id"]]["status"] == "succeeded"
    cols = h.psql_json("SELECT table_name, columns FROM snaplake_share_tables WHERE "
                       "database = :'p1' ORDER BY table_name", p.db)
    assert [r["table_name"] for r in cols] == ["public_orders", "public_users"]
    assert "email" in cols[1]["columns"] and "date" in cols[1]["columns"]

    # A replay of `crawled`: a second `shared`, nothing planned, nothing written.
    before = writes()
    h.produce(p.prefix + "crawls", json.dumps(crawls[0].value), key=c["cluster"])
    again = p.read("shares", 2, 60)[1].value
    assert (again["share_created"], again["share_updated"], again["share_removed"]) == (0, 0, 0)
    assert again["share_changes"] == []
    assert writes() == before
    r = ctl(["plan", "--cluster", c["cluster"]], pol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No changes." in r.stdout
    assert writes() == before
    p.assert_no_more("failures", 0)
    assert_clean_exit(p)


# ------------------------------------------------------------- the share worker alone

@pytest.fixture(scope="module")
def share_worker(standin, tmp_path_factory):
    """One share worker on topics of its own, policy database sl_share_{cluster}."""
    tmp = tmp_path_factory.mktemp("share")
    pol = write_policy(tmp, policy("sl_share_{cluster}", private="*.audit",
                                   filtered="*.customers", include=("id", "name")))
    prefix = h.topic_prefix("share")
    h.create_topics(prefix)
    w = h.Worker("share", h.worker_env(prefix, SHARE_POLICY_FILE=pol,
                                       KAFKA_GROUP_ID="g-%sshare" % prefix,
                                       STAGE_RETRY_BASE="200ms", STAGE_RETRY_MAX="2s",
                                       SHARE_RETRY_BASE="50ms", SHARE_RETRY_MAX="500ms"),
                 tmp / "share.log")
    w.wait_ready(90)
    readers = {t: h.KafkaReader(prefix + t) for t in ("shares", "failures")}
    yield {"worker": w, "prefix": prefix, "policy": pol, "readers": readers, "seen": {}}
    for r in readers.values():
        r.close()
    rc = w.stop(30)
    err = w.stderr()
    assert rc == 0, err[-3000:]
    assert "ERROR: AddressSanitizer" not in err and "LeakSanitizer" not in err, err[-3000:]


def send_and_wait(sw, cluster, topic, timeout=60, **fields):
    """Produces a `crawled` for cluster (fields over crawled()'s); returns the next record of
    topic for it."""
    run_id = "%s-%s" % (cluster, h.uid(6))
    msg = crawled(cluster, run_id)
    msg.update(fields)
    msg = {k: v for k, v in msg.items() if v is not None}
    h.produce(sw["prefix"] + "crawls", json.dumps(msg), key=cluster)
    r = sw["readers"][topic]

    def mine():
        recs = [x for x in r.read(100, 0.5) if x.value.get("run_id") == run_id]
        return recs[0] if recs else None
    return h.wait_for(mine, timeout, what="%s for %s" % (topic, run_id)).value


def share_db(cluster):
    """The Glue database of cluster under sl_share_{cluster}, named as the catalog names it
    (lower case, [a-z0-9_]): the crawl stage's name for it."""
    return "sl_share_" + cluster.replace("-", "_")


def new_cluster(tables):
    """A cluster (a hyphenated id, as RDS gives) with its Glue database, on a Lake Formation
    that knows nothing yet."""
    h.standin("POST", "/_standin/lakeformation", {"reset": True})
    cluster = "t-%s" % h.uid(10)
    glue_tables(share_db(cluster), tables)
    return cluster, share_db(cluster)


TABLES = {"customers": ["id", "name", "email"], "orders": ["id", "total"],
          "audit": ["id", "what"]}


def test_outside_grant_is_drift_and_revoked_only_with_prune(share_worker):
    cluster, db = new_cluster(TABLES)
    pol = share_worker["policy"]
    r = ctl(["apply", "--cluster", cluster], pol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Apply complete: 4 created, 2 updated" in r.stdout, r.stdout
    lf = h.aws("lakeformation")
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": OUTSIDER},
                         Resource={"Table": {"DatabaseName": db, "Name": "orders"}},
                         Permissions=["SELECT"])
    outside = (OUTSIDER, "Table", (db, "orders"), ("SELECT",), ())
    r = ctl(["plan", "--cluster", cluster], pol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "! drift: grant %s SELECT on Table %s.orders" % (OUTSIDER, db) in r.stdout, r.stdout
    # apply without --prune leaves it, and the worker's run does too
    r = ctl(["apply", "--cluster", cluster], pol)
    assert r.returncode == 0 and "0 removed" in r.stdout, r.stdout + r.stderr
    m = send_and_wait(share_worker, cluster, "shares")
    assert m["share_drift"] == 1 and m["share_removed"] == 0, m
    assert outside in grant_set(permissions())
    # plan --prune shows the revoke, apply --prune does it
    r = ctl(["plan", "--cluster", cluster, "--prune"], pol)
    assert r.returncode == 2 and "- revoke %s SELECT on Table %s.orders" % (OUTSIDER, db) \
        in r.stdout, r.stdout + r.stderr
    r = ctl(["apply", "--cluster", cluster, "--prune"], pol)
    assert r.returncode == 0 and "1 removed" in r.stdout, r.stdout + r.stderr
    have = grant_set(permissions())
    assert outside not in have
    assert policy_grants(db, "customers") <= have
    r = ctl(["plan", "--cluster", cluster], pol)
    assert r.returncode == 0 and "No changes." in r.stdout, r.stdout


def test_policy_prune_revokes_only_what_snaplake_made(share_worker, tmp_path):
    """prune: true in the policy revokes a grant snaplake made (its key is in the ledger) once
    the policy stops naming it, and leaves an outsider's grant on the same LF-Tag policy."""
    cluster, db = new_cluster(TABLES)
    r = ctl(["apply", "--cluster", cluster], share_worker["policy"])
    assert r.returncode == 0, r.stdout + r.stderr
    keys = [x["grant_key"] for x in h.psql_json("SELECT grant_key FROM snaplake_share_grants")]
    tag_key = '["%s","LFTagPolicy","TABLE",[["confidential",["public"]]]]' % ANALYTICS
    assert tag_key in keys, keys
    lf = h.aws("lakeformation")
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": OUTSIDER},
        Resource={"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [
            {"TagKey": "confidential", "TagValues": ["public"]}]}},
        Permissions=["SELECT"])
    narrower = policy("sl_share_{cluster}", private="*.audit", filtered="*.customers",
                      include=("id", "name"))
    narrower["grants"] = narrower["grants"][1:]   # the tag grant is no longer named
    narrower["prune"] = True
    pol = write_policy(tmp_path, narrower, "narrower.json")
    r = ctl(["plan", "--cluster", cluster], pol)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "- revoke %s SELECT, DESCRIBE on LFTagPolicy TABLE (confidential=public)" % ANALYTICS \
        in r.stdout, r.stdout
    assert "grant %s SELECT on LFTagPolicy TABLE (confidential=public) that the policy does " \
        "not name (not made by snaplake: left alone)" % OUTSIDER in r.stdout, r.stdout
    r = ctl(["apply", "--cluster", cluster], pol)
    assert r.returncode == 0 and "1 removed" in r.stdout, r.stdout + r.stderr
    have = grant_set(permissions())
    assert not any(g[0] == ANALYTICS and g[1] == "LFTagPolicy" for g in have), have
    assert (OUTSIDER, "LFTagPolicy", ("TABLE", (("confidential", ("public",)),)), ("SELECT",),
            ()) in have
    # the revoked grant's key is forgotten: snaplake no longer owns a grant it did not make
    keys = [x["grant_key"] for x in h.psql_json("SELECT grant_key FROM snaplake_share_grants")]
    assert tag_key not in keys, keys


def test_direct_mode_hyphenated_cluster_is_shared(share_worker):
    """Direct mode's `crawled` names the database the crawl stage registered (sl_share_t_...
    for cluster t-...): the share stage names it the same way and shares it."""
    cluster, db = new_cluster(TABLES)
    m = send_and_wait(share_worker, cluster, "shares", catalog_mode="direct", glue_database=db,
                      crawler=None)
    assert m["type"] == "shared" and m["glue_database"] == db, m
    assert m["shared_tables"] == ["customers", "orders"], m
    assert policy_grants(db, "customers") <= grant_set(permissions())


def test_new_sensitive_column_holds_the_table(share_worker):
    cluster, db = new_cluster({"events": ["id", "kind"], "audit": ["id"]})
    m = send_and_wait(share_worker, cluster, "shares")
    assert m["shared_tables"] == ["events"]
    assert h.psql_json("SELECT columns FROM snaplake_share_tables WHERE database = :'p1'",
                       db)[0]["columns"] == ["id", "kind", "date"]
    g = h.aws("glue")
    g.update_table(DatabaseName=db, TableInput={
        "Name": "events", "PartitionKeys": [{"Name": "date", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"}
                                          for c in ("id", "kind", "user_email", "note")],
                              "Location": "s3://sl-lake/%s/events/" % db}})
    f = send_and_wait(share_worker, cluster, "failures")
    assert f["stage"] == "share" and f["error_code"] == "SchemaDriftHeld", f
    assert "table %s.events held back" % db in f["error_message"], f
    assert "user_email" in f["error_message"] and "note" not in f["error_message"], f
    # the record keeps the columns last shared, so the guard holds it again next time
    assert h.psql_json("SELECT columns FROM snaplake_share_tables WHERE database = :'p1'",
                       db)[0]["columns"] == ["id", "kind", "date"]
    r = ctl(["plan", "--cluster", cluster], share_worker["policy"])
    assert r.returncode == 2 and "user_email" in r.stdout, r.stdout + r.stderr


def test_withdrawn_table_loses_a_tag_the_database_does_not_carry(share_worker, tmp_path):
    """A table shared through share=yes, a key database.tags does not carry: held back by the
    drift guard (prune), or its rule turned private, it loses share=yes on the table itself
    (RemoveLFTagsFromResource), so the share=yes grant stops covering it. Another team's tag on
    the table stays."""
    cluster, db = new_cluster({"users": ["id", "login"], "orders": ["id", "total"]})
    doc = {"version": 1,
           "tags": {"share": ["yes", "no"], "confidential": ["private", "public"]},
           "database": {"name": "sl_share_{cluster}", "tags": {"confidential": "private"}},
           "tables": [{"match": "*.users", "tags": {"share": "yes"}},
                      {"match": "*.orders", "tags": {"share": "yes"}}],
           "grants": [{"principal": ANALYTICS, "tags": {"share": ["yes"]},
                       "permissions": ["SELECT"]}],
           "sensitive_columns": SENSITIVE, "prune": True}
    pol = write_policy(tmp_path, doc, "share_yes.json")
    r = ctl(["apply", "--cluster", cluster], pol)
    assert r.returncode == 0, r.stdout + r.stderr
    assert assigned_tags(db, "users") == {"share": ["yes"]}
    assert assigned_tags(db, "orders") == {"share": ["yes"]}
    lf = h.aws("lakeformation")
    lf.create_lf_tag(TagKey="owner", TagValues=["crm"])
    lf.add_lf_tags_to_resource(Resource={"Table": {"DatabaseName": db, "Name": "users"}},
                               LFTags=[{"TagKey": "owner", "TagValues": ["crm"]}])

    # A new sensitive column: users is held back and, with prune, withdrawn.
    g = h.aws("glue")
    g.update_table(DatabaseName=db, TableInput={
        "Name": "users", "PartitionKeys": [{"Name": "date", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"}
                                          for c in ("id", "login", "email")],
                              "Location": "s3://sl-lake/%s/users/" % db}})
    r = ctl(["plan", "--cluster", cluster], pol)
    assert "- untag Table %s.users: share=yes" % db in r.stdout, r.stdout + r.stderr
    assert "users carries LF-Tag owner=crm that the policy does not name" in r.stdout, r.stdout
    r = ctl(["apply", "--cluster", cluster], pol)
    assert "held back" in r.stdout + r.stderr, r.stdout + r.stderr
    assert assigned_tags(db, "users") == {"owner": ["crm"]}

    # The orders rule turned private: orders loses share=yes too.
    doc["tables"][1] = {"match": "*.orders", "private": True}
    pol = write_policy(tmp_path, doc, "orders_private.json")
    r = ctl(["apply", "--cluster", cluster], pol)
    assert "1 removed" in r.stdout, r.stdout + r.stderr
    assert assigned_tags(db, "orders") == {}
    r = ctl(["plan", "--cluster", cluster], pol)
    assert "untag" not in r.stdout and "Plan:" not in r.stdout, r.stdout


class RacingProxy:
    """Forwards every request to the stand-in unchanged (headers and signature included); the
    first request to `race_path` is sent twice and the second answer returned: another writer's
    identical call landed just before ours, as when two jobs of one cluster run at once."""

    def __init__(self, race_path):
        up = urllib.parse.urlsplit(os.environ["STANDIN_ENDPOINT"])
        proxy = self
        self.raced = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sends = 1
                if self.path == race_path and not proxy.raced:
                    proxy.raced, sends = 1, 2
                for _ in range(sends):
                    c = http.client.HTTPConnection(up.hostname, up.port, timeout=60)
                    c.request(self.command, self.path, body, dict(self.headers.items()))
                    r = c.getresponse()
                    data, status, headers = r.read(), r.status, r.getheaders()
                    c.close()
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding",
                                         "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_filter_created_by_a_racing_run_is_planned_again(share_worker):
    """CreateDataCellsFilter answered AlreadyExistsException (another run of the cluster made
    the filter since the read) is planned again from a fresh read, like CreateLFTag's: the run
    converges instead of failing."""
    cluster, db = new_cluster(TABLES)
    before = lf_state()["calls"].get("CreateDataCellsFilter", 0)
    proxy = RacingProxy("/CreateDataCellsFilter")
    try:
        r = ctl(["apply", "--cluster", cluster], share_worker["policy"],
                AWS_ENDPOINT_URL=proxy.url)
    finally:
        proxy.close()
    assert proxy.raced == 1
    assert r.returncode == 0, r.stdout + r.stderr
    # ours twice (the race), then nothing: the re-plan found the filter as wanted
    assert lf_state()["calls"].get("CreateDataCellsFilter", 0) - before == 2
    filters = [f for f in lf_state()["data_cells_filters"] if f["DatabaseName"] == db]
    assert [f["Name"] for f in filters] == ["snaplake_customers_no_email"], filters
    assert policy_grants(db, "customers") <= grant_set(permissions())
    r = ctl(["plan", "--cluster", cluster], share_worker["policy"])
    assert r.returncode == 0 and "No changes." in r.stdout, r.stdout + r.stderr


def test_faults_converge(share_worker):
    cluster, db = new_cluster(TABLES)
    h.standin_config(lf_faults={
        "concurrent_next": {"BatchGrantPermissions": 2, "AddLFTagsToResource": 1,
                            "ListPermissions": 1},
        "entry_failures": {
            "BatchGrantPermissions": {"count": 1, "code": "ConcurrentModificationException",
                                      "message": "injected"},
            "AddLFTagsToResource": {"count": 1, "code": "InternalServiceException",
                                    "message": "injected"}}})
    try:
        m = send_and_wait(share_worker, cluster, "shares", timeout=90)
    finally:
        faults = lf_state()["faults"]
        h.standin_config_reset()
    assert m["share_created"] == 4 and m["share_updated"] == 2, m
    assert policy_grants(db, "customers") <= grant_set(permissions())
    assert sum(faults.values()) >= 6, faults
    r = ctl(["plan", "--cluster", cluster], share_worker["policy"])
    assert r.returncode == 0 and "No changes." in r.stdout, r.stdout + r.stderr


def test_permanent_entry_failure_fails_with_its_code(share_worker):
    cluster, db = new_cluster(TABLES)
    h.standin_config(lf_faults={"entry_failures": {"BatchGrantPermissions": {
        "count": 1, "code": "AccessDeniedException", "message": "injected: not allowed"}}})
    try:
        f = send_and_wait(share_worker, cluster, "failures", timeout=90)
    finally:
        h.standin_config_reset()
    assert f["stage"] == "share" and f["error_code"] == "AccessDeniedException", f
    assert "injected: not allowed" in f["error_message"], f
    assert "BatchGrantPermissions" in f["error_message"] and ANALYTICS in f["error_message"], f
    # The batch's other entries were granted before the failure: they are recorded as made by
    # snaplake, so a later policy shrink revokes them (before, only a converged run saved them).
    keys = [x["grant_key"] for x in h.psql_json(
        "SELECT grant_key FROM snaplake_share_grants WHERE database = :'p1'", db)]
    assert keys and all(k.startswith('["%s",' % ANALYTICS) for k in keys), keys


def test_bad_policy_is_a_config_error(standin, tmp_path):
    bad = policy("snaplake_{cluster}")
    bad["tags"] = {"Confidential": ["public"]}
    bad["grants"][0]["principal"] = "12345"
    pol = write_policy(tmp_path, bad)
    r = subprocess.run([h.worker_binary(), "share"],
                       env=h.worker_env("sl-bad.", SHARE_POLICY_FILE=pol),
                       capture_output=True, text=True, timeout=60, cwd=h.ROOT)
    assert r.returncode == 2, r.stderr
    assert "$.tags.Confidential" in r.stderr and "$.grants[0].principal" in r.stderr, r.stderr
    r = ctl(["plan", "--cluster", "x"], pol)
    assert r.returncode == 2 and "$.grants[0].principal" in r.stderr, r.stderr
