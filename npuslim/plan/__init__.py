"""Stage 3, plan (decide, never write): features, the bundle plan, the MSVC runtime, ONNX Runtime."""
