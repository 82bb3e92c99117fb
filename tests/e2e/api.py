"""Dagster's GraphQL API, for what a browser test must not guess: when a run launched
from the UI has finished, which run or backfill a click created, and the figures the UI
should show. The checks themselves are made in the browser (`test_ui.py`); this only
waits and cross-checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.e2e.stack import Stack

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}

_RUNS = """
query($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) { ... on Runs { results {
    runId status jobName tags { key value } } } }
}
"""
_RUN_ERRORS = """
query($runId: ID!) {
  logsForRun(runId: $runId) { ... on EventConnection { events {
    __typename ... on MessageEvent { message stepKey }
    ... on ExecutionStepFailureEvent { error { message } }
    ... on EngineEvent { error { message } }
    ... on RunFailureEvent { pipelineFailureError: error { message } } } } }
}
"""
_BACKFILLS = """
{ partitionBackfillsOrError(limit: 5) { ... on PartitionBackfills { results {
    id status partitionNames } } } }
"""
_SCHEDULES = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name scheduleState { id status } } } } } }
"""
_STOP_SCHEDULE = """
mutation($id: String!) { stopRunningSchedule(id: $id) { __typename
  ... on PythonError { message } } }
"""
_LATEST_METADATA = """
query($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    assetMaterializations(limit: 1) { runId partition metadataEntries {
      label __typename
      ... on IntMetadataEntry { intValue }
      ... on FloatMetadataEntry { floatValue }
      ... on MarkdownMetadataEntry { mdStr } } } } }
}
"""


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    job: str
    tags: dict[str, str]


def _run(raw: dict) -> Run:
    tags = {t["key"]: t["value"] for t in raw["tags"]}
    return Run(raw["runId"], raw["status"], raw["jobName"], tags)


def runs(stack: Stack, tags: dict[str, str] | None = None, limit: int = 50) -> list[Run]:
    """Runs, newest first, optionally those carrying all of `tags`."""
    filter_ = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
    data = stack.graphql(_RUNS, {"filter": filter_, "limit": limit})
    return [_run(r) for r in data["runsOrError"]["results"]]


def run_by_prefix(stack: Stack, prefix: str) -> Run:
    """The run whose id starts with `prefix` (the 8 characters the UI shows)."""
    found = [r for r in runs(stack) if r.run_id.startswith(prefix)]
    assert len(found) == 1, f"no single run with id {prefix}…: {[r.run_id for r in found]}"
    return found[0]


def run_errors(stack: Stack, run_id: str) -> str:
    """What went wrong in a run (failed steps, engine errors), for an assertion message."""
    events = stack.graphql(_RUN_ERRORS, {"runId": run_id})["logsForRun"]["events"]
    lines = []
    for event in events:
        error = event.get("error") or event.get("pipelineFailureError")
        if error or event["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent"):
            detail = f": {error['message'].strip()}" if error else ""
            lines.append(f"{event.get('stepKey') or 'run'}: {event.get('message')}{detail}")
    return "\n".join(lines)[-4000:] or "(no error events)"


def wait_for_runs(stack: Stack, find, what: str, timeout: float = 150.0) -> list[Run]:
    """Poll until `find()` returns a non-empty list of runs, all finished."""
    deadline = time.monotonic() + timeout
    found: list[Run] = []
    while time.monotonic() < deadline:
        found = find()
        if found and all(r.status in FINISHED for r in found):
            return found
        time.sleep(1.0)
    raise AssertionError(
        f"{what}: not finished after {timeout:.0f}s: {[(r.run_id[:8], r.status) for r in found]}"
    )


def wait_for_run(stack: Stack, run_id: str, timeout: float = 150.0) -> Run:
    (run,) = wait_for_runs(
        stack, lambda: [r for r in runs(stack) if r.run_id == run_id], f"run {run_id}", timeout
    )
    return run


def latest_backfill(stack: Stack) -> dict:
    results = stack.graphql(_BACKFILLS)["partitionBackfillsOrError"]["results"]
    assert results, "no backfill was created"
    return results[0]


def stop_running_schedules(stack: Stack) -> list[str]:
    """Stop the schedules that run by default (exception queue, health, reports): a tick
    landing during the test would add runs and materializations the UI checks must not
    mistake for the ones the test launched."""
    stopped = []
    for repo in stack.graphql(_SCHEDULES)["repositoriesOrError"]["nodes"]:
        for schedule in repo["schedules"]:
            state = schedule["scheduleState"]
            if state["status"] == "RUNNING":
                result = stack.graphql(_STOP_SCHEDULE, {"id": state["id"]})
                assert result["stopRunningSchedule"]["__typename"] == "ScheduleStateResult", result
                stopped.append(schedule["name"])
    return stopped


def latest_materialization(stack: Stack, asset: str) -> dict:
    """The newest materialization of `asset`: run id, partition, metadata by label."""
    node = stack.graphql(_LATEST_METADATA, {"path": [asset]})["assetNodeOrError"]
    (event,) = node["assetMaterializations"]
    values = {}
    for entry in event["metadataEntries"]:
        values[entry["label"]] = next(
            (entry[k] for k in ("intValue", "floatValue", "mdStr") if k in entry), None
        )
    return {"run_id": event["runId"], "partition": event["partition"], "metadata": values}


_DIMENSIONS = """
query($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    partitionKeysByDimension { name partitionKeys } } }
}
"""


def partition_keys(stack: Stack, asset: str) -> dict[str, list[str]]:
    """An asset's partition keys per dimension, as the webserver knows them."""
    node = stack.graphql(_DIMENSIONS, {"path": [asset]})["assetNodeOrError"]
    return {d["name"]: d["partitionKeys"] for d in node["partitionKeysByDimension"]}
