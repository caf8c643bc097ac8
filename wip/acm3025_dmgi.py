import sys, time
import numpy as np, scipy.io, torch
from torch_geometric.data import HeteroData
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, normalized_mutual_info_score
from sklearn.cluster import KMeans
from graphinfo.models.dmgi import DMGI
from graphinfo.train import fit

mat = scipy.io.loadmat("/work/shared/data/hetero/acm3025_han/ACM3025.mat")
x = torch.tensor(mat["feature"], dtype=torch.float)
x = x / x.sum(1, keepdim=True).clamp(min=1)
y = torch.tensor(mat["label"].argmax(1))
data = HeteroData()
data["paper"].x = x
data["paper"].y = y
for name in ("PAP", "PLP"):
    a = torch.from_numpy(np.stack(np.nonzero(mat[name])))
    data["paper", name.lower(), "paper"].edge_index = a
tr, va, te = (torch.tensor(mat[k].ravel(), dtype=torch.long) for k in ("train_idx", "val_idx", "test_idx"))
print(data)

def evaluate(z):
    z = z.numpy(); best = None
    for C in [0.01, 0.1, 1, 10, 100]:
        clf = LogisticRegression(C=C, max_iter=2000).fit(z[tr], y[tr])
        v = f1_score(y[va], clf.predict(z[va]), average="macro")
        if best is None or v > best[0]:
            p = clf.predict(z[te]); best = (v, f1_score(y[te], p, average="macro"), f1_score(y[te], p, average="micro"), C)
    nmi = normalized_mutual_info_score(y.numpy(), KMeans(3, n_init=10, random_state=0).fit_predict(z))
    return best, nmi

pooling = sys.argv[1] if len(sys.argv) > 1 else "attention"
for seed in range(int(sys.argv[2]) if len(sys.argv) > 2 else 3):
    torch.manual_seed(seed)
    model = DMGI.from_data(data, hidden_channels=64, pooling=pooling)
    t = time.time()
    h = fit(model, data, epochs=int(sys.argv[3]) if len(sys.argv) > 3 else 1000, lr=5e-4, weight_decay=1e-4, patience=20, progress=False)
    (v, ma, mi, C), nmi = evaluate(model.embed())
    print(f"{pooling} seed {seed}: macro {ma:.4f} micro {mi:.4f} nmi {nmi:.4f} (valid {v:.4f}, C {C}) epochs {h.epochs} {time.time()-t:.1f}s |Z| {model.Z.norm():.1f}", flush=True)
