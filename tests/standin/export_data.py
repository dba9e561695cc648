"""Rows, Parquet files and schema metadata of the stand-in's exports.

A stand-in layout table ({"files", "partitions", ...}, README "Export layouts")
may declare
  "columns": ["name:type", ...] or [{"Name": n, "Type": t}]  source (SQL) types,
  "rows":    rows of the table in this snapshot (default 4 per file),
and the layout "engine": "postgres" (default) or "mysql".  Without "columns"
a table has DEFAULT_COLUMNS[engine].  The first column is the primary key: row
ids 1..rows.  Every other value is drawn from a generator seeded with the
table's target and the snapshot time, so an export is reproducible
(expected_rows() gives the rows a test must read back) and an export of a later
snapshot has other values in the same rows (and new rows when "rows" grew).

The Parquet type of each source type follows RDS's "Data conversion when
exporting to an Amazon S3 bucket" page (USER_ExportSnapshot.data-types):
* MySQL/MariaDB: BIGINT INT64, INT/MEDIUMINT/SMALLINT/TINYINT INT32 (UNSIGNED
  INT/MEDIUMINT INT64, BIGINT UNSIGNED FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)),
  DECIMAL/NUMERIC INT32, INT64 or FIXED_LEN_BYTE_ARRAY with DECIMAL(p,s) (a
  precision above 38 a UTF8 string), FLOAT and DOUBLE DOUBLE, DATE INT32 DATE,
  DATETIME/TIMESTAMP INT64 TIMESTAMP_MICROS, TIME a UTF8 string, YEAR INT32,
  CHAR/VARCHAR/TEXT/ENUM/JSON BYTE_ARRAY STRING, BINARY/VARBINARY/BLOB/BIT
  BYTE_ARRAY;
* PostgreSQL: BIGINT/BIGSERIAL INT64, INTEGER/SERIAL INT32, SMALLINT INT32
  INT_16, REAL FLOAT, DOUBLE PRECISION DOUBLE, BOOLEAN BOOLEAN, BYTEA BINARY,
  and DECIMAL/NUMERIC (to keep precision and NaN), MONEY, the character types,
  DATE, TIME, TIMESTAMP (with or without time zone), INTERVAL, JSON/JSONB and
  UUID as BYTE_ARRAY STRING.
originalType is information_schema's data_type (PG_ORIGINAL below); expectedExportedType
spells the Parquet type as the RDS files do ("binary (UTF8)", "int32", "int64",
"double", "boolean" are seen in real export_tables_info files): the primitive
in lower case ("int32", "int64", "float", "double", "boolean", "binary",
"fixed_len_byte_array(9)") and the annotation in parentheses ("binary (UTF8)",
"int32 (DATE)", "int64 (TIMESTAMP_MICROS)", "int32 (INT_16)",
"int64 (DECIMAL(12,2))").

Needs pyarrow (tests/requirements.txt); imported lazily so the stand-in still
starts without it (write_export then fails the task with the import error).
"""

import datetime
import decimal
import hashlib
import io
import json
import random
import re

DEFAULT_COLUMNS = {
    "postgres": ["id:bigint", "name:varchar(64)", "amount:numeric(12,2)",
                 "qty:integer", "created_at:timestamp", "day:date", "active:boolean",
                 "doc:jsonb", "raw:bytea"],
    "mysql": ["id:bigint", "name:varchar(64)", "amount:decimal(12,2)", "qty:int",
              "created_at:datetime(6)", "day:date", "active:tinyint(1)", "doc:json",
              "raw:blob"],
}
ROWS_PER_FILE = 4
TYPE_RE = re.compile(r"^\s*([a-z][a-z0-9 _]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?"
                     r"\s*(unsigned)?\s*$")
# Hive names a layout may use (the crawl stand-in's older "name:string" form).
HIVE_ALIAS = {"string": "text", "int": "integer", "bigint": "bigint", "double": "double",
              "float": "real", "boolean": "boolean", "binary": "bytea",
              "timestamp": "timestamp", "date": "date", "tinyint": "smallint",
              "smallint": "smallint"}
EPOCH = datetime.date(1970, 1, 1)


def parse_type(t):
    """'numeric(12,2)' -> ('numeric', 12, 2, False); raises ValueError."""
    m = TYPE_RE.match((t or "").lower())
    if not m:
        raise ValueError("unsupported column type %r" % t)
    base = re.sub(r"\s+", " ", m.group(1))
    a = int(m.group(2)) if m.group(2) else None
    b = int(m.group(3)) if m.group(3) else None
    return base, a, b, bool(m.group(4))


def columns(spec, engine):
    """[(name, source type)] of a layout table."""
    out = []
    for c in spec.get("columns") or DEFAULT_COLUMNS[engine]:
        if isinstance(c, str):
            n, _, t = c.partition(":")
        else:
            n, t = c["Name"], c.get("Type", "text")
        out.append((n, t or "text"))
    return out


def _kind(engine, t):
    """(value kind, arrow type factory args, expectedExportedType, mapping fields)."""
    base, a, b, unsigned = parse_type(t)
    if engine == "postgres":
        base = HIVE_ALIAS.get(base, base) if base in ("string", "int", "float", "binary",
                                                      "tinyint") else base
        ints = {"bigint": 64, "int8": 64, "bigserial": 64, "integer": 32, "int4": 32,
                "serial": 32, "smallint": 16, "int2": 16, "smallserial": 16}
        if base in ints:
            bits = ints[base]
            exp = {64: "int64", 32: "int32", 16: "int32 (INT_16)"}[bits]
            return ("int", ("int%d" % bits,), exp,
                    {"originalNumPrecision": bits, "_max": 32767 if bits == 16 else None})
        if base in ("numeric", "decimal"):
            return ("decstr", (), "binary (UTF8)",
                    {"originalNumPrecision": a or 0, "_scale": b or 0})
        if base in ("money",):
            return ("decstr", (), "binary (UTF8)", {"_scale": 2})
        if base in ("real", "float4"):
            return ("float", ("float32",), "float", {"originalNumPrecision": 24})
        if base in ("double precision", "float8", "double"):
            return ("float", ("float64",), "double", {"originalNumPrecision": 53})
        if base in ("boolean", "bool"):
            return ("bool", ("bool_",), "boolean", {})
        if base == "bytea":
            return ("bytes", ("binary",), "binary", {})
        if base in ("varchar", "character varying", "char", "character", "bpchar", "text",
                    "name", "uuid", "citext"):
            return ("str", ("string",), "binary (UTF8)", {"originalCharMaxLength": a or 0})
        if base in ("json", "jsonb"):
            return ("json", ("string",), "binary (UTF8)", {})
        if base in ("timestamp", "timestamptz", "timestamp with time zone",
                    "timestamp without time zone"):
            return ("tsstr", ("string",), "binary (UTF8)",
                    {"originalDateTimePrecision": 6 if a is None else a,
                     "_tz": "tz" in base or "with time" in base})
        if base == "date":
            return ("datestr", ("string",), "binary (UTF8)", {})
        if base in ("time", "timetz", "interval"):
            return ("timestr", ("string",), "binary (UTF8)",
                    {"originalDateTimePrecision": 6 if a is None else a})
        raise ValueError("unsupported PostgreSQL column type %r" % t)
    if engine != "mysql":
        raise ValueError("unsupported engine %r" % engine)
    ints = {"tinyint": 3, "smallint": 5, "mediumint": 7, "int": 10, "integer": 10,
            "bigint": 19, "year": 4}
    if base in ("bool", "boolean"):
        base, a = "tinyint", 1
    base = {"string": "text", "double precision": "double"}.get(base, base)
    if base in ints:
        if base == "bigint" and unsigned:
            return ("dec", ("decimal", 20, 0), "fixed_len_byte_array(9) (DECIMAL(20,0))",
                    {"originalNumPrecision": 20, "_p": 20, "_scale": 0})
        wide = base == "bigint" or (unsigned and base in ("int", "integer", "mediumint"))
        prec = ints[base] + (1 if unsigned and base == "bigint" else 0)
        top = {"tinyint": 127, "smallint": 32767, "year": 2155}.get(base)
        return ("int", ("int64" if wide else "int32",), "int64" if wide else "int32",
                {"originalNumPrecision": prec, "_max": 1 if (base == "tinyint" and a == 1)
                 else top})
    if base in ("decimal", "numeric", "dec", "fixed"):
        p, s = a or 10, b or 0
        if p > 38:
            return ("decstr", (), "binary (UTF8)", {"originalNumPrecision": p, "_scale": s})
        # pyarrow's store_decimal_as_integer: INT32 up to 9 digits, INT64 up to 18,
        # FIXED_LEN_BYTE_ARRAY above, as the page describes.
        phys = "int32" if p <= 9 else "int64" if p <= 18 else \
            "fixed_len_byte_array(%d)" % _flba_len(p)
        return ("dec", ("decimal", p, s), "%s (DECIMAL(%d,%d))" % (phys, p, s),
                {"originalNumPrecision": p, "_p": p, "_scale": s})
    if base in ("float", "double", "double precision", "real"):
        return ("float", ("float64",), "double",
                {"originalNumPrecision": 12 if base == "float" else 22})
    if base == "date":
        return ("date", ("date32",), "int32 (DATE)", {})
    if base in ("datetime", "timestamp"):
        return ("ts", ("timestamp",), "int64 (TIMESTAMP_MICROS)",
                {"originalDateTimePrecision": a or 0})
    if base == "time":
        return ("timestr", ("string",), "binary (UTF8)",
                {"originalDateTimePrecision": a or 0})
    if base in ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"):
        maxlen = a if a is not None else {"tinytext": 255, "text": 65535,
                                          "mediumtext": 16777215,
                                          "longtext": 4294967295}.get(base, 1)
        return ("str", ("string",), "binary (UTF8)", {"originalCharMaxLength": maxlen})
    if base == "json":
        return ("json", ("string",), "binary (UTF8)", {})
    if base in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"):
        return ("bytes", ("binary",), "binary", {"originalCharMaxLength": a or 0})
    raise ValueError("unsupported MySQL column type %r" % t)


def _flba_len(p):
    """Bytes of a FIXED_LEN_BYTE_ARRAY decimal of precision p (Parquet's rule)."""
    n = 1
    while 10 ** p > 2 ** (8 * n - 1):
        n += 1
    return n


# originalType is information_schema's data_type, as exports in the wild show it (for
# PostgreSQL "character varying", "timestamp without time zone", "USER-DEFINED"; MySQL's
# DATA_TYPE is the short lower-case name).
PG_ORIGINAL = {"int8": "bigint", "bigserial": "bigint", "int": "integer", "int4": "integer",
               "serial": "integer", "int2": "smallint", "smallserial": "smallint",
               "decimal": "numeric", "float4": "real", "float": "real",
               "float8": "double precision", "double": "double precision",
               "bool": "boolean", "varchar": "character varying", "char": "character",
               "bpchar": "character", "string": "text", "binary": "bytea",
               "tinyint": "smallint", "citext": "USER-DEFINED",
               "timestamp": "timestamp without time zone",
               "timestamptz": "timestamp with time zone",
               "time": "time without time zone", "timetz": "time with time zone"}
MYSQL_ORIGINAL = {"integer": "int", "bool": "tinyint", "boolean": "tinyint",
                  "numeric": "decimal", "dec": "decimal", "fixed": "decimal",
                  "double precision": "double", "string": "text"}


def original_type(engine, t):
    base = parse_type(t)[0]
    table = PG_ORIGINAL if engine == "postgres" else MYSQL_ORIGINAL
    return table.get(base, base)


def type_mappings(spec, engine):
    """schemaMetadata.originalTypeMappings of a table, as RDS writes them."""
    out = []
    for name, t in columns(spec, engine):
        _, _, exp, f = _kind(engine, t)
        out.append({"columnName": name, "originalType": original_type(engine, t),
                    "expectedExportedType": exp,
                    "originalCharMaxLength": f.get("originalCharMaxLength", 0),
                    "originalNumPrecision": f.get("originalNumPrecision", 0),
                    "originalDateTimePrecision": f.get("originalDateTimePrecision", 0)})
    return out


def arrow_schema(spec, engine):
    import pyarrow as pa
    fields = []
    for name, t in columns(spec, engine):
        _, args, _, _ = _kind(engine, t)
        if not args:
            at = pa.string()
        elif args[0] == "decimal":
            at = pa.decimal128(args[1], args[2])
        elif args[0] == "timestamp":
            at = pa.timestamp("us")
        else:
            at = getattr(pa, args[0])()
        fields.append(pa.field(name, at, nullable=True))
    return pa.schema(fields)


def seed_of(target, snapshot_iso):
    return int.from_bytes(hashlib.sha256(("%s@%s" % (target, snapshot_iso)).encode())
                          .digest()[:8], "big")


def row_count(spec):
    return int(spec.get("rows", ROWS_PER_FILE * int(spec.get("files", 1)) *
                        int(spec.get("partitions", 1))))


def expected_rows(target, snapshot_iso, spec, engine="postgres"):
    """The rows (dicts, values as pyarrow's to_pylist returns them) an export of target
    at snapshot_iso (export_info's snapshotTime) writes, ordered by primary key."""
    cols = columns(spec, engine)
    kinds = [_kind(engine, t) for _, t in cols]
    rng = random.Random(seed_of(target, snapshot_iso))
    snap = datetime.datetime.strptime(snapshot_iso[:19], "%Y-%m-%dT%H:%M:%S")
    rows = []
    for rid in range(1, row_count(spec) + 1):
        row = {}
        for i, ((name, _), (kind, _, _, f)) in enumerate(zip(cols, kinds)):
            if i == 0:
                row[name] = str(rid) if kind in ("str", "decstr") else \
                    decimal.Decimal(rid) if kind == "dec" else rid
                continue
            if rng.random() < 0.1:
                row[name] = None
                continue
            row[name] = _value(rng, kind, f, rid, snap, name)
        rows.append(row)
    return rows


def _value(rng, kind, f, rid, snap, name):
    if kind == "int":
        hi = f.get("_max") or 100000
        return rng.randint(0, hi)
    if kind == "float":
        return float(rng.randint(0, 1 << 20)) / 8.0   # exact in float32 and float64
    if kind == "bool":
        return rng.random() < 0.5
    if kind in ("dec", "decstr"):
        s = f.get("_scale", 0)
        p = f.get("_p") or f.get("originalNumPrecision") or 12
        digits = max(1, min(p, 12) - s)
        v = decimal.Decimal(rng.randint(0, 10 ** (digits + s) - 1)).scaleb(-s)
        return v if kind == "dec" else str(v)
    if kind == "str":
        n = f.get("originalCharMaxLength") or 64
        return ("%s-%d-%08x" % (name, rid, rng.getrandbits(32)))[:n]
    if kind == "json":
        return json.dumps({"id": rid, "v": rng.getrandbits(16)}, separators=(",", ":"))
    if kind == "bytes":
        return bytes(rng.getrandbits(8) for _ in range(8))
    if kind in ("ts", "tsstr"):
        ts = snap - datetime.timedelta(seconds=rng.randint(0, 86400 * 30),
                                       microseconds=rng.randint(0, 999999))
        if kind == "ts":
            return ts
        return ts.strftime("%Y-%m-%d %H:%M:%S.%f") + ("+00" if f.get("_tz") else "")
    if kind in ("date", "datestr"):
        d = snap.date() - datetime.timedelta(days=rng.randint(0, 365))
        return d if kind == "date" else d.isoformat()
    if kind == "timestr":
        return "%02d:%02d:%02d" % (rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
    raise ValueError(kind)


def split(rows, nfiles):
    """The rows of each of nfiles files: contiguous, as even as possible."""
    out, start = [], 0
    for i in range(nfiles):
        n = len(rows) // nfiles + (1 if i < len(rows) % nfiles else 0)
        out.append(rows[start:start + n])
        start += n
    return out


def parquet_bytes(rows, schema):
    """One gzip-compressed Parquet file (RDS writes *.gz.parquet) of rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="gzip", store_decimal_as_integer=True)
    return buf.getvalue()
