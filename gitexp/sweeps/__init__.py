"""Sweeps: hyperparameter search with Optuna, every trial an experiment.

- ``space.py``: search spaces (``float(lo,hi,log)``, ``int``, ``choice``, fixed)
- ``spec.py``: what a sweep is, the command line over a file, the checks
- ``sweepfile.py``: a sweep file, or an entry of gitexp.yaml's ``sweeps:``
- ``storage.py``: ``.git/gitexp/sweeps/NAME/`` (journal, manifest, lock)
- ``study.py``: samplers, pruners, the Optuna study and its bookkeeping
- ``trial.py``: one trial (an experiment run) and its verdict
- ``objectives.py``: a trial's objective values; a misspelled objective stops the sweep
- ``best.py``: the best trial or Pareto front, counting a resumed sweep's earlier trials
- ``pruning.py``: live metrics to ``trial.report`` / ``should_prune``
- ``driver.py``: the loop (threads, budget, Ctrl-C); ``launch.py``: start or resume
- ``results.py``: what `gitexp sweep show` reports

Optuna is imported only inside these modules' functions: ``import gitexp``
and `gitexp run` never load it.
"""
