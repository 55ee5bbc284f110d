/**
 * L2-regularised logistic regression, fitted by Newton's method (IRLS) on
 * standardised features.
 *
 * Newton rather than gradient descent because the demo model has a handful of
 * features: each step costs one pass over the data plus a tiny linear solve,
 * it converges in under ten steps to machine precision, and there is no
 * learning rate to tune. Converging fully also matters for reproducibility:
 * the result is the optimum, not wherever an iteration budget ran out.
 */

/** Per-feature mean and standard deviation used to standardise inputs. */
export interface Standardiser {
  readonly means: readonly number[];
  readonly stds: readonly number[];
}

/** Numerically stable logistic function. */
export function sigmoid(z: number): number {
  // exp of a large positive number overflows; evaluate on the safe side.
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Fits means and (population) standard deviations column by column. A
 * constant column gets std 1 so standardising it yields zeros instead of NaN.
 */
export function fitStandardiser(rows: readonly (readonly number[])[]): Standardiser {
  const d = rows[0]?.length ?? 0;
  const means = new Array<number>(d).fill(0);
  const stds = new Array<number>(d).fill(0);
  for (const row of rows) for (let j = 0; j < d; j += 1) means[j]! += row[j] ?? 0;
  for (let j = 0; j < d; j += 1) means[j]! /= rows.length;
  for (const row of rows) {
    for (let j = 0; j < d; j += 1) {
      const diff = (row[j] ?? 0) - means[j]!;
      stds[j]! += diff * diff;
    }
  }
  for (let j = 0; j < d; j += 1) {
    const std = Math.sqrt(stds[j]! / rows.length);
    stds[j] = std > 0 ? std : 1;
  }
  return { means, stds };
}

/** Applies a standardiser to one row. */
export function standardise(row: readonly number[], s: Standardiser): number[] {
  return row.map((value, j) => (value - (s.means[j] ?? 0)) / (s.stds[j] ?? 1));
}

/** Options of `fitLogistic`. */
export interface LogisticOptions {
  /** L2 penalty on the weights (not the bias), on the mean-loss scale. */
  readonly l2: number;
  /** Newton step limit. */
  readonly maxIterations?: number;
  /** Stop once no parameter moves by more than this. */
  readonly tolerance?: number;
}

/** A fitted model on standardised features. */
export interface LogisticFit {
  readonly weights: readonly number[];
  readonly bias: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** Final value of the penalised objective. */
  readonly objective: number;
}

/**
 * Fits `p(y) = sigmoid(bias + weights · x)` by minimising the mean log-loss
 * plus `l2 / 2 · |weights|²`. Rows must already be standardised.
 */
export function fitLogistic(
  rows: readonly (readonly number[])[],
  labels: readonly boolean[],
  options: LogisticOptions,
): LogisticFit {
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  const k = d + 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-10;
  // Design matrix, row-major, with a trailing column of ones for the bias.
  // A flat typed array keeps the hot loops free of nested-array lookups.
  const x = new Float64Array(n * k);
  const y = new Float64Array(n);
  rows.forEach((row, i) => {
    for (let j = 0; j < d; j += 1) x[i * k + j] = row[j] ?? 0;
    x[i * k + d] = 1;
    y[i] = labels[i] ? 1 : 0;
  });
  // Parameter vector: d weights, then the bias (index d).
  let theta: Float64Array = new Float64Array(k);

  const margin = (params: Float64Array, i: number): number => {
    let z = 0;
    for (let j = 0; j < k; j += 1) z += params[j]! * x[i * k + j]!;
    return z;
  };

  const objective = (params: Float64Array): number => {
    let loss = 0;
    for (let i = 0; i < n; i += 1) {
      const z = margin(params, i);
      // log(1 + e^z) - y·z, written to avoid overflow for large |z|.
      const softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
      loss += softplus - y[i]! * z;
    }
    let penalty = 0;
    for (let j = 0; j < d; j += 1) penalty += params[j]! ** 2;
    return loss / n + (options.l2 / 2) * penalty;
  };

  let current = objective(theta);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    iterations += 1;
    const gradient = new Float64Array(k);
    const hessian = new Float64Array(k * k);
    for (let i = 0; i < n; i += 1) {
      const p = sigmoid(margin(theta, i));
      const residual = p - y[i]!;
      const w = p * (1 - p);
      const base = i * k;
      for (let a = 0; a < k; a += 1) {
        const xa = x[base + a]!;
        gradient[a]! += residual * xa;
        // The Hessian is symmetric; accumulate the lower triangle only.
        const wxa = w * xa;
        for (let b = 0; b <= a; b += 1) hessian[a * k + b]! += wxa * x[base + b]!;
      }
    }
    const g: number[] = [];
    const h: number[][] = [];
    for (let a = 0; a < k; a += 1) {
      g.push(gradient[a]! / n + (a < d ? options.l2 * theta[a]! : 0));
      const row: number[] = [];
      for (let b = 0; b < k; b += 1) {
        const value = hessian[a >= b ? a * k + b : b * k + a]! / n;
        row.push(a === b && a < d ? value + options.l2 : value);
      }
      h.push(row);
    }
    const step = solveSymmetric(h, g);
    // Damped Newton: halve the step while it would increase the objective.
    // Logistic loss rarely needs it, but it makes convergence unconditional.
    let scale = 1;
    const move = (s: number): Float64Array => theta.map((t, j) => t - s * step[j]!);
    let candidate = move(scale);
    let value = objective(candidate);
    while (value > current && scale > 1e-6) {
      scale /= 2;
      candidate = move(scale);
      value = objective(candidate);
    }
    const largestMove = Math.max(...step.map((s) => Math.abs(s * scale)));
    theta = candidate;
    current = value;
    converged = largestMove < tolerance;
  }
  return { weights: Array.from(theta.subarray(0, d)), bias: theta[d]!, iterations, converged, objective: current };
}

/**
 * Solves `A x = b` for a symmetric positive-definite `A` by Cholesky
 * decomposition. The penalised logistic Hessian is always positive definite
 * (the penalty lifts every weight direction; the bias direction is covered as
 * long as some prediction is not exactly 0 or 1).
 */
export function solveSymmetric(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i += 1) {
    for (let j = 0; j <= i; j += 1) {
      let sum = a[i]![j]!;
      for (let k = 0; k < j; k += 1) sum -= l[i]![k]! * l[j]![k]!;
      if (i === j) {
        if (!(sum > 0)) throw new Error('matrix is not positive definite');
        l[i]![i] = Math.sqrt(sum);
      } else {
        l[i]![j] = sum / l[j]![j]!;
      }
    }
  }
  // Forward substitution (L y = b), then back substitution (Lᵀ x = y).
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i += 1) {
    let sum = b[i]!;
    for (let k = 0; k < i; k += 1) sum -= l[i]![k]! * y[k]!;
    y[i] = sum / l[i]![i]!;
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i -= 1) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k += 1) sum -= l[k]![i]! * x[k]!;
    x[i] = sum / l[i]![i]!;
  }
  return x;
}
