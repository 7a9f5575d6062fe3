//! The checks of examples/npu-standalone/tests/test_basic.c, through the safe Rust API, with the
//! models examples/npu-standalone/tests/make_models.py writes:
//!   add_mul.xml/.bin: x, y f32 [2,3] -> sum = x + y, prod = relu(x) * [0.5, 1, 1.5, 2, 2.5, 3]
//!   matmul.onnx:      x f32 [N,3]    -> y = x @ [[1,2],[3,4],[5,6]] + [0.5, -0.5]
//!
//! NPU_STANDALONE_TEST_MODELS: a folder with those models (without it, make_models.py is run with
//! $PYTHON or python3 into cargo's target folder; the ONNX model needs the onnx package).
//! NPU_STANDALONE_TEST_DEVICE: the device, "CPU" by default (the NPU needs an Intel NPU).
//! Values are printed the way test_basic prints them ("sum [2,3]: 9 22 27 44 45 66"): run with
//! `cargo test --offline -- --show-output` to see them.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

use npu_standalone::{c_element_size, sys, ElementType, Model, Plugin, Status, Tensor};

const X: [f32; 6] = [-1.0, 2.0, -3.0, 4.0, -5.0, 6.0];
const Y: [f32; 6] = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
const SUM: [f32; 6] = [9.0, 22.0, 27.0, 44.0, 45.0, 66.0];
const PROD: [f32; 6] = [0.0, 2.0, 0.0, 8.0, 0.0, 18.0];
const MATMUL_X: [f32; 9] = [1.0, 0.0, -1.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0];
const MATMUL_Y: [f32; 6] = [-3.5, -4.5, 5.5, 7.5, 5.5, 5.5];

fn device() -> String {
    env::var("NPU_STANDALONE_TEST_DEVICE").unwrap_or_else(|_| "CPU".to_string())
}

fn models() -> PathBuf {
    static MAKE: Once = Once::new();
    if let Some(dir) = env::var_os("NPU_STANDALONE_TEST_MODELS") {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("models");
    MAKE.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../npu-standalone/tests/make_models.py");
        let python = env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
        let status = Command::new(&python).arg(&script).arg(&dir).arg("--onnx").status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "{} {} {} --onnx failed ({:?}): set NPU_STANDALONE_TEST_MODELS to a folder it wrote, or PYTHON \
             to a Python with the onnx package",
            python,
            script.display(),
            dir.display(),
            status
        );
    });
    dir
}

fn plugin() -> Plugin {
    Plugin::new(&device()).unwrap_or_else(|e| panic!("Plugin::new({}): {}", device(), e))
}

fn add_mul(plugin: &Plugin) -> Model {
    plugin.compile(models().join("add_mul.xml")).unwrap_or_else(|e| panic!("compile add_mul.xml: {}", e))
}

fn f32s(shape: &[usize], values: &[f32]) -> Tensor {
    Tensor::new(shape, values).expect("a valid tensor")
}

fn close_to(got: &[f32], want: &[f32]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1e-5)
}

/// "name [d0,d1]: v0 v1 ...", as test_basic prints it.
fn values_line(name: &str, t: &Tensor) -> String {
    let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
    let values: Vec<String> = t.as_slice::<f32>().expect("f32 values").iter().map(|v| v.to_string()).collect();
    format!("{} [{}]: {}", name, dims.join(","), values.join(" "))
}

#[test]
fn plugin_names_its_device_and_openvino_build() {
    let p = plugin();
    assert_eq!(p.device(), device());
    assert!(!p.version().is_empty(), "a build number");
    println!("plugin {} {} ({})", p.device(), p.version(), p.device_name());
}

#[test]
fn add_mul_inputs_and_outputs() {
    let p = plugin();
    let m = add_mul(&p);
    assert_eq!(m.input_count().unwrap(), 2);
    assert_eq!(m.output_count().unwrap(), 2);
    let inputs = m.inputs().unwrap();
    assert_eq!(inputs[1].element_type, ElementType::F32);
    assert_eq!(inputs[1].dims, vec![2, 3]);
    assert_eq!(inputs[1].name, "y");
    assert_eq!(inputs[1].size_bytes(), Some(24));
    let outputs = m.outputs().unwrap();
    assert_eq!(outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), vec!["sum", "prod"]);
    let err = m.input(2).expect_err("input 2 does not exist");
    assert_eq!(err.status(), Status::InvalidArgument);
    assert!(!err.message().is_empty());
}

fn run_add_mul(m: &Model, print: bool) {
    let out = m.execute(&[f32s(&[2, 3], &X), f32s(&[2, 3], &Y)]).expect("execute add_mul");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].element_type(), ElementType::F32);
    assert_eq!(out[0].shape(), &[2, 3]);
    assert_eq!(out[0].size_bytes(), 24);
    let (sum, prod) = (out[0].as_slice::<f32>().unwrap(), out[1].as_slice::<f32>().unwrap());
    assert!(close_to(sum, &SUM), "sum = x + y: {:?}", sum);
    assert!(close_to(prod, &PROD), "prod = relu(x) * W: {:?}", prod);
    assert!(out[0].as_slice::<i32>().is_none(), "an f32 tensor is not read as i32");
    if print {
        println!("{}", values_line("sum", &out[0]));
        println!("{}", values_line("prod", &out[1]));
    }
}

#[test]
fn add_mul_computes_sum_and_prod() {
    let p = plugin();
    let m = add_mul(&p);
    run_add_mul(&m, true);
}

#[test]
fn execute_refuses_wrong_inputs_and_small_outputs() {
    let p = plugin();
    let m = add_mul(&p);
    let x = f32s(&[2, 3], &[0.0; 6]);
    let y = f32s(&[2, 3], &[0.0; 6]);

    let e = m.execute(&[x.clone()]).expect_err("one input for two");
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().contains("1 inputs and 2 outputs given, the model has 2 and 2"), "{}", e);

    let e = m.execute(&[x.clone(), f32s(&[3, 2], &[0.0; 6])]).expect_err("[3,2] for [2,3]");
    assert_eq!(e.status(), Status::Shape);
    assert!(e.message().contains("input 1"), "{}", e);
    assert!(e.to_string().starts_with("NPU_ERR_SHAPE: "), "{}", e);

    let ints = Tensor::new(&[2, 3], &[0i32; 6]).unwrap();
    let e = m.execute(&[x.clone(), ints]).expect_err("i32 for f32");
    assert_eq!(e.status(), Status::Type);
    assert!(e.message().contains("i32 given, the model takes f32"), "{}", e);

    // Five values for six: refused in Rust, before any C call.
    let e = Tensor::new(&[2, 3], &[0.0f32; 5]).expect_err("5 values for [2,3]");
    assert_eq!(e.status(), Status::InvalidArgument);

    // An 8-byte buffer for 24 bytes: the output that fits is still filled.
    let mut x7 = x.clone();
    x7.as_mut_slice::<f32>().unwrap()[1] = 7.0;
    let mut outputs = vec![Tensor::output_buffer(24), Tensor::output_buffer(8)];
    let e = m.execute_into(&[x7, y.clone()], &mut outputs).expect_err("8 bytes for 24");
    assert_eq!(e.status(), Status::BufferTooSmall);
    assert_eq!(e.too_small(), &[(1, 24)]);
    assert_eq!(outputs[0].as_slice::<f32>().unwrap()[1], 7.0);
    assert_eq!(outputs[1].size_bytes(), 0, "the small buffer is left as it was");

    // The model still works after refused calls.
    run_add_mul(&m, false);
}

/// The refusals only the C API can express: byte sizes that do not match the dims, NULL model.
#[test]
fn the_c_api_refuses_a_wrong_byte_size_and_a_null_model() {
    let mut x = [0f32; 6];
    let mut y = [0f32; 6];
    let mut sum = [0f32; 6];
    let mut prod = [0f32; 6];
    let tensor = |data: &mut [f32], rank: usize, bytes: usize| {
        let mut t = sys::npu_tensor_t {
            type_: sys::NPU_TYPE_F32,
            rank,
            dims: [0; sys::NPU_MAX_RANK],
            data: data.as_mut_ptr() as *mut std::os::raw::c_void,
            size_bytes: bytes,
        };
        t.dims[0] = 2;
        t.dims[1] = 3;
        t
    };
    let inputs = [tensor(&mut x, 2, 24), tensor(&mut y, 2, 20)];
    let mut outputs = [tensor(&mut sum, 0, 24), tensor(&mut prod, 0, 24)];
    // The safe API does not hand out its raw pointers: the whole lifecycle through sys.
    let path = std::ffi::CString::new(models().join("add_mul.xml").to_str().unwrap()).unwrap();
    let dev = std::ffi::CString::new(device()).unwrap();
    unsafe {
        let raw_plugin = sys::npu_plugin_create(dev.as_ptr(), std::ptr::null_mut(), 0);
        assert!(!raw_plugin.is_null());
        let mut raw_model: *mut sys::npu_model_t = std::ptr::null_mut();
        assert_eq!(sys::npu_compile(raw_plugin, path.as_ptr(), &mut raw_model), sys::NPU_OK);
        let st = sys::npu_execute(raw_model, inputs.as_ptr(), 2, outputs.as_mut_ptr(), 2);
        assert_eq!(st, sys::NPU_ERR_INVALID_ARGUMENT, "20 bytes for 24");
        assert!(npu_standalone::last_error().contains("size_bytes is 20, its type and dims make 24"));
        let st = sys::npu_execute(std::ptr::null_mut(), inputs.as_ptr(), 2, outputs.as_mut_ptr(), 2);
        assert_eq!(st, sys::NPU_ERR_INVALID_ARGUMENT, "NULL model");
        let fixed = [inputs[0], tensor(&mut y, 2, 24)];
        assert_eq!(sys::npu_execute(raw_model, fixed.as_ptr(), 2, outputs.as_mut_ptr(), 2), sys::NPU_OK);
        assert_eq!(outputs[0].size_bytes, 24);
        sys::npu_plugin_destroy(raw_plugin); // before its model: allowed
        sys::npu_model_destroy(raw_model);
        sys::npu_model_destroy(std::ptr::null_mut());
        sys::npu_plugin_destroy(std::ptr::null_mut());
    }
}

/// Two threads executing one model: its lock serialises them; each gets its own results.
#[test]
fn two_threads_share_one_model() {
    let p = plugin();
    let m = add_mul(&p);
    let worker = |scale: f32| {
        let mut bad = 0;
        for round in 0..25 {
            let x: Vec<f32> = (0..6).map(|i| scale * (i + 1) as f32).collect();
            let y = vec![round as f32; 6];
            match m.execute(&[f32s(&[2, 3], &x), f32s(&[2, 3], &y)]) {
                Ok(out) => {
                    let sum = out[0].as_slice::<f32>().unwrap();
                    bad += (0..6).filter(|&i| (sum[i] - (x[i] + y[i])).abs() > 1e-4).count();
                }
                Err(_) => bad += 1,
            }
        }
        bad
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| worker(1.0));
        let b = s.spawn(|| worker(-2.0));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a, b), (0, 0), "two threads on one model: wrong results");
    println!("two threads: 50 inferences on one model, all right");
}

/// Plugin is Sync (compile from two threads at once) and Model is Send (moved to a thread).
#[test]
fn compile_on_two_threads_and_move_models_across() {
    let p = plugin();
    let models: Vec<Model> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2).map(|_| s.spawn(|| add_mul(&p))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    drop(p);
    let handles: Vec<_> = models.into_iter().map(|m| std::thread::spawn(move || run_add_mul(&m, false))).collect();
    for h in handles {
        h.join().unwrap();
    }
}

fn run_matmul(m: &Model, n: usize) {
    let info = m.input(0).unwrap();
    assert_eq!(info.dims, vec![-1, 3], "matmul input is [?,3]");
    assert_eq!(info.shape(), vec![None, Some(3)]);
    assert_eq!(info.size_bytes(), None);
    let out = m.execute(&[f32s(&[n, 3], &MATMUL_X[..n * 3])]).expect("execute matmul");
    assert_eq!(out[0].shape(), &[n, 2]);
    assert!(close_to(out[0].as_slice::<f32>().unwrap(), &MATMUL_Y[..n * 2]), "y = x @ W + b");
    println!("{}", values_line("y", &out[0]));
}

#[test]
fn onnx_matmul_with_a_dynamic_batch() {
    let p = plugin();
    let m = p.compile(models().join("matmul.onnx")).unwrap_or_else(|e| panic!("compile matmul.onnx: {}", e));
    run_matmul(&m, 2);
    run_matmul(&m, 3);
    // A buffer of the first run is reused when it is large enough.
    let mut outputs = vec![Tensor::output_buffer(24)];
    m.execute_into(&[f32s(&[2, 3], &MATMUL_X[..6])], &mut outputs).unwrap();
    assert_eq!(outputs[0].shape(), &[2, 2]);
    assert_eq!(outputs[0].size_bytes(), 16);
}

#[test]
fn plugin_and_model_drop_in_either_order() {
    let p = plugin();
    let first = add_mul(&p);
    let second = add_mul(&p);
    drop(second); // model before plugin
    drop(p); // plugin before its model: the model keeps it alive
    run_add_mul(&first, false);
    drop(first);
}

#[test]
fn failures_carry_the_c_library_message() {
    let e = Plugin::new("NO_SUCH_DEVICE").expect_err("no such plugin");
    assert_eq!(e.status(), Status::Plugin);
    assert!(e.message().starts_with("cannot load the NO_SUCH_DEVICE plugin"), "{}", e);

    let p = plugin();
    let e = p.compile(models().join("missing.xml")).expect_err("no such file");
    assert_eq!(e.status(), Status::ReadModel);
    assert!(e.to_string().starts_with("NPU_ERR_READ_MODEL: "), "{}", e);
    assert!(e.message().contains("missing.xml"), "{}", e);
    assert_eq!(npu_standalone::last_error(), e.message(), "npu_last_error is this thread's");
    let other = std::thread::spawn(npu_standalone::last_error).join().unwrap();
    assert_eq!(other, "", "another thread has no last error");

    let e = p.compile("bad\0path").expect_err("a NUL in the path");
    assert_eq!(e.status(), Status::InvalidArgument);
}

#[test]
fn element_types_and_status_names_match_the_c_library() {
    for t in ElementType::all() {
        assert_eq!(t.size(), c_element_size(t), "{:?}", t);
        assert_eq!(ElementType::from_raw(t.to_raw()), t);
    }
    assert_eq!(Status::Shape.name(), "NPU_ERR_SHAPE");
    assert_eq!(Status::BufferTooSmall.name(), "NPU_ERR_BUFFER_TOO_SMALL");
    assert_eq!(Status::from_raw(sys::NPU_ERR_UNSUPPORTED), Status::Unsupported);
    for code in -12..0 {
        assert_eq!(Status::from_raw(code).code(), code);
        assert!(Status::from_raw(code).name().starts_with("NPU_ERR_"));
    }
}

/// The struct layouts the header implies for this target (checked against the C compiler by
/// tests/integration/test_standalone_rust.py).
#[test]
fn struct_layouts() {
    use std::mem::{align_of, size_of};
    let t = sys::npu_tensor_t { type_: 0, rank: 0, dims: [0; 8], data: std::ptr::null_mut(), size_bytes: 0 };
    let base = &t as *const _ as usize;
    let offsets = [
        &t.rank as *const _ as usize - base,
        &t.dims as *const _ as usize - base,
        &t.data as *const _ as usize - base,
        &t.size_bytes as *const _ as usize - base,
    ];
    let i = sys::npu_tensor_info_t { type_: 0, rank: 0, dims: [0; 8], name: [0; 128] };
    let ibase = &i as *const _ as usize;
    let ioffsets = [
        &i.rank as *const _ as usize - ibase,
        &i.dims as *const _ as usize - ibase,
        &i.name as *const _ as usize - ibase,
    ];
    println!(
        "layout npu_tensor_t {} {} {:?} npu_tensor_info_t {} {} {:?}",
        size_of::<sys::npu_tensor_t>(),
        align_of::<sys::npu_tensor_t>(),
        offsets,
        size_of::<sys::npu_tensor_info_t>(),
        align_of::<sys::npu_tensor_info_t>(),
        ioffsets
    );
    if size_of::<usize>() == 8 {
        assert_eq!(size_of::<sys::npu_tensor_t>(), 96);
        assert_eq!(offsets, [8, 16, 80, 88]);
        assert_eq!(size_of::<sys::npu_tensor_info_t>(), 208);
        assert_eq!(ioffsets, [8, 16, 80]);
    }
}
