"""Running an experiment: runner, workspace, params, metrics, environment, executors."""
