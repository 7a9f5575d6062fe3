/*
 * test_basic: create a plugin, compile the tiny models, execute them, compare
 * the outputs with the expected values, destroy.
 *
 * usage: test_basic DEVICE MODEL_DIR [onnx]
 *
 * MODEL_DIR holds the models tests/make_models.py writes (add_mul.xml/.bin,
 * and matmul.onnx with "onnx"). Exit codes: 0 every check passed, 1 a check
 * failed, 2 usage, 3 npu_plugin_create failed (its message on stderr; without
 * the device, e.g. an NPU plugin on a machine without an NPU, this is where it
 * stops), 4 a model could not be read or compiled.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "npu_standalone.h"

/* Two threads: CreateThread on Windows, pthreads elsewhere. */
#if defined(_WIN32)
#include <windows.h>
typedef HANDLE thread_t;
#define THREAD_FN(name) static DWORD WINAPI name(LPVOID arg)
#define THREAD_RETURN return 0
static int thread_start(thread_t *t, LPTHREAD_START_ROUTINE fn, void *arg) {
    *t = CreateThread(NULL, 0, fn, arg, 0, NULL);
    return *t != NULL;
}
static void thread_join(thread_t t) {
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
}
#else
#include <pthread.h>
typedef pthread_t thread_t;
#define THREAD_FN(name) static void *name(void *arg)
#define THREAD_RETURN return NULL
static int thread_start(thread_t *t, void *(*fn)(void *), void *arg) { return pthread_create(t, NULL, fn, arg) == 0; }
static void thread_join(thread_t t) { pthread_join(t, NULL); }
#endif

static int failures = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, " (last error: %s)\n", npu_last_error());      \
        }                                                                  \
    } while (0)

static int close_to(const float *got, const float *want, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-5f) return 0;
    return 1;
}

static void print_values(const char *name, const npu_tensor_t *t) {
    size_t i, n = t->size_bytes / sizeof(float);
    printf("%s [", name);
    for (i = 0; i < t->rank; i++) printf("%s%lld", i ? "," : "", (long long)t->dims[i]);
    printf("]:");
    for (i = 0; i < n; i++) printf(" %g", ((const float *)t->data)[i]);
    printf("\n");
}

static npu_tensor_t f32_tensor(float *data, size_t rank, const int64_t *dims, size_t count) {
    npu_tensor_t t;
    size_t i;
    memset(&t, 0, sizeof t);
    t.type = NPU_TYPE_F32;
    t.rank = rank;
    for (i = 0; i < rank; i++) t.dims[i] = dims[i];
    t.data = data;
    t.size_bytes = count * sizeof(float);
    return t;
}

static const int64_t DIMS_2x3[2] = {2, 3};
static const float X[6] = {-1, 2, -3, 4, -5, 6};
static const float Y[6] = {10, 20, 30, 40, 50, 60};
static const float SUM[6] = {9, 22, 27, 44, 45, 66};
static const float PROD[6] = {0, 2, 0, 8, 0, 18}; /* Relu(X) * [0.5, 1, 1.5, 2, 2.5, 3] */

static void check_info(const npu_model_t *m) {
    size_t n_in = 0, n_out = 0;
    npu_tensor_info_t info;
    CHECK(npu_model_input_count(m, &n_in) == NPU_OK && n_in == 2, "2 inputs, got %zu", n_in);
    CHECK(npu_model_output_count(m, &n_out) == NPU_OK && n_out == 2, "2 outputs, got %zu", n_out);
    CHECK(npu_model_input_info(m, 1, &info) == NPU_OK && info.type == NPU_TYPE_F32 && info.rank == 2 &&
              info.dims[0] == 2 && info.dims[1] == 3 && strcmp(info.name, "y") == 0,
          "input 1 is f32 [2,3] named y (got type %d rank %zu name '%s')", info.type, info.rank, info.name);
    CHECK(npu_model_output_info(m, 1, &info) == NPU_OK && strcmp(info.name, "prod") == 0,
          "output 1 is named prod (got '%s')", info.name);
    CHECK(npu_model_input_info(m, 2, &info) == NPU_ERR_INVALID_ARGUMENT, "input 2 does not exist");
}

static void run_add_mul(npu_model_t *m, int print) {
    float x[6], y[6], sum[6] = {0}, prod[6] = {0};
    npu_tensor_t in[2], out[2];
    npu_status_t st;
    memcpy(x, X, sizeof x);
    memcpy(y, Y, sizeof y);
    in[0] = f32_tensor(x, 2, DIMS_2x3, 6);
    in[1] = f32_tensor(y, 2, DIMS_2x3, 6);
    out[0] = f32_tensor(sum, 0, NULL, 6);
    out[1] = f32_tensor(prod, 0, NULL, 6);
    st = npu_execute(m, in, 2, out, 2);
    CHECK(st == NPU_OK, "execute add_mul: %s", npu_status_name(st));
    CHECK(out[0].rank == 2 && out[0].dims[0] == 2 && out[0].dims[1] == 3 && out[0].size_bytes == 24,
          "sum is [2,3], 24 bytes");
    CHECK(close_to(sum, SUM, 6), "sum = x + y");
    CHECK(close_to(prod, PROD, 6), "prod = relu(x) * W");
    if (print) {
        print_values("sum", &out[0]);
        print_values("prod", &out[1]);
    }
}

static void check_refusals(npu_model_t *m) {
    float x[6] = {0}, y[6] = {0}, sum[6], small[2];
    int32_t ints[6] = {0};
    int64_t dims_3x2[2] = {3, 2};
    npu_tensor_t in[2], out[2];
    npu_status_t st;

    in[0] = f32_tensor(x, 2, DIMS_2x3, 6);
    in[1] = f32_tensor(y, 2, DIMS_2x3, 6);
    out[0] = f32_tensor(sum, 0, NULL, 6);
    out[1] = f32_tensor(small, 0, NULL, 2);

    st = npu_execute(m, in, 1, out, 2);
    CHECK(st == NPU_ERR_INVALID_ARGUMENT, "one input for two: %s", npu_status_name(st));
    in[1].dims[0] = 3;
    in[1].dims[1] = 2;
    st = npu_execute(m, in, 2, out, 2);
    CHECK(st == NPU_ERR_SHAPE && strstr(npu_last_error(), "input 1"), "[3,2] for [2,3]: %s", npu_status_name(st));
    in[1] = f32_tensor(y, 2, dims_3x2, 6);
    in[1].dims[0] = 2;
    in[1].dims[1] = 3;
    in[1].type = NPU_TYPE_I32;
    in[1].data = ints;
    st = npu_execute(m, in, 2, out, 2);
    CHECK(st == NPU_ERR_TYPE && strstr(npu_last_error(), "i32 given, the model takes f32"), "i32 for f32: %s",
          npu_status_name(st));
    in[1] = f32_tensor(y, 2, DIMS_2x3, 5);
    st = npu_execute(m, in, 2, out, 2);
    CHECK(st == NPU_ERR_INVALID_ARGUMENT, "20 bytes for 24: %s", npu_status_name(st));
    in[1] = f32_tensor(y, 2, DIMS_2x3, 6);
    x[1] = 7;
    st = npu_execute(m, in, 2, out, 2);
    CHECK(st == NPU_ERR_BUFFER_TOO_SMALL && out[1].size_bytes == 24, "an 8-byte buffer for 24 bytes: %s, %zu",
          npu_status_name(st), out[1].size_bytes);
    CHECK(sum[1] == 7.0f, "the output that fits is still filled (sum[1] = %g)", sum[1]);
    CHECK(npu_execute(NULL, in, 2, out, 2) == NPU_ERR_INVALID_ARGUMENT, "NULL model");
}

/* Two threads executing one model: the model's lock serialises them; each must
 * get its own results. */
typedef struct { npu_model_t *model; float scale; int bad; } worker_t;

THREAD_FN(worker) {
    worker_t *w = (worker_t *)arg;
    int round, i;
    for (round = 0; round < 25; round++) {
        float x[6], y[6], sum[6], prod[6];
        npu_tensor_t in[2], out[2];
        for (i = 0; i < 6; i++) {
            x[i] = w->scale * (float)(i + 1);
            y[i] = (float)round;
        }
        in[0] = f32_tensor(x, 2, DIMS_2x3, 6);
        in[1] = f32_tensor(y, 2, DIMS_2x3, 6);
        out[0] = f32_tensor(sum, 0, NULL, 6);
        out[1] = f32_tensor(prod, 0, NULL, 6);
        if (npu_execute(w->model, in, 2, out, 2) != NPU_OK) w->bad++;
        for (i = 0; i < 6; i++)
            if (fabsf(sum[i] - (x[i] + y[i])) > 1e-4f) w->bad++;
    }
    THREAD_RETURN;
}

static void check_threads(npu_model_t *m) {
    worker_t a = {m, 1.0f, 0}, b = {m, -2.0f, 0};
    thread_t ta, tb;
    int started_a = thread_start(&ta, worker, &a), started_b = thread_start(&tb, worker, &b);
    CHECK(started_a && started_b, "threads created");
    if (started_a) thread_join(ta);
    if (started_b) thread_join(tb);
    CHECK(a.bad == 0 && b.bad == 0, "two threads on one model: %d and %d wrong results", a.bad, b.bad);
}

static void run_matmul(npu_model_t *m, int64_t n) {
    float x[9] = {1, 0, -1, 2, 1, 0, 0, 0, 1};
    const float want[6] = {-3.5f, -4.5f, 5.5f, 7.5f, 5.5f, 5.5f};
    float y[6] = {0};
    int64_t dims[2] = {n, 3};
    npu_tensor_info_t info;
    npu_tensor_t in, out;
    npu_status_t st;
    CHECK(npu_model_input_info(m, 0, &info) == NPU_OK && info.rank == 2 && info.dims[0] == -1 &&
              info.dims[1] == 3,
          "matmul input is [?,3] (got rank %zu, [%lld,%lld])", info.rank, (long long)info.dims[0],
          (long long)info.dims[1]);
    in = f32_tensor(x, 2, dims, (size_t)n * 3);
    out = f32_tensor(y, 0, NULL, 6);
    st = npu_execute(m, &in, 1, &out, 1);
    CHECK(st == NPU_OK, "execute matmul with N=%lld: %s", (long long)n, npu_status_name(st));
    CHECK(out.rank == 2 && out.dims[0] == n && out.dims[1] == 2, "y is [%lld,2]", (long long)n);
    CHECK(close_to(y, want, (size_t)n * 2), "y = x @ W + b");
    print_values("y", &out);
}

int main(int argc, char **argv) {
    char err[1024], path[1024];
    npu_plugin_t *plugin;
    npu_model_t *model = NULL, *onnx = NULL;
    npu_status_t st;

    if (argc < 3) {
        fprintf(stderr, "usage: %s DEVICE MODEL_DIR [onnx]\n", argv[0]);
        return 2;
    }
    plugin = npu_plugin_create(argv[1], err, sizeof err);
    if (!plugin) {
        fprintf(stderr, "npu_plugin_create(%s): %s\n", argv[1], err);
        return 3;
    }
    printf("plugin %s %s (%s)\n", npu_plugin_device(plugin), npu_plugin_version(plugin),
           npu_plugin_device_name(plugin));

    snprintf(path, sizeof path, "%s/add_mul.xml", argv[2]);
    if ((st = npu_compile(plugin, path, &model)) != NPU_OK) {
        fprintf(stderr, "npu_compile(add_mul.xml): %s: %s\n", npu_status_name(st), npu_last_error());
        npu_plugin_destroy(plugin);
        return 4;
    }
    check_info(model);
    run_add_mul(model, 1);
    check_refusals(model);
    run_add_mul(model, 0); /* the model still works after refused calls */
    check_threads(model);

    if (argc > 3 && strcmp(argv[3], "onnx") == 0) {
        snprintf(path, sizeof path, "%s/matmul.onnx", argv[2]);
        if ((st = npu_compile(plugin, path, &onnx)) != NPU_OK) {
            fprintf(stderr, "npu_compile(matmul.onnx): %s: %s\n", npu_status_name(st), npu_last_error());
            npu_model_destroy(model);
            npu_plugin_destroy(plugin);
            return 4;
        }
        run_matmul(onnx, 2);
        run_matmul(onnx, 3);
    }

    /* A model keeps its plugin alive. */
    npu_plugin_destroy(plugin);
    run_add_mul(model, 0);
    npu_model_destroy(model);
    npu_model_destroy(onnx);
    npu_model_destroy(NULL);
    npu_plugin_destroy(NULL);

    if (failures) {
        fprintf(stderr, "test_basic: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_basic: all checks passed\n");
    return 0;
}
