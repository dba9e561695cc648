"""The lake, checked by a query engine (issue 8): the export, copy and crawl workers run on the
local stack behind a private stand-in that writes real gzip Parquet (tests/standin/
export_data.py), and pyarrow reads every file of the lake bucket back:

  - every partition returns exactly the rows the export wrote, each once, with the declared
    column types (a PostgreSQL and a MySQL cluster, both naming conventions);
  - a re-export of the same date from a newer snapshot of the same cluster (other values in
    the same rows, and new rows) still returns each row once, the new snapshot's;
  - a table that failed to export is in `copied.failed_tables` and has no file in the lake;
  - after the crawls, GetTables shows one table per exported table, no duplicates, with the
    columns of the Parquet files, and GetPartitions one partition per date.

    .venv/bin/pytest -q tests/integration/test_lake_query.py
"""

import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))
import harness as h  # noqa: E402
from test_pipeline import EXPORT_ROOT, LAKE_PREFIX, assert_clean_exit  # noqa: E402

pa = pytest.importorskip("pyarrow")
import crawl_catalog  # noqa: E402
import export_data  # noqa: E402
import lake_check  # noqa: E402

PG = {"convention": "current", "engine": "postgres",
      "failed_tables": ["appdb.audit.log"],
      "databases": {"appdb": {
          "public.users": {"files": 3, "partitions": 2, "rows": 25},
          "public.orders": {"files": 2, "rows": 9, "columns": [
              "order_id:bigint", "customer:integer", "lines:smallint", "total:numeric(12,2)",
              "note:text", "code:char(3)", "placed_at:timestamptz", "ship_on:date",
              "paid:boolean", "meta:json", "rate:double precision", "weight:real",
              "blob:bytea"]},
          "audit.log": {"files": 2, "rows": 5}}}}
MYSQL = {"convention": "previous", "engine": "mysql",
         "databases": {"shop": {
             "items": {"files": 2, "partitions": 2, "rows": 11, "columns": [
                 "id:bigint unsigned", "sku:varchar(16)", "price:decimal(8,2)",
                 "big:decimal(30,4)", "stock:mediumint", "made:datetime(6)",
                 "seen:timestamp", "day:date", "on_sale:tinyint(1)", "attrs:json",
                 "img:varbinary(32)", "at:time"]}}}}




def export_root(c, run_id):
    return "%s/%s/%s/%s/" % (EXPORT_ROOT, c["cluster"], c["date"], run_id)


def want_of(p, c, run_id, layout):
    return {(c["cluster"], db, t, c["date"]): v for (db, t), v in
            lake_check.expected_export(p.s3, p.export_bucket, export_root(c, run_id),
                                       layout).items()}


def newer_export(c):
    """A second run of c's cluster on the same day, from a later point in time: an export of
    the cluster itself (mode cluster), whose snapshot time is the export's start, after the
    automated snapshot's (export only takes automated snapshots by their `rds:` id)."""
    first = h.aws("rds").describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=c["snapshot_id"])["DBClusterSnapshots"][0]
    h.wait_for(lambda: time.time() >= first["SnapshotCreateTime"].timestamp() + 1.1, 5,
               what="a later second")
    return dict(c, run_id="%s-%s-23-59" % (c["cluster"], c["date"]))


def send(p, c, mode="snapshot"):
    h.produce(p.prefix + "snapshots", h.snapshot_message(c, mode), key=c["cluster"])


def test_lake_rows_once_reexport_and_failed_table(pipeline):
    p = pipeline()
    h.standin_config(export_seconds=1.0, crawler_seconds=0.5, crawler_stopping_seconds=0.1)
    pg = p.add_cluster(PG, prefix="pq")
    my = p.add_cluster(MYSQL, prefix="my")
    p.start_workers()
    for c in (pg, my):
        send(p, c)
    copied = {r.value["cluster"]: r.value for r in p.read("copies", 2, 120)}
    p.read("crawls", 2, 120)

    want = {}
    for c in (pg, my):
        want.update(want_of(p, c, c["run_id"], c["layout"]))
    assert len(want) == 3   # users, orders, items: the failed table is expected nowhere
    lake = lake_check.read_lake(p.s3, p.lake_bucket, LAKE_PREFIX)
    r = lake_check.check(lake, want)
    print("query check: " + r.line())
    assert r.problems == [], r.problems
    assert r.duplicates == 0 and r.partitions == 3 and r.rows == 25 + 9 + 11
    # The declared types are the ones RDS's conversion page gives (export_data.py).
    orders = lake[(pg["cluster"], "appdb", "public.orders", pg["date"])]["schemas"][0]
    assert [str(f.type) for f in orders] == [
        "int64", "int32", "int16", "string", "string", "string", "string", "string", "bool",
        "string", "double", "float", "binary"]
    items = lake[(my["cluster"], "shop", "items", my["date"])]["schemas"][0]
    assert [str(f.type) for f in items] == [
        "decimal128(20, 0)", "string", "decimal128(8, 2)", "decimal128(30, 4)", "int32",
        "timestamp[us]", "timestamp[us]", "date32[day]", "int32", "string", "binary", "string"]

    # The failed table: reported, and not one of its files in the lake.
    ft = [f["table"] for f in copied[pg["cluster"]]["failed_tables"]]
    assert ft == ["appdb/audit.log"], copied[pg["cluster"]]
    assert not [k for k in p.lake() if "/audit.log/" in k]
    assert copied[my["cluster"]]["failed_tables"] == []

    # Re-export of the same day from a newer snapshot: two more users, other values.
    again = newer_export(pg)
    grown = {"convention": "current", "engine": "postgres", "failed_tables": ["appdb.audit.log"],
             "databases": {"appdb": dict(PG["databases"]["appdb"],
                                         **{"public.users": {"files": 3, "partitions": 2,
                                                             "rows": 27}})}}
    h.standin_config(layouts={pg["cluster"]: grown})
    send(p, again, "cluster")
    m = p.read("copies", 3, 120)[2].value
    assert m["run_id"] == again["run_id"] and m["removed"] > 0, m
    p.read("crawls", 3, 120)
    want2 = dict(want)
    new = want_of(p, again, again["run_id"], grown)
    want2.update(new)
    users = (pg["cluster"], "appdb", "public.users", pg["date"])
    assert len(want2[users]["rows"]) == 27
    assert want2[users]["rows"][:25] != want[users]["rows"], "same values: not a new snapshot"
    lake2 = lake_check.read_lake(p.s3, p.lake_bucket, LAKE_PREFIX)
    r2 = lake_check.check(lake2, want2)
    print("query check after the re-export: " + r2.line())
    assert r2.problems == [], r2.problems
    assert r2.duplicates == 0 and r2.partitions == 3 and r2.rows == 27 + 9 + 11
    assert lake2[users]["files"] == 6

    # The catalog the crawler made: one table per exported table, the Parquet columns, one
    # partition per date.
    tables = p.glue.get_tables(DatabaseName=p.db)["TableList"]
    names = [t["Name"] for t in tables]
    assert sorted(names) == sorted(set(names)) == ["items", "public_orders", "public_users"]
    for t in tables:
        loc = t["StorageDescriptor"]["Location"]
        pid = next(k for k in lake2 if loc.endswith("/%s/%s/%s/" % k[:3]))
        schema = lake2[pid]["schemas"][0]
        assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == \
            [(f.name, crawl_catalog._hive_type(f.type)) for f in schema], t["Name"]
        assert t["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
        parts = p.glue.get_partitions(DatabaseName=p.db, TableName=t["Name"])["Partitions"]
        assert [x["Values"] for x in parts] == [[pid[3]]], parts

    assert_clean_exit(p)


def test_type_mappings_match_the_files():
    """Pure: originalTypeMappings' expectedExportedType names the physical type and the
    annotation pyarrow writes for each column (the contract a catalog built from the export's
    metadata relies on)."""
    import io
    import pyarrow.parquet as pq
    for layout in (PG, MYSQL):
        engine = layout["engine"]
        for db, tables in layout["databases"].items():
            for table, spec in tables.items():
                rows = export_data.expected_rows("%s.%s" % (db, table),
                                                 "2026-12-01T10:00:00.000Z", spec, engine)
                body = export_data.parquet_bytes(rows, export_data.arrow_schema(spec, engine))
                f = pq.ParquetFile(io.BytesIO(body))
                assert f.metadata.row_group(0).column(0).compression == "GZIP"
                maps = export_data.type_mappings(spec, engine)
                for i, mp in enumerate(maps):
                    col = f.schema.column(i)
                    exp = mp["expectedExportedType"]
                    phys = col.physical_type.lower()
                    if phys == "byte_array":
                        phys = "binary"
                    if phys == "fixed_len_byte_array":
                        phys = "fixed_len_byte_array(%d)" % col.length
                    assert exp.split(" ")[0] == phys, (table, mp, col)
                    lt = str(col.logical_type)
                    if "(UTF8)" in exp:
                        assert lt == "String", (mp, lt)
                    elif "DECIMAL(" in exp:
                        assert lt.startswith("Decimal(precision=%d, scale=%d"
                                             % (col.precision, col.scale)), (mp, lt)
                        assert "DECIMAL(%d,%d)" % (col.precision, col.scale) in exp
                    elif "TIMESTAMP_MICROS" in exp:
                        assert lt.startswith("Timestamp(") and "microseconds" in lt, (mp, lt)
                    elif "(DATE)" in exp:
                        assert lt == "Date", (mp, lt)
                    elif "(INT_16)" in exp:
                        assert lt.startswith("Int(bitWidth=16"), (mp, lt)
                    else:
                        assert lt == "None", (mp, lt)
                assert [mp["columnName"] for mp in maps] == f.schema_arrow.names


def test_check_finds_duplicates_missing_rows_and_half_tables():
    """Pure: the query check fails on what a broken copy would leave (a re-export's files
    next to the old ones, a lost file, a failed table's files, a wrong column type)."""
    spec = {"files": 2, "rows": 6}
    rows = export_data.expected_rows("db.public.t", "2026-12-01T10:00:00.000Z", spec)
    schema = export_data.arrow_schema(spec, "postgres")
    want = {("c", "db", "public.t", "2026-12-01"): {"rows": rows, "schema": schema}}

    def lake(parts, sch=schema, extra=None):
        out = {("c", "db", "public.t", "2026-12-01"):
               {"rows": [r for p in parts for r in p], "files": len(parts),
                "schemas": [sch] * len(parts)}}
        out.update(extra or {})
        return out
    a, b = export_data.split(rows, 2)
    ok = lake_check.check(lake([a, b]), want)
    assert ok.problems == [] and ok.line() == "6 rows in 1 partitions, 0 duplicates"
    dup = lake_check.check(lake([a, b, a]), want)
    assert dup.duplicates == 3 and any("duplicate" in p for p in dup.problems)
    lost = lake_check.check(lake([a]), want)
    assert any("3 rows missing" in p for p in lost.problems), lost.problems
    other = export_data.expected_rows("db.public.t", "2026-12-02T10:00:00.000Z", spec)
    stale = lake_check.check(lake([other]), want)
    assert any("other values" in p for p in stale.problems), stale.problems
    half = lake_check.check(lake([a, b], extra={("c", "db", "audit.log", "2026-12-01"): {
        "rows": a, "files": 1, "schemas": [schema]}}), want)
    assert any("audit.log" in p and "no export wrote" in p for p in half.problems)
    typed = lake_check.check(lake([a, b], sch=pa.schema(
        [pa.field("id", pa.int32())] + list(schema)[1:])), want)
    assert any("schema" in p for p in typed.problems), typed.problems


def test_table_that_failed_midway_is_not_half_present(pipeline):
    p = pipeline()
    h.standin_config(export_seconds=1.0, crawler_seconds=0.5, crawler_stopping_seconds=0.1)
    layout = {"convention": "current", "failed_tables": ["appdb.audit.log"],
              "partial_failed": True,
              "databases": {"appdb": {"public.users": {"files": 2, "rows": 6},
                                      "audit.log": {"files": 2, "partitions": 3, "rows": 12}}}}
    c = p.add_cluster(layout, prefix="half")
    p.start_workers()
    send(p, c)
    m = p.read("copies", 1, 120)[0].value
    assert [f["table"] for f in m["failed_tables"]] == ["appdb/audit.log"], m
    # The export holds the failed table's first batch (the stand-in's partial_failed) ...
    assert [k for k in p.export_files(c) if "/audit.log/" in k]
    # ... and the lake must hold none of it, nor any other partition than the good table's.
    r = lake_check.check(lake_check.read_lake(p.s3, p.lake_bucket, LAKE_PREFIX),
                         want_of(p, c, c["run_id"], layout))
    assert r.problems == [], r.problems
    assert_clean_exit(p)


def test_original_types_are_information_schema_names():
    """Pure: originalType is information_schema's data_type (what exports in the wild carry and
    what readers of them match on), expectedExportedType the RDS spelling."""
    got = {(m["columnName"], m["originalType"], m["expectedExportedType"])
           for m in export_data.type_mappings(PG["databases"]["appdb"]["public.orders"],
                                              "postgres")}
    assert ("note", "text", "binary (UTF8)") in got
    assert ("placed_at", "timestamp with time zone", "binary (UTF8)") in got
    assert ("lines", "smallint", "int32 (INT_16)") in got
    assert ("total", "numeric", "binary (UTF8)") in got
    assert ("code", "character", "binary (UTF8)") in got
    assert ("rate", "double precision", "double") in got
    users = export_data.type_mappings({}, "postgres")
    assert [(m["originalType"], m["originalCharMaxLength"]) for m in users][:2] == [
        ("bigint", 0), ("character varying", 64)]
    assert users[4]["originalType"] == "timestamp without time zone"
    assert users[4]["originalDateTimePrecision"] == 6
    my = {m["columnName"]: m for m in export_data.type_mappings(
        MYSQL["databases"]["shop"]["items"], "mysql")}
    assert (my["price"]["originalType"], my["price"]["expectedExportedType"],
            my["price"]["originalNumPrecision"]) == ("decimal", "int32 (DECIMAL(8,2))", 8)
    assert my["made"]["expectedExportedType"] == "int64 (TIMESTAMP_MICROS)"
    assert my["made"]["originalDateTimePrecision"] == 6
    assert my["on_sale"]["originalType"] == "tinyint"
    assert my["id"]["expectedExportedType"] == "fixed_len_byte_array(9) (DECIMAL(20,0))"
