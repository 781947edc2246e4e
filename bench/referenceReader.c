/*
 * Reference reader for bench/harness.ts: the least a client can do to time a chunk. One thread,
 * epoll, non-blocking sockets, one keep-alive connection per stream; every read is stamped with
 * CLOCK_MONOTONIC as soon as epoll returns it, and a token chunk is recognised by the mock's
 * `"content":"` marker, with no HTTP, SSE or JSON parsing. Its timing error against the mock is
 * the floor that the machine (kernel, scheduler, the mock sharing the cores) puts under any client.
 *
 *   referenceReader PORT STREAMS REQUESTS REQUEST_MS MAX_TOKENS PROMPT_PREFIX OUT_FILE
 *
 * Streams start evenly spread over one request duration and each sends its next request when the
 * previous response ends, so about STREAMS requests are in flight. OUT_FILE gets one line per
 * request: the prompt, a tab, and the arrival times (ms) of its token chunks, comma-separated.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char MARK[] = "\"content\":\"";
static const char END[] = "0\r\n\r\n";

typedef struct {
  int fd;
  int request;   /* index of the request in flight, -1 when none */
  size_t marked; /* bytes of MARK matched so far */
  char tail[sizeof END - 1];
} Stream;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int port, max_tokens, next_request, total;
static const char *prefix;
static double **arrivals;
static int *counts;

static int send_next(Stream *s) {
  if (next_request >= total) {
    s->request = -1;
    return 0;
  }
  int r = next_request++;
  s->request = r;
  s->marked = 0;
  memset(s->tail, 0, sizeof s->tail);
  arrivals[r] = calloc((size_t)max_tokens + 1, sizeof(double));
  char body[512], head[1024];
  int body_len = snprintf(body, sizeof body,
                          "{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\"%s %d\"}],"
                          "\"max_tokens\":%d,\"stream\":true}",
                          prefix, r, max_tokens);
  int len = snprintf(head, sizeof head,
                     "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n"
                     "content-type: application/json\r\ncontent-length: %d\r\n\r\n%s",
                     port, body_len, body);
  if (write(s->fd, head, (size_t)len) != len) {
    perror("referenceReader: write");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: referenceReader PORT STREAMS REQUESTS REQUEST_MS MAX_TOKENS PREFIX OUT\n");
    return 2;
  }
  port = atoi(argv[1]);
  int streams = atoi(argv[2]);
  total = atoi(argv[3]);
  double request_ms = atof(argv[4]);
  max_tokens = atoi(argv[5]);
  prefix = argv[6];
  arrivals = calloc((size_t)total, sizeof(double *));
  counts = calloc((size_t)total, sizeof(int));
  Stream *all = calloc((size_t)streams, sizeof(Stream));
  int ep = epoll_create1(0);
  struct epoll_event events[1024];
  static char buf[65536];
  double start = now_ms();
  int started = 0, done = 0;
  while (done < total) {
    double now = now_ms();
    while (started < streams && now >= start + started * request_ms / streams) {
      Stream *s = &all[started];
      struct sockaddr_in addr = {0};
      addr.sin_family = AF_INET;
      addr.sin_port = htons((uint16_t)port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      s->fd = socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(s->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("referenceReader: connect");
        return 1;
      }
      fcntl(s->fd, F_SETFL, O_NONBLOCK);
      struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)started};
      epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e);
      started++;
      if (send_next(s) != 0) return 1;
      now = now_ms();
    }
    int timeout = 1000;
    if (started < streams) {
      double wait = start + started * request_ms / streams - now;
      timeout = wait <= 0 ? 0 : (int)wait + 1;
    }
    int n = epoll_wait(ep, events, 1024, timeout);
    for (int i = 0; i < n; i++) {
      Stream *s = &all[events[i].data.u32];
      for (;;) {
        ssize_t got = read(s->fd, buf, sizeof buf);
        if (got == 0) {
          fprintf(stderr, "referenceReader: the server closed a connection\n");
          return 1;
        }
        if (got < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          perror("referenceReader: read");
          return 1;
        }
        double at = now_ms();
        int r = s->request;
        for (ssize_t k = 0; k < got; k++) {
          char c = buf[k];
          if (c == MARK[s->marked]) {
            if (++s->marked == sizeof MARK - 1) {
              if (r >= 0 && counts[r] <= max_tokens) arrivals[r][counts[r]++] = at;
              s->marked = 0;
            }
          } else {
            s->marked = c == MARK[0] ? 1 : 0;
          }
          memmove(s->tail, s->tail + 1, sizeof s->tail - 1);
          s->tail[sizeof s->tail - 1] = c;
          if (memcmp(s->tail, END, sizeof s->tail) == 0) {
            done++;
            if (send_next(s) != 0) return 1;
            r = s->request;
          }
        }
      }
    }
  }
  FILE *out = fopen(argv[7], "w");
  if (out == NULL) {
    perror("referenceReader: output file");
    return 1;
  }
  for (int r = 0; r < total; r++) {
    fprintf(out, "%s %d", prefix, r);
    for (int j = 0; j < counts[r]; j++) fprintf(out, "%c%.4f", j == 0 ? '\t' : ',', arrivals[r][j]);
    fputc('\n', out);
  }
  fclose(out);
  return 0;
}
