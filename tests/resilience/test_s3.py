"""Backups to S3 with Object Lock: what the app's credentials can and cannot do, and a
backup and restore through it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from tests.resilience import s3server

pytestmark = pytest.mark.xdist_group("resilience-backed-up")


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = s3server.start(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()


def _target(s3, prefix: str):
    from ajeya.resilience.targets import S3Target

    spec = {"name": "vault", "where": f"s3://{s3server.BUCKET}/{prefix}",
            "endpoint": s3.endpoint, "access_key": s3server.APP[0],
            "secret_key": s3server.APP[1], "retention_days": "1"}  # fmt: skip
    return S3Target(spec).open()


def test_the_app_can_add_but_never_delete_overwrite_or_shorten(s3):
    target = _target(s3, "locks")
    target.put_bytes("x/one.age", b"first")
    assert target.get_bytes("x/one.age") == b"first"
    assert target.list("x/") == ["x/one.age"]
    target.put_bytes("x/two-a.age", b"later")
    assert target.list("x/", start_after="x/tw") == ["x/two-a.age"]
    from ajeya.resilience.targets import MissingObject, TargetError

    with pytest.raises(TargetError, match="already exists"):
        target.put_bytes("x/one.age", b"second")
    with pytest.raises(MissingObject, match=r"object x/two\.age is missing"):
        target.get_bytes("x/two.age")
    app, admin = s3.client(s3server.APP), s3.client(s3server.ADMIN)
    key = "locks/x/one.age"
    head = app.head_object(Bucket=s3server.BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    version = head["VersionId"]
    sooner = head["ObjectLockRetainUntilDate"] - dt.timedelta(hours=12)  # still ahead
    for attempt in (
        lambda: app.delete_object(Bucket=s3server.BUCKET, Key=key),
        lambda: app.delete_object(Bucket=s3server.BUCKET, Key=key, VersionId=version),
        lambda: admin.delete_object(Bucket=s3server.BUCKET, Key=key, VersionId=version),
        lambda: app.put_object_retention(
            Bucket=s3server.BUCKET, Key=key, VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": sooner},
        ),
    ):  # fmt: skip
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert app.get_object(Bucket=s3server.BUCKET, Key=key, VersionId=version)["Body"].read() == (
        b"first"
    )
    # Even the prune command, run with the app's credentials, deletes nothing.
    with pytest.raises(ClientError):
        target.delete("x/one.age")


def test_a_bucket_without_object_lock_is_refused(s3):
    from ajeya.resilience.targets import S3Target, TargetError

    s3.client(s3server.ADMIN).create_bucket(Bucket="no-lock")
    spec = {"name": "vault", "where": "s3://no-lock/h", "endpoint": s3.endpoint,
            "access_key": s3server.ADMIN[0], "secret_key": s3server.ADMIN[1]}  # fmt: skip
    with pytest.raises(TargetError, match="Object Lock"):
        S3Target(spec).open()


def test_backup_ship_and_restore_through_s3(s3, backed_up, tmp_path):
    env = {"AJEYA_BACKUP_TARGETS": f"vault=s3://{s3server.BUCKET}/hospital", **s3.env()}
    backed_up.run("backup", **env)
    backed_up.run("ship", **env)
    keys = s3.client(s3server.APP).list_objects_v2(Bucket=s3server.BUCKET, Prefix="hospital/")
    names = [item["Key"] for item in keys["Contents"]]
    assert any(n.endswith("/manifest.json") for n in names)
    assert any(n.startswith("hospital/ledger/") for n in names)
    assert any(n.startswith("hospital/documents/") for n in names)
    place, url = backed_up.fresh_place("from-s3")
    restore_env = {
        "AJEYA_BACKUP_RESTORE_ENDPOINT": s3.endpoint,
        "AJEYA_BACKUP_RESTORE_ACCESS_KEY": s3server.APP[0],
        "AJEYA_BACKUP_RESTORE_SECRET_KEY": s3server.APP[1],
    }
    result = backed_up.run(
        "restore", "--from", f"s3://{s3server.BUCKET}/hospital", "--key", str(backed_up.keyfile),
        "--json", var=place, database_url=url, check=False, **restore_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["verified"] is True
    # An unreachable storage server is one line naming the target.
    down = backed_up.run("backup", check=False, AJEYA_BACKUP_TARGETS="vault=s3://ajeya-backups/h",
                         AJEYA_BACKUP_VAULT_ENDPOINT="http://127.0.0.1:9")  # fmt: skip
    assert down.returncode == 1
    assert "backup to vault FAILED" in down.stderr
    assert len(down.stderr.strip().splitlines()) == 1


def test_an_object_replaced_with_the_apps_credentials_is_read_as_first_written(s3):
    target = _target(s3, "replaced")
    target.put_bytes("ledger/one.json", b"genuine")
    # An intruder with the app's credentials puts a new version under the same name
    # (it cannot delete or shorten the locked original).
    s3.client(s3server.APP).put_object(
        Bucket=s3server.BUCKET, Key="replaced/ledger/one.json", Body=b"forged"
    )
    assert target.get_bytes("ledger/one.json") == b"genuine"
