"""A small emulated Cloud Storage: buckets (each in a project, readable or not by the Gemini
service agent) holding objects, for ``files:register``. Filled through the control surface.

Objects are kept in memory: they are test fixtures, put one by one. Callers hold the state lock.
"""

from __future__ import annotations

import hashlib

from gemini_oauth.emulator._records import Bucket, BucketObject

#: One object's limit: control requests carry the bytes in JSON, so keep them small.
MAX_OBJECT_BYTES = 16 * 1024 * 1024


def parse_gcs_uri(uri: str) -> tuple[str, str] | None:
    """``gs://bucket/object`` -> (bucket, object); None if it is not one."""
    if not uri.startswith("gs://"):
        return None
    bucket, _, name = uri[5:].partition("/")
    return (bucket, name) if bucket and name else None


def service_agent(project_number: int) -> str:
    """The Gemini API's service agent of a project, as IAM names it."""
    return f"service-{project_number}@gcp-sa-generativelanguage.iam.gserviceaccount.com"


class BucketStore:
    """Buckets by name, objects by (bucket, name)."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}
        self.objects: dict[tuple[str, str], BucketObject] = {}

    def clear(self) -> None:
        self.buckets.clear()
        self.objects.clear()

    def set_bucket(self, name: str, project_id: str, service_agent_read: bool) -> Bucket:
        bucket = Bucket(name, project_id, service_agent_read)
        self.buckets[name] = bucket
        return bucket

    def put(self, bucket: str, name: str, data: bytes, content_type: str) -> BucketObject:
        obj = BucketObject(bucket, name, data, content_type)
        self.objects[(bucket, name)] = obj
        return obj

    def get(self, bucket: str, name: str) -> BucketObject | None:
        return self.objects.get((bucket, name))

    @staticmethod
    def digest(obj: BucketObject) -> str:
        return hashlib.sha256(obj.data).hexdigest()
