/**
 * SVG → PNG through sharp (librsvg), and saving plots by file extension.
 */
import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { ConvlensError } from '../core/index.js';
import { FONT_FAMILY } from './svg.js';

export interface PngOptions {
  /** Output width in px; the height keeps the SVG's aspect ratio. Default: the SVG's own width. */
  width?: number;
  /** zlib level 0-9 (default 6). */
  compressionLevel?: number;
}

const MAX_PNG_SIDE = 16384;

/** The root element's size in user units, from width/height or else the viewBox. */
function svgSize(svg: string): { width: number; height: number } | null {
  const root = /<svg\b[^>]*>/i.exec(svg)?.[0];
  if (!root) return null;
  const attr = (name: string): number | null => {
    const m = new RegExp(`\\s${name}\\s*=\\s*["']\\s*([0-9.]+)\\s*(px)?\\s*["']`).exec(root);
    return m ? Number(m[1]) : null;
  };
  const w = attr('width');
  const h = attr('height');
  if (w && h) return { width: w, height: h };
  const vb = /\sviewBox\s*=\s*["']\s*[-0-9.]+[\s,]+[-0-9.]+[\s,]+([0-9.]+)[\s,]+([0-9.]+)\s*["']/.exec(root);
  return vb ? { width: Number(vb[1]), height: Number(vb[2]) } : null;
}

/**
 * Rasterises an SVG at the requested width. The SVG is rendered at that resolution (librsvg's
 * density set accordingly), not rendered small and scaled up, so text and lines stay sharp.
 */
export async function svgToPng(svg: string, options: PngOptions = {}): Promise<Buffer> {
  const size = svgSize(svg);
  if (!size) throw new ConvlensError('E_BAD_INPUT', 'svgToPng: not an SVG document with a size');
  const width = Math.round(options.width ?? size.width);
  const height = Math.max(1, Math.round((size.height * width) / size.width));
  if (!(width >= 1 && width <= MAX_PNG_SIDE && height <= MAX_PNG_SIDE)) {
    throw new ConvlensError('E_USAGE', `PNG size ${width}×${height} is outside 1..${MAX_PNG_SIDE} px`);
  }
  // librsvg maps 1 SVG px to density/72 output px; sharp accepts densities 1..100000.
  const density = Math.min(100000, Math.max(1, (72 * width) / size.width));
  let img = sharp(Buffer.from(svg), { density });
  const meta = await img.metadata();
  // Rounding inside librsvg can be a pixel off (or the density was clamped): only then resample.
  if (meta.width !== width || meta.height !== height) img = img.resize(width, height, { fit: 'fill' });
  return img.png({ compressionLevel: options.compressionLevel ?? 6 }).toBuffer();
}

/**
 * Writes a plot: `.svg` as text, `.png` rasterised (extension case-insensitive). Any other
 * extension is a usage error naming the file.
 */
export async function savePlot(path: string, svg: string, options: PngOptions = {}): Promise<void> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') {
    throw new ConvlensError('E_USAGE', `cannot save a plot as '${path}': use a .svg or .png file name`, { file: path });
  }
  const data = ext === '.svg' ? svg : await svgToPng(svg, options);
  await writeOut(path, data);
}

/** writeFile with file-system errors turned into coded errors that name the file. */
export async function writeOut(path: string, data: string | Buffer): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new ConvlensError('E_NOT_FOUND', `cannot write ${path}: its folder does not exist`, { file: path, cause: e });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new ConvlensError('E_PERMISSION', `cannot write ${path}: permission denied`, { file: path, cause: e });
    }
    if (code === 'EISDIR') throw new ConvlensError('E_IS_DIRECTORY', `cannot write ${path}: it is a folder`, { file: path, cause: e });
    throw new ConvlensError('E_INTERNAL', `cannot write ${path}: ${(e as Error).message}`, { file: path, cause: e });
  }
}

let textCheck: Promise<boolean> | null = null;

/**
 * Whether SVG text renders with real glyphs on this machine. librsvg finds fonts through
 * fontconfig; with no font installed every character is drawn as the same empty box, so all
 * labels come out as rows of boxes. Narrow and wide letters give the same ink only then.
 * Callers (the CLI) can warn once: on Debian/Ubuntu `apt-get install fonts-dejavu-core` fixes it.
 */
export function checkTextRendering(): Promise<boolean> {
  textCheck ??= (async () => {
    const ink = async (s: string): Promise<number> => {
      const svg =
        `<svg xmlns="http://www.w3.org/2000/svg" width="400" height="60"><rect width="400" height="60" fill="#fff"/>` +
        `<text x="5" y="45" font-size="40" font-family="${FONT_FAMILY}">${s}</text></svg>`;
      const { data } = await sharp(Buffer.from(svg)).greyscale().raw().toBuffer({ resolveWithObject: true });
      let sum = 0;
      for (let i = 0; i < data.length; i++) sum += 255 - data[i]!;
      return sum;
    };
    const [narrow, wide] = await Promise.all([ink('iiiiii'), ink('WWWWWW')]);
    return narrow > 0 && wide > 1.8 * narrow;
  })();
  return textCheck;
}
