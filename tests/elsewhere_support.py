"""A test executor that runs the job in another directory ("another machine") and
hands everything back only through the executor contract: output through the
sink, the live metrics bytes through ``sink.metrics``, the run's files as a
``transport.pack`` archive. A Ray executor has the same shape."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from gitexp.running.executors.base import ExecResult, Executor, Job, OutputSink
from gitexp.running.transport import pack, snapshot
from gitexp.tracking.wire import LIVE_DIR, METRICS_FILE


class ElsewhereExecutor(Executor):
    name = "elsewhere"
    streams_metrics = True

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.remote: Path | None = None

    def execute(self, job: Job, sink: OutputSink) -> ExecResult:
        self.remote = Path(tempfile.mkdtemp(prefix="elsewhere-")) / "run"
        shutil.copytree(job.run_dir, self.remote, symlinks=True)
        before = snapshot(self.remote)
        env = {**os.environ, **job.env_at(str(self.remote))}
        self.proc = subprocess.Popen(
            job.argv, cwd=self.remote / job.cwd, env=env, stdout=subprocess.PIPE
        )
        done = threading.Event()
        tail = threading.Thread(target=self._stream_metrics, args=(sink, done))
        tail.start()
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            sink.write("stdout", line)
        code = self.proc.wait()
        done.set()
        tail.join()
        sink.close()
        returned = pack(self.remote, before)
        shutil.rmtree(self.remote.parent)
        return ExecResult(code, {"ran_in": "elsewhere"}, returned=returned)

    def _stream_metrics(self, sink: OutputSink, done: threading.Event) -> None:
        assert self.remote is not None
        path, offset = self.remote / LIVE_DIR / METRICS_FILE, 0
        while True:
            finished = done.is_set()
            if path.exists():
                with path.open("rb") as f:
                    f.seek(offset)
                    data = f.read()
                offset += len(data)
                if data:
                    sink.metrics(data)
            if finished:
                return
            done.wait(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
