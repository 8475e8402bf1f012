"""fastai: ``Learner.fit`` and the schedules built on it (``fit_one_cycle``,
``fit_flat_cos``, ``fit_sgdr``, ``fine_tune``).

The outermost of those calls adds one fastai ``Callback`` to the learner
for its duration (``Learner.added_cbs``, fastai's own mechanism); the
methods are wrapped only to know which call is outermost and what it was
asked for (``disable`` removes the wrappers). ``lr_find`` trains to probe
learning rates, not to fit: it is never recorded. The callback records:

- params, when the first fit begins: ``fastai.method`` (``fit_one_cycle``),
  the call's arguments with defaults applied (``fastai.n_epoch``,
  ``fastai.lr_max``, ``fastai.pct_start``, ...; a learning rate, ``wd`` or
  ``moms`` left to the learner as the learner's value), ``fastai.opt_func``,
  ``fastai.batch_size``, ``fastai.loss_func``, and the optimizer's
  hyperparameters that no schedule moves (``fastai.opt.eps``,
  ``fastai.opt.wd``; in a plain ``fit`` also ``fastai.opt.lr``, ``fastai.opt.mom``);
- after each epoch, what fastai's ``Recorder`` stored for it, under its
  names (``train_loss``, ``valid_loss``, the learner's metrics), step = the
  epoch, counted on across the fits of one call (``fine_tune``'s frozen
  epochs first), so a plain ``fit``'s series are ``learn.recorder.values``.

After the call, the learner is exported (``learn.export``, without the
callback, the learner's data and optimizer objects put back afterwards) as
``autolog/fastai-<Learner class>.pkl``; ``load_learner`` reads it back.
Only the outermost autologged call records.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from gitexp.integrations import patches, record
from gitexp.integrations.base import Options, outermost, version_below

MIN_VERSION = (2, 7)
METHODS = ("fit", "fit_one_cycle", "fit_flat_cos", "fit_sgdr", "fine_tune", "lr_find")
NOT_TRAINING = {"lr_find"}  # held as the outermost call, never recorded
LEARNER_LR = {"lr", "lr_max"}  # None: the learner's ``lr``
LEARNER_DEFAULTS = {"wd", "moms"}  # None: the learner's own


class FastaiIntegration:
    name = "fastai"
    module = "fastai"
    submodules = True  # fit_one_cycle & co. are patched onto Learner by fastai.callback.schedule

    def unsupported(self, framework: ModuleType) -> str | None:
        return version_below(framework, MIN_VERSION)

    def enable(self, module: ModuleType, options: Options) -> None:
        """Wrap the fit methods the ``Learner`` has by now (once each)."""
        learner = sys.modules.get("fastai.learner")
        if learner is None or not hasattr(learner, "Learner"):
            return
        for name in METHODS:
            if name in vars(learner.Learner):
                patches.wrap(learner.Learner, name, _wrapper(name, learner, options))


INTEGRATION = FastaiIntegration()


@dataclass
class Session:
    """One outermost fit call being recorded."""

    method: str
    call: dict[str, Any]
    params_logged: bool = False
    offset: int = 0  # epochs of the earlier fits of this call


def _wrapper(
    name: str, learner: ModuleType, options: Options
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with outermost("fastai") as mine:
                if not mine or name in NOT_TRAINING:
                    return method(self, *args, **kwargs)
                session = Session(name, _given(method, self, args, kwargs))
                callback = _callback_class(learner.Recorder)(session)
                with self.added_cbs([callback]):
                    result = method(self, *args, **kwargs)
                if options.log_models and record.in_run():
                    with record.guarded(f"the fastai learner {type(self).__name__}"):
                        filename = f"fastai-{type(self).__name__}.pkl"
                        record.save_artifact(filename, lambda path: _export(self, path))
                return result

        return wrapper

    return make


def _export(learn: Any, path: str) -> None:
    """``learn.export`` (under a temporary name: record.save_artifact), then the
    learner as it was: its own data and optimizer objects (export swaps them and
    builds a new optimizer; a failed one would leave the learner without either)."""
    dls, opt = learn.dls, learn.opt
    try:
        learn.export(path)
    finally:
        learn.dls, learn.opt = dls, opt


def _given(
    method: Callable[..., Any], learn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments by name ({} for a call fastai refuses): those given, and
    the defaults of the method's own parameters (``fine_tune`` shows
    ``fit_one_cycle``'s too, through ``@delegates``; it does not pass their defaults)."""
    try:
        bound = inspect.signature(method).bind(learn, *args, **kwargs)
    except (TypeError, ValueError):
        return {}
    explicit = set(bound.arguments)
    bound.apply_defaults()
    own = _own_parameters(method)
    given = {k: v for k, v in bound.arguments.items() if k in explicit or own is None or k in own}
    given.update(given.pop("kwargs", None) or {})
    return {k: v for k, v in given.items() if k not in ("self", "cbs")}


def _own_parameters(method: Callable[..., Any]) -> set[str] | None:
    code = getattr(method, "__code__", None)
    if code is None:
        return None
    return set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])


@functools.cache
def _callback_class(recorder: type) -> type:
    base = sys.modules["fastai.callback.core"].Callback

    class GitexpAutologCallback(base):  # type: ignore[misc, valid-type]
        """Params when the first fit begins; each epoch once the Recorder has it."""

        order = recorder.order + 1  # type: ignore[attr-defined]

        def __init__(self, session: Session) -> None:
            super().__init__()
            self.gitexp_session = session

        def before_fit(self) -> None:
            session = self.gitexp_session
            if not session.params_logged:
                session.params_logged = True
                with record.guarded("the fastai fit params"):
                    record.log_params("fastai", _params(session, self.learn))

        def after_epoch(self) -> None:
            with record.guarded("a fastai epoch"):
                _log_epoch(self.learn, self.gitexp_session)

        def after_fit(self) -> None:
            self.gitexp_session.offset += int(getattr(self.learn, "n_epoch", 0) or 0)

    return GitexpAutologCallback


def _log_epoch(learn: Any, session: Session) -> None:
    """The Recorder's row for this epoch (a skipped epoch has none)."""
    recorder = getattr(learn, "recorder", None)
    if recorder is None or not recorder.values:
        return
    step = session.offset + int(learn.epoch)
    for name, value in zip(recorder.metric_names[1:], recorder.values[-1], strict=False):
        if value is not None:
            with record.guarded(f"fastai's {name}"):
                record.log_metric(name, value, step)


def _params(session: Session, learn: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"method": session.method}
    for key, value in session.call.items():
        if value is None and key in LEARNER_LR:
            value = learn.lr
        elif value is None and key in LEARNER_DEFAULTS:
            value = getattr(learn, key, None)
        params[key] = value
    params["opt_func"] = _name(learn.opt_func)
    params["batch_size"] = getattr(learn.dls, "bs", None)
    params["loss_func"] = _name(learn.loss_func)
    params.update({f"opt.{k}": v for k, v in _fixed_hypers(learn).items()})
    return {k: v for k, v in params.items() if v is not None}


def _fixed_hypers(learn: Any) -> dict[str, Any]:
    """The optimizer's hyperparameters (last parameter group) that no schedule moves."""
    opt = getattr(learn, "opt", None)
    if opt is None or not opt.hypers:
        return {}
    scheduled: set[str] = set()
    for cb in learn.cbs:
        scheduled.update(getattr(cb, "scheds", None) or {})
    return {k: v for k, v in opt.hypers[-1].items() if k not in scheduled}


def _name(thing: Any) -> Any:
    """A function's name (a partial's too), else the object as text."""
    func = getattr(thing, "func", thing)  # functools.partial(Adam, ...)
    name = getattr(func, "__name__", None)
    return name if isinstance(name, str) else record.plain(thing)
