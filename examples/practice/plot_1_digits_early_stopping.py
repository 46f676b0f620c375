"""
Digits: validation and early stopping
=====================================

scikit-learn's bundled digits (8 x 8 images, 1797 samples, 10 classes; no
download). Hold out a test set, train with a validation set, and stop when the
validation loss has not improved for 15 epochs; ``EarlyStopping`` hands back
the weights of the best epoch.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastmlp as fm
from fastmlp.plot import confusion_matrix

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels 0..16 -> 0..1
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=0.2, random_state=0)

model = fm.Sequential([fm.Dense(64, 64, "relu"), fm.Dropout(0.1), fm.Dense(64, 10, "softmax")], seed=0)
history = model.fit(
    X_train,
    y_train,
    epochs=300,
    optimizer=fm.Adam(learning_rate=1e-3),
    batch_size=32,
    validation_data=(X_val, y_val),
    early_stopping=fm.EarlyStopping(patience=15),
)
print(f"stopped after {history.epochs} epochs (early: {history.stopped_early}); best epoch {history.best_epoch}")
print(f"test accuracy {model.accuracy(X_test, y_test):.4f}")

# %%
# In a notebook, the model and the history show as tables:
model  # noqa: B018 (a bare expression displays, as in a notebook)

# %%
history  # noqa: B018

# %%
# Loss and accuracy per epoch. The model keeps the weights of the best
# epoch (dotted line), not those of the last one.
h = history.history
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
ax0.plot(h["loss"], label="training")
ax0.plot(h["val_loss"], label="validation")
ax1.plot(h["accuracy"], label="training")
ax1.plot(h["val_accuracy"], label="validation")
for ax, name in ((ax0, "J"), (ax1, "accuracy")):
    ax.axvline(history.best_epoch, color="gray", ls=":", label="best epoch")
    ax.set(xlabel="epoch", ylabel=name)
    ax.legend()
fig.tight_layout()

# %%
# The confusion matrix on the test set (rows: true digit, columns: predicted)
# and a few of the digits the model gets wrong.
pred = model.predict(X_test)
C = confusion_matrix(y_test, pred, n_classes=10)
wrong = np.flatnonzero(pred != y_test)[:6]

fig = plt.figure(figsize=(11, 4.5))
grid = fig.add_gridspec(2, 5)
ax = fig.add_subplot(grid[:, :2])
ax.imshow(C, cmap="Blues")
for (i, j), v in np.ndenumerate(C):
    if v:
        ax.text(j, i, v, ha="center", va="center", fontsize=7, color="white" if v > C.max() / 2 else "black")
ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true", title="confusion matrix")
for n, i in enumerate(wrong):
    ax = fig.add_subplot(grid[n // 3, 2 + n % 3])
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set(xticks=[], yticks=[], title=f"true {y_test[i]}, predicted {pred[i]}")
fig.tight_layout()
plt.show()
