"""What a Glue crawler run writes to the Data Catalog, for the AWS stand-in.

moto's crawler runs create no tables.  When the stand-in starts a crawl run,
this module reads the crawler (S3 targets, DatabaseName, TablePrefix,
Configuration) from moto, lists the files under each target and creates or
updates the Glue tables and partitions a crawler would make from them, in a
thread of its own; the run does not report READY before that is done.

The rule (README "Crawler runs create Glue tables"):
* files whose name starts with '_' or '.' are skipped (crawlers ignore them);
* the table root is the folder above the first Hive-style `key=value` folder
  (else the file's folder), or, with Configuration Grouping
  TableLevelConfiguration N, the folder at absolute level N (bucket = 1);
* the table name is the root folder's name, lower-cased, every character
  other than a-z, 0-9 and '_' replaced by '_', after the crawler's TablePrefix;
  two roots of one run with the same name both get '_' + 8 hex digits of the
  MD5 of their location (crawlers add a hash suffix to duplicate names), and
  so does a root whose name is taken by a table with another location (another
  crawler's, or one registered by hand);
* partition keys are the `key=value` folder keys (`date` in the lake),
  later non-Hive folders `partition_N`; one partition per distinct value list;
* Parquet SerDe, input and output formats, classification parquet;
* columns: read from the Parquet footer with pyarrow (the stand-in's exports
  are real Parquet, export_data.py); for a file that is not Parquet (a test's
  hand-made object) the columns declared in the stand-in layout of the export
  (layouts[<cluster>] or default_layout, databases[<db>][<schema.table>]
  ["columns"] as [{"Name", "Type"}] or ["name:type"]), for a root
  <...>/<cluster>/<db>/<schema.table>; else one column `id bigint`;
* a re-crawl updates a table whose columns or partition keys changed (the
  default UPDATE_IN_DATABASE) and adds the partitions that are new: never a
  duplicate table or partition.  Tables whose folders are gone are left as they
  are (DEPRECATE_IN_DATABASE would only mark them).
"""

import hashlib
import io
import json
import re
import threading
import urllib.parse

PARQUET_IN = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
HIVE_RE = re.compile(r"^([^=]+)=(.*)$")
PLACEHOLDER = [{"Name": "id", "Type": "bigint"}]


def table_name(folder, prefix=""):
    return (prefix or "") + re.sub(r"[^a-z0-9_]", "_", folder.lower())


def plan_tables(bucket, base, keys, table_level=None):
    """Pure: {root prefix: {"folder", "keys": [partition key], "parts": {values tuple:
    [file keys]}}} for the object keys under s3://bucket/base."""
    roots = {}
    for key in keys:
        rel = key[len(base):] if key.startswith(base) else key
        parts = rel.split("/")
        folders, fname = parts[:-1], parts[-1]
        if not fname or fname.startswith(("_", ".")) or \
                any(f.startswith(("_", ".")) for f in folders):
            continue
        base_folders = [f for f in base.split("/") if f]
        if table_level:
            # Absolute level: the bucket is level 1.
            depth = int(table_level) - 1 - len(base_folders)
            if depth < 0 or depth > len(folders):
                continue
            cut = depth
        else:
            cut = next((i for i, f in enumerate(folders) if HIVE_RE.match(f)), len(folders))
        root_folders = folders[:cut]
        pfolders = folders[cut:]
        root = base + "".join(f + "/" for f in root_folders)
        name = root_folders[-1] if root_folders else (base_folders[-1] if base_folders
                                                      else bucket)
        pkeys, pvals = [], []
        for i, f in enumerate(pfolders):
            m = HIVE_RE.match(f)
            pkeys.append(m.group(1) if m else "partition_%d" % i)
            pvals.append(m.group(2) if m else f)
        r = roots.setdefault(root, {"folder": name, "keys": pkeys, "parts": {},
                                    "path": base_folders + root_folders, "dirs": {}})
        r["parts"].setdefault(tuple(pvals), []).append(key)
        r["dirs"][tuple(pvals)] = "".join(f + "/" for f in pfolders)
    return roots


def name_tables(roots, prefix=""):
    """Pure: {root: table name}, duplicates suffixed with a hash of the location."""
    names = {r: table_name(v["folder"], prefix) for r, v in roots.items()}
    count = {}
    for n in names.values():
        count[n] = count.get(n, 0) + 1
    return {r: (n if count[n] == 1 else hashed_name(n, r)) for r, n in names.items()}


def hashed_name(name, location):
    return "%s_%s" % (name, hashlib.md5(location.encode()).hexdigest()[:8])


def _hive_type(t):
    """Hive type of a pyarrow type, as a crawler writes it."""
    s = str(t)
    simple = {"int64": "bigint", "int32": "int", "int16": "smallint", "int8": "tinyint",
              "string": "string", "large_string": "string", "double": "double",
              "float": "float", "bool": "boolean", "date32[day]": "date", "binary": "binary"}
    if s in simple:
        return simple[s]
    if s.startswith("timestamp"):
        return "timestamp"
    if s.startswith("decimal"):
        return s.replace("decimal128", "decimal").replace(" ", "")
    return "string"


def _declared(cfg, path):
    """Columns declared in the stand-in layout for <...>/<cluster>/<db>/<schema.table>."""
    if len(path) < 3:
        return None
    cluster, db, table = path[-3], path[-2], path[-1]
    for lay in (cfg.get("layouts", {}).get(cluster), cfg.get("default_layout")):
        spec = ((lay or {}).get("databases") or {}).get(db, {}).get(table)
        if spec and spec.get("columns"):
            out = []
            for c in spec["columns"]:
                if isinstance(c, str):
                    n, _, t = c.partition(":")
                    out.append({"Name": n, "Type": t or "string"})
                else:
                    out.append({"Name": c["Name"], "Type": c.get("Type", "string")})
            return out
    return None


class CrawlCatalog:
    def __init__(self, standin):
        self.sd = standin
        self.lock = threading.Lock()
        self.results = {}   # crawler name -> last catalog result (for /_standin/state)

    def begin(self, run):
        """Starts the catalog work of a crawl run; run.catalog_done is set when done."""
        run.catalog_done = threading.Event()
        threading.Thread(target=self._run, args=(run,), daemon=True,
                         name="crawl-%s" % run.name).start()

    def _run(self, run):
        res = {"tables_created": [], "tables_updated": [], "partitions_created": 0,
               "errors": []}
        try:
            self.crawl(run.name, res)
        except Exception as e:  # a crawl that cannot read: logged, the run goes on
            res["errors"].append(repr(e))
        finally:
            with self.lock:
                self.results[run.name] = res
            run.catalog_done.set()

    def _columns(self, s3, bucket, files, path):
        try:
            import pyarrow.parquet as pq
            body = s3.get_object(Bucket=bucket, Key=files[0])["Body"].read()
            schema = pq.read_schema(io.BytesIO(body))
            return [{"Name": f.name, "Type": _hive_type(f.type)} for f in schema]
        except Exception:
            pass
        with self.sd.lock:
            cfg = json.loads(json.dumps(self.sd.cfg))
        return _declared(cfg, path) or list(PLACEHOLDER)

    def crawl(self, name, res):
        glue, s3 = self.sd.boto("glue"), self.sd.boto("s3")
        c = glue.get_crawler(Name=name)["Crawler"]
        db = c.get("DatabaseName") or "default"
        prefix = c.get("TablePrefix") or ""
        level = None
        try:
            level = json.loads(c.get("Configuration") or "{}").get(
                "Grouping", {}).get("TableLevelConfiguration")
        except ValueError:
            pass
        roots = {}
        for t in c.get("Targets", {}).get("S3Targets", []):
            u = urllib.parse.urlsplit(t["Path"])
            bucket, base = u.netloc, u.path.lstrip("/")
            if base and not base.endswith("/"):
                base += "/"
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                    Prefix=base):
                keys += [o["Key"] for o in page.get("Contents", [])]
            for root, v in plan_tables(bucket, base, keys, level).items():
                v["bucket"] = bucket
                roots["s3://%s/%s" % (bucket, root)] = v
        names = name_tables(roots, prefix)
        for loc, v in sorted(roots.items()):
            first = next(iter(v["parts"].values()))
            cols = self._columns(s3, v["bucket"], first, v["path"])
            self._put_table(glue, db, names[loc], loc, v, cols, name, res)

    @staticmethod
    def _sd(loc, cols):
        return {"Columns": cols, "Location": loc, "InputFormat": PARQUET_IN,
                "OutputFormat": PARQUET_OUT, "Compressed": False, "NumberOfBuckets": -1,
                "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE,
                              "Parameters": {"serialization.format": "1"}},
                "BucketColumns": [], "SortColumns": [], "StoredAsSubDirectories": False,
                "Parameters": {"classification": "parquet", "compressionType": "none",
                               "typeOfData": "file"}}

    def _put_table(self, glue, db, tname, loc, v, cols, crawler, res):
        pkeys = [{"Name": k, "Type": "string"} for k in v["keys"]]
        nfiles = sum(len(f) for f in v["parts"].values())
        ti = {"Name": tname, "StorageDescriptor": self._sd(loc, cols), "PartitionKeys": pkeys,
              "TableType": "EXTERNAL_TABLE",
              "Parameters": {"classification": "parquet", "compressionType": "none",
                             "typeOfData": "file", "UPDATED_BY_CRAWLER": crawler,
                             "CrawlerSchemaSerializerVersion": "1.0",
                             "CrawlerSchemaDeserializerVersion": "1.0",
                             "objectCount": str(nfiles)}}
        try:
            cur = glue.get_table(DatabaseName=db, Name=tname)["Table"]
        except glue.exceptions.EntityNotFoundException:
            cur = None
        if cur is not None and cur.get("StorageDescriptor", {}).get("Location") != loc:
            # Another folder's table (another crawler's, or a registered one) holds the
            # name: the crawler keeps it and names its own with a hash suffix.
            tname = hashed_name(tname, loc)
            ti["Name"] = tname
            try:
                cur = glue.get_table(DatabaseName=db, Name=tname)["Table"]
            except glue.exceptions.EntityNotFoundException:
                cur = None
        if cur is None:
            glue.create_table(DatabaseName=db, TableInput=ti)
            res["tables_created"].append(tname)
        elif cur.get("StorageDescriptor", {}).get("Columns") != cols or \
                cur.get("PartitionKeys", []) != pkeys:
            glue.update_table(DatabaseName=db, TableInput=ti)
            res["tables_updated"].append(tname)
        if not pkeys:
            return
        have = set()
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=db,
                                                                 TableName=tname):
            have |= {tuple(p["Values"]) for p in page["Partitions"]}
        new = [vals for vals in sorted(v["parts"]) if vals not in have]
        for i in range(0, len(new), 100):
            pis = [{"Values": list(vals), "StorageDescriptor": self._sd(
                loc + v["dirs"][vals], cols)}
                for vals in new[i:i + 100]]
            glue.batch_create_partition(DatabaseName=db, TableName=tname,
                                        PartitionInputList=pis)
            res["partitions_created"] += len(pis)
