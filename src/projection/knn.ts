/**
 * Exact k nearest neighbours (squared Euclidean) for the t-SNE and UMAP graphs: blocked brute
 * force. Each pair is computed once (4 rows against 3 rows at a time, distances from dot products
 * and norms, 12 sums in registers) and offered to both points' bounded max-heaps. With two threads
 * the row blocks are dealt alternately and each thread keeps its own heaps; merging them gives the
 * k smallest (distance, index) pairs whatever the split, so the result does not depend on it.
 * A generator, so that async callers can yield to the event loop between slices of rows.
 */
import { Helper, allocator, defaultThreads } from './parallel.js';

export interface KnnGraph {
  n: number;
  k: number;
  /** n×k neighbour indices, nearest first (ties by index). */
  indices: Int32Array;
  /** n×k squared distances matching indices. */
  distances: Float64Array;
}

/** Pair-dimension products per thread and generator step (~30 ms: few meetings between threads, still responsive). */
const WORK_PER_STEP = 5e7;
/** Below this many points a second thread is not worth its start-up. */
const THREADED_FROM = 4000;

interface KnnBuffers {
  /** n, d, k, first and end row block of the current command. */
  header: Float64Array;
  data: Float64Array;
  norms: Float64Array;
  /** Two heap sets (one per thread), each n×k. */
  heapD: Float64Array;
  heapI: Int32Array;
}

/** Offers neighbour j at distance dist to the max-heap of k entries at base (root = worst kept). */
function heapOffer(heapD: Float64Array, heapI: Int32Array, base: number, k: number, j: number, dist: number): void {
  const rootD = heapD[base]!;
  if (dist > rootD || (dist === rootD && j > heapI[base]!)) return;
  let pos = 0;
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= k) break;
    let c = l;
    const r = l + 1;
    if (r < k) {
      const dr = heapD[base + r]!,
        dl = heapD[base + l]!;
      if (dr > dl || (dr === dl && heapI[base + r]! > heapI[base + l]!)) c = r;
    }
    const cd = heapD[base + c]!;
    if (cd < dist || (cd === dist && heapI[base + c]! < j)) break;
    heapD[base + pos] = cd;
    heapI[base + pos] = heapI[base + c]!;
    pos = c;
  }
  heapD[base + pos] = dist;
  heapI[base + pos] = j;
}

/** Row blocks [header[3], header[4]) of 4 rows against all later rows; every other chunk of 4 blocks. */
export function knnShare(thread: number, threads: number, b: KnnBuffers): void {
  const n = b.header[0]!,
    d = b.header[1]!,
    k = b.header[2]!,
    first = b.header[3]!,
    end = b.header[4]!;
  const x = b.data,
    norms = b.norms,
    heapD = b.heapD,
    heapI = b.heapI;
  const h = thread * n * k;
  for (let chunk = first + 4 * thread; chunk < end; chunk += 4 * threads) {
    const chunkEnd = Math.min(end, chunk + 4);
    for (let block = chunk; block < chunkEnd; block++) {
      const i = 4 * block;
      const rows = Math.min(4, n - i);
      for (let a = 0; a < rows; a++) {
        for (let c = a + 1; c < rows; c++) {
          let s = 0;
          for (let t = 0; t < d; t++) {
            const v = x[(i + a) * d + t]! - x[(i + c) * d + t]!;
            s += v * v;
          }
          heapOffer(heapD, heapI, h + (i + a) * k, k, i + c, s);
          heapOffer(heapD, heapI, h + (i + c) * k, k, i + a, s);
        }
      }
      if (rows < 4) continue;
      const o0 = i * d,
        o1 = o0 + d,
        o2 = o1 + d,
        o3 = o2 + d;
      const n0 = norms[i]!,
        n1 = norms[i + 1]!,
        n2 = norms[i + 2]!,
        n3 = norms[i + 3]!;
      const b0 = h + i * k,
        b1 = b0 + k,
        b2 = b1 + k,
        b3 = b2 + k;
      let j = i + 4;
      for (; j + 3 <= n; j += 3) {
        const p0 = j * d,
          p1 = p0 + d,
          p2 = p1 + d;
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s10 = 0,
          s11 = 0,
          s12 = 0;
        let s20 = 0,
          s21 = 0,
          s22 = 0,
          s30 = 0,
          s31 = 0,
          s32 = 0;
        for (let t = 0; t < d; t++) {
          const u = x[p0 + t]!,
            v = x[p1 + t]!,
            w = x[p2 + t]!;
          let z = x[o0 + t]!;
          s00 += z * u;
          s01 += z * v;
          s02 += z * w;
          z = x[o1 + t]!;
          s10 += z * u;
          s11 += z * v;
          s12 += z * w;
          z = x[o2 + t]!;
          s20 += z * u;
          s21 += z * v;
          s22 += z * w;
          z = x[o3 + t]!;
          s30 += z * u;
          s31 += z * v;
          s32 += z * w;
        }
        for (let c = 0; c < 3; c++) {
          const jc = j + c;
          const nj = norms[jc]!;
          const bj = h + jc * k;
          const t0 = c === 0 ? s00 : c === 1 ? s01 : s02;
          const t1 = c === 0 ? s10 : c === 1 ? s11 : s12;
          const t2 = c === 0 ? s20 : c === 1 ? s21 : s22;
          const t3 = c === 0 ? s30 : c === 1 ? s31 : s32;
          const d0 = Math.max(n0 + nj - 2 * t0, 0);
          const d1 = Math.max(n1 + nj - 2 * t1, 0);
          const d2 = Math.max(n2 + nj - 2 * t2, 0);
          const d3 = Math.max(n3 + nj - 2 * t3, 0);
          // most candidates fail the root test and never enter the heap code
          if (d0 <= heapD[b0]!) heapOffer(heapD, heapI, b0, k, jc, d0);
          if (d1 <= heapD[b1]!) heapOffer(heapD, heapI, b1, k, jc, d1);
          if (d2 <= heapD[b2]!) heapOffer(heapD, heapI, b2, k, jc, d2);
          if (d3 <= heapD[b3]!) heapOffer(heapD, heapI, b3, k, jc, d3);
          if (d0 <= heapD[bj]!) heapOffer(heapD, heapI, bj, k, i, d0);
          if (d1 <= heapD[bj]!) heapOffer(heapD, heapI, bj, k, i + 1, d1);
          if (d2 <= heapD[bj]!) heapOffer(heapD, heapI, bj, k, i + 2, d2);
          if (d3 <= heapD[bj]!) heapOffer(heapD, heapI, bj, k, i + 3, d3);
        }
      }
      for (; j < n; j++) {
        const p0 = j * d;
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let t = 0; t < d; t++) {
          const u = x[p0 + t]!;
          s0 += x[o0 + t]! * u;
          s1 += x[o1 + t]! * u;
          s2 += x[o2 + t]! * u;
          s3 += x[o3 + t]! * u;
        }
        const nj = norms[j]!;
        const bj = h + j * k;
        const d0 = Math.max(n0 + nj - 2 * s0, 0);
        const d1 = Math.max(n1 + nj - 2 * s1, 0);
        const d2 = Math.max(n2 + nj - 2 * s2, 0);
        const d3 = Math.max(n3 + nj - 2 * s3, 0);
        heapOffer(heapD, heapI, b0, k, j, d0);
        heapOffer(heapD, heapI, b1, k, j, d1);
        heapOffer(heapD, heapI, b2, k, j, d2);
        heapOffer(heapD, heapI, b3, k, j, d3);
        heapOffer(heapD, heapI, bj, k, i, d0);
        heapOffer(heapD, heapI, bj, k, i + 1, d1);
        heapOffer(heapD, heapI, bj, k, i + 2, d2);
        heapOffer(heapD, heapI, bj, k, i + 3, d3);
      }
    }
  }
}

/**
 * data: n×d row-major. Yields now and then; returns the neighbours of every row (itself excluded).
 * threads: 'auto' = two from THREADED_FROM rows on, when the machine has two cores.
 */
export function* exactKnnSteps(
  data: Float64Array,
  n: number,
  d: number,
  k: number,
  threads: number | 'auto' = 'auto',
): Generator<void, KnnGraph> {
  if (k < 1 || k >= n) throw new RangeError(`exactKnn: k must be in [1, ${n - 1}] (got ${k})`);
  const t = threads === 'auto' ? (n >= THREADED_FROM ? defaultThreads() : 1) : threads;
  const alloc = allocator(t > 1);
  const b: KnnBuffers = {
    header: alloc.f64(5),
    data: alloc.f64(n * d),
    norms: alloc.f64(n),
    heapD: alloc.f64(t * n * k).fill(Infinity),
    heapI: alloc.i32(t * n * k).fill(-1),
  };
  b.data.set(data.subarray(0, n * d));
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += data[i * d + c]! * data[i * d + c]!;
    b.norms[i] = s;
  }
  const helper = new Helper('knn', knnShare, b, t);
  try {
    const blocks = Math.ceil(n / 4);
    b.header.set([n, d, k]);
    for (let first = 0; first < blocks;) {
      // about WORK_PER_STEP per step: block i costs (n − 4i)·d
      let end = first;
      for (let work = 0; end < blocks && work < WORK_PER_STEP * t; end++) work += 4 * (n - 4 * end) * d;
      b.header[3] = first;
      b.header[4] = end;
      helper.run();
      first = end;
      yield;
    }
  } finally {
    helper.close();
  }
  return sortedNeighbours(b, n, k, t);
}

/** Merges the heap sets and sorts each list into ascending (distance, index). */
function sortedNeighbours(b: KnnBuffers, n: number, k: number, sets: number): KnnGraph {
  const indices = new Int32Array(n * k);
  const distances = new Float64Array(n * k);
  const order = Array.from({ length: sets * k }, (_, i) => i);
  const cd = new Float64Array(sets * k);
  const ci = new Int32Array(sets * k);
  for (let i = 0; i < n; i++) {
    for (let s = 0; s < sets; s++) {
      cd.set(b.heapD.subarray((s * n + i) * k, (s * n + i + 1) * k), s * k);
      ci.set(b.heapI.subarray((s * n + i) * k, (s * n + i + 1) * k), s * k);
    }
    order.sort((x, y) => cd[x]! - cd[y]! || ci[x]! - ci[y]!);
    for (let t = 0; t < k; t++) {
      indices[i * k + t] = ci[order[t]!]!;
      distances[i * k + t] = cd[order[t]!]!;
    }
  }
  return { n, k, indices, distances };
}
