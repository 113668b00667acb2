"""The fine-tuning optimizer: layer-wise learning rates and the moving average of the weights."""

import numpy as np
import pytest

from pipeline.params import resolve_params


def _tiny_network(tiny_encoder):
    from pipeline.recipes.encoder import load_encoder
    from pipeline.recipes.transformer import build_network

    backbone, _ = load_encoder()
    return build_network(backbone, 3, 0.0)


def _batch(seed=0, n=8, length=12):
    rng = np.random.default_rng(seed)
    inputs = {
        "token_ids": rng.integers(5, 60, (n, length)).astype("int32"),
        "padding_mask": np.ones((n, length), bool),
        "segment_ids": np.zeros((n, length), "int32"),
    }
    return inputs, rng.integers(0, 3, n)


def test_each_weight_is_placed_by_its_layer(tiny_encoder):
    from pipeline.recipes.optimizer import depth_below_head

    network = _tiny_network(tiny_encoder)  # 2 transformer layers
    depths = {v.path: depth_below_head(v.path, 2) for v in network.trainable_variables}
    assert depths["head/kernel"] == 0
    assert depths["transformer_layer_1/feedforward_output_dense/kernel"] == 1
    assert depths["transformer_layer_0/self_attention_layer/query/kernel"] == 2
    assert depths["position_embedding/embeddings"] == 3
    assert depths["embeddings_layer_norm/gamma"] == 3
    assert set(depths.values()) == {0, 1, 2, 3}


def _first_steps(network, layer_decay):
    """Each trainable weight's largest change over one training step at a constant rate."""
    from pipeline.recipes.optimizer import make_optimizer

    params = resolve_params(
        {"architecture": "minilm", "learning_rate": 0.01, "warmup_share": 0.0,
         "weight_decay": 0.0, "layer_decay": layer_decay}
    )  # fmt: skip
    # A cosine decay over many steps: the first step's rate is the peak's to 1e-6.
    network.compile(
        optimizer=make_optimizer(params, 10**6, num_layers=2),
        loss="sparse_categorical_crossentropy",
    )
    before = [v.numpy().copy() for v in network.trainable_variables]
    x, y = _batch()
    network.train_on_batch(x, y)
    return {
        v.path: float(np.abs(v.numpy() - b).max())
        for v, b in zip(network.trainable_variables, before, strict=True)
    }


# One weight of each depth whose gradients are far above Adam's epsilon, so that Adam's
# first step moves its largest entry by the learning rate (the gradient's sign times it).
PROBES = {
    "head/kernel": 0,
    "transformer_layer_1/feedforward_output_dense/kernel": 1,
    "transformer_layer_0/feedforward_intermediate_dense/kernel": 2,
    "position_embedding/embeddings": 3,
}


def test_layer_decay_scales_each_layers_step(tiny_encoder):
    steps = _first_steps(_tiny_network(tiny_encoder), layer_decay=0.5)
    for path, depth in PROBES.items():
        assert steps[path] == pytest.approx(0.01 * 0.5**depth, rel=1e-3), path


def test_no_layer_decay_steps_as_keras_adamw(tiny_encoder):
    from pipeline.backend import keras

    network = _tiny_network(tiny_encoder)
    start = network.get_weights()
    ours = _first_steps(network, layer_decay=1.0)
    network.set_weights(start)
    network.compile(
        optimizer=keras.optimizers.AdamW(0.01, weight_decay=0.0, clipnorm=1.0),
        loss="sparse_categorical_crossentropy",
    )
    before = [v.numpy().copy() for v in network.trainable_variables]
    x, y = _batch()
    network.train_on_batch(x, y)
    keras_steps = {
        v.path: float(np.abs(v.numpy() - b).max())
        for v, b in zip(network.trainable_variables, before, strict=True)
    }
    for path in PROBES:
        assert ours[path] == pytest.approx(keras_steps[path], rel=1e-3), path
        assert ours[path] == pytest.approx(0.01, rel=1e-3), path


@pytest.mark.parametrize("patience", [0, 5])
def test_the_model_keeps_the_moving_average_of_its_weights(patience):
    """Validation and the fitted model see the average of the steps' weights, not the last."""
    from pipeline.backend import keras
    from pipeline.recipes.fitting import training_callbacks
    from pipeline.recipes.optimizer import averaging_callbacks, make_optimizer

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    params = resolve_params(
        {"architecture": "minilm", "learning_rate": 0.05, "warmup_share": 0.0,
         "weight_decay": 0.0, "ema_momentum": 0.8, "epochs": 3, "patience": patience}
    )  # fmt: skip
    model.compile(
        optimizer=make_optimizer(params, 30, num_layers=0), loss="sparse_categorical_crossentropy"
    )
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 4)).astype("float32"), rng.integers(0, 3, 40)
    start = [w.copy() for w in model.get_weights()]
    steps = []

    class RecordSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append([w.copy() for w in self.model.get_weights()])

    import threading

    history = model.fit(
        x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, validation_data=(x, y),
        callbacks=[RecordSteps(), *averaging_callbacks(params),
                   *training_callbacks(params, None, threading.Event())],
    )  # fmt: skip
    assert len(steps) == 30
    # Keras's average: the first step's weights, then a = 0.8 a + 0.2 w after each step.
    average = [w.copy() for w in start]
    per_epoch = []
    for step, weights in enumerate(steps):
        average = [
            w if step == 0 else 0.8 * a + 0.2 * w for a, w in zip(average, weights, strict=True)
        ]
        if step % 10 == 9:
            per_epoch.append([a.copy() for a in average])
    # The history's validation loss at each epoch is the average's.
    for weights, val_loss in zip(per_epoch, history.history["val_loss"], strict=True):
        scratch = keras.models.clone_model(model)
        scratch.set_weights(weights)
        scratch.compile(loss="sparse_categorical_crossentropy")
        assert scratch.evaluate(x, y, verbose=0) == pytest.approx(val_loss, rel=1e-4)
    # The model ends with the average of the best epoch (the last one when not stopping).
    best = int(np.argmin(history.history["val_loss"])) if patience else 2
    for got, expected in zip(model.get_weights(), per_epoch[best], strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.get_weights()[0], steps[-1][0])  # not the last step's
