import { StopTokenScanner } from "../metrics/StopTokenScanner.js";
import type {
  ObservedChunk,
  RequestError,
  RequestObservation,
  ServerReportedTimings,
  ServerUsage,
} from "../records/RequestObservation.js";
import { growTypedArray } from "../results/growTypedArray.js";
import { httpRequestError, safeExcerpt } from "./httpRequestError.js";
import type { HttpStreamResult } from "./streamHttp.js";

/** Chunks a new observer has room for before its array grows (doubling). */
const CHUNK_CAPACITY = 32;
/** Numbers kept per chunk, side by side in one array: arrival, read index, tokens, chars. */
/** Bytes of an answer of the wrong content type kept to quote. */
const SNIFF_BYTES = 512;
const STRIDE = 4;

/** The parts of a {@link RequestObservation} that the stream's bytes alone do not give. */
export interface StreamFindings {
  planned_at_ms: number;
  prompt_tokens_client: number | null;
  comments: number;
  output_tokens_tokenizer: number | null;
}

/**
 * The bookkeeping of one streamed generation over HTTP, shared by the HTTP targets: the
 * token-bearing chunks, each stamped with the socket read that completed it, what the server said
 * about the request (usage, timings), the first error (after which the rest of the stream is
 * ignored), and the explicit end of the stream.
 *
 * The target's parser runs synchronously inside {@link feed}, so every chunk it reports gets the
 * time and index of the read being fed.
 */
export class StreamObserver {
  /** The first error; null while the stream is fine. */
  error: RequestError | null = null;
  /** The server's token counts, as last reported in the stream; null when none. */
  usage: ServerUsage | null = null;
  /** The server's own timings, as last reported in the stream; null when none. */
  serverTimings: ServerReportedTimings | null = null;
  /** Looks for chat-template stop tokens in the generated text. */
  readonly stopTokens = new StopTokenScanner();
  /** Arrival of the read that carried the stream's explicit end (`[DONE]`, `done: true`); null until then. */
  private doneAt: number | null = null;
  private emptyChunks = 0;
  // Token-bearing chunks, as numbers in one typed array until the stream ends: one object per chunk
  // would live as long as its request, and thousands of concurrent streams made those the bulk of
  // what every young-generation GC had to copy (bench/harness.ts); one array rather than a column
  // each keeps it to one ArrayBuffer per request. Tokens: NaN when the server did not say.
  private chunkData = new Float64Array(CHUNK_CAPACITY * STRIDE);
  private chunkCount = 0;
  private readAt = 0;
  private readIndex = 0;
  private readonly where: string;
  private readonly secrets: readonly string[];
  /** The content type of a successful answer that is not the stream's (see {@link expect}); null when it is. */
  private foreignType: string | null = null;
  /** The first bytes of an answer of a foreign content type, quoted if it turns out not to be a stream. */
  private sniffed: Buffer[] = [];
  private sniffedBytes = 0;
  private streamType = "";

  /**
   * @param where The request as it appears in messages, e.g. `POST http://127.0.0.1:8080/v1/chat/completions`.
   * @param secrets Texts to redact from anything quoted from the stream.
   */
  constructor(where: string, secrets: readonly string[]) {
    this.where = where;
    this.secrets = secrets;
  }

  /**
   * Notes the answer's status and content type (streamHttp's `onResponse`). A successful answer
   * whose content type is set and is not `streamType` may still parse (a server that labels its SSE
   * `text/plain`, a JSON completion); if it yields no token and no proper end, {@link settle} reports
   * `REQUEST_NOT_A_STREAM` quoting its first bytes, rather than a stream that ended early.
   *
   * @param streamType The stream's content type, e.g. `text/event-stream`.
   */
  expect(status: number, contentType: string | null, streamType: string): void {
    this.streamType = streamType;
    if (status < 400 && contentType !== null && !contentType.startsWith(streamType)) {
      this.foreignType = contentType;
    }
  }

  /** Whether the stream still counts: neither ended nor failed. */
  get open(): boolean {
    return this.doneAt === null && this.error === null;
  }

  /**
   * Hands `chunk`, which came in the socket read (`atMs`, `readIndex`), to `sink`; returns false once
   * an error makes the rest of the body useless. Fits `streamHttp`'s `onBody`.
   */
  feed(sink: { push(chunk: Buffer): void }, chunk: Buffer, atMs: number, readIndex: number): boolean {
    this.readAt = atMs;
    this.readIndex = readIndex;
    if (this.foreignType !== null && this.sniffedBytes < SNIFF_BYTES) {
      const part = Buffer.from(chunk.subarray(0, SNIFF_BYTES - this.sniffedBytes));
      this.sniffed.push(part);
      this.sniffedBytes += part.length;
    }
    sink.push(chunk);
    return this.error === null;
  }

  /**
   * Records one parsed piece of the stream: a chunk when it carries generated text (`chars`) or
   * tokens (`tokens`, when the server says), an empty chunk otherwise.
   */
  generated(chars: number, tokens: number | null): void {
    if (chars > 0 || (tokens !== null && tokens > 0)) {
      const at = this.chunkCount * STRIDE;
      if (at === this.chunkData.length) this.chunkData = growTypedArray(this.chunkData, at * 2);
      const data = this.chunkData;
      data[at] = this.readAt;
      data[at + 1] = this.readIndex;
      data[at + 2] = tokens ?? Number.NaN;
      data[at + 3] = chars;
      this.chunkCount++;
    } else {
      this.emptyChunks++;
    }
  }

  /** Arrival time of the socket read being parsed: the one {@link feed} last handed over. */
  get lastReadAt(): number {
    return this.readAt;
  }

  /** Token-bearing chunks so far. */
  get chunks(): number {
    return this.chunkCount;
  }

  /** The token-bearing chunks, as the observation lists them. */
  observedChunks(): ObservedChunk[] {
    const out: ObservedChunk[] = new Array(this.chunkCount);
    const data = this.chunkData;
    for (let i = 0; i < this.chunkCount; i++) {
      const at = i * STRIDE;
      const tokens = data[at + 2] as number;
      out[i] = {
        at_ms: data[at] as number,
        read_index: data[at + 1] as number,
        tokens: Number.isNaN(tokens) ? null : tokens,
        chars: data[at + 3] as number,
      };
    }
    return out;
  }

  /** Records a parsed piece that carries no generated text (role-only, usage-only, keep-alive). */
  empty(): void {
    this.emptyChunks++;
  }

  /** Records the stream's explicit end at the current read. */
  end(): void {
    this.doneAt = this.readAt;
  }

  /**
   * Parses one piece of the stream as JSON; when it is not JSON, records the error and returns
   * undefined (which valid JSON never gives).
   */
  parseJson(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      this.error = {
        code: "REQUEST_MALFORMED_JSON",
        message: `malformed JSON in the stream from ${this.where}: ${safeExcerpt(text, this.secrets, 80)}`,
        status: null,
      };
      return undefined;
    }
  }

  /** Records an error the server reported inside the stream. */
  serverError(text: string): void {
    this.error = {
      code: "REQUEST_SERVER_ERROR_EVENT",
      message: `${this.where} sent an error in the stream: ${safeExcerpt(text, this.secrets)}`,
      status: null,
    };
  }

  /**
   * Judges, once the exchange is over, a stream that neither failed nor ended explicitly: the
   * transport error when there is one, else a cut stream unless `finished` (the format has an
   * implicit end, e.g. a `finish_reason`, that was seen).
   *
   * @param missingEnd What the stream ended before, for the message, e.g. `[DONE] or a finish_reason`.
   */
  settle(result: HttpStreamResult, missingEnd: string, finished = false): void {
    if (this.doneAt !== null) return;
    if (this.error === null) this.error = httpRequestError(result, this.where, this.secrets);
    if (this.error === null && !finished) {
      this.error = {
        code: "REQUEST_STREAM_CUT",
        message: `stream from ${this.where} ended before ${missingEnd}`,
        status: result.status,
      };
    }
    const unparsed =
      this.error?.code === "REQUEST_STREAM_CUT" || this.error?.code === "REQUEST_MALFORMED_JSON";
    if (this.foreignType !== null && this.chunkCount === 0 && unparsed && result.outcome !== "aborted") {
      const body = safeExcerpt(Buffer.concat(this.sniffed).toString("utf8"), this.secrets);
      this.error = {
        code: "REQUEST_NOT_A_STREAM",
        message: `${this.where} answered HTTP ${result.status} with content-type ${this.foreignType}, not a stream (${this.streamType})${body === "" ? "" : `: ${body}`}`,
        status: result.status,
      };
    }
  }

  /** The observation of this request. */
  observation(result: HttpStreamResult, findings: StreamFindings): RequestObservation {
    return {
      planned_at_ms: findings.planned_at_ms,
      sent_at_ms: result.sent_at_ms,
      headers_at_ms: result.headers_at_ms,
      end_at_ms: this.doneAt ?? result.end_at_ms,
      status: result.status,
      chunks: this.observedChunks(),
      empty_chunks: this.emptyChunks,
      comments: findings.comments,
      usage: this.usage,
      server_timings: this.serverTimings,
      prompt_tokens_client: findings.prompt_tokens_client,
      output_tokens_tokenizer: findings.output_tokens_tokenizer,
      error: this.error,
      leaked_stop_token: this.stopTokens.found,
    };
  }
}
