"""The git store: the repository, experiment refs, trees, run records, names."""
