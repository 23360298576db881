"""chatfn: a ChatGPT-style chat product built as scale-to-zero Knative functions."""
