//! Safe Rust over `npu_standalone` (examples/npu-standalone), the small C library over
//! OpenVINO's C API that runs a model on one device (the Intel NPU by default) and is built
//! against an npuslim bundle. Standard library only.
//!
//! ```no_run
//! use npu_standalone::{Plugin, Tensor};
//! let plugin = Plugin::new("NPU")?;                       // or "CPU"
//! let model = plugin.compile("model.xml")?;               // IR, or .onnx when the bundle has the frontend
//! let x = Tensor::new(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let outputs = model.execute(&[x.clone(), x])?;
//! println!("{:?}", outputs[0].as_slice::<f32>());
//! # Ok::<(), npu_standalone::Error>(())
//! ```
//!
//! Ownership follows the header: [`Plugin`] and [`Model`] destroy their C objects on drop, in
//! any order (a model keeps its plugin alive inside the C library). Threads: see the `unsafe
//! impl Send/Sync` below, each with the header's rule that allows it.
pub mod sys;

use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::{c_char, c_void};
use std::path::Path;
use std::ptr::{self, NonNull};

// ---------------------------------------------------------------------------------------------
// Status and errors

/// `npu_status_t` without `NPU_OK`: why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InvalidArgument,
    OutOfMemory,
    Runtime,
    Plugin,
    NoDevice,
    ReadModel,
    Compile,
    Infer,
    Shape,
    Type,
    BufferTooSmall,
    Unsupported,
    /// A code this crate does not know (a newer library).
    Other(i32),
}

impl Status {
    pub fn from_raw(code: sys::npu_status_t) -> Status {
        match code {
            sys::NPU_ERR_INVALID_ARGUMENT => Status::InvalidArgument,
            sys::NPU_ERR_OUT_OF_MEMORY => Status::OutOfMemory,
            sys::NPU_ERR_RUNTIME => Status::Runtime,
            sys::NPU_ERR_PLUGIN => Status::Plugin,
            sys::NPU_ERR_NO_DEVICE => Status::NoDevice,
            sys::NPU_ERR_READ_MODEL => Status::ReadModel,
            sys::NPU_ERR_COMPILE => Status::Compile,
            sys::NPU_ERR_INFER => Status::Infer,
            sys::NPU_ERR_SHAPE => Status::Shape,
            sys::NPU_ERR_TYPE => Status::Type,
            sys::NPU_ERR_BUFFER_TOO_SMALL => Status::BufferTooSmall,
            sys::NPU_ERR_UNSUPPORTED => Status::Unsupported,
            other => Status::Other(other),
        }
    }

    pub fn code(self) -> sys::npu_status_t {
        match self {
            Status::InvalidArgument => sys::NPU_ERR_INVALID_ARGUMENT,
            Status::OutOfMemory => sys::NPU_ERR_OUT_OF_MEMORY,
            Status::Runtime => sys::NPU_ERR_RUNTIME,
            Status::Plugin => sys::NPU_ERR_PLUGIN,
            Status::NoDevice => sys::NPU_ERR_NO_DEVICE,
            Status::ReadModel => sys::NPU_ERR_READ_MODEL,
            Status::Compile => sys::NPU_ERR_COMPILE,
            Status::Infer => sys::NPU_ERR_INFER,
            Status::Shape => sys::NPU_ERR_SHAPE,
            Status::Type => sys::NPU_ERR_TYPE,
            Status::BufferTooSmall => sys::NPU_ERR_BUFFER_TOO_SMALL,
            Status::Unsupported => sys::NPU_ERR_UNSUPPORTED,
            Status::Other(code) => code,
        }
    }

    /// The C library's name for it (`npu_status_name`): "NPU_ERR_SHAPE".
    pub fn name(self) -> String {
        // SAFETY: npu_status_name accepts any value and returns a static string.
        unsafe { string_from(sys::npu_status_name(self.code())) }
    }
}

/// A failed call: its status and the C library's message (`npu_last_error()`, read on the
/// thread that made the call, right after it).
#[derive(Clone, Debug)]
pub struct Error {
    status: Status,
    message: String,
    too_small: Vec<(usize, usize)>,
}

impl Error {
    fn new(status: Status, message: String) -> Error {
        Error { status, message, too_small: Vec::new() }
    }

    /// The status of the last failed call on this thread, with `npu_last_error()`.
    fn last(code: sys::npu_status_t) -> Error {
        Error::new(Status::from_raw(code), last_error())
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// With [`Status::BufferTooSmall`] from [`Model::execute_into`]: each output whose buffer
    /// was too small, as (output index, bytes it needs).
    pub fn too_small(&self) -> &[(usize, usize)] {
        &self.too_small
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// `npu_last_error()`: the message of this thread's last failed call ("" when none).
pub fn last_error() -> String {
    // SAFETY: npu_last_error returns this thread's NUL-terminated buffer; it is copied at once.
    unsafe { string_from(sys::npu_last_error()) }
}

/// Copies a C string (NULL gives "").
unsafe fn string_from(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

fn check(code: sys::npu_status_t) -> Result<()> {
    if code == sys::NPU_OK {
        Ok(())
    } else {
        Err(Error::last(code))
    }
}

fn c_string(what: &str, bytes: Vec<u8>) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::new(Status::InvalidArgument, format!("{} contains a NUL byte", what)))
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Result<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    Ok(path.as_os_str().as_bytes().to_vec())
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Result<Vec<u8>> {
    // The C API takes a char path; OpenVINO reads it as UTF-8 on Windows.
    match path.to_str() {
        Some(s) => Ok(s.as_bytes().to_vec()),
        None => Err(Error::new(Status::InvalidArgument, format!("{} is not valid Unicode", path.display()))),
    }
}

// ---------------------------------------------------------------------------------------------
// Element types and tensors

/// `npu_element_type_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    Unsupported,
    F32,
    F16,
    BF16,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
}

const ELEMENT_TYPES: [(ElementType, sys::npu_element_type_t, usize); 14] = [
    (ElementType::Unsupported, sys::NPU_TYPE_UNSUPPORTED, 0),
    (ElementType::F32, sys::NPU_TYPE_F32, 4),
    (ElementType::F16, sys::NPU_TYPE_F16, 2),
    (ElementType::BF16, sys::NPU_TYPE_BF16, 2),
    (ElementType::F64, sys::NPU_TYPE_F64, 8),
    (ElementType::I8, sys::NPU_TYPE_I8, 1),
    (ElementType::I16, sys::NPU_TYPE_I16, 2),
    (ElementType::I32, sys::NPU_TYPE_I32, 4),
    (ElementType::I64, sys::NPU_TYPE_I64, 8),
    (ElementType::U8, sys::NPU_TYPE_U8, 1),
    (ElementType::U16, sys::NPU_TYPE_U16, 2),
    (ElementType::U32, sys::NPU_TYPE_U32, 4),
    (ElementType::U64, sys::NPU_TYPE_U64, 8),
    (ElementType::Bool, sys::NPU_TYPE_BOOL, 1),
];

impl ElementType {
    /// Every type, `Unsupported` first (the C enum's order).
    pub fn all() -> impl Iterator<Item = ElementType> {
        ELEMENT_TYPES.iter().map(|e| e.0)
    }

    /// A C value this crate does not know is `Unsupported`.
    pub fn from_raw(raw: sys::npu_element_type_t) -> ElementType {
        ELEMENT_TYPES.iter().find(|e| e.1 == raw).map(|e| e.0).unwrap_or(ElementType::Unsupported)
    }

    pub fn to_raw(self) -> sys::npu_element_type_t {
        ELEMENT_TYPES.iter().find(|e| e.0 == self).map(|e| e.1).unwrap_or(sys::NPU_TYPE_UNSUPPORTED)
    }

    /// Bytes per element (0 for `Unsupported`), as `npu_element_size` says.
    pub fn size(self) -> usize {
        ELEMENT_TYPES.iter().find(|e| e.0 == self).map(|e| e.2).unwrap_or(0)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type a tensor's values can be read and written as: every bit pattern is a valid
/// value and its alignment is at most 8 (the tensor's storage alignment). f16, bf16 and bool
/// have no such type in std: use [`Tensor::from_bytes`] and [`Tensor::as_bytes`].
pub trait Element: Copy + sealed::Sealed {
    const TYPE: ElementType;
}

macro_rules! element {
    ($($t:ty => $e:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t { const TYPE: ElementType = ElementType::$e; }
    )*};
}
element!(f32 => F32, f64 => F64, i8 => I8, i16 => I16, i32 => I32, i64 => I64,
         u8 => U8, u16 => U16, u32 => U32, u64 => U64);

/// A tensor the caller owns: an input to [`Model::execute`], or an output it returns.
///
/// The values live in 8-byte aligned storage, so [`Tensor::as_slice`] is a plain typed view.
#[derive(Clone)]
pub struct Tensor {
    element_type: ElementType,
    shape: Vec<usize>,
    storage: Vec<u64>,
    /// bytes of values (product(shape) * element size once filled)
    len: usize,
    /// bytes an output buffer offers (`size_bytes` going in)
    capacity: usize,
}

fn storage_for(bytes: usize) -> Vec<u64> {
    vec![0u64; (bytes + 7) / 8]
}

fn checked_bytes(element_type: ElementType, shape: &[usize]) -> Result<usize> {
    if shape.len() > sys::NPU_MAX_RANK {
        return Err(Error::new(Status::Unsupported, format!("rank {} is more than {}", shape.len(), sys::NPU_MAX_RANK)));
    }
    if element_type == ElementType::Unsupported {
        return Err(Error::new(Status::Unsupported, "a tensor needs an element type".to_string()));
    }
    shape
        .iter()
        .try_fold(element_type.size(), |acc, &d| acc.checked_mul(d))
        .filter(|&b| b <= isize::MAX as usize && shape.iter().all(|&d| d as u64 <= i64::MAX as u64))
        .ok_or_else(|| Error::new(Status::InvalidArgument, format!("shape {:?} is too large", shape)))
}

impl Tensor {
    /// A tensor of `values` with `shape`; `values.len()` must be the product of the dims.
    pub fn new<T: Element>(shape: &[usize], values: &[T]) -> Result<Tensor> {
        let bytes = checked_bytes(T::TYPE, shape)?;
        if bytes != std::mem::size_of_val(values) {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("shape {:?} holds {} values, {} given", shape, bytes / T::TYPE.size(), values.len()),
            ));
        }
        let mut tensor = Tensor { element_type: T::TYPE, shape: shape.to_vec(), storage: storage_for(bytes), len: bytes, capacity: bytes };
        tensor.as_mut_slice::<T>().expect("the type was just set").copy_from_slice(values);
        Ok(tensor)
    }

    /// A tensor of any element type from its raw bytes (little-endian values, `bool` as 0/1).
    pub fn from_bytes(element_type: ElementType, shape: &[usize], bytes: &[u8]) -> Result<Tensor> {
        let want = checked_bytes(element_type, shape)?;
        if want != bytes.len() {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("shape {:?} of {:?} takes {} bytes, {} given", shape, element_type, want, bytes.len()),
            ));
        }
        let mut tensor = Tensor { element_type, shape: shape.to_vec(), storage: storage_for(want), len: want, capacity: want };
        tensor.bytes_mut().copy_from_slice(bytes);
        Ok(tensor)
    }

    /// An output buffer of `bytes` bytes for [`Model::execute_into`]; it takes the output's
    /// type and shape when filled.
    pub fn output_buffer(bytes: usize) -> Tensor {
        Tensor { element_type: ElementType::Unsupported, shape: Vec::new(), storage: storage_for(bytes), len: 0, capacity: bytes }
    }

    pub fn element_type(&self) -> ElementType {
        self.element_type
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Bytes of values.
    pub fn size_bytes(&self) -> usize {
        self.len
    }

    /// The values, when `T` is the tensor's element type.
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        if T::TYPE != self.element_type {
            return None;
        }
        let n = self.len / std::mem::size_of::<T>();
        // SAFETY: storage is u64-aligned (>= align_of::<T>()), holds at least len bytes, every
        // bit pattern is a valid T (the Element contract), and the borrow ties it to &self.
        Some(unsafe { std::slice::from_raw_parts(self.storage.as_ptr() as *const T, n) })
    }

    pub fn as_mut_slice<T: Element>(&mut self) -> Option<&mut [T]> {
        if T::TYPE != self.element_type {
            return None;
        }
        let n = self.len / std::mem::size_of::<T>();
        // SAFETY: as in as_slice, with the unique borrow of &mut self.
        Some(unsafe { std::slice::from_raw_parts_mut(self.storage.as_mut_ptr() as *mut T, n) })
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: storage holds at least len initialised bytes.
        unsafe { std::slice::from_raw_parts(self.storage.as_ptr() as *const u8, self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in as_bytes, with the unique borrow.
        unsafe { std::slice::from_raw_parts_mut(self.storage.as_mut_ptr() as *mut u8, self.len) }
    }

    /// The C view of an input: only read by npu_execute (its `inputs` are `const`).
    fn as_input(&self) -> sys::npu_tensor_t {
        let mut t = raw_tensor(self.storage.as_ptr() as *mut c_void, self.len);
        t.type_ = self.element_type.to_raw();
        t.rank = self.shape.len();
        for (d, &s) in t.dims.iter_mut().zip(&self.shape) {
            *d = s as i64;
        }
        t
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("element_type", &self.element_type)
            .field("shape", &self.shape)
            .field("size_bytes", &self.len)
            .finish()
    }
}

fn raw_tensor(data: *mut c_void, size_bytes: usize) -> sys::npu_tensor_t {
    sys::npu_tensor_t { type_: sys::NPU_TYPE_UNSUPPORTED, rank: 0, dims: [0; sys::NPU_MAX_RANK], data, size_bytes }
}

/// What a model takes on one input or gives on one output (`npu_tensor_info_t`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub element_type: ElementType,
    /// The dims; -1 for a dimension the model leaves open.
    pub dims: Vec<i64>,
    /// The tensor's first name ("" when it has none; the C library truncates it to 127 bytes).
    pub name: String,
}

impl TensorInfo {
    fn from_raw(info: &sys::npu_tensor_info_t) -> TensorInfo {
        let name: Vec<u8> = info.name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        TensorInfo {
            element_type: ElementType::from_raw(info.type_),
            dims: info.dims[..info.rank.min(sys::NPU_MAX_RANK)].to_vec(),
            name: String::from_utf8_lossy(&name).into_owned(),
        }
    }

    /// The shape, `None` for a dynamic dimension.
    pub fn shape(&self) -> Vec<Option<usize>> {
        self.dims.iter().map(|&d| if d < 0 { None } else { Some(d as usize) }).collect()
    }

    /// Bytes of one tensor, when every dimension is fixed.
    pub fn size_bytes(&self) -> Option<usize> {
        self.shape().into_iter().try_fold(self.element_type.size(), |acc, d| d.and_then(|d| acc.checked_mul(d)))
    }
}

// ---------------------------------------------------------------------------------------------
// Plugin and model

/// `npu_plugin_t`: OpenVINO's core with one device's plugin loaded.
pub struct Plugin {
    raw: NonNull<sys::npu_plugin_t>,
}

// SAFETY (Send): "Different plugins and different models may be used from different threads at
// the same time", and nothing in a plugin is tied to the thread that created it (npu_last_error
// is per thread, but it is read right after each call on the calling thread).
unsafe impl Send for Plugin {}
// SAFETY (Sync): through &Plugin only npu_compile and the three string queries are reachable.
// "npu_compile may be called on one plugin from several threads at once; the calls are
// serialised by a lock inside the plugin"; the queries read strings set once in
// npu_plugin_create that "live as long as the plugin". Destroying needs the Plugin by value
// (Drop), so no other thread can be using it then ("destroying an object while another thread
// uses it is undefined" cannot happen).
unsafe impl Sync for Plugin {}

impl Plugin {
    /// `npu_plugin_create`: loads `device`'s plugin ("NPU" for ""; "CPU", "GPU" the same way).
    ///
    /// The C call returns NULL and a message, no status; the status is taken from the C
    /// library's wording (`cannot load the X plugin` is [`Status::Plugin`], `... loaded but
    /// found no X device` [`Status::NoDevice`], `cannot create OpenVINO's core`
    /// [`Status::Runtime`]).
    pub fn new(device: &str) -> Result<Plugin> {
        let device = c_string("the device name", device.as_bytes().to_vec())?;
        let mut err: [c_char; 1024] = [0; 1024];
        // SAFETY: device is NUL-terminated; err has err.len() bytes and comes back NUL-terminated.
        let raw = unsafe { sys::npu_plugin_create(device.as_ptr(), err.as_mut_ptr(), err.len()) };
        match NonNull::new(raw) {
            Some(raw) => Ok(Plugin { raw }),
            None => {
                // SAFETY: the C side always NUL-terminates err (errlen > 0).
                let message = unsafe { CStr::from_ptr(err.as_ptr()) }.to_string_lossy().into_owned();
                let status = if message.contains("loaded but found no") {
                    Status::NoDevice
                } else if message.starts_with("cannot create OpenVINO's core") {
                    Status::Runtime
                } else if message.starts_with("out of memory") {
                    Status::OutOfMemory
                } else if message.starts_with("device name too long") {
                    Status::InvalidArgument
                } else {
                    Status::Plugin
                };
                Err(Error::new(status, message))
            }
        }
    }

    /// The device name the plugin was created for ("NPU").
    pub fn device(&self) -> String {
        // SAFETY: the plugin is alive; the string lives as long as it and is copied at once.
        unsafe { string_from(sys::npu_plugin_device(self.raw.as_ptr())) }
    }

    /// OpenVINO's build number of the loaded plugin ("2026.4.1-22982-...").
    pub fn version(&self) -> String {
        // SAFETY: as in device().
        unsafe { string_from(sys::npu_plugin_version(self.raw.as_ptr())) }
    }

    /// The device's full name as the plugin reports it ("" when it does not say).
    pub fn device_name(&self) -> String {
        // SAFETY: as in device().
        unsafe { string_from(sys::npu_plugin_device_name(self.raw.as_ptr())) }
    }

    /// `npu_compile`: reads a model (IR `.xml` with its `.bin` beside it, or `.onnx` when the
    /// bundle has the ONNX frontend) and compiles it for the plugin's device. The model does
    /// not borrow the plugin: the C library keeps the plugin alive while the model exists.
    pub fn compile<P: AsRef<Path>>(&self, path: P) -> Result<Model> {
        let path = c_string("the model path", path_bytes(path.as_ref())?)?;
        let mut raw: *mut sys::npu_model_t = ptr::null_mut();
        // SAFETY: the plugin is alive; npu_compile serialises concurrent calls on it itself;
        // path is NUL-terminated; raw receives a new model or NULL.
        check(unsafe { sys::npu_compile(self.raw.as_ptr(), path.as_ptr(), &mut raw) })?;
        match NonNull::new(raw) {
            Some(raw) => Ok(Model { raw }),
            None => Err(Error::new(Status::Compile, "npu_compile returned NPU_OK and no model".to_string())),
        }
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // SAFETY: the plugin is ours and nothing borrows it any more; its models keep the
        // C object alive until they are dropped too.
        unsafe { sys::npu_plugin_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin").field("device", &self.device()).field("version", &self.version()).finish()
    }
}

/// `npu_model_t`: a model compiled for a plugin's device, with its inference request.
pub struct Model {
    raw: NonNull<sys::npu_model_t>,
}

// SAFETY (Send): "different models may be used from different threads at the same time"; a
// model holds no thread-affine state (the plugin reference it keeps is counted atomically).
unsafe impl Send for Model {}
// SAFETY (Sync): through &Model only npu_execute and the query functions are reachable.
// "npu_execute calls on the same model are serialised by a lock inside the model ... The query
// functions may run concurrently with it." Drop needs the Model by value, so it never runs
// while another thread uses the model.
unsafe impl Sync for Model {}

impl Model {
    pub fn input_count(&self) -> Result<usize> {
        let mut n = 0usize;
        // SAFETY: the model is alive; n is a valid out pointer.
        check(unsafe { sys::npu_model_input_count(self.raw.as_ptr(), &mut n) })?;
        Ok(n)
    }

    pub fn output_count(&self) -> Result<usize> {
        let mut n = 0usize;
        // SAFETY: as in input_count.
        check(unsafe { sys::npu_model_output_count(self.raw.as_ptr(), &mut n) })?;
        Ok(n)
    }

    /// Input `index`: its element type, dims (-1 dynamic) and name. A bad index is the C
    /// library's `NPU_ERR_INVALID_ARGUMENT`.
    pub fn input(&self, index: usize) -> Result<TensorInfo> {
        let mut info = empty_info();
        // SAFETY: the model is alive; info is a valid out pointer.
        check(unsafe { sys::npu_model_input_info(self.raw.as_ptr(), index, &mut info) })?;
        Ok(TensorInfo::from_raw(&info))
    }

    pub fn output(&self, index: usize) -> Result<TensorInfo> {
        let mut info = empty_info();
        // SAFETY: as in input.
        check(unsafe { sys::npu_model_output_info(self.raw.as_ptr(), index, &mut info) })?;
        Ok(TensorInfo::from_raw(&info))
    }

    pub fn inputs(&self) -> Result<Vec<TensorInfo>> {
        (0..self.input_count()?).map(|i| self.input(i)).collect()
    }

    pub fn outputs(&self) -> Result<Vec<TensorInfo>> {
        (0..self.output_count()?).map(|i| self.output(i)).collect()
    }

    /// Runs one inference and returns the outputs, in the model's order. The inputs are
    /// checked by the C library (count, element type, shape) before the device is touched.
    ///
    /// Buffers are sized from the outputs' fixed shapes; an output with a dynamic dimension
    /// starts empty, and when the C library answers `NPU_ERR_BUFFER_TOO_SMALL` with the bytes
    /// it needs the inference runs again with buffers of that size.
    pub fn execute(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        let mut outputs: Vec<Tensor> =
            self.outputs()?.iter().map(|o| Tensor::output_buffer(o.size_bytes().unwrap_or(0))).collect();
        let mut attempts = 0;
        loop {
            match self.execute_into(inputs, &mut outputs) {
                Err(e) if e.status == Status::BufferTooSmall && attempts < 2 && !e.too_small.is_empty() => {
                    for &(index, bytes) in &e.too_small {
                        outputs[index] = Tensor::output_buffer(bytes);
                    }
                    attempts += 1;
                }
                Err(e) => return Err(e),
                Ok(()) => return Ok(outputs),
            }
        }
    }

    /// `npu_execute` into the caller's output buffers ([`Tensor::output_buffer`], or tensors
    /// from an earlier call, whose buffers are reused). Every output that fits is filled and
    /// takes the result's type and shape; with [`Status::BufferTooSmall`],
    /// [`Error::too_small`] says which outputs need how many bytes (those are left unchanged).
    pub fn execute_into(&self, inputs: &[Tensor], outputs: &mut [Tensor]) -> Result<()> {
        let raw_in: Vec<sys::npu_tensor_t> = inputs.iter().map(Tensor::as_input).collect();
        let mut raw_out: Vec<sys::npu_tensor_t> = outputs
            .iter_mut()
            .map(|t| raw_tensor(t.storage.as_mut_ptr() as *mut c_void, t.capacity))
            .collect();
        // SAFETY: the model is alive (npu_execute serialises calls on it); raw_in points at
        // inputs' storage, only read; raw_out at outputs' storage, each with capacity <= its
        // allocated bytes, borrowed mutably for the call; the C side keeps no pointer.
        let code = unsafe {
            sys::npu_execute(self.raw.as_ptr(), raw_in.as_ptr(), raw_in.len(), raw_out.as_mut_ptr(), raw_out.len())
        };
        let mut error = if code == sys::NPU_OK { None } else { Some(Error::last(code)) };
        if code != sys::NPU_OK && code != sys::NPU_ERR_BUFFER_TOO_SMALL {
            return Err(error.expect("a failure"));
        }
        for (index, (t, r)) in outputs.iter_mut().zip(&raw_out).enumerate() {
            let rank = r.rank.min(sys::NPU_MAX_RANK);
            if r.size_bytes > t.capacity {
                if let Some(e) = error.as_mut() {
                    e.too_small.push((index, r.size_bytes));
                }
                continue;
            }
            t.element_type = ElementType::from_raw(r.type_);
            t.shape = r.dims[..rank].iter().map(|&d| d.max(0) as usize).collect();
            t.len = r.size_bytes;
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn empty_info() -> sys::npu_tensor_info_t {
    sys::npu_tensor_info_t { type_: sys::NPU_TYPE_UNSUPPORTED, rank: 0, dims: [0; sys::NPU_MAX_RANK], name: [0; 128] }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: the model is ours and nothing borrows it; it releases its plugin reference.
        unsafe { sys::npu_model_destroy(self.raw.as_ptr()) }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("inputs", &self.inputs().ok()).field("outputs", &self.outputs().ok()).finish()
    }
}

/// `npu_element_size`, from the C library (the tests check [`ElementType::size`] against it).
pub fn c_element_size(element_type: ElementType) -> usize {
    // SAFETY: accepts any value.
    unsafe { sys::npu_element_size(element_type.to_raw()) }
}
