#!/usr/bin/env python3
"""bench/peers/boto3_copier.py - the seed's way of copying an export into the lake, as a
peer for the copy benchmark. It is the seed's Lambda (SUMMARY.md, "Sub workflow", and the
sample code of the original post) with only the endpoint and the key mapping made ours:

    s3 = boto3.resource("s3")
    keys = [...  for obj in s3.Bucket(from_bucket).objects.filter(Prefix=from_prefix) ...]
    await asyncio.gather(*[loop.run_in_executor(None, copy_object, ...) for key in keys])

`run_in_executor(None, ...)` runs on asyncio's default executor, a ThreadPoolExecutor of
min(32, os.cpu_count() + 4) threads (6 on a 2-core machine), and `s3.Object(...).copy_from`
goes through botocore's default pool of 10 connections: that is the seed's concurrency, and
the default here. `--workers N` sets another default executor size (and a pool as large),
for a tuned boto3 copier beside the seed's.

The mapping is snaplake's (common/keymap.h): `<root>/<db>/<schema.table>[/<n>]/<file>.gz.parquet`
-> `[<lake prefix>/]<cluster>/<db>/<schema.table>/date=<date>/<file>`; markers and metadata
are not copied. It writes the same keys as snaplake's copy stage, so the benchmark's
verifier holds both to the same destination.

Usage: boto3_copier.py --endpoint URL --src-bucket B --export-root P --dst-bucket B
                       --lake-prefix P --cluster C --date D [--workers N]
Credentials and region from the environment. Prints "copied N (W threads)" on success,
exits 1 on any failed copy (gather raises the first failure).
"""

import argparse
import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def dest_key(root, key, lake_prefix, cluster, date):
    """The lake key of one export key, or None when it is not a data file."""
    if not key.endswith(".gz.parquet") or not key.startswith(root + "/"):
        return None
    parts = key[len(root) + 1:].split("/")
    if len(parts) not in (3, 4) or (len(parts) == 4 and not parts[2].isdigit()):
        return None
    db, table, fname = parts[0], parts[1], parts[-1]
    lead = lake_prefix + "/" if lake_prefix else ""
    return "%s%s/%s/%s/date=%s/%s" % (lead, cluster, db, table, date, fname)


def seed_threads():
    """The size of asyncio's default executor (concurrent.futures' default max_workers)."""
    return min(32, (os.cpu_count() or 1) + 4)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for a in ("endpoint", "src-bucket", "export-root", "dst-bucket", "cluster", "date"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--lake-prefix", default="")
    ap.add_argument("--workers", type=int, default=0,
                    help="threads of the default executor (0: the seed's, min(32, cpus + 4))")
    args = ap.parse_args(argv)
    threads = args.workers or seed_threads()
    # The seed's resource has botocore's defaults (pool of 10, legacy retries); only the
    # endpoint and path-style addressing (versitygw, the sink) are the benchmark's.
    pool = {} if not args.workers else {"max_pool_connections": args.workers}
    s3 = boto3.resource("s3", endpoint_url=args.endpoint,
                        region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        config=Config(s3={"addressing_style": "path"}, **pool))
    root = args.export_root.rstrip("/")
    keys = []
    for obj in s3.Bucket(args.src_bucket).objects.filter(Prefix=root + "/"):
        d = dest_key(root, obj.key, args.lake_prefix, args.cluster, args.date)
        if d:
            keys.append((obj.key, d))

    def copy_object(from_key, to_key):
        s3.Object(args.dst_bucket, to_key).copy_from(
            CopySource={"Bucket": args.src_bucket, "Key": from_key})

    async def async_copy():
        loop = asyncio.get_running_loop()
        await asyncio.gather(*[loop.run_in_executor(None, copy_object, f, t) for f, t in keys])

    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(threads))
    try:
        loop.run_until_complete(async_copy())
    finally:
        loop.close()
    print("copied %d (%d threads)" % (len(keys), threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
