"""The same three environments written the plain-Dagster way, as project_fully_featured does.

Not used by the code location: it is here to compare (README) with the profiles,
and a test checks that both configure the same keys with the same classes.
"""

from __future__ import annotations

import os

import dagster as dg

from dagster_hn.resources import (
    DuckDBWarehouseIOManager,
    HNAPISubsampleClient,
    HNSnapshotClient,
    LocalPickleIOManager,
    S3PickleIOManager,
    S3Resource,
)

HN_DATA = os.getenv("HN_DATA", "data")
RESOURCES_LOCAL = {
    "hn_client": HNSnapshotClient(
        snapshot_path=os.getenv("HN_SNAPSHOT", "dagster_hn/snapshot.json")
    ),
    "raw_io_manager": LocalPickleIOManager(base_dir=f"{HN_DATA}/raw"),
    "warehouse_io_manager": DuckDBWarehouseIOManager(duckdb_path=f"{HN_DATA}/hackernews.duckdb"),
}


def _cloud(deployment: str, db_schema: str) -> dict[str, object]:
    s3 = S3Resource(
        bucket=f"hackernews-{deployment}",
        endpoint_url=os.getenv("S3_ENDPOINT_URL", "https://s3.amazonaws.com"),
        aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
    )
    return {
        "hn_client": HNAPISubsampleClient(
            base_url=os.getenv("HN_API_URL", "https://hacker-news.firebaseio.com/v0"),
            subsample_rate=10,
            api_token=dg.EnvVar("HN_API_TOKEN"),
        ),
        "s3": s3,
        "io_manager": S3PickleIOManager(s3=s3),
        "raw_io_manager": S3PickleIOManager(s3=s3, prefix="raw"),
        "warehouse_io_manager": DuckDBWarehouseIOManager(
            duckdb_path=dg.EnvVar("WAREHOUSE_PATH"), db_schema=db_schema
        ),
    }


RESOURCES_STAGING = _cloud("staging", "hn_staging")
RESOURCES_PROD = _cloud("prod", "hn")
RESOURCES = {"local": RESOURCES_LOCAL, "staging": RESOURCES_STAGING, "prod": RESOURCES_PROD}[
    os.getenv("DAGSTER_DEPLOYMENT", "local")
]
