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
- ``actions``: register, promote, demote, deprecate (events published).
- ``fetching``: a version's file out of DVC or the git tree, checksum verified.
"""
