"""Alerts: Dagster events and warehouse counts become rows of the email outbox.

Sensors only *queue* (`EmailResource.enqueue`); `email_outbox_delivery_sensor`
sends, so a provider outage delays email but never fails a run or a sensor (A1).
Every alert has a dedupe key, the event (`run_failure:<run id>`,
`check:<run>:<asset>:<check>:<retailer>`): a re-evaluated tick or
a reset sensor cursor cannot alert twice. Every alert has an alert key too, the kind of
trouble (`run_failure:<job>:<retailer>:<error class>`, `check:<asset>:<check>:<retailer>`),
whose repeats the outbox groups on one email (`sync.alert_policy`). A failed blocking
check is critical: it goes at once, whatever the hour. Each email names the flow, the
retailer, the partition (for a range run, the retailers and hours it covers), the error
head and the run's page in the UI.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING

import dagster as dg

from assets.partitions import describe_keys, keys_by_retailer, retailer_of
from assets.run_history import ASSET_FLOWS, flow_of, run_partition_keys
from resources.email import (
    EmailResource,
    OutboxMessage,
    known_secret_values,
    recipients_for,
    redact,
    run_link,
)
from resources.email_templates import RenderedEmail, check_failure_email, run_failure_email
from resources.registry import Registry, RegistryResource

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

RETAILER_TAG = "dagster/partition/retailer"
PARTITION_TAG = "dagster/partition"
_RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def _queue(
    log,
    email: EmailResource,
    kind: str,
    key: str,
    recipients: list[str],
    body: RenderedEmail,
    *,
    alert_key: str | None = None,
    critical: bool = False,
) -> bool:
    if not recipients:
        log.warning("no recipients for %s alert %s: set notifications.recipients", kind, key)
        return False
    message = OutboxMessage.of(kind, key, recipients, body, alert_key=alert_key, critical=critical)
    return email.enqueue(message)


def partition_retailer(partition: str | None) -> str | None:
    """The retailer of an `hour|retailer` partition key or of a retailer key."""
    return retailer_of(partition) if partition else None


def run_partition(tags: Mapping[str, str]) -> str | None:
    """The run's partition, or its range for a backfill run over many partitions."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG]
    start, end = (tags.get(t) for t in _RANGE_TAGS)
    return f"{start} … {end}" if start and end else None


def describe_partitions(keys: list[str]) -> str | None:
    """What a run's partitions cover, for a reader: `8 partitions: retailers a, b, c, d,
    hours A … B` (None for no keys)."""
    if not keys:
        return None
    retailers = list(keys_by_retailer(keys))
    label = "retailer" if len(retailers) == 1 else "retailers"
    count = f"{len(keys)} partition{'s' if len(keys) != 1 else ''}"
    return f"{count}: {label} {', '.join(retailers)}{describe_keys(keys)}"


def _run_keys(instance, reg: Registry, flow: str | None, tags: Mapping[str, str]) -> list[str]:
    """The run's partition keys (its range expanded); a description never costs an alert."""
    if flow is None:
        single = tags.get(PARTITION_TAG)
        return [single] if single else []
    try:
        return run_partition_keys(instance, reg, flow, dict(tags))
    except Exception:  # noqa: BLE001 - fall back to the tags as they are
        return []


#: Failures whose emails are already queued elsewhere: failed blocking checks (by
#: `failed_blocking_check_sensor`), and retailers of a multi-retailer run (by the run
#: itself, one email per retailer naming it).
_ALERTED_ELSEWHERE = {
    "DagsterAssetCheckFailedError",
    "BlockingChecksFailedError",
    "RetailersFailedError",
}


def _step_errors(context: dg.RunFailureSensorContext) -> list[tuple[str, "SerializableErrorInfo"]]:
    """Each failed step's own exception (Dagster's wrapper error unwrapped)."""
    errors = []
    for event in context.get_step_failure_events():
        error = event.step_failure_data.error
        while (
            error is not None and error.cause is not None and error.message.startswith("dagster.")
        ):
            error = error.cause
        if error is not None:
            errors.append((event.step_key or "?", error))
    return errors


@dg.run_failure_sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Emails the head of a failed run's error to the operators (and the run's "
    "retailer), naming flow, retailer, partitions and the run's link; repeats of the same "
    "failure group on one email.",
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, email: EmailResource, registry: RegistryResource
) -> None:
    """Emails the operators (and the run's retailer) the head of a failed run's error.

    A run failed only by blocking checks is left to `failed_blocking_check_sensor`,
    whose email says which check and why: one event, one email. The same failure of the
    same job and retailer (say a revoked token, FAULTS P5) on the next ticks is a repeat,
    counted on the first email by the outbox's grouping. Retailers that failed inside a
    multi-retailer run were each alerted by that run, naming them; this sensor covers
    everything else (a run that could not start, a killed worker, bad config).
    """
    errors = _step_errors(context)
    if errors and all(e.cls_name in _ALERTED_ELSEWHERE for _, e in errors):
        return
    run = context.dagster_run
    reg = registry.get()
    text = "\n".join(f"step {step}: {e.message.strip()}" for step, e in errors)
    text = text or context.failure_event.message or "no error message"
    error = redact(text, known_secret_values(reg, [email.sendgrid_api_key_env]))
    flow = flow_of(run.job_name, run.tags, run.asset_selection)
    keys = _run_keys(context.instance, reg, flow, run.tags)
    retailers = list(keys_by_retailer(keys))
    retailer = run.tags.get(RETAILER_TAG) or (retailers[0] if len(retailers) == 1 else None)
    body = run_failure_email(
        run.job_name, run.run_id, run_partition(run.tags), error,
        flow=flow, retailer=retailer or ", ".join(retailers) or None,
        covers=describe_partitions(keys), run_url=run_link(reg, run.run_id),
    )  # fmt: skip
    cause = errors[0][1].cls_name if errors else "unknown"
    alert_key = f"run_failure:{run.job_name}:{retailer or '-'}:{cause}"
    recipients = recipients_for(reg, retailer)
    _queue(context.log, email, "run_failure", f"run_failure:{run.run_id}", recipients, body,
           alert_key=alert_key)  # fmt: skip


def _metadata_text(value: object, secrets: list[str]) -> str:
    return redact(str(getattr(value, "value", value)), secrets)


def _failed_blocking_verdicts(instance, run) -> dict[tuple[str, str, str | None], list]:
    """The run's failed blocking evaluations per (asset, check, retailer): a verdict judged
    over a retailer's span is recorded on each of its hours, but it is one finding."""
    found: dict[tuple[str, str, str | None], list] = {}
    entries = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    for entry in entries:
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed or not evaluation.blocking:
            continue
        asset = evaluation.asset_key.to_user_string()
        retailer = partition_retailer(evaluation.partition) or run.tags.get(RETAILER_TAG)
        found.setdefault((asset, evaluation.check_name, retailer), []).append(evaluation)
    return found


@dg.run_failure_sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Emails each failed blocking check of a failed run at once (critical, "
    "whatever the hour): check, asset, flow, retailer, partitions, the failing rows and "
    "the run's link.",
)
def failed_blocking_check_sensor(
    context: dg.RunFailureSensorContext, email: EmailResource, registry: RegistryResource
) -> None:
    """Emails each failed blocking check of a failed run: check, asset, partition, metadata.

    A blocking check guards exactly-once (duplicate hub orders, a double fulfillment,
    inventory oversold): its email is critical, so quiet hours never hold it. A blocking
    check that fails with ERROR severity always fails its run, so the run failure is the
    trigger; the run's own `ASSET_CHECK_EVALUATION` events give the details. (A cursor
    over the global event log would not work on run-sharded SQLite.)
    """
    run = context.dagster_run
    reg = registry.get()
    secrets = known_secret_values(reg, [email.sendgrid_api_key_env])
    run_flow = flow_of(run.job_name, run.tags, run.asset_selection)
    url = run_link(reg, run.run_id)
    for (asset, check, retailer), evaluations in _failed_blocking_verdicts(
        context.instance, run
    ).items():
        first = evaluations[0]
        keys = list(dict.fromkeys(str(e.partition) for e in evaluations if e.partition))
        if len(keys) == 1:
            partition = keys[0]
        elif keys:
            partition = f"retailer '{retailer}'{describe_keys(keys)}"
        else:
            partition = run_partition(run.tags)
        metadata = {k: _metadata_text(v, secrets) for k, v in first.metadata.items()}
        description = redact(first.description, secrets) if first.description else None
        body = check_failure_email(
            check, asset, partition, metadata, run.run_id, description,
            flow=run_flow or ASSET_FLOWS.get(asset), retailer=retailer,
            covers=describe_partitions(keys), job=run.job_name, run_url=url, critical=True,
        )  # fmt: skip
        key = f"check:{run.run_id}:{asset}:{check}:{retailer or partition or '-'}"
        _queue(context.log, email, "check_failure", key, recipients_for(reg, retailer), body,
               alert_key=f"check:{asset}:{check}:{retailer or '-'}", critical=True)  # fmt: skip


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: send due outbox emails through SendGrid (a no-op in "
    "outbox-only mode); a provider outage delays mail, never fails a run.",
)
def email_outbox_delivery_sensor(
    context: dg.SensorEvaluationContext, email: EmailResource
) -> dg.SkipReason:
    """Every minute: send due outbox rows (a no-op in outbox-only mode)."""
    return dg.SkipReason(email.deliver_pending().describe())
