"""All matplotlib and TensorBoard output: figures, latent plots, the HParams record."""
