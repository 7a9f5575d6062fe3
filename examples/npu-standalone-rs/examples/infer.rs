//! Loads a model and runs it once on made-up inputs, printing what goes in and comes out.
//!
//!     cargo run --example infer -- MODEL [DEVICE] [BATCH]
//!
//! DEVICE is "NPU" by default; a dynamic dimension is BATCH (1 by default). Input i holds the
//! values 1, 2, 3, ... (as its element type); f16, bf16 and bool inputs are all zero bytes.
use std::env;
use std::process;

use npu_standalone::{ElementType, Plugin, Tensor, TensorInfo};

fn input_tensor(info: &TensorInfo, batch: usize) -> Result<Tensor, npu_standalone::Error> {
    let shape: Vec<usize> = info.shape().iter().map(|d| d.unwrap_or(batch)).collect();
    let n: usize = shape.iter().product();
    macro_rules! counting {
        ($t:ty) => {
            Tensor::new(&shape, &(1..=n).map(|v| v as $t).collect::<Vec<$t>>())
        };
    }
    match info.element_type {
        ElementType::F32 => counting!(f32),
        ElementType::F64 => counting!(f64),
        ElementType::I8 => counting!(i8),
        ElementType::I16 => counting!(i16),
        ElementType::I32 => counting!(i32),
        ElementType::I64 => counting!(i64),
        ElementType::U8 => counting!(u8),
        ElementType::U16 => counting!(u16),
        ElementType::U32 => counting!(u32),
        ElementType::U64 => counting!(u64),
        other => Tensor::from_bytes(other, &shape, &vec![0u8; n * other.size()]),
    }
}

fn values(t: &Tensor) -> String {
    fn join<T: ToString>(v: &[T]) -> String {
        v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ")
    }
    match t.element_type() {
        ElementType::F32 => join(t.as_slice::<f32>().unwrap()),
        ElementType::F64 => join(t.as_slice::<f64>().unwrap()),
        ElementType::I8 => join(t.as_slice::<i8>().unwrap()),
        ElementType::I16 => join(t.as_slice::<i16>().unwrap()),
        ElementType::I32 => join(t.as_slice::<i32>().unwrap()),
        ElementType::I64 => join(t.as_slice::<i64>().unwrap()),
        ElementType::U8 => join(t.as_slice::<u8>().unwrap()),
        ElementType::U16 => join(t.as_slice::<u16>().unwrap()),
        ElementType::U32 => join(t.as_slice::<u32>().unwrap()),
        ElementType::U64 => join(t.as_slice::<u64>().unwrap()),
        _ => format!("({} bytes)", t.size_bytes()),
    }
}

fn run(args: &[String]) -> Result<(), npu_standalone::Error> {
    let device = args.get(2).map(String::as_str).unwrap_or("NPU");
    let batch = args.get(3).and_then(|b| b.parse().ok()).unwrap_or(1);
    let plugin = Plugin::new(device)?;
    println!("plugin {} {} ({})", plugin.device(), plugin.version(), plugin.device_name());
    let model = plugin.compile(&args[1])?;
    let mut inputs = Vec::new();
    for (i, info) in model.inputs()?.iter().enumerate() {
        let t = input_tensor(info, batch)?;
        println!("input {} {:?} {:?} {:?}: {}", i, info.name, info.element_type, t.shape(), values(&t));
        inputs.push(t);
    }
    let outputs = model.execute(&inputs)?;
    for ((i, info), t) in model.outputs()?.iter().enumerate().zip(&outputs) {
        println!("output {} {:?} {:?} {:?}: {}", i, info.name, t.element_type(), t.shape(), values(t));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() < 2 {
        eprintln!("usage: {} MODEL [DEVICE] [BATCH]", args[0]);
        process::exit(2);
    }
    if let Err(e) = run(&args) {
        eprintln!("infer: {}", e);
        process::exit(1);
    }
}
