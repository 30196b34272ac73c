/**
 * One entry point for every head type, for callers that take the type as a flag.
 */
import { ConvlensError, type Matrix } from '../core/index.js';
import { trainKnn, type KnnOptions } from './knn.js';
import { trainSoftmax, type SoftmaxOptions } from './softmax.js';
import { trainSvm, type SvmOptions } from './svm.js';
import type { Head } from './types.js';

export type TrainHeadOptions = ({ type: 'softmax' } & SoftmaxOptions) | ({ type: 'knn' } & KnnOptions) | ({ type: 'svm' } & SvmOptions);

export function trainHead(x: Matrix, labels: readonly string[], options: TrainHeadOptions): Head {
  switch (options.type) {
    case 'softmax':
      return trainSoftmax(x, labels, options);
    case 'knn':
      return trainKnn(x, labels, options);
    case 'svm':
      return trainSvm(x, labels, options);
    default:
      throw new ConvlensError('E_USAGE', `unknown head type '${(options as { type: string }).type}' (known: softmax, knn, svm)`);
  }
}
