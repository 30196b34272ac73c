/**
 * A trained head's predictions over the collection (as GET /api/predictions answers them), looked
 * up by image id: the server (an image's `prediction`) and the web app (colour by prediction)
 * share this. No dependencies: the browser bundles it.
 */
import type { Predictions } from './schemas.js';

export class PredictionLookup {
  private readonly rows: Map<number, number>;

  constructor(readonly predictions: Predictions | null) {
    this.rows = new Map(predictions ? predictions.ids.map((id, i) => [id, i]) : []);
  }

  /** The predicted label and its probability for an image, or null (not predicted). */
  of(id: number): { label: string; probability: number } | null {
    const p = this.predictions;
    const row = this.rows.get(id);
    return p && row !== undefined ? { label: p.classes[p.predicted[row]!]!, probability: p.probability[row]! } : null;
  }
}
