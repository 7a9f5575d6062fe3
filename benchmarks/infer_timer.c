/*
 * infer_timer: time inference through OpenVINO's C API, and print the
 * process's peak memory. Part of npuslim's benchmarks/bench_infer.py; one
 * source for Windows (mingw-w64, run natively or under Wine) and Linux (gcc).
 *
 * usage: infer_timer C_API_LIBRARY MODEL.xml MODEL.bin DEVICE ITERATIONS REQUESTS
 *
 * The C API is reached through sym() like npuslim's load probes, with their
 * typedefs and error text (npuslim/check/probe/ov_c_api.h, on the include
 * path, read only). Steps, after loading the library:
 *   - core, read the IR model from files, compile it with PERFORMANCE_HINT
 *     LATENCY, one request: 3 warm-up inferences, then ITERATIONS synchronous
 *     inferences, each timed ("L seconds" lines); then ITERATIONS start_async +
 *     wait on the same request ("X 1 count seconds");
 *   - compile it again with PERFORMANCE_HINT THROUGHPUT, REQUESTS requests
 *     (0: the compiled model's OPTIMAL_NUMBER_OF_INFER_REQUESTS), kept in flight
 *     round robin (wait the oldest, start it again) until ITERATIONS x REQUESTS
 *     inferences completed ("X N count seconds streams").
 * Lines: "T step seconds", "L seconds", "X requests count seconds [streams]",
 * "O checksum" (sum of the output of the first inference), "M key bytes" (peak
 * memory), "FAIL step message". Exit 0 when every step ran.
 */
#include <stdint.h>
#include "ov_c_api.h"

#ifdef _WIN32
#include <psapi.h>
static HMODULE lib;
static void *sym(const char *name) { return (void *)GetProcAddress(lib, name); }
static LARGE_INTEGER freq;
static double now(void) {
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return (double)t.QuadPart / (double)freq.QuadPart;
}
#else
#include <dlfcn.h>
#include <time.h>
static void *lib;
static void *sym(const char *name) { return dlsym(lib, name); }
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
#endif

typedef ov_status_e (*read_model_files_fn)(const void *, const char *, const char *, void **);
typedef ov_status_e (*request_tensor_fn)(const void *, void **);
typedef ov_status_e (*tensor_size_fn)(const void *, size_t *);
typedef ov_status_e (*compiled_property_fn)(const void *, const char *, char **);

static double mark_at;

static void mark(const char *name) {
    double t = now();
    printf("T %s %.6f\n", name, t - mark_at);
    fflush(stdout);
    mark_at = now();
}

static int fail(const char *name, const char *detail) {
    char buf[2048];
    size_t i;
    snprintf(buf, sizeof buf, "%s", detail);
    for (i = 0; buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
    printf("FAIL %s %s\n", name, buf);
    fflush(stdout);
    return 1;
}

#ifndef _WIN32
/* "Key:   1234 kB" from a /proc file, as bytes; 0 when absent. */
static unsigned long long proc_kb(const char *file, const char *key) {
    char line[256];
    unsigned long long kb = 0;
    size_t n = strlen(key);
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            kb = strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}
#endif

/* Peak memory, everything still loaded. Windows: peak private (committed) bytes and peak working set.
   Linux: VmHWM, and the PSS from smaps_rollup (shared library pages divided among the processes mapping them).
   (Under Wine a path under /proc would be opened by wineserver, so the host measures the Wine process.) */
static void memory(void) {
#ifdef _WIN32
    PROCESS_MEMORY_COUNTERS pmc;
    pmc.cb = sizeof pmc;
    if (GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)) {
        printf("M peak_private %zu\n", (size_t)pmc.PeakPagefileUsage);
        printf("M peak_working_set %zu\n", (size_t)pmc.PeakWorkingSetSize);
    }
#else
    unsigned long long hwm = proc_kb("/proc/self/status", "VmHWM"), pss = proc_kb("/proc/self/smaps_rollup", "Pss");
    if (hwm) printf("M peak_rss %llu\n", hwm);
    if (pss) printf("M pss %llu\n", pss);
#endif
    fflush(stdout);
}

/* Fill every input of the request with a fixed pattern (all f32). */
static ov_status_e fill_input(void *request) {
    request_tensor_fn get_input = (request_tensor_fn)sym("ov_infer_request_get_input_tensor");
    tensor_size_fn tensor_size = (tensor_size_fn)sym("ov_tensor_get_size");
    tensor_data_fn tensor_data = (tensor_data_fn)sym("ov_tensor_data");
    tensor_free_fn tensor_free = (tensor_free_fn)sym("ov_tensor_free");
    void *tensor = NULL, *data = NULL;
    size_t size = 0, i;
    ov_status_e st;
    if ((st = get_input(request, &tensor)) || (st = tensor_size(tensor, &size)) || (st = tensor_data(tensor, &data)))
        return st;
    for (i = 0; i < size; i++) ((float *)data)[i] = (float)((int)(i % 17) - 8) / 8.0f;
    tensor_free(tensor);
    return 0;
}

static ov_status_e checksum(void *request, double *sum) {
    get_output_fn get_output = (get_output_fn)sym("ov_infer_request_get_output_tensor");
    tensor_size_fn tensor_size = (tensor_size_fn)sym("ov_tensor_get_size");
    tensor_data_fn tensor_data = (tensor_data_fn)sym("ov_tensor_data");
    tensor_free_fn tensor_free = (tensor_free_fn)sym("ov_tensor_free");
    void *tensor = NULL, *data = NULL;
    size_t size = 0, i;
    ov_status_e st;
    if ((st = get_output(request, &tensor)) || (st = tensor_size(tensor, &size)) || (st = tensor_data(tensor, &data)))
        return st;
    for (*sum = 0, i = 0; i < size; i++) *sum += ((const float *)data)[i];
    tensor_free(tensor);
    return 0;
}

int main(int argc, char **argv) {
    core_create_fn core_create;
    read_model_files_fn read_model;
    compile_model_fn compile_model;
    create_request_fn create_request;
    infer_fn infer, start_async, wait;
    compiled_property_fn compiled_property;
    request_free_fn request_free;
    void *core = NULL, *model = NULL, *compiled = NULL, *request = NULL, **requests;
    char *value = NULL, streams[64] = "?";
    long iterations, nreq, i, done, target;
    double t0, sum = 0;
    ov_status_e st;

#ifdef _WIN32
    argv = utf8_argv(&argc);
    QueryPerformanceFrequency(&freq);
#endif
    if (!argv || argc < 7) {
        fprintf(stderr, "usage: infer_timer C_API_LIBRARY MODEL.xml MODEL.bin DEVICE ITERATIONS REQUESTS\n");
        return 2;
    }
    iterations = strtol(argv[5], NULL, 10);
    nreq = strtol(argv[6], NULL, 10);
    mark_at = now();
#ifdef _WIN32
    lib = load_path(argv[1]);
    if (!lib) {
        char detail[64];
        snprintf(detail, sizeof detail, "LoadLibrary failed with error %lu", GetLastError());
        return fail("load_c_api", detail);
    }
#else
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) return fail("load_c_api", dlerror());
#endif
    core_create = (core_create_fn)sym("ov_core_create");
    read_model = (read_model_files_fn)sym("ov_core_read_model");
    compile_model = (compile_model_fn)sym("ov_core_compile_model");
    create_request = (create_request_fn)sym("ov_compiled_model_create_infer_request");
    infer = (infer_fn)sym("ov_infer_request_infer");
    start_async = (infer_fn)sym("ov_infer_request_start_async");
    wait = (infer_fn)sym("ov_infer_request_wait");
    compiled_property = (compiled_property_fn)sym("ov_compiled_model_get_property");
    request_free = (request_free_fn)sym("ov_infer_request_free");
    if (!core_create || !read_model || !compile_model || !create_request || !infer || !start_async || !wait ||
        !compiled_property || !request_free || !sym("ov_tensor_get_size") || !sym("ov_infer_request_get_input_tensor"))
        return fail("load_c_api", "the C API lacks an export the timer uses");
    mark("load_c_api");
    if ((st = core_create(&core))) return fail("core_create", why(st));
    mark("core_create");
    if ((st = read_model(core, argv[2], argv[3], &model))) return fail("read_model", why(st));
    mark("read_model");

    /* latency: one request, synchronous */
    if ((st = compile_model(core, model, argv[4], 2, &compiled, "PERFORMANCE_HINT", "LATENCY")))
        return fail("compile", why(st));
    mark("compile");
    if ((st = create_request(compiled, &request)) || (st = fill_input(request)) || (st = infer(request)))
        return fail("first_infer", why(st));
    mark("first_infer");
    if ((st = checksum(request, &sum))) return fail("first_infer", why(st));
    printf("O %.9g\n", sum);
    for (i = 0; i < 3; i++)
        if ((st = infer(request))) return fail("latency", why(st));
    for (i = 0; i < iterations; i++) {
        t0 = now();
        if ((st = infer(request))) return fail("latency", why(st));
        printf("L %.9f\n", now() - t0);
    }
    fflush(stdout);
    /* throughput, one request: start_async + wait */
    t0 = now();
    for (i = 0; i < iterations; i++)
        if ((st = start_async(request)) || (st = wait(request))) return fail("async_1", why(st));
    printf("X 1 %ld %.6f\n", iterations, now() - t0);
    fflush(stdout);
    request_free(request);
    ((compiled_model_free_fn)sym("ov_compiled_model_free"))(compiled);

    /* throughput, N requests in flight on a model compiled for throughput */
    if ((st = compile_model(core, model, argv[4], 2, &compiled, "PERFORMANCE_HINT", "THROUGHPUT")))
        return fail("compile_throughput", why(st));
    if (!compiled_property(compiled, "NUM_STREAMS", &value)) {
        snprintf(streams, sizeof streams, "%s", value);
        ((free_fn)sym("ov_free"))(value);
    }
    if (nreq <= 0) {
        if ((st = compiled_property(compiled, "OPTIMAL_NUMBER_OF_INFER_REQUESTS", &value)))
            return fail("compile_throughput", why(st));
        nreq = strtol(value, NULL, 10);
        ((free_fn)sym("ov_free"))(value);
        if (nreq <= 0) nreq = 1;
    }
    requests = calloc((size_t)nreq, sizeof *requests);
    for (i = 0; i < nreq; i++)
        if ((st = create_request(compiled, &requests[i])) || (st = fill_input(requests[i])) ||
            (st = infer(requests[i])))
            return fail("async_n", why(st));
    target = iterations * nreq;
    t0 = now();
    for (i = 0; i < nreq; i++)
        if ((st = start_async(requests[i]))) return fail("async_n", why(st));
    for (done = 0; done < target; done++) {
        void *r = requests[done % nreq];
        if ((st = wait(r))) return fail("async_n", why(st));
        if (done + nreq < target && (st = start_async(r))) return fail("async_n", why(st));
    }
    printf("X %ld %ld %.6f %s\n", nreq, target, now() - t0, streams);
    memory();
    for (i = 0; i < nreq; i++) request_free(requests[i]);
    free(requests);
    ((compiled_model_free_fn)sym("ov_compiled_model_free"))(compiled);
    ((model_free_fn)sym("ov_model_free"))(model);
    ((core_free_fn)sym("ov_core_free"))(core);
    return 0;
}
