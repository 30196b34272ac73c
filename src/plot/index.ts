/**
 * Figures for convlens: SVG strings for charts, PNG buffers through sharp (librsvg).
 */
export { escapeXml, FONT_FAMILY } from './svg.js';
export { categoricalPalette, blues, UNLABELLED_COLOR, OTHER_COLOR } from './palette.js';
export { categorize, legendLabel, type PointLabels, type LegendEntry, type Categories, type CategoryOptions } from './categories.js';
export { fitPoints, drawingOrder, type Box, type DrawOrder } from './points.js';
export { scatterSvg, autoPointStyle, type ScatterOptions } from './scatter.js';
export {
  computeHistogram,
  histogramSvg,
  histogramDataSvg,
  type HistogramData,
  type HistogramOptions,
  type BinOptions,
  type Marker,
} from './histogram.js';
export { confusionMatrixSvg, type ConfusionOptions } from './confusion.js';
export { svgToPng, savePlot, checkTextRendering, type PngOptions } from './render.js';
export {
  makeThumbnail,
  makeThumbnailRaw,
  thumbnailScatterPng,
  autoThumbSize,
  type RawImage,
  type ThumbnailOptions,
  type ThumbnailInput,
  type ThumbnailSource,
  type ThumbnailScatterOptions,
} from './thumbnails.js';
