"""Deep Graph Infomax in a plain PyTorch Geometric training loop.

    python examples/dgi_pyg_loop.py                 # the built-in planted-partition graph
    python examples/dgi_pyg_loop.py --dataset cora --root ../shared/data
"""
import argparse

import torch

from graphinfo.data import load_dataset
from graphinfo.evaluation import linear_probe
from graphinfo.experiment import normalise_features
from graphinfo.models import DGI

parser = argparse.ArgumentParser()
parser.add_argument("--dataset", default="planted")
parser.add_argument("--root", default=None)
parser.add_argument("--epochs", type=int, default=300)
args = parser.parse_args()

dataset = load_dataset(args.dataset, root=args.root)
data = normalise_features(dataset.data)
torch.manual_seed(0)
model = DGI(512, encoder="gcn", in_channels=data.num_features, estimator="jsd")
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

for epoch in range(args.epochs):
    optimizer.zero_grad()
    pos_z, neg_z, summary = model(data.x, data.edge_index)
    loss = model.loss(pos_z, neg_z, summary)
    loss.backward()
    optimizer.step()
    if epoch % 50 == 0:
        print(f"epoch {epoch:4d}  loss {loss.item():.4f}")

z = model.embed(data.x, data.edge_index)
print(linear_probe(z, data.y, dataset.split))
