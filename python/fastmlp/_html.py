"""HTML for Jupyter: ``Sequential._repr_html_`` and ``History._repr_html_``.

Plain tables, escaped, with inline styles only (no scripts, no CSS classes), so
they render the same in Jupyter, VS Code and the documentation's gallery.
"""

from __future__ import annotations

from html import escape

_TABLE = '<table style="border-collapse:collapse;text-align:right">'
_CELL = 'style="padding:2px 10px;border-bottom:1px solid #ddd"'


def _table(header: list, rows: list) -> str:
    head = "".join(f"<th {_CELL}>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"{_TABLE}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def model_html(model) -> str:
    """A layer table (each layer's ``html_row``: layer, weights, activation, parameters) and the
    model's settings."""
    rows = [[i, *layer.html_row()] for i, layer in enumerate(model.layers)]
    rows.append(["", "total", "", "", f"{model.num_params:,}" if model.built else "?"])
    inputs = "?" if model.n_features_in is None else model.n_features_in
    outputs = "?" if model.n_outputs is None else model.n_outputs  # Sequential() before add
    device = model.device or "none yet (not built)"
    settings = (
        f"loss <code>{escape(str(model.loss_name))}</code>, dtype <code>{model.dtype_policy}</code>, "
        f"device <code>{escape(device)}</code>, optimizer <code>{escape(repr(model.optimizer))}</code>, "
        f"l2 {model.l2:g}, epochs trained {model.epochs_trained}"
    )
    return (
        f"<div><strong>Sequential</strong>: {inputs} inputs, {outputs} outputs"
        + _table(["#", "layer", "weights", "activation", "parameters"], rows)
        + f"<div>{settings}</div></div>"
    )


def history_html(history) -> str:
    """Epochs, time, early stopping, and the first, last and best value of each metric."""
    parts = [f"{history.epochs} epochs in {history.seconds:.3g} s"]
    if history.best_epoch is not None:
        parts.append(f"best epoch {history.best_epoch}")
    if history.stopped_early:
        parts.append("stopped early")
    rows = []
    for key, values in history.history.items():
        if not values:
            continue
        best = max(values) if key.endswith("accuracy") else min(values)
        rows.append([key, _fmt(values[0]), _fmt(values[-1]), "" if key == "lr" else _fmt(best)])
    table = _table(["metric", "first", "last", "best"], rows) if rows else ""
    grads = ""
    if history.grad_norms is not None:
        last = ", ".join(f"{v:.3g}" for v in history.grad_norms[-1])
        grads = f"<div>mean ||dW|| per layer, last epoch: {escape(last)}</div>"
    return f"<div><strong>History</strong>: {escape(', '.join(parts))}{table}{grads}</div>"
