"""Early stopping (runs inside the C++ loop) and the tqdm progress bar."""
from __future__ import annotations

from . import _core
from ._validation import as_bool, as_int, as_real


_ES = _core.EarlyStoppingSpec()


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    monitor: "val_loss" (needs validation data) or "loss"; None picks val_loss when
    validation data is given, else loss. With ``restore_best`` the model ends with
    the weights of the best epoch, however training stopped. A thin name over the C++
    early-stopping settings (trainer.hpp), where the defaults and ranges live.
    """

    def __init__(self, patience: int = _ES.patience, min_delta: float = _ES.min_delta, monitor: str | None = None,
                 restore_best: bool = _ES.restore_best):
        if monitor not in (None, "loss", "val_loss"):
            raise ValueError(f"monitor must be 'loss', 'val_loss' or None, got {monitor!r}")
        spec = _core.EarlyStoppingSpec()
        spec.enabled = True
        spec.patience = as_int(patience, "patience")
        spec.min_delta = as_real(min_delta, "min_delta")
        spec.restore_best = as_bool(restore_best, "restore_best")
        _core.validate_early_stopping(spec)  # ValueError naming the parameter
        self._spec = spec
        self.monitor = monitor

    patience = property(lambda self: self._spec.patience)
    min_delta = property(lambda self: self._spec.min_delta)
    restore_best = property(lambda self: self._spec.restore_best)

    def spec(self, has_validation: bool):
        """The C++ settings for a fit with or without validation data."""
        monitor = self.monitor or ("val_loss" if has_validation else "loss")
        if monitor == "val_loss" and not has_validation:
            raise ValueError("EarlyStopping(monitor='val_loss') needs validation_data or validation_split")
        self._spec.monitor_validation = monitor == "val_loss"
        return self._spec

    def __repr__(self) -> str:
        return (f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r}, "
                f"restore_best={self.restore_best})")


class ProgressBar:
    """One tqdm bar over epochs, showing loss / accuracy / validation as postfix."""

    def __init__(self, epochs: int):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=epochs, unit="epoch", dynamic_ncols=True)

    def update(self, logs: dict) -> None:
        post = {k: f"{v:.4g}" for k, v in logs.items()
                if k in ("loss", "accuracy", "val_loss", "val_accuracy") and v == v}
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
