"""The stand-in's Lake Formation, RAM and crawler catalog (tests/standin/README.md).

Driven with boto3 against a stand-in of this module's own (conftest `standin`) over the
stack's moto, signature checking on. Client-side validation is turned off where a test sends
a malformed request on purpose, so that the stand-in's own check (botocore's ParamValidator
over the service model) is what refuses it.
"""

import os
import sys

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "standin"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import aws_setup  # noqa: E402
import crawl_catalog  # noqa: E402
import harness as h  # noqa: E402

ACCOUNT = h.ACCOUNT
ANALYTICS = "210987654321"


def client(service, validate=True, secret=None):
    kw = {}
    if secret is not None:
        kw = {"aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
              "aws_secret_access_key": secret}
    return boto3.client(service, endpoint_url=os.environ["STANDIN_ENDPOINT"],
                        region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        config=Config(retries={"total_max_attempts": 1},
                                      parameter_validation=validate), **kw)


def code(exc_info):
    return exc_info.value.response["Error"]["Code"]


@pytest.fixture
def lf(standin):
    h.standin("POST", "/_standin/lakeformation", {"reset": True})
    h.standin_config(lf_faults={"concurrent_rate": 0.0, "concurrent_ops": [],
                                "concurrent_next": {}, "entry_failures": {}})
    return client("lakeformation")


@pytest.fixture
def table():
    """A Glue database with one table (id, email, phone; partition key date)."""
    glue = h.aws("glue")
    db = "sl_lf_%s" % h.uid()
    glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=db, TableInput={
        "Name": "orders", "PartitionKeys": [{"Name": "date", "Type": "string"}],
        "StorageDescriptor": {"Columns": [{"Name": "id", "Type": "bigint"},
                                          {"Name": "email", "Type": "string"},
                                          {"Name": "phone", "Type": "string"}]}})
    return db, "orders"


def tags(pairs):
    return {p["TagKey"]: p["TagValues"] for p in pairs}


def test_lf_tags_lifecycle_and_pagination(lf):
    keys = ["k%d_%s" % (i, h.uid(4)) for i in range(5)]
    for k in keys:
        lf.create_lf_tag(TagKey=k, TagValues=["a", "b"])
    with pytest.raises(ClientError) as e:
        lf.create_lf_tag(TagKey=keys[0], TagValues=["a"])
    assert code(e) == "AlreadyExistsException"
    seen, token, pages = [], None, 0
    while True:
        r = lf.list_lf_tags(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(r["LFTags"]) <= 2
        seen += [t["TagKey"] for t in r["LFTags"]]
        pages += 1
        token = r.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(keys) and pages == 3
    # Values are added and deleted, never replaced.
    lf.update_lf_tag(TagKey=keys[0], TagValuesToAdd=["c"], TagValuesToDelete=["a"])
    assert lf.get_lf_tag(TagKey=keys[0])["TagValues"] == ["b", "c"]
    assert lf.get_lf_tag(TagKey=keys[0])["CatalogId"] == ACCOUNT
    with pytest.raises(ClientError) as e:
        lf.update_lf_tag(TagKey=keys[0], TagValuesToDelete=["zzz"])
    assert code(e) == "InvalidInputException"
    lf.delete_lf_tag(TagKey=keys[1])
    with pytest.raises(ClientError) as e:
        lf.get_lf_tag(TagKey=keys[1])
    assert code(e) == "EntityNotFoundException"
    admins = [{"DataLakePrincipalIdentifier": "arn:aws:iam::%s:role/admin" % ACCOUNT}]
    lf.put_data_lake_settings(DataLakeSettings={"DataLakeAdmins": admins})
    assert lf.get_data_lake_settings()["DataLakeSettings"]["DataLakeAdmins"] == admins


def test_add_lf_tags_merges_enforces_values_and_inherits(lf, table):
    db, tbl = table
    lf.create_lf_tag(TagKey="confidential", TagValues=["sensitive", "private", "public"])
    lf.create_lf_tag(TagKey="owner", TagValues=["shop", "billing"])
    r = lf.add_lf_tags_to_resource(Resource={"Database": {"Name": db}},
                                   LFTags=[{"TagKey": "confidential", "TagValues": ["private"]}])
    assert r["Failures"] == []
    lf.add_lf_tags_to_resource(Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                               LFTags=[{"TagKey": "owner", "TagValues": ["shop"]}])
    # A second call adds a key: the first key stays (moto replaces the whole list).
    r = lf.add_lf_tags_to_resource(
        Resource={"Table": {"DatabaseName": db, "Name": tbl}},
        LFTags=[{"TagKey": "confidential", "TagValues": ["public"]},
                {"TagKey": "nosuchkey", "TagValues": ["x"]},
                {"TagKey": "owner", "TagValues": ["nosuchvalue"]}])
    fails = {f["LFTag"]["TagKey"]: f["Error"]["ErrorCode"] for f in r["Failures"]}
    assert fails == {"nosuchkey": "EntityNotFoundException", "owner": "InvalidInputException"}
    assert r["Failures"][0]["LFTag"]["CatalogId"] == ACCOUNT
    got = lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": db, "Name": tbl}})
    assert tags(got["LFTagOnDatabase"]) == {"confidential": ["private"]}
    assert tags(got["LFTagsOnTable"]) == {"confidential": ["public"], "owner": ["shop"]}
    cols = {c["Name"]: tags(c["LFTags"]) for c in got["LFTagsOnColumns"]}
    assert set(cols) == {"id", "email", "phone", "date"}
    assert cols["email"] == {"confidential": ["public"], "owner": ["shop"]}
    # A column override, then ShowAssignedLFTags shows only what is assigned.
    lf.add_lf_tags_to_resource(
        Resource={"TableWithColumns": {"DatabaseName": db, "Name": tbl,
                                       "ColumnNames": ["email"]}},
        LFTags=[{"TagKey": "confidential", "TagValues": ["sensitive"]}])
    got = lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": db, "Name": tbl}})
    cols = {c["Name"]: tags(c["LFTags"]) for c in got["LFTagsOnColumns"]}
    assert cols["email"]["confidential"] == ["sensitive"] and cols["id"]["confidential"] == \
        ["public"]
    got = lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                                  ShowAssignedLFTags=True)
    assert tags(got["LFTagsOnTable"]) == {"confidential": ["public"], "owner": ["shop"]}
    cols = {c["Name"]: tags(c["LFTags"]) for c in got["LFTagsOnColumns"]}
    assert cols["email"] == {"confidential": ["sensitive"]} and cols["id"] == {}
    # A table without an override inherits the database's tag.
    h.aws("glue").create_table(DatabaseName=db, TableInput={
        "Name": "plain", "StorageDescriptor": {"Columns": [{"Name": "x", "Type": "int"}]}})
    got = lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": db, "Name": "plain"}})
    assert tags(got["LFTagsOnTable"]) == {"confidential": ["private"]}
    lf.remove_lf_tags_from_resource(Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                                    LFTags=[{"TagKey": "owner", "TagValues": ["shop"]}])
    got = lf.get_resource_lf_tags(Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                                  ShowAssignedLFTags=True)
    assert tags(got["LFTagsOnTable"]) == {"confidential": ["public"]}


def test_resources_are_checked_in_glue(lf, table):
    db, _ = table
    lf.create_lf_tag(TagKey="confidential", TagValues=["public"])
    with pytest.raises(ClientError) as e:
        lf.add_lf_tags_to_resource(Resource={"Table": {"DatabaseName": db, "Name": "nope"}},
                                   LFTags=[{"TagKey": "confidential", "TagValues": ["public"]}])
    assert code(e) == "EntityNotFoundException"
    with pytest.raises(ClientError) as e:
        lf.get_resource_lf_tags(Resource={"Database": {"Name": "no_such_db_%s" % h.uid()}})
    assert code(e) == "EntityNotFoundException"
    with pytest.raises(ClientError) as e:
        lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYTICS},
                             Resource={"Table": {"DatabaseName": db, "Name": "nope"}},
                             Permissions=["SELECT"])
    assert code(e) == "EntityNotFoundException"


def filter_data(db, tbl, name, cols):
    return {"TableCatalogId": ACCOUNT, "DatabaseName": db, "TableName": tbl, "Name": name,
            "ColumnNames": cols, "RowFilter": {"AllRowsWildcard": {}}}


def test_data_cells_filters(lf, table):
    db, tbl = table
    for i in range(5):
        lf.create_data_cells_filter(TableData=filter_data(db, tbl, "f%d" % i, ["id"]))
    with pytest.raises(ClientError) as e:
        lf.create_data_cells_filter(TableData=filter_data(db, tbl, "f0", ["id"]))
    assert code(e) == "AlreadyExistsException"
    with pytest.raises(ClientError) as e:
        lf.create_data_cells_filter(TableData=filter_data(db, tbl, "bad", ["no_such_col"]))
    assert code(e) == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        lf.create_data_cells_filter(TableData=filter_data(db, "nope", "x", ["id"]))
    assert code(e) == "EntityNotFoundException"
    names, token = [], None
    while True:
        r = lf.list_data_cells_filter(Table={"CatalogId": ACCOUNT, "DatabaseName": db,
                                             "Name": tbl}, MaxResults=2,
                                      **({"NextToken": token} if token else {}))
        names += [f["Name"] for f in r["DataCellsFilters"]]
        token = r.get("NextToken")
        if not token:
            break
    assert sorted(names) == ["f%d" % i for i in range(5)]
    got = lf.get_data_cells_filter(TableCatalogId=ACCOUNT, DatabaseName=db, TableName=tbl,
                                   Name="f1")["DataCellsFilter"]
    assert got["ColumnNames"] == ["id"] and got["VersionId"] == "1"
    upd = filter_data(db, tbl, "f1", ["id", "phone"])
    upd["RowFilter"] = {"FilterExpression": "id > 10"}
    lf.update_data_cells_filter(TableData=upd)
    got = lf.get_data_cells_filter(TableCatalogId=ACCOUNT, DatabaseName=db, TableName=tbl,
                                   Name="f1")["DataCellsFilter"]
    assert got["ColumnNames"] == ["id", "phone"] and got["VersionId"] == "2"
    assert got["RowFilter"] == {"FilterExpression": "id > 10"}
    lf.delete_data_cells_filter(TableCatalogId=ACCOUNT, DatabaseName=db, TableName=tbl,
                                Name="f1")
    with pytest.raises(ClientError) as e:
        lf.get_data_cells_filter(TableCatalogId=ACCOUNT, DatabaseName=db, TableName=tbl,
                                 Name="f1")
    assert code(e) == "EntityNotFoundException"


def test_grants_keep_grant_option_and_list_permissions(lf, table):
    db, tbl = table
    lf.create_lf_tag(TagKey="confidential", TagValues=["private", "public"])
    lf.create_data_cells_filter(TableData=filter_data(db, tbl, "no_email", ["id", "phone"]))
    policy = {"LFTagPolicy": {"CatalogId": ACCOUNT, "ResourceType": "TABLE",
                              "Expression": [{"TagKey": "confidential",
                                              "TagValues": ["public"]}]}}
    dcf = {"DataCellsFilter": {"TableCatalogId": ACCOUNT, "DatabaseName": db,
                               "TableName": tbl, "Name": "no_email"}}
    p = {"DataLakePrincipalIdentifier": ANALYTICS}
    r = lf.batch_grant_permissions(Entries=[
        {"Id": "1", "Principal": p, "Resource": policy, "Permissions": ["SELECT", "DESCRIBE"],
         "PermissionsWithGrantOption": ["SELECT", "DESCRIBE"]},
        {"Id": "2", "Principal": p, "Resource": dcf, "Permissions": ["SELECT"],
         "PermissionsWithGrantOption": ["SELECT"]},
        {"Id": "3", "Principal": p, "Resource": {"LFTagPolicy": {
            "CatalogId": ACCOUNT, "ResourceType": "TABLE",
            "Expression": [{"TagKey": "confidential", "TagValues": ["nosuch"]}]}},
         "Permissions": ["SELECT"]}])
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in r["Failures"]] == \
        [("3", "InvalidInputException")]
    got = lf.list_permissions(Principal=p, Resource=policy)["PrincipalResourcePermissions"]
    assert len(got) == 1
    assert got[0]["Permissions"] == ["DESCRIBE", "SELECT"]
    assert got[0]["PermissionsWithGrantOption"] == ["DESCRIBE", "SELECT"]
    got = lf.list_permissions(Resource=dcf)["PrincipalResourcePermissions"]
    assert [(g["Principal"]["DataLakePrincipalIdentifier"], g["PermissionsWithGrantOption"])
            for g in got] == [(ANALYTICS, ["SELECT"])]
    got = lf.list_permissions(ResourceType="LF_TAG_POLICY_TABLE")["PrincipalResourcePermissions"]
    assert len(got) == 1
    # More grants, read back page by page.
    for i in range(4):
        lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": "arn:aws:iam::%s:role/r%d"
                                        % (ACCOUNT, i)},
                             Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                             Permissions=["SELECT"])
    seen, token = [], None
    while True:
        r = lf.list_permissions(MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(r["PrincipalResourcePermissions"]) <= 2
        seen += r["PrincipalResourcePermissions"]
        token = r.get("NextToken")
        if not token:
            break
    assert len(seen) == 6
    # Revoking only the grant option keeps the permission.
    lf.revoke_permissions(Principal=p, Resource=policy, Permissions=[],
                          PermissionsWithGrantOption=["SELECT"])
    got = lf.list_permissions(Principal=p, Resource=policy)["PrincipalResourcePermissions"]
    assert got[0]["Permissions"] == ["DESCRIBE", "SELECT"]
    assert got[0]["PermissionsWithGrantOption"] == ["DESCRIBE"]
    r = lf.batch_revoke_permissions(Entries=[
        {"Id": "a", "Principal": p, "Resource": policy, "Permissions": ["SELECT", "DESCRIBE"]},
        {"Id": "b", "Principal": p, "Resource": policy, "Permissions": ["SELECT"]}])
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in r["Failures"]] == \
        [("b", "InvalidInputException")]
    assert lf.list_permissions(Principal=p, Resource=policy)["PrincipalResourcePermissions"] == []
    # Deleting a filter drops its grants.
    lf.delete_data_cells_filter(TableCatalogId=ACCOUNT, DatabaseName=db, TableName=tbl,
                                Name="no_email")
    assert lf.list_permissions(Principal=p)["PrincipalResourcePermissions"] == []


def test_malformed_requests_are_refused_by_the_service_model(lf):
    raw = client("lakeformation", validate=False)
    with pytest.raises(ClientError) as e:
        raw.create_lf_tag(TagKey="k_%s" % h.uid())            # TagValues missing
    assert code(e) == "InvalidInputException"
    assert 'Missing required parameter in input: "TagValues"' in str(e.value)
    with pytest.raises(ClientError) as e:
        raw.create_lf_tag(TagKey=5, TagValues=["public"])   # not a string
    assert code(e) == "InvalidInputException" and "Invalid type for parameter" in str(e.value)
    with pytest.raises(ClientError) as e:
        raw.list_permissions(MaxResults=0)                      # under the model's min (1)
    assert code(e) == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        raw.batch_grant_permissions(Entries=[{"Principal": {}}])   # Id missing
    assert code(e) == "InvalidInputException"
    # Beyond what botocore checks: the model's max, and 20 entries per batch call.
    with pytest.raises(ClientError) as e:
        raw.list_permissions(MaxResults=5000)
    assert code(e) == "InvalidInputException" and "valid max value" in str(e.value)
    with pytest.raises(ClientError) as e:
        raw.create_lf_tag(TagKey="k" * 129, TagValues=["a"])
    assert code(e) == "InvalidInputException" and "valid max length" in str(e.value)
    with pytest.raises(ClientError) as e:
        raw.batch_grant_permissions(Entries=[
            {"Id": str(i), "Principal": {"DataLakePrincipalIdentifier": ANALYTICS},
             "Resource": {"Catalog": {}}, "Permissions": ["DESCRIBE"]} for i in range(21)])
    assert code(e) == "InvalidInputException" and "at most 20" in str(e.value)
    ram = client("ram", validate=False)
    with pytest.raises(ClientError) as e:
        ram.accept_resource_share_invitation()
    assert code(e) == "MissingRequiredParameterException"
    with pytest.raises(ClientError) as e:
        ram.get_resource_share_invitations(maxResults="ten")
    assert code(e) == "InvalidParameterException"
    # Nothing was created by the refused calls.
    assert lf.list_lf_tags()["LFTags"] == []


def test_wrong_secret_is_refused(lf):
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    wrong = aws_setup.wrong_secret(secret)
    for service, call in (("lakeformation", "list_lf_tags"),
                          ("lakeformation", "list_data_cells_filter"),
                          ("ram", "get_resource_share_invitations")):
        with pytest.raises(ClientError) as e:
            getattr(client(service, secret=wrong), call)()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, (service, call)
        getattr(client(service), call)()


def test_keys_of_an_assumed_role_are_verified(lf):
    """The consumer side signs with a role assumed through STS: the stand-in learnt those
    keys from the AssumeRole answer it passed on, and checks the signatures made with them."""
    creds = client("sts").assume_role(
        RoleArn="arn:aws:iam::%s:role/snaplake-analytics" % ANALYTICS,
        RoleSessionName="consumer")["Credentials"]

    def ram(secret, key=None):
        return boto3.client("ram", endpoint_url=os.environ["STANDIN_ENDPOINT"],
                            region_name=os.environ.get("AWS_REGION", "us-east-1"),
                            aws_access_key_id=key or creds["AccessKeyId"],
                            aws_secret_access_key=secret,
                            aws_session_token=creds["SessionToken"],
                            config=Config(retries={"total_max_attempts": 1}))
    ram(creds["SecretAccessKey"]).get_resource_share_invitations()
    with pytest.raises(ClientError) as e:
        ram(aws_setup.wrong_secret(creds["SecretAccessKey"])).get_resource_share_invitations()
    assert code(e) == "InvalidSignatureException"
    with pytest.raises(ClientError) as e:   # a key nobody issued
        ram("secret", key="ASIANOBODYISSUEDTHIS").get_resource_share_invitations()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_injected_faults(lf, table):
    db, tbl = table
    lf.create_lf_tag(TagKey="confidential", TagValues=["private", "public"])
    h.standin_config(lf_faults={"concurrent_next": {"AddLFTagsToResource": 2}})
    res = {"Table": {"DatabaseName": db, "Name": tbl}}
    pair = [{"TagKey": "confidential", "TagValues": ["public"]}]
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            lf.add_lf_tags_to_resource(Resource=res, LFTags=pair)
        assert code(e) == "ConcurrentModificationException"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == \
            "ConcurrentModificationException"
    assert lf.get_resource_lf_tags(Resource=res, ShowAssignedLFTags=True)["LFTagsOnTable"] == []
    assert lf.add_lf_tags_to_resource(Resource=res, LFTags=pair)["Failures"] == []
    # Per-entry failures inside a 200, with the chosen code; the entry is not applied.
    h.standin_config(lf_faults={"entry_failures": {
        "BatchGrantPermissions": {"count": 1, "code": "ConcurrentModificationException"},
        "AddLFTagsToResource": {"count": 1, "code": "InternalServiceException",
                                "message": "injected"}}})
    p = {"DataLakePrincipalIdentifier": ANALYTICS}
    r = lf.batch_grant_permissions(Entries=[
        {"Id": str(i), "Principal": p, "Resource": {"Table": {"DatabaseName": db, "Name": tbl}},
         "Permissions": [perm]} for i, perm in enumerate(("SELECT", "DESCRIBE"))])
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in r["Failures"]] == \
        [("0", "ConcurrentModificationException")]
    got = lf.list_permissions(Principal=p, Resource={"Table": {"DatabaseName": db, "Name": tbl}})
    assert got["PrincipalResourcePermissions"][0]["Permissions"] == ["DESCRIBE"]
    r = lf.add_lf_tags_to_resource(Resource=res, LFTags=[{"TagKey": "confidential",
                                                          "TagValues": ["private"]}])
    assert [(f["Error"]["ErrorCode"], f["Error"]["ErrorMessage"]) for f in r["Failures"]] == \
        [("InternalServiceException", "injected")]
    assert tags(lf.get_resource_lf_tags(Resource=res)["LFTagsOnTable"]) == \
        {"confidential": ["public"]}
    # A rate on named operations (seeded): some calls refused, the rest answered.
    h.standin_config(lf_faults={"concurrent_rate": 0.5, "concurrent_ops": ["GetLFTag"],
                                "seed": 7})
    outcomes = []
    for _ in range(20):
        try:
            lf.get_lf_tag(TagKey="confidential")
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    assert set(outcomes) == {"ok", "ConcurrentModificationException"}
    lf.list_lf_tags()   # not a named operation: never refused
    state = h.standin("GET", "/_standin/lakeformation")
    assert state["faults"]["GetLFTag:ConcurrentModificationException"] == \
        outcomes.count("ConcurrentModificationException")


def assumed(service, account, name="consumer"):
    """A client signing with a role assumed (through the stand-in) in another account."""
    creds = client("sts").assume_role(RoleArn="arn:aws:iam::%s:role/snaplake-analytics"
                                      % account, RoleSessionName=name)["Credentials"]
    return boto3.client(service, endpoint_url=os.environ["STANDIN_ENDPOINT"],
                        region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        config=Config(retries={"total_max_attempts": 1}))


def test_cross_account_grant_makes_a_ram_invitation(lf, table):
    db, tbl = table
    lf.create_lf_tag(TagKey="confidential", TagValues=["private", "public"])
    lf.add_lf_tags_to_resource(Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                               LFTags=[{"TagKey": "confidential", "TagValues": ["public"]}])
    ram = assumed("ram", ANALYTICS)
    third = assumed("ram", "333344445555", "third")
    assert ram.get_resource_share_invitations()["resourceShareInvitations"] == []
    # A grant inside the account makes no share; one to another account does.
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier":
                                    "arn:aws:iam::%s:role/local" % ACCOUNT},
                         Resource={"Database": {"Name": db}}, Permissions=["DESCRIBE"])
    assert ram.get_resource_share_invitations()["resourceShareInvitations"] == []
    # An LF-Tag policy shares the database holding the table tagged public.
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYTICS},
                         Resource={"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [
                             {"TagKey": "confidential", "TagValues": ["public"]}]}},
                         Permissions=["SELECT", "DESCRIBE"])
    other = "sl_lf2_%s" % h.uid()
    h.aws("glue").create_database(DatabaseInput={"Name": other})
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYTICS},
                         Resource={"Database": {"Name": other}}, Permissions=["DESCRIBE"])
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": "333344445555"},
                         Resource={"Database": {"Name": other}}, Permissions=["DESCRIBE"])
    r = ram.get_resource_share_invitations(maxResults=1)
    assert len(r["resourceShareInvitations"]) == 1 and r.get("nextToken")
    r2 = ram.get_resource_share_invitations(maxResults=1, nextToken=r["nextToken"])
    invs = r["resourceShareInvitations"] + r2["resourceShareInvitations"]
    assert not r2.get("nextToken") and len({i["resourceShareArn"] for i in invs}) == 2
    assert {(i["receiverAccountId"], i["senderAccountId"], i["status"]) for i in invs} == \
        {(ANALYTICS, ACCOUNT, "PENDING")}
    # Each account sees only what it received; the service account received nothing.
    theirs = third.get_resource_share_invitations()["resourceShareInvitations"]
    assert [i["receiverAccountId"] for i in theirs] == ["333344445555"]
    assert client("ram").get_resource_share_invitations()["resourceShareInvitations"] == []
    # Granting again makes no new invitation.
    lf.grant_permissions(Principal={"DataLakePrincipalIdentifier": ANALYTICS},
                         Resource={"Table": {"DatabaseName": db, "Name": tbl}},
                         Permissions=["SELECT"])
    assert len(ram.get_resource_share_invitations()["resourceShareInvitations"]) == 2
    inv = invs[0]
    arn = inv["resourceShareInvitationArn"]
    with pytest.raises(ClientError) as e:   # not the third account's to accept
        third.accept_resource_share_invitation(resourceShareInvitationArn=arn)
    assert code(e) == "ResourceShareInvitationArnNotFoundException"
    acc = ram.accept_resource_share_invitation(resourceShareInvitationArn=arn, clientToken="t1")
    assert acc["resourceShareInvitation"]["status"] == "ACCEPTED"
    assert acc["clientToken"] == "t1"
    got = ram.get_resource_share_invitations(resourceShareInvitationArns=[arn])
    assert got["resourceShareInvitations"][0]["status"] == "ACCEPTED"
    with pytest.raises(ClientError) as e:
        ram.accept_resource_share_invitation(resourceShareInvitationArn=arn)
    assert code(e) == "ResourceShareInvitationAlreadyAcceptedException"
    with pytest.raises(ClientError) as e:
        ram.accept_resource_share_invitation(resourceShareInvitationArn=arn + "0")
    assert code(e) == "ResourceShareInvitationArnNotFoundException"


# ------------------------------------------------------------------------ crawler catalog

PLAN_CASES = [
    # (keys under base, table level, {root: (folder, partition keys, partition values)})
    (["c/db/public.t1/date=2026-01-01/p0.gz.parquet",
      "c/db/public.t1/date=2026-01-02/p0.gz.parquet",
      "c/db/public.t1/date=2026-01-02/_SUCCESS",
      "c/db/public.T-2/date=2026-01-01/p0.gz.parquet"], None,
     {"lake/c/db/public.t1/": ("public.t1", ["date"], [("2026-01-01",), ("2026-01-02",)]),
      "lake/c/db/public.T-2/": ("public.T-2", ["date"], [("2026-01-01",)])}),
    (["c/db/t/x.parquet", "c/db/t/.hidden", "c/_tmp/t/x.parquet"], None,
     {"lake/c/db/t/": ("t", [], [()])}),
    (["c/db/t/2026/x.parquet"], 5, {"lake/c/db/t/": ("t", ["partition_0"], [("2026",)])}),
]


@pytest.mark.parametrize("keys,level,want", PLAN_CASES)
def test_crawl_plan_is_one_table_per_folder(keys, level, want):
    roots = crawl_catalog.plan_tables("b", "lake/", ["lake/" + k for k in keys], level)
    got = {r: (v["folder"], v["keys"], sorted(v["parts"])) for r, v in roots.items()}
    assert got == want


def test_crawl_table_names():
    roots = {"lake/a/db/public.t1/": {"folder": "public.t1"},
             "lake/b/db/public.t1/": {"folder": "public.t1"},
             "lake/a/db/Public.Orders-2/": {"folder": "Public.Orders-2"}}
    names = crawl_catalog.name_tables(roots, "x_")
    assert names["lake/a/db/Public.Orders-2/"] == "x_public_orders_2"
    dup = sorted(names[r] for r in roots if "t1" in r)
    assert dup[0] != dup[1] and all(n.startswith("x_public_t1_") and len(n) == 20 for n in dup)


def test_crawl_creates_tables_and_partitions_without_duplicates(standin):
    h.standin_config(crawler_seconds=0.2, crawler_stopping_seconds=0.1)
    s3, glue = h.aws("s3"), h.aws("glue")
    bucket = h.create_bucket()
    cluster = "c-%s" % h.uid(8)
    db = "sl_crawl_%s" % h.uid()
    glue.create_database(DatabaseInput={"Name": db})
    h.standin_config(layouts={cluster: {"databases": {"shop": {
        "public.orders": {"files": 1, "columns": ["id:bigint", "email:string"]}}}}})

    def put(key):
        s3.put_object(Bucket=bucket, Key="lake/%s/%s" % (cluster, key),
                      Body=b"PAR1" + os.urandom(16) + b"PAR1")
    put("shop/public.orders/date=2026-03-01/part-00000-a.gz.parquet")
    put("shop/public.orders/date=2026-03-01/part-00001-a.gz.parquet")
    put("shop/public.customers/date=2026-03-01/part-00000-a.gz.parquet")
    name = "snaplake-%s" % cluster
    glue.create_crawler(Name=name, Role="arn:aws:iam::%s:role/glue" % ACCOUNT, DatabaseName=db,
                        Targets={"S3Targets": [{"Path": "s3://%s/lake/%s/" % (bucket, cluster)}]})

    def crawl():
        before = len(h.standin_state()["crawl_starts"])
        glue.start_crawler(Name=name)
        assert len(h.standin_state()["crawl_starts"]) == before + 1

        def done():
            c = glue.get_crawler(Name=name)["Crawler"]
            return c["State"] == "READY" and c.get("LastCrawl", {}).get("Status") == "SUCCEEDED"
        h.wait_for(done, 30, what="crawl READY/SUCCEEDED")

    assert glue.get_tables(DatabaseName=db)["TableList"] == []
    crawl()
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=db)["TableList"]}
    assert sorted(tables) == ["public_customers", "public_orders"]
    t = tables["public_orders"]
    assert t["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
    sd = t["StorageDescriptor"]
    assert sd["Location"] == "s3://%s/lake/%s/shop/public.orders/" % (bucket, cluster)
    assert sd["SerdeInfo"]["SerializationLibrary"] == crawl_catalog.PARQUET_SERDE
    assert sd["InputFormat"] == crawl_catalog.PARQUET_IN
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [("id", "bigint"),
                                                               ("email", "string")]
    assert [c["Name"] for c in tables["public_customers"]["StorageDescriptor"]["Columns"]] == \
        ["id"]   # nothing declared: the placeholder column
    parts = glue.get_partitions(DatabaseName=db, TableName="public_orders")["Partitions"]
    assert [p["Values"] for p in parts] == [["2026-03-01"]]
    assert parts[0]["StorageDescriptor"]["Location"].endswith("/public.orders/date=2026-03-01/")
    # A new day and a new column: a re-crawl adds the partition and updates the table.
    put("shop/public.orders/date=2026-03-02/part-00000-b.gz.parquet")
    h.standin_config(layouts={cluster: {"databases": {"shop": {"public.orders": {
        "files": 1, "columns": ["id:bigint", "email:string", "phone:string"]}}}}})
    crawl()
    tables = glue.get_tables(DatabaseName=db)["TableList"]
    assert sorted(t["Name"] for t in tables) == ["public_customers", "public_orders"]
    t = [t for t in tables if t["Name"] == "public_orders"][0]
    assert [c["Name"] for c in t["StorageDescriptor"]["Columns"]] == ["id", "email", "phone"]
    parts = glue.get_partitions(DatabaseName=db, TableName="public_orders")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2026-03-01", "2026-03-02"]
    res = h.standin("GET", "/_standin/lakeformation")["crawl_catalog"][name]
    assert res["tables_created"] == [] and res["tables_updated"] == ["public_orders"]
    assert res["partitions_created"] == 1 and res["errors"] == []
    # Another cluster's crawler into the same database, with a table of the same name:
    # the first table keeps its name and location, the second gets a hash suffix.
    other = "c-%s" % h.uid(8)
    s3.put_object(Bucket=bucket, Key="lake/%s/shop/public.orders/date=2026-03-01/p.parquet"
                  % other, Body=b"PAR1PAR1")
    glue.create_crawler(Name="snaplake-%s" % other, Role="arn:aws:iam::%s:role/glue" % ACCOUNT,
                        DatabaseName=db,
                        Targets={"S3Targets": [{"Path": "s3://%s/lake/%s/" % (bucket, other)}]})
    name = "snaplake-%s" % other
    crawl()
    got = {t["Name"]: t["StorageDescriptor"]["Location"]
           for t in glue.get_tables(DatabaseName=db)["TableList"]}
    assert got["public_orders"].endswith("/lake/%s/shop/public.orders/" % cluster)
    suffixed = [n for n in got if n.startswith("public_orders_")]
    assert len(suffixed) == 1 and got[suffixed[0]].endswith("/lake/%s/shop/public.orders/"
                                                             % other)
    crawl()   # and again: still one table per folder
    assert len(glue.get_tables(DatabaseName=db)["TableList"]) == 3
