/**
 * Barnes-Hut repulsion for 2-D t-SNE on a flat quadtree rebuilt every iteration.
 *
 * The points are sorted by Morton (Z-order) code, so every quadtree cell is a contiguous run of
 * the sorted points: a node is just a range, its centre of mass comes from prefix sums, and the tree
 * is stored depth-first in one Float64Array with 8 numbers (one cache line) per node and a "skip"
 * link to the node after its subtree, so the traversal needs no stack and no objects. Chains of
 * single-child cells are collapsed (a node is the smallest aligned cell holding its points). Points
 * are visited in Z-order, so consecutive traversals touch the same nodes while they are in cache.
 *
 * The criterion is scikit-learn's: a cell whose squared width over the squared distance to its
 * centre of mass is below θ² stands for all its points. It is applied per group of nearby points
 * (Barnes 1990, "A modified tree code"): one traversal per group of up to 64 points, with the
 * distance taken from the group's bounding box, so the criterion holds for every point of the group
 * (at least as accurate as per-point Barnes-Hut at the same θ). The traversal builds an interaction
 * list that each point of the group then sums in a tight loop; the tree walk, the expensive part in
 * JavaScript, is shared by the group. A cell holding a point of the group is never summarised.
 */

import { mortonCode } from '../core/morton.js';
import { allocator } from './parallel.js';

/** Node record layout (Float64Array, stride 8). */
const COM_X = 0,
  COM_Y = 1,
  WIDTH2 = 2,
  COUNT = 3,
  START = 4,
  END = 5,
  SKIP = 6,
  LEAF = 7;
const STRIDE = 8;
/** Cells holding this many points or fewer are leaves, handled point by point when not summarised. */
const LEAF_SIZE = 4;
/** Points per group (one traversal each). */
const GROUP_SIZE = 64;
/** Bits per coordinate in the Morton code. */
const LEVELS = 16;

export class QuadTree {
  readonly n: number;
  /** Sorted position → original point index. */
  readonly order: Int32Array;
  /** Point coordinates in sorted (Z) order. */
  readonly sx: Float64Array;
  readonly sy: Float64Array;
  /** Node records; every internal node has ≥ 2 children, so 2n − 1 nodes at most. */
  readonly nodes: Float64Array;
  nodeCount = 0;
  /** Node index of each group (the largest subtrees of ≤ GROUP_SIZE points), in Z-order. */
  readonly groups: Int32Array;
  groupCount = 0;
  private codes: Uint32Array;
  private codesTmp: Uint32Array;
  private orderTmp: Int32Array;
  private readonly prefixX: Float64Array;
  private readonly prefixY: Float64Array;
  private readonly histogram = new Int32Array(256);
  private side = 1;

  constructor(n: number, shared = false) {
    const alloc = allocator(shared);
    this.n = n;
    this.order = alloc.i32(n);
    this.sx = alloc.f64(n);
    this.sy = alloc.f64(n);
    this.nodes = alloc.f64(2 * n * STRIDE);
    this.groups = alloc.i32(n);
    this.codes = new Uint32Array(n);
    this.codesTmp = new Uint32Array(n);
    this.orderTmp = new Int32Array(n);
    this.prefixX = new Float64Array(n + 1);
    this.prefixY = new Float64Array(n + 1);
  }

  /** Rebuilds the tree for positions y (interleaved x, y per point, original order). */
  build(y: Float64Array): void {
    const n = this.n;
    let minX = Infinity,
      minY = Infinity,
      maxX = -Infinity,
      maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      const px = y[2 * i]!;
      const py = y[2 * i + 1]!;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
    }
    const side = Math.max(maxX - minX, maxY - minY, 1e-300) * (1 + 1e-9);
    this.side = side;
    const scale = (1 << LEVELS) / side;
    const top = (1 << LEVELS) - 1;
    let codes = this.codes;
    let order = this.orderTmp;
    for (let i = 0; i < n; i++) {
      const ix = Math.min(top, Math.floor((y[2 * i]! - minX) * scale));
      const iy = Math.min(top, Math.floor((y[2 * i + 1]! - minY) * scale));
      codes[i] = mortonCode(ix, iy);
      order[i] = i;
    }
    // LSD radix sort, 4 passes of 8 bits; stable, so equal codes keep index order
    let codesOut = this.codesTmp;
    let orderOut = this.order;
    const hist = this.histogram;
    for (let shift = 0; shift < 32; shift += 8) {
      hist.fill(0);
      for (let i = 0; i < n; i++) hist[(codes[i]! >>> shift) & 255]!++;
      let sum = 0;
      for (let b = 0; b < 256; b++) {
        const c = hist[b]!;
        hist[b] = sum;
        sum += c;
      }
      for (let i = 0; i < n; i++) {
        const b = (codes[i]! >>> shift) & 255;
        const dst = hist[b]!++;
        codesOut[dst] = codes[i]!;
        orderOut[dst] = order[i]!;
      }
      [codes, codesOut] = [codesOut, codes];
      [order, orderOut] = [orderOut, order];
    }
    // after an even number of passes the sorted data is back in this.codes / this.orderTmp
    this.order.set(order);
    this.codes = codes;
    const sx = this.sx,
      sy = this.sy,
      px = this.prefixX,
      py = this.prefixY;
    for (let s = 0; s < n; s++) {
      const i = this.order[s]!;
      sx[s] = y[2 * i]!;
      sy[s] = y[2 * i + 1]!;
      px[s + 1] = px[s]! + sx[s]!;
      py[s + 1] = py[s]! + sy[s]!;
    }
    this.nodeCount = 0;
    this.buildNode(0, n);
    this.findGroups();
  }

  private findGroups(): void {
    const nodes = this.nodes;
    let count = 0;
    let node = 0;
    while (node < this.nodeCount) {
      // a leaf of near-duplicates can hold more than GROUP_SIZE points; it is a group all the same
      if (nodes[node * STRIDE + COUNT]! <= GROUP_SIZE || nodes[node * STRIDE + LEAF] !== 0) {
        this.groups[count++] = node;
        node = nodes[node * STRIDE + SKIP]!;
      } else {
        node++;
      }
    }
    this.groupCount = count;
  }

  private buildNode(start: number, end: number): void {
    const node = this.nodeCount++;
    const codes = this.codes;
    const count = end - start;
    const diff = (codes[start]! ^ codes[end - 1]!) >>> 0;
    // the smallest aligned cell holding [start, end): its level is fixed by the first differing digit
    const digit = diff === 0 ? -1 : (31 - Math.clz32(diff)) >> 1;
    const width = this.side / 2 ** (LEVELS - 1 - digit);
    const b = node * STRIDE;
    const nodes = this.nodes;
    nodes[COM_X + b] = (this.prefixX[end]! - this.prefixX[start]!) / count;
    nodes[COM_Y + b] = (this.prefixY[end]! - this.prefixY[start]!) / count;
    nodes[WIDTH2 + b] = width * width;
    nodes[COUNT + b] = count;
    nodes[START + b] = start;
    nodes[END + b] = end;
    const leaf = count <= LEAF_SIZE || digit < 0;
    nodes[LEAF + b] = leaf ? 1 : 0;
    if (!leaf) {
      const shift = 2 * digit;
      let lo = start;
      for (let quadrant = 0; quadrant < 4 && lo < end; quadrant++) {
        // first position whose digit exceeds this quadrant (codes are sorted)
        let a = lo,
          z = end;
        while (a < z) {
          const mid = (a + z) >> 1;
          if (((codes[mid]! >>> shift) & 3) <= quadrant) a = mid + 1;
          else z = mid;
        }
        if (a > lo) this.buildNode(lo, a);
        lo = a;
      }
    }
    nodes[SKIP + b] = this.nodeCount;
  }
}
