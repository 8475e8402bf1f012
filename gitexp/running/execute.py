"""Executing a prepared job: the clock, signals, and the status the run ends with.

The executor runs the command (gitexp/running/executors/base.py is the
contract); here the run gets its status: `succeeded` or `failed` by exit
code, `interrupted` when Ctrl-C stopped it, or what a driver asked for when
it stopped the run through its ``RunControl`` (a sweep's `pruned`). An
executor error (an image build, a lost daemon) is a `failed` run, recorded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from gitexp.gitstore.record import RunRecord
from gitexp.running.control import RunControl
from gitexp.running.executors import ExecResult, Executor, Job, OutputSink
from gitexp.running.signals import forwarding

Outcome = tuple[RunRecord, ExecResult, Exception | None]


def stopped_before(record: RunRecord, control: RunControl) -> Outcome:
    """A driver stopped the run before its command started: recorded, never started."""
    extra = {**record.extra, "stop_reason": control.reason or "stopped before it started"}
    return (
        record.replace(status=control.status or "interrupted", extra=extra),
        ExecResult(None),
        None,
    )


def execute_recorded(
    executor: Executor,
    job: Job,
    sink: OutputSink,
    record: RunRecord,
    control: RunControl | None = None,
) -> Outcome:
    """Execute; an executor error (image build, lost daemon) is still recorded as failed."""
    try:
        return (*_execute(executor, job, sink, record, control), None)
    except Exception as exc:
        sink.log_only("stderr", f"gitexp: {exc}\n".encode())  # the CLI says it once
        failed = record.replace(status="failed", extra={**record.extra, "error": str(exc)})
        return failed, ExecResult(None), exc


def _execute(
    executor: Executor,
    job: Job,
    sink: OutputSink,
    record: RunRecord,
    control: RunControl | None = None,
) -> tuple[RunRecord, ExecResult]:
    info = executor.prepare(job)
    started = time.monotonic()
    interrupted = threading.Event()
    if control is not None:
        control.attach(executor)
    with forwarding(executor, interrupted):
        result = executor.execute(job, sink)
    if control is not None and control.status is not None:
        status = control.status  # a driver stopped it (a pruned trial)
        record = record.replace(extra={**record.extra, "stop_reason": control.reason or ""})
    elif interrupted.is_set():
        status = "interrupted"
    else:
        status = "succeeded" if result.exit_code == 0 else "failed"
    record = record.replace(
        status=status,
        exit_code=result.exit_code,
        duration_s=round(time.monotonic() - started, 3),
    )
    return record, replace(result, info={**info, **result.info})
