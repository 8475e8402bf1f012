"""The read model: summaries and their cache, queries, compare, housekeeping."""
