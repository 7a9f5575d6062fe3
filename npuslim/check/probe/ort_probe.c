/*
 * ort_probe: load an ONNX Runtime + OpenVINO execution provider bundle the way an
 * application does, run a one-operator model, and say what happened at each step.
 * Part of npuslim (npuslim verify --load): built with mingw-w64 and run natively on
 * Windows or under Wine for a Windows bundle, built with gcc and run natively (dlopen,
 * no LD_LIBRARY_PATH) for a Linux one.
 *
 * usage: ort_probe PATH/TO/onnxruntime.dll|libonnxruntime.so.1 DEVICE
 *
 * Prints "STEP <name> OK|FAIL <detail>" lines: load_ort, api, env, session_options,
 * fallback (session.disable_cpu_ep_fallback=1: a node the provider does not take
 * fails the session instead of running on ONNX Runtime's own CPU kernels), provider
 * (the OpenVINO execution provider appended with device_type=DEVICE: this loads the
 * provider library and through it OpenVINO), session (the model is compiled by
 * OpenVINO for DEVICE), placement (which execution provider ONNX Runtime placed the
 * nodes on, from its own "Node placements" log), run (one inference; the outputs are
 * printed so the caller can check them). ONNX Runtime's warnings and errors are
 * printed as "LOG <severity> <message>" lines.
 *
 * ONNX Runtime is reached through OrtGetApiBase and the OrtApi table of function
 * pointers; only the entries called here are declared, by their position in
 * struct OrtApi, which is append-only. Positions and signatures follow
 * onnxruntime_c_api.h of ONNX Runtime 1.24 (ORT_API_VERSION 24); the table is
 * requested at version 17, the first with SessionOptionsAppendExecutionProvider_OpenVINO_V2.
 */
#include <stdint.h>
#include "probe_common.h"
#ifndef _WIN32
#include <dlfcn.h>
#endif

typedef struct OrtStatus OrtStatus;
typedef void (*logging_fn)(void *param, int severity, const char *category, const char *logid,
                           const char *code_location, const char *message);
typedef OrtStatus *(*create_env_with_logger_fn)(logging_fn log, void *param, int level, const char *logid,
                                                void **out);
typedef OrtStatus *(*create_session_options_fn)(void **out);
typedef OrtStatus *(*add_config_entry_fn)(void *options, const char *key, const char *value);
typedef OrtStatus *(*append_openvino_v2_fn)(void *options, const char *const *keys, const char *const *values,
                                            size_t n);
typedef OrtStatus *(*create_session_from_array_fn)(const void *env, const void *data, size_t len,
                                                   const void *options, void **out);
typedef OrtStatus *(*create_cpu_memory_info_fn)(int allocator, int mem_type, void **out);
typedef OrtStatus *(*create_tensor_fn)(const void *info, void *data, size_t len, const int64_t *shape,
                                       size_t shape_len, int type, void **out);
typedef OrtStatus *(*run_fn)(void *session, const void *run_options, const char *const *input_names,
                             const void *const *inputs, size_t n_in, const char *const *output_names,
                             size_t n_out, void **outputs);
typedef OrtStatus *(*get_tensor_data_fn)(void *value, void **out);
typedef const char *(*error_message_fn)(const OrtStatus *status);
typedef void (*release_fn)(void *object);
typedef struct {
    const void *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;
typedef const OrtApiBase *(*get_api_base_fn)(void);

/* Positions in struct OrtApi (ONNX Runtime 1.24 onnxruntime_c_api.h). */
enum {
    API_GetErrorMessage = 2, API_CreateEnvWithCustomLogger = 4, API_CreateSessionFromArray = 8, API_Run = 9,
    API_CreateSessionOptions = 10, API_CreateTensorWithDataAsOrtValue = 49, API_GetTensorMutableData = 51,
    API_CreateCpuMemoryInfo = 69, API_ReleaseEnv = 92, API_ReleaseStatus = 93, API_ReleaseMemoryInfo = 94,
    API_ReleaseSession = 95, API_ReleaseValue = 96, API_ReleaseSessionOptions = 100, API_AddSessionConfigEntry = 130,
    API_SessionOptionsAppendExecutionProvider_OpenVINO_V2 = 275,
};
#define REQUESTED_API_VERSION 17
#define ORT_LOGGING_LEVEL_VERBOSE 0
#define ORT_LOGGING_LEVEL_WARNING 2
#define ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT 1
/* onnxruntime_session_options_config_keys.h: kOrtSessionOptionsDisableCPUEPFallback */
#define DISABLE_CPU_EP_FALLBACK "session.disable_cpu_ep_fallback"

/* A Relu over a float[1,4] input named "input", output "output" (ONNX IR 8, opset 13),
   as written by onnx.helper; tests/test_ort_wine.py checks it with the onnx package. */
static const unsigned char MODEL[] = {
    8,8,18,7,110,112,117,115,108,105,109,58,95,10,27,10,5,105,110,112,117,116,18,6,111,117,116,112,117,116,26,
    4,114,101,108,117,34,4,82,101,108,117,18,13,110,112,117,115,108,105,109,95,112,114,111,98,101,90,23,10,5,
    105,110,112,117,116,18,14,10,12,8,1,18,8,10,2,8,1,10,2,8,4,98,24,10,6,111,117,116,112,117,116,18,14,10,12,
    8,1,18,8,10,2,8,1,10,2,8,4,66,4,10,0,16,13};

static void *const *api;
static char placement[1024];   /* ONNX Runtime's "... placed on [EP]. Number of nodes: N" lines, joined */

/* ONNX Runtime's logger: the node placement lines are kept for the placement step (they
   are logged at VERBOSE, which is why the env logs everything); warnings and errors are
   printed as one LOG line each, as ONNX Runtime's own console logger would show them. */
static void on_log(void *param, int severity, const char *category, const char *logid, const char *where,
                   const char *message) {
    char line[2048];
    size_t used = strlen(placement);
    (void)param, (void)category, (void)logid, (void)where;
    if (!message) return;
    if (strstr(message, "placed on [") && used + strlen(message) + 3 < sizeof placement)
        snprintf(placement + used, sizeof placement - used, "%s%s", used ? "; " : "",
                 message + strspn(message, " "));
    if (severity < ORT_LOGGING_LEVEL_WARNING) return;
    snprintf(line, sizeof line, "LOG %s %s", severity == ORT_LOGGING_LEVEL_WARNING ? "W" : "E", message);
    for (used = 0; line[used]; used++)
        if (line[used] == '\n' || line[used] == '\r') line[used] = ' ';
    printf("%s\n", line);
    fflush(stdout);
}

/* Reports a failed call as a step and releases its status; returns 1 when it failed. */
static int failed(const char *name, OrtStatus *status) {
    if (!status) return 0;
    step(name, 0, ((error_message_fn)api[API_GetErrorMessage])(status));
    ((release_fn)api[API_ReleaseStatus])(status);
    return 1;
}

/* The placement step: every node on the OpenVINO execution provider, none anywhere else. */
static void placement_step(void) {
    char detail[1200];
    const char *ours = "placed on [OpenVINOExecutionProvider]";
    int only_ours = strstr(placement, ours) && !strstr(strstr(placement, ours) + strlen(ours), "placed on [") &&
                    strstr(placement, "placed on [") == strstr(placement, ours);
    snprintf(detail, sizeof detail, "%s", *placement ? placement : "ONNX Runtime logged no node placement");
    step("placement", only_ours, detail);
}

#ifdef _WIN32
static void *open_library(const char *path) { return (void *)load_path(path); }
static void *library_symbol(void *lib, const char *name) { return (void *)GetProcAddress((HMODULE)lib, name); }
static void library_error(char *out, size_t n) { snprintf(out, n, "LoadLibrary failed with error %lu", GetLastError()); }
#else
static void *open_library(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static void *library_symbol(void *lib, const char *name) { return dlsym(lib, name); }
static void library_error(char *out, size_t n) { snprintf(out, n, "%s", dlerror()); }
#endif

/* Session options that run every node on the OpenVINO provider for DEVICE, or stop at the failing step. */
static void *provider_options(const char *device) {
    char detail[256];
    void *options = NULL;
    const char *keys[] = {"device_type"};
    const char *values[] = {device};
    if (failed("session_options", ((create_session_options_fn)api[API_CreateSessionOptions])(&options))) return NULL;
    step("session_options", 1, "OrtSessionOptions created");
    if (failed("fallback", ((add_config_entry_fn)api[API_AddSessionConfigEntry])(options, DISABLE_CPU_EP_FALLBACK,
                                                                               "1"))) {
        ((release_fn)api[API_ReleaseSessionOptions])(options);
        return NULL;
    }
    step("fallback", 1, "CPU fallback disabled (" DISABLE_CPU_EP_FALLBACK "=1)");
    if (failed("provider", ((append_openvino_v2_fn)api[API_SessionOptionsAppendExecutionProvider_OpenVINO_V2])(
                               options, keys, values, 1))) {
        ((release_fn)api[API_ReleaseSessionOptions])(options);
        return NULL;
    }
    snprintf(detail, sizeof detail, "OpenVINO execution provider appended (device_type=%s)", device);
    step("provider", 1, detail);
    return options;
}

/* One inference of the relu model through ``session``; reports the run step. */
static void run_once(void *session) {
    char detail[256];
    void *info = NULL, *input = NULL, *output = NULL;
    float in[4] = {-1.5f, 2.0f, -3.0f, 4.25f}, *out = NULL;
    int64_t shape[2] = {1, 4};
    const char *in_names[] = {"input"}, *out_names[] = {"output"};
    if (!failed("input", ((create_cpu_memory_info_fn)api[API_CreateCpuMemoryInfo])(0, 0, &info)) &&
        !failed("input", ((create_tensor_fn)api[API_CreateTensorWithDataAsOrtValue])(
                             info, in, sizeof in, shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &input)) &&
        !failed("run", ((run_fn)api[API_Run])(session, NULL, in_names, (const void *const *)&input, 1, out_names, 1,
                                             &output)) &&
        !failed("run", ((get_tensor_data_fn)api[API_GetTensorMutableData])(output, (void **)&out))) {
        snprintf(detail, sizeof detail, "relu([-1.5, 2, -3, 4.25]) = [%g, %g, %g, %g]", out[0], out[1], out[2],
                 out[3]);
        step("run", out[0] == 0.0f && out[1] == 2.0f && out[2] == 0.0f && out[3] == 4.25f, detail);
    }
    if (output) ((release_fn)api[API_ReleaseValue])(output);
    if (input) ((release_fn)api[API_ReleaseValue])(input);
    if (info) ((release_fn)api[API_ReleaseMemoryInfo])(info);
}

int main(int argc, char **argv) {
    char detail[1024];
    void *env = NULL, *options = NULL, *session = NULL;
    int rc = 1;

#ifdef _WIN32
    argv = utf8_argv(&argc);
    if (!argv) {
        fprintf(stderr, "cannot read the command line\n");
        return 2;
    }
#endif
    if (argc < 2) {
        fprintf(stderr, "usage: ort_probe PATH/onnxruntime.dll|libonnxruntime.so.1 [DEVICE]\n");
        return 2;
    }
    const char *device = argc > 2 ? argv[2] : "NPU";
    void *lib = open_library(argv[1]);
    if (!lib) {
        library_error(detail, sizeof detail);
        step("load_ort", 0, detail);
        return 1;
    }
    step("load_ort", 1, argv[1]);

    get_api_base_fn get_base = (get_api_base_fn)library_symbol(lib, "OrtGetApiBase");
    const OrtApiBase *base = get_base ? get_base() : NULL;
    api = base ? (void *const *)base->GetApi(REQUESTED_API_VERSION) : NULL;
    if (!api) {
        step("api", 0, get_base ? "OrtGetApiBase()->GetApi(17) returned NULL (ONNX Runtime older than 1.17?)"
                                : "ONNX Runtime does not export OrtGetApiBase");
        return 1;
    }
    snprintf(detail, sizeof detail, "ONNX Runtime %s", base->GetVersionString());
    step("api", 1, detail);

    if (failed("env", ((create_env_with_logger_fn)api[API_CreateEnvWithCustomLogger])(
                          on_log, NULL, ORT_LOGGING_LEVEL_VERBOSE, "npuslim", &env)))
        goto done;
    step("env", 1, "OrtEnv created (verbose logging, to see the node placement)");
    options = provider_options(device);
    if (!options) goto done;
    if (failed("session", ((create_session_from_array_fn)api[API_CreateSessionFromArray])(
                              env, MODEL, sizeof MODEL, options, &session)))
        goto done;
    step("session", 1, "ONNX model compiled into a session");
    placement_step();
    run_once(session);
    rc = 0;

done:
    if (session) ((release_fn)api[API_ReleaseSession])(session);
    if (options) ((release_fn)api[API_ReleaseSessionOptions])(options);
    if (env) ((release_fn)api[API_ReleaseEnv])(env);
    return rc;
}
