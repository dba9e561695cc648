"""Direct catalog registration (issue 8, CATALOG_MODE=direct): the crawl stage registers the
exported tables in Glue from export_tables_info's originalTypeMappings, with no crawler run.
On the local stack behind the stand-in (real gzip Parquet), checked against moto's Glue:

  - GetTables shows exactly the exported tables (the crawler's names, {folder}), no
    duplicates, with the columns of the Parquet files (read with pyarrow, as lake_check does),
    GetPartitions one partition per date, and the stand-in saw no StartCrawler;
  - the `crawled` message says catalog_mode direct, the Glue database and tables; the failed
    table is in failed_tables and not in Glue;
  - a re-export of the same date that adds a column: no new table, still one partition
    (UpdatePartition), the column appended (UpdateTable), a new schema version in the ledger;
  - a later export with a changed column type fails the run with SchemaIncompatible naming
    the table and the column, and leaves the catalog as it was;
  - CATALOG_DIRECT_CLUSTERS: with CATALOG_MODE=crawler, only the listed cluster is registered
    directly, the other still by its crawler.

    .venv/bin/pytest -q tests/integration/test_catalog_direct.py
"""

import os
import sys
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "standin"))
import harness as h  # noqa: E402
from test_lake_query import MYSQL, PG, newer_export, send  # noqa: E402
from test_pipeline import LAKE_PREFIX, assert_clean_exit  # noqa: E402

pa = pytest.importorskip("pyarrow")
import crawl_catalog  # noqa: E402
import export_data  # noqa: E402
import lake_check  # noqa: E402

USERS = export_data.DEFAULT_COLUMNS["postgres"]




def glue_db(cluster):
    return "snaplake_" + cluster.replace("-", "_")


def check_catalog(p, db, lake, names):
    """GetTables of db: exactly names, no duplicates, the Parquet columns, one partition per
    date; returns {name: table}."""
    tables = p.glue.get_tables(DatabaseName=db)["TableList"]
    got = [t["Name"] for t in tables]
    assert sorted(got) == sorted(set(got)) == sorted(names), got
    for t in tables:
        loc = t["StorageDescriptor"]["Location"]
        pid = next(k for k in lake if loc.endswith("/%s/%s/%s/" % k[:3]))
        schema = lake[pid]["schemas"][0]
        assert [(c["Name"], c["Type"]) for c in t["StorageDescriptor"]["Columns"]] == \
            [(f.name, crawl_catalog._hive_type(f.type)) for f in schema], t["Name"]
        assert t["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
        assert t["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == \
            crawl_catalog.PARQUET_SERDE
        parts = p.glue.get_partitions(DatabaseName=db, TableName=t["Name"])["Partitions"]
        assert [x["Values"] for x in parts] == [[pid[3]]], parts
        assert parts[0]["StorageDescriptor"]["Location"] == "%sdate=%s/" % (loc, pid[3])
    return {t["Name"]: t for t in tables}


def test_direct_registration(pipeline):
    p = pipeline()
    h.standin_config(export_seconds=1.0)
    pg = p.add_cluster(PG, prefix="dpg")
    my = p.add_cluster(MYSQL, prefix="dmy")
    p.start_workers(CATALOG_MODE="direct")
    for c in (pg, my):
        send(p, c)
    crawled = {r.value["cluster"]: r.value for r in p.read("crawls", 2, 120)}
    lake = lake_check.read_lake(p.s3, p.lake_bucket, LAKE_PREFIX)

    m = crawled[pg["cluster"]]
    assert m["catalog_mode"] == "direct" and "crawler" not in m, m
    assert m["glue_database"] == glue_db(pg["cluster"])
    assert m["glue_tables"] == ["public_orders", "public_users"]
    assert m["glue_tables_total"] == 2 and m["crawl_status"] == "SUCCEEDED"
    assert [f["table"] for f in m["failed_tables"]] == ["appdb/audit.log"]
    assert crawled[my["cluster"]]["glue_tables"] == ["items"]
    check_catalog(p, glue_db(pg["cluster"]), lake, ["public_orders", "public_users"])
    check_catalog(p, glue_db(my["cluster"]), lake, ["items"])
    # No crawler run at all, and nothing in the crawlers' own database.
    assert h.standin_state()["crawl_starts"] == []
    assert p.glue.get_tables(DatabaseName=p.db)["TableList"] == []
    # The ledger: each table's schema version.
    row = h.ledger_stage([pg["run_id"]], "crawl")[pg["run_id"]]
    assert row["status"] == "succeeded"
    d = row["details"]
    assert d["catalog_mode"] == "direct" and d["glue_database"] == glue_db(pg["cluster"])
    v1 = d["schema_versions"]["public_users"]
    assert v1["created"] is True and v1["columns"] == len(USERS) and len(v1["schema"]) == 16
    assert v1["partitions_created"] == 1

    # Re-export of the same date with one more column in users: no new table, one partition
    # (UpdatePartition), the column appended (UpdateTable), a new schema version.
    again = newer_export(pg)
    grown = dict(PG, databases={"appdb": dict(
        PG["databases"]["appdb"],
        **{"public.users": {"files": 3, "partitions": 2, "rows": 27,
                            "columns": USERS + ["nickname:text"]}})})
    h.standin_config(layouts={pg["cluster"]: grown})
    send(p, again, "cluster")
    m2 = p.read("crawls", 3, 120)[2].value
    assert m2["run_id"] == again["run_id"] and m2["catalog_mode"] == "direct", m2
    lake2 = lake_check.read_lake(p.s3, p.lake_bucket, LAKE_PREFIX)
    tables = check_catalog(p, glue_db(pg["cluster"]), lake2, ["public_orders", "public_users"])
    cols = [c["Name"] for c in tables["public_users"]["StorageDescriptor"]["Columns"]]
    assert cols[-1] == "nickname" and len(cols) == len(USERS) + 1
    d2 = h.ledger_stage([again["run_id"]], "crawl")[again["run_id"]]["details"]
    v2 = d2["schema_versions"]["public_users"]
    assert v2["created"] is False and v2["columns_added"] == 1
    assert v2["columns"] == len(USERS) + 1 and v2["schema"] != v1["schema"]
    assert v2["partitions_updated"] == 1 and v2["partitions_created"] == 0
    assert d2["schema_versions"]["public_orders"]["schema"] == \
        d["schema_versions"]["public_orders"]["schema"]

    # A later export (mode cluster: its time is its start, after the second's) where users.qty
    # changed type: the run fails with a clear cause and the
    # catalog keeps its columns.
    third = dict(again, run_id="%s-%s-23-58" % (pg["cluster"], pg["date"]))
    changed = dict(grown, databases={"appdb": dict(
        grown["databases"]["appdb"],
        **{"public.users": {"files": 3, "partitions": 2, "rows": 27,
                            "columns": [c.replace("qty:integer", "qty:bigint")
                                        for c in USERS] + ["nickname:text"]}})})
    h.standin_config(layouts={pg["cluster"]: changed})
    send(p, third, "cluster")
    fails = [r.value for r in p.read("failures", 1, 120)]
    f = fails[0]
    assert f["stage"] == "crawl" and f["error_code"] == "SchemaIncompatible", f
    assert "qty" in f["error_message"] and "public_users" in f["error_message"], f
    assert "bigint" in f["error_message"] and "int" in f["error_message"], f
    after = p.glue.get_table(DatabaseName=glue_db(pg["cluster"]), Name="public_users")["Table"]
    assert after["StorageDescriptor"]["Columns"] == tables["public_users"]["StorageDescriptor"][
        "Columns"]
    assert h.standin_state()["crawl_starts"] == []
    assert_clean_exit(p)


def test_direct_clusters_override(pipeline):
    """CATALOG_MODE=crawler with CATALOG_DIRECT_CLUSTERS: the listed cluster is registered
    directly, the other still by its crawler (moving cluster by cluster)."""
    p = pipeline()
    h.standin_config(export_seconds=1.0, crawler_seconds=0.5, crawler_stopping_seconds=0.1)
    direct = p.add_cluster(MYSQL, prefix="ovd")
    crawled = p.add_cluster(MYSQL, prefix="ovc")
    p.start_workers(CATALOG_MODE="crawler", CATALOG_DIRECT_CLUSTERS=direct["cluster"])
    for c in (direct, crawled):
        send(p, c)
    got = {r.value["cluster"]: r.value for r in p.read("crawls", 2, 120)}
    assert got[direct["cluster"]]["catalog_mode"] == "direct"
    assert got[crawled["cluster"]]["catalog_mode"] == "crawler"
    assert got[crawled["cluster"]]["crawler"] == "snaplake-%s" % crawled["cluster"]
    starts = [s["crawler"] for s in h.standin_state()["crawl_starts"]]
    assert starts == ["snaplake-%s" % crawled["cluster"]], starts
    lake = lake_check.read_lake(p.s3, p.lake_bucket, LAKE_PREFIX)
    check_catalog(p, glue_db(direct["cluster"]), lake, ["items"])
    assert_clean_exit(p)
