/** The app's shared state (what is selected, shown, labelled) and change notifications. */
import { PredictionLookup } from '../../src/server/predictions.js';
import { api, type Info, type MapData, type Predictions } from './api.js';

export type ColorMode = 'image' | 'top1' | 'label' | 'prediction';
type Topic = 'info' | 'map' | 'labels' | 'predictions' | 'selection' | 'current' | 'color' | 'jobs';

class State {
  info: Info | null = null;
  map: MapData | null = null;
  labels = new Map<number, string>();
  predictions: Predictions | null = null;
  private lookup = new PredictionLookup(null);
  /** selected image ids (lasso on the map, checkboxes in the grid) */
  selection = new Set<number>();
  /** the image shown in the image panel */
  current: number | null = null;
  colorMode: ColorMode = 'image';
  private readonly listeners = new Map<Topic, Set<() => void>>();

  on(topic: Topic, fn: () => void): void {
    const set = this.listeners.get(topic) ?? new Set();
    set.add(fn);
    this.listeners.set(topic, set);
  }

  emit(topic: Topic): void {
    for (const fn of this.listeners.get(topic) ?? []) fn();
  }

  async refreshInfo(): Promise<void> {
    this.info = await api.info();
    this.emit('info');
  }

  async refreshLabels(): Promise<void> {
    const r = await api.labels();
    this.labels = new Map(r.ids.map((id, i) => [id, r.labels[i]!]));
    this.emit('labels');
  }

  /** The last trained predictions (`known`: whether the server has any, to spare a 404). */
  async refreshPredictions(known = true): Promise<void> {
    this.predictions = known ? await api.predictions().catch(() => null) : null;
    this.lookup = new PredictionLookup(this.predictions);
    this.emit('predictions');
  }

  /** The last trained head's prediction for an image. */
  predictionOf(id: number): { label: string; probability: number } | null {
    return this.lookup.of(id);
  }

  setSelection(ids: Iterable<number>): void {
    this.selection = new Set(ids);
    this.emit('selection');
  }

  toggleSelected(id: number, on: boolean): void {
    if (on) this.selection.add(id);
    else this.selection.delete(id);
    this.emit('selection');
  }

  show(id: number | null): void {
    this.current = id;
    this.emit('current');
  }
}

export const state = new State();
