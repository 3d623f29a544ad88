import { describe, expect, it } from 'vitest';
import { OwnMatMulProgram, planMatMul } from '../../src/engine/webgpuKernels';

const f32 = (shape: number[]) => ({ shape, dtype: 'float32' as const });

describe('which products our webgpu matmul takes', () => {
  it('takes a linear forward x·Wᵀ, reading both operands as vec4 along the inner axis', () => {
    const plan = planMatMul(f32([1024, 128]), f32([512, 128]), false, true)!;
    expect(plan).toMatchObject({ batch: 1, rows: 1024, columns: 512, inner: 128 });
    expect([plan.vectorA, plan.vectorB, plan.vectorOut]).toEqual([true, true, true]);
    expect(plan.outShape).toEqual([1024, 512]);
  });

  it('reads a transposed A as vec4 along its rows, and falls back to scalars on odd sizes', () => {
    const transposed = planMatMul(f32([1024, 128]), f32([1024, 512]), true, false)!;
    expect([transposed.rows, transposed.inner, transposed.vectorA]).toEqual([128, 1024, true]);
    const odd = planMatMul(f32([37, 50]), f32([37, 45]), true, false)!;
    expect([odd.vectorA, odd.vectorB, odd.vectorOut]).toEqual([false, false, false]);
  });

  it('gives outputs at most 32 wide a narrower tile', () => {
    const wide = planMatMul(f32([1024, 128]), f32([512, 128]), false, true)!.tile;
    const narrow = planMatMul(f32([8, 128, 128]), f32([8, 128, 32]), false, false)!.tile;
    expect([wide.rows, wide.columns]).toEqual([64, 64]);
    expect([narrow.rows, narrow.columns]).toEqual([64, 32]);
    const wideProgram = new OwnMatMulProgram(
      planMatMul(f32([1024, 128]), f32([512, 128]), false, true)!,
    );
    const narrowProgram = new OwnMatMulProgram(
      planMatMul(f32([8, 128, 128]), f32([8, 128, 32]), false, false)!,
    );
    expect(wideProgram.workgroupSize).toEqual([8, 8, 1]);
    expect(narrowProgram.dispatch).toEqual([1, 2, 8]);
    expect(narrowProgram.shaderKey).not.toBe(wideProgram.shaderKey);
  });

  it('broadcasts one batch against many, and keeps the broadcast batch shape', () => {
    expect(planMatMul(f32([4, 33, 20]), f32([20, 17]), false, false)!.outShape).toEqual([
      4, 33, 17,
    ]);
    expect(planMatMul(f32([2, 3, 17, 29]), f32([1, 1, 29, 21]), false, false)!.batch).toBe(6);
  });

  it('leaves to tfjs other dtypes, other broadcasts and matrix-vector products', () => {
    expect(planMatMul({ shape: [32, 32], dtype: 'int32' }, f32([32, 32]), false, false)).toBeNull();
    expect(planMatMul(f32([2, 32, 32]), f32([3, 32, 32]), false, false)).toBeNull();
    // Token-by-token decoding: one row.
    expect(planMatMul(f32([1, 128]), f32([512, 128]), false, true)).toBeNull();
  });

  it('names each variant of the shader by everything its code depends on', () => {
    const keys = new Set(
      [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ].map(
        ([a, b]) =>
          new OwnMatMulProgram(planMatMul(f32([64, 64]), f32([64, 64]), a!, b!)!).shaderKey,
      ),
    );
    expect(keys.size).toBe(4);
  });
});
