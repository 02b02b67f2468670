"""Using a model: predictor, letterbox transforms, prediction types, text embeddings, checkpoint loading."""
