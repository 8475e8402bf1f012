"""Is a process alive? One answer for every liveness check in gitexp.

``os.kill(pid, 0)`` alone is not enough: a gitexp killed with SIGKILL stays a
zombie until its parent reaps it, and a parent that reads the output pipes
first (``subprocess.run``, a shell's ``$(...)``) reaps it only when every
holder of those pipes is gone, the orphaned command included. A zombie has
finished; so does a pid that is no longer there.
"""

from __future__ import annotations

import os
from pathlib import Path

_ENDED = (b"Z", b"X")  # zombie, dead: /proc/PID/stat's state


def alive(pid: int) -> bool:
    """Whether ``pid`` runs on this machine (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: alive, not ours
    return not _ended(pid)


def _ended(pid: int) -> bool:
    """A zombie, as Linux's /proc tells (elsewhere: unknown, so not ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    fields = stat.rpartition(b")")[2].split()  # the command name may hold spaces and ')'
    return bool(fields) and fields[0] in _ENDED
