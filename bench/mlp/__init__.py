"""bench/bench_mlp.py in rooms (bench/README.md says what the benchmark measures):

- workload.py: the MLP, its data, FLOP accounting, contender names, the hand-written NumPy MLP
- base.py: the Contender interface, with the timing and calibration every contender shares
- contenders.py: NumPy, scikit-learn, PyTorch, fastmlp, JAX (jit step, lax.scan epoch), onnxruntime
- harness.py: worker processes (pinning, environment), calibration, repetitions, raw results
- tables.py and report.py: the markdown report, and the raw results to and from JSON
- cli.py: the command line
"""
