#!/usr/bin/env python3
"""scikit-learn reference figures for convlens' t-SNE (optional; nothing in the project runs this).

The tests and the benchmark read the numbers this script wrote into
test/projection/fixtures/sklearn-reference.json and bench/results/tsne.json; they never run Python.
The inputs are .npy files written by convlens itself (`npx tsx bench/tsne.ts --export DIR`), so both
sides see identical float32 data.

    python3 bench/reference/tsne_sklearn.py DATA.npy [--labels LABELS.txt] [--seeds 0,1,2]
        [--variants raw,pca50] [--name NAME] [--merge-into RESULTS.json]
    python3 bench/reference/tsne_sklearn.py DATA.npy --embedding MAP.npy   # metrics of a given map

Variants: `raw` is TSNE() on the data as given; `pca50` is PCA(50) first, as convlens does (only
when the data has more than 50 columns). TSNE uses scikit-learn's defaults (>= 1.2: init='pca',
learning_rate='auto', perplexity 30, n_iter 1000, angle 0.5, barnes_hut) and random_state=seed.
Reported per seed: wall seconds (PCA included), final KL (sklearn's Barnes-Hut estimate),
trustworthiness (k=10, sklearn.manifold.trustworthiness), neighbourhood preservation (fraction of
the 10 nearest neighbours kept) and, with labels (one per line, or path<TAB>label), leave-one-out
5-NN accuracy in the map (majority vote; a tie goes to the tied label seen first among the
neighbours, nearest first, as convlens' knnAccuracy). Needs numpy and scikit-learn (Debian:
python3-sklearn).
"""
import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.neighbors import NearestNeighbors


def read_labels(path):
    with open(path) as f:
        return [line.rstrip('\n').split('\t')[-1] for line in f if line.strip()]


def neighbourhood_preservation(x, y, k=10):
    hi = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(return_distance=False)
    lo = NearestNeighbors(n_neighbors=k + 1).fit(y).kneighbors(return_distance=False)
    kept = sum(len(set(hi[i][:k]) & set(lo[i][:k])) for i in range(len(x)))
    return kept / (len(x) * k)


def knn_accuracy(y, labels, k=5):
    ind = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    correct = 0
    for i, row in enumerate(ind):
        votes = {}
        for rank, j in enumerate(row):
            count, first = votes.get(labels[j], (0, rank))
            votes[labels[j]] = (count + 1, first)
        best = max(votes.items(), key=lambda kv: (kv[1][0], -kv[1][1]))[0]
        correct += best == labels[i]
    return correct / len(y)


def metrics(x, y, labels):
    out = {
        'trustworthiness': float(trustworthiness(x, y, n_neighbors=10)),
        'neighbourhoodPreservation': float(neighbourhood_preservation(x, y)),
    }
    if labels is not None:
        out['knnAccuracy5'] = float(knn_accuracy(y, labels))
    return out


def run_variant(x, labels, variant, seed):
    started = time.time()
    xi = PCA(n_components=50, random_state=seed).fit_transform(x) if variant == 'pca50' else x
    tsne = TSNE(random_state=seed)
    y = tsne.fit_transform(xi)
    seconds = time.time() - started
    return {'seed': seed, 'seconds': round(seconds, 3), 'kl': float(tsne.kl_divergence_),
            'iterations': int(tsne.n_iter_) + 1, **metrics(x, y, labels)}


def summarise(runs):
    keys = [k for k in runs[0] if k not in ('seed',)]
    return {k: {'mean': float(np.mean([r[k] for r in runs])), 'min': float(np.min([r[k] for r in runs])),
                'max': float(np.max([r[k] for r in runs]))} for k in keys}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('data')
    ap.add_argument('--labels')
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--variants', default='raw,pca50')
    ap.add_argument('--name', help='key of this dataset in the merged JSON (default: file name)')
    ap.add_argument('--merge-into', help='JSON file whose "sklearn" object gets this result under NAME')
    ap.add_argument('--embedding', help='only compute the metrics of this N×2 map of DATA')
    args = ap.parse_args()

    x = np.load(args.data)
    labels = read_labels(args.labels) if args.labels else None
    if args.embedding:
        print(json.dumps(metrics(x, np.load(args.embedding), labels), indent=2))
        return

    result = {
        'data': os.path.basename(args.data), 'n': int(x.shape[0]), 'dim': int(x.shape[1]),
        'sklearn': sklearn.__version__, 'numpy': np.__version__, 'python': platform.python_version(),
        'threads': 'OpenMP default (all cores)', 'loadAverage1m': os.getloadavg()[0],
        'date': time.strftime('%Y-%m-%dT%H:%M:%S'), 'variants': {},
    }
    for variant in args.variants.split(','):
        if variant == 'pca50' and x.shape[1] <= 50:
            continue
        runs = [run_variant(x, labels, variant, int(s)) for s in args.seeds.split(',')]
        result['variants'][variant] = {'runs': runs, 'summary': summarise(runs)}
        print(variant, json.dumps(result['variants'][variant]['summary']), file=sys.stderr)

    if args.merge_into:
        name = args.name or os.path.splitext(os.path.basename(args.data))[0]
        merged = {}
        if os.path.exists(args.merge_into):
            with open(args.merge_into) as f:
                merged = json.load(f)
        merged.setdefault('sklearn', {})[name] = result
        with open(args.merge_into, 'w') as f:
            json.dump(merged, f, indent=2)
            f.write('\n')
    else:
        print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()
