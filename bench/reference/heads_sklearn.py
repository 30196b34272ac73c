#!/usr/bin/env python3
"""scikit-learn reference for convlens' heads (optional; nothing in the project runs this).

Reads the .npy embeddings and label files `npm run bench -- teach` writes (the same float32 rows
and the same fixed train/test split convlens' heads are scored on) and prints the held-out
accuracy of the textbook baselines: LogisticRegression(C=1) (lbfgs, multinomial) and
KNeighborsClassifier(n_neighbors=5), on the embeddings as they are and L2-normalised.
Needs numpy and scikit-learn (Debian: python3-sklearn; run it with /usr/bin/python3).

    /usr/bin/python3 bench/reference/heads_sklearn.py DIR [--merge-into bench/results/teach.json]
"""
import argparse
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import normalize


def labels(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('dir')
    ap.add_argument('--merge-into')
    a = ap.parse_args()
    y_train = labels(os.path.join(a.dir, 'train-labels.txt'))
    y_test = labels(os.path.join(a.dir, 'test-labels.txt'))
    out = {'sklearn': sklearn.__version__}
    for view in ('plain', 'tta'):
        x_train = np.load(os.path.join(a.dir, f'{view}-train.npy')).astype(np.float64)
        x_test = np.load(os.path.join(a.dir, f'{view}-test.npy')).astype(np.float64)
        models = {
            'LogisticRegression(C=1)': (LogisticRegression(C=1.0, max_iter=5000), False),
            'LogisticRegression(C=1), L2-normalised rows': (LogisticRegression(C=1.0, max_iter=5000), True),
            'KNeighborsClassifier(5)': (KNeighborsClassifier(n_neighbors=5), False),
            'KNeighborsClassifier(5), cosine': (KNeighborsClassifier(n_neighbors=5, metric='cosine'), False),
        }
        for name, (model, norm) in models.items():
            xt, xs = (normalize(x_train), normalize(x_test)) if norm else (x_train, x_test)
            model.fit(xt, y_train)
            acc = float(np.mean(model.predict(xs) == np.array(y_test)))
            out[f'{name} {view}'] = round(acc, 4)
            print(f'{name:48s} {view:5s} {acc:.4f}')
    # the mean over the 8 other splits bench/teach.ts scores convlens on
    splits_path = os.path.join(a.dir, 'splits.json')
    if os.path.exists(splits_path):
        splits = json.load(open(splits_path))
        y_all = np.array(labels(os.path.join(a.dir, 'all-labels.txt')))
        for view in ('plain', 'tta'):
            x_all = np.load(os.path.join(a.dir, f'{view}-all.npy')).astype(np.float64)
            accs = []
            for sp in splits:
                m = LogisticRegression(C=1.0, max_iter=5000).fit(x_all[sp['train']], y_all[sp['train']])
                accs.append(float(np.mean(m.predict(x_all[sp['val']]) == y_all[sp['val']])))
            out[f'LogisticRegression(C=1) {view}, mean of {len(splits)} splits'] = round(float(np.mean(accs)), 4)
            print(f'LogisticRegression(C=1), mean of {len(splits)} splits      {view:5s} {np.mean(accs):.4f}  ' + ' '.join(f'{a:.3f}' for a in accs))
    if a.merge_into:
        with open(a.merge_into) as f:
            r = json.load(f)
        r['sklearn'] = out
        with open(a.merge_into, 'w') as f:
            json.dump(r, f, indent=2)
            f.write('\n')


if __name__ == '__main__':
    main()
