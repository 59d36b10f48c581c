import { tf, tensorflowBackend } from './tensorflow.js';

/** The quantiles the network predicts per horizon day: the 80 % range and the median. */
export const QUANTILES = [0.1, 0.5, 0.9] as const;
const Q = QUANTILES.length;

export interface NetworkShape {
  features: number;
  horizon: number;
  hidden: readonly number[];
}

/** Weights and topology as stored in the model registry (JSON + bytes). */
export interface SerializedNetwork {
  topology: object;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weights: Uint8Array;
}

/**
 * A multilayer perceptron over one feature row per (series, origin) with `horizon x 3` outputs: the scaled
 * 10 %, 50 % and 90 % quantiles of every horizon day, as corrections to the weekday-profile x level forecast
 * (residual learning: the forecaster adds them to the profile; a network that learned nothing forecasts the profile). Trained with the pinball loss, weighted per row (the
 * weight travels as the last column of the targets, so tfjs' plain fit() carries it).
 */
export class QuantileNetwork {
  private constructor(
    private readonly model: tf.LayersModel,
    readonly shape: NetworkShape,
  ) {}

  static async create(shape: NetworkShape, seed: number): Promise<QuantileNetwork> {
    await tensorflowBackend();
    const model = tf.sequential();
    shape.hidden.forEach((units, index) =>
      model.add(
        tf.layers.dense({
          ...(index === 0 ? { inputShape: [shape.features] } : {}),
          units,
          activation: 'relu',
          kernelInitializer: tf.initializers.heNormal({ seed: seed + index }),
        }),
      ),
    );
    model.add(tf.layers.dense({ units: shape.horizon * Q, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }) }));
    return new QuantileNetwork(model, shape);
  }

  static async load(serialized: SerializedNetwork, shape: NetworkShape): Promise<QuantileNetwork> {
    await tensorflowBackend();
    const weights = serialized.weights;
    const weightData = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer;
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: serialized.topology, weightSpecs: serialized.weightSpecs, weightData }));
    return new QuantileNetwork(model, shape);
  }

  /**
   * Trains on `rows` feature rows (`x`: rows x features) and targets (`y`: rows x (horizon + 1), the last column
   * the row's weight). Returns the final epoch's loss.
   */
  async fit(x: Float32Array, y: Float32Array, rows: number, options: { epochs: number; batchSize: number; learningRate: number }): Promise<number> {
    const { features, horizon } = this.shape;
    this.model.compile({ optimizer: tf.train.adam(options.learningRate), loss: pinballLoss(horizon) });
    const xs = tf.tensor2d(x.subarray(0, rows * features), [rows, features]);
    // tfjs wants targets as wide as the outputs: targets, then the weight, then zero padding.
    const width = horizon * Q;
    const padded = new Float32Array(rows * width);
    for (let row = 0; row < rows; row += 1) padded.set(y.subarray(row * (horizon + 1), (row + 1) * (horizon + 1)), row * width);
    const ys = tf.tensor2d(padded, [rows, width]);
    try {
      const history = await this.model.fit(xs, ys, { epochs: options.epochs, batchSize: options.batchSize, shuffle: true, verbose: 0 });
      const losses = history.history['loss'] ?? [];
      return Number(losses[losses.length - 1] ?? Number.NaN);
    } finally {
      xs.dispose();
      ys.dispose();
    }
  }

  /** Scaled quantiles for `rows` feature rows: rows x horizon x 3 (q10, q50, q90), sorted so they never cross. */
  predict(x: Float32Array, rows: number): Float32Array {
    const { features, horizon } = this.shape;
    const out = new Float32Array(rows * horizon * Q);
    const chunk = 8192;
    for (let first = 0; first < rows; first += chunk) {
      const count = Math.min(chunk, rows - first);
      const values = tf.tidy(() => {
        const input = tf.tensor2d(x.subarray(first * features, (first + count) * features), [count, features]);
        return (this.model.predict(input) as tf.Tensor).dataSync() as Float32Array;
      });
      out.set(values, first * horizon * Q);
    }
    for (let index = 0; index < rows * horizon; index += 1) {
      const base = index * Q;
      const a = out[base]!;
      const b = out[base + 1]!;
      const c = out[base + 2]!;
      out[base] = Math.min(a, b, c);
      out[base + 2] = Math.max(a, b, c);
      out[base + 1] = a + b + c - out[base]! - out[base + 2]!;
    }
    return out;
  }

  async serialize(): Promise<SerializedNetwork> {
    let saved: tf.io.ModelArtifacts | undefined;
    await this.model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    if (!saved?.modelTopology || !saved.weightSpecs || !saved.weightData) throw new Error('tfjs returned no model artifacts');
    const data = saved.weightData;
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(await new Blob(data.map((part) => new Uint8Array(part))).arrayBuffer());
    return { topology: saved.modelTopology as object, weightSpecs: saved.weightSpecs, weights: bytes };
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** Mean pinball loss over horizon days and quantiles, each row weighted by the targets' last column. */
function pinballLoss(horizon: number) {
  const levels = tf.tensor1d(Array.from({ length: horizon }, () => [...QUANTILES]).flat());
  return (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar =>
    tf.tidy(() => {
      const rows = yTrue.shape[0]!;
      const targets = yTrue.slice([0, 0], [rows, horizon]);
      const weight = yTrue.slice([0, horizon], [rows, 1]);
      // Each target repeated once per quantile, matching the output layout h0q0, h0q1, h0q2, h1q0, ...
      const repeated = targets
        .reshape([rows, horizon, 1])
        .tile([1, 1, Q])
        .reshape([rows, horizon * Q]);
      const error = repeated.sub(yPred);
      const loss = tf.maximum(error.mul(levels), error.mul(levels.sub(1)));
      return loss
        .mean(1)
        .mul(weight.reshape([rows]))
        .mean() as tf.Scalar;
    });
}
