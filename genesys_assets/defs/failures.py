"""Which failed runs the deployment retries: only those a second attempt can cure.

`deploy/dagster.yaml` retries failed runs (`run_retries`). Dagster decides per run when it fails: a run that
failed because a step failed is retried unless the run's tag `dagster/retry_on_asset_or_op_failure` is
"false" (`dagster._core.execution.retries.auto_reexecution_should_retry_run`, read from the stored run when
its failure event is written); a run whose worker died (a lost pod, a killed process) has no step failure
and is retried regardless. `dg.Failure(allow_retries=False)` only bypasses op `RetryPolicy`, not run retries.

So the step that meets a failure no retry can cure puts that tag on its own run before it fails:

* the login host rejected the credentials, the OAuth client or S3 lacks a permission, Genesys refused the
  request itself (`CredentialsRejected`, `MissingPermission`, `BadRequest`, S3 `AccessDeniedError`,
  `BucketNotFoundError`, `EncryptionError`, `CredentialsError`);
* a setting the run reads is wrong (`ValueError` from the client's settings, `SettingsError`);
* a blocking asset check failed (the data would fail it again).

Everything else stays retried: 5xx storms and timeouts that outlast the client's own retries
(`ServerUnavailable`), 429s beyond the retry budget, a rate-limit database that was briefly unreachable,
lost workers. Transient HTTP faults are first retried inside the step (tenacity, `genesys/http.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.storage.tags import (  # not public; guarded by defs/test_dagster_internals.py
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
)

from genesys_assets.genesys.errors import BadRequest, CredentialsRejected, MissingPermission
from genesys_assets.lake.s3 import (
    AccessDeniedError,
    BucketNotFoundError,
    CredentialsError,
    EncryptionError,
)

NOT_RETRIED_TAG = RETRY_ON_ASSET_OR_OP_FAILURE_TAG  # "dagster/retry_on_asset_or_op_failure"

# Failures a retry meets again: rejected credentials, missing permissions, refused requests, wrong settings.
PERMANENT: tuple[type[BaseException], ...] = (
    CredentialsRejected,
    MissingPermission,
    BadRequest,
    AccessDeniedError,
    BucketNotFoundError,
    EncryptionError,
    CredentialsError,
    ValueError,  # a setting's own check (GenesysSettings, SettingsError) and malformed data rules
)


def is_permanent(exc: BaseException) -> bool:
    """Whether a retry of the run would meet `exc` again."""
    return isinstance(exc, PERMANENT)


def do_not_retry(context: dg.AssetExecutionContext, reason: str) -> None:
    """Tag the current run so the deployment's run retries leave it failed, and say why in its log."""
    context.instance.add_run_tags(context.run.run_id, {NOT_RETRIED_TAG: "false"})
    context.log.error(f"This run will not be retried: {reason} Fix the cause, then re-run its partitions.")


@contextmanager
def permanent_failures_not_retried(context: dg.AssetExecutionContext) -> Iterator[None]:
    """Around a step's work: a permanent failure marks the run as not to be retried, then fails the step
    with the original error (its message names the fix)."""
    try:
        yield
    except Exception as exc:
        if is_permanent(exc):
            do_not_retry(context, f"{type(exc).__name__} cannot be cured by retrying.")
        raise
