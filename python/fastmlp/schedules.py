"""Learning-rate schedules, applied per epoch by the C++ training loop.

``epoch`` counts every epoch the model has trained (across fit calls), from 0:
    Constant()                       lr = lr0
    StepDecay(step_size, gamma)      lr = lr0 * gamma ** (epoch // step_size)
    ExponentialDecay(gamma)          lr = lr0 * gamma ** epoch
    InverseScaling(power=0.5)        lr = lr0 / (epoch + 1) ** power
    ReduceOnPlateau(factor, patience, min_delta, monitor, min_lr)
                                     lr *= factor when `monitor` has not improved by more
                                     than min_delta for `patience` epochs (not below min_lr)
lr0 is the optimizer's learning rate.
"""
from __future__ import annotations

from ._validation import positive_float, positive_int


class Schedule:
    kind = "constant"

    def config(self) -> dict:
        return {"kind": self.kind}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "kind")
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    kind = "constant"


class StepDecay(Schedule):
    kind = "step_decay"

    def __init__(self, step_size: int = 10, gamma: float = 0.1):
        self.step_size = positive_int(step_size, "step_size")
        self.gamma = _fraction(gamma, "gamma", allow_one=True)

    def config(self):
        return {"kind": self.kind, "step_size": self.step_size, "gamma": self.gamma}


class ExponentialDecay(Schedule):
    kind = "exponential"

    def __init__(self, gamma: float = 0.95):
        self.gamma = _fraction(gamma, "gamma", allow_one=True)

    def config(self):
        return {"kind": self.kind, "gamma": self.gamma}


class InverseScaling(Schedule):
    kind = "inverse_scaling"

    def __init__(self, power: float = 0.5):
        self.power = positive_float(power, "power", allow_zero=True)

    def config(self):
        return {"kind": self.kind, "power": self.power}


class ReduceOnPlateau(Schedule):
    kind = "reduce_on_plateau"

    def __init__(self, factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4, monitor: str = "loss",
                 min_lr: float = 0.0):
        self.factor = _fraction(factor, "factor", allow_one=False)
        self.patience = positive_int(patience, "patience")
        self.min_delta = positive_float(min_delta, "min_delta", allow_zero=True)
        if monitor not in ("loss", "val_loss"):
            raise ValueError(f"monitor must be 'loss' or 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.min_lr = positive_float(min_lr, "min_lr", allow_zero=True)

    def config(self):
        return {"kind": self.kind, "factor": self.factor, "patience": self.patience, "min_delta": self.min_delta,
                "monitor": self.monitor, "min_lr": self.min_lr}


def _fraction(v, name: str, allow_one: bool) -> float:
    f = positive_float(v, name)
    if f > 1 or (f == 1 and not allow_one):
        raise ValueError(f"{name} must be in (0, 1{']' if allow_one else ')'}, got {v}")
    return f


def get(schedule) -> Schedule:
    """A Schedule from an object, None (constant) or a name."""
    if schedule is None:
        return Constant()
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str):
        makers = {"constant": Constant, "step_decay": StepDecay, "exponential": ExponentialDecay,
                  "inverse_scaling": InverseScaling, "invscaling": InverseScaling,
                  "reduce_on_plateau": ReduceOnPlateau, "adaptive": ReduceOnPlateau}
        if schedule in makers:
            return makers[schedule]()
        raise ValueError(f"schedule must be one of {', '.join(makers)}; got {schedule!r}")
    raise TypeError(f"schedule must be a string or an fm.schedules.Schedule, got {type(schedule).__name__}")
