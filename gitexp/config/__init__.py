"""gitexp.yaml: core settings, the Docker section, what `gitexp init` detects."""
