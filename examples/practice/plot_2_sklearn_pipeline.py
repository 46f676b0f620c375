"""
scikit-learn: a Pipeline and a grid search
==========================================

``fastmlp.sklearn.MLPClassifier`` takes the parameters of scikit-learn's own
``MLPClassifier`` and follows the estimator contract, so it fits into a
``Pipeline`` and ``GridSearchCV`` unchanged; the training runs in fastmlp's
C++ core.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp.sklearn import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "mlp",
            MLPClassifier(
                solver="adam", learning_rate_init=1e-3, batch_size=32, max_iter=60, early_stopping=True, random_state=0
            ),
        ),
    ]
)
grid = GridSearchCV(pipe, {"mlp__hidden_layer_sizes": [(16,), (64,), (128,)], "mlp__alpha": [1e-4, 1e-2, 1.0]}, cv=3)
grid.fit(X_train, y_train)
print("best:", grid.best_params_, f"cross-validated accuracy {grid.best_score_:.4f}")
print(f"test accuracy of the refitted best pipeline: {grid.score(X_test, y_test):.4f}")

# %%
# The mean cross-validated accuracy of every combination:
sizes = grid.param_grid["mlp__hidden_layer_sizes"]
alphas = grid.param_grid["mlp__alpha"]
scores = grid.cv_results_["mean_test_score"].reshape(len(alphas), len(sizes))  # alpha is the outer loop

fig, ax = plt.subplots(figsize=(5, 3.6))
im = ax.imshow(scores, cmap="viridis")
for (i, j), v in np.ndenumerate(scores):
    ax.text(j, i, f"{v:.3f}", ha="center", va="center", color="white" if v < scores.mean() else "black")
ax.set(
    xticks=range(len(sizes)),
    xticklabels=[str(s) for s in sizes],
    yticks=range(len(alphas)),
    yticklabels=[str(a) for a in alphas],
    xlabel="hidden_layer_sizes",
    ylabel="alpha",
    title="GridSearchCV: mean accuracy",
)
fig.colorbar(im, ax=ax)
fig.tight_layout()
plt.show()
