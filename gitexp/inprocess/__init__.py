"""In-process runs: an experiment recorded from code that is already running.

``gitexp.start_run()`` (gitexp/__init__.py) starts one: a notebook cell or a
script that no CLI started. The lifecycle is the runner's (snapshot, reserve,
heartbeat, record: gitexp/running/), with a different executor shape: the
code runs in this process and in the user's directory, so nothing is
materialized and nothing is isolated. ``session`` drives it, ``origin`` says
what ran it, ``worktree`` finds what it wrote, ``capture`` tees its output.
Nothing here is imported by ``import gitexp``.
"""
