"""snaplakectl runs: strict, read-only, and honest about what it did not find.

Run against the stack's PostgreSQL as a role of this test's own that may only SELECT the
ledger tables (an operator's read-only role): no migration is attempted, no AWS setting is
needed, a database the workers never migrated is named as such, bad arguments exit 2 and an
unknown run id exits 1.

    .venv/bin/pytest -q tests/integration/test_ctl.py
"""

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from test_config_errors import Listeners, env_with  # noqa: E402


def psql(sql, db=None):
    exe = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    args = [exe, "-X", "-q", "-v", "ON_ERROR_STOP=1"] + (["-d", db] if db else [])
    r = subprocess.run(args, input=sql, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def ctl(*args, **env):
    e = dict(os.environ)
    for k in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "LAKE_BUCKET"):
        e.pop(k, None)
    e.update(env)
    r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN")] + list(args), env=e,
                       capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def ro_role(ledger):
    """A login role with SELECT on the ledger tables and nothing else, and one known run."""
    h.require_stack()
    run_id = "sl-ctl-%s-2024-01-02-03-04" % h.uid(8)
    role = "sl_ro_%s" % h.uid(8)
    psql("INSERT INTO snaplake_runs (run_id, cluster, mode, date) VALUES ('%s', 'sl-ctl', "
         "'cluster', '2024-01-02');"
         "INSERT INTO snaplake_stage_runs (run_id, stage, status) VALUES ('%s', 'export', "
         "'succeeded');" % (run_id, run_id))
    psql("CREATE ROLE %s LOGIN; GRANT CONNECT ON DATABASE %s TO %s; "
         "GRANT USAGE ON SCHEMA public TO %s; "
         "GRANT SELECT ON snaplake_runs, snaplake_stage_runs, snaplake_stage_events, "
         "snaplake_workers TO %s;"
         % (role, os.environ["PGDATABASE"], role, role, role))
    yield {"role": role, "run_id": run_id}
    psql("DELETE FROM snaplake_runs WHERE run_id = '%s'; "
         "REVOKE ALL ON snaplake_runs, snaplake_stage_runs, snaplake_stage_events, "
         "snaplake_workers FROM %s; "
         "REVOKE ALL ON SCHEMA public FROM %s; REVOKE ALL ON DATABASE %s FROM %s; "
         "DROP ROLE %s;" % (run_id, role, role, os.environ["PGDATABASE"], role, role))


def _ensure_ledger():
    """Workers and the producer create the ledger; the read-only CLI never does. A producer
    with nothing to read migrates and exits."""
    env = h.worker_env(h.topic_prefix("ctl"), SL_CREATE_TOPICS="false")
    for k in ("CLUSTERS", "PRODUCER_MODE", "EVENTS_FILE"):
        env.pop(k, None)
    r = subprocess.run([h.producer_binary(), "event"], env=env, input=b"",
                       capture_output=True, timeout=120)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


@pytest.fixture(scope="module")
def ledger():
    h.require_stack()
    # snaplake_workers: the console's migration 3001 (ledger_console.h), applied with the rest.
    ok = "SELECT to_regclass('snaplake_workers') IS NOT NULL AS ok"
    rows = h.psql_json(ok)
    if not rows[0]["ok"]:
        _ensure_ledger()
    rows = h.psql_json(ok)
    assert rows[0]["ok"], "the ledger tables could not be created"


def test_runs_as_a_select_only_role_without_aws_settings(ro_role):
    rc, out, err = ctl("runs", ro_role["run_id"], PGUSER=ro_role["role"])
    assert rc == 0, err
    assert ro_role["run_id"] in out and "export" in out and "succeeded" in out, out
    rc, out, err = ctl("runs", "--since-hours", "1", PGUSER=ro_role["role"])
    assert rc == 0, err


def test_unknown_run_id_is_an_error(ro_role):
    rc, out, err = ctl("runs", "no-such-run-%s" % h.uid(), PGUSER=ro_role["role"])
    assert rc == 1 and "no run" in err, (rc, out, err)
    # The known one is still printed, the command still fails.
    rc, out, err = ctl("runs", ro_role["run_id"], "missing-%s" % h.uid(),
                       PGUSER=ro_role["role"])
    assert rc == 1 and ro_role["run_id"] in out and "no run" in err, (rc, out, err)


@pytest.mark.parametrize("args", [
    ["--since-hours", "5abc"],
    ["--since-hours", "4294967297"],
    ["--since-hours", "0"],
    ["--since-hours", "-3"],
    ["--since-hours", ""],
    ["--since-hours"],
    ["--bogus"],
    ["-x", "run"],
])
def test_bad_arguments_exit_2_without_connecting(args):
    ln = Listeners()
    try:
        e = env_with(ln)
        for k in ("LOG_LEVEL", "AWS_REGION", "AWS_CA_BUNDLE"):
            e.pop(k)
        for k in [k for k in e if k.startswith("KAFKA_")]:
            e.pop(k)
        r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN"), "runs"] + args, env=e,
                           capture_output=True, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 2, err
        assert "snaplakectl runs:" in err, err
        assert ln.connected() == [], err
    finally:
        ln.close()


def test_configuration_error_is_exit_2():
    ln = Listeners()
    try:
        r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN"), "runs"],
                           env=env_with(ln), capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode()
        assert r.returncode == 2 and "LOG_LEVEL" in out, out
        assert ln.connected() == [], out
    finally:
        ln.close()


def test_missing_ledger_tables_are_named():
    h.require_stack()
    db = "sl_ctl_empty_%s" % h.uid(8)
    psql("CREATE DATABASE %s;" % db)
    try:
        rc, out, err = ctl("runs", PGDATABASE=db)
        assert rc == 1 and "does not exist" in err and "snaplake_runs" in err, (rc, out, err)
        # and it created nothing there
        r = subprocess.run([shutil.which("psql") or "psql", "-X", "-At", "-d", db, "-c",
                            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"],
                           capture_output=True, text=True, timeout=30)
        assert r.stdout.strip() == "0", r.stdout + r.stderr
    finally:
        psql("DROP DATABASE %s;" % db)
