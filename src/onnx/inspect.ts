/**
 * Reading back just enough of an ONNX model to say what it computes: the op type of every node
 * of its main graph. Used to check which kernels ONNX Runtime chose (its optimized-model output).
 */

function varint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[pos++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** (field, wire type, start, end) of each field of one message; only what a reader needs to skip. */
function* fields(b: Uint8Array, start = 0, end = b.length): Generator<{ field: number; start: number; end: number }> {
  let pos = start;
  while (pos < end) {
    const [key, p] = varint(b, pos);
    pos = p;
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        pos = varint(b, pos)[1];
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const [len, q] = varint(b, pos);
        yield { field, start: q, end: q + len };
        pos = q + len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw new Error(`not an ONNX model (wire type ${key & 7} at byte ${pos})`);
    }
  }
}

/** Op type of every node of the model's graph, with its domain when not the default one. */
export function nodeOpTypes(model: Uint8Array): string[] {
  const text = new TextDecoder();
  const ops: string[] = [];
  for (const g of fields(model)) {
    if (g.field !== 7) continue;
    for (const n of fields(model, g.start, g.end)) {
      if (n.field !== 1) continue;
      let op = '';
      let domain = '';
      for (const f of fields(model, n.start, n.end)) {
        if (f.field === 4) op = text.decode(model.subarray(f.start, f.end));
        else if (f.field === 7) domain = text.decode(model.subarray(f.start, f.end));
      }
      ops.push(domain && domain !== 'ai.onnx' ? `${domain}.${op}` : op);
    }
  }
  return ops;
}
