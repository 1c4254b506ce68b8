"""`aecli evaluate`'s metric suite: pure NumPy/scikit-learn metrics and the run-level scores."""
