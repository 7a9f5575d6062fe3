/*
 * npu_standalone: a small C API for running a model on one OpenVINO device
 * (the Intel NPU by default), built against an npuslim bundle.
 *
 * Implemented in C over OpenVINO's C API (openvino_c.dll, libopenvino_c.so). Every function
 * returns a status code (or NULL) and never lets an exception or a longjmp
 * cross this interface.
 *
 * Lifecycle:
 *     npu_plugin_t *p = npu_plugin_create("NPU", err, sizeof err);
 *     npu_model_t  *m = NULL;
 *     npu_compile(p, "model.xml", &m);        (IR .xml beside its .bin, or .onnx)
 *     npu_execute(m, inputs, n_in, outputs, n_out);
 *     npu_model_destroy(m);
 *     npu_plugin_destroy(p);
 *
 * Ownership:
 *   - A plugin and a model are owned by the caller until the matching
 *     destroy function. Destroying NULL is a no-op.
 *   - A model keeps its plugin alive: npu_plugin_destroy may be called while
 *     models compiled with it exist; OpenVINO's core is released when the
 *     plugin and every one of its models are destroyed.
 *   - Strings returned by npu_plugin_version / npu_plugin_device_name live as
 *     long as the plugin; npu_last_error's string until the calling thread's
 *     next failing call into this library.
 *   - npu_execute copies inputs into the device's own buffers and copies
 *     outputs out of them: the caller's buffers are never kept or aliased.
 *
 * Thread safety:
 *   - Different plugins and different models may be used from different
 *     threads at the same time.
 *   - npu_compile may be called on one plugin from several threads at once;
 *     the calls are serialised by a lock inside the plugin.
 *   - npu_execute calls on the same model are serialised by a lock inside the
 *     model (one inference at a time per model; compile the model twice for
 *     parallel inferences). The query functions may run concurrently with it.
 *   - Destroying an object while another thread uses it is undefined.
 *   - npu_last_error is per thread.
 */
#ifndef NPU_STANDALONE_H
#define NPU_STANDALONE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(NPU_STANDALONE_BUILD)
#    define NPU_API __declspec(dllexport)
#  else
#    define NPU_API __declspec(dllimport)
#  endif
#else
#  define NPU_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The largest tensor rank this API describes. */
#define NPU_MAX_RANK 8

typedef struct npu_plugin npu_plugin_t;
typedef struct npu_model npu_model_t;

typedef enum npu_status {
    NPU_OK = 0,
    NPU_ERR_INVALID_ARGUMENT = -1, /* a NULL pointer, a bad index or count */
    NPU_ERR_OUT_OF_MEMORY = -2,
    NPU_ERR_RUNTIME = -3,          /* OpenVINO's core could not be created */
    NPU_ERR_PLUGIN = -4,           /* the device plugin could not be loaded */
    NPU_ERR_NO_DEVICE = -5,        /* the plugin loaded but found no such device */
    NPU_ERR_READ_MODEL = -6,       /* the model file could not be read (frontend missing?) */
    NPU_ERR_COMPILE = -7,          /* the device refused to compile the model */
    NPU_ERR_INFER = -8,            /* the inference itself failed */
    NPU_ERR_SHAPE = -9,            /* an input's shape does not fit the model's */
    NPU_ERR_TYPE = -10,            /* an input's element type is not the model's */
    NPU_ERR_BUFFER_TOO_SMALL = -11,/* an output buffer is too small: size_bytes says how much is needed */
    NPU_ERR_UNSUPPORTED = -12      /* an element type or rank this API cannot describe */
} npu_status_t;

typedef enum npu_element_type {
    NPU_TYPE_UNSUPPORTED = 0,
    NPU_TYPE_F32, NPU_TYPE_F16, NPU_TYPE_BF16, NPU_TYPE_F64,
    NPU_TYPE_I8, NPU_TYPE_I16, NPU_TYPE_I32, NPU_TYPE_I64,
    NPU_TYPE_U8, NPU_TYPE_U16, NPU_TYPE_U32, NPU_TYPE_U64,
    NPU_TYPE_BOOL
} npu_element_type_t;

/* What a model expects on one input or gives on one output. A dimension the
 * model leaves open (dynamic) is -1; for an output it is known after
 * npu_execute, which reports the actual dims in npu_tensor_t. */
typedef struct npu_tensor_info {
    npu_element_type_t type;
    size_t rank;
    int64_t dims[NPU_MAX_RANK];
    char name[128];            /* the tensor's first name, truncated; "" when it has none */
} npu_tensor_info_t;

/* A tensor passed to npu_execute.
 * Input:  type, rank, dims and data describe the caller's values
 *         (size_bytes = product(dims) * npu_element_size(type)); only read.
 * Output: data points to size_bytes bytes of the caller's memory. On return
 *         type, rank and dims describe the result and size_bytes holds the
 *         bytes written, or, with NPU_ERR_BUFFER_TOO_SMALL, the bytes needed. */
typedef struct npu_tensor {
    npu_element_type_t type;
    size_t rank;
    int64_t dims[NPU_MAX_RANK];
    void *data;
    size_t size_bytes;
} npu_tensor_t;

/* Creates OpenVINO's core and loads the plugin of `device` ("NPU" when NULL
 * or ""; "CPU", "GPU" work the same way). Fails with NULL when the plugin
 * cannot be loaded or reports no such device; the reason is written to err
 * (errlen bytes, always NUL-terminated, may be NULL) and npu_last_error. */
NPU_API npu_plugin_t *npu_plugin_create(const char *device, char *err, size_t errlen);

/* The device name the plugin was created for ("NPU"). */
NPU_API const char *npu_plugin_device(const npu_plugin_t *plugin);
/* OpenVINO's build number of the loaded plugin, e.g. "2026.4.1-22982-...". */
NPU_API const char *npu_plugin_version(const npu_plugin_t *plugin);
/* The device's full name as the plugin reports it ("" when it does not say). */
NPU_API const char *npu_plugin_device_name(const npu_plugin_t *plugin);

/* Reads a model (IR: model.xml with model.bin beside it; ONNX: model.onnx,
 * when the bundle has the ONNX frontend) and compiles it for the plugin's
 * device. On success *model is a new model; on failure it is NULL. */
NPU_API npu_status_t npu_compile(npu_plugin_t *plugin, const char *model_path, npu_model_t **model);

NPU_API npu_status_t npu_model_input_count(const npu_model_t *model, size_t *count);
NPU_API npu_status_t npu_model_output_count(const npu_model_t *model, size_t *count);
NPU_API npu_status_t npu_model_input_info(const npu_model_t *model, size_t index, npu_tensor_info_t *info);
NPU_API npu_status_t npu_model_output_info(const npu_model_t *model, size_t index, npu_tensor_info_t *info);

/* Runs one inference. n_in and n_out must equal the model's input and output
 * counts; inputs and outputs are in the model's order. Every input's type
 * must be the model's and its dims must fit (equal where the model's are
 * fixed). Outputs are all filled that fit; the first failure is returned. */
NPU_API npu_status_t npu_execute(npu_model_t *model, const npu_tensor_t *inputs, size_t n_in,
                                 npu_tensor_t *outputs, size_t n_out);

/* Bytes per element of a type (0 for NPU_TYPE_UNSUPPORTED). */
NPU_API size_t npu_element_size(npu_element_type_t type);
/* A short name for a status ("NPU_ERR_SHAPE"). */
NPU_API const char *npu_status_name(npu_status_t status);
/* The message of this thread's last failed call ("" when there was none). */
NPU_API const char *npu_last_error(void);

NPU_API void npu_model_destroy(npu_model_t *model);
NPU_API void npu_plugin_destroy(npu_plugin_t *plugin);

#ifdef __cplusplus
}
#endif

#endif /* NPU_STANDALONE_H */
