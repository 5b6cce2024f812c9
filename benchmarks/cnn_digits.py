"""A small CNN of backprop.layers trained on the 8x8 digits: held-out accuracy and time, against the
same network in PyTorch. Section 8 of benchmarks/run.py.

The network is backprop.layers.cnn.SmallCNN (conv 3x3 -> ReLU -> max-pool 2x2 -> dense -> softmax
cross-entropy) with the settings of book/16_convolution.ipynb (CNN_DIGITS_SETTINGS). PyTorch
trains the same network from the same initial weights on the same minibatches, with
torch.optim.SGD (its momentum is the package's: v = mu v + g, p -= lr v). Whole trainings are
timed once per round (order alternating); one SGD step is timed with interleaved rounds.

    python benchmarks/cnn_digits.py [--quick]     # = python benchmarks/run.py --only cnn_digits
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import harness
import numpy as np
from machine_info import torch
from report import fmt_t, table, verdict

KEY, TITLE, DEFAULT = "cnn_digits", "A small CNN on the 8×8 digits", True
OURS, TORCH = "backprop.layers (SmallCNN + cnn.sgd)", "PyTorch (same network, torch.optim.SGD)"
STEP, T_STEP = "backprop.layers SGD step", "PyTorch SGD step"
ACCURACY_TARGET, TIME_TARGET_S = 0.97, 30.0  # the chapter's promises: >= 97 %, training < 30 s


def data(cfg: dict):
    from backprop.layers.cnn import as_images
    from backprop.train import load_digits_split

    X_tr, l_tr, X_te, l_te = load_digits_split(cfg["test_size"], cfg["seed"])
    return as_images(X_tr), l_tr, as_images(X_te), l_te


def torch_net(params: dict):
    """The SmallCNN's parameters as PyTorch leaf tensors and its loss, batch-first throughout."""
    F = torch.nn.functional
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

    def loss(X, labels):
        M = F.max_pool2d(F.relu(F.conv2d(X, t["K"], t["b"], padding=1)), 2, 2)
        V = M.reshape(M.shape[0], -1) @ t["W"].T + t["c"].T  # (B, 10): rows are examples
        return F.cross_entropy(V, labels), V

    return t, loss


def trainings(cfg: dict, X_tr, l_tr, X_te, l_te) -> dict:
    """Whole trainings with the chapter's settings; each returns its held-out accuracy."""
    from backprop.layers.cnn import SmallCNN, sgd

    def package():
        net = SmallCNN(cfg["filters"], seed=cfg["seed"])
        sgd(
            net,
            X_tr,
            l_tr,
            learning_rate=cfg["learning_rate"],
            batch_size=cfg["batch_size"],
            epochs=cfg["epochs"],
            momentum=cfg["momentum"],
            seed=cfg["seed"],
        )
        return net.accuracy(X_te, l_te)

    runs = {OURS: package}
    if torch is not None:

        def pytorch():
            t, loss = torch_net(SmallCNN(cfg["filters"], seed=cfg["seed"]).params)
            opt = torch.optim.SGD(list(t.values()), lr=cfg["learning_rate"], momentum=cfg["momentum"])
            tX, tl = torch.tensor(X_tr), torch.tensor(l_tr)
            rng = np.random.default_rng(cfg["seed"])  # the package's batch order
            for _ in range(cfg["epochs"]):
                order = torch.from_numpy(rng.permutation(len(l_tr)))
                for start in range(0, len(l_tr), cfg["batch_size"]):
                    idx = order[start : start + cfg["batch_size"]]
                    E, _ = loss(tX[idx], tl[idx])
                    opt.zero_grad(set_to_none=True)
                    E.backward()
                    opt.step()
            with torch.no_grad():
                _, V = loss(torch.tensor(X_te), torch.tensor(l_te))
            return float((V.argmax(dim=1).numpy() == l_te).mean())

        runs[TORCH] = pytorch
    return runs


def step_contenders(cfg: dict, X_tr, l_tr) -> dict:
    """One SGD-with-momentum step on one minibatch of the chapter's size, both libraries."""
    from backprop.layers.cnn import SmallCNN

    idx = np.random.default_rng(1).choice(len(l_tr), size=cfg["batch_size"], replace=False)
    Xb, lb = X_tr[idx], l_tr[idx]
    net = SmallCNN(cfg["filters"], seed=cfg["seed"])
    U = {k: np.zeros_like(P) for k, P in net.params.items()}
    lr, mu = cfg["learning_rate"], cfg["momentum"]

    def step_package():
        _, G = net.loss_and_gradients(Xb, lb)
        for k, P in net.params.items():
            U[k] *= mu
            U[k] -= lr * G[k]
            P += U[k]

    steps = {STEP: step_package}
    if torch is not None:
        t, loss = torch_net(SmallCNN(cfg["filters"], seed=cfg["seed"]).params)
        opt = torch.optim.SGD(list(t.values()), lr=lr, momentum=mu)
        tX, tl = torch.tensor(Xb), torch.tensor(lb)

        def step_torch():
            E, _ = loss(tX, tl)
            opt.zero_grad(set_to_none=True)
            E.backward()
            opt.step()

        steps[T_STEP] = step_torch
    return steps


def run(quick: bool) -> dict:
    harness.note("\n[8] a small CNN on the digits")
    try:
        import sklearn  # noqa: F401  (the digits ship with scikit-learn)
    except ImportError:
        raise harness.Skip("scikit-learn not installed (the digits come with it)") from None
    from backprop.layers.cnn import CNN_DIGITS_SETTINGS

    cfg = dict(CNN_DIGITS_SETTINGS)
    if quick:
        cfg["epochs"] = 1
    if torch is not None:
        torch.set_num_threads(harness.torch_threads())
    harness.note(
        f"    settings (backprop.layers.cnn.CNN_DIGITS_SETTINGS{', 1 epoch' if quick else ''}): {cfg}"
    )
    X_tr, l_tr, X_te, l_te = data(cfg)
    out = {
        "settings": cfg,
        "settings_source": "backprop.layers.cnn.CNN_DIGITS_SETTINGS",
        "n_train": len(l_tr),
        "n_test": len(l_te),
        "torch": torch is not None,
    }
    res = harness.time_once_per_round(trainings(cfg, X_tr, l_tr, X_te, l_te), reps=2 if quick else 5)
    out["training"] = {
        k: {"times_s": v["times_s"], "accuracy": v["value"], "median_s": v["median_s"]}
        for k, v in res.items()
    }
    for name, v in out["training"].items():
        harness.note(f"    {name:45s} {v['median_s']:.3f} s  held-out accuracy {v['accuracy']:.4f}")
    out["step"] = st = harness.compare(step_contenders(cfg, X_tr, l_tr), rounds=41, sample_s=0.01)
    for name, v in st.items():
        harness.note(f"    {name:45s} {v['median_s'] * 1e6:8.1f} us per step")
    if torch is not None:
        out["step_time_ratio_torch_over_package"] = harness.paired(st, T_STEP, STEP)
        harness.note(
            f"    PyTorch step time / package step time: {out['step_time_ratio_torch_over_package']:.2f}"
        )
    else:
        harness.note("    skipped: PyTorch (not installed)")
    out["verdicts"] = verdicts(out)
    return out


def verdicts(r: dict) -> list[dict]:
    ours = r["training"][OURS]
    return [
        {
            "target": f"≥ {100 * ACCURACY_TARGET:.0f} % held-out accuracy",
            "met": ours["accuracy"] >= ACCURACY_TARGET,
            "detail": f"{100 * ours['accuracy']:.2f} % after {r['settings']['epochs']} epochs",
        },
        {
            "target": f"training in ≤ {TIME_TARGET_S:.0f} s (the chapter's budget)",
            "met": ours["median_s"] <= TIME_TARGET_S,
            "detail": f"median {fmt_t(ours['median_s'])} over {len(ours['times_s'])} trainings",
        },
    ]


def markdown(r: dict) -> list[str]:
    cfg = r["settings"]
    L = [
        f"Settings from {r['settings_source']}: "
        + ", ".join(f"{k} = {v}" for k, v in cfg.items())
        + f"; {r['n_train']} training and {r['n_test']} held-out images (stratified split). "
        "PyTorch trains the same network from the same weights on the same minibatches.",
        "",
    ]
    L += table(
        ["training run", "median wall time", "held-out accuracy"],
        [(n, fmt_t(v["median_s"]), f"{100 * v['accuracy']:.2f} %") for n, v in r["training"].items()],
    )
    L += table(
        [f"one SGD step (batch {cfg['batch_size']})", "median time"],
        [(n, fmt_t(v["median_s"])) for n, v in r["step"].items()],
    )
    if "step_time_ratio_torch_over_package" in r:
        L += [
            f"PyTorch's step takes {r['step_time_ratio_torch_over_package']:.2f}× the package's "
            "(median of per-round ratios).",
            "",
        ]
    else:
        L += ["PyTorch not installed: the package alone was measured.", ""]
    L += [f"- {v['target']} — {verdict(v['met'])} ({v['detail']})." for v in r.get("verdicts") or verdicts(r)]
    return L + [""]


if __name__ == "__main__":  # run it through run.py: the benchmark environment, results.{json,md}
    run_py = Path(__file__).resolve().with_name("run.py")
    sys.exit(subprocess.call([sys.executable, str(run_py), "--only", KEY, *sys.argv[1:]]))
