//! The C API of `examples/npu-standalone/include/npu_standalone.h`, declared by hand, line by
//! line (no bindgen). Every item keeps the header's name, so the header is the documentation.
//!
//! Types: `size_t` is `usize` (Rust guarantees the same size and ABI on every target it
//! supports), `int64_t` is `i64`, `char` is `c_char`. The two C enums are declared as their
//! underlying integer type with one constant per enumerator, not as Rust enums: a value the C
//! side returns that a Rust enum does not list would be undefined behaviour, an integer never
//! is. Both enums are `int`-sized on every C ABI this library builds for (gcc gives an enum
//! with a negative enumerator `int`, and one without `unsigned int`, of the same size and
//! passing convention; MSVC always `int`); `c_int` is used for both.
#![allow(non_camel_case_types)]

use std::marker::{PhantomData, PhantomPinned};
use std::os::raw::{c_char, c_int, c_void};

/// `#define NPU_MAX_RANK 8`: the largest tensor rank this API describes.
pub const NPU_MAX_RANK: usize = 8;

/// `typedef struct npu_plugin npu_plugin_t;` (opaque: only ever behind a pointer).
#[repr(C)]
pub struct npu_plugin_t {
    _data: [u8; 0],
    // Neither Send, Sync nor Unpin by itself: the safe wrappers decide (see lib.rs).
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `typedef struct npu_model npu_model_t;` (opaque).
#[repr(C)]
pub struct npu_model_t {
    _data: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// `typedef enum npu_status { ... } npu_status_t;`
pub type npu_status_t = c_int;
pub const NPU_OK: npu_status_t = 0;
/// a NULL pointer, a bad index or count
pub const NPU_ERR_INVALID_ARGUMENT: npu_status_t = -1;
pub const NPU_ERR_OUT_OF_MEMORY: npu_status_t = -2;
/// OpenVINO's core could not be created
pub const NPU_ERR_RUNTIME: npu_status_t = -3;
/// the device plugin could not be loaded
pub const NPU_ERR_PLUGIN: npu_status_t = -4;
/// the plugin loaded but found no such device
pub const NPU_ERR_NO_DEVICE: npu_status_t = -5;
/// the model file could not be read (frontend missing?)
pub const NPU_ERR_READ_MODEL: npu_status_t = -6;
/// the device refused to compile the model
pub const NPU_ERR_COMPILE: npu_status_t = -7;
/// the inference itself failed
pub const NPU_ERR_INFER: npu_status_t = -8;
/// an input's shape does not fit the model's
pub const NPU_ERR_SHAPE: npu_status_t = -9;
/// an input's element type is not the model's
pub const NPU_ERR_TYPE: npu_status_t = -10;
/// an output buffer is too small: size_bytes says how much is needed
pub const NPU_ERR_BUFFER_TOO_SMALL: npu_status_t = -11;
/// an element type or rank this API cannot describe
pub const NPU_ERR_UNSUPPORTED: npu_status_t = -12;

/// `typedef enum npu_element_type { ... } npu_element_type_t;` (0, then counting up).
pub type npu_element_type_t = c_int;
pub const NPU_TYPE_UNSUPPORTED: npu_element_type_t = 0;
pub const NPU_TYPE_F32: npu_element_type_t = 1;
pub const NPU_TYPE_F16: npu_element_type_t = 2;
pub const NPU_TYPE_BF16: npu_element_type_t = 3;
pub const NPU_TYPE_F64: npu_element_type_t = 4;
pub const NPU_TYPE_I8: npu_element_type_t = 5;
pub const NPU_TYPE_I16: npu_element_type_t = 6;
pub const NPU_TYPE_I32: npu_element_type_t = 7;
pub const NPU_TYPE_I64: npu_element_type_t = 8;
pub const NPU_TYPE_U8: npu_element_type_t = 9;
pub const NPU_TYPE_U16: npu_element_type_t = 10;
pub const NPU_TYPE_U32: npu_element_type_t = 11;
pub const NPU_TYPE_U64: npu_element_type_t = 12;
pub const NPU_TYPE_BOOL: npu_element_type_t = 13;

/// `typedef struct npu_tensor_info { ... } npu_tensor_info_t;`: what a model expects on one
/// input or gives on one output; a dynamic dimension is -1.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct npu_tensor_info_t {
    /// `npu_element_type_t type;` (`type` is a Rust keyword)
    pub type_: npu_element_type_t,
    pub rank: usize,
    pub dims: [i64; NPU_MAX_RANK],
    /// `char name[128];` the tensor's first name, truncated, NUL-terminated; "" when it has none
    pub name: [c_char; 128],
}

/// `typedef struct npu_tensor { ... } npu_tensor_t;`: a tensor passed to npu_execute.
/// Input: only read; size_bytes = product(dims) * npu_element_size(type).
/// Output: data points to size_bytes bytes of the caller's memory; on return type, rank and
/// dims describe the result and size_bytes the bytes written (or needed, with
/// NPU_ERR_BUFFER_TOO_SMALL).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct npu_tensor_t {
    pub type_: npu_element_type_t,
    pub rank: usize,
    pub dims: [i64; NPU_MAX_RANK],
    /// `void *data;` (not const: outputs are written through it)
    pub data: *mut c_void,
    pub size_bytes: usize,
}

// The library is linked by build.rs (cargo:rustc-link-lib=dylib=npu_standalone).
extern "C" {
    /// `npu_plugin_t *npu_plugin_create(const char *device, char *err, size_t errlen);`
    pub fn npu_plugin_create(device: *const c_char, err: *mut c_char, errlen: usize) -> *mut npu_plugin_t;

    /// `const char *npu_plugin_device(const npu_plugin_t *plugin);`
    pub fn npu_plugin_device(plugin: *const npu_plugin_t) -> *const c_char;
    /// `const char *npu_plugin_version(const npu_plugin_t *plugin);`
    pub fn npu_plugin_version(plugin: *const npu_plugin_t) -> *const c_char;
    /// `const char *npu_plugin_device_name(const npu_plugin_t *plugin);`
    pub fn npu_plugin_device_name(plugin: *const npu_plugin_t) -> *const c_char;

    /// `npu_status_t npu_compile(npu_plugin_t *plugin, const char *model_path, npu_model_t **model);`
    pub fn npu_compile(plugin: *mut npu_plugin_t, model_path: *const c_char, model: *mut *mut npu_model_t)
        -> npu_status_t;

    /// `npu_status_t npu_model_input_count(const npu_model_t *model, size_t *count);`
    pub fn npu_model_input_count(model: *const npu_model_t, count: *mut usize) -> npu_status_t;
    /// `npu_status_t npu_model_output_count(const npu_model_t *model, size_t *count);`
    pub fn npu_model_output_count(model: *const npu_model_t, count: *mut usize) -> npu_status_t;
    /// `npu_status_t npu_model_input_info(const npu_model_t *model, size_t index, npu_tensor_info_t *info);`
    pub fn npu_model_input_info(model: *const npu_model_t, index: usize, info: *mut npu_tensor_info_t)
        -> npu_status_t;
    /// `npu_status_t npu_model_output_info(const npu_model_t *model, size_t index, npu_tensor_info_t *info);`
    pub fn npu_model_output_info(model: *const npu_model_t, index: usize, info: *mut npu_tensor_info_t)
        -> npu_status_t;

    /// `npu_status_t npu_execute(npu_model_t *model, const npu_tensor_t *inputs, size_t n_in,
    ///                           npu_tensor_t *outputs, size_t n_out);`
    pub fn npu_execute(model: *mut npu_model_t, inputs: *const npu_tensor_t, n_in: usize,
                       outputs: *mut npu_tensor_t, n_out: usize) -> npu_status_t;

    /// `size_t npu_element_size(npu_element_type_t type);` (0 for NPU_TYPE_UNSUPPORTED)
    pub fn npu_element_size(type_: npu_element_type_t) -> usize;
    /// `const char *npu_status_name(npu_status_t status);`
    pub fn npu_status_name(status: npu_status_t) -> *const c_char;
    /// `const char *npu_last_error(void);` (per thread)
    pub fn npu_last_error() -> *const c_char;

    /// `void npu_model_destroy(npu_model_t *model);`
    pub fn npu_model_destroy(model: *mut npu_model_t);
    /// `void npu_plugin_destroy(npu_plugin_t *plugin);`
    pub fn npu_plugin_destroy(plugin: *mut npu_plugin_t);
}
