"""The one training loop and what it needs: building a run's parts, the step, the optimizer,
the guards, stacked pretraining."""
