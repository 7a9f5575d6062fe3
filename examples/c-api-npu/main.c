/*
 * c-api-npu: run one inference on the Intel NPU through OpenVINO's C API,
 * built against an npuslim bundle (include/ and lib/openvino_c.lib).
 *
 * usage: c-api-npu MODEL.xml [DEVICE]
 *
 * Creates a core, reads the model, compiles it for the device (NPU by
 * default), fills every input with 1.0, runs one inference and prints the
 * first values of every output. Each failure names the step and OpenVINO's
 * message, and exits with a distinct code.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openvino/c/openvino.h>

static int fail(const char *what, ov_status_e status, int code) {
    const char *msg = ov_get_last_err_msg();
    fprintf(stderr, "c-api-npu: %s failed (status %d): %s\n", what, (int)status,
            msg && *msg ? msg : ov_get_error_info(status));
    return code;
}

static int fill_ones(ov_tensor_t *tensor) {
    size_t size = 0;
    void *data = NULL;
    ov_element_type_e type;
    if (ov_tensor_get_size(tensor, &size) || ov_tensor_data(tensor, &data) ||
        ov_tensor_get_element_type(tensor, &type))
        return -1;
    if (type != F32) return -1;
    for (size_t i = 0; i < size; i++) ((float *)data)[i] = 1.0f;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.xml [DEVICE]\n", argv[0]);
        return 2;
    }
    const char *device = argc > 2 ? argv[2] : "NPU";
    ov_core_t *core = NULL;
    ov_model_t *model = NULL;
    ov_compiled_model_t *compiled = NULL;
    ov_infer_request_t *request = NULL;
    ov_status_e st;
    int rc = 0;

    ov_version_t version;
    if (ov_get_openvino_version(&version) == OK) {
        printf("OpenVINO %s\n", version.buildNumber);
        ov_version_free(&version);
    }
    if ((st = ov_core_create(&core)) != OK) return fail("ov_core_create", st, 3);
    if ((st = ov_core_read_model(core, argv[1], NULL, &model)) != OK) { rc = fail("read_model", st, 4); goto out; }
    printf("model read: %s\n", argv[1]);
    if ((st = ov_core_compile_model(core, model, device, 0, &compiled)) != OK) {
        rc = fail("compile_model", st, 5);
        goto out;
    }
    printf("compiled for %s\n", device);
    if ((st = ov_compiled_model_create_infer_request(compiled, &request)) != OK) {
        rc = fail("create_infer_request", st, 6);
        goto out;
    }
    size_t inputs = 0, outputs = 0;
    ov_model_inputs_size(model, &inputs);
    ov_model_outputs_size(model, &outputs);
    for (size_t i = 0; i < inputs; i++) {
        ov_tensor_t *tensor = NULL;
        if (ov_infer_request_get_input_tensor_by_index(request, i, &tensor) == OK) {
            if (fill_ones(tensor)) fprintf(stderr, "c-api-npu: input %zu is not f32; left as is\n", i);
            ov_tensor_free(tensor);
        }
    }
    if ((st = ov_infer_request_infer(request)) != OK) { rc = fail("infer", st, 7); goto out; }
    for (size_t i = 0; i < outputs; i++) {
        ov_tensor_t *tensor = NULL;
        size_t size = 0;
        void *data = NULL;
        if (ov_infer_request_get_output_tensor_by_index(request, i, &tensor) != OK) continue;
        ov_tensor_get_size(tensor, &size);
        ov_tensor_data(tensor, &data);
        printf("output %zu (%zu values):", i, size);
        for (size_t j = 0; j < size && j < 8; j++) printf(" %g", ((float *)data)[j]);
        printf("\n");
        ov_tensor_free(tensor);
    }
out:
    if (request) ov_infer_request_free(request);
    if (compiled) ov_compiled_model_free(compiled);
    if (model) ov_model_free(model);
    if (core) ov_core_free(core);
    return rc;
}
