/**
 * `variableGrads` that frees memory as backpropagation goes.
 *
 * tfjs's own (`tf.variableGrads`, engine.gradients in tfjs-core 4.22) walks the gradient tape
 * backwards and keeps everything until the walk ends: every tensor a kernel saved for its
 * gradient, and the gradient of every intermediate tensor. At the peak of a training step a
 * model's whole forward pass and almost its whole backward pass are alive at once. The walk here
 * is the same, node by node in reverse, with the same checks, but it lets go of a node's saved
 * tensors and of its outputs' gradients as soon as that node's input gradients are computed, and
 * of the saved tensors of nodes that lie off the path from the variables to the loss before it
 * starts. The gradients are the very same tensors' sums, so the result equals tfjs's exactly.
 *
 * tfjs exposes no hook for this; the tape is the engine's own state (`startTape`, `endTape`,
 * `state.activeTape`), which tfjs 4.22, its last release, will not change.
 */
import * as tf from '@tensorflow/tfjs';

/** One recorded kernel call, as tfjs-core's tape.ts defines it. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

/** The parts of tfjs's Engine this walk needs. */
interface EngineTape {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
}

/**
 * The nodes on a path from one of `xs` to `y`, in tape order, each with only the inputs that
 * depend on `xs` (tfjs's getFilteredNodesXToY).
 */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromXs = new Set(xs.map((x) => x.id));
  const nodesFromXs = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromXs.has(input.id))) {
      nodesFromXs.add(node.id);
      for (const output of node.outputs) fromXs.add(output.id);
    }
  }
  const leadToY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((output) => leadToY.has(output.id))) {
      nodesToY.add(node.id);
      for (const input of Object.values(node.inputs)) leadToY.add(input.id);
    }
  }
  return tape
    .filter((node) => nodesFromXs.has(node.id) && nodesToY.has(node.id))
    .map((node) => ({
      ...node,
      inputs: Object.fromEntries(
        Object.entries(node.inputs).filter(([, input]) => fromXs.has(input.id)),
      ),
    }));
}

function disposeSaved(node: TapeNode): void {
  for (const tensor of node.saved ?? []) tensor.dispose();
}

/** Walks `path` backwards from `y`'s gradient (ones), accumulating into `gradients` by id. */
function backpropagate(path: TapeNode[], gradients: Map<number, tf.Tensor>): void {
  for (let i = path.length - 1; i >= 0; i--) {
    const node = path[i]!;
    if (!node.gradient) {
      throw new Error(
        `Cannot compute gradient: gradient function not found for ${node.kernelName}.`,
      );
    }
    const dys = node.outputs.map((output) => gradients.get(output.id) ?? null);
    const inputGradients = node.gradient(dys);
    const kept = new Set<tf.Tensor>();
    for (const [name, x] of Object.entries(node.inputs)) {
      const gradientOf = inputGradients[name];
      if (!gradientOf) {
        throw new Error(
          `Cannot backprop through input ${name}. ` +
            `Available gradients found: ${Object.keys(inputGradients)}.`,
        );
      }
      const dx = tf.tidy(gradientOf);
      if (dx.dtype !== 'float32') {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have ` +
            `'float32' dtype, but has '${dx.dtype}'`,
        );
      }
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has ` +
            `shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      // A tensor already stored for another input stays that input's: each gradient is disposed
      // on its own when used up.
      const fresh = kept.has(dx) ? dx.clone() : dx;
      const previous = gradients.get(x.id);
      if (previous) {
        gradients.set(x.id, tf.add(previous, fresh));
        previous.dispose();
        if (!dys.includes(fresh)) fresh.dispose();
      } else {
        gradients.set(x.id, fresh);
      }
      kept.add(gradients.get(x.id)!);
    }
    // Each tensor is the output of one node only: its gradient is used up.
    for (const [index, output] of node.outputs.entries()) {
      const dy = dys[index];
      if (dy && !kept.has(dy)) dy.dispose();
      gradients.delete(output.id);
    }
    disposeSaved(node);
  }
}

/**
 * The value of `loss` (a scalar) and its gradient with respect to each trainable variable of
 * `variables` that it depends on, keyed by variable name (null for a frozen one), as
 * `tf.variableGrads` returns them.
 */
export function variableGrads(
  loss: () => tf.Scalar,
  variables: tf.Variable[],
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const trainable = variables.filter((variable) => variable.trainable);
  if (trainable.length === 0) {
    throw new Error(
      `variableGrads() expects at least one of the input variables to be trainable, but none ` +
        `of the ${variables.length} variables is trainable.`,
    );
  }
  const engine = tf.engine() as unknown as EngineTape;
  if (engine.state.gradientDepth !== 0) {
    throw new Error('variableGrads() cannot run inside another gradient computation.');
  }
  engine.startTape();
  let value: tf.Scalar;
  try {
    value = tf.tidy(loss);
  } catch (error) {
    for (const node of engine.state.activeTape ?? []) disposeSaved(node);
    engine.state.activeTape = null;
    throw error;
  } finally {
    engine.endTape();
  }
  const tape = engine.state.activeTape ?? [];
  engine.state.activeTape = null;
  try {
    if (value.rank !== 0) {
      throw new Error(
        `The f passed in variableGrads(f) must return a scalar, but it returned a rank-` +
          `${value.rank} tensor`,
      );
    }
    const path = nodesFromXsToY(tape, trainable, value);
    const onPath = new Set(path.map((node) => node.id));
    for (const node of tape) if (!onPath.has(node.id)) disposeSaved(node);
    const grads = tf.tidy(() => {
      const gradients = new Map<number, tf.Tensor>([[value.id, tf.onesLike(value)]]);
      try {
        backpropagate(path, gradients);
      } catch (error) {
        tf.dispose([...gradients.values()]);
        throw error;
      }
      const named: tf.NamedTensorMap = {};
      for (const variable of trainable) {
        const gradient = gradients.get(variable.id);
        if (gradient) named[variable.name] = gradient;
      }
      return named;
    });
    if (Object.keys(grads).length === 0) {
      throw new Error(
        'Cannot find a connection between any variable and the result of the loss function ' +
          'y=f(x). Please make sure the operations that use variables are inside the function f ' +
          'passed to minimize().',
      );
    }
    // As tfjs does: a frozen variable that was asked for gets null.
    for (const variable of variables) {
      if (!variable.trainable) grads[variable.name] = null as unknown as tf.Tensor;
    }
    return { value, grads };
  } catch (error) {
    value.dispose();
    throw error;
  } finally {
    for (const node of tape) disposeSaved(node);
  }
}
