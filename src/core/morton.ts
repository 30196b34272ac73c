/** The Morton (Z-order) code of a 2-D cell: x's bits in the even positions, y's in the odd (each < 2^16). */
export function mortonCode(x: number, y: number): number {
  return (spreadBits(x) | (spreadBits(y) << 1)) >>> 0;
}

/** Spreads the low 16 bits of v to the even bit positions. */
function spreadBits(v: number): number {
  v &= 0xffff;
  v = (v | (v << 8)) & 0x00ff00ff;
  v = (v | (v << 4)) & 0x0f0f0f0f;
  v = (v | (v << 2)) & 0x33333333;
  v = (v | (v << 1)) & 0x55555555;
  return v;
}
