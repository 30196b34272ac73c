/** Augmentation views for training: mirrored images and corner crops (no dependencies: the CLI reads these names early). */
import type { ImageVariant } from '../image/decode.js';

export type Augmentation = 'flip' | 'crops';
export const AUGMENTATIONS: readonly Augmentation[] = ['flip', 'crops'];

/** The views each augmentation adds to the training rows. */
export function augmentationViews(augment: readonly Augmentation[]): ImageVariant[] {
  const views: ImageVariant[] = [];
  if (augment.includes('flip')) views.push({ flip: true });
  if (augment.includes('crops')) for (const corner of ['tl', 'tr', 'bl', 'br'] as const) views.push({ corner });
  return views;
}
