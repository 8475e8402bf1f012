"""Keras 3, on any backend (TensorFlow, PyTorch, JAX): ``Model.fit``.

Keras has a callback mechanism but no global list of callbacks, so
``keras.Model.fit`` is wrapped only to add one ``keras.callbacks.Callback``
to the call's ``callbacks`` (the backend's own ``fit`` underneath is left
alone; ``disable`` removes the wrapper). The callback records:

- params, when training begins: ``keras.epochs``, ``keras.batch_size``
  (Keras's default 32 for arrays), ``keras.steps_per_epoch`` (Keras's own
  count), ``keras.initial_epoch``, ``keras.validation_split``,
  ``keras.shuffle``, ``keras.loss``, ``keras.optimizer.class`` and the
  optimizer's config as ``keras.optimizer.<key>`` (a learning-rate schedule
  as ``keras.optimizer.learning_rate.config.<key>``; None left out);
- every epoch's logs under Keras's own names (``loss``, ``accuracy``,
  ``val_loss``, ...), step = the epoch as Keras counts it, so each series is
  ``History.history[name]`` point for point.

After ``fit`` returns, the model is saved as ``autolog/keras-<Class>.keras``
(``model.save``; ``keras.saving.load_model`` reads it back). Only the
outermost autologged call records: a Keras model fitted inside a
scikit-learn search is the search's record.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

from gitexp.common.mappings import flatten
from gitexp.integrations import patches, record
from gitexp.integrations.base import Options, outermost, version_below

MIN_VERSION = (3, 0)
DEFAULT_BATCH_SIZE = 32  # what Keras uses for arrays when fit gets none
FIT_PARAMS = ("epochs", "initial_epoch", "validation_split", "shuffle")


class KerasIntegration:
    name = "keras"
    module = "keras"
    submodules = False

    def unsupported(self, framework: ModuleType) -> str | None:
        return version_below(framework, MIN_VERSION)

    def enable(self, module: ModuleType, options: Options) -> None:
        callback_class = _callback_class(module.callbacks.Callback)
        make = _fit_wrapper(callback_class, module.callbacks.CallbackList, options)
        patches.wrap(module.Model, "fit", make)


INTEGRATION = KerasIntegration()


def _fit_wrapper(
    callback_class: type, callback_list: type, options: Options
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(fit: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with outermost("keras") as mine:
                if not mine:
                    return fit(self, *args, **kwargs)
                try:
                    bound = inspect.signature(fit).bind(self, *args, **kwargs)
                except (TypeError, ValueError):  # a call Keras itself will refuse
                    return fit(self, *args, **kwargs)
                history = _fit_with_callback(
                    fit, bound, callback_class(_given(bound)), callback_list
                )
                if options.log_models and record.in_run():
                    with record.guarded(f"the Keras model {type(self).__name__}"):
                        filename = f"keras-{type(self).__name__}.keras"
                        record.save_artifact(filename, lambda path: _save(self, path))
                return history

        return wrapper

    return make


def _save(model: Any, path: str) -> None:
    """``model.save`` (record.save_artifact writes it under a temporary name, so
    a save that fails, e.g. a custom layer Keras cannot serialize, leaves no file)."""
    model.save(path)


def _given(bound: inspect.BoundArguments) -> dict[str, Any]:
    """fit's arguments by name, defaults applied, for the record only."""
    full = bound.signature.bind(*bound.args, **bound.kwargs)
    full.apply_defaults()
    return {k: v for k, v in full.arguments.items() if k != "self"}


def _fit_with_callback(
    fit: Callable[..., Any], bound: inspect.BoundArguments, ours: Any, callback_list: Any
) -> Any:
    """fit with ours added to its callbacks: a list is copied; a ``CallbackList``
    the caller built holds ours until fit returns."""
    existing = bound.arguments.get("callbacks")
    if isinstance(existing, callback_list):
        ours.set_model(existing.model)
        existing.callbacks.append(ours)
        try:
            return fit(*bound.args, **bound.kwargs)
        finally:
            existing.callbacks.remove(ours)
    if existing is None:
        given: list[Any] = []
    elif isinstance(existing, list | tuple):
        given = list(existing)
    else:  # one callback, not in a list: Keras accepts that too
        given = [existing]
    bound.arguments["callbacks"] = [*given, ours]
    return fit(*bound.args, **bound.kwargs)


def _params(call: dict[str, Any], keras_params: dict[str, Any], model: Any) -> dict[str, Any]:
    """What the fit was asked for, as Keras resolved it (None left out)."""
    params = {k: call.get(k) for k in FIT_PARAMS}
    params["epochs"] = keras_params.get("epochs", call.get("epochs"))
    params["batch_size"] = _batch_size(call)
    params["steps_per_epoch"] = keras_params.get("steps")
    params["loss"] = _loss_name(getattr(model, "loss", None))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        params["optimizer.class"] = type(optimizer).__name__
        params.update(flatten(optimizer.get_config(), "optimizer."))
    return {k: v for k, v in params.items() if v is not None}


def _batch_size(call: dict[str, Any]) -> Any:
    """The given batch size; Keras's default for arrays; None for a dataset,
    generator or loader, which batches itself."""
    if call.get("batch_size") is not None:
        return call["batch_size"]
    x = call.get("x")
    return DEFAULT_BATCH_SIZE if hasattr(x, "shape") or isinstance(x, list | tuple | dict) else None


def _loss_name(loss: Any) -> Any:
    """compile's ``loss``: a name as given, a function's or a Loss object's name."""
    if loss is None or isinstance(loss, str | list | dict):
        return loss
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def _callback_class(base: type) -> type:
    class GitexpAutolog(base):  # type: ignore[misc]
        """Params when training begins, each epoch's logs when it ends."""

        def __init__(self, call: dict[str, Any]) -> None:
            super().__init__()
            self.gitexp_call = call

        def on_train_begin(self, logs: Any = None) -> None:
            with record.guarded("the Keras fit params"):
                record.log_params("keras", _params(self.gitexp_call, self.params, self.model))

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            with record.guarded("a Keras epoch"):
                for name, value in (logs or {}).items():
                    record.log_metric(name, value, epoch)

    return GitexpAutolog
