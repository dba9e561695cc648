"""bench/peers/clients.py - the copy clients the benchmark compares, behind one interface:

    client.name                      label in the results table
    client.run(endpoint, layout, src_bucket, dst_bucket, creds) -> dict
        copies the layout's export (in src_bucket) into dst_bucket once, in snaplake's lake
        layout; returns {"seconds", "cpu_s", "rss_kb", "steady_rss_kb"} (and may add more);
        raises on failure. creds = (access key, secret key, region).

Peers run as child processes measured alike (wall clock around the process, CPU and peak RSS
from wait4's rusage, steady RSS the median of VmRSS sampled every 100 ms): the boto3
thread-pool copier (the seed's way), s5cmd, and any command given for snaplake
(--snaplake-cmd). snaplake's own copy stage on the local stack is snaplake_copy.SnaplakeCopy,
which has the same interface.
"""

import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid, children=False):
    """utime + stime so far of a running process (/proc/<pid>/stat fields 14 and 15), with
    children=True plus those of its live children (the latency proxy's accepting processes)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    if children:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        cpu += sum(proc_cpu_s(k) for k in kids)
    return cpu


def _status_kb(pid, *fields):
    """The given fields of /proc/<pid>/status in KiB (0 when absent or the process is gone)."""
    out = dict.fromkeys(fields, 0)
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in out:
                    out[k] = int(line.split()[1])
    except OSError:
        pass
    return [out[k] for k in fields]


def run_measured(argv, env, log_path=None):
    """Runs argv to its end. Returns {"seconds", "cpu_s", "rss_kb", "steady_rss_kb"}; raises
    RuntimeError (with the end of its output) when it exits non-zero.

    Peak RSS is the highest VmHWM read while it ran, not wait4's ru_maxrss: Python starts
    children with vfork, and Linux folds the high-water mark of the mm a process leaves at
    exec into ru_maxrss, so ru_maxrss would report the driver's own RSS for a small child."""
    out = open(log_path, "wb") if log_path else tempfile.TemporaryFile()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    samples = []
    while True:
        # wait4, not Popen.wait: its rusage is this child's (and its waited-for children's)
        # alone, whatever else the driver has run.
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        samples.append(_status_kb(p.pid, "VmRSS", "VmHWM"))
        time.sleep(0.1)
    seconds = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        if log_path:
            out.close()
            with open(log_path, "rb") as f:
                tail = f.read()[-3000:]
        else:
            out.seek(0)
            tail = out.read()[-3000:]
            out.close()
        raise RuntimeError("%s exited %d:\n%s" % (argv[0], p.returncode,
                                                  tail.decode("utf-8", "replace")))
    out.close()
    rss = [r for r, _ in samples if r]
    hwm = max((h for _, h in samples), default=0)
    return {"seconds": seconds, "cpu_s": ru.ru_utime + ru.ru_stime, "rss_kb": hwm,
            "steady_rss_kb": int(statistics.median(rss)) if rss else hwm}


def _aws_env(creds):
    env = dict(os.environ)
    key, secret, region = creds
    env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_REGION": region, "AWS_DEFAULT_REGION": region})
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    return env


class Boto3Copier:
    """bench/peers/boto3_copier.py: the seed's Lambda (list, then CopyObject each through
    asyncio's default executor); workers 0 is the seed's executor, min(32, cpus + 4)."""

    def __init__(self, workers=0, log_dir=None):
        self.workers = workers
        seed = min(32, (os.cpu_count() or 1) + 4)
        self.name = ("boto3 seed (asyncio, %d threads)" % seed if not workers
                     else "boto3 thread pool (%d)" % workers)
        self.log_dir = log_dir

    def run(self, endpoint, layout, src_bucket, dst_bucket, creds):
        argv = [sys.executable, os.path.join(HERE, "boto3_copier.py"), "--endpoint", endpoint,
                "--src-bucket", src_bucket, "--export-root", layout.root,
                "--dst-bucket", dst_bucket, "--lake-prefix", layout.lake_prefix,
                "--cluster", layout.cluster, "--date", layout.date,
                "--workers", str(self.workers)]
        return run_measured(argv, _aws_env(creds), self._log("boto3"))

    def _log(self, what):
        return os.path.join(self.log_dir, "%s-%d.log" % (what, time.time_ns())) \
            if self.log_dir else None


class S5cmd:
    """s5cmd, as a user would copy an export into the lake layout with it: one wildcard `cp`
    per table (`--flatten` drops the batch folders, `--include '*.gz.parquet'` leaves the
    markers), all tables in one `s5cmd run` so they share its worker pool (256 by default)."""

    def __init__(self, binary, workers=256, log_dir=None):
        self.binary = binary
        self.workers = workers
        self.name = "s5cmd (%d workers)" % workers
        self.log_dir = log_dir

    def commands(self, layout, src_bucket, dst_bucket):
        lines = []
        for db, table in layout.tables:
            lines.append("cp --flatten --include '*.gz.parquet' 's3://%s/%s/%s/%s/*' 's3://%s/%s'"
                         % (src_bucket, layout.root, db, table, dst_bucket,
                            layout.dest_dir(db, table)))
        return "\n".join(lines) + "\n"

    def run(self, endpoint, layout, src_bucket, dst_bucket, creds):
        with tempfile.NamedTemporaryFile("w", prefix="sl-bench-s5cmd-", suffix=".txt",
                                         delete=False) as f:
            f.write(self.commands(layout, src_bucket, dst_bucket))
        try:
            argv = [self.binary, "--endpoint-url", endpoint, "--numworkers", str(self.workers),
                    "--log", "error", "run", f.name]
            log = os.path.join(self.log_dir, "s5cmd-%d.log" % time.time_ns()) \
                if self.log_dir else None
            return run_measured(argv, _aws_env(creds), log)
        finally:
            os.unlink(f.name)


class CommandCopy:
    """Any command that runs snaplake's copy once (--snaplake-cmd), e.g. a script the lead
    plugs in. It gets the job in the environment: SL_BENCH_ENDPOINT, SL_BENCH_SRC_BUCKET,
    SL_BENCH_S3_PREFIX, SL_BENCH_EXPORT_TASK_ID, SL_BENCH_EXPORT_ROOT, SL_BENCH_DST_BUCKET,
    SL_BENCH_LAKE_PREFIX, SL_BENCH_CLUSTER, SL_BENCH_DATE, SL_BENCH_OBJECTS, and the AWS_*
    credentials; it must exit 0 only once the copy is complete (the destination is verified
    after it). Its CPU and RSS are those of the command and the children it waits for."""

    def __init__(self, command, name="snaplake (command)", log_dir=None):
        self.argv = shlex.split(command)
        self.name = name
        self.log_dir = log_dir

    def run(self, endpoint, layout, src_bucket, dst_bucket, creds):
        env = _aws_env(creds)
        env.update({"SL_BENCH_ENDPOINT": endpoint, "SL_BENCH_SRC_BUCKET": src_bucket,
                    "SL_BENCH_S3_PREFIX": layout.s3_prefix,
                    "SL_BENCH_EXPORT_TASK_ID": layout.task,
                    "SL_BENCH_EXPORT_ROOT": layout.root, "SL_BENCH_DST_BUCKET": dst_bucket,
                    "SL_BENCH_LAKE_PREFIX": layout.lake_prefix,
                    "SL_BENCH_CLUSTER": layout.cluster, "SL_BENCH_DATE": layout.date,
                    "SL_BENCH_OBJECTS": str(layout.n)})
        log = os.path.join(self.log_dir, "snaplake-cmd-%d.log" % time.time_ns()) \
            if self.log_dir else None
        return run_measured(self.argv, env, log)
