"""segue export: torch checkpoints to self-describing ONNX step graphs (the `train` extra)."""
