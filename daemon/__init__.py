"""segue runtime: codecs, onnxruntime models, sampling, generation and the CLI. Never imports torch."""
