"""Model runtimes on onnxruntime (event, piano-roll, lyric), sampling, and the shipped model files."""
