import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

export type TensorFlow = typeof tf;

let ready: Promise<string> | undefined;

/**
 * TensorFlow.js with the fastest backend this machine has: the native one when `@tensorflow/tfjs-node` is installed
 * (its install script downloads libtensorflow, so it is not a dependency; operators add it where they can), else
 * WebAssembly (SIMD; multi-threading where the runtime offers it), else plain JavaScript. Resolves to the backend name.
 */
export function tensorflowBackend(): Promise<string> {
  ready ??= selectBackend();
  return ready;
}

async function selectBackend(): Promise<string> {
  // tfjs prints a banner recommending tfjs-node in Node.js; the choice is made here, deliberately.
  tf.env().set('PROD', true);
  const native = '@tensorflow/tfjs-node';
  try {
    // A variable specifier: the package is optional and absent from this workspace's dependencies.
    await import(native);
    if (await tf.setBackend('tensorflow')) return 'tensorflow';
  } catch {
    // Not installed (the usual case): WebAssembly next.
  }
  try {
    const require = createRequire(import.meta.url);
    setWasmPaths(`${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}${path.sep}`);
    if (await tf.setBackend('wasm')) return 'wasm';
  } catch {
    // WebAssembly failed to load: the JavaScript backend is slow but always works.
  }
  await tf.setBackend('cpu');
  return 'cpu';
}

export { tf };
