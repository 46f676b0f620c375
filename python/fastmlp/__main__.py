"""Command line: python -m fastmlp <command>.

    python -m fastmlp demo      train on scikit-learn's digits, print test accuracy, save a loss curve
    python -m fastmlp info      how the C++ core was built
"""
from __future__ import annotations

import argparse
import json
import sys


def _demo(args) -> int:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("the demo needs scikit-learn and matplotlib: pip install 'fastmlp[demo]'", file=sys.stderr)
        return 2
    import fastmlp as fm
    from fastmlp.plot import plot_loss

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels 0..16 -> 0..1
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = fm.Sequential([fm.Dense(64, 128, "relu"), fm.Dense(128, 10, "softmax")], seed=args.seed)
    print(f"digits: {len(X_train)} train / {len(X_test)} test samples, 64 features, 10 classes")
    print(f"model: {model}  ({model.num_params} parameters)")

    def progress(epoch, logs):
        print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {logs['loss']:.4f}  train accuracy {logs['accuracy']:.4f}  "
              f"test accuracy {logs['val_accuracy']:.4f}", flush=True)

    # The held-out test set is evaluated after each epoch, in C++, as "validation" data.
    history = model.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, validation_data=(X_test, y_test), callback=progress)
    acc = model.accuracy(X_test, y_test)
    print(f"test accuracy: {acc:.4f}  ({history.epochs} epochs in {history.seconds:.2f}s)")
    path = plot_loss(history, args.plot, title="fastmlp on digits",
                     extra={"test accuracy": history.history["val_accuracy"]})
    print(f"loss curve saved to {path}")
    return 0


def _info(args) -> int:
    import fastmlp as fm

    print(json.dumps(fm.build_info(), indent=2))
    return 0


def main(argv=None) -> int:
    import fastmlp as fm

    parser = argparse.ArgumentParser(prog="fastmlp", description="fastmlp: small, fast multi-layer perceptrons")
    parser.add_argument("--version", action="version", version=f"fastmlp {fm.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train on the digits data set, print accuracy, save a loss curve")
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--batch-size", type=int, default=16)
    demo.add_argument("--learning-rate", type=float, default=0.1)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--plot", default="fastmlp_demo_loss.png", help="where to save the loss curve (PNG)")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="print how the C++ core was built")
    info.set_defaults(func=_info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
