/**
 * Trains the demo fraud model and writes `src/demo/fraud-model.json`.
 *
 *   node dist/demo/train.js [--seed 20250101] [--samples 40000] [--out path] [--check]
 *
 * The output is a pure function of the seed and sample count: no timestamps,
 * no host details, and numbers rounded to a fixed number of significant
 * digits, so retraining reproduces the committed file byte for byte. `--check`
 * retrains and compares instead of writing, for CI.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateDataset, splitDataset, type LabelledTransaction } from './dataset.js';
import {
  fraudProbability,
  MODEL_FORMAT,
  type FraudModelFile,
  type ModelParameters,
  type RecordedMetrics,
} from './fraud-model.js';
import { isMainModule } from './is-main.js';
import { fitLogistic, fitStandardiser, standardise } from './logistic.js';
import { evaluate } from './metrics.js';
import { FEATURE_NAMES, featureVector } from './transaction.js';

/** Training parameters. */
export interface TrainingOptions {
  readonly seed: number;
  readonly samples: number;
  /** Share of rows held out for the test metrics. */
  readonly testFraction: number;
  /** L2 penalty (mean-loss scale). */
  readonly l2: number;
  /** Decision threshold stored in the file and used for precision/recall. */
  readonly threshold: number;
}

/** The parameters the committed weights file was produced with. */
export const DEFAULT_TRAINING: TrainingOptions = {
  seed: 20250101,
  samples: 40_000,
  testFraction: 0.2,
  l2: 1e-3,
  threshold: 0.5,
};

/** Where `train.js` writes by default: `src/demo/fraud-model.json` in the package. */
export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../../src/demo/fraud-model.json', import.meta.url));

// Ten significant digits survive any plausible last-bit difference in libm
// between machines while keeping the model exact for every practical purpose.
const significant = (value: number): number => Number(value.toPrecision(10)) + 0;
const fixed = (value: number): number => Math.round(value * 1e6) / 1e6 + 0;

function recordMetrics(model: ModelParameters, rows: readonly LabelledTransaction[]): RecordedMetrics {
  const m = evaluate(
    rows.map((row) => fraudProbability(model, row.transaction)),
    rows.map((row) => row.fraud),
    model.threshold,
  );
  return {
    samples: m.samples,
    positiveRate: fixed(m.positiveRate),
    threshold: m.threshold,
    accuracy: fixed(m.accuracy),
    precision: fixed(m.precision),
    recall: fixed(m.recall),
    auc: fixed(m.auc),
    logLoss: fixed(m.logLoss),
  };
}

/** Generates the data set, fits the model and evaluates it; deterministic. */
export function trainFraudModel(overrides: Partial<TrainingOptions> = {}): FraudModelFile {
  const options = { ...DEFAULT_TRAINING, ...overrides };
  const rows = generateDataset({ seed: options.seed, samples: options.samples });
  const { train, test } = splitDataset(rows, { seed: options.seed, testFraction: options.testFraction });

  const raw = train.map((row) => featureVector(row.transaction));
  const scaler = fitStandardiser(raw);
  const fit = fitLogistic(
    raw.map((x) => standardise(x, scaler)),
    train.map((row) => row.fraud),
    { l2: options.l2 },
  );
  if (!fit.converged) throw new Error(`training did not converge after ${fit.iterations} Newton steps`);

  // Round first and evaluate the rounded model, so the recorded metrics
  // describe exactly the parameters that get served.
  const parameters: ModelParameters = {
    features: [...FEATURE_NAMES],
    means: scaler.means.map(significant),
    stds: scaler.stds.map(significant),
    weights: fit.weights.map(significant),
    bias: significant(fit.bias),
    threshold: options.threshold,
  };
  return {
    format: MODEL_FORMAT,
    trainedWith:
      `L2-regularised logistic regression (Newton/IRLS, l2=${options.l2}) on standardised features; ` +
      `synthetic transactions from src/demo/dataset.ts, stratified ${Math.round((1 - options.testFraction) * 100)}/` +
      `${Math.round(options.testFraction * 100)} train/test split. Reproduce: ` +
      `node dist/demo/train.js --seed ${options.seed} --samples ${options.samples}`,
    seed: options.seed,
    samples: {
      total: rows.length,
      train: train.length,
      test: test.length,
      trainFraud: train.filter((row) => row.fraud).length,
      testFraud: test.filter((row) => row.fraud).length,
    },
    l2: options.l2,
    ...parameters,
    metrics: { train: recordMetrics(parameters, train), test: recordMetrics(parameters, test) },
  };
}

/** The exact bytes written to the weights file. */
export function serialiseModel(model: FraudModelFile): string {
  return `${JSON.stringify(model, null, 2)}\n`;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      samples: { type: 'string' },
      out: { type: 'string' },
      check: { type: 'boolean', default: false },
    },
  });
  const integer = (text: string | undefined, fallback: number, name: string): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
    return value;
  };
  const seed = integer(values.seed, DEFAULT_TRAINING.seed, 'seed');
  const samples = integer(values.samples, DEFAULT_TRAINING.samples, 'samples');
  if (samples < 1000) throw new Error('--samples must be at least 1000 (the test split needs fraud cases)');
  const out = values.out ?? DEFAULT_MODEL_PATH;

  const model = trainFraudModel({ seed, samples });
  const { test, train } = model.metrics;
  const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;
  console.log(`trained on ${model.samples.train} rows (${model.samples.trainFraud} fraud), seed ${seed}`);
  console.log(`train: accuracy ${pct(train.accuracy)}  AUC ${train.auc.toFixed(4)}`);
  console.log(
    `test (${test.samples} rows, ${pct(test.positiveRate)} fraud): accuracy ${pct(test.accuracy)}  ` +
      `precision@${test.threshold} ${pct(test.precision)}  recall@${test.threshold} ${pct(test.recall)}  ` +
      `ROC AUC ${test.auc.toFixed(4)}  log-loss ${test.logLoss.toFixed(4)}`,
  );

  const text = serialiseModel(model);
  if (values.check) {
    let existing = '';
    try {
      existing = readFileSync(out, 'utf8');
    } catch {
      // A missing file simply does not match.
    }
    if (existing !== text) {
      console.error(`${out} does not match a fresh training run; run node dist/demo/train.js`);
      process.exitCode = 1;
      return;
    }
    console.log(`${out} is up to date`);
    return;
  }
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}

if (isMainModule(import.meta.url)) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
