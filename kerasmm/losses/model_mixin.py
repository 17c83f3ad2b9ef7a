"""Route a contrastive loss and metrics to the whole output dict of a model."""

import keras
from keras import ops

from kerasmm.losses.contrastive_loss import ContrastiveLoss


class ContrastiveLossMixin:
    """Mixin that lets `compile` / `fit` use kerasmm contrastive losses.

    A contrastive model returns a dict (`{"image_embeddings",
    "text_embeddings", "logit_scale", ...}`) and its loss needs all of it at
    once. Keras' `compile(loss=...)` would instead apply a single loss to
    *each* entry of a dict output, and its metrics likewise. Mix this class
    in front of `keras.Model` to get:

    - `compute_loss`: when the compiled loss is a
      `kerasmm.losses.ContrastiveLoss`, it is called with the whole `y_pred`
      dict (and `y`, which may be `None`: datasets may yield features
      only), plus the model's own losses (regularisers, `add_loss`) as
      Keras' `Trainer.compute_loss` adds them. Any other loss goes to Keras
      unchanged.
    - `compile(metrics=[...])`: metrics whose class sets
      `takes_output_dict = True` (such as `kerasmm.metrics.RecallAtK`) are
      kept aside, updated with the whole `y_pred` dict in
      `compute_metrics`, listed in `model.metrics` (so they appear in `fit`
      and `evaluate` logs and are reset each epoch); other metrics go to
      Keras as usual.

    Works with `fit` and `evaluate` on TensorFlow (with any
    `tf.distribute` strategy) and JAX.

    Example:

    ```python
    class TwoTowers(kerasmm.losses.ContrastiveLossMixin, keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.image_tower = keras.layers.Dense(8)
            self.text_tower = keras.layers.Dense(8)
            self.logit_scale = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(2.6592))

        def call(self, inputs):
            return {
                "image_embeddings": keras.ops.normalize(
                    self.image_tower(inputs["images"]), axis=-1),
                "text_embeddings": keras.ops.normalize(
                    self.text_tower(inputs["texts"]), axis=-1),
                "logit_scale": keras.ops.convert_to_tensor(self.logit_scale),
            }

    model = TwoTowers()
    model.compile(
        optimizer="adam",
        loss=kerasmm.losses.CLIPLoss(),
        metrics=[kerasmm.metrics.RecallAtK(k=1)],
    )
    # model.fit(dataset_of_feature_dicts, epochs=1)
    ```
    """

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None,
                metrics=None, weighted_metrics=None, **kwargs):
        output_dict_metrics, other_metrics = _split_metrics(metrics)
        contrastive = isinstance(loss, ContrastiveLoss)
        if contrastive and loss_weights is not None and (
            isinstance(loss_weights, bool)
            or not isinstance(loss_weights, (int, float))
        ):
            raise ValueError(
                "With a ContrastiveLoss, loss_weights must be None or a "
                f"number. Received: loss_weights={loss_weights}"
            )
        super().compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=None if contrastive else loss_weights,
            metrics=other_metrics,
            weighted_metrics=weighted_metrics,
            **kwargs,
        )
        if contrastive:
            # Keras' CompileLoss would map the loss onto each output entry;
            # compute_loss calls `self.loss` on the whole dict instead.
            self._compile_loss = None
        # object.__setattr__: no Keras attribute tracking, so recompiling
        # replaces these metrics instead of accumulating them.
        object.__setattr__(self, "_output_dict_metrics",
                           tuple(output_dict_metrics))
        object.__setattr__(self, "_contrastive_loss_weight",
                           loss_weights if contrastive else None)
        object.__setattr__(self, "_user_compile_metrics", metrics)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        if not isinstance(self.loss, ContrastiveLoss):
            return super().compute_loss(
                x, y, y_pred, sample_weight, training=training
            )
        # Loss.__call__ averages over the local batch and divides by the
        # number of replicas, as Keras' CompileLoss would.
        loss = ops.cast(self.loss(y, y_pred, sample_weight), "float32")
        weight = getattr(self, "_contrastive_loss_weight", None)
        if weight is not None:
            loss = loss * weight
        losses = [loss]
        for extra in self.losses:
            losses.append(
                ops.cast(self._aggregate_additional_loss(extra), "float32")
            )
        return losses[0] if len(losses) == 1 else ops.sum(ops.stack(losses))

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        for metric in getattr(self, "_output_dict_metrics", ()):
            metric.update_state(y, y_pred)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    @property
    def metrics(self):
        metrics = super().metrics
        if self.compiled:
            metrics = metrics + list(getattr(self, "_output_dict_metrics", ()))
        return metrics

    def get_compile_config(self):
        config = super().get_compile_config()
        if config and getattr(self, "_output_dict_metrics", ()):
            config["metrics"] = keras.saving.serialize_keras_object(
                self._user_compile_metrics
            )
        return config

    def compile_from_config(self, config):
        # Keras skips models that override `compile`; this one knows how.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)


def _split_metrics(metrics):
    """Splits `metrics` into (output-dict metrics, the rest for Keras)."""
    if not isinstance(metrics, (list, tuple)):
        return [], metrics
    output_dict = [m for m in metrics if getattr(m, "takes_output_dict", False)]
    rest = [m for m in metrics if not getattr(m, "takes_output_dict", False)]
    return output_dict, (rest or None)
