"""backprop.train: one_hot, accuracy, minibatch SGD (with momentum) and its input checks."""

import importlib.util

import numpy as np
import pytest

import backprop
from backprop.train import DIGITS_SETTINGS, History, accuracy, momentum_sgd, one_hot, sgd


def blobs(B=120, seed=0):
    """Three well separated Gaussian blobs in R^2: X (2, B), labels (B,)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 4.0, -4.0], [4.0, -3.0, -3.0]])  # (2, 3), one column per class
    labels = rng.integers(0, 3, size=B)
    X = centres[:, labels] + 0.5 * rng.standard_normal((2, B))
    return X, labels


def net(seed=0):
    return backprop.MLP([2, 8, 3], hidden="relu", output="softmax", loss="cross_entropy", seed=seed)


def train(n, X, labels, **kw):
    args = dict(learning_rate=0.1, batch_size=16, epochs=15, momentum=0.9, seed=0)
    return sgd(n, X, one_hot(labels, 3), **{**args, **kw})


# -- one_hot --------------------------------------------------------------------------------------
def test_one_hot_round_trip_and_shape():
    labels = np.array([2, 0, 1, 1, 3])
    Y = one_hot(labels, 4)
    assert Y.shape == (4, 5) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.sum(axis=0), np.ones(5))  # one 1 per column
    np.testing.assert_array_equal(Y.argmax(axis=0), labels)  # labels come back
    np.testing.assert_array_equal(Y[:, 0], [0, 0, 1, 0])


@pytest.mark.parametrize(
    "labels, k, err, match",
    [
        (np.array([0.0, 1.0]), 2, TypeError, "integers"),
        (np.array([[0, 1]]), 2, ValueError, r"shape \(B,\)"),
        (np.array([], dtype=int), 2, ValueError, "non-empty"),
        (np.array([0, 2]), 2, ValueError, r"0\.\.1"),
        (np.array([-1, 0]), 2, ValueError, r"0\.\.1"),
        (np.array([0, 1]), 0, ValueError, "positive integer"),
        (np.array([0, 1]), 2.0, ValueError, "positive integer"),
    ],
)
def test_one_hot_rejects_bad_input(labels, k, err, match):
    with pytest.raises(err, match=match):
        one_hot(labels, k)


# -- SGD ------------------------------------------------------------------------------------------
def test_sgd_decreases_the_loss_and_separates_blobs():
    X, labels = blobs()
    n = net()
    E0 = n.loss(X, one_hot(labels, 3))
    acc0 = accuracy(n, X, labels)
    h = train(n, X, labels, validation=(X, labels))
    assert isinstance(h, History) and len(h.loss) == 15 and len(h.val_accuracy) == 15
    assert h.loss[-1] < 0.05 * E0  # the loss falls by a large factor ...
    assert h.loss[-1] < h.loss[0]
    assert n.loss(X, one_hot(labels, 3)) < 0.05 * E0  # ... and so does the loss of the trained net
    assert acc0 < 0.9 and accuracy(n, X, labels) == 1.0  # separable blobs: every point right
    assert h.val_accuracy[-1] == accuracy(n, X, labels)


def test_plain_sgd_without_momentum_also_decreases_the_loss():
    X, labels = blobs()
    n = net()
    E0 = n.loss(X, one_hot(labels, 3))
    h = train(n, X, labels, momentum=0.0, epochs=30)
    assert h.loss[-1] < 0.2 * E0 and accuracy(n, X, labels) == 1.0


def test_one_epoch_of_full_batch_plain_sgd_is_one_gradient_step():
    X, labels = blobs(B=20)
    n = net()
    Y = one_hot(labels, 3)
    E, G = n.loss_and_gradients(X, Y)
    expected = {k: P - 0.3 * G[k] for k, P in n.params.items()}
    h = sgd(n, X, Y, learning_rate=0.3, batch_size=20, epochs=1)
    assert h.loss == [pytest.approx(E, rel=1e-15)] and h.val_accuracy == []
    for k in expected:
        np.testing.assert_allclose(n.params[k], expected[k], rtol=0, atol=1e-15)


def test_params_are_updated_in_place():
    X, labels = blobs()
    n = net()
    W1 = n.params["W1"]
    before = W1.copy()
    train(n, X, labels, epochs=1)
    assert n.params["W1"] is W1 and not np.array_equal(W1, before)


def test_same_seed_same_result_other_seed_other_order():
    X, labels = blobs()
    a, b, c = net(), net(), net()
    ha, hb = train(a, X, labels, seed=3), train(b, X, labels, seed=3)
    hc = train(c, X, labels, seed=4)
    assert ha.loss == hb.loss  # bit for bit
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert ha.loss != hc.loss  # the seed drives the shuffling


@pytest.mark.parametrize(
    "kw, err, match",
    [
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(learning_rate=-0.1), ValueError, "learning_rate"),
        (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(momentum=-0.5), ValueError, "momentum"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(batch_size=2.5), ValueError, "batch_size"),
        (dict(epochs=0), ValueError, "epochs"),
        (dict(validation=np.zeros((2, 3))), ValueError, "validation"),
    ],
)
def test_sgd_rejects_bad_settings(kw, err, match):
    X, labels = blobs(B=10)
    with pytest.raises(err, match=match):
        train(net(), X, labels, **kw)


def test_sgd_rejects_bad_shapes_and_labels():
    X, labels = blobs(B=10)
    n = net()
    with pytest.raises(ValueError, match=r"X must have shape \(2, B\)"):
        sgd(n, X.T, one_hot(labels, 3), learning_rate=0.1, batch_size=4, epochs=1)
    with pytest.raises(ValueError, match=r"Y must have shape \(3, 10\)"):
        sgd(n, X, one_hot(labels, 3)[:, :9], learning_rate=0.1, batch_size=4, epochs=1)
    with pytest.raises(TypeError, match="float"):
        sgd(n, X.astype(int), one_hot(labels, 3), learning_rate=0.1, batch_size=4, epochs=1)
    with pytest.raises(ValueError, match="labels_val must lie in 0..2"):
        train(n, X, labels, validation=(X, labels + 1))
    with pytest.raises(ValueError, match=r"X_val has 10 columns \(examples\) but labels_val has 9 entries"):
        train(n, X, labels, validation=(X, labels[:9]))


def test_divergence_is_reported():
    X, labels = blobs()
    with pytest.raises(FloatingPointError, match="too large"), np.errstate(over="ignore", invalid="ignore"):
        train(net(), 1e3 * X, labels, learning_rate=1e6, momentum=0.0)


def test_batch_first_layout_trains_like_the_column_layout_on_transposed_data():
    """sgd takes minibatches in the net's layout: rows of X (B, n0) and Y (B, nL) in 'batch_first'."""
    X, labels = blobs()
    cols = net()
    rows = backprop.MLP(
        [2, 8, 3], hidden="relu", output="softmax", loss="cross_entropy", layout="batch_first"
    )
    h_c = train(cols, X, labels, epochs=5, validation=(X, labels))
    h_r = sgd(
        rows,
        X.T.copy(),
        one_hot(labels, 3).T.copy(),
        learning_rate=0.1,
        batch_size=16,
        epochs=5,
        momentum=0.9,
        seed=0,
        validation=(X.T.copy(), labels),
    )
    np.testing.assert_allclose(h_r.loss, h_c.loss, rtol=1e-12)
    assert h_r.val_accuracy == h_c.val_accuracy and accuracy(rows, X.T, labels) == accuracy(cols, X, labels)
    for k, P in cols.params.items():
        np.testing.assert_allclose(rows.params[k], P.reshape(rows.params[k].shape), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match=r"X_val has 120 rows \(examples\) but labels_val has 9 entries"):
        sgd(
            rows,
            X.T,
            one_hot(labels, 3).T,
            learning_rate=0.1,
            batch_size=16,
            epochs=1,
            validation=(X.T, labels[:9]),
        )


class LeastSquares:
    """A model that is not an MLP: E = 1/(2B) ||w^T X - t||^2 with X (n, B), t (B,); the protocol
    of momentum_sgd (params, examples, batch, loss_and_gradients) in a few lines."""

    def __init__(self, n):
        self.params = {"w": np.zeros(n)}

    def examples(self, X, t):
        return X, t, X.shape[1]

    def batch(self, X, t, index):
        return X[:, index], t[index]

    def loss_and_gradients(self, X, t):
        r = self.params["w"] @ X - t
        return 0.5 * np.mean(r * r), {"w": X @ r / t.size}


def test_momentum_sgd_trains_any_model_with_the_protocol():
    rng = np.random.default_rng(0)
    X, w_true = rng.standard_normal((3, 200)), np.array([1.0, -2.0, 0.5])
    model = LeastSquares(3)
    h = momentum_sgd(model, X, w_true @ X, learning_rate=0.1, batch_size=20, epochs=30, momentum=0.5)
    assert h.loss[-1] < 1e-12 * h.loss[0] and h.val_accuracy == []
    np.testing.assert_allclose(model.params["w"], w_true, rtol=1e-6)
    with pytest.raises(ValueError, match="momentum"):
        momentum_sgd(model, X, w_true @ X, learning_rate=0.1, batch_size=20, epochs=1, momentum=1.5)
    with pytest.raises(FloatingPointError, match="too large"), np.errstate(over="ignore", invalid="ignore"):
        momentum_sgd(LeastSquares(3), X, w_true @ X, learning_rate=1e3, batch_size=200, epochs=200)


# -- accuracy -------------------------------------------------------------------------------------
def test_accuracy_counts_argmax_hits():
    n = backprop.MLP([2, 2], hidden=None, output="softmax", loss="cross_entropy", bias=False)
    n.params["W1"] = np.eye(2)  # predicts the larger coordinate
    X = np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, 3.0]])
    assert accuracy(n, X, np.array([0, 1, 0, 1])) == 1.0
    assert accuracy(n, X, np.array([0, 1, 1, 0])) == 0.5
    with pytest.raises(ValueError, match="4 columns"):
        accuracy(n, X, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"0\.\.1"):
        accuracy(n, X, np.array([0, 1, 0, 2]))


# -- the chapter's settings and data ----------------------------------------------------------------
def test_digits_settings_name_a_valid_run():
    st = DIGITS_SETTINGS
    assert st["sizes"][0] == 64 and st["sizes"][-1] == 10 and st["hidden"] == "relu"
    assert 0 < st["test_size"] < 1
    n = backprop.MLP(
        st["sizes"], hidden=st["hidden"], output="softmax", loss="cross_entropy", seed=st["seed"]
    )
    X, labels = np.random.default_rng(0).uniform(size=(64, 40)), np.arange(40) % 10
    sgd(
        n,
        X,
        one_hot(labels, 10),
        learning_rate=st["learning_rate"],
        batch_size=st["batch_size"],
        epochs=1,
        momentum=st["momentum"],
        seed=st["seed"],
    )


@pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None, reason="scikit-learn (a book dependency) missing"
)
def test_load_digits_split_is_scaled_stratified_and_fixed():
    from backprop.train import load_digits_split

    X_tr, l_tr, X_te, l_te = load_digits_split(0.25, 0)
    assert X_tr.shape == (64, 1347) and X_te.shape == (64, 450)
    assert l_tr.shape == (1347,) and l_te.shape == (450,)
    assert X_tr.min() == 0.0 and X_tr.max() == 1.0 and X_te.max() <= 1.0
    counts_tr, counts_te = np.bincount(l_tr, minlength=10), np.bincount(l_te, minlength=10)
    np.testing.assert_allclose(counts_te / 450, counts_tr / 1347, atol=0.01)  # stratified
    again = load_digits_split(0.25, 0)
    np.testing.assert_array_equal(again[3], l_te)  # the same split


def test_package_imports_without_scikit_learn(tmp_path):
    """train.py imports scikit-learn only inside load_digits_split."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sklearn'] = None\n"  # any `import sklearn` now fails
        "import backprop.train as t; print(t.one_hot([1, 0], 2).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[[0.0, 1.0], [1.0, 0.0]]"


def test_masked_labels_are_refused():
    from backprop.train import one_hot

    with pytest.raises(TypeError, match="masked"):
        one_hot(np.ma.masked_array([0, 1, 2], mask=[False, True, False]), 3)
