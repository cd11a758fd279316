"""Atomic claims on specs, so concurrent sweeps never train the same spec twice.

A claim is an experiment tag `prove.claim.<spec hash>.<token>` = `<unix time>|<host>:<pid>`,
written through the tracking store that every worker shares (sqlite on one machine, the
tracking server across machines). Claiming is write-then-read: a worker writes its tag, then
reads the experiment's tags; if any *other* live claim on the spec is there, it withdraws
its own and leaves the spec for later. Two workers cannot both keep a claim: whichever
reads second sees the first one's tag (the store is linearizable: a write is visible to
every read that starts after it commits). Both may withdraw at once; the spec then waits
for a later pass, never runs twice.

A claim is live while its time is younger than PROVE_STALE_AFTER seconds; the holder
refreshes it on every heartbeat, so a claim left by a killed job expires by itself.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from prove.settings import stale_after_s
from prove.tracking import schema
from prove.tracking.client import mlflow_client

PREFIX = schema.CLAIM_PREFIX


@dataclass
class Claim:
    exp_id: str
    spec_hash: str
    token: str

    @property
    def key(self) -> str:
        return f"{PREFIX}{self.spec_hash}.{self.token}"


def _value() -> str:
    return f"{time.time():.3f}|{socket.gethostname()}:{os.getpid()}"


def _age(value: str) -> float:
    try:
        return time.time() - float(value.split("|", 1)[0])
    except ValueError:
        return float("inf")


def _claims(exp_id: str) -> dict[str, str]:
    return {k: v for k, v in mlflow_client().get_experiment(exp_id).tags.items() if k.startswith(PREFIX)}


def live_claims(exp_id: str) -> dict[str, list[str]]:
    """spec hash -> the keys of its live claims."""
    out: dict[str, list[str]] = {}
    for key, value in _claims(exp_id).items():
        if _age(value) <= stale_after_s():
            out.setdefault(key[len(PREFIX):].rsplit(".", 1)[0], []).append(key)
    return out


def try_claim(exp_id: str, spec_hash: str) -> Claim | None:
    """The claim, or None when another worker holds (or contends for) the spec."""
    claim = Claim(exp_id, spec_hash, uuid.uuid4().hex[:12])
    c = mlflow_client()
    c.set_experiment_tag(exp_id, claim.key, _value())
    others = [k for k in live_claims(exp_id).get(spec_hash, []) if k != claim.key]
    if others:
        c.delete_experiment_tag(exp_id, claim.key)
        return None
    return claim


def refresh(claim: Claim) -> None:
    mlflow_client().set_experiment_tag(claim.exp_id, claim.key, _value())


def release(claim: Claim) -> None:
    try:
        mlflow_client().delete_experiment_tag(claim.exp_id, claim.key)
    except Exception:  # already gone (expired and cleaned up): nothing to release
        pass


def expire_stale(exp_id: str) -> int:
    """Delete claims older than PROVE_STALE_AFTER (left by dead jobs); returns how many."""
    stale = [k for k, v in _claims(exp_id).items() if _age(v) > stale_after_s()]
    for key in stale:
        try:
            mlflow_client().delete_experiment_tag(exp_id, key)
        except Exception:
            pass
    return len(stale)


class Keepalive:
    """Refreshes a claim from a background thread while the work under it runs."""

    def __init__(self, claim: Claim, every_s: float | None = None):
        self.claim = claim
        self.every_s = every_s or max(1.0, stale_after_s() / 5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                refresh(self.claim)
            except Exception:  # a missed refresh is retried; the claim lives PROVE_STALE_AFTER
                pass

    def __enter__(self) -> "Keepalive":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        from prove.tracking import client

        self._stop.set()
        self._thread.join(timeout=5)
        client.retrying(lambda: release(self.claim), "releasing a claim")
