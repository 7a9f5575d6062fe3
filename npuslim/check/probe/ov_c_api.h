/*
 * The OpenVINO C API as the probes reach it: through sym() (GetProcAddress or
 * dlsym, defined by the probe before including this file), so no OpenVINO
 * header or import library is needed to build a probe, and a missing export is
 * a reported step. run_ov() is the whole check, the same on Windows and Linux:
 * version, core, an IR model read from memory, the device's plugin, its
 * devices, a compile, and (when asked) one inference.
 */
#ifndef NPUSLIM_OV_C_API_H
#define NPUSLIM_OV_C_API_H

#include <stdint.h>
#include "probe_common.h"

static void *sym(const char *name);

typedef int ov_status_e;
typedef struct { const char *buildNumber; const char *description; } ov_version_t;
typedef struct { const char *device_name; ov_version_t version; } ov_core_version_t;
typedef struct { ov_core_version_t *versions; size_t size; } ov_core_version_list_t;
typedef struct { int64_t rank; int64_t *dims; } ov_shape_t;

typedef ov_status_e (*get_version_fn)(ov_version_t *);
typedef void (*version_free_fn)(ov_version_t *);
typedef ov_status_e (*core_create_fn)(void **);
typedef void (*core_free_fn)(void *);
typedef ov_status_e (*read_model_fn)(const void *, const char *, size_t, const void *, void **);
typedef void (*model_free_fn)(void *);
typedef ov_status_e (*versions_by_device_fn)(const void *, const char *, ov_core_version_list_t *);
typedef void (*versions_free_fn)(ov_core_version_list_t *);
typedef ov_status_e (*compile_model_fn)(const void *, const void *, const char *, size_t, void **, ...);
typedef void (*compiled_model_free_fn)(void *);
typedef ov_status_e (*get_property_fn)(const void *, const char *, const char *, char **);
typedef ov_status_e (*compiled_get_property_fn)(const void *, const char *, char **);
typedef void (*free_fn)(char *);
typedef const char *(*last_err_fn)(void);
typedef const char *(*error_info_fn)(ov_status_e);
typedef ov_status_e (*model_input_fn)(const void *, void **);
typedef ov_status_e (*port_type_fn)(const void *, int *);
typedef void (*port_free_fn)(void *);
typedef ov_status_e (*shape_create_fn)(int64_t, const int64_t *, ov_shape_t *);
typedef ov_status_e (*shape_free_fn)(ov_shape_t *);
typedef ov_status_e (*tensor_from_ptr_fn)(int, ov_shape_t, void *, void **);
typedef ov_status_e (*tensor_data_fn)(const void *, void **);
typedef void (*tensor_free_fn)(void *);
typedef ov_status_e (*create_request_fn)(const void *, void **);
typedef ov_status_e (*set_input_fn)(void *, const void *);
typedef ov_status_e (*infer_fn)(void *);
typedef ov_status_e (*get_output_fn)(const void *, void **);
typedef void (*request_free_fn)(void *);

/* relu over f32[1,4], as OpenVINO IR v11 */
static const char MODEL[] =
    "<?xml version=\"1.0\"?>\n"
    "<net name=\"npuslim_probe\" version=\"11\"><layers>"
    "<layer id=\"0\" name=\"input\" type=\"Parameter\" version=\"opset1\">"
    "<data shape=\"1,4\" element_type=\"f32\"/>"
    "<output><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></output></layer>"
    "<layer id=\"1\" name=\"relu\" type=\"Relu\" version=\"opset1\">"
    "<input><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></input>"
    "<output><port id=\"1\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></output></layer>"
    "<layer id=\"2\" name=\"output\" type=\"Result\" version=\"opset1\">"
    "<input><port id=\"0\" precision=\"FP32\"><dim>1</dim><dim>4</dim></port></input></layer>"
    "</layers><edges>"
    "<edge from-layer=\"0\" from-port=\"0\" to-layer=\"1\" to-port=\"0\"/>"
    "<edge from-layer=\"1\" from-port=\"1\" to-layer=\"2\" to-port=\"0\"/>"
    "</edges></net>\n";

static const char *why(ov_status_e status) {
    static char buf[1800];
    last_err_fn last = (last_err_fn)sym("ov_get_last_err_msg");
    error_info_fn info = (error_info_fn)sym("ov_get_error_info");
    const char *msg = last ? last() : NULL;
    snprintf(buf, sizeof buf, "status %d: %s", status,
             msg && *msg ? msg : (info ? info(status) : "no message"));
    return buf;
}

/* Run the relu model once on the compiled model: [-1, 2, -3, 4] -> [0, 2, 0, 4].
   Element types are read from the model, never from an enum whose values change between releases. */
static void infer_once(const void *model, void *compiled) {
    model_input_fn model_input = (model_input_fn)sym("ov_model_const_input");
    port_type_fn port_type = (port_type_fn)sym("ov_port_get_element_type");
    port_free_fn port_free = (port_free_fn)sym("ov_output_const_port_free");
    shape_create_fn shape_create = (shape_create_fn)sym("ov_shape_create");
    shape_free_fn shape_free = (shape_free_fn)sym("ov_shape_free");
    tensor_from_ptr_fn tensor_from_ptr = (tensor_from_ptr_fn)sym("ov_tensor_create_from_host_ptr");
    tensor_data_fn tensor_data = (tensor_data_fn)sym("ov_tensor_data");
    tensor_free_fn tensor_free = (tensor_free_fn)sym("ov_tensor_free");
    create_request_fn create_request = (create_request_fn)sym("ov_compiled_model_create_infer_request");
    set_input_fn set_input = (set_input_fn)sym("ov_infer_request_set_input_tensor");
    infer_fn infer = (infer_fn)sym("ov_infer_request_infer");
    get_output_fn get_output = (get_output_fn)sym("ov_infer_request_get_output_tensor");
    request_free_fn request_free = (request_free_fn)sym("ov_infer_request_free");
    void *port = NULL, *input = NULL, *output = NULL, *request = NULL, *data = NULL;
    float values[4] = {-1.0f, 2.0f, -3.0f, 4.0f};
    int64_t dims[2] = {1, 4};
    ov_shape_t shape = {0, NULL};
    int type = 0;
    char detail[256];
    ov_status_e st;

    if (!model_input || !port_type || !shape_create || !tensor_from_ptr || !tensor_data || !create_request ||
        !set_input || !infer || !get_output) {
        step("infer", 0, "the C API lacks an inference export");
        return;
    }
    if ((st = model_input(model, &port)) || (st = port_type(port, &type)) || (st = shape_create(2, dims, &shape)) ||
        (st = tensor_from_ptr(type, shape, values, &input)) || (st = create_request(compiled, &request)) ||
        (st = set_input(request, input)) || (st = infer(request)) || (st = get_output(request, &output)) ||
        (st = tensor_data(output, &data))) {
        step("infer", 0, why(st));
    } else {
        const float *out = (const float *)data;
        int right = out[0] == 0.0f && out[1] == 2.0f && out[2] == 0.0f && out[3] == 4.0f;
        snprintf(detail, sizeof detail, "relu([-1, 2, -3, 4]) = [%g, %g, %g, %g]%s", out[0], out[1], out[2],
                 out[3], right ? "" : " (wrong result)");
        step("infer", right, detail);
    }
    if (output && tensor_free) tensor_free(output);
    if (request && request_free) request_free(request);
    if (input && tensor_free) tensor_free(input);
    if (shape.dims && shape_free) shape_free(&shape);
    if (port && port_free) port_free(port);
}

/* The devices the plugin reports. For a device list (AUTO:NPU,CPU), each listed device is asked,
   since AUTO itself has no devices of its own; the step passes when any of them has one. */
static void available_devices(void *core, const char *device, get_property_fn get_property, free_fn str_free) {
    char detail[1024] = "", names[256], *name, *rest;
    const char *list = strchr(device, ':');
    int any = 0;
    ov_status_e st;

    snprintf(names, sizeof names, "%s", list ? list + 1 : device);
    for (name = strtok_r(names, ",", &rest); name; name = strtok_r(NULL, ",", &rest)) {
        char *devices = NULL;
        size_t used = strlen(detail);
        st = get_property(core, name, "AVAILABLE_DEVICES", &devices);
        if (st) {
            step("devices", 0, why(st));
            return;
        }
        snprintf(detail + used, sizeof detail - used, "%s%s devices: [%s]", used ? "; " : "", name,
                 devices ? devices : "");
        any |= devices && *devices;
        if (str_free && devices) str_free(devices);
    }
    step("devices", any, detail);
}

/* Which device(s) the compiled model runs on: for AUTO:NPU,CPU the one AUTO picked. */
static void executed_by(const void *compiled) {
    compiled_get_property_fn get_property = (compiled_get_property_fn)sym("ov_compiled_model_get_property");
    free_fn str_free = (free_fn)sym("ov_free");
    char *devices = NULL;
    ov_status_e st;

    if (!get_property) return;
    st = get_property(compiled, "EXECUTION_DEVICES", &devices);
    if (st) step("executed_by", 0, why(st));
    else step("executed_by", devices && *devices, devices ? devices : "");
    if (str_free && devices) str_free(devices);
}

/* The device steps after a model was read: plugin, devices, device (compile), infer. */
static void device_steps(void *core, const void *model, const char *device, int infer) {
    char detail[1024];
    void *compiled = NULL;
    ov_core_version_list_t versions = {0};
    versions_by_device_fn versions_by_device = (versions_by_device_fn)sym("ov_core_get_versions_by_device_name");
    versions_free_fn versions_free = (versions_free_fn)sym("ov_core_versions_free");
    compile_model_fn compile_model = (compile_model_fn)sym("ov_core_compile_model");
    compiled_model_free_fn compiled_free = (compiled_model_free_fn)sym("ov_compiled_model_free");
    get_property_fn get_property = (get_property_fn)sym("ov_core_get_property");
    free_fn str_free = (free_fn)sym("ov_free");
    ov_status_e st = versions_by_device(core, device, &versions);

    if (st) {
        step("plugin", 0, why(st));
        return;
    }
    snprintf(detail, sizeof detail, "%s plugin %s (%s)", device,
             versions.size ? versions.versions[0].version.buildNumber : "?",
             versions.size ? versions.versions[0].version.description : "?");
    step("plugin", 1, detail);
    if (versions_free) versions_free(&versions);
    if (get_property) available_devices(core, device, get_property, str_free);
    if (!model) return;
    st = compile_model(core, model, device, 0, &compiled);
    if (st) {
        step("device", 0, why(st));
        return;
    }
    step("device", 1, "model compiled on the device");
    executed_by(compiled);
    if (infer) infer_once(model, compiled);
    if (compiled_free) compiled_free(compiled);
}

/* Every step after the C API library loaded; returns the probe's exit code (1: a step that ends the run failed). */
static int run_ov(const char *library, const char *device, int infer) {
    get_version_fn get_version = (get_version_fn)sym("ov_get_openvino_version");
    version_free_fn version_free = (version_free_fn)sym("ov_version_free");
    core_create_fn core_create = (core_create_fn)sym("ov_core_create");
    core_free_fn core_free = (core_free_fn)sym("ov_core_free");
    read_model_fn read_model = (read_model_fn)sym("ov_core_read_model_from_memory_buffer");
    model_free_fn model_free = (model_free_fn)sym("ov_model_free");
    void *core = NULL, *model = NULL;
    ov_version_t version = {0};
    ov_status_e st;
    char detail[256];

    if (!get_version || !core_create || !read_model || !sym("ov_core_get_versions_by_device_name") ||
        !sym("ov_core_compile_model")) {
        snprintf(detail, sizeof detail, "%s lacks an expected export", library);
        step("resolve_api", 0, detail);
        return 1;
    }
    st = get_version(&version);
    if (st) { step("version", 0, why(st)); return 1; }
    step("version", 1, version.buildNumber);
    if (version_free) version_free(&version);

    st = core_create(&core);
    if (st) { step("core_create", 0, why(st)); return 1; }
    step("core_create", 1, "ov_core_create succeeded");

    st = read_model(core, MODEL, strlen(MODEL), NULL, &model);
    if (st) step("read_model", 0, why(st));
    else step("read_model", 1, "IR model read from memory by the IR frontend");

    device_steps(core, model, device, infer);
    if (model && model_free) model_free(model);
    if (core_free) core_free(core);
    return 0;
}

#endif
