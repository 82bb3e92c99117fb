"""Redaction, dedupe keys, recipients, backoff, the summary schedule, the registry's alert
policy and what alerts say about runs: no DB, no network."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from flows.alerts import flow_failed_everywhere, retailer_failure_alert_key
from pipelines.alerts import (
    describe_partitions,
    partition_retailer,
    run_partition,
)
from resources.email import (
    EmailResource,
    OutboxMessage,
    known_secret_values,
    load_policy,
    policy_from_registry,
    rate_limited_key,
    recipients_for,
    redact,
    run_link,
)
from resources.email_templates import RenderedEmail
from resources.postgres import PostgresResource
from resources.registry import load_registry
from sync.alert_policy import AlertPolicy


def test_redact_replaces_known_values_and_token_shapes():
    text = (
        "token canary-abc-123 failed; header {'Authorization': 'Bearer zzz-secret'} "
        "X-Shopify-Access-Token: shpat_0123456789abcdef0123456789abcdef "
        "key SG.aaaaaaaaaa.bbbbbbbbbb"
    )
    out = redact(text, ["canary-abc-123", "", "ab"])
    for leaked in ("canary-abc-123", "zzz-secret", "shpat_", "SG.aaaa"):
        assert leaked not in out
    assert out.startswith("token [redacted] failed")
    assert "ab" in redact("ab cab", ["ab"])  # too short to be a secret: left alone


def test_redact_prefers_the_longest_secret():
    assert redact("secret-long", ["secret", "secret-long"]) == "[redacted]"


def test_known_secret_values_reads_the_registry_token_envs(monkeypatch):
    registry = load_registry()
    for store in registry.stores():
        monkeypatch.delenv(store.token_env, raising=False)
    monkeypatch.setenv("SHOPSYNC_TOKEN_EPIC_GARDENING", "tok-epic")
    monkeypatch.setenv("SENDGRID_API_KEY", "sg-key")
    monkeypatch.setenv("OTHER_KEY", "other")
    monkeypatch.delenv("SHOPSYNC_SECRET_KEY", raising=False)
    monkeypatch.setattr("resources.shopify.auth._LIVE", set())  # no OAuth token held yet
    assert sorted(known_secret_values(registry)) == ["sg-key", "tok-epic"]
    assert sorted(known_secret_values(registry, ["OTHER_KEY"])) == ["other", "tok-epic"]


def test_known_secret_values_include_oauth_secrets_held_by_this_process(monkeypatch):
    """OAuth tokens never were in an environment variable: the process's held ones count."""
    monkeypatch.setattr("resources.shopify.auth._LIVE", {"shpat_held_oauth_token"})
    monkeypatch.setenv("SHOPSYNC_SECRET_KEY", "the-fernet-key")
    found = known_secret_values(load_registry(), [])
    assert "shpat_held_oauth_token" in found and "the-fernet-key" in found


def test_python_http_client_debug_logs_are_redacted(caplog, monkeypatch):
    import resources.email as email_module

    monkeypatch.setattr(email_module._HTTP_LOG_FILTER, "secrets", ("canary-value-1",))
    caplog.set_level(logging.DEBUG, logger="python_http_client.client")
    logging.getLogger("python_http_client.client").debug(
        "HEADERS: %s", {"Authorization": "Bearer whatever-key", "X": "canary-value-1"}
    )
    assert "whatever-key" not in caplog.text and "canary-value-1" not in caplog.text
    assert "Bearer [redacted]" in caplog.text


def test_rate_limited_key_is_one_per_bucket():
    t = datetime(2026, 10, 1, 13, 5, tzinfo=UTC)
    hour = timedelta(hours=1)
    key = rate_limited_key("auth_failure", "epic-gardening", hour, t)
    assert key == "auth_failure:epic-gardening:20261001T1300"
    assert (
        rate_limited_key("auth_failure", "epic-gardening", hour, t + timedelta(minutes=54)) == key
    )
    assert rate_limited_key("auth_failure", "epic-gardening", hour, t + hour) != key
    with pytest.raises(ValueError):
        rate_limited_key("x", "y", timedelta(0), t)


def test_outbox_message_dedupes_recipients_and_needs_one():
    body = RenderedEmail("s", "<p>h</p>", "t")
    msg = OutboxMessage.of("k", "key", ["a@x.io", "b@x.io", "a@x.io"], body)
    assert msg.recipients == ["a@x.io", "b@x.io"]
    with pytest.raises(ValidationError):
        OutboxMessage.of("k", "key", [], body)


def test_recipients_are_ops_plus_the_retailers_notify_list():
    registry = load_registry()
    assert recipients_for(registry) == ["ops@greenhouse-hub.example"]
    assert recipients_for(registry, "epic-gardening") == [
        "ops@greenhouse-hub.example",
        "wholesale@epic-gardening.example",
    ]
    assert recipients_for(registry, "no-such-retailer") == ["ops@greenhouse-hub.example"]


def test_delivery_mode_follows_the_key_variable_unless_forced(monkeypatch):
    pg = PostgresResource(url="postgresql://unused")
    monkeypatch.delenv("SHOPSYNC_TEST_SG", raising=False)
    auto = EmailResource(postgres=pg, sendgrid_api_key_env="SHOPSYNC_TEST_SG")
    assert not auto.delivers()
    monkeypatch.setenv("SHOPSYNC_TEST_SG", "k")
    assert auto.delivers()
    forced = EmailResource(postgres=pg, sendgrid_api_key_env="SHOPSYNC_TEST_SG", outbox_only=True)
    assert not forced.delivers()


def test_backoff_doubles_and_is_capped():
    email = EmailResource(
        postgres=PostgresResource(url="postgresql://unused"),
        backoff_seconds=60,
        max_backoff_seconds=300,
    )
    assert [email.backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [60, 120, 240, 300, 300]


def test_run_partition_reads_single_keys_and_backfill_ranges():
    assert run_partition({"dagster/partition": "a|b"}) == "a|b"
    ranged = {
        "dagster/asset_partition_range_start": "s",
        "dagster/asset_partition_range_end": "e",
    }
    assert run_partition(ranged) == "s … e"
    assert run_partition({}) is None


def test_the_policy_is_the_registrys_quiet_hours_zone_and_window():
    base = load_registry()
    registry = base.model_copy(
        update={"operations": base.operations.model_copy(update={"alert_group_minutes": 45})}
    )
    policy = policy_from_registry(registry)
    assert (policy.time_zone, policy.quiet.start, policy.quiet.end) == (
        "America/Denver",
        "22:00",
        "07:00",
    )
    assert policy.group_window == timedelta(minutes=45)
    assert load_policy("/nonexistent/registry.yaml") == AlertPolicy()  # never blocks an alert


def test_run_link_points_at_the_run_in_the_ui():
    registry = load_registry()
    assert run_link(registry, "abc-123") == "http://localhost:3000/runs/abc-123"
    notifications = registry.notifications.model_copy(update={"ui_url": "https://dagster.example/"})
    registry = registry.model_copy(update={"notifications": notifications})
    assert run_link(registry, "abc-123") == "https://dagster.example/runs/abc-123"


def test_describe_partitions_names_retailers_and_hours():
    keys = [
        "2026-11-25-04:00|epic-gardening",
        "2026-11-25-05:00|epic-gardening",
        "2026-11-25-04:00|nationwide-plants",
        "2026-11-25-05:00|nationwide-plants",
    ]
    assert describe_partitions(keys) == (
        "4 partitions: retailers epic-gardening, nationwide-plants,"
        " hours 2026-11-25-04:00 … 2026-11-25-05:00"
    )
    assert describe_partitions(["epic-gardening"]) == "1 partition: retailer epic-gardening"
    assert describe_partitions([]) is None
    assert partition_retailer("2026-11-25-04:00|epic-gardening") == "epic-gardening"
    assert partition_retailer("epic-gardening") == "epic-gardening"  # inventory partitions
    assert partition_retailer(None) is None


def test_a_flow_is_down_when_every_retailer_it_has_failed():
    registry = load_registry()
    every = [r.key for r in registry.enabled_retailers("orders")]
    assert flow_failed_everywhere(registry, "orders", every, every)
    assert not flow_failed_everywhere(registry, "orders", every[:1], every)  # others went on
    # A run of one retailer alone failing says nothing about the others.
    assert not flow_failed_everywhere(registry, "orders", every[:1], every[:1])
    assert not flow_failed_everywhere(registry, "orders", [], [])
    assert retailer_failure_alert_key("orders", None, "ShopifyAuthError") == (
        "retailer_failure:orders:hub:ShopifyAuthError"
    )
