"""The query check of the lake: read every Parquet file of the lake with pyarrow and compare
the rows with what the exports wrote (export_data.py). Used by
tests/integration/test_lake_query.py and scripts/demo.py (`make demo`).

  expected_export(s3, bucket, root, layout) -> {(db, table): {"rows", "schema"}}
      what one export under s3://bucket/root/ holds: its COMPLETE tables' rows, from
      export_info's snapshotTime, export_tables_info's statuses and the stand-in layout;
  read_lake(s3, bucket, prefix) -> {(cluster, db, table, date): {"rows", "files", "schemas"}}
      every `*.parquet` object under <prefix>/<cluster>/<db>/<table>/date=<date>/, read;
  check(lake, want) -> Report  (want: {(cluster, db, table, date): {"rows", "schema"}})
      every wanted partition returns exactly its rows, each once, with the declared types,
      and no other partition of those clusters exists (a failed table is absent, whole).
"""

import io
import json
from concurrent.futures import ThreadPoolExecutor

import export_data


class Report:
    def __init__(self):
        self.rows = 0
        self.partitions = 0
        self.duplicates = 0
        self.problems = []

    def line(self):
        return "%d rows in %d partitions, %d duplicates" % (self.rows, self.partitions,
                                                          self.duplicates)


def _get(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _keys(s3, bucket, prefix):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def expected_export(s3, bucket, root, layout):
    root = root.rstrip("/") + "/"
    keys = _keys(s3, bucket, root)
    info = [k for k in keys if k[len(root):].startswith("export_info_")]
    if len(info) != 1:
        raise AssertionError("export under s3://%s/%s: %d export_info files"
                             % (bucket, root, len(info)))
    snap = json.loads(_get(s3, bucket, info[0]))["snapshotTime"]
    status = {}
    for k in keys:
        if k[len(root):].startswith("export_tables_info_"):
            for e in json.loads(_get(s3, bucket, k))["perTableStatus"]:
                status[e["target"]] = e["status"]
    engine = layout.get("engine", "postgres")
    out = {}
    for db, tables in layout.get("databases", {}).items():
        for table, spec in tables.items():
            target = "%s.%s" % (db, table)
            if status.get(target) != "COMPLETE":
                continue
            out[(db, table)] = {"rows": export_data.expected_rows(target, snap, spec, engine),
                                "schema": export_data.arrow_schema(spec, engine)}
    return out


def read_lake(s3, bucket, prefix):
    import pyarrow.parquet as pq
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    lake = {}
    keys = [k for k in _keys(s3, bucket, prefix) if k.endswith(".parquet")]
    # The GETs in parallel (a demo export has 2,400 files); the reading in key order.
    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = pool.map(lambda k: _get(s3, bucket, k), keys)
    for k, body in zip(keys, bodies):
        parts = k[len(prefix):].split("/")
        if len(parts) != 5 or not parts[3].startswith("date="):
            raise AssertionError("lake object outside <cluster>/<db>/<table>/date=/: %s" % k)
        pid = (parts[0], parts[1], parts[2], parts[3][len("date="):])
        t = pq.read_table(io.BytesIO(body))
        p = lake.setdefault(pid, {"rows": [], "files": 0, "schemas": []})
        p["rows"] += t.to_pylist()
        p["files"] += 1
        p["schemas"].append(t.schema)
    return lake


def check(lake, want):
    r = Report()
    clusters = {pid[0] for pid in want}
    for pid in sorted(set(lake) - set(want)):
        if pid[0] in clusters:
            r.problems.append("%s: partition in the lake that no export wrote "
                              "(a failed table half-present, or a stale day)" % "/".join(pid))
    for pid, w in sorted(want.items()):
        name = "/".join(pid)
        got = lake.get(pid)
        if got is None:
            r.problems.append("%s: partition missing (%d rows expected)" % (name, len(w["rows"])))
            continue
        r.partitions += 1
        r.rows += len(got["rows"])
        for s in got["schemas"]:
            if not s.equals(w["schema"], check_metadata=False):
                r.problems.append("%s: schema %s, declared %s" % (
                    name, [(f.name, str(f.type)) for f in s],
                    [(f.name, str(f.type)) for f in w["schema"]]))
                break
        pk = w["schema"][0].name
        seen = {}
        for row in got["rows"]:
            seen.setdefault(row[pk], []).append(row)
        dups = sum(len(v) - 1 for v in seen.values())
        r.duplicates += dups
        if dups:
            r.problems.append("%s: %d duplicate rows (%s)" % (
                name, dups, sorted(k for k, v in seen.items() if len(v) > 1)[:5]))
        wk = {row[pk]: row for row in w["rows"]}
        missing = sorted(set(wk) - set(seen))
        extra = sorted(set(seen) - set(wk))
        if missing:
            r.problems.append("%s: %d rows missing (%s)" % (name, len(missing), missing[:5]))
        if extra:
            r.problems.append("%s: %d rows no export wrote (%s)" % (name, len(extra), extra[:5]))
        wrong = [k for k in wk if k in seen and seen[k][0] != wk[k]]
        if wrong:
            r.problems.append("%s: %d rows with other values than the export's (%s)"
                              % (name, len(wrong), wrong[:5]))
    return r
