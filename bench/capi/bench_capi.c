/* One-sample latency from C, no Python: fastmlp's C API against onnxruntime's C API (the shared
 * library inside the onnxruntime wheel, loaded with dlopen), on one thread pinned to one CPU.
 *
 *   bench_capi LIBONNXRUNTIME CALLS NAME MODEL.safetensors MODEL.onnx [NAME ...]
 *
 * (bench/capi/run.sh makes the models and runs it.) For each net: the same random row through both,
 * their outputs compared, then CALLS calls of each, alternating blocks of 1000 so that both see the
 * same machine state, every call timed with CLOCK_MONOTONIC (its ~20 ns of overhead is in both
 * figures); median and p99 in microseconds. onnxruntime runs with one intra-op and one inter-op
 * thread, sequential execution, every graph optimization, and input and output tensors made once
 * over the caller's buffers (its cheapest Run). onnxruntime's C API is declared below by the
 * positions of the few OrtApi functions used (onnxruntime_c_api.h, ABI-stable since version 1). */
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

struct net {
  fastmlp_model* model;
  fastmlp_workspace* ws;
  void* session;
  void *input, *output;
  float x[1024], y_fast[64], y_ort[64];
  size_t n_in, n_out;
};

static void run_fastmlp(struct net* n) {
  if (fastmlp_predict(n->ws, n->x, 1, n->y_fast) != FASTMLP_OK) {
    fprintf(stderr, "fastmlp: %s\n", fastmlp_last_error());
    exit(1);
  }
}

static void run_ort(struct net* n) {
  static const char* in_name = "input";
  static const char* out_name = "output";
  typedef OrtStatusPtr (*RunFn)(void*, const void*, const char* const*, const void* const*, size_t, const char* const*,
                                size_t, void**);
  ort_check(ORT(kRun, RunFn)(n->session, NULL, &in_name, (const void* const*)&n->input, 1, &out_name, 1, &n->output),
            "Run");
}

static void setup(struct net* n, const char* safetensors, const char* onnx, void* env, void* options, void* memory) {
  int64_t in_shape[2] = {1, 0}, out_shape[2] = {1, 0};
  size_t j;
  typedef OrtStatusPtr (*CreateSessionFn)(void*, const char*, void*, void**);
  typedef OrtStatusPtr (*CreateTensorFn)(void*, void*, size_t, const int64_t*, size_t, int, void**);
  if (fastmlp_model_load(safetensors, &n->model) != FASTMLP_OK ||
      fastmlp_workspace_create(n->model, 1, &n->ws) != FASTMLP_OK) {
    fprintf(stderr, "fastmlp: %s\n", fastmlp_last_error());
    exit(1);
  }
  fastmlp_model_n_inputs(n->model, &n->n_in);
  fastmlp_model_n_outputs(n->model, &n->n_out);
  for (j = 0; j < n->n_in; ++j) n->x[j] = (float)(rand() / (double)RAND_MAX * 2.0 - 1.0);
  ort_check(ORT(kCreateSession, CreateSessionFn)(env, onnx, options, &n->session), "CreateSession");
  in_shape[1] = (int64_t)n->n_in, out_shape[1] = (int64_t)n->n_out;
  ort_check(
      ORT(kCreateTensorWithData, CreateTensorFn)(memory, n->x, n->n_in * sizeof(float), in_shape, 2, 1, &n->input),
      "CreateTensorWithDataAsOrtValue");
  ort_check(ORT(kCreateTensorWithData, CreateTensorFn)(memory, n->y_ort, n->n_out * sizeof(float), out_shape, 2, 1,
                                                       &n->output),
            "CreateTensorWithDataAsOrtValue");
}

int main(int argc, char** argv) {
  void* lib;
  const OrtApiBase* (*get_base)(void);
  void *env = NULL, *options = NULL, *memory = NULL;
  long calls;
  int a;
  cpu_set_t cpus;
  if (argc < 6 || (argc - 3) % 3 != 0) {
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
  printf(
      "| net | fastmlp median (us) | fastmlp p99 (us) | onnxruntime median (us) | onnxruntime p99 (us) | "
      "ratio of medians |\n|---|---|---|---|---|---|\n");
  for (a = 3; a + 2 < argc; a += 3) {
    static struct net n;
    double *t_fast = malloc(sizeof(double) * (size_t)calls), *t_ort = malloc(sizeof(double) * (size_t)calls);
    double diff = 0.0, med_f, med_o;
    long done = 0, k;
    size_t j;
    memset(&n, 0, sizeof n);
    setup(&n, argv[a + 1], argv[a + 2], env, options, memory);
    run_fastmlp(&n), run_ort(&n);
    for (j = 0; j < n.n_out; ++j) diff = fmax(diff, fabs(n.y_fast[j] - n.y_ort[j]));
    if (diff > 1e-4) fprintf(stderr, "%s: the outputs differ by %g\n", argv[a], diff);
    for (k = 0; k < 2000; ++k) run_fastmlp(&n), run_ort(&n); /* warm up both */
    while (done < calls) {
      const long block = calls - done < 1000 ? calls - done : 1000;
      for (k = 0; k < block; ++k) {
        const double t0 = now_ns();
        run_fastmlp(&n);
        t_fast[done + k] = now_ns() - t0;
      }
      for (k = 0; k < block; ++k) {
        const double t0 = now_ns();
        run_ort(&n);
        t_ort[done + k] = now_ns() - t0;
      }
      done += block;
    }
    qsort(t_fast, (size_t)calls, sizeof(double), by_value);
    qsort(t_ort, (size_t)calls, sizeof(double), by_value);
    med_f = t_fast[calls / 2], med_o = t_ort[calls / 2];
    printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", argv[a], med_f / 1e3, t_fast[calls * 99 / 100] / 1e3,
           med_o / 1e3, t_ort[calls * 99 / 100] / 1e3, med_f / med_o);
    fflush(stdout);
    free(t_fast), free(t_ort);
  }
  return 0;
}
