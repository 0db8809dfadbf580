/**
 * One line of the benchmark table: a sockd figure beside its baseline, the
 * ratio, and the target it is held to.
 *
 * @module
 */
import { median } from "./_stats.ts";

/** What a figure counts; decides formatting and which way is better. */
export type Unit = "calls/s" | "msgs/s" | "B/s" | "B/conn" | "B" | "ms";

/** A target: a bound on the ratio to the baseline, or on the figure itself. */
export type Target =
  | { kind: "ratio-at-least"; value: number; text?: string }
  | { kind: "ratio-at-most"; value: number; text?: string }
  | { kind: "at-least"; value: number; text?: string }
  | { kind: "at-most"; value: number; text?: string }
  | { kind: "none"; text?: string };

/** One row of the table, as printed and as written to the JSON copy. */
export interface Row {
  /** Stable id, e.g. `unary-1`; `--only` selects by it. */
  id: string;
  /** What is measured. */
  figure: string;
  unit: Unit;
  /** The figure's samples (one per repetition); empty when not available. */
  samples: number[];
  /** The median of `samples`. */
  value?: number;
  /** What the baseline is. */
  baseline: string;
  baselineUnit: Unit;
  baselineSamples: number[];
  baselineValue?: number;
  /** value / baselineValue. */
  ratio?: number;
  target: Target;
  /** Whether the target is met; undefined when there is no target or no figure. */
  met?: boolean;
  /** Why the figure is not available (the row prints as `n/a: ...`). */
  na?: string;
  /** Anything the reader needs to know to read the figure. */
  note?: string;
}

/** Input of {@linkcode makeRow}. */
export interface RowSpec {
  id: string;
  figure: string;
  unit: Unit;
  samples?: number[];
  baseline: string;
  baselineUnit?: Unit;
  baselineSamples?: number[];
  target: Target;
  na?: string;
  note?: string;
}

/** Builds a row: medians, ratio and verdict from the samples. */
export function makeRow(spec: RowSpec): Row {
  const samples = spec.na ? [] : spec.samples ?? [];
  const baselineSamples = spec.baselineSamples ?? [];
  const value = samples.length ? median(samples) : undefined;
  const baselineValue = baselineSamples.length ? median(baselineSamples) : undefined;
  const ratio = value !== undefined && baselineValue ? value / baselineValue : undefined;
  return {
    id: spec.id,
    figure: spec.figure,
    unit: spec.unit,
    samples,
    value,
    baseline: spec.baseline,
    baselineUnit: spec.baselineUnit ?? spec.unit,
    baselineSamples,
    baselineValue,
    ratio,
    target: spec.target,
    met: verdict(spec.target, value, ratio),
    ...(spec.na ? { na: spec.na } : {}),
    ...(spec.note ? { note: spec.note } : {}),
  };
}

function verdict(target: Target, value?: number, ratio?: number): boolean | undefined {
  switch (target.kind) {
    case "ratio-at-least":
      return ratio === undefined ? undefined : ratio >= target.value;
    case "ratio-at-most":
      return ratio === undefined ? undefined : ratio <= target.value;
    case "at-least":
      return value === undefined ? undefined : value >= target.value;
    case "at-most":
      return value === undefined ? undefined : value <= target.value;
    case "none":
      return undefined;
  }
}

/** A row for a figure that could not be measured in this run. */
export function naRow(spec: Omit<RowSpec, "na" | "samples">, why: string): Row {
  return makeRow({ ...spec, na: why });
}
