"""backprop.layers.tiny_transformer: the hand-derived gradients of the whole model against
JAX's autodiff (at several steps of a training run, whose loss must fall) and against central
differences; the embedding's scatter-add; the task generator; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_layers_transformer_block import block_jax

import backprop
from backprop.layers import tiny_transformer as tt

jax.config.update("jax_enable_x64", True)


def loss_jax(params, tokens, targets, heads, causal):
    """The model from its definition: embeddings looked up, the block, logits, mean
    cross-entropy with jax.nn.log_softmax."""
    T = tokens.shape[1]
    X0 = jnp.take(params["Emb"], tokens, axis=0) + params["Pos"][:T]
    X1 = block_jax(X0, *(params[k] for k in tt.BLOCK_PARAMS), heads, causal)
    logp = jax.nn.log_softmax(X1 @ params["Wout"].T + params["bout"], axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, targets[..., None], axis=-1))


def test_trains_on_reversed_digits_and_every_checked_gradient_matches_jax():
    T, steps = 6, 120
    tokens, targets = tt.reverse_digits(1000, T, seed=0)
    net = tt.TinyTransformer(vocab=10, T_max=T, d=16, heads=2, causal=False, seed=0)
    grad_jax = jax.jit(jax.value_and_grad(loss_jax), static_argnums=(3, 4))
    checked = []

    def check(step, tokens_b, targets_b, E, grads):  # before the update: net.params are
        if step % 40 == 0 or step == steps - 1:  # those the gradients belong to
            E_ref, g_ref = grad_jax(net.params, tokens_b, targets_b, 2, False)
            assert abs(E - float(E_ref)) <= 1e-12 * abs(float(E_ref)), step
            assert set(grads) == set(g_ref) == set(net.params)
            for k, g in grads.items():
                np.testing.assert_allclose(
                    g, np.asarray(g_ref[k]), rtol=1e-9, atol=1e-12, err_msg=f"step {step}, {k}"
                )
            checked.append(step)

    history = tt.sgd(
        net, tokens, targets, learning_rate=0.05, batch_size=32, steps=steps, seed=0, callback=check
    )
    assert checked == [0, 40, 80, 119]
    # measured: 2.53 over the first 5 steps, 0.05 at step 50, 2e-4 over the last 10; accuracy 1.0
    first, last = np.mean(history.loss[:5]), np.mean(history.loss[-10:])
    assert first > 2.0 and last < 0.05 * first, (first, last)
    test_tokens, test_targets = tt.reverse_digits(500, T, seed=1)
    assert net.accuracy(test_tokens, test_targets) > 0.95


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_central_differences(causal):
    net = tt.TinyTransformer(vocab=5, T_max=4, d=4, heads=2, causal=causal, seed=1)
    rng = np.random.default_rng(2)
    tokens, targets = rng.integers(0, 5, (2, 3)), rng.integers(0, 5, (2, 3))
    tokens[0, :2] = 4  # token 4 twice: its Emb rows add up
    E, grads = net.loss_and_gradients(tokens, targets)
    report = backprop.gradcheck(lambda p: net.loss(tokens, targets, params=p), net.params, grads)
    assert report.ok, str(report)
    unused = sorted(set(range(5)) - set(tokens.ravel()))
    assert unused and np.all(grads["Emb"][unused] == 0)
    assert np.all(grads["Pos"][3:] == 0)  # position 3 is beyond T = 3


def test_the_task_is_reversal():
    tokens, targets = tt.reverse_digits(4, 5, seed=3)
    assert tokens.shape == targets.shape == (4, 5) and tokens.dtype.kind == "i"
    assert np.array_equal(targets, tokens[:, ::-1]) and tokens.min() >= 0 and tokens.max() <= 9
    assert np.array_equal(tt.reverse_digits(4, 5, seed=3)[0], tokens)


@pytest.mark.parametrize(
    "tokens, error, match",
    [
        (np.zeros((2, 3)), TypeError, r"tokens must be a non-empty 2-D integer array \(B, T\)"),
        (np.zeros(3, dtype=int), TypeError, "2-D integer array"),
        (np.full((2, 3), 10), ValueError, r"tokens must lie in 0..9"),
        (
            np.zeros((2, 9), dtype=int),
            ValueError,
            "T = 9 positions but the model has position embeddings for T_max = 8",
        ),
    ],
)
def test_bad_tokens_get_a_clear_error(tokens, error, match):
    with pytest.raises(error, match=match):
        tt.TinyTransformer().forward(tokens)


def test_bad_targets_and_settings_get_a_clear_error():
    net = tt.TinyTransformer()
    tokens = np.zeros((2, 3), dtype=int)
    with pytest.raises(ValueError, match=r"targets has shape \(2, 2\) but tokens has shape \(2, 3\)"):
        net.loss_and_gradients(tokens, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="heads must divide d"):
        tt.TinyTransformer(d=6, heads=4)
    with pytest.raises(ValueError, match="momentum must be a number in"):
        tt.sgd(net, tokens, tokens, learning_rate=0.1, batch_size=2, steps=1, momentum=1.0)
