"""Hyperparameter sweeps with Optuna: `python -m pipeline sweep`, and the Retrain tab's Sweep mode.

| module | what it holds |
|---|---|
| space | the search space: ranges from pipeline/params.py or narrower ones, validated |
| run | the Optuna study: trials through the project's own training, pruning, the budget |
| results | the sweep's local record and the trials table, rebuilt from the registry |

Optuna is used because its define-by-run objective wraps the project's training function
unchanged (KerasTuner would want to build the model and call fit itself), it prunes on
intermediate values, and it bounds a study by trial count and by time.

The package imports nothing itself: Optuna (half a second) loads only with `run`.
"""
