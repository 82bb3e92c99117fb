"""The one claim → mutate → reconcile loop: never a blind resend after an ambiguous write."""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.exactly_once import Outcome, WriteOnce
from resources.shopify import MutationResult, ShopifyAmbiguousWriteError, UserError


def _lost() -> ShopifyAmbiguousWriteError:
    return ShopifyAmbiguousWriteError("response lost", store="hub", operation="orders_create_hub")


@dataclass
class Scripted:
    """A write whose store answers as scripted: `answers` per write, `in_store` after N."""

    answers: list[object]
    appears_after_writes: int | None = None  # the store shows it once this many were sent
    log: list[str] = field(default_factory=list)
    writes: int = 0

    def reconcile(self, attempt: int) -> Outcome | None:
        self.log.append(f"reconcile {attempt}")
        seen = self.appears_after_writes is not None and self.writes >= self.appears_after_writes
        return Outcome.FOUND if seen else None

    def write(self) -> MutationResult:
        self.writes += 1
        self.log.append("write")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def created(self, result):
        self.log.append("created")

    def refused(self, result):
        self.log.append("refused")

    def ambiguous(self, error):
        self.log.append("ambiguous")


LOOP = WriteOnce(attempts=3, reconcile_delay=0.0)
OK = MutationResult(operation="orders_create_hub", data={"orderCreate": {"order": {"id": "g"}}})


def test_o1_lost_response_after_commit_is_found_not_written_again():
    write = Scripted([_lost()], appears_after_writes=1)  # FAULTS O1: committed, response lost
    assert LOOP(write) is Outcome.FOUND
    assert write.writes == 1
    assert write.log == ["reconcile 0", "write", "ambiguous", "reconcile 1"]


def test_o2_timeout_before_commit_is_written_again_after_looking():
    write = Scripted([_lost(), OK])  # FAULTS O2: timed out, never committed
    assert LOOP(write) is Outcome.CREATED
    assert write.log == ["reconcile 0", "write", "ambiguous", "reconcile 1", "write", "created"]


def test_every_attempt_ambiguous_is_left_unconfirmed_for_the_next_run():
    write = Scripted([_lost(), _lost(), _lost()])
    assert LOOP(write) is Outcome.UNCONFIRMED
    assert write.writes == 3 and write.log[-1] == "reconcile 3"


def test_user_errors_are_final():
    refused = MutationResult(operation="x", user_errors=[UserError(message="no", field=None)])
    write = Scripted([refused])
    assert LOOP(write) is Outcome.REFUSED
    assert write.log == ["reconcile 0", "write", "refused"]
