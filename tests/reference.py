"""Independent plain-NumPy reference implementation of an MLP.

Written the way the lecture notes write the math (samples as rows):

    a^(0) = X
    z^(l) = a^(l-1) W^(l) + b^(l)          (m x n_l)
    a^(l) = g_l(z^(l))

    J = mean_i loss_i + (lambda / 2) * sum_l ||W^(l)||_F^2    (L2 term not divided by m)

Backward pass (delta recursion):

    delta^(L) = dJ/dz^(L)           (fused output error, see ``output_delta``)
    delta^(l) = (delta^(l+1) W^(l+1)^T) * g_l'(z^(l))
    dJ/dW^(l) = a^(l-1)^T delta^(l) + lambda W^(l)
    dJ/db^(l) = sum_i delta_i^(l)

This module must never import fastmlp: it is the independent oracle the library is
tested against.  Everything here is float64 unless the caller passes float32 arrays
(the tests always compute the reference in float64).
"""

# The reference in three modules; every test imports it from here (import reference as ref).
from reference_activations import *  # noqa: F403
from reference_activations import _split  # noqa: F401  (tests read it)
from reference_layers import *  # noqa: F403
from reference_mlp import *  # noqa: F403
