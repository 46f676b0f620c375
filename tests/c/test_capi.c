/* The C API (fastmlp/fastmlp.h) from a C11 program, compiled as C:
 *
 *   test_capi MODEL EXPECTED.json [CORPUS_DIR [CLASSIFIER ...]]
 *
 * MODEL and EXPECTED.json: a model file and what Python predicted with it (tests/fixtures/
 * main_2026-12-06*: float32, softmax over 3 string classes, feature names, batch and layer
 * normalization, dropout). Checks: sizes, labels and feature names as stored; predict_proba and the
 * class labels equal Python's; one row at a time, chunks and whole batches agree, and so do the float
 * and double entry points; after the first call a prediction allocates nothing and takes no lock
 * (malloc and pthread_mutex_lock are interposed below and counted), also with four threads predicting
 * at once; errors give a status and a message and write nothing; every truncation of MODEL, garbage,
 * huge header lengths and each file of CORPUS_DIR (the loader's fuzz corpus) give a status, never a
 * crash. Each CLASSIFIER after CORPUS_DIR (tests/test_capi.py passes a quantized int8 model and a chain of
 * float32 Dense layers, which one-row calls run through the row kernel) gets the checks of one row, chunks
 * and batches, of no allocation and no lock, and of four threads. Exit status 0 when every check passes. */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastmlp/fastmlp.h"

static int failures = 0;
#define CHECK(cond)                                                                                                   \
  do {                                                                                                                \
    if (!(cond)) {                                                                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, fastmlp_last_error()); \
      ++failures;                                                                                                     \
    }                                                                                                                 \
  } while (0)
#define OK(call) CHECK((call) == FASTMLP_OK)

/* ---- counting every allocation and every mutex lock of the process (glibc) ---- */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#endif

#if defined(__GLIBC__) && !defined(SANITIZED)
#define COUNTING 1
static atomic_long allocations, locks;
extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
extern void __libc_free(void*);
typedef int (*mutex_fn)(pthread_mutex_t*);
static mutex_fn next_mutex(const char* name) { /* glibc's, found once (a race would store the same value) */
  void* p = dlsym(RTLD_NEXT, name);
  mutex_fn f;
  memcpy(&f, &p, sizeof f); /* POSIX's way from void* to a function pointer */
  return f;
}
static void counted(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }
void* malloc(size_t n) { return counted(), __libc_malloc(n); }
void* calloc(size_t n, size_t size) { return counted(), __libc_calloc(n, size); }
void* realloc(void* p, size_t n) { return counted(), __libc_realloc(p, n); }
void* aligned_alloc(size_t alignment, size_t n) { return counted(), __libc_memalign(alignment, n); }
void* memalign(size_t alignment, size_t n) { return counted(), __libc_memalign(alignment, n); }
int posix_memalign(void** out, size_t alignment, size_t n) {
  void* p;
  counted();
  p = __libc_memalign(alignment, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
int pthread_mutex_lock(pthread_mutex_t* m) {
  static mutex_fn lock = NULL;
  if (!lock) lock = next_mutex("pthread_mutex_lock");
  atomic_fetch_add_explicit(&locks, 1, memory_order_relaxed);
  return lock(m);
}
int pthread_mutex_trylock(pthread_mutex_t* m) {
  static mutex_fn trylock = NULL;
  if (!trylock) trylock = next_mutex("pthread_mutex_trylock");
  atomic_fetch_add_explicit(&locks, 1, memory_order_relaxed);
  return trylock(m);
}
static long n_allocations(void) { return atomic_load(&allocations); }
static long n_locks(void) { return atomic_load(&locks); }
#else
static long n_allocations(void) { return 0; }
static long n_locks(void) { return 0; }
#endif

/* ---- small helpers ---- */
static unsigned char* read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* data = NULL;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = malloc((size_t)n + 1);
    if (data && fread(data, 1, (size_t)n, f) != (size_t)n) free(data), data = NULL;
    *size = (size_t)n;
  }
  fclose(f);
  return data;
}

/* The numbers of the JSON value after "key": in text, flattened (at most cap); how many. */
static size_t json_numbers(const char* text, const char* key, double* out, size_t cap) {
  const char* p = strstr(text, key);
  size_t n = 0;
  int depth = 0;
  if (!p) return 0;
  p = strchr(p + strlen(key), '[');
  for (; p && *p; ++p) {
    if (*p == '[') ++depth;
    if (*p == ']' && --depth == 0) break;
    if ((*p == '-' || (*p >= '0' && *p <= '9')) && n < cap) {
      char* end;
      out[n++] = strtod(p, &end);
      p = end - 1;
    }
  }
  return n;
}

/* The strings of the JSON list after "key" (no escapes), each copied into out[i] (at most cap). */
static size_t json_strings(const char* text, const char* key, char out[][32], size_t cap) {
  const char* p = strstr(text, key);
  size_t n = 0;
  if (!p) return 0;
  p = strchr(p + strlen(key), '[');
  while (p && *p && *p != ']' && n < cap) {
    const char* q = strchr(p + 1, '"');
    const char* close = strchr(p + 1, ']');
    const char* e;
    if (!q || (close && close < q) || !(e = strchr(q + 1, '"')) || e - q - 1 >= 32) break;
    memcpy(out[n], q + 1, (size_t)(e - q - 1));
    out[n++][e - q - 1] = '\0';
    p = e;
  }
  return n;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static double uniform(void) { /* xorshift64*, in [-2, 2) */
  rng_state ^= rng_state >> 12, rng_state ^= rng_state << 25, rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717u) >> 11) / 9007199254740992.0 * 4.0 - 2.0;
}

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1.0 + fabs(b)); }

/* ---- 1. Python's predictions ---- */
static void test_expected(const fastmlp_model* model, const char* expected_path) {
  size_t size = 0, n_in = 0, n_out = 0, n_classes = 0, i, j;
  char* text = (char*)read_file(expected_path, &size);
  double X64[12 * 4], P64[12 * 3];
  float X[12 * 4], P[12 * 3];
  char classes[8][32], predicted[12][32], names[8][32];
  int32_t ids[12];
  fastmlp_dtype dtype;
  fastmlp_task task;
  int has_names = 0;
  const char* label;
  fastmlp_workspace* ws = NULL;
  CHECK(text != NULL);
  if (!text) return;
  text[size] = '\0';
  OK(fastmlp_model_n_inputs(model, &n_in));
  OK(fastmlp_model_n_outputs(model, &n_out));
  OK(fastmlp_model_dtype(model, &dtype));
  OK(fastmlp_model_task(model, &task));
  OK(fastmlp_model_n_classes(model, &n_classes));
  CHECK(n_in == 4 && n_out == 3 && dtype == FASTMLP_FLOAT32 && task == FASTMLP_CLASSIFICATION && n_classes == 3);
  CHECK(json_strings(text, "\"classes\"", classes, 8) == 3);
  for (i = 0; i < 3; ++i) {
    OK(fastmlp_model_class_label(model, i, &label));
    CHECK(strcmp(label, classes[i]) == 0);
  }
  OK(fastmlp_model_has_feature_names(model, &has_names));
  CHECK(has_names == 1 && json_strings(text, "\"feature_names\"", names, 8) == 4);
  for (j = 0; j < 4; ++j) {
    OK(fastmlp_model_feature_name(model, j, &label));
    CHECK(strcmp(label, names[j]) == 0);
  }

  CHECK(json_numbers(text, "\"X\"", X64, 48) == 48 && json_numbers(text, "\"predict_proba\"", P64, 36) == 36);
  CHECK(json_strings(text, "\"predict\"", predicted, 12) == 12);
  for (i = 0; i < 48; ++i) X[i] = (float)X64[i];
  OK(fastmlp_workspace_create(model, 12, &ws));
  OK(fastmlp_predict_proba(ws, X, 12, P));
  for (i = 0; i < 36; ++i) CHECK(close_to(P[i], P64[i], 1e-6));
  OK(fastmlp_predict_class(ws, X, 12, ids));
  for (i = 0; i < 12; ++i) {
    OK(fastmlp_model_class_label(model, (size_t)ids[i], &label));
    CHECK(strcmp(label, predicted[i]) == 0);
  }
  fastmlp_workspace_free(ws);
  free(text);
}

/* ---- 2. one row, chunks, batches, float and double: the same predictions ---- */
enum { ROWS = 37, MAXW = 16 };
static float XR[ROWS * 64];
static double XR64[ROWS * 64];

static void test_consistency(const fastmlp_model* model) {
  size_t n_in, n_out, i, j, r;
  float whole[ROWS * MAXW], rows[ROWS * MAXW], chunks[ROWS * MAXW], proba[ROWS * MAXW];
  double whole64[ROWS * MAXW];
  int32_t ids[ROWS];
  fastmlp_workspace *big = NULL, *one = NULL, *eight = NULL;
  OK(fastmlp_model_n_inputs(model, &n_in));
  OK(fastmlp_model_n_outputs(model, &n_out));
  CHECK(n_in <= 64 && n_out <= MAXW);
  OK(fastmlp_workspace_create(model, 64, &big));
  OK(fastmlp_workspace_create(model, 1, &one));
  OK(fastmlp_workspace_create(model, 8, &eight));
  OK(fastmlp_predict(big, XR, ROWS, whole));
  for (r = 0; r < ROWS; ++r) OK(fastmlp_predict(one, XR + r * n_in, 1, rows + r * n_out));
  OK(fastmlp_predict(eight, XR, ROWS, chunks));
  OK(fastmlp_predict_f64(big, XR64, ROWS, whole64));
  for (i = 0; i < ROWS * n_out; ++i) {
    CHECK(close_to(rows[i], whole[i], 1e-5) && close_to(chunks[i], whole[i], 1e-5));
    CHECK(close_to(whole64[i], whole[i], 1e-6));
  }
  OK(fastmlp_predict_proba(eight, XR, ROWS, proba));
  OK(fastmlp_predict_class(one, XR, ROWS, ids));
  for (r = 0; r < ROWS; ++r) {
    double sum = 0.0;
    size_t best = 0;
    for (j = 0; j < n_out; ++j)
      sum += proba[r * n_out + j], best = proba[r * n_out + j] > proba[r * n_out + best] ? j : best;
    CHECK(close_to(sum, 1.0, 1e-5) && (size_t)ids[r] == best);
  }
  fastmlp_workspace_free(big);
  fastmlp_workspace_free(one);
  fastmlp_workspace_free(eight);
}

/* ---- 3. no allocation, no lock after the first call; 4 threads at once ---- */
static void test_no_allocation(const fastmlp_model* model) {
  float out[ROWS * MAXW];
  int32_t ids[ROWS];
  size_t n_in;
  long a0, l0;
  int k;
  fastmlp_workspace *one = NULL, *sixteen = NULL;
  fastmlp_status s1 = FASTMLP_OK, s2 = FASTMLP_OK, s3 = FASTMLP_OK, s4 = FASTMLP_OK;
  OK(fastmlp_model_n_inputs(model, &n_in));
  a0 = n_allocations();
  OK(fastmlp_workspace_create(model, 1, &one));
  OK(fastmlp_workspace_create(model, 16, &sixteen));
#if defined(COUNTING)
  CHECK(n_allocations() > a0); /* the hook sees the library's allocations */
#endif
  OK(fastmlp_predict(one, XR, 1, out)); /* the first call on this thread */
  OK(fastmlp_predict(sixteen, XR, ROWS, out));
  a0 = n_allocations(), l0 = n_locks();
  for (k = 0; k < 20000; ++k) s1 |= fastmlp_predict(one, XR + (size_t)(k % ROWS) * n_in, 1, out);
  for (k = 0; k < 2000; ++k) s2 |= fastmlp_predict(sixteen, XR, ROWS, out); /* chunks of 16, 16, 5 rows */
  for (k = 0; k < 2000; ++k) s3 |= fastmlp_predict_proba(sixteen, XR, 16, out);
  for (k = 0; k < 2000; ++k) s4 |= fastmlp_predict_class_f64(sixteen, XR64, ROWS, ids);
  CHECK(s1 == FASTMLP_OK && s2 == FASTMLP_OK && s3 == FASTMLP_OK && s4 == FASTMLP_OK);
  CHECK(n_allocations() - a0 == 0);
  CHECK(n_locks() - l0 == 0);
  if (n_allocations() - a0 || n_locks() - l0)
    fprintf(stderr, "  %ld allocations, %ld locks in 26000 predictions\n", n_allocations() - a0, n_locks() - l0);
  fastmlp_workspace_free(one);
  fastmlp_workspace_free(sixteen);
}

enum { THREADS = 4, REPEATS = 300 };
static pthread_barrier_t warm, done;
static float reference[ROWS * MAXW];
struct worker {
  const fastmlp_model* model;
  int mismatches;
  fastmlp_status status;
};

static void* work(void* arg) {
  struct worker* w = arg;
  fastmlp_workspace* ws = NULL;
  float out[MAXW];
  size_t n_in = 0, n_out = 0, r, j;
  int k;
  w->status = fastmlp_workspace_create(w->model, 1, &ws);
  fastmlp_model_n_inputs(w->model, &n_in);
  fastmlp_model_n_outputs(w->model, &n_out);
  if (ws) w->status |= fastmlp_predict(ws, XR, 1, out); /* this thread's first call */
  pthread_barrier_wait(&warm);
  for (k = 0; ws && k < REPEATS; ++k)
    for (r = 0; r < ROWS; ++r) {
      w->status |= fastmlp_predict(ws, XR + r * n_in, 1, out);
      for (j = 0; j < n_out; ++j) w->mismatches += out[j] != reference[r * n_out + j];
    }
  pthread_barrier_wait(&done);
  fastmlp_workspace_free(ws);
  return NULL;
}

static void test_threads(const fastmlp_model* model) {
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  fastmlp_workspace* one = NULL;
  size_t n_in = 0, n_out = 0, r;
  long a0, l0;
  int t;
  OK(fastmlp_model_n_inputs(model, &n_in));
  OK(fastmlp_model_n_outputs(model, &n_out));
  OK(fastmlp_workspace_create(model, 1, &one));
  for (r = 0; r < ROWS; ++r) OK(fastmlp_predict(one, XR + r * n_in, 1, reference + r * n_out));
  fastmlp_workspace_free(one);
  pthread_barrier_init(&warm, NULL, THREADS + 1);
  pthread_barrier_init(&done, NULL, THREADS + 1);
  for (t = 0; t < THREADS; ++t) {
    workers[t].model = model, workers[t].mismatches = 0, workers[t].status = FASTMLP_OK;
    CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
  }
  pthread_barrier_wait(&warm);
  a0 = n_allocations(), l0 = n_locks();
  pthread_barrier_wait(&done);
  CHECK(n_allocations() - a0 == 0 && n_locks() - l0 == 0);
  for (t = 0; t < THREADS; ++t) {
    pthread_join(threads[t], NULL);
    CHECK(workers[t].status == FASTMLP_OK && workers[t].mismatches == 0);
  }
  pthread_barrier_destroy(&warm);
  pthread_barrier_destroy(&done);
}

/* ---- 4. errors: a status and a message, nothing written ---- */
static void test_errors(const fastmlp_model* model) {
  fastmlp_workspace* ws = NULL;
  fastmlp_model* none = NULL;
  float X[4 * 4], out[4 * 3];
  size_t n, i;
  const char* text;
  OK(fastmlp_workspace_create(model, 2, &ws));
  for (i = 0; i < 16; ++i) X[i] = 0.5f;
  for (i = 0; i < 12; ++i) out[i] = -7.0f;
  X[3 * 4 + 2] = NAN; /* row 3: in the second chunk of 2 rows; nothing may be written */
  CHECK(fastmlp_predict(ws, X, 4, out) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(strstr(fastmlp_last_error(), "X[3, 2] is NaN or infinite") != NULL);
  for (i = 0; i < 12; ++i) CHECK(out[i] == -7.0f);
  CHECK(fastmlp_predict(ws, X, 0, out) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_predict(ws, NULL, 1, out) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(strstr(fastmlp_last_error(), "fastmlp_predict: X is NULL") != NULL);
  CHECK(fastmlp_predict(NULL, X, 1, out) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_predict_proba(ws, X, 1, NULL) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_workspace_create(model, 0, &ws) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_model_class_label(model, 3, &text) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_model_feature_name(model, 4, &text) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_model_n_inputs(NULL, &n) == FASTMLP_ERR_INVALID_ARGUMENT);
  CHECK(fastmlp_model_load("/nonexistent/model.safetensors", &none) == FASTMLP_ERR_IO && none == NULL);
  CHECK(strstr(fastmlp_last_error(), "/nonexistent/model.safetensors") != NULL);
  CHECK(fastmlp_model_load(".", &none) == FASTMLP_ERR_IO && none == NULL); /* a folder */
  CHECK(strcmp(fastmlp_status_name(FASTMLP_ERR_BUSY), "FASTMLP_ERR_BUSY") == 0);
  CHECK(fastmlp_c_api_version() == FASTMLP_C_API_VERSION && strlen(fastmlp_version()) > 0);
  fastmlp_workspace_free(ws);
}

/* ---- 5. hostile files ---- */
/* A file that loads must predict (or refuse its inputs); one that does not, say why. */
static void load_any(const unsigned char* data, size_t size, const char* path) {
  fastmlp_model* m = NULL;
  fastmlp_workspace* ws = NULL;
  const fastmlp_status s = path ? fastmlp_model_load(path, &m) : fastmlp_model_load_bytes(data, size, &m);
  if (s == FASTMLP_OK) {
    size_t n_in = 0, n_out = 0, n_classes = 0, i;
    double X[2 * 64], out[2 * 64];
    const char* label;
    OK(fastmlp_model_n_inputs(m, &n_in));
    OK(fastmlp_model_n_outputs(m, &n_out));
    OK(fastmlp_model_n_classes(m, &n_classes));
    for (i = 0; i < n_classes; ++i) OK(fastmlp_model_class_label(m, i, &label));
    if (n_in <= 64 && n_out <= 64) {
      fastmlp_status p;
      for (i = 0; i < 2 * n_in; ++i) X[i] = 1.0;
      OK(fastmlp_workspace_create(m, 2, &ws));
      p = fastmlp_predict_f64(ws, X, 2, out);
      CHECK(p == FASTMLP_OK || p == FASTMLP_ERR_INVALID_ARGUMENT);
      fastmlp_workspace_free(ws);
    }
    fastmlp_model_free(m);
  } else {
    CHECK((s == FASTMLP_ERR_INVALID_MODEL || (path && s == FASTMLP_ERR_IO)) && m == NULL);
    CHECK(strlen(fastmlp_last_error()) > 20);
  }
}

static void test_hostile(const unsigned char* good, size_t size, const char* corpus) {
  unsigned char* bad = malloc(size + 64);
  size_t n, i;
  for (n = 0; n < size; ++n) { /* every truncation */
    fastmlp_model* m = NULL;
    CHECK(fastmlp_model_load_bytes(good, n, &m) == FASTMLP_ERR_INVALID_MODEL && m == NULL);
    CHECK(strstr(fastmlp_last_error(), "not a valid fastmlp model file") != NULL);
  }
  {
    fastmlp_model* m = NULL;
    CHECK(fastmlp_model_load_bytes(NULL, 0, &m) == FASTMLP_ERR_INVALID_MODEL && m == NULL);
  }
  for (n = 0; n < 200; ++n) { /* garbage, and garbage after a plausible header length */
    const size_t len = 1 + (size_t)(uniform() + 2.0) * 16;
    for (i = 0; i < len + 8; ++i) bad[i] = (unsigned char)((uniform() + 2.0) * 63.9); /* any byte */
    if (n % 2) memcpy(bad, good, 8);
    load_any(bad, len + 8, NULL);
  }
  for (n = 0; n < 4; ++n) { /* huge header lengths: 2^64 - 1, 2^63, 100000001 (the limit + 1), size - 7 */
    static const uint64_t lengths[4] = {UINT64_MAX, (uint64_t)1 << 63, 100000001u, 0};
    const uint64_t h = n == 3 ? (uint64_t)size - 7 : lengths[n];
    memcpy(bad, good, size);
    for (i = 0; i < 8; ++i) bad[i] = (unsigned char)(h >> (8 * i));
    load_any(bad, size, NULL);
  }
  for (n = 8; n < size; n += 7) { /* one byte changed here and there: loads or is refused */
    memcpy(bad, good, size);
    bad[n] ^= (unsigned char)(1u << (n % 8));
    load_any(bad, size, NULL);
  }
  free(bad);
  if (corpus) {
    DIR* dir = opendir(corpus);
    struct dirent* e;
    int files = 0;
    char path[4096];
    CHECK(dir != NULL);
    while (dir && (e = readdir(dir)) != NULL) {
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "%s/%s", corpus, e->d_name);
      load_any(NULL, 0, path), ++files;
    }
    if (dir) closedir(dir);
    CHECK(files >= 10);
  }
}

int main(int argc, char** argv) {
  fastmlp_model *model = NULL, *from_bytes = NULL;
  unsigned char* bytes;
  size_t size = 0, n_in = 0, i;
  long locks_before;
  int a;
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL EXPECTED.json [CORPUS_DIR [CLASSIFIER ...]]\n", argv[0]);
    return 2;
  }
  bytes = read_file(argv[1], &size);
  CHECK(bytes != NULL);
  if (fastmlp_model_load(argv[1], &model) != FASTMLP_OK || !bytes) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], fastmlp_last_error());
    return 1;
  }
  locks_before = n_locks();
  OK(fastmlp_model_load_bytes(bytes, size, &from_bytes));
#if defined(COUNTING)
  CHECK(n_locks() > locks_before); /* the hook sees the library's locks (a network registers its mutexes) */
#else
  (void)locks_before; /* counted only where the lock hook is built in */
#endif
  OK(fastmlp_model_n_inputs(model, &n_in));
  for (i = 0; i < ROWS * 64; ++i) XR64[i] = uniform(), XR[i] = (float)XR64[i];
  for (i = 0; i < ROWS * 64; ++i) XR64[i] = XR[i]; /* the same values through both entry points */

  test_expected(model, argv[2]);
  test_expected(from_bytes, argv[2]);
  test_consistency(model);
  test_no_allocation(model);
  test_threads(model);
  test_errors(model);
  test_hostile(bytes, size, argc > 3 ? argv[3] : NULL);
  for (a = 4; a < argc; ++a) { /* ---- 6. other classifiers ---- */
    fastmlp_model* other = NULL;
    fastmlp_task task;
    const int before = failures;
    if (fastmlp_model_load(argv[a], &other) != FASTMLP_OK) {
      fprintf(stderr, "cannot load %s: %s\n", argv[a], fastmlp_last_error());
      ++failures;
      continue;
    }
    OK(fastmlp_model_task(other, &task));
    CHECK(task == FASTMLP_CLASSIFICATION);
    test_consistency(other);
    test_no_allocation(other);
    test_threads(other);
    if (failures > before) fprintf(stderr, "  (in %s)\n", argv[a]);
    fastmlp_model_free(other);
  }

  fastmlp_model_free(from_bytes);
  fastmlp_model_free(model);
  free(bytes);
#if defined(COUNTING)
  printf("test_capi: allocations and locks counted\n");
#else
  printf("test_capi: allocations and locks NOT counted (not glibc, or a sanitizer build)\n");
#endif
  printf("test_capi: %s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
