"""segue training: torch modules, datasets and training loops (the `train` extra)."""
