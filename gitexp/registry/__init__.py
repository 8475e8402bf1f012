"""The model registry: annotated git tags in GTO's format on experiment commits.

``NAME@vX.Y.Z`` registers a version, ``NAME#STAGE#N`` assigns a stage,
``NAME#STAGE!#N`` takes it back, ``NAME@vX.Y.Z!#N`` deregisters a version and
``NAME@deprecated#N`` deprecates the whole model. Tags are only ever added,
never moved or deleted, so the history stays; GTO and gitexp read the same
state from them (docs/registry.md).

- ``tagnames``: the tag grammar, model and stage names, versions.
- ``message``: what a tag message says (path, checksum, experiment, metrics).
- ``tagstore``: reading the model tags, creating one "fail if it exists".
- ``state``: the tags folded into models, versions and stages as GTO does.
- ``registering``, ``lifecycle``: register; promote, demote, deprecate
  (``writing`` holds what they share: tag times, counters, events).
- ``locate``: where a model's bytes are in a commit (DVC or git).
- ``fetching``, ``checksums``: a version's file out of DVC or the git tree,
  checksum verified (`gitexp model get`, ``gitexp.model_path``).
- ``travel``: which model tags push, pull and the pre-push hook carry.
- ``report``: the registry as plain data for the views.
"""
