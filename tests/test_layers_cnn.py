"""backprop.layers.cnn: the small CNN's gradients (central differences, JAX) and its
training on the 8x8 digits."""

import jax_reference as jr
import numpy as np
import pytest

import backprop
from backprop.layers.cnn import CNN_DIGITS_SETTINGS, SmallCNN, as_images, sgd
from backprop.train import load_digits_split


def batch(B=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(B, 1, 8, 8)), rng.integers(0, 10, size=B)


def test_gradients_match_central_differences():
    net = SmallCNN(filters=3, seed=1)
    net.params["b"] = np.random.default_rng(2).standard_normal(3) * 0.1  # not all zero
    X, labels = batch()
    E, G = net.loss_and_gradients(X, labels)
    assert E == pytest.approx(net.loss(X, labels))
    report = backprop.gradcheck(lambda p: net.loss(X, labels, params=p), net.params, G, tol=1e-7)
    assert report.ok, str(report)


def test_as_images_puts_each_column_into_an_image():
    X_cols = np.arange(64 * 3, dtype=float).reshape(3, 64).T  # (64, 3)
    images = as_images(X_cols)
    assert images.shape == (3, 1, 8, 8)
    np.testing.assert_array_equal(images[2, 0], X_cols[:, 2].reshape(8, 8))
    with pytest.raises(ValueError, match=r"X_columns has shape \(63, 3\)"):
        as_images(X_cols[:63])


def test_bad_input_names_the_shapes():
    net = SmallCNN(filters=2)
    with pytest.raises(ValueError, match=r"X has shape \(2, 1, 7, 8\) but must be \(B, 1, 8, 8\)"):
        net.loss(np.zeros((2, 1, 7, 8)), np.array([0, 1]))
    with pytest.raises(ValueError, match="X holds 2 images but labels has 3 entries"):
        net.loss_and_gradients(np.zeros((2, 1, 8, 8)), np.array([0, 1, 2]))


def test_training_on_the_digits_reaches_97_percent_held_out():
    S = CNN_DIGITS_SETTINGS
    X_tr, l_tr, X_te, l_te = load_digits_split(S["test_size"], S["seed"])
    net = SmallCNN(S["filters"], seed=S["seed"])
    history = sgd(
        net,
        as_images(X_tr),
        l_tr,
        learning_rate=S["learning_rate"],
        batch_size=S["batch_size"],
        epochs=S["epochs"],
        momentum=S["momentum"],
        seed=S["seed"],
        validation=(as_images(X_te), l_te),
    )
    assert history.loss[-1] < history.loss[0] / 5
    assert history.val_accuracy[-1] == net.accuracy(as_images(X_te), l_te) >= 0.97


@pytest.mark.parametrize(
    "kw, err, match",
    [
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(learning_rate=float("inf")), ValueError, "learning_rate"),
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(epochs=1.5), ValueError, "epochs"),
        (dict(validation=(np.zeros((2, 1, 8, 8)),)), ValueError, "validation must be a pair"),
        (dict(validation=(np.zeros((2, 1, 8, 8)), np.array([0]))), ValueError, "2 images but labels has 1"),
    ],
)
def test_sgd_has_the_guards_of_the_training_loop(kw, err, match):
    X, labels = batch(6)
    args = dict(learning_rate=0.05, batch_size=4, epochs=1, momentum=0.9)
    with pytest.raises(err, match=match):
        sgd(SmallCNN(filters=2), X, labels, **{**args, **kw})


def test_sgd_stops_at_a_loss_that_is_not_finite():
    """The CNN's loss stays finite even at absurd learning rates (its logits are piecewise linear in
    the parameters and log_softmax is stable), so a NaN loss is injected to reach the guard."""
    net, (X, labels) = SmallCNN(filters=2), batch(8)
    gradients = net.loss_and_gradients
    net.loss_and_gradients = lambda X_b, l_b: (float("nan"), gradients(X_b, l_b)[1])
    with pytest.raises(FloatingPointError, match="the loss became nan in epoch 1"):
        sgd(net, X, labels, learning_rate=0.05, batch_size=4, epochs=3)


def test_matches_the_same_network_in_jax():
    net = SmallCNN(filters=4, seed=3)
    net.params["b"] = np.linspace(-0.1, 0.1, 4)
    X, labels = batch(7, seed=4)
    E, G = net.loss_and_gradients(X, labels)
    E_ref, G_ref = jr.value_and_grad(jr.small_cnn_loss, net.params, X, labels)
    assert E == pytest.approx(E_ref, rel=1e-12)
    for k in G:
        assert G[k].shape == net.params[k].shape, k
        np.testing.assert_allclose(G[k], G_ref[k], rtol=1e-10, atol=1e-13, err_msg=k)
