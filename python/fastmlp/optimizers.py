"""Optimizers: how a gradient becomes a weight update.

``fm.SGD`` / ``fm.Adam`` / ``fm.RMSprop`` / ``fm.Adagrad`` are thin names over the C++ table of optimizers
(``_core.OPTIMIZERS``, from cpp/include/fastmlp/optimizer_rules.hpp), where the formulas, the defaults
and the ranges of the hyper-parameters live. A kind of the table without a class below gets one
made from the table (``_make_class``), so a new optimizer is written in C++ only. The math runs
in C++ on the engine's flat parameter buffer (the CPU's or the GPU's): the engine
makes the stepping object (``engine.make_optimizer(spec)``), which keeps its state
(velocity, moments, step count) across fit and partial_fit calls of the model it
trains; ``reset()`` forgets it.

Every optimizer takes ``clip_value`` (clamp each gradient entry to [-clip_value, clip_value])
and ``clip_norm`` (scale the whole gradient, all layers at once, to L2 norm <= clip_norm);
0 turns either off. Clipping by value runs first.
"""

from __future__ import annotations

import inspect
import weakref

from . import _core
from ._validation import as_bool, as_real

#: The core's table of optimizers by kind: {"name", "class_name", "summary", "learning_rate", "params", "states"}.
_TABLE = {row["name"]: row for row in _core.OPTIMIZERS}
_CLIP = ("clip_norm", "clip_value")

#: Every optimizer class by its kind ("sgd", "adam", ...: the C++ OptimizerSpec's kind and the
#: "name" of get_config), in the core table's order: the one table fm.load, the model file, get()
#: and the CLI read.
OPTIMIZERS: dict = {}


def _signature(row: dict) -> list:
    """(name, default) of every keyword of the kind's class, in order: the table's."""
    return [("learning_rate", row["learning_rate"]), *row["params"], *((name, 0.0) for name in _CLIP)]


class Optimizer:
    """Base class: an ``OptimizerSpec`` and the state bound to one engine. A subclass sets
    ``_kind`` (a kind of the core's table); its ``_fields`` (the hyper-parameters besides
    learning_rate) and their read-only properties come from the table, its keywords are checked
    against it, and it is registered in OPTIMIZERS."""

    _kind = ""
    _fields: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        row = _TABLE.get(cls._kind)
        if row is None:
            raise TypeError(f"{cls.__name__}: no optimizer {cls._kind!r} in the core's table (optimizer_rules.hpp)")
        if cls._kind in OPTIMIZERS:
            raise TypeError(f"an optimizer of kind {cls._kind!r} is already registered")
        keywords = [(p.name, p.default) for p in inspect.signature(cls).parameters.values()]
        if keywords != _signature(row):
            raise TypeError(f"{cls.__name__}'s keywords {keywords} are not the core table's {_signature(row)}")
        cls._fields = tuple(name for name, _ in row["params"]) + _CLIP
        for name in cls._fields:
            if name not in vars(cls):
                setattr(cls, name, _field(name))
        OPTIMIZERS[cls._kind] = cls

    def __init__(self, **values):
        spec = _core.OptimizerSpec.defaults(self._kind)
        for name, value in values.items():
            setattr(spec, name, as_bool(value, name) if isinstance(getattr(spec, name), bool) else as_real(value, name))
        _core.validate_optimizer(spec)  # ValueError naming the parameter
        self._spec = spec
        self._impl = None
        self._owner = None  # weak reference to the engine the state belongs to

    @property
    def learning_rate(self) -> float:
        return self._spec.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        spec = self._copy_spec()
        spec.learning_rate = as_real(value, "learning_rate")
        _core.validate_optimizer(spec)
        self._spec = spec
        if self._impl is not None:
            self._impl.learning_rate = spec.learning_rate

    def _copy_spec(self):
        spec = _core.OptimizerSpec.defaults(self._kind)
        for name in ("learning_rate",) + self._fields:
            setattr(spec, name, getattr(self._spec, name))
        return spec

    def reset(self) -> None:
        """Forget the state (velocity, moments, step count)."""
        if self._impl is not None:
            self._impl.reset()

    def _make(self, suffix: str):
        """A stand-alone C++ optimizer of this spec in float32 ("32") or float64 ("64"), fresh state."""
        return getattr(_core, "Optimizer" + suffix)(self._spec)

    def _bind(self, engine):
        """The C++ optimizer stepping `engine`'s parameters; a new one (fresh state) for another engine."""
        if self._impl is None or self._owner is None or self._owner() is not engine:
            self._impl = engine.make_optimizer(self._spec)  # checks the values in the engine's dtype
            self._owner = weakref.ref(engine)
        self._impl.learning_rate = self._spec.learning_rate
        return self._impl

    def get_config(self) -> dict:
        return {"name": self._kind, **{name: getattr(self._spec, name) for name in ("learning_rate",) + self._fields}}

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        """A new optimizer (fresh state) from ``get_config()``'s dict; its "name" picks the class."""
        if not isinstance(config, dict) or not isinstance(config.get("name"), str):
            raise TypeError("config must be a dict with a 'name'")
        kind = OPTIMIZERS.get(config["name"])
        if kind is None or not issubclass(kind, cls):
            raise ValueError(f"unknown optimizer {config['name'][:40]!r} (expected one of {', '.join(OPTIMIZERS)})")
        return kind(**{k: v for k, v in config.items() if k != "name"})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _field(name: str):
    return property(
        lambda self: getattr(self._spec, name), doc=f"{name} (read-only; make a new optimizer to change it)"
    )


_SGD = _core.OptimizerSpec.defaults("sgd")
_ADAM = _core.OptimizerSpec.defaults("adam")
_RMSPROP = _core.OptimizerSpec.defaults("rmsprop")
_ADAGRAD = _core.OptimizerSpec.defaults("adagrad")


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulas.

    g = dJ/dw + weight_decay * w
    plain:     w <- w - lr * g
    momentum:  v <- momentum * v + g;  w <- w - lr * v   (Nesterov: w <- w - lr * (g + momentum * v))
    """

    _kind = "sgd"

    def __init__(
        self,
        learning_rate: float = _SGD.learning_rate,
        momentum: float = _SGD.momentum,
        nesterov: bool = _SGD.nesterov,
        weight_decay: float = _SGD.weight_decay,
        clip_norm: float = _SGD.clip_norm,
        clip_value: float = _SGD.clip_value,
    ):
        super().__init__(
            learning_rate=learning_rate,
            momentum=momentum,
            nesterov=nesterov,
            weight_decay=weight_decay,
            clip_norm=clip_norm,
            clip_value=clip_value,
        )


class Adam(Optimizer):
    """Adam with bias correction, PyTorch's formulas (``decoupled=True`` is AdamW).

    g = dJ/dw (+ weight_decay * w unless decoupled; decoupled: w <- w * (1 - lr * weight_decay) first)
    m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;  t <- t + 1
    w <- w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
    """

    _kind = "adam"

    def __init__(
        self,
        learning_rate: float = _ADAM.learning_rate,
        beta1: float = _ADAM.beta1,
        beta2: float = _ADAM.beta2,
        epsilon: float = _ADAM.epsilon,
        weight_decay: float = _ADAM.weight_decay,
        decoupled: bool = _ADAM.decoupled,
        clip_norm: float = _ADAM.clip_norm,
        clip_value: float = _ADAM.clip_value,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta1=beta1,
            beta2=beta2,
            epsilon=epsilon,
            weight_decay=weight_decay,
            decoupled=decoupled,
            clip_norm=clip_norm,
            clip_value=clip_value,
        )


class RMSprop(Optimizer):
    """RMSprop, PyTorch's formulas (no momentum, not centered; ``rho`` is torch's ``alpha``).

    g = dJ/dw + weight_decay * w
    v <- rho v + (1 - rho) g^2;  w <- w - lr * g / (sqrt(v) + epsilon)
    """

    _kind = "rmsprop"

    def __init__(
        self,
        learning_rate: float = _RMSPROP.learning_rate,
        rho: float = _RMSPROP.rho,
        epsilon: float = _RMSPROP.epsilon,
        weight_decay: float = _RMSPROP.weight_decay,
        clip_norm: float = _RMSPROP.clip_norm,
        clip_value: float = _RMSPROP.clip_value,
    ):
        super().__init__(
            learning_rate=learning_rate,
            rho=rho,
            epsilon=epsilon,
            weight_decay=weight_decay,
            clip_norm=clip_norm,
            clip_value=clip_value,
        )


class Adagrad(Optimizer):
    """Adagrad, PyTorch's formulas (no learning-rate decay, accumulator starts at 0).

    g = dJ/dw + weight_decay * w
    s <- s + g^2;  w <- w - lr * g / (sqrt(s) + epsilon)
    """

    _kind = "adagrad"

    def __init__(
        self,
        learning_rate: float = _ADAGRAD.learning_rate,
        epsilon: float = _ADAGRAD.epsilon,
        weight_decay: float = _ADAGRAD.weight_decay,
        clip_norm: float = _ADAGRAD.clip_norm,
        clip_value: float = _ADAGRAD.clip_value,
    ):
        super().__init__(
            learning_rate=learning_rate,
            epsilon=epsilon,
            weight_decay=weight_decay,
            clip_norm=clip_norm,
            clip_value=clip_value,
        )


def _make_class(row: dict) -> type:
    """The class of a kind that has none written here: its keywords, defaults and validation
    are the table's, its docstring names the formula's source."""
    keywords = _signature(row)
    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value) for name, value in keywords]
    )

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        Optimizer.__init__(self, **{k: v for k, v in bound.arguments.items() if k != "self"})

    __init__.__signature__ = signature
    doc = f"{row['summary']}\n\nThe formula: cpp/include/fastmlp/optimizer_rules.hpp ({row['name']!r})."
    return type(row["class_name"], (Optimizer,), {"_kind": row["name"], "__init__": __init__, "__doc__": doc})


for _row in _core.OPTIMIZERS:
    if _row["name"] not in OPTIMIZERS:
        globals()[_row["class_name"]] = _make_class(_row)
OPTIMIZERS = {kind: OPTIMIZERS[kind] for kind in _TABLE}  # the table's order


def AdamW(learning_rate: float = _ADAM.learning_rate, weight_decay: float = 0.01, **kwargs) -> Adam:
    """Adam with decoupled weight decay (PyTorch's AdamW default weight_decay=0.01)."""
    return Adam(learning_rate, weight_decay=weight_decay, decoupled=True, **kwargs)


#: Names get() and create() accept besides the kinds: {name: maker}.
ALIASES = {"adamw": AdamW}


def names() -> tuple:
    """Every optimizer name get() and create() accept: the kinds of OPTIMIZERS, then ALIASES."""
    return (*OPTIMIZERS, *ALIASES)


def create(name: str, **kwargs) -> Optimizer:
    """The optimizer called ``name`` (any of names(), any case) with these hyper-parameters."""
    makers = {**OPTIMIZERS, **ALIASES}
    if not isinstance(name, str) or name.lower() not in makers:
        raise ValueError(f"optimizer must be one of {', '.join(makers)} or an Optimizer; got {name!r}")
    return makers[name.lower()](**kwargs)


def get(optimizer) -> Optimizer:
    """An Optimizer from an object or a name (one of names(): "sgd", "adam", "adamw", ...)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        return create(optimizer)
    classes = " / ".join(f"fm.{cls.__name__}" for cls in OPTIMIZERS.values())
    raise TypeError(f"optimizer must be a string or an {classes} object, got {type(optimizer).__name__}")
