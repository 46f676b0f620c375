"""Test accuracy of dtype="mixed_bfloat16" against float32, same seeds, medians of 5.

Two tasks: scikit-learn's digits (64-64-10, Adam, batch 32, 30 epochs, 1400 train / 397 test rows) and
the bench net 784-256-128-10 on a generated 10-class problem (make_classification: 784 features, 60
informative, 14,000 rows, 10,000 train / 4,000 test; Adam, batch 128, 8 epochs). Each seed trains both
dtypes from the same initial weights and the same shuffling.

    python bench/bench_bf16_accuracy.py
"""

import statistics
import warnings

import numpy as np


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = (d.data / 16).astype(np.float32), d.target
    order = np.random.default_rng(0).permutation(len(y))
    return X[order[:1400]], y[order[:1400]], X[order[1400:]], y[order[1400:]]


def generated():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=14000, n_features=784, n_informative=60, n_redundant=100, n_classes=10, class_sep=3.0, random_state=0
    )
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return X[:10000], y[:10000], X[10000:], y[10000:]


def run(task, data, hidden, epochs, batch, seeds=range(5)):
    import fastmlp as fm

    Xtr, ytr, Xte, yte = data
    acc = {"float32": [], "mixed_bfloat16": []}
    agree = []
    for seed in seeds:
        preds = {}
        for dtype in acc:
            layers = [fm.Dense(h, activation="relu") for h in hidden] + [fm.Dense(10, activation="softmax")]
            model = fm.Sequential(layers, dtype=dtype, seed=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
                model.fit(Xtr, ytr, epochs=epochs, batch_size=batch, verbose=0)
            preds[dtype] = model.predict(Xte)
            acc[dtype].append(100 * float(np.mean(preds[dtype] == yte)))
        agree.append(100 * float(np.mean(preds["float32"] == preds["mixed_bfloat16"])))
    diff = [b - a for a, b in zip(acc["float32"], acc["mixed_bfloat16"])]
    print(
        f"{task}: float32 {statistics.median(acc['float32']):.2f}% ({min(acc['float32']):.2f}-{max(acc['float32']):.2f}), "
        f"mixed_bfloat16 {statistics.median(acc['mixed_bfloat16']):.2f}% "
        f"({min(acc['mixed_bfloat16']):.2f}-{max(acc['mixed_bfloat16']):.2f}), "
        f"median difference {statistics.median(diff):+.2f} points ({min(diff):+.2f} to {max(diff):+.2f}), "
        f"prediction agreement {statistics.median(agree):.1f}%"
    )


def main():
    import fastmlp as fm

    print("bf16 kernel:", fm.build_info()["bf16"])
    run("digits 64-64-10", digits(), [64], epochs=30, batch=32)
    run("generated 784-256-128-10", generated(), [256, 128], epochs=8, batch=128)


if __name__ == "__main__":
    main()
