// tokbench graph observer: a Node-API addon that watches llama.cpp's compute graph inside the very
// llama.cpp binary node-llama-cpp loaded (prebuilt, tuned local build or GPU build), without a
// patched or second copy of llama.cpp. See docs/trace.md ("How the graph is observed").
//
// How: this file defines two public functions of that binary, `llama_decode` (libllama) and
// `ggml_backend_sched_graph_compute_async` (libggml-base). tokbench loads this addon with
// RTLD_GLOBAL before node-llama-cpp loads its own addon; the dynamic linker searches the global
// scope first, so node-llama-cpp's call to llama_decode and libllama's call to the scheduler land
// here. Each wrapper forwards to the real function, which it finds in the already loaded libraries
// (dl_iterate_phdr + dlopen(RTLD_NOLOAD) + dlsym). Unless JavaScript armed an observation, a
// wrapper is one relaxed atomic load (or a thread-local read) and a tail call.
//
// When armed, the compute wrapper sets ggml's scheduler evaluation callback (what llama.cpp's
// `cb_eval` context parameter sets, and what node-llama-cpp does not expose) for that one graph
// computation and clears it afterwards. The callback asks for a synchronisation point after
// the last node of each transformer layer (layer timing) and after each `ffn_moe_topk-<layer>`
// node (the router's chosen expert ids, the only tensor data ever read), and records every node's
// name, op, type and shape in the ask pass (tensor events). No weight data is read or copied.
//
// Built against the headers of the same llama.cpp source node-llama-cpp bundles
// (scripts/build-graph-observer.sh); tokbench refuses to use it with a binding of another release,
// since the wrappers forward structs (llama_batch) by value and read ggml_tensor fields.

#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <link.h>
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml-backend.h"
#include "ggml.h"
#include "llama.h"

#ifndef TOKBENCH_LLAMA_TAG
#define TOKBENCH_LLAMA_TAG "unknown"
#endif
#ifndef TOKBENCH_LLAMA_COMMIT
#define TOKBENCH_LLAMA_COMMIT "unknown"
#endif

#define OBSERVER_ABI 2
#define EXPORT __attribute__((visibility("default")))

enum { OBS_LAYERS = 1, OBS_EXPERTS = 2, OBS_TENSORS = 4 };
/** Where a graph node belongs. */
enum { REGION_INPUT = -1, REGION_OUTPUT = -2 };

// ---- the real functions, resolved lazily in the libraries node-llama-cpp loaded ----

typedef int32_t (*llama_decode_fn)(struct llama_context *, struct llama_batch);
typedef enum ggml_status (*sched_compute_fn)(ggml_backend_sched_t, struct ggml_cgraph *);
typedef void (*sched_set_cb_fn)(ggml_backend_sched_t, ggml_backend_sched_eval_callback, void *);
typedef int (*graph_n_nodes_fn)(struct ggml_cgraph *);
typedef struct ggml_tensor * (*graph_node_fn)(struct ggml_cgraph *, int);
typedef const char * (*op_desc_fn)(const struct ggml_tensor *);
typedef const char * (*type_name_fn)(enum ggml_type);
typedef size_t (*nbytes_fn)(const struct ggml_tensor *);
typedef bool (*buffer_is_host_fn)(ggml_backend_buffer_t);
typedef void (*tensor_get_fn)(const struct ggml_tensor *, void *, size_t, size_t);

static struct {
  llama_decode_fn decode;
  sched_compute_fn compute;
  sched_set_cb_fn set_cb;
  graph_n_nodes_fn n_nodes;
  graph_node_fn node;
  op_desc_fn op_desc;
  type_name_fn type_name;
  nbytes_fn nbytes;
  buffer_is_host_fn is_host;
  tensor_get_fn tensor_get;
  char llama_path[512];
  char ggml_base_path[512];
  char error[1200];
  bool ok;
} real;

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

struct find_lib {
  const char * prefix;
  const char * exclude;
  char * out;
  size_t out_size;
};

static int find_lib_cb(struct dl_phdr_info * info, size_t size, void * data) {
  (void)size;
  struct find_lib * f = data;
  const char * path = info->dlpi_name;
  if (path == NULL || path[0] == '\0') return 0;
  const char * base = strrchr(path, '/');
  base = base == NULL ? path : base + 1;
  if (strncmp(base, f->prefix, strlen(f->prefix)) != 0) return 0;
  if (f->exclude != NULL && strncmp(base, f->exclude, strlen(f->exclude)) == 0) return 0;
  snprintf(f->out, f->out_size, "%s", path);
  return 1;
}

static void * symbol_in(const char * path, const char * name) {
  void * handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == NULL) return NULL;
  void * sym = dlsym(handle, name);
  dlclose(handle);  // only drops the reference RTLD_NOLOAD took: the library stays loaded
  return sym;
}

static void resolve_real(void) {
  struct find_lib llama = {"libllama", "libllama-common", real.llama_path, sizeof real.llama_path};
  struct find_lib base = {"libggml-base", NULL, real.ggml_base_path, sizeof real.ggml_base_path};
  dl_iterate_phdr(find_lib_cb, &llama);
  dl_iterate_phdr(find_lib_cb, &base);
  if (real.llama_path[0] == '\0' || real.ggml_base_path[0] == '\0') {
    snprintf(real.error, sizeof real.error,
             "libllama or libggml-base is not loaded as a shared library (statically linked llama.cpp cannot be observed)");
    return;
  }
  real.decode = (llama_decode_fn)symbol_in(real.llama_path, "llama_decode");
  real.compute = (sched_compute_fn)symbol_in(real.ggml_base_path, "ggml_backend_sched_graph_compute_async");
  real.set_cb = (sched_set_cb_fn)symbol_in(real.ggml_base_path, "ggml_backend_sched_set_eval_callback");
  real.n_nodes = (graph_n_nodes_fn)symbol_in(real.ggml_base_path, "ggml_graph_n_nodes");
  real.node = (graph_node_fn)symbol_in(real.ggml_base_path, "ggml_graph_node");
  real.op_desc = (op_desc_fn)symbol_in(real.ggml_base_path, "ggml_op_desc");
  real.type_name = (type_name_fn)symbol_in(real.ggml_base_path, "ggml_type_name");
  real.nbytes = (nbytes_fn)symbol_in(real.ggml_base_path, "ggml_nbytes");
  real.is_host = (buffer_is_host_fn)symbol_in(real.ggml_base_path, "ggml_backend_buffer_is_host");
  real.tensor_get = (tensor_get_fn)symbol_in(real.ggml_base_path, "ggml_backend_tensor_get");
  // Our own definitions must never be taken for the real ones (that would recurse).
  if (real.decode == NULL || real.decode == (llama_decode_fn)llama_decode || real.compute == NULL ||
      real.compute == (sched_compute_fn)ggml_backend_sched_graph_compute_async || real.set_cb == NULL ||
      real.n_nodes == NULL || real.node == NULL || real.op_desc == NULL || real.type_name == NULL ||
      real.nbytes == NULL || real.is_host == NULL || real.tensor_get == NULL) {
    snprintf(real.error, sizeof real.error, "a llama.cpp function was not found in %s or %s",
             real.llama_path, real.ggml_base_path);
    return;
  }
  real.ok = true;
}

static bool ensure_real(void) {
  pthread_once(&resolve_once, resolve_real);
  return real.ok;
}

static inline double cpu_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock behind Node's performance.now()
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// ---- what one observed llama_decode records ----

typedef struct {
  char name[GGML_MAX_NAME];
  const char * op;  // ggml_op_desc(): a static string of the library
  int32_t type;
  int64_t ne[GGML_MAX_DIMS];
  uint64_t nbytes;
  int32_t layer;  // >= 0, or REGION_INPUT / REGION_OUTPUT
  int32_t n_src;
  char src[GGML_MAX_SRC][GGML_MAX_NAME];
} tensor_rec;

/** A span of one observed decode attributed to a layer or to the input / output part. */
typedef struct {
  int32_t region;
  double t0, t1;
} span_rec;

typedef struct step {
  int32_t observed;  // 0: timed only (an unobserved reference step)
  int32_t n_tokens;
  int32_t computes;  // scheduler graph computations in this decode (one per ubatch)
  int32_t syncs;     // synchronisation points the observation added
  int32_t status;    // llama_decode's return value
  double t_enter_ns, t_exit_ns;
  double cpu_ns;  // the process's CPU time spent during the call (robust to other processes' load)
  double input_ns, output_ns, observer_ns;
  double * layer_ns;      // [n_layer]
  int32_t * layer_seen;   // [n_layer] segments attributed
  int32_t * counts;       // [n_layer * n_expert] or NULL
  int32_t * routed;       // [n_layer] tokens routed per layer, or NULL
  int32_t bad_ids;        // expert ids outside [0, n_expert)
  tensor_rec * tensors;
  int32_t n_tensors, cap_tensors;
  span_rec * spans;  // with OBS_LAYERS: the decode's timeline, in order
  int32_t n_spans, cap_spans;
  struct step * next;
} step;

// ---- the graph layout of one computation (cached while the graph is reused) ----

typedef struct {
  struct ggml_tensor ** nodes;
  int32_t * layer;     // region of each node
  uint8_t * boundary;  // 1: last node of its region (a layer, the input part or the output part)
  uint8_t * topk;      // 1: an ffn_moe_topk-<layer> node
  int32_t n, cap;
  // open-addressing map tensor pointer -> node index
  struct ggml_tensor ** keys;
  int32_t * vals;
  int32_t hcap;
} layout;

/** What an armed llama_decode does: only time the call, or observe its graph. */
enum { ARM_OFF = 0, ARM_TIME = 1, ARM_OBSERVE = 2 };

static struct {
  atomic_int armed;  // ARM_*
  int flags;
  int n_layer;
  int n_expert;
  int n_expert_used;
  pthread_mutex_t lock;  // guards the finished-step list
  step * done_head;
  step * done_tail;
  atomic_long decodes_seen;   // any llama_decode through the wrapper (armed or not)
  atomic_long computes_seen;  // any graph computation through the wrapper
  atomic_long busy_skipped;   // armed decodes not observed because another was in progress
  atomic_int in_decode;
} obs = {.lock = PTHREAD_MUTEX_INITIALIZER};

/** The step being recorded on this thread, with its segment clock. */
typedef struct {
  step * s;
  layout * lay;
  double t_mark;  // end of the last attributed span
} active_t;

static __thread active_t * active = NULL;
static layout the_layout;  // one observed decode at a time (obs.in_decode), so one is enough

/** Layer index of a node name: the first "-<digits>" that ends the name or a word ("Qcur-3 (view)"). */
static int parse_layer(const char * name) {
  for (int i = 0; name[i] != '\0' && i < GGML_MAX_NAME; i++) {
    if (name[i] != '-') continue;
    int j = i + 1;
    int v = 0;
    if (name[j] < '0' || name[j] > '9') continue;
    while (name[j] >= '0' && name[j] <= '9' && j < GGML_MAX_NAME) {
      v = v * 10 + (name[j] - '0');
      if (v > 1000000) break;
      j++;
    }
    if (name[j] == '\0' || name[j] == ' ') return v;
  }
  return -1;
}

static bool is_topk_name(const char * name) {
  static const char prefix[] = "ffn_moe_topk-";
  if (strncmp(name, prefix, sizeof prefix - 1) != 0) return false;
  const char * p = name + sizeof prefix - 1;
  if (*p < '0' || *p > '9') return false;
  while (*p >= '0' && *p <= '9') p++;
  return *p == '\0';  // not "ffn_moe_topk-3 (view)": each selection is counted once
}

static bool grow(void ** ptr, int32_t * cap, int32_t need, size_t elem) {
  if (need <= *cap) return true;
  int32_t next = *cap > 0 ? *cap : 64;
  while (next < need) next *= 2;
  void * p = realloc(*ptr, (size_t)next * elem);
  if (p == NULL) return false;
  *ptr = p;
  *cap = next;
  return true;
}

static inline uint32_t hash_ptr(const void * p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (uint32_t)x;
}

static int32_t lookup(const layout * l, const struct ggml_tensor * t) {
  if (l->hcap == 0) return -1;
  uint32_t mask = (uint32_t)l->hcap - 1;
  for (uint32_t h = hash_ptr(t) & mask;; h = (h + 1) & mask) {
    if (l->keys[h] == t) return l->vals[h];
    if (l->keys[h] == NULL) return -1;
  }
}

/** Assigns every node of the graph to the input part, a layer or the output part, and marks ends. */
static bool build_layout(layout * l, struct ggml_cgraph * g) {
  int32_t n = real.n_nodes(g);
  bool same = n == l->n && n > 0;
  for (int32_t i = 0; same && i < n; i++) same = l->nodes[i] == real.node(g, i);
  if (same) return true;  // a reused graph: same nodes, same names
  int32_t cap = l->cap;
  if (!grow((void **)&l->nodes, &cap, n, sizeof *l->nodes)) return false;
  cap = l->cap;
  if (!grow((void **)&l->layer, &cap, n, sizeof *l->layer)) return false;
  cap = l->cap;
  if (!grow((void **)&l->boundary, &cap, n, sizeof *l->boundary)) return false;
  cap = l->cap;
  if (!grow((void **)&l->topk, &cap, n, sizeof *l->topk)) return false;
  l->cap = cap;
  l->n = n;
  int32_t first = -1, last = -1;
  for (int32_t i = 0; i < n; i++) {
    struct ggml_tensor * t = real.node(g, i);
    l->nodes[i] = t;
    l->layer[i] = parse_layer(t->name);
    l->topk[i] = is_topk_name(t->name) ? 1 : 0;
    if (l->layer[i] >= 0) {
      if (first < 0) first = i;
      last = i;
    }
  }
  // Nodes before the first layer-named node are the input part (embedding lookup), nodes after the
  // last one the output part (final norm, output head); unnamed nodes in between inherit the layer
  // of the last named node before them.
  int32_t cur = REGION_INPUT;
  for (int32_t i = 0; i < n; i++) {
    if (first < 0 || i > last) {
      cur = first < 0 ? REGION_INPUT : REGION_OUTPUT;
    } else if (l->layer[i] >= 0) {
      cur = l->layer[i];
    }
    l->layer[i] = cur;
  }
  for (int32_t i = 0; i < n; i++) l->boundary[i] = (i == n - 1 || l->layer[i + 1] != l->layer[i]) ? 1 : 0;
  int32_t hcap = 16;
  while (hcap < 2 * n) hcap *= 2;
  if (hcap > l->hcap) {
    free(l->keys);
    free(l->vals);
    l->keys = malloc((size_t)hcap * sizeof *l->keys);
    l->vals = malloc((size_t)hcap * sizeof *l->vals);
    if (l->keys == NULL || l->vals == NULL) {
      l->hcap = 0;
      l->n = 0;
      return false;
    }
    l->hcap = hcap;
  }
  memset(l->keys, 0, (size_t)l->hcap * sizeof *l->keys);
  uint32_t mask = (uint32_t)l->hcap - 1;
  for (int32_t i = 0; i < n; i++) {
    uint32_t h = hash_ptr(l->nodes[i]) & mask;
    while (l->keys[h] != NULL && l->keys[h] != l->nodes[i]) h = (h + 1) & mask;
    l->keys[h] = l->nodes[i];
    l->vals[h] = i;
  }
  return true;
}

/** Attributes the time since the last mark to `region`, and (timing layers) records the span. */
static void attribute(active_t * a, int32_t region, double t) {
  step * s = a->s;
  double d = t - a->t_mark;
  if (region >= 0 && region < obs.n_layer) {
    s->layer_ns[region] += d;
    s->layer_seen[region] += 1;
  } else if (region == REGION_OUTPUT) {
    s->output_ns += d;
  } else {
    region = REGION_INPUT;  // the input part, and any layer index beyond the model's n_layer
    s->input_ns += d;
  }
  if (obs.flags & OBS_LAYERS) {
    span_rec * last = s->n_spans > 0 ? &s->spans[s->n_spans - 1] : NULL;
    if (last != NULL && last->region == region && last->t1 == a->t_mark) {
      last->t1 = t;  // e.g. the output part after the last computation and after the decode
    } else if (grow((void **)&s->spans, &s->cap_spans, s->n_spans + 1, sizeof *s->spans)) {
      s->spans[s->n_spans++] = (span_rec){.region = region, .t0 = a->t_mark, .t1 = t};
    }
  }
  a->t_mark = t;
}

static void record_tensor(step * s, const struct ggml_tensor * t, int32_t region) {
  if (!grow((void **)&s->tensors, &s->cap_tensors, s->n_tensors + 1, sizeof *s->tensors)) return;
  tensor_rec * r = &s->tensors[s->n_tensors++];
  memcpy(r->name, t->name, GGML_MAX_NAME);
  r->name[GGML_MAX_NAME - 1] = '\0';
  r->op = real.op_desc(t);
  r->type = (int32_t)t->type;
  for (int d = 0; d < GGML_MAX_DIMS; d++) r->ne[d] = t->ne[d];
  r->nbytes = (uint64_t)real.nbytes(t);
  r->layer = region;
  r->n_src = 0;
  for (int k = 0; k < GGML_MAX_SRC; k++) {
    if (t->src[k] == NULL) continue;
    memcpy(r->src[r->n_src], t->src[k]->name, GGML_MAX_NAME);
    r->src[r->n_src][GGML_MAX_NAME - 1] = '\0';
    r->n_src++;
  }
}

/** Reads the router's expert ids ([n_expert_used, n_tokens] I32) and counts them. */
static void count_experts(step * s, const struct ggml_tensor * t, int32_t layer) {
  if (s->counts == NULL || layer < 0 || layer >= obs.n_layer || t->type != GGML_TYPE_I32 ||
      t->ne[0] != obs.n_expert_used || t->ne[2] != 1 || t->ne[3] != 1 || t->nb[0] != sizeof(int32_t)) {
    s->bad_ids++;
    return;
  }
  int64_t used = t->ne[0];
  int64_t tokens = t->ne[1];
  int32_t * row = NULL;
  bool host = t->buffer != NULL && real.is_host(t->buffer);
  if (!host) row = malloc((size_t)used * sizeof *row);
  int32_t * counts = s->counts + (size_t)layer * (size_t)obs.n_expert;
  for (int64_t i = 0; i < tokens; i++) {
    const int32_t * ids;
    if (host) {
      ids = (const int32_t *)((const char *)t->data + (size_t)i * t->nb[1]);
    } else {
      if (row == NULL) {
        s->bad_ids++;
        return;
      }
      real.tensor_get(t, row, (size_t)i * t->nb[1], (size_t)used * sizeof *row);
      ids = row;
    }
    for (int64_t k = 0; k < used; k++) {
      int32_t e = ids[k];
      if (e >= 0 && e < obs.n_expert) counts[e]++;
      else s->bad_ids++;
    }
  }
  s->routed[layer] += (int32_t)tokens;
  free(row);
}

static bool eval_cb(struct ggml_tensor * t, bool ask, void * user_data) {
  active_t * a = user_data;
  int32_t i = lookup(a->lay, t);
  if (i < 0) return false;  // not a node of the graph we laid out: never ask for it
  int32_t region = a->lay->layer[i];
  bool boundary = (obs.flags & OBS_LAYERS) && a->lay->boundary[i];
  bool topk = (obs.flags & OBS_EXPERTS) && a->lay->topk[i];
  if (ask) {
    if (obs.flags & OBS_TENSORS) record_tensor(a->s, t, region);
    return boundary || topk;
  }
  // The scheduler computed every node up to this one and synchronised the backend.
  double t_sync = now_ns();
  a->s->syncs++;
  if (boundary) attribute(a, region, t_sync);
  if (topk) {
    count_experts(a->s, t, region);
    double t_read = now_ns();
    a->s->observer_ns += t_read - t_sync;
    a->t_mark += t_read - t_sync;  // the read is the observer's time, not the layer's
  }
  return true;
}

EXPORT enum ggml_status ggml_backend_sched_graph_compute_async(ggml_backend_sched_t sched,
                                                               struct ggml_cgraph * graph) {
  atomic_fetch_add_explicit(&obs.computes_seen, 1, memory_order_relaxed);
  if (!ensure_real()) return GGML_STATUS_FAILED;
  active_t * a = active;
  if (a == NULL) return real.compute(sched, graph);
  double t0 = now_ns();
  attribute(a, REGION_INPUT, t0);  // graph build and input upload before this computation
  a->s->computes++;
  if (!build_layout(a->lay, graph)) return real.compute(sched, graph);
  double t1 = now_ns();
  a->s->observer_ns += t1 - t0;
  a->t_mark = t1;
  real.set_cb(sched, eval_cb, a);
  enum ggml_status status = real.compute(sched, graph);
  // node-llama-cpp creates contexts without cb_eval; llama.cpp only re-applies cparams.cb_eval when
  // it rebuilds the graph, so the callback must not outlive this computation.
  real.set_cb(sched, NULL, NULL);
  attribute(a, REGION_OUTPUT, now_ns());  // after the last synchronised node
  return status;
}

static step * new_step(void) {
  step * s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  s->layer_ns = calloc((size_t)obs.n_layer, sizeof *s->layer_ns);
  s->layer_seen = calloc((size_t)obs.n_layer, sizeof *s->layer_seen);
  if (obs.flags & OBS_EXPERTS) {
    s->counts = calloc((size_t)obs.n_layer * (size_t)obs.n_expert, sizeof *s->counts);
    s->routed = calloc((size_t)obs.n_layer, sizeof *s->routed);
  }
  if (s->layer_ns == NULL || s->layer_seen == NULL || ((obs.flags & OBS_EXPERTS) && (s->counts == NULL || s->routed == NULL))) {
    free(s->layer_ns);
    free(s->layer_seen);
    free(s->counts);
    free(s->routed);
    free(s);
    return NULL;
  }
  return s;
}

static void free_step(step * s) {
  free(s->layer_ns);
  free(s->layer_seen);
  free(s->counts);
  free(s->routed);
  free(s->tensors);
  free(s->spans);
  free(s);
}

EXPORT int32_t llama_decode(struct llama_context * ctx, struct llama_batch batch) {
  atomic_fetch_add_explicit(&obs.decodes_seen, 1, memory_order_relaxed);
  if (!ensure_real()) return -1;
  int mode = atomic_load_explicit(&obs.armed, memory_order_acquire);
  if (mode == ARM_OFF) return real.decode(ctx, batch);
  int expected = 0;
  if (!atomic_compare_exchange_strong(&obs.in_decode, &expected, 1)) {
    atomic_fetch_add_explicit(&obs.busy_skipped, 1, memory_order_relaxed);
    return real.decode(ctx, batch);
  }
  step * s = new_step();
  if (s == NULL) {
    atomic_store(&obs.in_decode, 0);
    return real.decode(ctx, batch);
  }
  active_t a = {.s = s, .lay = &the_layout};
  s->observed = mode == ARM_OBSERVE;
  s->n_tokens = batch.n_tokens;
  int32_t status;
  // The CPU clock is a system call, where the kernel may switch a thread whose time slice ran out:
  // the first read comes before the wall-clock window, the second inside it, so that such a switch
  // never falls between this call's end and the sync node-llama-cpp does next (which llama.cpp's
  // own counter would see and this one would not).
  double cpu0 = cpu_now_ns();
  if (s->observed) {
    s->t_enter_ns = now_ns();
    a.t_mark = s->t_enter_ns;
    active = &a;
    status = real.decode(ctx, batch);
    active = NULL;
    s->cpu_ns = cpu_now_ns() - cpu0;
    s->t_exit_ns = now_ns();
    attribute(&a, REGION_OUTPUT, s->t_exit_ns);  // logits copy-out and bookkeeping after the computation
  } else {
    // The same call unobserved, timed on the same clocks: the reference for what observing costs.
    s->t_enter_ns = now_ns();
    status = real.decode(ctx, batch);
    s->cpu_ns = cpu_now_ns() - cpu0;
    s->t_exit_ns = now_ns();
  }
  s->status = status;
  pthread_mutex_lock(&obs.lock);
  if (obs.done_tail == NULL) obs.done_head = s;
  else obs.done_tail->next = s;
  obs.done_tail = s;
  pthread_mutex_unlock(&obs.lock);
  atomic_store(&obs.in_decode, 0);
  return status;
}

// ---- Node-API surface ----

#define NAPI_CALL(env, call)                        \
  do {                                              \
    if ((call) != napi_ok) {                        \
      napi_throw_error((env), NULL, #call " failed"); \
      return NULL;                                  \
    }                                               \
  } while (0)

static napi_value make_string(napi_env env, const char * s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value make_number(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}

static void set(napi_env env, napi_value obj, const char * key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

/** info(): what this build is and whether the wrappers have been reached. */
static napi_value js_info(napi_env env, napi_callback_info cbinfo) {
  (void)cbinfo;
  napi_value o;
  NAPI_CALL(env, napi_create_object(env, &o));
  set(env, o, "abi", make_number(env, OBSERVER_ABI));
  set(env, o, "llama_cpp_tag", make_string(env, TOKBENCH_LLAMA_TAG));
  set(env, o, "llama_cpp_commit", make_string(env, TOKBENCH_LLAMA_COMMIT));
  set(env, o, "decodes_seen", make_number(env, (double)atomic_load(&obs.decodes_seen)));
  set(env, o, "computes_seen", make_number(env, (double)atomic_load(&obs.computes_seen)));
  set(env, o, "busy_skipped", make_number(env, (double)atomic_load(&obs.busy_skipped)));
  bool resolved = atomic_load(&obs.decodes_seen) > 0 || atomic_load(&obs.computes_seen) > 0;
  if (resolved) ensure_real();
  napi_value err;
  if (resolved && !real.ok) err = make_string(env, real.error);
  else napi_get_null(env, &err);
  set(env, o, "error", err);
  set(env, o, "libllama", make_string(env, real.llama_path));
  set(env, o, "libggml_base", make_string(env, real.ggml_base_path));
  return o;
}

static bool get_int(napi_env env, napi_value obj, const char * key, int32_t * out) {
  napi_value v;
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return false;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/** configure({flags, n_layer, n_expert, n_expert_used}): what the next armed decodes record. */
static napi_value js_configure(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  int32_t flags = 0, n_layer = 0, n_expert = 0, n_used = 0;
  if (argc < 1 || !get_int(env, argv[0], "flags", &flags) || !get_int(env, argv[0], "n_layer", &n_layer) ||
      !get_int(env, argv[0], "n_expert", &n_expert) || !get_int(env, argv[0], "n_expert_used", &n_used) ||
      n_layer < 1 || n_layer > 100000 || n_expert < 0 || n_expert > 100000 || n_used < 0) {
    napi_throw_type_error(env, NULL, "configure({flags, n_layer, n_expert, n_expert_used}): bad arguments");
    return NULL;
  }
  if (atomic_load(&obs.armed) || atomic_load(&obs.in_decode)) {
    napi_throw_error(env, NULL, "configure() while an observation is armed");
    return NULL;
  }
  if ((flags & OBS_EXPERTS) && (n_expert < 1 || n_used < 1)) flags &= ~OBS_EXPERTS;
  obs.flags = flags;
  obs.n_layer = n_layer;
  obs.n_expert = n_expert;
  obs.n_expert_used = n_used;
  return NULL;
}

/** arm(mode): 0 off, 1 time the llama_decode calls that follow, 2 observe them. */
static napi_value js_arm(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  int32_t mode = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &mode) != napi_ok || mode < ARM_OFF || mode > ARM_OBSERVE) {
    napi_throw_type_error(env, NULL, "arm(0 | 1 | 2)");
    return NULL;
  }
  if (mode != ARM_OFF && obs.n_layer < 1) {
    napi_throw_error(env, NULL, "arm() before configure()");
    return NULL;
  }
  atomic_store_explicit(&obs.armed, mode, memory_order_release);
  return NULL;
}

static napi_value js_now_ns(napi_env env, napi_callback_info cbinfo) {
  (void)cbinfo;
  return make_number(env, now_ns());
}

/** obj[key] = a new typed array holding a copy of `n` elements of `data`. */
static void set_typed(napi_env env, napi_value obj, const char * key, napi_typedarray_type type, const void * data,
                      size_t n, size_t elem) {
  void * copy;
  napi_value buf, arr;
  napi_create_arraybuffer(env, n * elem, &copy, &buf);
  memcpy(copy, data, n * elem);
  napi_create_typedarray(env, type, n, buf, 0, &arr);
  set(env, obj, key, arr);
}

static napi_value step_to_js(napi_env env, const step * s) {
  napi_value o;
  napi_create_object(env, &o);
  napi_value observed;
  napi_get_boolean(env, s->observed != 0, &observed);
  set(env, o, "observed", observed);
  set(env, o, "n_tokens", make_number(env, s->n_tokens));
  set(env, o, "status", make_number(env, s->status));
  set(env, o, "computes", make_number(env, s->computes));
  set(env, o, "syncs", make_number(env, s->syncs));
  set(env, o, "t_enter_ns", make_number(env, s->t_enter_ns));
  set(env, o, "t_exit_ns", make_number(env, s->t_exit_ns));
  set(env, o, "cpu_ns", make_number(env, s->cpu_ns));
  set(env, o, "input_ns", make_number(env, s->input_ns));
  set(env, o, "output_ns", make_number(env, s->output_ns));
  set(env, o, "observer_ns", make_number(env, s->observer_ns));
  set(env, o, "bad_ids", make_number(env, s->bad_ids));

  size_t n_layer = (size_t)obs.n_layer;
  set_typed(env, o, "layer_ns", napi_float64_array, s->layer_ns, n_layer, sizeof(double));
  set_typed(env, o, "layer_segments", napi_int32_array, s->layer_seen, n_layer, sizeof(int32_t));
  if (s->counts != NULL) {
    size_t n = n_layer * (size_t)obs.n_expert;
    set_typed(env, o, "expert_counts", napi_int32_array, s->counts, n, sizeof(int32_t));
    set_typed(env, o, "tokens_routed", napi_int32_array, s->routed, n_layer, sizeof(int32_t));
  }
  if (obs.flags & OBS_LAYERS) {
    napi_value spans;
    napi_create_array_with_length(env, (size_t)s->n_spans, &spans);
    for (int32_t i = 0; i < s->n_spans; i++) {
      napi_value sp;
      napi_create_object(env, &sp);
      set(env, sp, "region", make_number(env, s->spans[i].region));
      set(env, sp, "t0_ns", make_number(env, s->spans[i].t0));
      set(env, sp, "t1_ns", make_number(env, s->spans[i].t1));
      napi_set_element(env, spans, (uint32_t)i, sp);
    }
    set(env, o, "spans", spans);
  }
  if (obs.flags & OBS_TENSORS) {
    napi_value list;
    napi_create_array_with_length(env, (size_t)s->n_tensors, &list);
    for (int32_t i = 0; i < s->n_tensors; i++) {
      const tensor_rec * r = &s->tensors[i];
      napi_value t, shape, srcs;
      napi_create_object(env, &t);
      set(env, t, "name", make_string(env, r->name));
      set(env, t, "op", make_string(env, r->op != NULL ? r->op : "?"));
      set(env, t, "type", make_string(env, real.type_name((enum ggml_type)r->type)));
      napi_create_array_with_length(env, GGML_MAX_DIMS, &shape);
      for (uint32_t d = 0; d < GGML_MAX_DIMS; d++) napi_set_element(env, shape, d, make_number(env, (double)r->ne[d]));
      set(env, t, "ne", shape);
      set(env, t, "nbytes", make_number(env, (double)r->nbytes));
      set(env, t, "layer", make_number(env, r->layer));
      napi_create_array_with_length(env, (size_t)r->n_src, &srcs);
      for (int32_t k = 0; k < r->n_src; k++) napi_set_element(env, srcs, (uint32_t)k, make_string(env, r->src[k]));
      set(env, t, "src", srcs);
      napi_set_element(env, list, (uint32_t)i, t);
    }
    set(env, o, "tensors", list);
  }
  return o;
}

/** take(): the observed decodes finished since the last call, oldest first. */
static napi_value js_take(napi_env env, napi_callback_info cbinfo) {
  (void)cbinfo;
  pthread_mutex_lock(&obs.lock);
  step * s = obs.done_head;
  obs.done_head = obs.done_tail = NULL;
  pthread_mutex_unlock(&obs.lock);
  napi_value list;
  NAPI_CALL(env, napi_create_array(env, &list));
  uint32_t i = 0;
  while (s != NULL) {
    step * next = s->next;
    napi_set_element(env, list, i++, step_to_js(env, s));
    free_step(s);
    s = next;
  }
  return list;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL},
      {"arm", NULL, js_arm, NULL, NULL, NULL, napi_default, NULL},
      {"take", NULL, js_take, NULL, NULL, NULL, napi_default, NULL},
      {"nowNs", NULL, js_now_ns, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
