"""Serving runtimes: what turns a saved version's files into probabilities.

| module | what it runs | needs |
|---|---|---|
| numpy_model | a `fasttext` network, and a pair's fasttext member, in NumPy | NumPy, h5py |
| lite | a transformer (and a pair) on the LiteRT interpreter | ai-edge-litert |
| wordpiece | BERT's WordPiece tokenizer in Python, for the LiteRT path | |
| batching | texts in batches of similar token length, trimmed | NumPy |
| geometric | the pair's combination of its members' probabilities | NumPy |
| keras_model | loading a `.keras` file, and the fastest Keras serving function | TensorFlow |
| layers | the Keras classes saved models refer to by name | TensorFlow |

The predictor (pipeline.predict) picks one for a version. Nothing here knows the registry,
the recipes that trained a model, or the UI; only keras_model and layers import TensorFlow.
"""
