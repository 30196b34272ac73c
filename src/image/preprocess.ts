/**
 * Keras `preprocess_input` in "caffe" mode (ResNet50): RGB -> BGR, subtract the ImageNet channel
 * means [103.939, 116.779, 123.68] (B, G, R), no scaling. Written straight into the NCHW layout
 * the ONNX graph takes.
 */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

/**
 * Interleaved RGB uint8 (h×w×3) -> planar BGR float32 minus mean, written to `out` at `offset`
 * (3·h·w floats: plane B, then G, then R).
 */
export function caffePreprocess(rgb: Uint8Array, out: Float32Array, offset = 0): void {
  const plane = rgb.length / 3;
  const [mb, mg, mr] = CAFFE_MEAN_BGR;
  const b = offset;
  const g = offset + plane;
  const r = offset + 2 * plane;
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    out[b + i] = rgb[j + 2]! - mb;
    out[g + i] = rgb[j + 1]! - mg;
    out[r + i] = rgb[j]! - mr;
  }
}
