import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { readGguf } from "../../src/gguf/readGguf.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

/** Expects readGguf to fail with `code` and a message naming the byte offset. */
async function expectError(path: string, code: string, offset?: number): Promise<string> {
  try {
    await readGguf(path);
  } catch (error) {
    assert.ok(isTokbenchError(error), `expected TokbenchError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.ok(!error.message.includes("\n"), "one-line message");
    assert.match(error.message, /at byte \d+/);
    if (offset !== undefined) assert.equal(error.context.offset, offset, error.message);
    return error.message;
  }
  assert.fail(`expected ${code}`);
}

describe("readGguf", () => {
  let dir: string;
  let model: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-gguf-"));
    const r = await synthesizeModel({
      preset: "tiny",
      type: "q4_0",
      out: join(dir, "tiny.gguf"),
      shape: { blockCount: 1 },
    });
    model = await readFile(r.path);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const variant = async (name: string, bytes: Uint8Array): Promise<string> => {
    const p = join(dir, name);
    await writeFile(p, bytes);
    return p;
  };

  it("parses the header, metadata and tensors of a synthetic model", async () => {
    const f = await readGguf(join(dir, "tiny.gguf"));
    assert.equal(f.version, 3);
    assert.equal(f.alignment, 32);
    assert.equal(f.fileBytes, model.length);
    assert.equal(f.tensors.length, 1 + 9 + 2);
    const arch = f.metadata.find((m) => m.key === "general.architecture");
    assert.equal(arch?.value, "llama");
    const tokens = f.metadata.find((m) => m.key === "tokenizer.ggml.tokens");
    assert.equal(tokens?.type === "array" ? tokens.value.length : 0, 4096);
    const embd = f.tensors[0];
    assert.equal(embd?.name, "token_embd.weight");
    assert.deepEqual(embd?.shape, [256, 4096]);
    assert.equal(embd?.bytes, (256 * 4096 * 18) / 32);
    assert.equal(embd?.fileOffset, f.dataOffset);
    const last = f.tensors[f.tensors.length - 1];
    assert.ok(last !== undefined && last.fileOffset + last.bytes <= f.fileBytes);
  });

  it("rejects a non-GGUF file with GGUF_NOT_GGUF at byte 0", async () => {
    const msg = await expectError(
      await variant("text.gguf", Buffer.from('{"not": "gguf"}')),
      "GGUF_NOT_GGUF",
      0,
    );
    assert.match(msg, /expected "GGUF"/);
    await expectError(await variant("empty.gguf", new Uint8Array(0)), "GGUF_NOT_GGUF", 0);
  });

  it("rejects an unsupported version at byte 4", async () => {
    const b = Buffer.from(model);
    b.writeUInt32LE(7, 4);
    await expectError(await variant("v7.gguf", b), "GGUF_UNSUPPORTED", 4);
  });

  it("rejects absurd tensor and metadata counts as corrupt", async () => {
    const b = Buffer.from(model);
    b.writeBigUInt64LE(1n << 40n, 8);
    await expectError(await variant("tcount.gguf", b), "GGUF_CORRUPT", 8);
    const c = Buffer.from(model);
    c.writeBigUInt64LE(1n << 40n, 16);
    await expectError(await variant("kvcount.gguf", c), "GGUF_CORRUPT", 16);
  });

  it("rejects an unknown ggml type id at the byte of the type field", async () => {
    const f = await readGguf(join(dir, "tiny.gguf"));
    // Tensor info of token_embd: name (8 + 17 bytes), n_dims (4), 2 dims (16), then the type.
    const nameAt = model.indexOf(Buffer.from("token_embd.weight")) - 8;
    const typeAt = nameAt + 8 + 17 + 4 + 16;
    assert.equal(model.readUInt32LE(typeAt), 2, "Q4_0 type id where expected");
    const b = Buffer.from(model);
    b.writeUInt32LE(200, typeAt);
    const msg = await expectError(await variant("type.gguf", b), "GGUF_CORRUPT", typeAt);
    assert.match(msg, /unknown ggml type id 200 of tensor "token_embd.weight"/);
    b.writeUInt32LE(45, typeAt);
    await expectError(await variant("type45.gguf", b), "GGUF_UNSUPPORTED", typeAt);
    assert.ok(f.tensors.length > 0);
  });

  it("rejects an unknown metadata value type", async () => {
    const keyAt = model.indexOf(Buffer.from("general.architecture")) - 8;
    const typeAt = keyAt + 8 + "general.architecture".length;
    const b = Buffer.from(model);
    b.writeUInt32LE(99, typeAt);
    await expectError(await variant("vtype.gguf", b), "GGUF_CORRUPT", typeAt);
  });

  it("reports truncation in the header, in the tensor infos and in the data", async () => {
    const f = await readGguf(join(dir, "tiny.gguf"));
    for (const cut of [6, 30, 5000, f.dataOffset - 10, f.dataOffset + 100, model.length - 1]) {
      const msg = await expectError(
        await variant(`cut${cut}.gguf`, model.subarray(0, cut)),
        "GGUF_TRUNCATED",
      );
      assert.match(msg, new RegExp(`${cut} bytes`));
    }
  });

  it("reports a missing file as FILE_NOT_FOUND", async () => {
    await assert.rejects(readGguf(join(dir, "nope.gguf")), (e: unknown) =>
      isTokbenchError(e, "FILE_NOT_FOUND"),
    );
  });
});
