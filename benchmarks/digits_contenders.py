"""Section 4's contenders: whole trainings on the digits, and one SGD step of each library."""

from __future__ import annotations

import warnings

import numpy as np
from machine_info import torch

import backprop
from backprop import train

OURS, SKLEARN = "backprop.train.sgd on backprop.MLP", "scikit-learn MLPClassifier (sgd, matched settings)"
STEP, T_STEP = "backprop.MLP SGD step", "PyTorch SGD step (autograd + torch.optim.SGD)"


def data(cfg: dict):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(
        digits.data / 16.0,
        digits.target,
        test_size=cfg["test_size"],
        random_state=cfg["seed"],
        stratify=digits.target,
    )


def trainings(cfg: dict, Xtr, Xte, ytr, yte) -> dict:
    """Whole trainings with the chapter's settings; each returns its held-out accuracy."""
    sizes, bs, lr, mom, epochs = (
        cfg["sizes"],
        cfg["batch_size"],
        cfg["learning_rate"],
        cfg["momentum"],
        cfg["epochs"],
    )

    def package():
        net = backprop.MLP(
            sizes, hidden=cfg["hidden"], output="softmax", loss="cross_entropy", seed=cfg["seed"]
        )
        train.sgd(
            net,
            Xtr.T.copy(),
            np.eye(10)[:, ytr],
            learning_rate=lr,
            batch_size=bs,
            epochs=epochs,
            momentum=mom,
            seed=cfg["seed"],
        )
        return float(np.mean(net.predict(Xte.T).argmax(axis=0) == yte))

    def sklearn():
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        clf = MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            activation=cfg["hidden"],
            solver="sgd",
            learning_rate_init=lr,
            momentum=mom,
            nesterovs_momentum=False,
            batch_size=bs,
            max_iter=epochs,
            alpha=0.0,
            shuffle=True,
            random_state=cfg["seed"],
            n_iter_no_change=epochs + 1,
            tol=0.0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(Xtr, ytr)
        return float(clf.score(Xte, yte))

    return {OURS: package, SKLEARN: sklearn}


def step_contenders(cfg: dict, Xtr, ytr) -> dict:
    """One SGD-with-momentum step on one batch: backprop.MLP and PyTorch (same network, same batch)."""
    sizes, bs, lr, mom = cfg["sizes"], cfg["batch_size"], cfg["learning_rate"], cfg["momentum"]
    idx = np.random.default_rng(1).choice(len(ytr), size=bs, replace=False)
    net = backprop.MLP(sizes, hidden=cfg["hidden"], output="softmax", loss="cross_entropy", seed=cfg["seed"])
    Xb, Yb = Xtr[idx].T.copy(), np.eye(10)[:, ytr[idx]]
    vel = {k: np.zeros_like(v) for k, v in net.params.items()}

    def step_package():
        _, g = net.loss_and_gradients(Xb, Yb)
        for k, P in net.params.items():
            vel[k] *= mom
            vel[k] -= lr * g[k]
            P += vel[k]

    steps = {STEP: step_package}
    if torch is not None:
        tp = [torch.tensor(net.params[k], requires_grad=True) for k in net.params]
        opt = torch.optim.SGD(tp, lr=lr, momentum=mom)
        tX, tlab = torch.tensor(Xb), torch.tensor(ytr[idx])
        hid = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[cfg["hidden"]]

        def step_torch():
            H = tX
            for l in range(0, len(tp) - 2, 2):
                H = hid(torch.addmm(tp[l + 1], tp[l], H))
            E = torch.nn.functional.cross_entropy(torch.addmm(tp[-1], tp[-2], H).T, tlab)
            opt.zero_grad(set_to_none=True)
            E.backward()
            opt.step()

        steps[T_STEP] = step_torch
    return steps
