"""Scikit-learn-style embedding with early stopping, then two evaluation protocols.

    python examples/embedder_quickstart.py
"""
from graphinfo import Embedder
from graphinfo.data import load_dataset
from graphinfo.evaluation import evaluate

dataset = load_dataset("planted")
embedder = Embedder("dgi", seed=0, hidden_channels=256, lr=1e-3, patience=20, estimator="jsd")
z = embedder.fit_transform(dataset.data)
print(f"trained {embedder.history_.epochs} epochs, best loss {embedder.history_.best_loss:.4f}")
print("linear probe:", evaluate(z, dataset.data.y, dataset.split, protocol="linear_probe"))
print("clustering:  ", evaluate(z, dataset.data.y, protocol="clustering"))
