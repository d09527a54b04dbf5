"""The assets, and the one line that takes their resources from the selected profile."""

from __future__ import annotations

from typing import Any

import dagster as dg

import envres
import envres.dagster
from dagster_hn.resources import (
    DuckDBWarehouseIOManager,
    HNAPISubsampleClient,
    HNClient,
    HNSnapshotClient,
    LocalPickleIOManager,
    S3PickleIOManager,
    S3Resource,
)

types = envres.Definitions(
    resource_types={
        "hn_snapshot": HNSnapshotClient,
        "hn_api": HNAPISubsampleClient,
        "s3": S3Resource,
        "s3_pickle": S3PickleIOManager,
        "local_pickle": LocalPickleIOManager,
        "duckdb_warehouse": DuckDBWarehouseIOManager,
    }
)


@dg.asset(io_manager_key="raw_io_manager")
def items(hn_client: HNClient) -> list[dict[str, Any]]:
    """Every item between the client's first and last id."""
    fetched = (
        hn_client.fetch_item_by_id(i)
        for i in range(hn_client.min_item_id(), hn_client.fetch_max_item_id() + 1)
    )
    return [
        {"id": it["id"], "type": it["type"], "by": it.get("by", ""), "parent": it.get("parent", 0)}
        for it in fetched
        if it is not None
    ]


@dg.asset(io_manager_key="warehouse_io_manager")
def stories(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": it["id"], "author": it["by"]} for it in items if it["type"] == "story"]


@dg.asset(io_manager_key="warehouse_io_manager")
def comments(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": it["id"], "author": it["by"], "parent": it["parent"]}
        for it in items
        if it["type"] == "comment"
    ]


@dg.asset
def comments_per_story(
    stories: list[dict[str, Any]], comments: list[dict[str, Any]]
) -> dict[int, int]:
    counts = {s["id"]: 0 for s in stories}
    for c in comments:
        if c["parent"] in counts:
            counts[c["parent"]] += 1
    return counts


defs = dg.Definitions(
    assets=[items, stories, comments, comments_per_story],
    resources=envres.dagster.resources(types),
)
