import type { Command } from 'commander';
import { DEFAULT_DB, openStore } from '../../store/index.js';
import { imagenetClasses } from '../../imagenet/classes.js';
import { computeHistogram } from '../../plot/histogram.js';
import { out, writeJsonLine } from '../common.js';

interface Flags {
  db: string;
  json?: boolean;
  plot?: string;
  top: number;
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('what a collection holds: counts, embedding size, sparsity (zero fraction) and top-1 classes')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .option('--json', 'print one JSON object')
    .option('--plot <file>', 'save the zero-fraction histogram (seed Figure 2) as .png or .svg')
    .action(async (flags: Flags) => {
      const store = await openStore(flags.db, { readonly: true });
      try {
        const counts = await store.count();
        const settings = await store.settings();
        const roots = await store.roots();
        const z = await store.zeroFractions();
        let sum = 0,
          min = Infinity,
          max = -Infinity;
        for (const v of z) {
          sum += v;
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        const zeroFraction =
          z.length > 0 ? { mean: sum / z.length, min, max, histogram: computeHistogram(z, { bins: 20, range: [0, 1] }) } : null;
        const classes = imagenetClasses();
        const top1 = (await store.top1Counts()).map((c) => ({ ...classes[c.index]!, count: c.count }));
        if (flags.plot && zeroFraction) {
          const { histogramSvg, savePlot } = await import('../../plot/index.js');
          const svg = histogramSvg(z, {
            bins: 40,
            title: 'Sparsity of the representations',
            subtitle: `${z.length} images, ${settings?.layer ?? ''} ${settings?.dim ?? ''}-d`,
            xLabel: 'fraction of exactly-zero values',
            yLabel: 'images',
            markers: [{ value: zeroFraction.mean, label: `mean ${zeroFraction.mean.toFixed(3)}` }],
          });
          await savePlot(flags.plot, svg);
        }
        if (flags.json) {
          writeJsonLine({
            db: flags.db,
            count: counts.images,
            embedded: counts.embedded,
            failed: counts.failed,
            settings,
            dim: settings?.dim ?? null,
            roots: roots.map((r) => r.path),
            zeroFraction: zeroFraction && {
              mean: zeroFraction.mean,
              min: zeroFraction.min,
              max: zeroFraction.max,
              histogram: { edges: Array.from(zeroFraction.histogram.edges), counts: Array.from(zeroFraction.histogram.counts) },
            },
            top1: top1.map((c) => ({ index: c.index, wnid: c.wnid, label: c.label, count: c.count })),
            ...(flags.plot ? { plot: flags.plot } : {}),
          });
          return;
        }
        const lines: string[] = [];
        lines.push(`${flags.db}: ${counts.images} images (${counts.embedded} embedded, ${counts.failed} failed)`);
        if (settings) lines.push(`embeddings: ${settings.model}, layer ${settings.layer}, ${settings.dim}-d, resize ${settings.resize}`);
        for (const r of roots) lines.push(`root: ${r.path}`);
        if (zeroFraction) {
          lines.push(
            `zero fraction: mean ${zeroFraction.mean.toFixed(3)}, min ${zeroFraction.min.toFixed(3)}, max ${zeroFraction.max.toFixed(3)}`,
          );
          const h = zeroFraction.histogram;
          const peak = Math.max(...h.counts);
          const first = h.counts.findIndex((c) => c > 0);
          const last = h.counts.length - 1 - [...h.counts].reverse().findIndex((c) => c > 0);
          for (let i = first; i <= last; i++) {
            const c = h.counts[i]!;
            lines.push(
              `  ${h.edges[i]!.toFixed(2)}–${h.edges[i + 1]!.toFixed(2)} ${'█'.repeat(Math.round((c / peak) * 40)).padEnd(40)} ${c}`,
            );
          }
        }
        if (top1.length > 0) {
          lines.push('top-1 classes:');
          for (const c of top1.slice(0, 15)) lines.push(`  ${String(c.count).padStart(6)}  ${c.label}`);
          if (top1.length > 15) lines.push(`  ... ${top1.length - 15} more classes`);
        }
        if (flags.plot) lines.push(`plot: ${flags.plot}`);
        out(`${lines.join('\n')}\n`);
      } finally {
        await store.close();
      }
    });
}
