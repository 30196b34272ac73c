import { describe, expect, it } from 'vitest';
import { categoricalPalette, categorize, escapeXml, legendLabel, OTHER_COLOR, UNLABELLED_COLOR } from '../../src/plot/index.js';
import { truncate, textWidth } from '../../src/plot/svg.js';
import { parseXml } from './helpers.js';

describe('escapeXml', () => {
  it('escapes markup characters and survives a strict XML parse', () => {
    const nasty = `<script>alert("x")</script> & 'quotes' ]]> <!-- c -->`;
    const doc = parseXml(`<t a="${escapeXml(nasty)}">${escapeXml(nasty)}</t>`);
    expect(doc.text).toBe(nasty);
    expect(doc.attrs.a).toBe(nasty);
  });

  it('replaces characters XML cannot carry (control bytes, lone surrogates) and keeps real ones', () => {
    const name = 'bad\u0001name\u001b[31m\uD800x 猫 🐱 tab\there';
    const out = escapeXml(name);
    expect(() => parseXml(`<t>${out}</t>`)).not.toThrow();
    expect(out).toBe('bad\uFFFDname\uFFFD[31m\uFFFDx 猫 🐱 tab\there');
  });
});

describe('text layout', () => {
  it('truncates long labels with an ellipsis within the width', () => {
    const long = 'a very long class name that will not fit in the legend';
    const t = truncate(long, 20, 200);
    expect(t.endsWith('…')).toBe(true);
    expect(textWidth(t, 20)).toBeLessThanOrEqual(200);
    expect(truncate('short', 20, 200)).toBe('short');
  });
});

describe('categoricalPalette', () => {
  it('gives distinct colours, starting with matplotlib tab10 blue and orange', () => {
    const p = categoricalPalette(60);
    expect(p.slice(0, 2)).toEqual(['#1f77b4', '#ff7f0e']);
    expect(new Set(p).size).toBe(60);
    expect(p).not.toContain(UNLABELLED_COLOR);
    expect(p).not.toContain(OTHER_COLOR);
    // a longer list extends a shorter one
    expect(categoricalPalette(30)).toEqual(p.slice(0, 30));
  });
});

describe('categorize', () => {
  it('orders by count, groups the tail as "other", and keeps unlabelled apart', () => {
    const labels: (string | null)[] = [];
    for (let c = 0; c < 30; c++) for (let k = 0; k <= c; k++) labels.push(`c${c}`);
    labels.push(null, '', null);
    const { entries, entryOf } = categorize(labels, { maxCategories: 20 });
    expect(entries).toHaveLength(22);
    expect(entries[0]).toMatchObject({ name: 'c29', count: 30, kind: 'category' });
    expect(entries[20]).toMatchObject({ kind: 'other', categories: 10, count: (10 * 11) / 2, color: OTHER_COLOR });
    expect(entries[21]).toMatchObject({ kind: 'unlabelled', count: 3, color: UNLABELLED_COLOR });
    expect(legendLabel(entries[20]!)).toBe('other: 10 classes (55)');
    expect(entries[entryOf[0]!]!.kind).toBe('other'); // c0 has one point
    expect(entries[entryOf[labels.length - 1]!]!.kind).toBe('unlabelled');
    expect(entryOf.reduce((s, e) => s + (e === 0 ? 1 : 0), 0)).toBe(30);
  });

  it('does not group a single leftover category, breaks ties naturally and honours fixed colours', () => {
    const labels = ['class 10', 'class 2', 'class 1', 'x'];
    const { entries } = categorize(labels, { maxCategories: 3, colors: { x: '#000000' } });
    expect(entries.map((e) => e.name)).toEqual(['class 1', 'class 2', 'class 10', 'x']);
    expect(entries[3]!.color).toBe('#000000');
    expect(new Set(entries.map((e) => e.color)).size).toBe(4);
  });

  it('rejects a nonsensical limit', () => {
    expect(() => categorize(['a'], { maxCategories: 0 })).toThrow(/maxCategories/);
  });
});
