"""Training, evaluation and prediction on top of the model, losses and data layers."""
