"""Learning-rate schedules, applied per epoch by the C++ training loop.

``epoch`` counts every epoch the model has trained (across fit calls), from 0:
    Constant()                       lr = lr0
    StepDecay(step_size, gamma)      lr = lr0 * gamma ** (epoch // step_size)
    ExponentialDecay(gamma)          lr = lr0 * gamma ** epoch
    InverseScaling(power=0.5)        lr = lr0 / (epoch + 1) ** power
    ReduceOnPlateau(factor, patience, min_delta, monitor, min_lr)
                                     lr *= factor when `monitor` has not improved by more
                                     than min_delta for `patience` epochs (not below min_lr)
    CosineDecay(decay_epochs, warmup_epochs=0, min_lr=0)
                                     epoch < W: lr = lr0 (epoch + 1) / W  (linear warm-up, W = warmup_epochs);
                                     then lr = min_lr + (lr0 - min_lr) (1 + cos(pi t)) / 2,
                                     t = min(epoch - W, decay_epochs) / decay_epochs
lr0 is the optimizer's learning rate. These are thin names over the C++ ``Schedule``
(schedules.hpp), where the defaults and the ranges live.
"""

from __future__ import annotations

from . import _core
from ._validation import as_int, as_real

MONITORS = ("loss", "val_loss")


def _defaults(kind: str):
    return _core.Schedule(kind)


class Schedule:
    kind = "constant"
    _fields: tuple = ()

    def __init__(self, **values):
        spec = _core.Schedule(self.kind)
        for name, value in values.items():
            if name == "monitor":
                if value not in MONITORS:
                    raise ValueError(f"monitor must be 'loss' or 'val_loss', got {value!r}")
                spec.monitor_validation = value == "val_loss"
            elif isinstance(getattr(spec, name), int):
                setattr(spec, name, as_int(value, name))
            else:
                setattr(spec, name, as_real(value, name))
        _core.validate_schedule(spec)  # ValueError naming the parameter
        self._spec = spec

    def __getattr__(self, name):
        if name in type(self)._fields:
            if name == "monitor":
                return "val_loss" if self._spec.monitor_validation else "loss"
            return getattr(self._spec, name)
        raise AttributeError(name)

    def config(self) -> dict:
        return {"kind": self.kind, **{name: getattr(self, name) for name in self._fields}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "kind")
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    kind = "constant"

    def __init__(self):
        super().__init__()


_STEP, _EXP, _INV, _PLATEAU, _COS = (
    _defaults(k) for k in ("step_decay", "exponential", "inverse_scaling", "reduce_on_plateau", "cosine")
)


class StepDecay(Schedule):
    kind = "step_decay"
    _fields = ("step_size", "gamma")

    def __init__(self, step_size: int = _STEP.step_size, gamma: float = _STEP.gamma):
        super().__init__(step_size=step_size, gamma=gamma)


class ExponentialDecay(Schedule):
    kind = "exponential"
    _fields = ("gamma",)

    def __init__(self, gamma: float = _EXP.gamma):
        super().__init__(gamma=gamma)


class InverseScaling(Schedule):
    kind = "inverse_scaling"
    _fields = ("power",)

    def __init__(self, power: float = _INV.power):
        super().__init__(power=power)


class ReduceOnPlateau(Schedule):
    kind = "reduce_on_plateau"
    _fields = ("factor", "patience", "min_delta", "monitor", "min_lr")

    def __init__(
        self,
        factor: float = _PLATEAU.factor,
        patience: int = _PLATEAU.patience,
        min_delta: float = _PLATEAU.min_delta,
        monitor: str = "loss",
        min_lr: float = _PLATEAU.min_lr,
    ):
        super().__init__(factor=factor, patience=patience, min_delta=min_delta, monitor=monitor, min_lr=min_lr)


class CosineDecay(Schedule):
    kind = "cosine"
    _fields = ("decay_epochs", "warmup_epochs", "min_lr")

    def __init__(
        self,
        decay_epochs: int = _COS.decay_epochs,
        warmup_epochs: int = _COS.warmup_epochs,
        min_lr: float = _COS.min_lr,
    ):
        super().__init__(decay_epochs=decay_epochs, warmup_epochs=warmup_epochs, min_lr=min_lr)


def get(schedule) -> Schedule:
    """A Schedule from an object, None (constant) or a name."""
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        makers = {
            "constant": Constant,
            "step_decay": StepDecay,
            "exponential": ExponentialDecay,
            "inverse_scaling": InverseScaling,
            "invscaling": InverseScaling,
            "reduce_on_plateau": ReduceOnPlateau,
            "adaptive": ReduceOnPlateau,
            "cosine": CosineDecay,
        }
        if schedule in makers:
            return makers[schedule]()
        raise ValueError(f"schedule must be one of {', '.join(makers)}; got {schedule!r}")
    raise TypeError(f"schedule must be a string or an fm.schedules.Schedule, got {type(schedule).__name__}")
