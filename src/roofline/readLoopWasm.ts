/**
 * A hand-assembled WebAssembly module (SIMD) exporting `mem` and `read(ptr, len): i32`, which XORs
 * every 16-byte lane of [ptr, ptr+len) into an accumulator, 8 loads (128 bytes) per iteration.
 * len must be a multiple of 128. A v128 load per 16 bytes is what lets one thread approach the
 * memory bus; a scalar JS loop over a TypedArray is compute-bound well below it.
 */
export function readLoopWasmBytes(): Uint8Array {
  const load = (offset: number): number[] => [0x20, 0x00, 0xfd, 0x00, 0x04, ...uleb(offset), 0xfd, 0x51];
  const loads: number[] = [];
  for (let i = 0; i < 8; i++) loads.push(...load(i * 16));
  const body = [
    // locals: 1 × v128 (acc, index 2), 1 × i32 (end, index 3)
    0x02,
    0x01,
    0x7b,
    0x01,
    0x7f,
    // end = ptr + len
    0x20,
    0x00,
    0x20,
    0x01,
    0x6a,
    0x21,
    0x03,
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    0x20,
    0x00,
    0x20,
    0x03,
    0x4f,
    0x0d,
    0x01, // if ptr >= end: break
    0x20,
    0x02, // acc
    ...loads,
    0x21,
    0x02, // acc = acc ^ loads...
    0x20,
    0x00,
    0x41,
    0x80,
    0x01,
    0x6a,
    0x21,
    0x00, // ptr += 128
    0x0c,
    0x00, // continue
    0x0b,
    0x0b, // end loop, end block
    0x20,
    0x02,
    0xfd,
    0x1b,
    0x00, // i32x4.extract_lane 0
    0x0b,
  ];
  const code = [0x01, ...uleb(body.length), ...body];
  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]),
    ...section(3, [0x01, 0x00]),
    ...section(5, [0x01, 0x00, 0x01]),
    ...section(7, [0x02, ...name("read"), 0x00, 0x00, ...name("mem"), 0x02, 0x00]),
    ...section(10, code),
  ]);
}

function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

/** The exports of the read-loop module. */
export interface ReadLoopExports {
  /** XOR of all lanes read; returned so the engine cannot drop the loads. */
  readonly read: (ptr: number, len: number) => number;
  readonly mem: { grow(pages: number): number; readonly buffer: ArrayBuffer };
}

/** The slice of the WebAssembly global we use (this project's `lib` has no DOM/WebAssembly types). */
interface WasmGlobal {
  instantiate(bytes: Uint8Array): Promise<{ instance: { exports: unknown } }>;
}

/** Compiles and instantiates the read loop, with its own memory of one 64 KiB page. */
export async function instantiateReadLoop(): Promise<ReadLoopExports> {
  const wasm = (globalThis as unknown as { WebAssembly: WasmGlobal }).WebAssembly;
  const module = await wasm.instantiate(readLoopWasmBytes());
  return module.instance.exports as ReadLoopExports;
}
