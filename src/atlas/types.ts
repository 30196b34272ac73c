/**
 * The data the standalone HTML map carries for its viewer (web/src/viewer imports this file for
 * types only, so it must not import anything).
 */

/** One self-contained map: points (parallel arrays, names interned) and the atlas pages as data URLs. */
export interface StandaloneMapData {
  title: string;
  subtitle: string;
  colorBy: 'prediction' | 'label' | 'none';
  ids: number[];
  x: number[];
  y: number[];
  paths: string[];
  /** index into `predictionNames` per point */
  predictions: number[];
  predictionNames: string[];
  /** probability of each point's prediction, -1 when not known */
  probabilities: number[];
  /** index into `labelNames` per point, -1 when unlabelled */
  labels: number[];
  labelNames: string[];
  atlas: {
    tile: number;
    columns: number;
    perPage: number;
    ids: number[];
    colors: number[];
    pages: { width: number; height: number; count: number; src: string }[];
  };
}
