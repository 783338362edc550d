"""`hscl tune`: hyper-parameter search on validation only, with Optuna.

`space` reads and validates search-space files, `study` runs the Optuna study (storage, sampler, pruner,
objective, worker processes), `outputs` writes a study's trials.csv, best.yaml and pictures, and `final`
trains the best configuration and the base over seeds, scores test once per run and writes the page.
"""
