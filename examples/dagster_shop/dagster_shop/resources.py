"""The resource types the profiles of this project may name, and two IO managers.

The warehouse, the notifier and the report folder are the shop's own (see
``examples/shop``). The IO managers are what Dagster stores each asset's return
value with: a folder of pickles on your laptop, an S3 bucket (or any S3-compatible
store: MinIO, Ceph, R2) in production. They are envres resources too, so a
profile picks one, validates its config and masks its keys like any other.
"""

from __future__ import annotations

import os
import pickle
import threading
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr, SecretStr

import envres
from shop.resources import (
    ConsoleNotifier,
    DuckDBWarehouse,
    PostgresWarehouse,
    WebhookNotifier,
    report_dir,
)

__all__ = ["LocalPickleIOManager", "PickleIOManager", "S3PickleIOManager", "types"]


class PickleIOManager(envres.Resource, dg.IOManager):
    """Stores each asset's value as one pickled object, named after the asset key."""

    @abstractmethod
    def put(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``, replacing what was there."""

    @abstractmethod
    def get(self, name: str) -> bytes:
        """The bytes stored under ``name``."""

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        self.put("/".join(context.asset_key.path), pickle.dumps(obj))

    def load_input(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        assert upstream is not None
        return pickle.loads(self.get("/".join(upstream.asset_key.path)))


class LocalPickleIOManager(PickleIOManager):
    """A folder of pickle files (the profiles place it under the project folder)."""

    base_dir: str = "out/dagster-storage"

    _root: Path | None = PrivateAttr(default=None)

    def lifespan(self) -> Iterator[None]:
        self._root = Path(self.base_dir)
        self._root.mkdir(parents=True, exist_ok=True)
        yield

    def _path(self, name: str) -> Path:
        if self._root is None:
            raise RuntimeError("the IO manager is not set up (use it inside a run)")
        return self._root / f"{name}.pickle"

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()


class S3PickleIOManager(PickleIOManager):
    """Objects in an S3 bucket: ``s3://BUCKET/PREFIX/<asset key>.pickle``.

    ``endpoint_url`` points at any S3-compatible store; without keys, boto3 finds
    credentials its usual way (environment, profile, instance role).
    """

    bucket: str
    prefix: str = "dagster-shop"
    endpoint_url: str | None = None
    region_name: str = "us-east-1"
    aws_access_key_id: str | None = None  # masked by its name, like any "access_key"
    aws_secret_access_key: SecretStr | None = None

    _client: Any = PrivateAttr(default=None)  # a boto3 S3 client

    def lifespan(self) -> Iterator[None]:
        import boto3

        secret = self.aws_secret_access_key
        self._client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        )
        try:
            yield
        finally:
            client, self._client = self._client, None
            client.close()

    def _s3(self) -> Any:
        if self._client is None:
            raise RuntimeError("the IO manager is not set up (use it inside a run)")
        return self._client

    def put(self, name: str, data: bytes) -> None:
        self._s3().put_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}.pickle", Body=data)

    def get(self, name: str) -> bytes:
        obj = self._s3().get_object(Bucket=self.bucket, Key=f"{self.prefix}/{name}.pickle")
        data: bytes = obj["Body"].read()
        return data


#: What the profiles' ``type:`` may name. No assets here: Dagster runs them.
types = envres.Definitions(
    resource_types={
        "duckdb": DuckDBWarehouse,
        "postgres": PostgresWarehouse,
        "console": ConsoleNotifier,
        "webhook": WebhookNotifier,
        "folder": report_dir,
        "local_pickle": LocalPickleIOManager,
        "s3_pickle": S3PickleIOManager,
    }
)
