#!/usr/bin/env python3
"""AWS stand-in: a thin HTTP layer in front of a running moto server.

moto's RDS export finishes the instant it starts, writes no files and has no
account limit; its crawler runs report COMPLETED instead of AWS's statuses.
This layer forwards every AWS request to moto unchanged (method, path, query,
body and headers, Host and Authorization included), so moto verifies the
caller's SigV4 signature, and then applies AWS's behaviour on top:

* RDS StartExportTask / DescribeExportTasks / CancelExportTask: our own task
  lifecycle STARTING -> IN_PROGRESS -> COMPLETE (or FAILED / CANCELING ->
  CANCELED), a per-account cap answered with ExportTaskLimitReachedFault,
  cluster ARNs as SourceArn, and on completion the files a real export writes.
* Glue StartCrawler / StopCrawler / GetCrawler / GetCrawlers: our own crawl
  runs RUNNING -> STOPPING -> READY with LastCrawl SUCCEEDED, FAILED or
  CANCELLED, and CrawlerRunningException for a second start.
* Fault injection (500 / 503 / throttling, without forwarding) and latency.

Everything else passes through untouched. Control API under /_standin/ (JSON),
documented in tests/standin/README.md.

Only the standard library plus boto3 (to write export files into moto's S3 and
to look up clusters/snapshots) and pyarrow (the export files are real Parquet,
export_data.py) is used.
"""

import argparse
import xml.etree.ElementTree as ET
import http.client
import http.server
import json
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from xml.sax.saxutils import escape as xml_escape

import crawl_catalog  # tests/standin/, next to this file
import export_data
import lakeformation

RDS_NS = "http://rds.amazonaws.com/doc/2014-10-31/"
DEFAULT_ACCOUNT = os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
# Request bodies are read into memory before forwarding; the cap keeps a
# runaway client from exhausting memory.  S3 single PUTs in the tests are far
# below it; multipart parts are at most 5 GiB on AWS but our tests use MiBs.
MAX_BODY = 1 << 30
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding",
    "te", "trailer", "upgrade",
}
ACTIVE_EXPORT = ("STARTING", "IN_PROGRESS")
AUTH_SERVICE_RE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
SNAPSHOT_SUFFIX_RE = re.compile(r"-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def log(msg, **fields):
    rec = {"time": datetime.now(timezone.utc).isoformat(), "component": "standin",
           "message": msg}
    rec.update(fields)
    sys.stdout.write(json.dumps(rec) + "\n")
    sys.stdout.flush()


def iso_ms(ts):
    """RDS query-protocol timestamp: ISO 8601 UTC with milliseconds."""
    d = datetime.fromtimestamp(ts, timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def default_config():
    return {
        # Export lifecycle.
        "export_seconds": 4.0,          # STARTING + IN_PROGRESS, per task
        "starting_fraction": 0.2,       # share of the duration spent STARTING
        "task_seconds": {},             # export task id -> seconds (override)
        "cancel_seconds": 1.0,          # CANCELING -> CANCELED
        "export_cap": 5,                # concurrent STARTING/IN_PROGRESS tasks
        "account_caps": {},             # account id -> cap
        "fail_tasks": {},               # export task id -> FailureCause
        "fail_sources": {},             # layout key (see README) -> FailureCause
        # Export files: layout key -> layout; "default" when nothing matches.
        "layouts": {},
        "default_layout": {
            "convention": "current",
            "databases": {"postgres": {"public.t1": {"files": 2, "partitions": 1},
                                       "public.t2": {"files": 1, "partitions": 1}}},
            "failed_tables": [],
        },
        "tables_info_chunk": 100,       # tables per export_tables_info file
        "writer_threads": 8,
        # Crawler runs.
        "crawler_seconds": 3.0,         # RUNNING, per run
        "crawler_stopping_seconds": 0.5,
        "crawler_seconds_by_name": {},
        # Fault injection (AWS requests only, never control requests).
        "faults": {"rate": 0.0, "kinds": ["500", "503", "throttle"],
                   "services": [], "actions": [], "seed": None, "pattern": [],
                   "query_throttle_code": "ThrottlingException"},
        # Per-key errors inside a 200 DeleteObjects answer (S3's <Error> entries).
        "s3_delete_key_faults": {"rate": 0.0, "code": "InternalError",
                                 "message": "We encountered an internal error. "
                                            "Please try again.", "max": 0},
        # S3's request rate per prefix: "<bucket>/<key prefix>" -> writes per second (null
        # clears one). Writes over it are answered 503 SlowDown (see prefix_enter).
        "s3_prefix_rate": {},
        "s3_prefix_burst_seconds": 1.0,  # a bucket holds this many seconds of its rate
        # A misbehaving S3-compatible server: the next N ListObjectsV2 answers of two or more
        # keys come with their first two <Contents> swapped (S3 itself always lists in UTF-8
        # binary order, which is what a client may check).
        "s3_list_disorder": 0,
        "latency_ms": 0,
        "latency_jitter_ms": 0,
        # Action (an S3 operation by s3_operation's name) -> ms more for that request only.
        "latency_by_action": {},
        **lakeformation.default_config(),   # lf_faults (lakeformation.py)
    }


class ExportTask:
    def __init__(self, task_id, params, account, duration, now):
        self.id = task_id
        self.source_arn = params.get("SourceArn", "")
        self.s3_bucket = params.get("S3BucketName", "")
        self.s3_prefix = params.get("S3Prefix", "")
        self.iam_role_arn = params.get("IamRoleArn", "")
        self.kms_key_id = params.get("KmsKeyId", "")
        self.export_only = list_param(params, "ExportOnly")
        self.account = account
        self.duration = duration
        self.start = now
        self.end = None
        self.status = "STARTING"
        self.progress = 0
        self.failure_cause = None
        self.warning = None
        self.cancel_at = None
        self.writing = False
        self.external = False
        self.snapshot_time = now
        self.source_type = "CLUSTER" if ":cluster:" in self.source_arn or \
            ":cluster-snapshot:" in self.source_arn else "SNAPSHOT"
        self.total_gb = 0
        self.files_written = 0

    def to_json(self):
        return {
            "ExportTaskIdentifier": self.id, "SourceArn": self.source_arn,
            "ExportOnly": self.export_only, "SnapshotTime": self.snapshot_time,
            "TaskStartTime": self.start, "TaskEndTime": self.end,
            "S3Bucket": self.s3_bucket, "S3Prefix": self.s3_prefix,
            "IamRoleArn": self.iam_role_arn, "KmsKeyId": self.kms_key_id,
            "Status": self.status, "PercentProgress": self.progress,
            "TotalExtractedDataInGB": self.total_gb,
            "FailureCause": self.failure_cause, "WarningMessage": self.warning,
            "SourceType": self.source_type, "Account": self.account,
            "Duration": self.duration, "External": self.external,
            "FilesWritten": self.files_written,
        }

    @classmethod
    def from_json(cls, d):
        t = cls(d["ExportTaskIdentifier"], {
            "SourceArn": d["SourceArn"], "S3BucketName": d["S3Bucket"],
            "S3Prefix": d["S3Prefix"], "IamRoleArn": d["IamRoleArn"],
            "KmsKeyId": d["KmsKeyId"]}, d["Account"], d["Duration"], d["TaskStartTime"])
        t.export_only = d.get("ExportOnly") or []
        t.snapshot_time = d.get("SnapshotTime") or t.start
        t.end = d.get("TaskEndTime")
        t.status = d["Status"]
        t.progress = d.get("PercentProgress", 0)
        t.failure_cause = d.get("FailureCause")
        t.warning = d.get("WarningMessage")
        t.source_type = d.get("SourceType", t.source_type)
        t.total_gb = d.get("TotalExtractedDataInGB", 0)
        t.external = d.get("External", False)
        t.files_written = d.get("FilesWritten", 0)
        return t

    def xml(self):
        def el(name, value):
            if value is None or value == "":
                return ""
            return "<%s>%s</%s>" % (name, xml_escape(str(value)), name)
        parts = [el("ExportTaskIdentifier", self.id), el("SourceArn", self.source_arn)]
        if self.export_only:
            parts.append("<ExportOnly>%s</ExportOnly>" % "".join(
                "<member>%s</member>" % xml_escape(x) for x in self.export_only))
        parts += [
            el("SnapshotTime", iso_ms(self.snapshot_time)),
            el("TaskStartTime", iso_ms(self.start)),
            el("TaskEndTime", iso_ms(self.end) if self.end else None),
            el("S3Bucket", self.s3_bucket), el("S3Prefix", self.s3_prefix),
            el("IamRoleArn", self.iam_role_arn), el("KmsKeyId", self.kms_key_id),
            el("Status", self.status), el("PercentProgress", self.progress),
            el("TotalExtractedDataInGB", self.total_gb),
            el("FailureCause", self.failure_cause),
            el("WarningMessage", self.warning), el("SourceType", self.source_type),
        ]
        return "".join(parts)


class CrawlRun:
    def __init__(self, name, duration, stopping, now, fail):
        self.name = name
        self.start = now
        self.duration = duration
        self.stopping = stopping
        self.stop_requested_at = None
        # fail: None, or (status, message) with status FAILED or CANCELLED.
        self.fail = fail
        self.message_prefix = str(uuid.uuid4())
        self.catalog_done = None   # crawl_catalog.py: set when the tables are written

    def state(self, now):
        """Returns (crawler state, final LastCrawl status or None)."""
        if self.catalog_done is not None and not self.catalog_done.is_set() and \
                self.stop_requested_at is None:
            return "RUNNING", None   # a crawler is not done before its tables are
        if self.stop_requested_at is not None:
            if now < self.stop_requested_at + self.stopping:
                return "STOPPING", None
            return "READY", "CANCELLED"
        run_end = self.start + self.duration
        if now < run_end:
            return "RUNNING", None
        if now < run_end + self.stopping:
            return "STOPPING", None
        return "READY", self.fail[0] if self.fail else "SUCCEEDED"

    def last_crawl(self, status):
        d = {"Status": status, "LogGroup": "/aws-glue/crawlers",
             "LogStream": self.name, "MessagePrefix": self.message_prefix,
             "StartTime": self.start}
        if status == "CANCELLED" and self.fail is None:
            d["ErrorMessage"] = "Crawler was stopped by a StopCrawler request."
        elif status != "SUCCEEDED" and self.fail:
            d["ErrorMessage"] = self.fail[1]
        return d


def list_param(params, name):
    """Query-protocol list: Name.member.N (StringList) in order of N."""
    out = []
    for k, v in params.items():
        m = re.fullmatch(re.escape(name) + r"\.member\.(\d+)", k)
        if m:
            out.append((int(m.group(1)), v))
    return [v for _, v in sorted(out)]


def parse_filters(params):
    """Filters.Filter.N.Name / Filters.Filter.N.Values.Value.M."""
    filters = {}
    for k, v in params.items():
        m = re.fullmatch(r"Filters\.Filter\.(\d+)\.Name", k)
        if m:
            filters.setdefault(int(m.group(1)), [None, []])[0] = v
        m = re.fullmatch(r"Filters\.Filter\.(\d+)\.Values\.Value\.(\d+)", k)
        if m:
            filters.setdefault(int(m.group(1)), [None, []])[1].append(v)
    return [(n, vals) for _, (n, vals) in sorted(filters.items()) if n]


def arn_parts(arn):
    """arn:aws:rds:region:account:type:id (id may contain colons)."""
    p = arn.split(":", 6)
    if len(p) != 7 or p[0] != "arn":
        return None
    return {"region": p[3], "account": p[4], "type": p[5], "id": p[6]}


def rds_error(code, message, status=400, sender=True):
    body = ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code>'
            '<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>'
            % (RDS_NS, "Sender" if sender else "Receiver", xml_escape(code),
               xml_escape(message), uuid.uuid4()))
    return status, [("Content-Type", "text/xml")], body.encode()


def rds_ok(action, result_xml):
    body = ('<%sResponse xmlns="%s"><%sResult>%s</%sResult><ResponseMetadata>'
            '<RequestId>%s</RequestId></ResponseMetadata></%sResponse>'
            % (action, RDS_NS, action, result_xml, action, uuid.uuid4(), action))
    return 200, [("Content-Type", "text/xml")], body.encode()


def json_error(code, message, status=400):
    body = json.dumps({"__type": code, "Message": message}).encode()
    return status, [("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", code),
                    ("x-amzn-RequestId", str(uuid.uuid4()))], body


def s3_error(code, message, status):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>%s</RequestId></Error>'
            % (code, xml_escape(message), uuid.uuid4().hex[:16].upper()))
    return status, [("Content-Type", "application/xml")], body.encode()


def s3_operation(method, path, headers):
    """The S3 REST operation a request is (path style), for faults.actions: S3's requests
    carry no Action, so without it a fault could not pick out the copies from the listings."""
    qs = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query, keep_blank_values=True)
    copy = "x-amz-copy-source" in {k.lower() for k in headers.keys()}
    if method == "PUT" and "partNumber" in qs:
        return "UploadPartCopy" if copy else "UploadPart"
    if method == "PUT":
        return "CopyObject" if copy else "PutObject"
    if method == "POST" and "uploads" in qs:
        return "CreateMultipartUpload"
    if method == "POST" and "uploadId" in qs:
        return "CompleteMultipartUpload"
    if method == "POST" and "delete" in qs:
        return "DeleteObjects"
    if method == "DELETE" and "uploadId" in qs:
        return "AbortMultipartUpload"
    if method == "HEAD":
        return "HeadObject"
    if method == "GET" and qs.get("list-type") == ["2"]:
        return "ListObjectsV2"
    return {"GET": "GetObject", "DELETE": "DeleteObject"}.get(method, method)


def error_code_of(status, body):
    """AWS error code of an upstream answer (query XML or JSON), or None."""
    if status < 300:
        return None
    text = body.decode("utf-8", "replace")
    m = re.search(r"<Code>([^<]+)</Code>", text)
    if m:
        return m.group(1)
    try:
        d = json.loads(text)
        t = d.get("__type") or d.get("code") or ""
        return t.split("#")[-1] or None
    except (ValueError, AttributeError):
        return None


class Standin:
    """All state; every method that touches it holds self.lock."""

    def __init__(self, upstream, state_dir=None):
        u = urllib.parse.urlsplit(upstream)
        self.upstream = upstream.rstrip("/")
        self.up_host = u.hostname
        self.up_port = u.port or 80
        self.state_dir = state_dir
        self.lock = threading.RLock()
        self.cfg = default_config()
        self.tasks = {}          # task id -> ExportTask (insertion ordered)
        self.crawls = {}         # crawler name -> [CrawlRun]
        self.crawl_fail = {}     # crawler name -> (status, message), next run
        self.id_locks = {}
        self.rng = random.Random()
        self.pattern_i = 0  # position in faults.pattern (matching requests seen since set)
        self.writers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="export")
        self._boto = None
        self.stop = threading.Event()
        self.lf = lakeformation.LakeFormation(self, DEFAULT_ACCOUNT)
        self.catalog = crawl_catalog.CrawlCatalog(self)
        self.reset_stats()
        self._load()

    # ---------------------------------------------------------------- stats
    def reset_stats(self):
        with self.lock:
            self.start_calls = []
            self.max_running = {}
            for t in getattr(self, "tasks", {}).values():
                if t.status in ACTIVE_EXPORT:
                    self.max_running[t.account] = self.max_running.get(t.account, 0) + 1
            self.faults_injected = {}
            self.faults_by_request = {}   # "service:action" -> faults injected
            self.requests = {}
            self.crawl_starts = []
            # s3_prefix_rate: prefix -> [tokens, last refill time]; prefix -> counters
            self.prefix_buckets = {}
            self.prefix_stats = {}

    def running(self, account):
        return sum(1 for t in self.tasks.values()
                   if t.account == account and t.status in ACTIVE_EXPORT)

    def cap(self, account):
        return int(self.cfg["account_caps"].get(account, self.cfg["export_cap"]))

    def state_json(self):
        with self.lock:
            now = time.time()
            self._advance(now)
            accounts = {}
            for t in self.tasks.values():
                accounts.setdefault(t.account, {"running": 0})
            for a in set(accounts) | set(self.max_running):
                accounts[a] = {"running": self.running(a), "cap": self.cap(a),
                               "max_concurrent": self.max_running.get(a, 0)}
            crawls = {}
            for name, runs in self.crawls.items():
                st, fin = runs[-1].state(now)
                crawls[name] = {"state": st, "runs": len(runs),
                                "last_status": fin, "last_start": runs[-1].start}
            return {"accounts": accounts, "start_calls": list(self.start_calls),
                    "tasks": [t.to_json() for t in self.tasks.values()],
                    "crawlers": crawls, "crawl_starts": list(self.crawl_starts),
                    "faults_injected": dict(self.faults_injected),
                    "faults_by_request": dict(self.faults_by_request),
                    "s3_prefix_rate": {k: dict(v) for k, v in self.prefix_stats.items()},
                    "requests": dict(self.requests)}

    # ------------------------------------------------------------ persistence
    def _state_path(self):
        return os.path.join(self.state_dir, "state.json") if self.state_dir else None

    def _save(self):
        # Under the lock through the rename: the export writers' threads save too, and two
        # saves sharing the one temporary file renamed it from under each other.
        p = self._state_path()
        if not p:
            return
        with self.lock:
            data = {"config": self.cfg,
                    "tasks": [t.to_json() for t in self.tasks.values()]}
            tmp = p + ".tmp"
            with open(tmp, "w") as f:
                json.dump(data, f)
            os.replace(tmp, p)

    def _load(self):
        p = self._state_path()
        if not p or not os.path.exists(p):
            return
        with open(p) as f:
            data = json.load(f)
        self.cfg.update(data.get("config", {}))
        for d in data.get("tasks", []):
            t = ExportTask.from_json(d)
            # A task that was being written when we stopped is redone.
            self.tasks[t.id] = t
        log("state loaded", tasks=len(self.tasks))

    # ----------------------------------------------------------------- boto3
    def boto(self, service):
        """boto3 client against moto with our own credentials (from the
        environment we were started with; moto accepts anything while
        signature checking is off)."""
        import boto3
        from botocore.config import Config
        return boto3.client(
            service, endpoint_url=self.upstream,
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
            aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "standin"),
            aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "standin"),
            config=Config(max_pool_connections=64, retries={"max_attempts": 5},
                          s3={"addressing_style": "path"}))

    # ------------------------------------------------------------- lifecycle
    def ticker(self):
        while not self.stop.wait(0.05):
            try:
                with self.lock:
                    self._advance(time.time())
            except Exception as e:  # keep ticking; report
                log("ticker error", error=repr(e))

    def _advance(self, now):
        """Move export tasks along their lifecycle (caller holds the lock)."""
        changed = False
        for t in self.tasks.values():
            dur = float(self.cfg["task_seconds"].get(t.id, t.duration))
            start_phase = dur * float(self.cfg["starting_fraction"])
            if t.status == "STARTING" and now >= t.start + start_phase:
                t.status = "IN_PROGRESS"
                changed = True
            if t.status == "IN_PROGRESS" and not t.writing:
                span = max(dur - start_phase, 1e-6)
                t.progress = max(t.progress, min(99, int(100 * (now - t.start - start_phase) / span)))
                if now >= t.start + dur:
                    cause = self.cfg["fail_tasks"].get(t.id) or self._source_fail(t)
                    if cause:
                        t.status, t.failure_cause, t.end = "FAILED", cause, now
                        changed = True
                    elif t.external:
                        t.status, t.progress, t.end = "COMPLETE", 100, now
                        changed = True
                    else:
                        t.writing = True
                        self.writers.submit(self._complete, t.id)
            if t.status == "CANCELING" and now >= t.cancel_at + float(self.cfg["cancel_seconds"]):
                t.status, t.end = "CANCELED", now
                changed = True
        if changed:
            self._save()

    def _source_fail(self, t):
        for key in self.layout_keys(t):
            if key in self.cfg["fail_sources"]:
                return self.cfg["fail_sources"][key]
            lay = self.cfg["layouts"].get(key)
            if lay and lay.get("fail_cause"):
                return lay["fail_cause"]
        return None

    def layout_keys(self, t):
        """Keys a layout / failure may be configured under, most specific first:
        task id, source ARN, source id, source id without 'rds:', cluster id
        (automated snapshot id minus its -YYYY-MM-DD-HH-MM suffix)."""
        keys = [t.id, t.source_arn]
        p = arn_parts(t.source_arn)
        if p:
            sid = p["id"]
            keys.append(sid)
            if sid.startswith("rds:"):
                sid = sid[4:]
                keys.append(sid)
            keys.append(SNAPSHOT_SUFFIX_RE.sub("", sid))
        return keys

    def layout_for(self, t):
        with self.lock:
            for key in self.layout_keys(t):
                if key in self.cfg["layouts"]:
                    return self.cfg["layouts"][key]
            return self.cfg["default_layout"]

    def _complete(self, task_id):
        with self.lock:
            t = self.tasks.get(task_id)
            if t is None or t.status != "IN_PROGRESS":
                return
        try:
            n, gb = self.write_export(t)
            with self.lock:
                if t.status == "IN_PROGRESS":
                    t.status, t.progress, t.end = "COMPLETE", 100, time.time()
                    t.files_written, t.total_gb = n, gb
                t.writing = False
            log("export complete", task=task_id, files=n)
        except Exception as e:
            with self.lock:
                if t.status == "IN_PROGRESS":
                    t.status, t.end = "FAILED", time.time()
                    t.failure_cause = "The export could not write to Amazon S3: %s" % e
                t.writing = False
            log("export failed writing", task=task_id, error=repr(e))
        self._save()

    # ------------------------------------------------------------ export files
    def write_export(self, t):
        """Writes what RDS writes under s3://<bucket>/<prefix>/<export id>/
        (USER_ExportSnapshot.FileNames): <db>/<schema.table>/<batch>/part-<n>-<uuid>.gz.parquet
        in the current convention, <db>/<schema.table>/part-<n>-<uuid>.gz.parquet
        in the previous one, _SUCCESS markers, export_info_<id>.json and
        export_tables_info_<id>_from_<a>_to_<b>.json.  Returns (parquet files, GB)."""
        layout = self.layout_for(t)
        convention = layout.get("convention", "current")
        engine = layout.get("engine", "postgres")
        snap_iso = iso_ms(t.snapshot_time)
        failed = set(layout.get("failed_tables", []))
        base = "%s/%s/" % (t.s3_prefix.strip("/"), t.id) if t.s3_prefix.strip("/") else "%s/" % t.id
        objects = []   # (key, bytes)
        statuses = []
        nfiles = 0
        total_bytes = 0
        tstart = t.start
        for db, tables in layout.get("databases", {}).items():
            for table, spec in tables.items():
                target = "%s.%s" % (db, table)
                if not self._selected(t.export_only, db, table):
                    continue
                files = int(spec.get("files", 1))
                batches = int(spec.get("partitions", 1))
                tdir = "%s%s/%s/" % (base, db, table)
                entry = {
                    "tableStatistics": {
                        "extractionStartTime": iso_ms(tstart),
                        "extractionEndTime": iso_ms(time.time()),
                        "partitioningInfo": {"numberOfPartitions": files * batches,
                                             "numberOfCompletedPartitions": files * batches},
                    },
                    "schemaMetadata": {"originalTypeMappings":
                                       export_data.type_mappings(spec, engine)},
                    "status": "COMPLETE",
                    "sizeGB": 0.0,
                    "target": target,
                }
                written = batches
                if target in failed:
                    # partial_failed: the table failed after its first batch was written
                    # (its files stay in the export); else it wrote nothing.
                    written = 1 if layout.get("partial_failed") else 0
                    entry["status"] = "FAILED"
                    entry["tableStatistics"]["partitioningInfo"][
                        "numberOfCompletedPartitions"] = written * files
                    entry["warningMessage"] = ("Export of table %s failed: injected by the "
                                               "stand-in layout (failed_tables)" % target)
                statuses.append(entry)
                if not written:
                    continue
                # Real Parquet: the table's rows of this snapshot (export_data.py), split
                # over its files in order; the seed is the target and snapshotTime.
                schema = export_data.arrow_schema(spec, engine)
                chunks = iter(export_data.split(
                    export_data.expected_rows(target, snap_iso, spec, engine), files * batches))
                tbytes = 0
                for b in range(1, written + 1):
                    folder = tdir + ("%d/" % b if convention == "current" else "")
                    for i in range(files):
                        idx = i if convention == "current" else (b - 1) * files + i
                        key = "%spart-%05d-%s.gz.parquet" % (folder, idx, uuid.uuid4())
                        body = export_data.parquet_bytes(next(chunks), schema)
                        objects.append((key, body))
                        nfiles += 1
                        tbytes += len(body)
                    if convention == "current":
                        objects.append((folder + "_SUCCESS", b""))
                if convention != "current":
                    objects.append((tdir + "_SUCCESS", b""))
                entry["sizeGB"] = round(tbytes / 1e9, 9)
                total_bytes += tbytes
        chunk = max(1, int(self.cfg["tables_info_chunk"]))
        for a in range(0, max(len(statuses), 1), chunk):
            part = statuses[a:a + chunk]
            name = "%sexport_tables_info_%s_from_%d_to_%d.json" % (
                base, t.id, a + 1, a + len(part))
            objects.append((name, json.dumps({"perTableStatus": part}).encode()))
        gb = int(total_bytes / 1e9)
        info = {
            "exportTaskIdentifier": t.id, "sourceArn": t.source_arn,
            "exportOnly": t.export_only, "snapshotTime": iso_ms(t.snapshot_time),
            "taskStartTime": iso_ms(t.start), "taskEndTime": iso_ms(time.time()),
            "s3Bucket": t.s3_bucket, "s3Prefix": t.s3_prefix,
            "exportedFilesPath": base.rstrip("/"), "iamRoleArn": t.iam_role_arn,
            "kmsKeyId": t.kms_key_id, "status": "COMPLETE", "percentProgress": 100,
            "totalExtractedDataInGB": gb, "sourceType": t.source_type,
        }
        objects.append(("%sexport_info_%s.json" % (base, t.id), json.dumps(info).encode()))
        s3 = self.boto("s3")
        with ThreadPoolExecutor(max_workers=int(self.cfg["writer_threads"])) as pool:
            list(pool.map(lambda kv: s3.put_object(Bucket=t.s3_bucket, Key=kv[0], Body=kv[1]),
                          objects))
        return nfiles, gb

    @staticmethod
    def _selected(export_only, db, table):
        """ExportOnly entries: database, database.schema, database.schema.table."""
        if not export_only:
            return True
        full = "%s.%s" % (db, table)
        schema = table.split(".")[0]
        return any(e == db or e == "%s.%s" % (db, schema) or e == full for e in export_only)

    # -------------------------------------------------------------- helpers
    def id_lock(self, key):
        with self.lock:
            lk = self.id_locks.get(key)
            if lk is None:
                lk = self.id_locks[key] = threading.Lock()
            return lk

    def snapshot_time(self, parts, fallback):
        """SnapshotTime: the snapshot's creation time from moto, else the
        time in an automated snapshot's name, else the task start."""
        try:
            if parts["type"] == "cluster-snapshot":
                r = self.boto("rds").describe_db_cluster_snapshots(
                    DBClusterSnapshotIdentifier=parts["id"])
                return r["DBClusterSnapshots"][0]["SnapshotCreateTime"].timestamp()
            if parts["type"] == "snapshot":
                r = self.boto("rds").describe_db_snapshots(DBSnapshotIdentifier=parts["id"])
                return r["DBSnapshots"][0]["SnapshotCreateTime"].timestamp()
        except Exception:
            pass
        m = SNAPSHOT_SUFFIX_RE.search(parts["id"])
        if m:
            y, mo, d, h, mi = (int(x) for x in m.groups())
            return datetime(y, mo, d, h, mi, tzinfo=timezone.utc).timestamp()
        return fallback

    # ------------------------------------------------------------------- RDS
    def start_export(self, params, forward):
        task_id = params.get("ExportTaskIdentifier", "")
        arn = params.get("SourceArn", "")
        parts = arn_parts(arn) or {"account": DEFAULT_ACCOUNT, "type": "", "id": arn}
        account = parts["account"] or DEFAULT_ACCOUNT
        with self.id_lock(task_id):
            status, headers, body = forward()
            code = error_code_of(status, body)
            if status == 200:
                pass  # moto validated signature + source and created its task
            elif code == "ExportTaskAlreadyExists":
                with self.lock:
                    if task_id in self.tasks:
                        self._record_start(task_id, account, "ExportTaskAlreadyExists")
                        return status, headers, body
                # moto holds the id but we never started it: an earlier start
                # refused at the cap (moto had already created its task).  A
                # retry is a fresh start for us.
            elif status >= 500 and parts["type"] == "cluster":
                # moto 5.2.5 raises KeyError for a cluster ARN, but only after
                # its signature/IAM check (auth failures are 4xx), so the
                # caller is authenticated; we check the cluster ourselves.
                try:
                    self.boto("rds").describe_db_clusters(DBClusterIdentifier=parts["id"])
                except Exception as e:
                    if "DBClusterNotFound" in str(e):
                        return rds_error("DBClusterNotFoundFault",
                                         "DBCluster %s not found." % parts["id"], 404)
                    raise
                with self.lock:
                    if task_id in self.tasks:
                        self._record_start(task_id, account, "ExportTaskAlreadyExists")
                        return rds_error("ExportTaskAlreadyExists",
                                         "Cannot start export task because a task with the "
                                         "identifier %s already exists." % task_id)
            else:
                with self.lock:
                    self._record_start(task_id, account, code or str(status))
                return status, headers, body
            snap_time = time.time() if parts["type"] == "cluster" else \
                self.snapshot_time(parts, time.time())
            with self.lock:
                now = time.time()
                self._advance(now)
                if self.running(account) >= self.cap(account):
                    self._record_start(task_id, account, "ExportTaskLimitReachedFault")
                    return rds_error(
                        "ExportTaskLimitReachedFault",
                        "Cannot start export task %s: the number of concurrent export "
                        "tasks for this account has reached its limit of %d."
                        % (task_id, self.cap(account)))
                dur = float(self.layout_for_params(task_id, arn).get(
                    "seconds", self.cfg["task_seconds"].get(task_id, self.cfg["export_seconds"])))
                t = ExportTask(task_id, params, account, dur, now)
                t.snapshot_time = snap_time
                if parts["type"] == "cluster":
                    t.snapshot_time = now
                self.tasks[task_id] = t
                self.max_running[account] = max(self.max_running.get(account, 0),
                                                self.running(account))
                self._record_start(task_id, account, "started")
                self._save()
                log("export started", task=task_id, source=arn, seconds=dur,
                    running=self.running(account))
                return rds_ok("StartExportTask", t.xml())

    def layout_for_params(self, task_id, arn):
        probe = ExportTask(task_id, {"SourceArn": arn}, "", 0, 0)
        for key in self.layout_keys(probe):
            if key in self.cfg["layouts"]:
                return self.cfg["layouts"][key]
        return {}

    def _record_start(self, task_id, account, result):
        self.start_calls.append({"task_id": task_id, "account": account,
                                 "time": time.time(), "result": result})
        del self.start_calls[:-10000]

    def describe_exports(self, params, forward):
        status, headers, body = forward()
        code = error_code_of(status, body)
        want = params.get("ExportTaskIdentifier")
        with self.lock:
            if status != 200 and not (code == "ExportTaskNotFound" and want in self.tasks):
                return status, headers, body
            self._advance(time.time())
            tasks = list(self.tasks.values())
        if want:
            tasks = [t for t in tasks if t.id == want]
            if not tasks:
                return rds_error("ExportTaskNotFound",
                                 "Cannot find export task with the identifier %s." % want, 404)
        if params.get("SourceArn"):
            tasks = [t for t in tasks if t.source_arn == params["SourceArn"]]
        if params.get("SourceType"):
            tasks = [t for t in tasks if t.source_type == params["SourceType"]]
        for name, vals in parse_filters(params):
            lv = [v.lower() for v in vals]
            if name == "export-task-identifier":
                tasks = [t for t in tasks if t.id in vals]
            elif name == "status":
                tasks = [t for t in tasks if t.status.lower() in lv]
            elif name == "source-arn":
                tasks = [t for t in tasks if t.source_arn in vals]
            elif name == "s3-bucket":
                tasks = [t for t in tasks if t.s3_bucket in vals]
            elif name == "source-type":
                tasks = [t for t in tasks if t.source_type.lower() in lv]
            else:
                return rds_error("InvalidParameterValue",
                                 "Unrecognized filter name: %s" % name)
        try:
            start = int(params.get("Marker") or 0)
            maxr = int(params.get("MaxRecords") or 100)
        except ValueError:
            return rds_error("InvalidParameterValue", "Invalid Marker or MaxRecords")
        maxr = min(max(maxr, 20), 100)
        page = tasks[start:start + maxr]
        marker = "<Marker>%d</Marker>" % (start + maxr) if start + maxr < len(tasks) else ""
        with self.lock:
            xml = "".join("<ExportTask>%s</ExportTask>" % t.xml() for t in page)
        return rds_ok("DescribeExportTasks", marker + "<ExportTasks>%s</ExportTasks>" % xml)

    def cancel_export(self, params, forward):
        status, headers, body = forward()
        code = error_code_of(status, body)
        task_id = params.get("ExportTaskIdentifier", "")
        with self.lock:
            t = self.tasks.get(task_id)
            if status != 200 and not (code == "ExportTaskNotFound" and t):
                return status, headers, body
            if t is None:
                return rds_error("ExportTaskNotFound",
                                 "Cannot cancel export task because a task with the "
                                 "identifier %s is not exist." % task_id, 404)
            self._advance(time.time())
            if t.status not in ACTIVE_EXPORT:
                return rds_error("InvalidExportTaskStateFault",
                                 "Cannot cancel export task %s in state %s."
                                 % (task_id, t.status))
            t.status, t.cancel_at = "CANCELING", time.time()
            self._save()
            return rds_ok("CancelExportTask", t.xml())

    # ------------------------------------------------------------------ Glue
    def _crawl_state(self, name, now):
        runs = self.crawls.get(name)
        if not runs:
            return None
        cur = runs[-1]
        st, fin = cur.state(now)
        last = None
        if fin:
            last = cur.last_crawl(fin)
        else:
            for prev in reversed(runs[:-1]):
                pst, pfin = prev.state(now)
                if pfin:
                    last = prev.last_crawl(pfin)
                    break
        elapsed = int((now - cur.start) * 1000) if st != "READY" else 0
        return st, last, elapsed

    def overlay_crawler(self, crawler, now):
        s = self._crawl_state(crawler.get("Name"), now)
        if s is None:
            return crawler
        st, last, elapsed = s
        crawler["State"] = st
        crawler["CrawlElapsedTime"] = elapsed
        if last:
            crawler["LastCrawl"] = last
        else:
            crawler.pop("LastCrawl", None)
        return crawler

    def start_crawler(self, req, forward):
        name = req.get("Name", "")
        for _ in range(6):
            status, headers, body = forward()
            if error_code_of(status, body) != "CrawlerRunningException":
                break
            with self.lock:
                s = self._crawl_state(name, time.time())
            if s and s[0] != "READY":
                break
            # moto's own crawl stays RUNNING until something advances its
            # state manager ("manual" progression); StopCrawler moves it to
            # STOPPING, which moto's StartCrawler accepts.  Re-sending the
            # same signed request is fine: moto keeps no replay cache.
            try:
                self.boto("glue").stop_crawler(Name=name)
            except Exception as e:
                log("moto stop_crawler failed", crawler=name, error=repr(e))
        if status != 200:
            if error_code_of(status, body) == "CrawlerRunningException":
                # moto refused because our run is under way: the same answer AWS gives, and
                # a start call the tests count like the ones refused below.
                with self.lock:
                    self.crawl_starts.append({"crawler": name, "time": time.time(),
                                              "result": "CrawlerRunningException"})
            return status, headers, body
        with self.lock:
            now = time.time()
            s = self._crawl_state(name, now)
            if s and s[0] != "READY":
                self.crawl_starts.append({"crawler": name, "time": now,
                                          "result": "CrawlerRunningException"})
                return json_error("CrawlerRunningException",
                                  "Crawler with name %s has already started" % name)
            dur = float(self.cfg["crawler_seconds_by_name"].get(name, self.cfg["crawler_seconds"]))
            run = CrawlRun(name, dur, float(self.cfg["crawler_stopping_seconds"]), now,
                           self.crawl_fail.pop(name, None))
            self.crawls.setdefault(name, []).append(run)
            self.crawl_starts.append({"crawler": name, "time": now, "result": "started"})
            log("crawler started", crawler=name, seconds=dur)
            self.catalog.begin(run)
        return status, headers, body

    def stop_crawler(self, req, forward):
        name = req.get("Name", "")
        status, headers, body = forward()
        code = error_code_of(status, body)
        with self.lock:
            now = time.time()
            s = self._crawl_state(name, now)
            if status != 200 and code != "CrawlerNotRunningException":
                return status, headers, body
            if s is None or s[0] != "RUNNING":
                return json_error("CrawlerNotRunningException",
                                  "Crawler with name %s isn't running" % name)
            self.crawls[name][-1].stop_requested_at = now
        return 200, [("Content-Type", "application/x-amz-json-1.1")], b"{}"

    def get_crawler(self, forward, many=False):
        status, headers, body = forward()
        if status != 200:
            return status, headers, body
        try:
            d = json.loads(body)
        except ValueError:
            return status, headers, body
        with self.lock:
            now = time.time()
            if many:
                for c in d.get("Crawlers", []):
                    self.overlay_crawler(c, now)
            elif "Crawler" in d:
                self.overlay_crawler(d["Crawler"], now)
        return status, [(k, v) for k, v in headers if k.lower() != "content-length"], \
            json.dumps(d).encode()

    # -------------------------------------------------------------- faults
    def pick_fault(self, service, action):
        with self.lock:
            f = self.cfg["faults"]
            rate = float(f.get("rate", 0))
            pattern = f.get("pattern") or []
            if rate <= 0 and not pattern:
                return None
            if f.get("services") and service not in f["services"]:
                return None
            if f.get("actions") and action not in f["actions"]:
                return None
            if pattern:
                # Deterministic: the n-th matching request fails when pattern[n % len] is true.
                hit = pattern[self.pattern_i % len(pattern)]
                self.pattern_i += 1
                if not hit:
                    return None
            elif self.rng.random() >= rate:
                return None
            kinds = f.get("kinds") or ["500"]
            kind = kinds[self.rng.randrange(len(kinds))]
            self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1
            return kind

    def list_disorder(self, resp):
        """A ListObjectsV2 answer from moto, with its first two <Contents> swapped while
        s3_list_disorder is above 0 (counted down per answer changed)."""
        status, headers, body = resp
        with self.lock:
            if status != 200 or int(self.cfg.get("s3_list_disorder") or 0) <= 0:
                return resp
            spans = [m.span() for m in re.finditer(rb"<Contents>.*?</Contents>", body, re.S)]
            if len(spans) < 2:
                return resp
            self.cfg["s3_list_disorder"] = int(self.cfg["s3_list_disorder"]) - 1
            self.faults_injected["list_disorder"] = self.faults_injected.get("list_disorder",
                                                                             0) + 1
        (a0, a1), (b0, b1) = spans[0], spans[1]
        body = body[:a0] + body[b0:b1] + body[a1:b0] + body[a0:a1] + body[b1:]
        log("list disorder", keys=len(spans))
        return status, headers, body

    def delete_key_faults(self, path, body):
        """DeleteObjects (POST /<bucket>?delete, path style) where some keys fail: each key
        fails with probability s3_delete_key_faults.rate (at most `max` in all, 0 = no cap).
        When one does, the stand-in answers itself, as AWS does: 200 with a DeleteResult of
        <Deleted> entries (unless Quiet) and one <Error> (Key, Code, Message) per failed key;
        the other keys are deleted in moto with our own credentials, the failed ones are left
        alone. Returns (status, headers, body), or None to forward the request unchanged."""
        with self.lock:
            f = self.cfg.get("s3_delete_key_faults") or {}
            rate = float(f.get("rate", 0))
        if rate <= 0:
            return None
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return None

        def local(tag):
            return tag.rsplit("}", 1)[-1]
        keys, quiet = [], False
        for el in root:
            if local(el.tag) == "Quiet":
                quiet = (el.text or "").strip().lower() == "true"
            elif local(el.tag) == "Object":
                for sub in el:
                    if local(sub.tag) == "Key":
                        keys.append(sub.text or "")
        with self.lock:
            cap = int(f.get("max", 0))
            failed = []
            for k in keys:
                n = self.faults_injected.get("delete_key", 0)
                if (cap <= 0 or n < cap) and self.rng.random() < rate:
                    failed.append(k)
                    self.faults_injected["delete_key"] = n + 1
            code, msg = f.get("code", "InternalError"), f.get("message", "")
        if not failed:
            return None
        bucket = urllib.parse.unquote(path.split("?", 1)[0].lstrip("/").split("/", 1)[0])
        fset = set(failed)
        ok = [k for k in keys if k not in fset]
        if ok:
            self.boto("s3").delete_objects(Bucket=bucket, Delete={
                "Objects": [{"Key": k} for k in ok], "Quiet": True})
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n'
               '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">']
        if not quiet:
            out += ["<Deleted><Key>%s</Key></Deleted>" % xml_escape(k) for k in ok]
        out += ["<Error><Key>%s</Key><Code>%s</Code><Message>%s</Message></Error>"
                % (xml_escape(k), xml_escape(code), xml_escape(msg)) for k in failed]
        out.append("</DeleteResult>")
        log("delete key faults", bucket=bucket, keys=len(keys), failed=len(failed))
        return 200, [("Content-Type", "application/xml")], "".join(out).encode()

    # S3 scales per key prefix: about 3,500 PUT/COPY/POST/DELETE (5,500 GET/HEAD) requests per
    # second per prefix, answering 503 SlowDown above it ("Best practices design patterns:
    # optimizing Amazon S3 performance", S3 User Guide). A token bucket per configured prefix
    # gives the same shape: `rate` tokens a second, at most rate * s3_prefix_burst_seconds
    # held, one token per write; a write that finds the bucket empty is refused.
    S3_WRITES = ("PUT", "POST", "DELETE")

    def prefix_enter(self, method, path):
        """A request to S3 (path style, `/<bucket>/<key>`) begins: (prefixes, throttled).
        prefixes are the configured s3_prefix_rate prefixes `<bucket>/<key>` starts with
        (reads are counted in flight but never limited); throttled means a write found one
        of their buckets empty, and then nothing was taken or entered. Otherwise each
        prefix's bucket gave a token (writes) and the request is in flight there until
        prefix_leave."""
        target = urllib.parse.unquote(path.split("?", 1)[0].lstrip("/"))
        with self.lock:
            rates = {k: float(v) for k, v in (self.cfg.get("s3_prefix_rate") or {}).items()
                     if v is not None and target.startswith(k)}
            if not rates:
                return [], False
            burst = max(float(self.cfg.get("s3_prefix_burst_seconds", 1.0)), 0.0)
            now = time.monotonic()
            write = method in self.S3_WRITES
            for k, rate in rates.items():
                cap = max(rate * burst, 1.0)
                b = self.prefix_buckets.setdefault(k, [cap, now])
                b[0], b[1] = min(cap, b[0] + (now - b[1]) * rate), now
            for k in rates:
                st = self.prefix_stats.setdefault(
                    k, {"rate": rates[k], "allowed": 0, "throttled": 0, "inflight": 0,
                        "peak_inflight": 0})
                st["rate"] = rates[k]
            if write and any(self.prefix_buckets[k][0] < 1.0 for k in rates):
                for k in rates:
                    self.prefix_stats[k]["throttled"] += 1
                self.faults_injected["prefix_rate"] = \
                    self.faults_injected.get("prefix_rate", 0) + 1
                return [], True
            for k in rates:
                st = self.prefix_stats[k]
                if write:
                    self.prefix_buckets[k][0] -= 1.0
                    st["allowed"] += 1
                st["inflight"] += 1
                st["peak_inflight"] = max(st["peak_inflight"], st["inflight"])
            return list(rates), False

    def prefix_leave(self, prefixes):
        with self.lock:
            for k in prefixes:
                st = self.prefix_stats.get(k)
                if st:
                    st["inflight"] -= 1

    def fault_response(self, kind, protocol, service=None):
        if service == "ram":
            # RAM's own error shapes (botocore's ram model): ServerInternalException 500,
            # ServiceUnavailableException 503, ThrottlingException 429.
            code, msg, status = {"500": ("ServerInternalException", "Internal error.", 500),
                                 "503": ("ServiceUnavailableException",
                                         "The service is unavailable.", 503)}.get(
                kind, ("ThrottlingException", "Rate exceeded", 429))
            return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                            ("x-amzn-RequestId", str(uuid.uuid4()))], \
                json.dumps({"__type": code, "message": msg}).encode()
        if protocol == "s3":
            if kind == "500":
                return s3_error("InternalError",
                                "We encountered an internal error. Please try again.", 500)
            return s3_error("SlowDown", "Please reduce your request rate.", 503)
        if protocol == "json":
            if kind == "500":
                return json_error("InternalFailure", "An internal error occurred.", 500)
            if kind == "503":
                return json_error("ServiceUnavailable", "Service is unavailable.", 503)
            return json_error("ThrottlingException", "Rate exceeded", 400)
        if kind == "500":
            return rds_error("InternalFailure", "An internal error occurred.", 500, sender=False)
        if kind == "503":
            return rds_error("ServiceUnavailable", "Service is unavailable.", 503, sender=False)
        with self.lock:
            code = self.cfg["faults"].get("query_throttle_code", "ThrottlingException")
        return rds_error(code, "Rate exceeded", 400)

    def latency(self, action=None):
        with self.lock:
            ms = float(self.cfg.get("latency_ms", 0))
            ms += float((self.cfg.get("latency_by_action") or {}).get(action) or 0)
            jit = float(self.cfg.get("latency_jitter_ms", 0))
            if jit > 0:
                ms += self.rng.random() * jit
        if ms > 0:
            time.sleep(ms / 1000.0)

    # -------------------------------------------------------------- control
    def control(self, method, path, body):
        try:
            req = json.loads(body or b"{}") if method in ("POST", "PUT") else {}
        except ValueError as e:
            return 400, {"error": "bad JSON: %s" % e}
        if path == "/_standin/health":
            return 200, {"ok": True, "upstream": self.upstream}
        if path == "/_standin/config" and method == "GET":
            with self.lock:
                return 200, self.cfg
        if path == "/_standin/config" and method in ("POST", "PUT"):
            with self.lock:
                for k in req:
                    if k not in self.cfg:
                        return 400, {"error": "unknown config key %s" % k}
                for k, v in (req.get("s3_prefix_rate") or {}).items():
                    if v is not None and (not isinstance(v, (int, float)) or v <= 0):
                        return 400, {"error": "s3_prefix_rate %s: a rate > 0 or null" % k}
                for k, v in req.items():
                    if isinstance(self.cfg[k], dict) and isinstance(v, dict) and k != "default_layout":
                        self.cfg[k].update(v)
                    else:
                        self.cfg[k] = v
                if "faults" in req and "seed" in req["faults"]:
                    self.rng = random.Random(req["faults"]["seed"])
                if "faults" in req and "pattern" in req["faults"]:
                    self.pattern_i = 0
                self._save()
                return 200, self.cfg
        if path == "/_standin/config/reset" and method == "POST":
            with self.lock:
                self.cfg = default_config()
                self.pattern_i = 0
                self._save()
                return 200, self.cfg
        if path == "/_standin/state":
            return 200, self.state_json()
        if path == "/_standin/lakeformation":   # lakeformation.py / crawl_catalog.py state
            if method == "POST" and req.get("reset"):
                self.lf.reset()
                self.lf.save()
            return 200, dict(self.lf.state_json(), crawl_catalog=dict(self.catalog.results))
        if path == "/_standin/reset" and method == "POST":
            with self.lock:
                if req.get("all"):
                    self.lf.reset()
                    self.tasks.clear()
                    self.crawls.clear()
                    self.crawl_fail.clear()
                self.reset_stats()
                self._save()
            return 200, {"ok": True}
        if path == "/_standin/export/fail" and method == "POST":
            tid, cause = req.get("task_id"), req.get("cause", "Injected failure")
            if not tid:
                return 400, {"error": "task_id required"}
            with self.lock:
                self.cfg["fail_tasks"][tid] = cause
                t = self.tasks.get(tid)
                if req.get("now") and t and t.status in ACTIVE_EXPORT:
                    t.status, t.failure_cause, t.end = "FAILED", cause, time.time()
                self._save()
            return 200, {"ok": True}
        if path == "/_standin/export/external" and method == "POST":
            # An export started outside the pipeline (console, another tool):
            # it counts against the cap and shows in DescribeExportTasks.
            tid = req.get("task_id") or "external-%s" % uuid.uuid4().hex[:12]
            arn = req.get("source_arn", "arn:aws:rds:us-east-1:%s:cluster-snapshot:external"
                          % req.get("account", DEFAULT_ACCOUNT))
            with self.lock:
                if tid in self.tasks:
                    return 409, {"error": "task exists"}
                p = arn_parts(arn) or {"account": DEFAULT_ACCOUNT}
                t = ExportTask(tid, {"SourceArn": arn, "S3BucketName": req.get("bucket", "external"),
                                     "IamRoleArn": "arn:aws:iam::%s:role/external" % p["account"],
                                     "KmsKeyId": "external"},
                               p["account"], float(req.get("seconds", self.cfg["export_seconds"])),
                               time.time())
                t.external = True
                self.tasks[tid] = t
                self.max_running[t.account] = max(self.max_running.get(t.account, 0),
                                                  self.running(t.account))
                self._save()
            return 200, {"task_id": tid}
        if path == "/_standin/crawler/fail" and method == "POST":
            name = req.get("crawler")
            st = req.get("status", "FAILED")
            if not name or st not in ("FAILED", "CANCELLED"):
                return 400, {"error": "crawler and status FAILED|CANCELLED required"}
            msg = req.get("message", "Injected crawler failure")
            with self.lock:
                runs = self.crawls.get(name)
                if runs and runs[-1].state(time.time())[0] == "RUNNING":
                    runs[-1].fail = (st, msg)
                else:
                    self.crawl_fail[name] = (st, msg)
            return 200, {"ok": True}
        if path == "/_standin/crawler/finish" and method == "POST":
            # The running crawl's RUNNING time is up now (then STOPPING, then READY as usual):
            # a test can hold a run as long as it needs and end it once it saw what it waits for.
            name = req.get("crawler")
            if not name:
                return 400, {"error": "crawler required"}
            with self.lock:
                now = time.time()
                runs = self.crawls.get(name)
                if not runs or runs[-1].state(now)[0] != "RUNNING":
                    return 409, {"error": "crawler %s has no running crawl" % name}
                runs[-1].duration = max(0.0, now - runs[-1].start)
            return 200, {"ok": True}
        return 404, {"error": "no such control endpoint %s %s" % (method, path)}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "snaplake-standin"
    # A reply goes out as two writes (headers, then body). With Nagle's algorithm on, the body
    # waits for the ACK of the headers, which the client delays by up to 40 ms: every request
    # through the stand-in cost ~45 ms more than the same request to moto. TCP_NODELAY.
    disable_nagle_algorithm = True
    standin = None  # set in main

    def log_message(self, fmt, *args):
        pass  # one JSON log line per notable event instead

    def do_any(self):
        try:
            body = self._read_body()
        except ValueError as e:
            self._reply(413, [("Content-Type", "text/plain")], str(e).encode())
            self.close_connection = True
            return
        path = self.path.split("?", 1)[0]
        if path.startswith("/_standin/"):
            code, obj = self.standin.control(self.command, path, body)
            self._reply(code, [("Content-Type", "application/json")], json.dumps(obj).encode())
            return
        service, protocol, action, params = self._classify(body)
        sd = self.standin
        with sd.lock:
            k = "%s:%s" % (service, action or self.command)
            sd.requests[k] = sd.requests.get(k, 0) + 1
        sd.latency(action if protocol != "s3" else
                   s3_operation(self.command, self.path, self.headers))
        prefixes, throttled = (sd.prefix_enter(self.command, self.path) if protocol == "s3"
                               else ([], False))
        if throttled:
            with sd.lock:
                sd.faults_by_request[k] = sd.faults_by_request.get(k, 0) + 1
            self._reply(*s3_error("SlowDown", "Please reduce your request rate.", 503))
            return
        try:
            self._handle(service, protocol, action, params, body, k)
        finally:
            sd.prefix_leave(prefixes)

    def _handle(self, service, protocol, action, params, body, k):
        sd = self.standin
        kind = sd.pick_fault(service, action if protocol != "s3" else
                             s3_operation(self.command, self.path, self.headers))
        if kind:
            with sd.lock:
                sd.faults_by_request[k] = sd.faults_by_request.get(k, 0) + 1
            self._reply(*sd.fault_response(kind, protocol, service))
            return

        def forward():
            return self._forward(body, buffered=True)

        qs = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query,
                                   keep_blank_values=True)
        if service == "s3" and self.command == "POST" and "delete" in qs:
            resp = sd.delete_key_faults(self.path, body)
            if resp:
                self._reply(*resp)
                return
        if service == "s3" and self.command == "GET" and qs.get("list-type") == ["2"] and \
                sd.cfg.get("s3_list_disorder"):
            resp = sd.list_disorder(forward())
        elif service == "rds" and action == "StartExportTask":
            resp = sd.start_export(params, forward)
        elif service == "rds" and action == "DescribeExportTasks":
            resp = sd.describe_exports(params, forward)
        elif service == "rds" and action == "CancelExportTask":
            resp = sd.cancel_export(params, forward)
        elif service in lakeformation.SERVICES:
            resp = sd.lf.handle(service, action, self.command, self.path, self.headers,
                                body, forward)
        elif (service, action) in lakeformation.KEY_SOURCES:
            resp = forward()   # keys issued by moto: lakeformation.py verifies with them
            if resp[0] == 200:
                sd.lf.learn_keys(resp[2])
        elif protocol == "json" and action in ("AWSGlue.StartCrawler", "AWSGlue.StopCrawler",
                                               "AWSGlue.GetCrawler", "AWSGlue.GetCrawlers"):
            try:
                req = json.loads(body or b"{}")
            except ValueError:
                req = {}
            if action == "AWSGlue.StartCrawler":
                resp = sd.start_crawler(req, forward)
            elif action == "AWSGlue.StopCrawler":
                resp = sd.stop_crawler(req, forward)
            else:
                resp = sd.get_crawler(forward, many=action == "AWSGlue.GetCrawlers")
        else:
            self._forward(body, buffered=False)
            return
        self._reply(*resp)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_any

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(out) + size > MAX_BODY:
                    raise ValueError("request body over %d bytes" % MAX_BODY)
                out += self.rfile.read(size)
                self.rfile.readline(3)
            return bytes(out)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("request body over %d bytes" % MAX_BODY)
        return self.rfile.read(n) if n else b""

    def _classify(self, body):
        """(service, protocol, action, params).  The service comes from the
        SigV4 credential scope (header or presigned query), the protocol from
        X-Amz-Target (JSON) or an Action parameter (query); else S3 REST."""
        auth = self.headers.get("Authorization", "")
        query = urllib.parse.urlsplit(self.path).query
        qs = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        m = AUTH_SERVICE_RE.search(auth) or AUTH_SERVICE_RE.search(
            "Credential=" + qs.get("X-Amz-Credential", ""))
        service = m.group(2) if m else ""
        target = self.headers.get("X-Amz-Target")
        if target:
            if not service:
                service = target.split(".")[0].lower().replace("awsglue", "glue")
            return service, "json", target, {}
        if service in lakeformation.SERVICES:   # REST-JSON: the operation is the path
            return service, "json", lakeformation.operation_of(
                service, self.command, self.path), {}
        params = dict(qs)
        ctype = self.headers.get("Content-Type", "")
        if self.command == "POST" and "x-www-form-urlencoded" in ctype:
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                 keep_blank_values=True))
        if "Action" in params and service != "s3":
            return service or "query", "query", params["Action"], params
        return service or "s3", "s3", None, {}

    def _forward(self, body, buffered):
        """Sends the request to moto unchanged (hop-by-hop headers aside).
        buffered: return (status, headers, body); else stream it to the client."""
        sd = self.standin
        conn = http.client.HTTPConnection(sd.up_host, sd.up_port, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            for k, v in self.headers.items():
                if k.lower() in HOP_BY_HOP:
                    continue
                if chunked and k.lower() == "content-length":
                    continue
                conn.putheader(k, v)
            if chunked or (body and "Content-Length" not in self.headers):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            if buffered:
                data = resp.read()
                return resp.status, [(k, v) for k, v in headers
                                     if k.lower() != "content-length"], data
            clen = resp.getheader("Content-Length")
            if clen is None and self.command != "HEAD":
                data = resp.read()
                self._reply(resp.status, headers, data, reason=resp.reason)
                return None
            self.send_response_only(resp.status, resp.reason)
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                while True:
                    chunk = resp.read(65536)
                    if not chunk:
                        break
                    self.wfile.write(chunk)
            return None
        except (OSError, http.client.HTTPException) as e:
            log("upstream error", error=repr(e), path=self.path[:200])
            resp = s3_error("InternalError", "stand-in could not reach moto: %s" % e, 502)
            if buffered:
                return resp
            self._reply(*resp)
            return None
        finally:
            conn.close()

    def _reply(self, status, headers, body, reason=None):
        self.send_response_only(status, reason)
        have_len = False
        for k, v in headers:
            if k.lower() in HOP_BY_HOP:
                continue
            if k.lower() == "content-length":
                have_len = True
            self.send_header(k, v)
        if not have_len:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description="AWS stand-in in front of moto")
    ap.add_argument("--port", type=int, required=True, help="port to listen on (0 = any)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--upstream", default=os.environ.get("MOTO_ENDPOINT", "http://127.0.0.1:15000"))
    ap.add_argument("--state-dir", default=None,
                    help="keep config and export tasks in DIR/state.json across restarts")
    ap.add_argument("--config", default=None, help="JSON file merged into the config at start")
    a = ap.parse_args(argv)
    if a.state_dir:
        os.makedirs(a.state_dir, exist_ok=True)
    sd = Standin(a.upstream, a.state_dir)
    if a.config:
        with open(a.config) as f:
            code, obj = sd.control("POST", "/_standin/config", f.read().encode())
        if code != 200:
            sys.stderr.write("bad --config: %s\n" % obj)
            return 2
    Handler.standin = sd
    srv = Server((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.state_dir:
        with open(os.path.join(a.state_dir, "standin.port"), "w") as f:
            f.write("%d\n" % port)
    threading.Thread(target=sd.ticker, daemon=True).start()

    def stop(*_):
        sd.stop.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("listening", port=port, upstream=a.upstream)
    srv.serve_forever(poll_interval=0.2)
    sd.writers.shutdown(wait=False, cancel_futures=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
