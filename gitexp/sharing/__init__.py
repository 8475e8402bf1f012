"""Sharing: push/pull of experiments, git hooks, reproduce and its trust policy."""
