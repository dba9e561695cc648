"""bench/peers/layout.py - the copy benchmark's export: N small objects laid out as an RDS
export, the destinations snaplake's copy stage maps them to, and the upload.

The layout is RDS's current convention, as tests/standin/standin.py writes it (and
common/keymap.h reads it), under `<s3 prefix>/<export task id>/`:

    <db>/<schema.table>/<batch>/part-<NNNNN>-<uuid>.gz.parquet   the data files
    <db>/<schema.table>/<batch>/_SUCCESS                         one per batch folder
    export_info_<id>.json, export_tables_info_<id>_from_1_to_<k>.json

Each data file maps to `<lake prefix>/<cluster>/<db>/<schema.table>/date=<date>/<file>` (the
batch folder dropped, keymap.h). File names carry a uuid, so no two batches of one table
share a name and no collision rename is needed: every client, snaplake's or not, writes the
same keys. The bodies are 1-4 KiB of seeded random bytes (they stand for Parquet; nothing
reads them as such), so a layout is reproducible and every object's MD5 is known in
advance: the verifier (verify.py) checks each destination against it.

Uploaded with s5cmd from a local directory (tens of thousands of PUTs in seconds).
"""

import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import uuid

DATABASES = ("shop", "billing")
TABLES_PER_DB = 5
BATCHES = 4
MIN_BYTES, MAX_BYTES = 1024, 4096


class Layout:
    """One export of n data files. Keys are relative to the bucket; `objects` is the list of
    (source key, destination key, size, md5 hex) of the data files, in a fixed order."""

    def __init__(self, n, cluster="bench-cluster", date="2024-03-05", lake_prefix="lake",
                 seed=10):
        self.n = n
        self.cluster = cluster
        self.date = date
        self.lake_prefix = lake_prefix
        self.task = "bench-export-%d" % n
        self.s3_prefix = "s3-export/%s/%s" % (cluster, date)
        self.root = "%s/%s" % (self.s3_prefix, self.task)
        rng = random.Random(seed * 1000003 + n)
        self.tables = [(db, "public.t%02d" % i) for db in DATABASES
                       for i in range(TABLES_PER_DB)]
        self.objects = []
        self._bodies = {}   # source key -> seed of its body, regenerated on upload
        for j in range(n):
            db, table = self.tables[j % len(self.tables)]
            k = j // len(self.tables)
            batch = 1 + k % BATCHES
            fname = "part-%05d-%s.gz.parquet" % (k // BATCHES,
                                                 uuid.UUID(int=rng.getrandbits(128)))
            src = "%s/%s/%s/%d/%s" % (self.root, db, table, batch, fname)
            size = rng.randint(MIN_BYTES, MAX_BYTES)
            bseed = rng.getrandbits(64)
            body = random.Random(bseed).randbytes(size)
            self._bodies[src] = bseed
            self.objects.append((src, self.dest_dir(db, table) + fname, size,
                                 hashlib.md5(body).hexdigest()))

    def dest_dir(self, db, table):
        """`[<lake prefix>/]<cluster>/<db>/<schema.table>/date=<date>/` (keymap.h)."""
        lead = self.lake_prefix + "/" if self.lake_prefix else ""
        return "%s%s/%s/%s/date=%s/" % (lead, self.cluster, db, table, self.date)

    def lake_root(self):
        """Everything the copy writes sits under this prefix."""
        lead = self.lake_prefix + "/" if self.lake_prefix else ""
        return "%s%s/" % (lead, self.cluster)

    def expected(self):
        """{destination key: (size, md5 hex)}."""
        return {d: (size, md5) for _, d, size, md5 in self.objects}

    def extra_files(self):
        """(key, bytes) of what RDS writes besides the data: markers and metadata."""
        out = []
        for db, table in self.tables:
            for b in range(1, BATCHES + 1):
                out.append(("%s/%s/%s/%d/_SUCCESS" % (self.root, db, table, b), b""))
        per = [{"target": "%s.%s" % (db, table), "status": "COMPLETE", "sizeGB": 0.0001,
                "tableStatistics": {"extractionStartTime": "2024-03-05T03:05:00.000Z",
                                    "extractionEndTime": "2024-03-05T03:09:00.000Z"}}
               for db, table in self.tables]
        out.append(("%s/export_tables_info_%s_from_1_to_%d.json" % (self.root, self.task,
                                                                    len(per)),
                    json.dumps({"perTableStatus": per}).encode()))
        out.append(("%s/export_info_%s.json" % (self.root, self.task),
                    json.dumps({"exportTaskIdentifier": self.task, "status": "COMPLETE",
                                "snapshotTime": "2024-03-05T03:04:00.000Z",
                                "s3Prefix": self.s3_prefix,
                                "exportedFilesPath": self.root}).encode()))
        return out

    def write_dir(self, top):
        """Writes the whole export under top/<key> (for an s5cmd upload)."""
        for src, _, size, _ in self.objects:
            path = os.path.join(top, src)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(random.Random(self._bodies[src]).randbytes(size))
        for key, data in self.extra_files():
            path = os.path.join(top, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    def upload(self, s5cmd, endpoint, bucket, env):
        """Writes the export to a temporary directory and uploads it to s3://bucket/ with
        s5cmd (the local paths below the directory become the keys)."""
        top = tempfile.mkdtemp(prefix="sl-bench-layout-")
        try:
            self.write_dir(top)
            r = subprocess.run([s5cmd, "--endpoint-url", endpoint, "--log", "error",
                                "cp", "%s/*" % top.rstrip("/"), "s3://%s/" % bucket],
                               env=env, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("s5cmd upload failed (%d): %s" % (r.returncode,
                                                                     r.stderr[-2000:]))
        finally:
            shutil.rmtree(top, ignore_errors=True)
