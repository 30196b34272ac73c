/**
 * The t-SNE gradient, optionally split over two threads (parallel.ts).
 *
 * Per iteration the main thread rebuilds the quadtree; then the repulsion (groups of points, see
 * barnes-hut.ts) and the attraction (rows of the sparse P) are cut into small chunks dealt
 * alternately to the threads. Each chunk writes only its own points' entries, and the partial sums
 * (Z per group, KL terms per row) are added in a fixed order afterwards, so the result is the same
 * bit for bit whatever the number of threads. The worker (helper-worker.ts) imports the same
 * kernels from this module.
 */
import type { JointP } from './affinities.js';
import { QuadTree } from './barnes-hut.js';
import { Helper, allocator } from './parallel.js';

/** Header (Float64Array) slots describing the current command. */
const H_NODE_COUNT = 0,
  H_GROUP_COUNT = 1,
  H_THETA2 = 2,
  H_EXAGGERATION = 3,
  H_WITH_ERROR = 4,
  H_N = 5;

export interface GradientBuffers {
  header: Float64Array;
  nodes: Float64Array;
  sx: Float64Array;
  sy: Float64Array;
  order: Int32Array;
  groups: Int32Array;
  groupSum: Float64Array;
  neg: Float64Array;
  y: Float64Array;
  /** Two 2n accumulators of the attraction (even and odd row chunks). */
  attr: Float64Array;
  klRow: Float64Array;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/**
 * One group: a single traversal with a criterion that holds for every point of the group (the
 * distance is taken from the node's centre of mass to the group's bounding box) builds an
 * interaction list of (x, y, mass) entries: accepted cells, points of opened leaves, and the group's
 * own points; then each point sums over the list in a tight loop. Writes Σ_j q_ij² (y_i − y_j)
 * into neg (interleaved, original order) and returns Σ_j q_ij over the group's points,
 * q = 1/(1 + d²); returns -1 when the list (3 numbers per entry) is too short.
 *
 * Self-contained (no closures, no imports) so that worker threads run the same source.
 */
function groupKernel(
  nodes: Float64Array,
  nodeCount: number,
  sx: Float64Array,
  sy: Float64Array,
  order: Int32Array,
  theta2: number,
  neg: Float64Array,
  group: number,
  list: Float64Array,
): number {
  const gb = group * 8;
  const gs = nodes[gb + 4]!;
  const ge = nodes[gb + 5]!;
  let bx0 = Infinity,
    by0 = Infinity,
    bx1 = -Infinity,
    by1 = -Infinity;
  for (let s = gs; s < ge; s++) {
    const x = sx[s]!,
      y = sy[s]!;
    if (x < bx0) bx0 = x;
    if (x > bx1) bx1 = x;
    if (y < by0) by0 = y;
    if (y > by1) by1 = y;
  }
  const cap = list.length;
  let len = 0;
  let node = 0;
  while (node < nodeCount) {
    const b = node * 8;
    const start = nodes[b + 4]!;
    const end = nodes[b + 5]!;
    if (end <= gs || start >= ge) {
      const cx = nodes[b]!;
      const cy = nodes[b + 1]!;
      const ddx = cx < bx0 ? bx0 - cx : cx > bx1 ? cx - bx1 : 0;
      const ddy = cy < by0 ? by0 - cy : cy > by1 ? cy - by1 : 0;
      if (nodes[b + 2]! < theta2 * (ddx * ddx + ddy * ddy)) {
        if (len + 3 > cap) return -1;
        list[len++] = cx;
        list[len++] = cy;
        list[len++] = nodes[b + 3]!;
        node = nodes[b + 6]!;
      } else if (nodes[b + 7] !== 0) {
        if (len + 3 * (end - start) > cap) return -1;
        for (let t = start; t < end; t++) {
          list[len++] = sx[t]!;
          list[len++] = sy[t]!;
          list[len++] = 1;
        }
        node = nodes[b + 6]!;
      } else {
        node++;
      }
    } else if (start >= gs && end <= ge) {
      if (len + 3 * (end - start) > cap) return -1;
      for (let t = start; t < end; t++) {
        list[len++] = sx[t]!;
        list[len++] = sy[t]!;
        list[len++] = 1;
      }
      node = nodes[b + 6]!;
    } else {
      node++;
    }
  }
  let sumQ = 0;
  for (let s = gs; s < ge; s++) {
    const x = sx[s]!;
    const y = sy[s]!;
    let fx = 0,
      fy = 0,
      q = 0;
    for (let t = 0; t < len; t += 3) {
      const dx = x - list[t]!;
      const dy = y - list[t + 1]!;
      const qq = 1 / (1 + dx * dx + dy * dy);
      const m = list[t + 2]! * qq;
      q += m;
      const mq = m * qq;
      fx += mq * dx;
      fy += mq * dy;
    }
    const i = order[s]!;
    neg[2 * i] = fx;
    neg[2 * i + 1] = fy;
    // the list holds the point itself: q = 1, no force
    sumQ += q - 1;
  }
  return sumQ;
}

/**
 * Attraction over the pairs i < j of rows [from, to) (P is symmetric, so each pair is computed
 * once): f = p_ij q_ij (y_i − y_j), p scaled by the exaggeration, is added to point i and taken
 * from point j in attr, one of two accumulators (chosen by the caller by chunk parity, so that two
 * threads never write the same one). With withError, klRow_i = 2 Σ_j>i p log(max(p, tiny)) − p log q,
 * so that KL = Σ_i klRow_i + Σp · log Z (sklearn's Σ p log(p / (q / Z)) over all ordered pairs).
 */
function attractionKernel(
  b: GradientBuffers,
  attr: Float64Array,
  exaggeration: number,
  withError: boolean,
  from: number,
  to: number,
): void {
  const { y, indptr, indices, values, klRow } = b;
  const tiny = 1.1754943508222875e-38;
  for (let i = from; i < to; i++) {
    const xi = y[2 * i]!;
    const yi = y[2 * i + 1]!;
    let fx = 0,
      fy = 0,
      kl = 0;
    const end = indptr[i + 1]!;
    for (let e = indptr[i]!; e < end; e++) {
      const j = indices[e]!;
      const dx = xi - y[2 * j]!;
      const dy = yi - y[2 * j + 1]!;
      const q = 1 / (1 + dx * dx + dy * dy);
      const p = values[e]! * exaggeration;
      const pq = p * q;
      fx += pq * dx;
      fy += pq * dy;
      attr[2 * j]! -= pq * dx;
      attr[2 * j + 1]! -= pq * dy;
      if (withError) kl += p * (Math.log(p > tiny ? p : tiny) - Math.log(q));
    }
    attr[2 * i]! += fx;
    attr[2 * i + 1]! += fy;
    klRow[i] = 2 * kl;
  }
}

/** The share of one thread out of `threads`: every threads-th chunk, starting at chunk `thread`. */
export function workShare(thread: number, threads: number, b: GradientBuffers, scratch: { list?: Float64Array }): void {
  if (scratch.list === undefined) scratch.list = new Float64Array(3 * 4096);
  const groupChunk = 16;
  const rowChunk = 512;
  const h = b.header;
  const nodeCount = h[0]!,
    groupCount = h[1]!,
    theta2 = h[2]!,
    exaggeration = h[3]!,
    withError = h[4] !== 0,
    n = h[5]!;
  for (let c = thread; c * groupChunk < groupCount; c += threads) {
    const end = Math.min(groupCount, (c + 1) * groupChunk);
    for (let g = c * groupChunk; g < end; g++) {
      let r = groupKernel(b.nodes, nodeCount, b.sx, b.sy, b.order, theta2, b.neg, b.groups[g]!, scratch.list);
      while (r < 0) {
        scratch.list = new Float64Array(scratch.list.length * 2);
        r = groupKernel(b.nodes, nodeCount, b.sx, b.sy, b.order, theta2, b.neg, b.groups[g]!, scratch.list);
      }
      b.groupSum[g] = r;
    }
  }
  // chunk c of rows adds into accumulator c mod 2: with two threads each has its own
  for (let c = thread; c * rowChunk < n; c += threads) {
    const attr = b.attr.subarray((c % 2) * 2 * n, ((c % 2) + 1) * 2 * n);
    attractionKernel(b, attr, exaggeration, withError, c * rowChunk, Math.min(n, (c + 1) * rowChunk));
  }
}

export class GradientEngine {
  /** Current positions (interleaved x, y): the optimiser updates these in place. */
  readonly y: Float64Array;
  private readonly b: GradientBuffers;
  private readonly tree: QuadTree;
  private readonly n: number;
  private readonly helper: Helper<GradientBuffers>;

  /** threads: 1 or 2. */
  constructor(p: JointP, threads: number) {
    const n = p.n;
    const shared = threads > 1;
    const alloc = allocator(shared);
    this.n = n;
    this.tree = new QuadTree(n, shared);
    // the upper triangle of P (columns j > i)
    const indptr = alloc.i32(n + 1);
    let upper = 0;
    for (let i = 0; i < n; i++) {
      for (let e = p.indptr[i]!; e < p.indptr[i + 1]!; e++) if (p.indices[e]! > i) upper++;
      indptr[i + 1] = upper;
    }
    const indices = alloc.i32(upper);
    const values = alloc.f64(upper);
    for (let i = 0, u = 0; i < n; i++) {
      for (let e = p.indptr[i]!; e < p.indptr[i + 1]!; e++) {
        if (p.indices[e]! <= i) continue;
        indices[u] = p.indices[e]!;
        values[u++] = p.values[e]!;
      }
    }
    this.b = {
      header: alloc.f64(8),
      nodes: this.tree.nodes,
      sx: this.tree.sx,
      sy: this.tree.sy,
      order: this.tree.order,
      groups: this.tree.groups,
      groupSum: alloc.f64(n),
      neg: alloc.f64(2 * n),
      y: alloc.f64(2 * n),
      attr: alloc.f64(4 * n),
      klRow: alloc.f64(n),
      indptr,
      indices,
      values,
    };
    this.y = this.b.y;
    this.helper = new Helper('tsne-gradient', workShare, this.b, threads);
  }

  /** True while a second thread shares the work. */
  get threaded(): boolean {
    return this.helper.threaded;
  }

  /**
   * Fills grad with dKL/dy for the current y (P scaled by exaggeration); returns sklearn's
   * Barnes-Hut KL estimate when withError, NaN otherwise.
   */
  compute(theta: number, exaggeration: number, withError: boolean, grad: Float64Array): number {
    const { b, tree, n } = this;
    tree.build(b.y);
    const h = b.header;
    h[H_NODE_COUNT] = tree.nodeCount;
    h[H_GROUP_COUNT] = tree.groupCount;
    h[H_THETA2] = theta * theta;
    h[H_EXAGGERATION] = exaggeration;
    h[H_WITH_ERROR] = withError ? 1 : 0;
    h[H_N] = n;
    b.attr.fill(0);
    this.helper.run();
    let z = 0;
    for (let g = 0; g < tree.groupCount; g++) z += b.groupSum[g]!;
    const invZ = 1 / z;
    const { attr, neg } = b;
    // dC/dy = 4 (Σ p q (y_i − y_j) − Σ q² (y_i − y_j) / Z)
    for (let t = 0; t < 2 * n; t++) grad[t] = 4 * (attr[t]! + attr[2 * n + t]! - neg[t]! * invZ);
    if (!withError) return NaN;
    let kl = 0;
    for (let i = 0; i < n; i++) kl += b.klRow[i]!;
    // Σ p = exaggeration, P summing to 1
    return kl + exaggeration * Math.log(z);
  }

  /** Stops the worker thread, if any. */
  close(): void {
    this.helper.close();
  }
}
