/* One-sample latency from C, no Python: fastmlp's C API against RTNeural's run-time-sized and
 * compile-time-sized models (bench_rtneural.cpp, when built with -DBENCH_RTNEURAL) and onnxruntime's C
 * API (the shared library inside the onnxruntime wheel, loaded with dlopen), on one thread pinned to one
 * CPU.
 *
 *   bench_capi LIBONNXRUNTIME CALLS NAME MODEL.safetensors MODEL.onnx [NAME ...]
 *
 * (bench/capi/run.sh makes the models and runs it.) For each net: 100 random rows through every library,
 * their outputs compared with fastmlp's (the largest difference printed), then CALLS calls of each on one
 * row, the libraries taking turns in blocks of 100 calls so that all see the same machine state, every
 * call timed with CLOCK_MONOTONIC (its ~20 ns of overhead is in every figure); median and p99 in
 * microseconds. onnxruntime runs with one intra-op and one inter-op thread, sequential execution, every
 * graph optimization, and input and output tensors made once over the caller's buffers (its cheapest Run).
 * onnxruntime's C API is declared below by the positions of the few OrtApi functions used
 * (onnxruntime_c_api.h, ABI-stable since version 1). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastmlp/fastmlp.h"

#ifdef BENCH_RTNEURAL /* bench_rtneural.cpp */
typedef struct rtneural_net rtneural_net;
rtneural_net* rtneural_make(const char* name, const char* safetensors, char* err, size_t n_err);
const float* rtneural_run(rtneural_net* net, int compile_time, const float* x);
void rtneural_free(rtneural_net* net);
#endif

/* ---- onnxruntime's C API: the OrtApi entries used, by position ---- */
typedef void* OrtStatusPtr;
typedef struct {
  const void* (*GetApi)(uint32_t version);
  const char* (*GetVersionString)(void);
} OrtApiBase;
enum { kGetErrorMessage = 2, kCreateEnv = 3, kCreateSession = 7, kRun = 9, kCreateSessionOptions = 10 };
enum { kSetExecutionMode = 13, kSetGraphOptimization = 23, kSetIntraOp = 24, kSetInterOp = 25 };
enum { kCreateTensorWithData = 49, kCreateCpuMemoryInfo = 69 };
static void* const* ort;
#define ORT(index, type) ((type)ort[index]) /* the struct's entries are the function pointers */

static void ort_check(OrtStatusPtr status, const char* what) {
  if (!status) return;
  fprintf(stderr, "onnxruntime %s: %s\n", what, ORT(kGetErrorMessage, const char* (*)(OrtStatusPtr))(status));
  exit(1);
}

/* ---- timing ---- */
static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}
static int by_value(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

enum { FASTMLP, RTN_RUNTIME, RTN_COMPILE_TIME, ORT, N_LIBS, READ = N_LIBS, N_TIMED };
static const char* const lib_name[N_LIBS] = {"fastmlp", "RTNeural run-time", "RTNeural compile-time", "onnxruntime"};

struct net {
  fastmlp_model* model;
  fastmlp_workspace* ws;
  void* rtneural; /* rtneural_net*, NULL: not run */
  void* session;
  void *input, *output;
  _Alignas(64) float x[1024]; /* RTNeural's compile-time model reads its input as aligned vectors */
  float y[N_LIBS][64];
  double diff[N_LIBS]; /* the largest |output - fastmlp's output| over 100 rows */
  uint64_t* bytes;     /* READ: as many bytes as the model file, read once per call */
  size_t n_words;
  uint64_t sink;
  size_t n_in, n_out;
};

/* The floor of a call that reads every weight once: the model file's size read as 4 sequential streams
 * (one per quarter, as the row kernel reads a large layer), OR-ed together (vectorised without
 * -ffast-math). */
static void read_once(struct net* n) {
  const size_t q = n->n_words / 4;
  const uint64_t *a = n->bytes, *b = a + q, *c = b + q, *d = c + q;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i;
  for (i = 0; i < q; ++i) s0 |= a[i], s1 |= b[i], s2 |= c[i], s3 |= d[i];
  n->sink += s0 | s1 | s2 | s3;
}

static void run(struct net* n, int lib) {
  static const char* in_name = "input";
  static const char* out_name = "output";
  typedef OrtStatusPtr (*RunFn)(void*, const void*, const char* const*, const void* const*, size_t, const char* const*,
                                size_t, void**);
  if (lib == READ) {
    read_once(n);
  } else if (lib == FASTMLP) {
    if (fastmlp_predict(n->ws, n->x, 1, n->y[FASTMLP]) != FASTMLP_OK) {
      fprintf(stderr, "fastmlp: %s\n", fastmlp_last_error());
      exit(1);
    }
  } else if (lib == ORT) {
    ort_check(ORT(kRun, RunFn)(n->session, NULL, &in_name, (const void* const*)&n->input, 1, &out_name, 1, &n->output),
              "Run");
  } else {
#ifdef BENCH_RTNEURAL
    /* RTNeural leaves the outputs in the model; copied out as the others write them to the caller */
    memcpy(n->y[lib], rtneural_run((rtneural_net*)n->rtneural, lib == RTN_COMPILE_TIME, n->x),
           n->n_out * sizeof(float));
#endif
  }
}

static int runs(const struct net* n, int lib) {
  return lib == RTN_RUNTIME || lib == RTN_COMPILE_TIME ? n->rtneural != NULL : 1;
}

static void setup(struct net* n, const char* name, const char* safetensors, const char* onnx, void* env, void* options,
                  void* memory) {
  int64_t in_shape[2] = {1, 0}, out_shape[2] = {1, 0};
  size_t j;
  typedef OrtStatusPtr (*CreateSessionFn)(void*, const char*, void*, void**);
  typedef OrtStatusPtr (*CreateTensorFn)(void*, void*, size_t, const int64_t*, size_t, int, void**);
  {
    FILE* f = fopen(safetensors, "rb");
    if (f && fseek(f, 0, SEEK_END) == 0) n->n_words = (size_t)ftell(f) / 8;
    if (f) fclose(f);
    n->bytes = malloc(n->n_words * 8 + 8);
    for (j = 0; j < n->n_words; ++j) n->bytes[j] = (uint64_t)j * 0x9E3779B97F4A7C15u;
  }
  if (fastmlp_model_load(safetensors, &n->model) != FASTMLP_OK ||
      fastmlp_workspace_create(n->model, 1, &n->ws) != FASTMLP_OK) {
    fprintf(stderr, "fastmlp: %s\n", fastmlp_last_error());
    exit(1);
  }
  fastmlp_model_n_inputs(n->model, &n->n_in);
  fastmlp_model_n_outputs(n->model, &n->n_out);
#ifdef BENCH_RTNEURAL
  {
    char err[512] = "";
    n->rtneural = rtneural_make(name, safetensors, err, sizeof err);
    if (!n->rtneural) fprintf(stderr, "%s: RTNeural not run: %s\n", name, err);
  }
#else
  (void)name;
#endif
  ort_check(ORT(kCreateSession, CreateSessionFn)(env, onnx, options, &n->session), "CreateSession");
  in_shape[1] = (int64_t)n->n_in, out_shape[1] = (int64_t)n->n_out;
  ort_check(
      ORT(kCreateTensorWithData, CreateTensorFn)(memory, n->x, n->n_in * sizeof(float), in_shape, 2, 1, &n->input),
      "CreateTensorWithDataAsOrtValue");
  ort_check(ORT(kCreateTensorWithData, CreateTensorFn)(memory, n->y[ORT], n->n_out * sizeof(float), out_shape, 2, 1,
                                                       &n->output),
            "CreateTensorWithDataAsOrtValue");
  /* 100 random rows through every library: the largest difference from fastmlp's outputs */
  for (int r = 0; r < 100; ++r) {
    for (j = 0; j < n->n_in; ++j) n->x[j] = (float)(rand() / (double)RAND_MAX * 2.0 - 1.0);
    for (int lib = 0; lib < N_LIBS; ++lib)
      if (runs(n, lib)) run(n, lib);
    for (int lib = 1; lib < N_LIBS; ++lib)
      for (j = 0; runs(n, lib) && j < n->n_out; ++j)
        n->diff[lib] = fmax(n->diff[lib], fabs((double)n->y[lib][j] - (double)n->y[FASTMLP][j]));
  }
  if (n->rtneural && fmax(n->diff[RTN_RUNTIME], n->diff[RTN_COMPILE_TIME]) > 1e-5)
    fprintf(stderr, "WARNING %s: RTNeural's outputs differ from fastmlp's by %g (not the same function?)\n", name,
            fmax(n->diff[RTN_RUNTIME], n->diff[RTN_COMPILE_TIME]));
}

int main(int argc, char** argv) {
  void* lib;
  const OrtApiBase* (*get_base)(void);
  void *env = NULL, *options = NULL, *memory = NULL;
  long calls;
  int a;
  static double floor_kb[256], floor_med[256], floor_p99[256], fast_med[256];
  cpu_set_t cpus;
  if (argc < 6 || (argc - 3) % 3 != 0 || argc > 256) {
    fprintf(stderr, "usage: %s LIBONNXRUNTIME CALLS NAME MODEL.safetensors MODEL.onnx [...]\n", argv[0]);
    return 2;
  }
  CPU_ZERO(&cpus);
  CPU_SET(0, &cpus);
  if (sched_setaffinity(0, sizeof cpus, &cpus) != 0) perror("sched_setaffinity");
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  {
    void* sym = dlsym(lib, "OrtGetApiBase");
    memcpy(&get_base, &sym, sizeof get_base);
  }
  ort = get_base()->GetApi(13);
  if (!ort) return fprintf(stderr, "onnxruntime has no API version 13\n"), 1;
  ort_check(ORT(kCreateEnv, OrtStatusPtr (*)(int, const char*, void**))(3, "bench", &env), "CreateEnv");
  ort_check(ORT(kCreateSessionOptions, OrtStatusPtr (*)(void**))(&options), "CreateSessionOptions");
  ort_check(ORT(kSetIntraOp, OrtStatusPtr (*)(void*, int))(options, 1), "SetIntraOpNumThreads");
  ort_check(ORT(kSetInterOp, OrtStatusPtr (*)(void*, int))(options, 1), "SetInterOpNumThreads");
  ort_check(ORT(kSetExecutionMode, OrtStatusPtr (*)(void*, int))(options, 0), "SetSessionExecutionMode");
  ort_check(ORT(kSetGraphOptimization, OrtStatusPtr (*)(void*, int))(options, 99), "SetGraphOptimizationLevel");
  ort_check(ORT(kCreateCpuMemoryInfo, OrtStatusPtr (*)(int, int, void**))(0, 0, &memory), "CreateCpuMemoryInfo");
  calls = atol(argv[2]);
  printf("fastmlp %s (C API %d), onnxruntime %s; %ld calls each, one thread pinned to CPU 0\n", fastmlp_version(),
         fastmlp_c_api_version(), get_base()->GetVersionString(), calls);
  printf("| net |");
  for (int lib = 0; lib < N_LIBS; ++lib) printf(" %s median (us) | %s p99 (us) |", lib_name[lib], lib_name[lib]);
  printf(
      " fastmlp / RTNeural run-time | fastmlp / RTNeural compile-time | fastmlp / onnxruntime | max abs difference "
      "from "
      "fastmlp (RTNeural rt, ct; onnxruntime) |\n|---|");
  for (int c = 0; c < 2 * N_LIBS + 4; ++c) printf("---|");
  printf("\n");
  for (a = 3; a + 2 < argc; a += 3) {
    static struct net n;
    double* t[N_TIMED];
    double med[N_LIBS], p99[N_LIBS];
    long done = 0, k;
    int lib;
    memset(&n, 0, sizeof n);
    setup(&n, argv[a], argv[a + 1], argv[a + 2], env, options, memory);
    for (lib = 0; lib < N_TIMED; ++lib) t[lib] = malloc(sizeof(double) * (size_t)calls);
    for (lib = 0; lib < N_TIMED; ++lib) /* warm up each */
      for (k = 0; runs(&n, lib) && k < 2000; ++k) run(&n, lib);
    while (done < calls) {
      const long block = calls - done < 100 ? calls - done : 100;
      for (lib = 0; lib < N_TIMED; ++lib)
        for (k = 0; runs(&n, lib) && k < block; ++k) {
          const double t0 = now_ns();
          run(&n, lib);
          t[lib][done + k] = now_ns() - t0;
        }
      done += block;
    }
    printf("| %s |", argv[a]);
    for (lib = 0; lib < N_LIBS; ++lib) {
      if (!runs(&n, lib)) {
        med[lib] = NAN, printf(" - | - |");
        continue;
      }
      qsort(t[lib], (size_t)calls, sizeof(double), by_value);
      med[lib] = t[lib][calls / 2] / 1e3, p99[lib] = t[lib][calls * 99 / 100] / 1e3;
      printf(" %.2f | %.2f |", med[lib], p99[lib]);
    }
    for (lib = 1; lib < N_LIBS; ++lib)
      if (isnan(med[lib]))
        printf(" - |");
      else
        printf(" %.2f |", med[FASTMLP] / med[lib]);
    if (n.rtneural)
      printf(" %.1e, %.1e; %.1e |\n", n.diff[RTN_RUNTIME], n.diff[RTN_COMPILE_TIME], n.diff[ORT]);
    else
      printf(" -, -; %.1e |\n", n.diff[ORT]);
    qsort(t[READ], (size_t)calls, sizeof(double), by_value);
    floor_kb[a] = (double)n.n_words * 8 / 1024, floor_med[a] = t[READ][calls / 2] / 1e3;
    floor_p99[a] = t[READ][calls * 99 / 100] / 1e3, fast_med[a] = med[FASTMLP];
    fflush(stdout);
    for (lib = 0; lib < N_TIMED; ++lib) free(t[lib]);
    free(n.bytes);
#ifdef BENCH_RTNEURAL
    if (n.rtneural) rtneural_free((rtneural_net*)n.rtneural);
#endif
  }
  printf(
      "\nThe floor, in the same run: a buffer the size of the model file read once per call as 4 sequential "
      "streams\n\n| net | bytes (KB) | read median (us) | read p99 (us) | fastmlp median / read median |\n"
      "|---|---|---|---|---|\n");
  for (a = 3; a + 2 < argc; a += 3)
    printf("| %s | %.0f | %.2f | %.2f | %.2f |\n", argv[a], floor_kb[a], floor_med[a], floor_p99[a],
           fast_med[a] / floor_med[a]);
  return 0;
}
