"""The resources, written as Dagster's own classes: nothing here knows envres.

The shape of Dagster's ``project_fully_featured`` resource layer: a Hacker News
client (an interface, a snapshot for local work, the API for staging and prod),
an S3 resource nested in the S3 IO manager, a local IO manager, and a warehouse
IO manager (DuckDB standing in for Snowflake, so everything runs on one machine).
"""

from __future__ import annotations

import json
import pickle
import time
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import boto3
import dagster as dg
import duckdb

Item = dict[str, Any]


class HNClient(dg.ConfigurableResource, ABC):
    """Where Hacker News items come from."""

    @abstractmethod
    def fetch_item_by_id(self, item_id: int) -> Item | None: ...

    @abstractmethod
    def fetch_max_item_id(self) -> int: ...

    @abstractmethod
    def min_item_id(self) -> int: ...


class HNSnapshotClient(HNClient):
    """Items from a JSON snapshot on disk: local work, no network."""

    snapshot_path: str

    def _items(self) -> dict[str, Item]:
        items: dict[str, Item] = json.loads(Path(self.snapshot_path).read_text())
        return items

    def fetch_item_by_id(self, item_id: int) -> Item | None:
        return self._items().get(str(item_id))

    def fetch_max_item_id(self) -> int:
        return max(int(k) for k in self._items())

    def min_item_id(self) -> int:
        return min(int(k) for k in self._items())


class HNAPISubsampleClient(HNClient):
    """The Hacker News API, one item in ``subsample_rate`` fetched (the demo's speed-up)."""

    base_url: str
    subsample_rate: int = 1
    api_token: str = ""

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.base_url}/{path}")
        if self.api_token:
            request.add_header("Authorization", f"Bearer {self.api_token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def fetch_item_by_id(self, item_id: int) -> Item | None:
        if item_id % self.subsample_rate:
            return None
        item: Item | None = self._get(f"item/{item_id}.json")
        return item

    def fetch_max_item_id(self) -> int:
        return int(self._get("maxitem.json"))

    def min_item_id(self) -> int:
        return 1


class S3Resource(dg.ConfigurableResource):
    """An S3 bucket (or any S3-compatible store)."""

    bucket: str
    endpoint_url: str | None = None
    region_name: str = "us-east-1"
    aws_access_key_id: str
    aws_secret_access_key: str

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.client().head_bucket(Bucket=self.bucket)  # fail at setup, not in the first asset


class S3PickleIOManager(dg.ConfigurableIOManager):
    """Each output pickled to ``s3://<bucket>/<prefix>/<asset>``; the bucket is a resource."""

    s3: S3Resource
    prefix: str = "dagster"

    def _key(self, context: dg.InputContext | dg.OutputContext) -> str:
        return "/".join([self.prefix, *context.asset_key.path])

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        self.s3.client().put_object(
            Bucket=self.s3.bucket, Key=self._key(context), Body=pickle.dumps(obj)
        )

    def load_input(self, context: dg.InputContext) -> Any:
        body = self.s3.client().get_object(Bucket=self.s3.bucket, Key=self._key(context))["Body"]
        return pickle.loads(body.read())


class LocalPickleIOManager(dg.ConfigurableIOManager):
    """Each output pickled to a file under ``base_dir``."""

    base_dir: str

    def _path(self, context: dg.InputContext | dg.OutputContext) -> Path:
        return Path(self.base_dir, *context.asset_key.path)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(obj))

    def load_input(self, context: dg.InputContext) -> Any:
        return pickle.loads(self._path(context).read_bytes())


def _connect(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting while another process holds its lock.

    Dagster's multiprocess executor runs independent steps in separate processes, and
    a DuckDB file admits one writing process at a time: a second ``connect`` fails at
    once with "Could not set lock". Retry with backoff, as dagster-duckdb's own
    ``DuckDBResource`` does (about 25 s in all before giving up).
    """
    delay = 0.05
    for _ in range(12):
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc):
                raise
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
    return duckdb.connect(path, read_only=read_only)


class DuckDBWarehouseIOManager(dg.ConfigurableIOManager):
    """Lists of rows as tables of a DuckDB database, in schema ``db_schema``."""

    duckdb_path: str
    db_schema: str = "hn"

    def handle_output(self, context: dg.OutputContext, obj: list[Item]) -> None:
        table = f"{self.db_schema}.{context.asset_key.path[-1]}"
        columns = list(obj[0]) if obj else ["id"]
        kinds = {c: "BIGINT" if obj and isinstance(obj[0][c], int) else "VARCHAR" for c in columns}
        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        with _connect(self.duckdb_path) as db:
            db.execute(f"create schema if not exists {self.db_schema}")
            db.execute(
                f"create or replace table {table} ({', '.join(f'{c} {kinds[c]}' for c in columns)})"
            )
            if obj:
                marks = ", ".join("?" for _ in columns)
                db.executemany(
                    f"insert into {table} values ({marks})",
                    [[r.get(c) for c in columns] for r in obj],
                )
        context.add_output_metadata({"rows": len(obj), "table": table})

    def load_input(self, context: dg.InputContext) -> list[Item]:
        table = f"{self.db_schema}.{context.asset_key.path[-1]}"
        with _connect(self.duckdb_path, read_only=True) as db:
            cursor = db.execute(f"select * from {table}")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
