import http from "node:http";
import type { AddressInfo } from "node:net";

/** Markup a hostile server or user slips into every string a report may show. */
export const HOSTILE_SCRIPT = "<script>window.__pwned='answer'</script>";
export const HOSTILE_ERROR = `<img src=x onerror="window.__pwned='error'"><script>window.__pwned='error'</script>`;

/**
 * An OpenAI-compatible streaming server on 127.0.0.1 whose model answers with a script tag, and
 * which fails every third request with an error message made of markup: the strings a report must
 * escape. Its own request count decides which requests fail.
 */
export async function startHostileServer(): Promise<{ url: string; close(): Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (!req.url?.endsWith("/chat/completions")) {
        res.writeHead(404).end();
        return;
      }
      n++;
      if (n % 3 === 0) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: HOSTILE_ERROR } }));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      const words = HOSTILE_SCRIPT.split(/(?=[<>=])/);
      let i = 0;
      const send = (): void => {
        if (i < words.length) {
          const chunk = {
            id: "x",
            object: "chat.completion.chunk",
            choices: [{ index: 0, delta: { content: words[i] }, finish_reason: null }],
          };
          res.write(`data: ${JSON.stringify(chunk)}\n\n`);
          i++;
          setTimeout(send, 2);
          return;
        }
        const last = {
          id: "x",
          object: "chat.completion.chunk",
          choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
          usage: { prompt_tokens: 16, completion_tokens: words.length, total_tokens: 16 + words.length },
        };
        res.write(`data: ${JSON.stringify(last)}\n\ndata: [DONE]\n\n`);
        res.end();
      };
      setTimeout(send, 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
