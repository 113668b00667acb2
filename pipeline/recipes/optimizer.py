"""The fine-tuning optimizer: AdamW, warm-up then cosine decay, layer-wise rates, weight EMA.

As BERT fine-tuning uses it: AdamW with decoupled weight decay (not on biases and layer
norms), a linear warm-up to the peak learning rate then cosine decay to 0, and gradient
clipping. Two options from the fine-tuning literature, both off by default:

- layer-wise learning-rate decay (`layer_decay`, ELECTRA's and "Revisiting Few-sample BERT
  Fine-tuning"'s LLRD): the head trains at the peak rate, each encoder layer below it at
  `layer_decay` times the rate of the layer above, the embeddings lowest, so the general
  features of the lower layers move least;
- an exponential moving average of the weights (`ema_momentum`, Polyak averaging, Keras's
  own `use_ema`): validation, early stopping and the saved model see the average.
"""

import re

from pipeline.backend import keras

# Weight decay is not applied to these (as in BERT): biases and layer-norm scales/offsets.
NO_DECAY = ["bias", "gamma", "beta"]
# keras-hub's BertBackbone names its blocks transformer_layer_<i>, i = 0 at the bottom; its
# embeddings are token_embedding, position_embedding, segment_embedding and their norm.
_LAYER = re.compile(r"(?:^|/)transformer_layer_(\d+)/")
_EMBEDDINGS = re.compile(r"(?:^|/)(?:token_embedding|position_embedding|segment_embedding|"
                         r"embeddings_layer_norm)/")  # fmt: skip


def depth_below_head(path: str, num_layers: int) -> int:
    """How many encoder layers lie between a weight and the head: 0 for the head itself.

    Args:
        path: the Keras variable's path, e.g. "transformer_layer_3/.../kernel".
        num_layers: the encoder's number of transformer layers.

    Returns:
        num_layers - i for a weight of transformer layer i, num_layers + 1 for the
        embeddings, 0 for anything else (the head, the pooler).
    """
    layer = _LAYER.search(path)
    if layer:
        return num_layers - int(layer.group(1))
    return num_layers + 1 if _EMBEDDINGS.search(path) else 0


@keras.saving.register_keras_serializable(package="sentiment")
class LayerwiseAdamW(keras.optimizers.AdamW):
    """AdamW whose step for each weight is the schedule's rate times layer_decay ** depth.

    The decoupled weight decay keeps AdamW's own (the schedule's rate for every weight): at
    0.01 over a few hundred steps it shrinks a weight by well under 0.1 %.

    Args:
        num_layers: the encoder's transformer layers (see depth_below_head).
        layer_decay: the factor per layer; 1.0 gives AdamW's steps exactly.
        **kwargs: AdamW's arguments.
    """

    def __init__(self, num_layers: int, layer_decay: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.layer_decay = layer_decay
        self._rate_factors: list[float] = []

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # update_step receives the backend's variables, which have no Keras path: the
        # factors are looked up by the optimizer's own variable index.
        self._rate_factors = [self.rate_factor(v.path) for v in var_list]

    def rate_factor(self, path: str) -> float:
        """The multiplier of the schedule's learning rate for the weight at `path`."""
        return self.layer_decay ** depth_below_head(path, self.num_layers)

    def update_step(self, gradient, variable, learning_rate):
        factor = self._rate_factors[self._get_variable_index(variable)]
        super().update_step(gradient, variable, learning_rate * factor)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "layer_decay": self.layer_decay,
        }


def make_optimizer(params, total_steps: int, num_layers: int) -> keras.optimizers.Optimizer:
    """The fine-tuning optimizer for `params`, over `total_steps` steps.

    Args:
        params: validated hyperparameters (recipes.transformer.MinilmParams: learning_rate,
            warmup_share, weight_decay, layer_decay, ema_momentum).
        total_steps: the steps of the whole run, for the schedule.
        num_layers: the encoder's transformer layers.
    """
    warmup = int(round(params.warmup_share * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else params.learning_rate,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=params.learning_rate if warmup else None,
        warmup_steps=warmup,
    )
    momentum = params.ema_momentum
    optimizer = LayerwiseAdamW(
        num_layers,
        params.layer_decay,
        learning_rate=schedule,
        weight_decay=params.weight_decay,
        clipnorm=1.0,
        use_ema=momentum > 0,
        ema_momentum=momentum if momentum > 0 else 0.99,
    )
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    return optimizer


def averaging_callbacks(params) -> list:
    """With weight averaging on, the callback that puts the average in the model at each
    epoch's end and for validation; it must come before early stopping, so that the best
    weights kept (and restored) are the average's."""
    if params.ema_momentum <= 0:
        return []
    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]
