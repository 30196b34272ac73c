/**
 * The second thread of a projection Helper (parallel.ts): runs its half of each command on the
 * shared buffers, meeting the main thread on Atomics. A kernel that throws marks the control
 * block failed; the main thread then does this share itself.
 */
import { workerData } from 'node:worker_threads';
import { workShare } from './gradient.js';
import { knnShare } from './knn.js';
import type { Share, ShareName } from './parallel.js';
import { passShare } from './pca.js';

const SHARES: Record<ShareName, Share<never>> = { 'tsne-gradient': workShare, knn: knnShare, 'pca-pass': passShare };

const { buffers, control, share } = workerData as { buffers: never; control: Int32Array; share: ShareName };
// say the module loaded (a worker that never says so is given up)
Atomics.store(control, 3, 1);
const scratch = {};
let seen = 0;
try {
  const run = SHARES[share];
  if (!run) throw new Error(`no kernel "${share}"`);
  for (;;) {
    Atomics.wait(control, 0, seen);
    seen = Atomics.load(control, 0);
    if (seen < 0) break;
    run(1, 2, buffers, scratch);
    Atomics.store(control, 1, seen);
    Atomics.notify(control, 1);
  }
} catch {
  Atomics.store(control, 2, 1);
  Atomics.notify(control, 1);
}
