/*
 * npu_standalone: the implementation, in C over OpenVINO's C API.
 *
 * Portable: Windows (MSVC or mingw-w64, over openvino_c.dll) and Linux (gcc,
 * over libopenvino_c.so); the few platform bits are in npu_sync.h.
 *
 * C, not C++: OpenVINO's official Windows DLLs are built with MSVC, and the
 * C++ ABI of openvino.dll (mangled names, std:: types across the boundary)
 * cannot be linked from a MinGW-built library. Its C API (openvino_c.dll) can
 * be linked from either compiler.
 */
#define NPU_STANDALONE_BUILD
#include "npu_standalone.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openvino/c/openvino.h>
/* After openvino.h: the mutex, reference count and thread-local storage of this
 * platform (SRWLOCK and Interlocked on Windows, pthread and C11 atomics elsewhere). */
#include "npu_sync.h"

struct npu_plugin {
    ov_core_t *core;
    npu_refcount_t refs; /* the caller's handle + one per live model */
    npu_mutex_t compile_lock;
    char device[64];
    char version[160];
    char device_name[256];
};

struct npu_model {
    npu_plugin_t *plugin;
    ov_compiled_model_t *compiled;
    ov_infer_request_t *request;
    size_t n_in, n_out;
    npu_tensor_info_t *in_info, *out_info;
    npu_mutex_t lock;
};

static NPU_THREAD_LOCAL char last_error[2048];

static void set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

static npu_status_t fail(npu_status_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

/* OpenVINO's message for the last failed C API call, newlines folded. */
static const char *ov_message(ov_status_e status) {
    static NPU_THREAD_LOCAL char buf[1536];
    const char *msg = ov_get_last_err_msg();
    size_t i;
    snprintf(buf, sizeof buf, "%s", msg && *msg ? msg : ov_get_error_info(status));
    for (i = 0; buf[i]; i++)
        if (buf[i] == '\r' || buf[i] == '\n') buf[i] = ' ';
    while (i > 0 && buf[i - 1] == ' ') buf[--i] = '\0';
    return buf;
}

/* The innermost "Exception from FILE:LINE: text" of an OpenVINO message: the
 * place that raised it, usually inside the plugin. */
static const char *innermost(const char *msg) {
    const char *last = msg, *p = msg;
    while ((p = strstr(p, "Exception from ")) != NULL) {
        last = p + strlen("Exception from ");
        p = last;
    }
    return last;
}

static void copy_string(char *dst, size_t len, const char *src) {
    snprintf(dst, len, "%s", src ? src : "");
}

static npu_element_type_t from_ov(ov_element_type_e t) {
    switch (t) {
    case F32: return NPU_TYPE_F32;
    case F16: return NPU_TYPE_F16;
    case BF16: return NPU_TYPE_BF16;
    case F64: return NPU_TYPE_F64;
    case I8: return NPU_TYPE_I8;
    case I16: return NPU_TYPE_I16;
    case I32: return NPU_TYPE_I32;
    case I64: return NPU_TYPE_I64;
    case U8: return NPU_TYPE_U8;
    case U16: return NPU_TYPE_U16;
    case U32: return NPU_TYPE_U32;
    case U64: return NPU_TYPE_U64;
    case OV_BOOLEAN: return NPU_TYPE_BOOL;
    default: return NPU_TYPE_UNSUPPORTED;
    }
}

size_t npu_element_size(npu_element_type_t type) {
    switch (type) {
    case NPU_TYPE_I8: case NPU_TYPE_U8: case NPU_TYPE_BOOL: return 1;
    case NPU_TYPE_F16: case NPU_TYPE_BF16: case NPU_TYPE_I16: case NPU_TYPE_U16: return 2;
    case NPU_TYPE_F32: case NPU_TYPE_I32: case NPU_TYPE_U32: return 4;
    case NPU_TYPE_F64: case NPU_TYPE_I64: case NPU_TYPE_U64: return 8;
    default: return 0;
    }
}

static const char *type_name(npu_element_type_t type) {
    static const char *names[] = {"unsupported", "f32", "f16", "bf16", "f64", "i8", "i16",
                                  "i32", "i64", "u8", "u16", "u32", "u64", "bool"};
    return (unsigned)type < sizeof names / sizeof names[0] ? names[type] : "unsupported";
}

const char *npu_status_name(npu_status_t status) {
    switch (status) {
    case NPU_OK: return "NPU_OK";
    case NPU_ERR_INVALID_ARGUMENT: return "NPU_ERR_INVALID_ARGUMENT";
    case NPU_ERR_OUT_OF_MEMORY: return "NPU_ERR_OUT_OF_MEMORY";
    case NPU_ERR_RUNTIME: return "NPU_ERR_RUNTIME";
    case NPU_ERR_PLUGIN: return "NPU_ERR_PLUGIN";
    case NPU_ERR_NO_DEVICE: return "NPU_ERR_NO_DEVICE";
    case NPU_ERR_READ_MODEL: return "NPU_ERR_READ_MODEL";
    case NPU_ERR_COMPILE: return "NPU_ERR_COMPILE";
    case NPU_ERR_INFER: return "NPU_ERR_INFER";
    case NPU_ERR_SHAPE: return "NPU_ERR_SHAPE";
    case NPU_ERR_TYPE: return "NPU_ERR_TYPE";
    case NPU_ERR_BUFFER_TOO_SMALL: return "NPU_ERR_BUFFER_TOO_SMALL";
    case NPU_ERR_UNSUPPORTED: return "NPU_ERR_UNSUPPORTED";
    }
    return "unknown status";
}

const char *npu_last_error(void) { return last_error; }

/* Whether the core lists `device` (or one of its numbered instances, "NPU.0"). */
static int device_available(ov_core_t *core, const char *device) {
    ov_available_devices_t devices = {0};
    size_t len = strlen(device), i;
    int found = 0;
    if (ov_core_get_available_devices(core, &devices) != OK) return 0;
    for (i = 0; i < devices.size && !found; i++) {
        const char *name = devices.devices[i];
        found = strcmp(name, device) == 0 || (strncmp(name, device, len) == 0 && name[len] == '.');
    }
    ov_available_devices_free(&devices);
    return found;
}

/* Virtual devices (AUTO, HETERO:..., MULTI:..., BATCH:...) are not listed as available. */
static int is_virtual(const char *device) {
    return strchr(device, ':') != NULL || strcmp(device, "AUTO") == 0 || strcmp(device, "MULTI") == 0 ||
           strcmp(device, "HETERO") == 0 || strcmp(device, "BATCH") == 0;
}

static void plugin_release(npu_plugin_t *plugin) {
    if (npu_ref_dec(&plugin->refs)) {
        ov_core_free(plugin->core);
        npu_mutex_destroy(&plugin->compile_lock);
        free(plugin);
    }
}

npu_plugin_t *npu_plugin_create(const char *device, char *err, size_t errlen) {
    npu_plugin_t *plugin = NULL;
    ov_core_version_list_t versions = {0};
    ov_status_e st;
    char *value = NULL;

    if (!device || !*device) device = "NPU";
    if (strlen(device) >= sizeof plugin->device) {
        set_error("device name too long: %.64s...", device);
        goto failed;
    }
    plugin = (npu_plugin_t *)calloc(1, sizeof *plugin);
    if (!plugin) {
        set_error("out of memory");
        goto failed;
    }
    npu_ref_init(&plugin->refs, 1);
    npu_mutex_init(&plugin->compile_lock);
    copy_string(plugin->device, sizeof plugin->device, device);
    if ((st = ov_core_create(&plugin->core)) != OK) {
        set_error("cannot create OpenVINO's core: %s", ov_message(st));
        goto failed;
    }
    if ((st = ov_core_get_versions_by_device_name(plugin->core, device, &versions)) != OK) {
        set_error("cannot load the %s plugin: %s", device, ov_message(st));
        goto failed;
    }
    if (versions.size) {
        copy_string(plugin->version, sizeof plugin->version, versions.versions[0].version.buildNumber);
        snprintf(plugin->device_name, sizeof plugin->device_name, "%s",
                 versions.versions[0].version.description);
    }
    ov_core_versions_free(&versions);
    if (!is_virtual(device) && !device_available(plugin->core, device)) {
        /* Ask the plugin about its device, for its own words on why there is none. */
        const char *why = "";
        if ((st = ov_core_get_property(plugin->core, device, "DEVICE_UUID", &value)) != OK)
            why = innermost(ov_message(st));
        else
            ov_free(value);
        set_error("the %s plugin (%s %s) loaded but found no %s device%s%s", device, plugin->device_name,
                  plugin->version, device, *why ? "; the plugin says: " : "", why);
        goto failed;
    }
    if (ov_core_get_property(plugin->core, device, "FULL_DEVICE_NAME", &value) == OK) {
        copy_string(plugin->device_name, sizeof plugin->device_name, value);
        ov_free(value);
    }
    return plugin;

failed:
    if (err && errlen) copy_string(err, errlen, last_error);
    if (plugin) {
        if (plugin->core) ov_core_free(plugin->core);
        npu_mutex_destroy(&plugin->compile_lock);
        free(plugin);
    }
    return NULL;
}

const char *npu_plugin_device(const npu_plugin_t *plugin) { return plugin ? plugin->device : ""; }
const char *npu_plugin_version(const npu_plugin_t *plugin) { return plugin ? plugin->version : ""; }
const char *npu_plugin_device_name(const npu_plugin_t *plugin) { return plugin ? plugin->device_name : ""; }

void npu_plugin_destroy(npu_plugin_t *plugin) {
    if (plugin) plugin_release(plugin);
}

static npu_status_t port_info(const ov_output_const_port_t *port, const char *what, size_t index,
                              npu_tensor_info_t *info) {
    ov_element_type_e type;
    ov_partial_shape_t shape = {0};
    char *name = NULL;
    ov_status_e st;
    int64_t i;

    memset(info, 0, sizeof *info);
    if ((st = ov_port_get_element_type(port, &type)) != OK)
        return fail(NPU_ERR_COMPILE, "%s %zu: cannot read its element type: %s", what, index, ov_message(st));
    info->type = from_ov(type);
    if (info->type == NPU_TYPE_UNSUPPORTED)
        return fail(NPU_ERR_UNSUPPORTED, "%s %zu: element type %d is not one this API describes", what, index,
                    (int)type);
    if ((st = ov_port_get_partial_shape(port, &shape)) != OK)
        return fail(NPU_ERR_COMPILE, "%s %zu: cannot read its shape: %s", what, index, ov_message(st));
    if (ov_rank_is_dynamic(shape.rank) || shape.rank.max > NPU_MAX_RANK) {
        ov_partial_shape_free(&shape);
        return fail(NPU_ERR_UNSUPPORTED, "%s %zu: a dynamic rank or a rank above %d is not supported", what,
                    index, NPU_MAX_RANK);
    }
    info->rank = (size_t)shape.rank.max;
    for (i = 0; i < shape.rank.max; i++)
        info->dims[i] = ov_dimension_is_dynamic(shape.dims[i]) ? -1 : shape.dims[i].max;
    ov_partial_shape_free(&shape);
    if (ov_port_get_any_name(port, &name) == OK) {
        copy_string(info->name, sizeof info->name, name);
        ov_free(name);
    }
    return NPU_OK;
}

static npu_status_t read_ports(npu_model_t *m) {
    size_t i;
    npu_status_t rc;
    ov_status_e st;
    if ((st = ov_compiled_model_inputs_size(m->compiled, &m->n_in)) != OK ||
        (st = ov_compiled_model_outputs_size(m->compiled, &m->n_out)) != OK)
        return fail(NPU_ERR_COMPILE, "cannot count the compiled model's inputs and outputs: %s", ov_message(st));
    m->in_info = (npu_tensor_info_t *)calloc(m->n_in ? m->n_in : 1, sizeof *m->in_info);
    m->out_info = (npu_tensor_info_t *)calloc(m->n_out ? m->n_out : 1, sizeof *m->out_info);
    if (!m->in_info || !m->out_info) return fail(NPU_ERR_OUT_OF_MEMORY, "out of memory");
    for (i = 0; i < m->n_in + m->n_out; i++) {
        ov_output_const_port_t *port = NULL;
        int input = i < m->n_in;
        size_t index = input ? i : i - m->n_in;
        st = input ? ov_compiled_model_input_by_index(m->compiled, index, &port)
                   : ov_compiled_model_output_by_index(m->compiled, index, &port);
        if (st != OK) return fail(NPU_ERR_COMPILE, "cannot get port %zu: %s", i, ov_message(st));
        rc = port_info(port, input ? "input" : "output", index, input ? &m->in_info[index] : &m->out_info[index]);
        ov_output_const_port_free(port);
        if (rc != NPU_OK) return rc;
    }
    return NPU_OK;
}

npu_status_t npu_compile(npu_plugin_t *plugin, const char *model_path, npu_model_t **out) {
    ov_model_t *read = NULL;
    npu_model_t *m = NULL;
    ov_status_e st;
    npu_status_t rc;

    if (out) *out = NULL;
    if (!plugin || !model_path || !out) return fail(NPU_ERR_INVALID_ARGUMENT, "npu_compile: NULL argument");
    m = (npu_model_t *)calloc(1, sizeof *m);
    if (!m) return fail(NPU_ERR_OUT_OF_MEMORY, "out of memory");
    npu_mutex_init(&m->lock);
    /* OpenVINO does not document its core as thread-safe: one compile at a time per plugin. */
    npu_mutex_lock(&plugin->compile_lock);
    st = ov_core_read_model(plugin->core, model_path, NULL, &read);
    if (st != OK) {
        npu_mutex_unlock(&plugin->compile_lock);
        npu_mutex_destroy(&m->lock);
        free(m);
        return fail(NPU_ERR_READ_MODEL, "cannot read %s: %s", model_path, ov_message(st));
    }
    st = ov_core_compile_model(plugin->core, read, plugin->device, 0, &m->compiled);
    npu_mutex_unlock(&plugin->compile_lock);
    ov_model_free(read);
    if (st != OK) {
        rc = fail(NPU_ERR_COMPILE, "cannot compile %s for %s: %s", model_path, plugin->device, ov_message(st));
        goto failed;
    }
    if ((rc = read_ports(m)) != NPU_OK) goto failed;
    if ((st = ov_compiled_model_create_infer_request(m->compiled, &m->request)) != OK) {
        rc = fail(NPU_ERR_COMPILE, "cannot create an infer request: %s", ov_message(st));
        goto failed;
    }
    npu_ref_inc(&plugin->refs);
    m->plugin = plugin;
    *out = m;
    return NPU_OK;

failed:
    if (m->compiled) ov_compiled_model_free(m->compiled);
    npu_mutex_destroy(&m->lock);
    free(m->in_info);
    free(m->out_info);
    free(m);
    return rc;
}

npu_status_t npu_model_input_count(const npu_model_t *model, size_t *count) {
    if (!model || !count) return fail(NPU_ERR_INVALID_ARGUMENT, "npu_model_input_count: NULL argument");
    *count = model->n_in;
    return NPU_OK;
}

npu_status_t npu_model_output_count(const npu_model_t *model, size_t *count) {
    if (!model || !count) return fail(NPU_ERR_INVALID_ARGUMENT, "npu_model_output_count: NULL argument");
    *count = model->n_out;
    return NPU_OK;
}

npu_status_t npu_model_input_info(const npu_model_t *model, size_t index, npu_tensor_info_t *info) {
    if (!model || !info) return fail(NPU_ERR_INVALID_ARGUMENT, "npu_model_input_info: NULL argument");
    if (index >= model->n_in)
        return fail(NPU_ERR_INVALID_ARGUMENT, "input %zu: the model has %zu inputs", index, model->n_in);
    *info = model->in_info[index];
    return NPU_OK;
}

npu_status_t npu_model_output_info(const npu_model_t *model, size_t index, npu_tensor_info_t *info) {
    if (!model || !info) return fail(NPU_ERR_INVALID_ARGUMENT, "npu_model_output_info: NULL argument");
    if (index >= model->n_out)
        return fail(NPU_ERR_INVALID_ARGUMENT, "output %zu: the model has %zu outputs", index, model->n_out);
    *info = model->out_info[index];
    return NPU_OK;
}

/* Checks an input against the model's port; *bytes is its byte size. */
static npu_status_t check_input(const npu_tensor_info_t *want, const npu_tensor_t *in, size_t index,
                                size_t *bytes) {
    size_t count = 1, i, elem = npu_element_size(in->type);
    if (in->type != want->type)
        return fail(NPU_ERR_TYPE, "input %zu: %s given, the model takes %s", index, type_name(in->type),
                    type_name(want->type));
    if (in->rank != want->rank)
        return fail(NPU_ERR_SHAPE, "input %zu: rank %zu given, the model takes rank %zu", index, in->rank,
                    want->rank);
    for (i = 0; i < in->rank; i++) {
        if (in->dims[i] < 0 || (want->dims[i] >= 0 && in->dims[i] != want->dims[i]))
            return fail(NPU_ERR_SHAPE, "input %zu: dimension %zu is %lld, the model takes %lld", index, i,
                        (long long)in->dims[i], (long long)want->dims[i]);
        if (in->dims[i] && count > SIZE_MAX / (size_t)in->dims[i])
            return fail(NPU_ERR_SHAPE, "input %zu: too many elements", index);
        count *= (size_t)in->dims[i];
    }
    if (count > SIZE_MAX / elem) return fail(NPU_ERR_SHAPE, "input %zu: too many elements", index);
    *bytes = count * elem;
    if (in->size_bytes != *bytes)
        return fail(NPU_ERR_INVALID_ARGUMENT, "input %zu: size_bytes is %zu, its type and dims make %zu", index,
                    in->size_bytes, *bytes);
    if (!in->data && *bytes) return fail(NPU_ERR_INVALID_ARGUMENT, "input %zu: data is NULL", index);
    return NPU_OK;
}

static npu_status_t set_input(npu_model_t *m, const npu_tensor_t *in, size_t index, size_t bytes) {
    ov_tensor_t *tensor = NULL;
    ov_shape_t shape = {0};
    void *dst = NULL;
    size_t have = 0;
    ov_status_e st;
    npu_status_t rc = NPU_OK;

    if ((st = ov_infer_request_get_input_tensor_by_index(m->request, index, &tensor)) != OK)
        return fail(NPU_ERR_INFER, "input %zu: cannot get the request's tensor: %s", index, ov_message(st));
    if ((st = ov_shape_create((int64_t)in->rank, in->dims, &shape)) != OK ||
        (st = ov_tensor_set_shape(tensor, shape)) != OK || (st = ov_tensor_get_byte_size(tensor, &have)) != OK ||
        (st = ov_tensor_data(tensor, &dst)) != OK)
        rc = fail(NPU_ERR_INFER, "input %zu: cannot shape the request's tensor: %s", index, ov_message(st));
    else if (have != bytes)
        rc = fail(NPU_ERR_INFER, "input %zu: the request's tensor has %zu bytes, %zu expected", index, have, bytes);
    else if (bytes)
        memcpy(dst, in->data, bytes);
    if (shape.dims) ov_shape_free(&shape);
    ov_tensor_free(tensor);
    return rc;
}

static npu_status_t get_output(npu_model_t *m, npu_tensor_t *out, size_t index) {
    ov_tensor_t *tensor = NULL;
    ov_shape_t shape = {0};
    ov_element_type_e type;
    void *src = NULL;
    size_t bytes = 0;
    int64_t i;
    ov_status_e st;
    npu_status_t rc = NPU_OK;

    if ((st = ov_infer_request_get_output_tensor_by_index(m->request, index, &tensor)) != OK)
        return fail(NPU_ERR_INFER, "output %zu: cannot get it: %s", index, ov_message(st));
    if ((st = ov_tensor_get_shape(tensor, &shape)) != OK || (st = ov_tensor_get_element_type(tensor, &type)) != OK ||
        (st = ov_tensor_get_byte_size(tensor, &bytes)) != OK || (st = ov_tensor_data(tensor, &src)) != OK) {
        rc = fail(NPU_ERR_INFER, "output %zu: cannot read it: %s", index, ov_message(st));
    } else if (shape.rank > NPU_MAX_RANK || from_ov(type) == NPU_TYPE_UNSUPPORTED) {
        rc = fail(NPU_ERR_UNSUPPORTED, "output %zu: type %d, rank %lld not describable", index, (int)type,
                  (long long)shape.rank);
    } else {
        out->type = from_ov(type);
        out->rank = (size_t)shape.rank;
        for (i = 0; i < shape.rank; i++) out->dims[i] = shape.dims[i];
        if (bytes && (!out->data || out->size_bytes < bytes))
            rc = fail(NPU_ERR_BUFFER_TOO_SMALL, "output %zu: %zu bytes needed, the buffer has %zu", index, bytes,
                      out->data ? out->size_bytes : 0);
        else if (bytes)
            memcpy(out->data, src, bytes);
        out->size_bytes = bytes;
    }
    if (shape.dims) ov_shape_free(&shape);
    ov_tensor_free(tensor);
    return rc;
}

npu_status_t npu_execute(npu_model_t *model, const npu_tensor_t *inputs, size_t n_in, npu_tensor_t *outputs,
                         size_t n_out) {
    static NPU_THREAD_LOCAL char first_message[sizeof last_error];
    npu_status_t rc = NPU_OK, first = NPU_OK;
    size_t i, bytes = 0;
    ov_status_e st;

    if (!model || (n_in && !inputs) || (n_out && !outputs))
        return fail(NPU_ERR_INVALID_ARGUMENT, "npu_execute: NULL argument");
    if (n_in != model->n_in || n_out != model->n_out)
        return fail(NPU_ERR_INVALID_ARGUMENT,
                    "npu_execute: %zu inputs and %zu outputs given, the model has %zu and %zu", n_in, n_out,
                    model->n_in, model->n_out);
    for (i = 0; i < n_in; i++)
        if ((rc = check_input(&model->in_info[i], &inputs[i], i, &bytes)) != NPU_OK) return rc;
    npu_mutex_lock(&model->lock);
    for (i = 0; i < n_in && rc == NPU_OK; i++) rc = set_input(model, &inputs[i], i, inputs[i].size_bytes);
    if (rc == NPU_OK && (st = ov_infer_request_infer(model->request)) != OK)
        rc = fail(NPU_ERR_INFER, "inference failed: %s", ov_message(st));
    /* Every output that fits is filled; a too-small buffer does not stop the others. */
    for (i = 0; i < n_out && rc == NPU_OK; i++) {
        npu_status_t out_rc = get_output(model, &outputs[i], i);
        if (out_rc != NPU_OK && first == NPU_OK) {
            first = out_rc;
            memcpy(first_message, last_error, sizeof first_message);
        }
        if (out_rc != NPU_OK && out_rc != NPU_ERR_BUFFER_TOO_SMALL) rc = out_rc;
    }
    npu_mutex_unlock(&model->lock);
    if (first != NPU_OK) {
        memcpy(last_error, first_message, sizeof last_error);
        return first;
    }
    return rc;
}

void npu_model_destroy(npu_model_t *model) {
    if (!model) return;
    if (model->request) ov_infer_request_free(model->request);
    if (model->compiled) ov_compiled_model_free(model->compiled);
    free(model->in_info);
    free(model->out_info);
    npu_mutex_destroy(&model->lock);
    plugin_release(model->plugin);
    free(model);
}
