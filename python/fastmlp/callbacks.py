"""Early stopping (runs inside the C++ loop) and the tqdm progress bar."""
from __future__ import annotations

from ._validation import positive_float, positive_int


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    monitor: "val_loss" (needs validation data) or "loss"; None picks val_loss when
    validation data is given, else loss. With ``restore_best`` the model ends with
    the weights of the best epoch, however training stopped.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, monitor: str | None = None,
                 restore_best: bool = True):
        self.patience = positive_int(patience, "patience")
        self.min_delta = positive_float(min_delta, "min_delta", allow_zero=True)
        if monitor not in (None, "loss", "val_loss"):
            raise ValueError(f"monitor must be 'loss', 'val_loss' or None, got {monitor!r}")
        self.monitor = monitor
        self.restore_best = bool(restore_best)

    def config(self, has_validation: bool) -> dict:
        monitor = self.monitor or ("val_loss" if has_validation else "loss")
        if monitor == "val_loss" and not has_validation:
            raise ValueError("EarlyStopping(monitor='val_loss') needs validation_data or validation_split")
        return {"patience": self.patience, "min_delta": self.min_delta, "monitor": monitor,
                "restore_best": self.restore_best}

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
