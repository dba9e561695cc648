"""The share stage's consumer side (common/share_consumer.h) through `snaplakectl share accept`.

A cross-account Lake Formation grant from the service account (moto's 123456789012) makes a
PENDING RAM invitation to the analytics account, as cross-account version 3+ does. The command
assumes a role in the analytics account through moto's STS (the chain's keys, then
SHARE_CONSUMER_ROLE_ARN with an external id), accepts the invitation, and creates the resource
link (a Glue database with a TargetDatabase) in the analytics account's own catalog. Everything
goes through a stand-in of this module's own, signature checking on, every RAM request
validated against botocore's model.

    .venv/bin/python -m pytest -q tests/integration/test_share_consumer.py
"""

import os
import subprocess
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import aws_setup  # noqa: E402
import harness as h  # noqa: E402

ACCOUNT = h.ACCOUNT
ANALYTICS = aws_setup.ANALYTICS_ACCOUNT
ROLE = aws_setup.ANALYTICS_ROLE_ARN
EXTERNAL_ID = "sl-ext-%s" % h.uid(16)


def region():
    return os.environ.get("AWS_REGION", "us-east-1")


def analytics(service):
    """A boto3 client acting in the analytics account (a role assumed through the stand-in, so
    the stand-in knows which account the keys act in)."""
    creds = h.aws("sts").assume_role(RoleArn=ROLE, RoleSessionName="test-reader",
                                     ExternalId=EXTERNAL_ID)["Credentials"]
    return boto3.client(service, endpoint_url=os.environ["STANDIN_ENDPOINT"],
                        region_name=region(), aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        config=Config(retries={"total_max_attempts": 1}))


def accept(*args, **env):
    e = dict(os.environ)
    for k in ("AWS_DEFAULT_REGION", "ASSUME_ROLE_ARN", "AWS_ENDPOINT_URL_RAM"):
        e.pop(k, None)
    e.update({"AWS_ENDPOINT_URL": os.environ["STANDIN_ENDPOINT"], "AWS_REGION": region(),
              "SHARE_CONSUMER_SERVICE_ACCOUNT": ACCOUNT, "SHARE_CONSUMER_ROLE_ARN": ROLE,
              "SHARE_CONSUMER_ROLE_EXTERNAL_ID": EXTERNAL_ID,
              "SHARE_CONSUMER_ROLE_SESSION_NAME": "snaplake-share-accept",
              "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
              "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"})
    e.update(env)
    r = subprocess.run([h.binary("snaplakectl", "SNAPLAKECTL_BIN"), "share", "accept"] +
                       list(args), env=e, capture_output=True, timeout=120)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    # The external id is a secret of the trust policy, and the keys are secrets: never printed,
    # whatever happened (the assumed role's keys are checked by name: the test never sees them).
    for secret in (EXTERNAL_ID, os.environ["AWS_SECRET_ACCESS_KEY"], "SessionToken",
                   "SecretAccessKey", "X-Amz-Security-Token"):
        assert secret not in out + err, secret
    return r.returncode, out, err


@pytest.fixture(scope="module")
def analytics_role(standin):
    """The analytics account's role must exist in moto, which checks an assumed role's policies
    (and answers 500 for a role it does not know). tests/aws_setup.py makes it when the stack
    starts; a stack started before that gets it here, in a reset-auth window as aws_setup's own
    recovery does."""
    try:
        analytics("glue").get_databases()
        return
    except ClientError as e:
        if e.response["ResponseMetadata"]["HTTPStatusCode"] != 500:
            raise
    moto = os.environ["MOTO_ENDPOINT"]
    aws_setup.reset_auth(moto, "inf")
    try:
        aws_setup.analytics_role_calls(moto, region(), os.environ["AWS_ACCESS_KEY_ID"],
                                       os.environ["AWS_SECRET_ACCESS_KEY"])
    finally:
        aws_setup.reset_auth(moto, "0")
    analytics("glue").get_databases()


@pytest.fixture
def shared(standin, analytics_role):
    """A Glue database of the service account with one table, granted to the analytics account
    (DESCRIBE on the database, SELECT on the table): one resource share, one PENDING invitation."""
    h.standin("POST", "/_standin/lakeformation", {"reset": True})
    h.standin_config(faults={"rate": 0.0, "pattern": [], "services": [], "actions": []})
    db = "sl_share_%s" % h.uid()
    glue = h.aws("glue")
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "orders", "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"}]}})
    lf = h.aws("lakeformation")
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYTICS},
                         Resource={"Database": {"Name": db}}, Permissions=["DESCRIBE"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYTICS},
                         Resource={"Table": {"DatabaseName": db, "Name": "orders"}},
                         Permissions=["SELECT"])
    return db


def invitations():
    return analytics("ram").get_resource_share_invitations()["resourceShareInvitations"]


def calls(op):
    return h.standin("GET", "/_standin/lakeformation")["calls"].get(op, 0)


def test_accept_creates_the_link_and_a_rerun_changes_nothing(shared):
    db = shared
    invs = invitations()
    assert [(i["senderAccountId"], i["status"]) for i in invs] == [(ACCOUNT, "PENDING")]

    rc, out, err = accept("--database", db, LOG_LEVEL="debug")
    assert rc == 0, out + err
    arn = invs[0]["resourceShareInvitationArn"]
    assert "accepted invitation %s" % arn in out
    assert "created resource link %s_link -> %s:%s" % (db, ACCOUNT, db) in out
    assert "invitations: 1 accepted, 0 already accepted" in out
    assert "resource links: 1 created, 0 already present" in out
    assert [i["status"] for i in invitations()] == ["ACCEPTED"]
    link = analytics("glue").get_database(Name="%s_link" % db)["Database"]
    assert link["TargetDatabase"] == {"CatalogId": ACCOUNT, "DatabaseName": db,
                                      "Region": region()}
    assert link.get("CatalogId", ANALYTICS) == ANALYTICS
    # The link is the analytics account's: the service account has no database of that name.
    with pytest.raises(ClientError) as e:
        h.aws("glue").get_database(Name="%s_link" % db)
    assert e.value.response["Error"]["Code"] == "EntityNotFoundException"

    # A second run reads and writes nothing new.
    accepts = calls("AcceptResourceShareInvitation")
    creates = h.standin_state()["requests"].get("glue:AWSGlue.CreateDatabase", 0)
    rc, out, err = accept("--database", db)
    assert rc == 0, out + err
    assert "invitations: 0 accepted, 1 already accepted" in out
    assert "resource links: 0 created, 1 already present" in out
    assert "resource link %s_link -> %s:%s already present" % (db, ACCOUNT, db) in out
    assert calls("AcceptResourceShareInvitation") == accepts
    assert h.standin_state()["requests"].get("glue:AWSGlue.CreateDatabase", 0) == creates


def test_cluster_names_the_policy_database(shared):
    """--cluster C links the database SHARE_CONSUMER_DATABASE names for C; the link template
    is configurable."""
    db = shared
    cluster = db[len("sl_share_"):]
    rc, out, err = accept("--cluster", cluster, SHARE_CONSUMER_DATABASE="sl_share_{cluster}",
                          SHARE_CONSUMER_LINK_NAME="analytics_{database}")
    assert rc == 0, out + err
    assert "created resource link analytics_%s -> %s:%s" % (db, ACCOUNT, db) in out
    assert analytics("glue").get_database(Name="analytics_%s" % db)["Database"][
        "TargetDatabase"]["DatabaseName"] == db


def test_a_name_clash_is_a_clear_error(shared):
    db = shared
    # A database of the link's name that is not a link, made in the analytics account.
    analytics("glue").create_database(DatabaseInput={"Name": "%s_link" % db})
    rc, out, err = accept("--database", db)
    assert rc == 1, out + err
    assert "ResourceLinkConflict" in err
    assert "%s_link" % db in err and "not a resource link" in err
    assert "%s:%s" % (ACCOUNT, db) in err
    # The invitation was still accepted first; the summary says so.
    assert "FAILED after invitations: 1 accepted" in out
    # A link to another target is refused too.
    other = "sl_other_%s" % h.uid()
    analytics("glue").create_database(DatabaseInput={
        "Name": "%s_link" % other,
        "TargetDatabase": {"CatalogId": "111122223333", "DatabaseName": other}})
    rc, out, err = accept("--database", other)
    assert rc == 1, out + err
    assert "ResourceLinkConflict" in err and "111122223333:%s" % other in err


def test_a_transient_fault_is_retried(shared):
    db = shared
    # Every other RAM request fails with 503 ServiceUnavailableException, and the client makes
    # one attempt only, so the module itself must back off and repeat the call.
    h.standin_config(faults={"pattern": [1, 0], "services": ["ram"], "kinds": ["503"],
                             "rate": 0.0, "actions": []})
    before = h.standin_state()["faults_injected"].get("503", 0)
    rc, out, err = accept("--database", db, AWS_MAX_ATTEMPTS="1", AWS_RETRY_BASE_DELAY="10ms")
    h.standin_config(faults={"pattern": [], "services": [], "kinds": ["500"]})
    assert rc == 0, out + err
    assert "ServiceUnavailableException" in err and "retrying in" in err
    assert h.standin_state()["faults_injected"].get("503", 0) >= before + 2
    assert "invitations: 1 accepted" in out and "1 created" in out
    assert [i["status"] for i in invitations()] == ["ACCEPTED"]


def test_faults_past_the_budget_fail(shared):
    h.standin_config(faults={"pattern": [1], "services": ["ram"], "kinds": ["503"],
                             "rate": 0.0, "actions": []})
    rc, out, err = accept("--database", shared, AWS_MAX_ATTEMPTS="1",
                          AWS_RETRY_BASE_DELAY="10ms", SHARE_CONSUMER_MAX_ATTEMPTS="2")
    h.standin_config(faults={"pattern": [], "services": [], "kinds": ["500"]})
    assert rc == 1, out + err
    assert "gave up after 2 tries" in err
    assert "FAILED after invitations: 0 accepted" in out


def test_without_the_role_nothing_is_received(shared):
    """RAM answers about the calling account's invitations: the service account's own keys see
    none, which is why the consumer side needs the analytics role."""
    assert h.aws("ram").get_resource_share_invitations()["resourceShareInvitations"] == []
    rc, out, err = accept("--database", shared, SHARE_CONSUMER_ROLE_ARN="")
    assert rc == 2 and "SHARE_CONSUMER_ROLE_ARN" in err
    rc, out, err = accept(SHARE_CONSUMER_SERVICE_ACCOUNT="12345")
    assert rc == 2 and "SHARE_CONSUMER_SERVICE_ACCOUNT" in err
    rc, out, err = accept("--bogus")
    assert rc == 2 and "--bogus" in err
    # With no database named, only the invitations are accepted.
    rc, out, err = accept()
    assert rc == 0, out + err
    assert "accepting invitations only" in out and "1 accepted" in out


def test_the_stand_in_ram_answers_as_aws(shared):
    """What the consumer side relies on: one PENDING invitation per resource share, addressed
    to the analytics account and sent by the service account; accepting twice is
    ResourceShareInvitationAlreadyAcceptedException; a string that is no invitation ARN is
    MalformedArnException, a well-formed unknown one ...ArnNotFoundException."""
    ram = analytics("ram")
    (inv,) = ram.get_resource_share_invitations()["resourceShareInvitations"]
    assert (inv["senderAccountId"], inv["receiverAccountId"], inv["status"]) == \
        (ACCOUNT, ANALYTICS, "PENDING")
    assert inv["resourceShareInvitationArn"].startswith(
        "arn:aws:ram:%s:%s:resource-share-invitation/" % (region(), ACCOUNT))
    arn = inv["resourceShareInvitationArn"]
    assert ram.accept_resource_share_invitation(resourceShareInvitationArn=arn)[
        "resourceShareInvitation"]["status"] == "ACCEPTED"
    for bad, want in ((arn, "ResourceShareInvitationAlreadyAcceptedException"),
                      ("not-an-arn", "MalformedArnException"),
                      (arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000",
                       "ResourceShareInvitationArnNotFoundException")):
        with pytest.raises(ClientError) as e:
            ram.accept_resource_share_invitation(resourceShareInvitationArn=bad)
        assert e.value.response["Error"]["Code"] == want
    with pytest.raises(ClientError) as e:
        ram.get_resource_share_invitations(resourceShareInvitationArns=["arn:aws:s3:::x"])
    assert e.value.response["Error"]["Code"] == "MalformedArnException"
    # Re-granting to the same account makes no second invitation.
    h.aws("lakeformation").grant_permissions(
        Principal={"DataLakePrincipalIdentifier": ANALYTICS},
        Resource={"Database": {"Name": shared}}, Permissions=["DESCRIBE"])
    assert len(ram.get_resource_share_invitations()["resourceShareInvitations"]) == 1


def test_share_worker_runs_the_consumer_side(standin, analytics_role, tmp_path):
    """The share stage with SHARE_CONSUMER_ROLE_ARN set: once Lake Formation shows the grants to
    the analytics account, the same job accepts the invitations (as that account, through the
    assumed role) and creates the database's resource link; `shared` counts both. A replay
    accepts nothing and creates nothing."""
    import json
    import test_share as ts

    h.standin("POST", "/_standin/lakeformation", {"reset": True})
    h.standin_config(faults={"rate": 0.0, "pattern": [], "services": [], "actions": []})
    doc = ts.policy("sl_share_{cluster}", private="*.audit", filtered="*.customers",
                    include=("id", "name"))
    for g in doc["grants"]:
        g["principal"] = ANALYTICS
    pol = ts.write_policy(tmp_path, doc)
    cluster = "t-%s" % h.uid(10)
    db = ts.share_db(cluster)
    ts.glue_tables(db, {"customers": ["id", "name", "email"], "orders": ["id", "total"]})
    prefix = h.topic_prefix("shcons")
    h.create_topics(prefix)
    env = h.worker_env(prefix, SHARE_POLICY_FILE=pol, KAFKA_GROUP_ID="g-%sshare" % prefix,
                       SHARE_RETRY_BASE="50ms", SHARE_RETRY_MAX="500ms",
                       SHARE_CONSUMER_ROLE_ARN=ROLE, SHARE_CONSUMER_ROLE_EXTERNAL_ID=EXTERNAL_ID,
                       AWS_REGION=region())
    env.pop("AWS_ENDPOINT_URL_RAM", None)
    w = h.Worker("share", env, tmp_path / "share.log")
    reader = h.KafkaReader(prefix + "shares")
    try:
        w.wait_ready(90)

        def shared_for(run_id):
            def mine():
                recs = [x for x in reader.read(100, 0.5) if x.value.get("run_id") == run_id]
                return recs[0].value if recs else None
            return h.wait_for(mine, 90, what="shared for %s" % run_id)

        first = "%s-%s" % (cluster, h.uid(6))
        h.produce(prefix + "crawls", json.dumps(ts.crawled(cluster, first)), key=cluster)
        m = shared_for(first)
        assert m["share_invitations_accepted"] >= 1, m
        assert m["share_links_created"] == 1, m
        assert all(i["status"] == "ACCEPTED" for i in invitations()
                   if i["senderAccountId"] == ACCOUNT)
        # The link's name is a Glue name: the template's {database} with '-' made '_'.
        link = analytics("glue").get_database(Name="%s_link" % db.replace("-", "_"))["Database"]
        assert link["TargetDatabase"] == {"CatalogId": ACCOUNT, "DatabaseName": db,
                                          "Region": region()}

        accepts = calls("AcceptResourceShareInvitation")
        again = "%s-%s" % (cluster, h.uid(6))
        h.produce(prefix + "crawls", json.dumps(ts.crawled(cluster, again)), key=cluster)
        m = shared_for(again)
        assert m.get("share_invitations_accepted", 0) == 0, m
        assert m.get("share_links_created", 0) == 0, m
        assert calls("AcceptResourceShareInvitation") == accepts
    finally:
        reader.close()
        rc = w.stop(30)
    err = w.stderr()
    assert rc == 0, err[-3000:]
    assert "ERROR: AddressSanitizer" not in err and "LeakSanitizer" not in err, err[-3000:]
    for secret in (EXTERNAL_ID, os.environ["AWS_SECRET_ACCESS_KEY"]):
        assert secret not in err and secret not in open(str(tmp_path / "share.log")).read()
