"""The queue: runs recorded now (`queued` refs) and executed later, N at a time.

``entries.py`` adds, lists and removes queued runs; ``drain.py`` runs them
(`gitexp queue run`). See docs/distributed.md.
"""
