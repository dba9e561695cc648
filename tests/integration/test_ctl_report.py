"""snaplakectl slots, lag and report --html against the local stack, with runs driven through
the real export worker (harness.py) and read back as an operator's SELECT-only role with no
AWS setting in the environment.

  slots   a run holding an export slot, a run waiting for one, and the foreign export the
          worker counted (recorded by the worker in snaplake_export_admission);
  lag     a stage's lag per partition that drops to 0 once a worker has consumed;
  report  a page that headless Chromium renders: Gantt bars in the DOM, pixels of the
          failed bar's colour in a screenshot, the failure's cause as text, and a hostile
          cause (markup in AWS's FailureCause) that stays text.

    .venv/bin/pytest -q tests/integration/test_ctl_report.py

Chromium is Debian's `chromium` (scripts/bootstrap.sh); without it the report test skips,
which under CI=true is a failure (conftest.py).
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

from test_ctl import psql  # noqa: E402
# ctx: a clean stand-in, a bucket, a topic prefix and worker bookkeeping (a fixture).
from test_export import KMS, ROLE, ctx, feed, start_worker  # noqa: E402,F401

AWS_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "LAKE_BUCKET")
TABLES = ("snaplake_runs", "snaplake_stage_runs", "snaplake_stage_events",
          "snaplake_export_admission")


def ctl(*args, **env):
    e = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
    e.update(env)
    r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN")] + list(args), env=e,
                       capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def ro_role():
    """A login role with SELECT on the ledger and admission tables and nothing else. The
    tables exist once an export worker has started; one is started here if needed."""
    h.require_stack()
    role = "sl_ro_%s" % h.uid(8)
    db = os.environ["PGDATABASE"]
    yield {"role": role, "grant": lambda: psql(
        "DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN "
        "CREATE ROLE %s LOGIN; END IF; END$$; GRANT CONNECT ON DATABASE %s TO %s; "
        "GRANT USAGE ON SCHEMA public TO %s; GRANT SELECT ON %s TO %s;"
        % (role, role, db, role, role, ", ".join(TABLES), role))}
    psql("DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '%s') THEN "
         "REVOKE ALL ON %s FROM %s; REVOKE ALL ON SCHEMA public FROM %s; "
         "REVOKE ALL ON DATABASE %s FROM %s; DROP ROLE %s; END IF; END$$;"
         % (role, ", ".join(TABLES), role, role, db, role, role))


def slots_sections(out):
    """The three sections of `slots` output: {'held': [lines], 'waiting': [...], 'foreign':
    [...]} plus the heading lines under their own keys."""
    sec, cur = {"held": [], "waiting": [], "foreign": []}, None
    for line in out.splitlines():
        if line.startswith("export slots held:"):
            cur, sec["held_head"] = "held", line
        elif line.startswith("runs waiting for a slot:"):
            cur, sec["waiting_head"] = "waiting", line
        elif line.startswith("foreign exports counted:"):
            cur, sec["foreign_head"] = "foreign", line
        elif cur and line.strip():
            sec[cur].append(line)
    return sec


def test_slots_show_held_waiting_and_foreign(ctx, ro_role):
    """EXPORT_TASK_LIMIT=2 with one export of another tool running: A takes a slot
    (0 held + 1 foreign < 2), B waits (1 + 1 = 2), and slots shows all three."""
    a, b, other = h.create_cluster(), h.create_cluster(), h.create_cluster()
    foreign_id = "other-team-%s" % h.uid(10)
    h.standin_config(export_cap=50, task_seconds={foreign_id: 120.0, a["run_id"]: 120.0,
                                                  b["run_id"]: 2.0})
    h.aws("rds").start_export_task(ExportTaskIdentifier=foreign_id,
                                   SourceArn=other["snapshot_arn"], S3BucketName=ctx["bucket"],
                                   IamRoleArn=ROLE, KmsKeyId=KMS)
    w = start_worker(ctx, "w", EXPORT_TASK_LIMIT="2")
    w.wait_ready()
    ro_role["grant"]()
    feed(ctx, [a])
    w.wait_log(lambda r: r.get("event") == "export_started" and r.get("run_id") == a["run_id"],
               60, "A to start")
    feed(ctx, [b])
    h.wait_for(lambda: h.ledger_stage([b["run_id"]], "export").get(b["run_id"], {})
               .get("status") == "waiting", 60, what="B to wait for a slot")

    def shown():
        rc, out, err = ctl("slots", PGUSER=ro_role["role"])
        assert rc == 0, err
        s = slots_sections(out)
        held = [x for x in s["held"] if a["run_id"] in x]
        waiting = [x for x in s["waiting"] if b["run_id"] in x]
        ok = held and waiting and foreign_id in out
        return (s, held, waiting, out) if ok else None
    s, held, waiting, out = h.wait_for(shown, 30, what="slots to show A, B and the foreign one")
    print(out)
    # A's row: slot 0, its cluster, running, its task id advertised by the slot connection.
    cols = held[0].split()
    assert cols[0] == "0" and cols[2] == a["cluster"] and cols[3] == "running", out
    assert "%s (pid " % a["run_id"] in held[0], out
    assert not any(b["run_id"] in x for x in s["held"]), out
    assert waiting[0].split()[1] == b["cluster"], out
    assert re.match(r"foreign exports counted: 1 of EXPORT_TASK_LIMIT 2 ", s["foreign_head"]), out
    assert any(foreign_id in x and x.split()[1:4] == ["2", "1", "1"] for x in s["foreign"]), out
    # The same three reads as one JSON object (--json), typed: numbers, null, arrays.
    rc, jout, err = ctl("slots", "--json", PGUSER=ro_role["role"])
    assert rc == 0, err
    j = json.loads(jout)
    ha = [r for r in j["held"] if r["run_id"] == a["run_id"]]
    assert len(ha) == 1 and ha[0]["slot"] == 0 and ha[0]["status"] == "running", j
    assert ha[0]["cluster"] == a["cluster"] and isinstance(ha[0]["backend_pid"], (int, float)), j
    assert ha[0]["task_id"] and ha[0]["attempt"] == 1, j
    wb = [r for r in j["waiting"] if r["run_id"] == b["run_id"]]
    assert len(wb) == 1 and wb[0]["cluster"] == b["cluster"] and wb[0]["waiting_seconds"] >= 0, j
    assert j["foreign"]["known"] is True, j
    assert any(foreign_id in d["foreign_task_ids"] and (d["limit"], d["held"], d["foreign"])
               == (2, 1, 1) for d in j["foreign"]["decisions"]), j

    # A ends: B takes the freed slot and no run waits any more.
    h.standin_fail_export(a["run_id"], "stopped by the test", now=True)

    def b_holds():
        rc, out2, err = ctl("slots", PGUSER=ro_role["role"])
        assert rc == 0, err
        s2 = slots_sections(out2)
        return out2 if (s2["waiting_head"] == "runs waiting for a slot: 0" and
                        not any(a["run_id"] in x for x in s2["held"])) else None
    h.wait_for(b_holds, 60, what="A's slot to be freed and B to stop waiting")
    h.wait_for(lambda: h.ledger_stage([b["run_id"]], "export").get(b["run_id"], {})
               .get("status") == "succeeded", 60, what="B to export on the freed slot")
    assert w.stop() == 0
    # A clean stop forgets the worker's admission record ("host:pid").
    assert h.psql_json("SELECT worker FROM snaplake_export_admission WHERE worker LIKE "
                       "'%:' || :'p1'", w.p.pid) == []


def lag_rows(out, stage):
    rows = {}
    for line in out.splitlines()[1:]:
        f = line.split()
        if f and f[0] == stage:
            rows[f[3]] = f
    return rows


def test_lag_drops_to_zero_when_a_worker_consumes(ctx):
    group = "export-" + ctx["prefix"]
    clusters = [h.create_cluster() for _ in range(3)]
    h.standin_config(export_cap=50, export_seconds=1.0)
    feed(ctx, clusters)
    args = ("lag", "--stage", "export", "--group", "export=" + group)
    env = {"KAFKA_TOPIC_PREFIX": ctx["prefix"]}
    rc, out, err = ctl(*args, **env)
    assert rc == 0, err
    rows = lag_rows(out, "export")
    assert rows["total"][-1] == "3", out
    assert len(rows) == 13, out  # 12 partitions and the total
    assert rows["total"][2] == ctx["prefix"] + "snapshots", out
    assert all(r[4] == "-" for p, r in rows.items() if p != "total"), out  # nothing committed
    assert not lag_rows(out, "copy"), out  # --stage export only
    rc, jout, err = ctl(*args, "--json", **env)
    assert rc == 0, err
    j = json.loads(jout)
    assert [s["stage"] for s in j] == ["export"], j
    assert j[0]["group"] == group and j[0]["topic"] == ctx["prefix"] + "snapshots", j
    assert j[0]["exists"] is True and j[0]["total"] == 3 and len(j[0]["partitions"]) == 12, j
    assert all(p["committed"] is None for p in j[0]["partitions"]), j
    assert sum(p["lag"] for p in j[0]["partitions"]) == 3, j

    w = start_worker(ctx, "w")
    w.wait_ready()
    with h.KafkaReader(ctx["prefix"] + "exports") as r:
        assert len(r.read(3, 120)) == 3

    def zero():
        rc2, out2, err2 = ctl(*args, **env)
        assert rc2 == 0, err2
        rows2 = lag_rows(out2, "export")
        return out2 if rows2["total"][-1] == "0" else None
    out = h.wait_for(zero, 60, what="the export group's lag to drop to 0")
    committed = [r for p, r in lag_rows(out, "export").items() if p != "total" and r[4] != "-"]
    assert sum(int(r[5]) for r in committed) == 3 and all(r[4] == r[5] for r in committed), out
    rc, jout, err = ctl(*args, "--json", **env)
    assert rc == 0, err
    parts = json.loads(jout)[0]["partitions"]
    done = [p for p in parts if p["committed"] is not None]
    assert sum(p["committed"] for p in done) == 3 and all(p["lag"] == 0 for p in parts), parts
    assert w.stop() == 0


@pytest.mark.parametrize("args", [["--bogus"], ["--stage"], ["--stage", "nope"],
                                  ["--group", "export"], ["--group", "nope=g"]])
def test_lag_bad_arguments_exit_2(args):
    rc, out, err = ctl("lag", *args)
    assert rc == 2 and "snaplakectl lag:" in err, (rc, out, err)


@pytest.mark.parametrize("cmd", [["slots", "--jsonl"], ["slots", "x"], ["report"],
                                 ["report", "--html"], ["report", "--html", "f", "--nope"],
                                 ["report", "--html", "f", "--since-hours", "0"]])
def test_bad_arguments_exit_2(cmd, tmp_path):
    rc, out, err = ctl(*cmd)
    assert rc == 2 and ("snaplakectl %s:" % cmd[0]) in err, (rc, out, err)
    assert not os.path.exists("f")


def chromium():
    exe = shutil.which("chromium")
    if not exe:
        pytest.skip("chromium is not installed (scripts/bootstrap.sh installs Debian's)")
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--user-data-dir=%s" % os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                "sl-chromium-%s" % h.uid(6))]


def png_pixels(path):
    """(width, height, rows of RGB tuples) of an 8-bit RGB/RGBA PNG (what Chromium writes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, hgt, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(hgt):
        ft, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, hgt, rows


def test_report_renders_in_chromium_with_the_failure_cause(ctx, ro_role, tmp_path):
    browser = chromium()
    ok, bad = h.create_cluster(), h.create_cluster()
    hostile = ("bucket gone </td></table><script>document.title='pwned'</script>"
               "<img src=x onerror=\"document.title='pwned'\"> & 'quoted'")
    h.standin_config(export_cap=50, export_seconds=1.0, fail_tasks={bad["run_id"]: hostile})
    w = start_worker(ctx, "w")
    w.wait_ready()
    feed(ctx, [ok, bad])
    with h.KafkaReader(ctx["prefix"] + "failures") as r:
        assert len(r.read(1, 90)) == 1
    h.wait_for(lambda: h.ledger_stage([ok["run_id"]], "export").get(ok["run_id"], {})
               .get("status") == "succeeded", 60, what="the good export to succeed")
    assert w.stop() == 0
    ro_role["grant"]()

    page = tmp_path / "report.html"
    rc, out, err = ctl("report", "--html", str(page), ok["run_id"], bad["run_id"],
                       PGUSER=ro_role["role"])
    assert rc == 0, err
    assert not os.path.exists(str(page) + ".tmp")
    html = page.read_text()
    assert "<script" not in html and "<img" not in html and "<link" not in html
    assert "https://" not in html

    dom = subprocess.run(browser + ["--dump-dom", page.as_uri()], capture_output=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr.decode()[-2000:]
    d = dom.stdout.decode("utf-8", "replace")
    assert "<title>snaplake runs</title>" in d  # no script ran to change it
    assert "<script" not in d and "<img" not in d, d[-3000:]
    assert len(re.findall(r'<rect class="bar succeeded" data-stage="export"', d)) == 1, d
    assert len(re.findall(r'<rect class="bar failed" data-stage="export"', d)) == 1, d
    fail_rows = re.findall(r'<tr class="failure">(.*?)</tr>', d, re.S)
    assert len(fail_rows) == 1 and bad["run_id"] in fail_rows[0], fail_rows
    assert "ExportFailed" in fail_rows[0]
    assert ("bucket gone &lt;/td&gt;&lt;/table&gt;&lt;script&gt;document.title='pwned'"
            "&lt;/script&gt;") in fail_rows[0], fail_rows[0]

    shot = tmp_path / "report.png"
    r = subprocess.run(browser + ["--window-size=1200,1400", "--screenshot=%s" % shot,
                                  page.as_uri()], capture_output=True, timeout=120)
    assert r.returncode == 0 and shot.exists(), r.stderr.decode()[-2000:]
    wd, ht, rows = png_pixels(str(shot))
    assert (wd, ht) == (1200, 1400)
    colours = {px for row in rows[::4] for px in row[::4]}
    assert len(colours) > 20, "a blank screenshot"

    def near(px, want):
        return all(abs(px[i] - want[i]) <= 12 for i in range(3))

    def longest_run(want):
        best = 0
        for row in rows[::2]:
            n = 0
            for px in row:
                n = n + 1 if near(px, want) else 0
                best = max(best, n)
        return best
    # Bars, not the legend's 12-pixel swatches or the status pills: long runs of the colour.
    assert longest_run((0xd1, 0x32, 0x12)) > 200, "no failed (red) bar drawn"
    assert longest_run((0x1d, 0x81, 0x02)) > 200, "no succeeded (green) bar drawn"


    # An unknown run id fails the command; the page still holds the known run.
    other = tmp_path / "other.html"
    rc, out, err = ctl("report", "--html", str(other), ok["run_id"], "no-such-run-%s" % h.uid(),
                       PGUSER=ro_role["role"])
    assert rc == 1 and "1 of the 2 run ids given are not in the ledger" in err, (rc, out, err)
    assert ok["run_id"] in other.read_text() and bad["run_id"] not in other.read_text()
